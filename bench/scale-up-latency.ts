/**
 * Scale-up latency end to end: the time from the first FailedScheduling Event of a burst of
 * unschedulable pods to the first VPSie create call it causes (the simulator's `requestedAt` of the
 * first machine requested after the burst), over 20 bursts, on a real sandbox with the orchestrator
 * (worker, watchers, scale-up trigger) running in this process with its default batching windows.
 *
 *   npm run bench:scale-up-latency                 # 20 bursts of 3 pods
 *   npm run bench:scale-up-latency -- --bursts N --pods P
 *
 * Uses the sandbox of TEST_SANDBOX_DIR when set, otherwise starts one (and stops it). Prints one JSON
 * object: {bursts, podsPerBurst, p50Seconds, p95Seconds, minSeconds, maxSeconds, meanSeconds, samples}.
 */
import * as k8s from '@kubernetes/client-node';
import { watchFailedScheduling } from '../starters/nodes/failed-scheduling';
import { sharedSandbox, stopSharedSandbox, uniqueName } from '../test/support/sandbox';
import { cleanup, container, createDeployment, createNodeGroup, eventually, simMachines, startHarness } from '../test/integration/nodes/scale-up/helpers';
import { percentile, round3, runBench } from './stats';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const bursts = arg('bursts', 20);
  const podsPerBurst = arg('pods', 3);
  const sb = await sharedSandbox();
  const ns = await sb.namespace('bench-latency');
  const h = await startHarness(sb, ns, { LOG_LEVEL: 'error' });
  const group = uniqueName('lat');
  const pool = `lat-${ns}`;
  await createNodeGroup(sb, ns, group, {
    maxNodes: Math.min(200, bursts * podsPerBurst + 5),
    offeringIDs: ['small-2cpu-4gb'],
    labels: { 'vpsie.test/pool': pool },
    scaleUpPolicy: { stabilizationWindowSeconds: 0 },
  });
  // Let the NodeGroup workflow start before the first burst.
  await new Promise((r) => setTimeout(r, 2000));

  const firstEvent = new Map<string, number>(); // deployment name → first FailedScheduling (ms)
  const stopWatch = await watchFailedScheduling(sb.kc, (e) => {
    if (e.namespace !== ns) return;
    const dep = e.podName.replace(/-[a-z0-9]+-[a-z0-9]+$/, '');
    const at = Date.now();
    if (!firstEvent.has(dep)) firstEvent.set(dep, at);
  });
  const samples: number[] = [];
  try {
    for (let i = 0; i < bursts; i++) {
      const name = `burst-${i}`;
      const before = Date.now();
      await createDeployment(sb, ns, name, podsPerBurst, { nodeSelector: { 'vpsie.test/pool': pool }, containers: [container('1500m', '256Mi')] });
      const created = await eventually(
        `a machine for ${name}`,
        60_000,
        async () => {
          const ms = (await simMachines(sb)).filter((m) => m.requestedAt >= before && m.hostname.startsWith(group));
          return ms.length > 0 ? Math.min(...ms.map((m) => m.requestedAt)) : undefined;
        },
        50,
      );
      const first = await eventually(`the first FailedScheduling of ${name}`, 10_000, async () => firstEvent.get(name), 20);
      samples.push((created - first) / 1000);
      // Let this burst's nodes come before the next, so each burst is measured on its own.
      await eventually(
        `${name} running`,
        120_000,
        async () => {
          const pods = await sb.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` });
          return pods.items.length === podsPerBurst && pods.items.every((p) => p.status?.phase === 'Running') ? true : undefined;
        },
        250,
      );
    }
  } finally {
    await stopWatch();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      bursts,
      podsPerBurst,
      p50Seconds: round3(percentile(sorted, 50)),
      p95Seconds: round3(percentile(sorted, 95)),
      minSeconds: round3(sorted[0] ?? NaN),
      maxSeconds: round3(sorted[sorted.length - 1] ?? NaN),
      meanSeconds: round3(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)),
      samples: samples.map(round3),
    })}\n`,
  );
  await cleanup(sb, ns).catch(() => undefined);
  await h.stop();
  const apps = sb.kc.makeApiClient(k8s.CoreV1Api);
  await apps.deleteNamespace({ name: ns }).catch(() => undefined);
  await stopSharedSandbox();
}

runBench(main);
