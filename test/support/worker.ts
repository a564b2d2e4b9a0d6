/** Runs a real Temporal worker (the project's workflow bundle) for the duration of a test. */
import path from 'node:path';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestSandbox } from './sandbox';
import { QUIET_BUNDLER, workflowBundleOptions } from '../../workers/bundle-options';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per test run. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  // as the image and npm start bundle it (workers/bundle-options.ts: shared modules)
  bundle ??= bundleWorkflowCode({ ...workflowBundleOptions(path.resolve(__dirname, '../../workflows/index.ts')), logger: QUIET_BUNDLER });
  return bundle;
}

export async function startWorker(sb: TestSandbox, taskQueue: string, activities: object): Promise<{ worker: Worker; stop: () => Promise<void> }> {
  const connection = await NativeConnection.connect({ address: sb.endpoints.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: sb.endpoints.temporal.namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
