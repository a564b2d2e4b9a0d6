/**
 * `npm run bench:restart [-- --rounds N]`: the stop and start times people see in one checkout,
 * with a warm toolchain. In ONE sandbox directory, `npm start` (its own sandbox) is started, the
 * documented example NodeGroup applied (2 nodes, so lifecycle workflows are running), then
 * stopped with Ctrl-C; N rounds. Then `npm run sandbox` is kept up and `npm start` attached to it
 * is started and stopped N times. Prints one JSON object (seconds).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readEndpoints, repoRoot, type Endpoints } from '../sandbox/endpoints';
import { ctrlC, kubectl, orchestratorReady as ready, sandboxJob, waitFor } from '../sandbox/job';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function exampleUp(e: Endpoints): Promise<void> {
  kubectl(e, ['apply', '-f', path.join(repoRoot(), 'k8s', 'examples', 'nodegroup-general-purpose.yaml')]);
  await waitFor('2 Ready nodes of the example group', () => {
    const out = kubectl(e, [
      'get',
      'nodes',
      '-l',
      'autoscaler.vpsie.com/nodegroup=general-purpose-nodes',
      '-o',
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    return out.split('\n').filter((l) => l === 'True').length >= 2 ? true : undefined;
  });
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 2);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-bench-restart-'));
  const own = { startToReadySeconds: [] as number[], stopSeconds: [] as number[] };
  const dir = path.join(root, 'own');
  for (let i = 0; i < rounds; i++) {
    const t0 = Date.now();
    const j = sandboxJob('start', dir, `own-${i}`);
    const e = await ready(dir, j);
    own.startToReadySeconds.push((Date.now() - t0) / 1000);
    await exampleUp(e);
    own.stopSeconds.push(await ctrlC(j));
  }
  const attached = { startToReadySeconds: [] as number[], stopSeconds: [] as number[], sandboxStopSeconds: 0 };
  const sdir = path.join(root, 'shared');
  const sb = sandboxJob('sandbox', sdir, 'sandbox');
  const e0 = await waitFor('sandbox up', () => readEndpoints(sdir), sb);
  for (let i = 0; i < rounds; i++) {
    const t0 = Date.now();
    const j = sandboxJob('start', sdir, `attached-${i}`);
    await ready(sdir, j);
    attached.startToReadySeconds.push((Date.now() - t0) / 1000);
    if (i === 0) await exampleUp(e0);
    attached.stopSeconds.push(await ctrlC(j));
  }
  attached.sandboxStopSeconds = await ctrlC(sb);
  const round = (xs: number[]): number[] => xs.map((x) => Math.round(x * 10) / 10);
  console.log(
    JSON.stringify({
      rounds,
      npmStart: { startToReadySeconds: round(own.startToReadySeconds), stopSeconds: round(own.stopSeconds) },
      attachedToNpmRunSandbox: {
        startToReadySeconds: round(attached.startToReadySeconds),
        stopSeconds: round(attached.stopSeconds),
        sandboxStopSeconds: round([attached.sandboxStopSeconds])[0],
      },
    }),
  );
  fs.rmSync(root, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
