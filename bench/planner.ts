/**
 * Scale-up planner benchmark: Karpenter's scheduling-benchmark pod mix (five equal parts: generic,
 * zonal topology spread, hostname topology spread, zonal self-affinity, hostname anti-affinity; cpu
 * from {100,250,500,1000,1500}m, memory from {100,256,512,1024,2048,4096}Mi) planned against the
 * simulator's default catalogue (sandbox/vpsie-sim/catalogue.ts: what the sandbox's VPSie serves,
 * the same plans and prices as decision/planner/catalog.ts) in three zones (its three datacenters),
 * with one kube-proxy-like DaemonSet.
 *
 * Differences from Karpenter's mix: the spread / affinity pods select their own label value
 * (deployment-like, "self" selectors) and generic pods carry a different label key, so the parts do
 * not interact through selectors.
 *
 *   npm run bench:planner                      # 1, 100, 1k, 5k, 10k, 20k pods, seed 42
 *   npm run bench:planner -- --pods N --seed S # one run
 *
 * Prints one JSON object per run.
 */
import { performance } from 'node:perf_hooks';

import { planToOffering, type CatalogPlan } from '../decision/planner/catalog';
import type { NodeGroup } from '../decision/planner/types';
import { CAT_COMPUTE, defaultCatalogue } from '../sandbox/vpsie-sim/catalogue';
import { planScaleUp } from '../decision/planner/planner';
import { lowerBounds } from './lower-bound';
import type { PlannerInput } from '../decision/planner/types';
import type { SimPod } from '../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_ZONE } from '../decision/scheduling/types';
import { mulberry32 } from '../lib/prng';

const Mi = 1024 * 1024;
const CPU = [100, 250, 500, 1000, 1500];
const MEM = [100, 256, 512, 1024, 2048, 4096];
const VALUES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

type Kind = 'generic' | 'zone-spread' | 'host-spread' | 'zone-affinity' | 'host-anti';

export function makePods(count: number, seed: number): { pods: SimPod[]; kinds: Map<SimPod, Kind> } {
  const rnd = mulberry32(seed);
  const pick = <T>(l: readonly T[]): T => l[Math.floor(rnd() * l.length)] as T;
  const pods: SimPod[] = [];
  const kinds = new Map<SimPod, Kind>();
  const part = Math.floor(count / 5);
  const plan: [Kind, number][] = [
    ['generic', part + (count - 5 * part)],
    ['zone-spread', part],
    ['host-spread', part],
    ['zone-affinity', part],
    ['host-anti', part],
  ];
  let i = 0;
  for (const [kind, n] of plan) {
    for (let k = 0; k < n; k++, i++) {
      const v = pick(VALUES);
      const pod: SimPod = {
        name: `pod-${String(i).padStart(6, '0')}`,
        namespace: 'bench',
        uid: `uid-${i}`,
        labels: {},
        requests: { cpuMilli: pick(CPU), memoryBytes: pick(MEM) * Mi, pods: 1, ephemeralStorageBytes: 0 },
        ownerKind: 'ReplicaSet',
      };
      switch (kind) {
        case 'generic':
          pod.labels = { 'my-label': v };
          break;
        case 'zone-spread':
          pod.labels = { 'spread-zone': v };
          pod.topologySpreadConstraints = [
            { maxSkew: 1, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { 'spread-zone': v } } },
          ];
          break;
        case 'host-spread':
          pod.labels = { 'spread-host': v };
          pod.topologySpreadConstraints = [
            { maxSkew: 1, topologyKey: LABEL_HOSTNAME, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { 'spread-host': v } } },
          ];
          break;
        case 'zone-affinity':
          pod.labels = { 'my-affinity': v };
          pod.podAffinity = [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { 'my-affinity': v } } }];
          break;
        case 'host-anti':
          pod.labels = { app: 'nginx' };
          pod.podAntiAffinity = [{ topologyKey: LABEL_HOSTNAME, labelSelector: { matchLabels: { app: 'nginx' } } }];
          break;
      }
      pods.push(pod);
      kinds.set(pod, kind);
    }
  }
  return { pods, kinds };
}

