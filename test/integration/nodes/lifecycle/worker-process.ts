/**
 * A lifecycle worker in a child process, so the crash test can SIGKILL it mid-activity.
 * Input: env LIFECYCLE_WORKER = JSON {endpoints, taskQueue}. Prints `ready` on stdout when polling.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { lifecycleActivities, makeDeps, startLifecycleWorker, type EndpointsLike } from './helpers';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { endpoints, taskQueue } = JSON.parse(process.env.LIFECYCLE_WORKER ?? '{}') as { endpoints: EndpointsLike; taskQueue: string };
  const connection = await Connection.connect({ address: endpoints.temporal.address });
  const temporal = new Client({ connection, namespace: endpoints.temporal.namespace });
  const deps = makeDeps(endpoints, temporal);
  await startLifecycleWorker(endpoints, taskQueue, lifecycleActivities(deps));
  process.stdout.write('ready\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`worker process failed: ${String(e)}\n`);
  process.exit(1);
});
