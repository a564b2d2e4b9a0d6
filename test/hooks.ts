/**
 * Mocha root hooks. Integration tests share one sandbox per test run: the first test that calls
 * `sharedSandbox()` (test/support/sandbox.ts) starts it, and this hook stops it after all tests.
 */
import { stopSharedSandbox } from './support/sandbox';

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    await stopSharedSandbox();
  },
};
