/**
 * Scale-up at burst scale, end to end on the sandbox: a Deployment of N pods applied in one go
 * against one NodeGroup offered every Shared CPU plan of the simulator (one zone, us-east-1), with
 * the simulator's provisioning and boot delays set to 0 through its admin endpoint (machines are
 * listed and join at once), and the orchestrator (worker, watchers, scale-up trigger) running in
 * this process with its defaults.
 *
 *   npm run bench:burst                            # 200 pods of 500m / 512Mi, one run
 *   npm run bench:burst -- --pods N [--runs R] [--cpu 500m] [--memory 512Mi]
 *
 * Uses the sandbox of TEST_SANDBOX_DIR when set, otherwise starts one (and stops it). Prints one
 * JSON object per run, then (with --runs > 1) a summary with the p50/p95 of each figure:
 * - firstSignalToCreateSeconds: the batch's first signal (FailedScheduling / pending pod) → the
 *   first VPSie create call it caused (the simulator's requestedAt);
 * - firstNodeSeconds, allRunningSeconds: from the Deployment's creation to the first Node object of
 *   the group and to the last of its pods Running;
 * - nodes, monthlyPrice, lowerBoundPrice, priceRatio: the machines made and their price against the
 *   lower bound (summed requests at the best price per CPU or per GiB of any offering);
 * - runs, emptyRunsWhilePending: scale-up runs started, and those that decided no new node while a
 *   pod they covered stayed not Running for more than one rescan period (10 s) after they ended.
 */
import { burstOnce, simAdmin, type BurstResult } from '../test/integration/nodes/scale-up/burst-run';
import { percentile, round3, runBench } from './stats';
import { sharedSandbox, stopSharedSandbox } from '../test/support/sandbox';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const pods = Number(arg('pods', '200'));
  const runs = Number(arg('runs', '1'));
  const cpu = arg('cpu', '500m');
  const memory = arg('memory', '512Mi');
  const sb = await sharedSandbox();
  const before = await simAdmin(sb, '/config', {});
  const restore = before as { provisioningDelayMs: number; bootDelayMs: number };
  await simAdmin(sb, '/config', { provisioningDelayMs: 0, bootDelayMs: 0 });
  const results: BurstResult[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r = await burstOnce(sb, pods, cpu, memory);
      results.push(r);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    }
  } finally {
    await simAdmin(sb, '/config', { provisioningDelayMs: restore.provisioningDelayMs, bootDelayMs: restore.bootDelayMs }).catch(() => undefined);
  }
  if (runs > 1) {
    const stat = (k: keyof BurstResult) => {
      const v = results.map((r) => r[k] as number);
      return { p50: round3(percentile(v, 50)), p95: round3(percentile(v, 95)), max: round3(Math.max(...v)) };
    };
    process.stdout.write(
      `${JSON.stringify({
        summary: true,
        pods,
        runs,
        firstSignalToCreateSeconds: stat('firstSignalToCreateSeconds'),
        firstNodeSeconds: stat('firstNodeSeconds'),
        allRunningSeconds: stat('allRunningSeconds'),
        priceRatio: stat('priceRatio'),
        emptyRunsWhilePending: stat('emptyRunsWhilePending'),
      })}\n`,
    );
  }
  await stopSharedSandbox();
}

runBench(main);
