/**
 * Mocha root hooks. Integration tests share one sandbox per test run: the first test that calls
 * `sharedSandbox()` (test/support/sandbox.ts) starts it, and this hook stops it after all tests.
 */
process.env.LOG_LEVEL ??= 'error';

import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopSharedSandbox } from './support/sandbox';

Runtime.install({ logger: new DefaultLogger('WARN') });

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    await stopSharedSandbox();
  },
};
