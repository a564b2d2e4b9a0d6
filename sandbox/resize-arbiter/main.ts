/**
 * `node --import tsx sandbox/resize-arbiter/main.ts --kubeconfig K [--resync-ms N]`: the sandbox's
 * resize arbiter (arbiter.ts) as a process of its own, started and stopped with the sandbox
 * (sandbox/stack.ts) like the VPSie simulator. Prints one JSON line when both of its informers
 * have listed: {"resizeArbiter":"ready","pid"}; stops on SIGTERM/SIGINT. Logs JSON lines (stderr).
 */
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../../lib/kube/api';
import { logger } from '../../lib/log';
import { ResizeArbiter } from './arbiter';

const log = logger('resize-arbiter');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, 'resync-ms': { type: 'string' } }, strict: true });
  const resyncMs = Number(values['resync-ms'] ?? 5_000);
  if (!Number.isInteger(resyncMs) || resyncMs < 100) throw new Error(`invalid --resync-ms ${values['resync-ms']}`);
  const arbiter = new ResizeArbiter(loadKubeConfig(values.kubeconfig ?? process.env.KUBECONFIG), { resyncMs, log });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    arbiter.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await arbiter.start();
  // A failed first list is listed again by the informer's restart: ready once both have listed.
  while (!arbiter.synced()) await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(`${JSON.stringify({ resizeArbiter: 'ready', pid: process.pid })}\n`);
  log.info('resize arbiter ready', { resyncMs });
}

main().catch((e: unknown) => {
  log.error('resize arbiter failed to start', { error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