const DAEMONSET: SimPod = {
  name: 'kube-proxy',
  namespace: 'kube-system',
  uid: 'ds-kube-proxy',
  labels: { app: 'kube-proxy' },
  requests: { cpuMilli: 100, memoryBytes: 128 * Mi, pods: 1, ephemeralStorageBytes: 0 },
  tolerations: [{ operator: 'Exists' }],
  ownerKind: 'DaemonSet',
};

/** Per datacenter of the simulator's catalogue (as zone): a Shared CPU and a Compute Optimized group. */
export function simulatorNodeGroups(maxNodesPerGroup = 10_000): NodeGroup[] {
  const cat = defaultCatalogue();
  const plans = cat.plans.map((p): CatalogPlan => ({
    id: p.nickname,
    nickname: p.nickname,
    category: p.categoryIdentifier === CAT_COMPUTE ? 'Compute Optimized' : 'Shared CPU',
    vcpu: p.cpu,
    memoryGiB: p.ram / 1024,
    diskGB: p.ssd,
    monthlyPrice: p.price,
  }));
  const groups: NodeGroup[] = [];
  for (const dc of cat.datacenters.slice(0, 3)) {
    const zone = dc.dc_name;
    for (const [name, category] of [
      ['shared', 'Shared CPU'],
      ['compute', 'Compute Optimized'],
    ] as const) {
      groups.push({
        name: `${name}-${zone}`,
        namespace: 'kube-system',
        minNodes: 0,
        maxNodes: maxNodesPerGroup,
        currentNodes: 0,
        offerings: plans.filter((p) => p.category === category).map((p) => planToOffering(p, zone)),
        allowMixedInstances: true,
        priority: 0,
        labels: { 'autoscaler.vpsie.com/category': name },
        zone,
      });
    }
  }
  return groups;
}

function inputFor(pods: SimPod[]): PlannerInput {
  return {
    pendingPods: pods,
    existingNodes: [],
    inFlightNodes: [],
    nodeGroups: simulatorNodeGroups(10_000),
    daemonSetPods: [DAEMONSET],
    maxClusterNodes: 50_000,
  };
}

function benchOnce(count: number, seed: number): Record<string, number> {
  const { pods, kinds } = makePods(count, seed);
  const input = inputFor(pods);
  const t0 = performance.now();
  const decision = planScaleUp(input);
  const seconds = (performance.now() - t0) / 1000;
  const lb = lowerBounds(input);
  const genericInput = inputFor(pods.filter((p) => kinds.get(p) === 'generic'));
  const generic = planScaleUp(genericInput);
  const genericLb = lowerBounds(genericInput);
  return {
    pods: count,
    seconds: Math.round(seconds * 1000) / 1000,
    podsPerSecond: Math.round(count / Math.max(seconds, 1e-9)),
    nodes: decision.newNodes,
    price: decision.monthlyPrice,
    lowerBoundNodes: lb.nodes,
    lowerBoundPrice: lb.price,
    unplaced: decision.unplaced.length,
    genericPrice: generic.monthlyPrice,
    genericLowerBoundPrice: genericLb.price,
    genericRatio: genericLb.price > 0 ? Math.round((generic.monthlyPrice / genericLb.price) * 1000) / 1000 : 1,
  };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const podsArg = arg('pods');
  const seed = Number(arg('seed') ?? '42');
  const counts = podsArg !== undefined ? [Number(podsArg)] : [1, 100, 1000, 5000, 10_000, 20_000];
  for (const n of counts) process.stdout.write(`${JSON.stringify(benchOnce(n, seed))}\n`);
}

if (process.argv[1]?.endsWith('planner.ts')) main();
