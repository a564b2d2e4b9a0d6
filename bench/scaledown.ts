/**
 * Scale-down decision benchmark: clusters of N nodes (4 cpu / 8 GiB, one NodeGroup) with 10 pods
 * each (cpu 100-500m, memory 128-512Mi, two thirds of the nodes lightly loaded so they are
 * candidates), a PDB per app, a DaemonSet pod per node, and the utilisation tracker fed for the
 * 10-minute window. Measures one decideScaleDown call, with the default budget (1 node) and with a
 * budget of 10% of the group, and with consolidation enabled.
 *
 *   npx tsx bench/scaledown.ts                 # 10, 50, 100, 200, 500 nodes
 *   npx tsx bench/scaledown.ts --nodes N       # one size
 *
 * Prints one JSON object per run.
 */
import { performance } from 'node:perf_hooks';

import { decideScaleDown } from '../decision/nodes/scale-down/decide';
import type { ScaleDownInput, ScaleDownNode, ScaleDownPod } from '../decision/nodes/scale-down/types';
import { createTracker, nodeSample, observe } from '../decision/nodes/scale-down/utilization';
import { LABEL_HOSTNAME, LABEL_INSTANCE_TYPE } from '../decision/scheduling/types';
import { mulberry32 } from '../lib/prng';

const Mi = 1024 * 1024;
const Gi = 1024 * Mi;
const NOW = Date.UTC(2025, 5, 4, 12);

function cluster(n: number, budget: number | string, consolidation: boolean): ScaleDownInput {
  const rnd = mulberry32(42);
  const nodes: ScaleDownNode[] = [];
  let seq = 0;
  for (let i = 0; i < n; i++) {
    const name = `node-${String(i).padStart(4, '0')}`;
    const light = i % 3 !== 0;
    const pods: ScaleDownPod[] = [
      {
        name: `proxy-${name}`,
        namespace: 'kube-system',
        uid: `ds${i}`,
        labels: { app: 'proxy' },
        requests: { cpuMilli: 50, memoryBytes: 64 * Mi, pods: 1, ephemeralStorageBytes: 0 },
        ownerKind: 'DaemonSet',
        nodeName: name,
      },
    ];
    for (let k = 0; k < (light ? 3 : 10); k++) {
      const app = `app-${Math.floor(rnd() * 20)}`;
      pods.push({
        name: `p-${seq}`,
        namespace: 'default',
        uid: `u${seq++}`,
        labels: { app },
        requests: {
          cpuMilli: [100, 200, 300, 400, 500][Math.floor(rnd() * 5)] as number,
          memoryBytes: ([128, 256, 512][Math.floor(rnd() * 3)] as number) * Mi,
          pods: 1,
          ephemeralStorageBytes: 0,
        },
        ownerKind: 'ReplicaSet',
        nodeName: name,
      });
    }
    nodes.push({
      node: {
        name,
        labels: { [LABEL_HOSTNAME]: name, [LABEL_INSTANCE_TYPE]: 'medium', 'autoscaler.vpsie.com/nodegroup': 'g' },
        allocatable: { cpuMilli: 4000, memoryBytes: 8 * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi },
      },
      nodeGroup: 'g',
      offeringId: 'medium',
      pods,
    });
  }
  let t = createTracker();
  for (let at = NOW - 600_000; at <= NOW; at += 60_000)
    t = observe(
      t,
      nodes.map((x) => nodeSample(x.node.name, x.node.allocatable, x.pods)),
      at,
    );
  return {
    now: NOW,
    nodes,
    pdbs: Array.from({ length: 20 }, (_, k) => ({
      name: `app-${k}`,
      namespace: 'default',
      selector: { matchLabels: { app: `app-${k}` } },
      disruptionsAllowed: 2,
    })),
    groups: [
      {
        name: 'g',
        namespace: 'kube-system',
        currentNodes: n,
        offerings: [
          { id: 'medium', nickname: 'medium', cpuMilli: 4000, memoryBytes: 8 * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: 27 },
          { id: 'large', nickname: 'large', cpuMilli: 8000, memoryBytes: 16 * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: 49 },
        ],
        spec: {
          minNodes: 1,
          maxNodes: 1000,
          dryRun: false,
          scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 60, cooldownSeconds: 0, cpuThreshold: 80, memoryThreshold: 80 },
          scaleDownPolicy: {
            enabled: true,
            stabilizationWindowSeconds: 600,
            cooldownSeconds: 600,
            cpuThreshold: 50,
            memoryThreshold: 50,
            utilizationSource: 'requests' as const,
          },
          disruptionBudget: { maxUnavailable: budget },
          consolidation: { enabled: consolidation, savingsThresholdPercent: 20 },
        },
      },
    ],
    inFlightRemovals: [],
    utilization: t,
  };
}

function run(n: number): void {
  for (const [budget, consolidation] of [
    [1, false],
    ['10%', false],
    [1, true],
  ] as const) {
    const input = cluster(n, budget, consolidation);
    decideScaleDown(input); // warm-up
    const reps = n <= 100 ? 5 : 2;
    const t0 = performance.now();
    let d = decideScaleDown(input);
    for (let r = 1; r < reps; r++) d = decideScaleDown(input);
    const ms = (performance.now() - t0) / reps;
    const json = JSON.stringify(d);
    console.log(
      JSON.stringify({
        nodes: n,
        pods: input.nodes.reduce((s, x) => s + x.pods.length, 0),
        budget,
        consolidation,
        candidates: d.stats.candidates,
        approved: d.removals.length,
        consolidated: d.groups[0]?.consolidation?.outcome ?? null,
        decisionMs: Math.round(ms * 10) / 10,
        recordBytes: json.length,
        trackerBytes: JSON.stringify(input.utilization).length,
      }),
    );
  }
}

const i = process.argv.indexOf('--nodes');
if (i > 0) run(Number(process.argv[i + 1]));
else for (const n of [10, 50, 100, 200, 500]) run(n);
