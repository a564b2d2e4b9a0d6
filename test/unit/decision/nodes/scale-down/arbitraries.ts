/** fast-check generators of scale-down snapshots over a small vocabulary (so rules interact). */
import fc from 'fast-check';

import type { Offering } from '../../../../../decision/planner/types';
import type { PodAffinityTerm, Taint } from '../../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_INSTANCE_TYPE, LABEL_ZONE } from '../../../../../decision/scheduling/types';
import type { InFlightRemoval, PdbInfo, ScaleDownGroup, ScaleDownInput, ScaleDownNode, ScaleDownPod } from '../../../../../decision/nodes/scale-down/types';
import { Gi, Mi, NOW, spec, steadyTracker } from './fixtures';

const APPS = ['a', 'b', 'c', 'd'];
const ZONES = ['z1', 'z2'];

function rare<T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight }, { arbitrary: arb, weight: 1 });
}

const OFFERINGS: Offering[] = [
  { id: 'small', nickname: 'small', cpuMilli: 2000, memoryBytes: 4 * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: 15 },
  { id: 'medium', nickname: 'medium', cpuMilli: 4000, memoryBytes: 8 * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: 27 },
  { id: 'large', nickname: 'large', cpuMilli: 8000, memoryBytes: 16 * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: 49 },
];

const antiArb: fc.Arbitrary<PodAffinityTerm> = fc.record({
  topologyKey: fc.constantFrom(LABEL_HOSTNAME, LABEL_ZONE),
  labelSelector: fc.constantFrom(...APPS).map((a) => ({ matchLabels: { app: a } })),
});

const podArb = fc.record(
  {
    app: fc.constantFrom(...APPS),
    ns: fc.constantFrom('default', 'default', 'default', 'kube-system'),
    cpu: fc.constantFrom(50, 100, 100, 250, 250, 500, 1000, 1500),
    memMi: fc.constantFrom(64, 256, 512, 1024, 2048),
    owner: fc.constantFrom<string | undefined>('ReplicaSet', 'ReplicaSet', 'ReplicaSet', 'StatefulSet', 'DaemonSet', undefined),
    annotation: rare(
      fc.constantFrom<Record<string, string>>(
        { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' },
        { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' },
        { 'karpenter.sh/do-not-disrupt': 'true' },
        { 'autoscaler.vpsie.com/scale-down-disabled': 'true' },
        { 'kubernetes.io/config.mirror': 'm' },
      ),
      8,
    ),
    volume: rare(fc.constantFrom<'emptyDir' | 'hostPath' | 'memory'>('emptyDir', 'hostPath', 'memory'), 6),
    anti: rare(antiArb, 5),
    zoneSelector: rare(fc.constantFrom(...ZONES), 8),
    toleratesGpu: fc.boolean(),
    terminating: fc.integer({ min: 0, max: 15 }),
  },
  { requiredKeys: ['app', 'ns', 'cpu', 'memMi', 'owner', 'toleratesGpu', 'terminating'] },
);

const nodeArb = fc.record(
  {
    group: fc.constantFrom<string | undefined>('g1', 'g1', 'g2', 'g2', undefined),
    offering: fc.constantFrom(...OFFERINGS),
    zone: fc.constantFrom(...ZONES),
    gpuTaint: fc.integer({ min: 0, max: 6 }),
    unschedulable: fc.integer({ min: 0, max: 10 }),
    notReady: fc.integer({ min: 0, max: 12 }),
    annotated: fc.integer({ min: 0, max: 15 }),
    pods: fc.array(podArb, { maxLength: 6 }),
  },
  { requiredKeys: ['group', 'offering', 'zone', 'gpuTaint', 'unschedulable', 'notReady', 'annotated', 'pods'] },
);

const pdbArb = (app: string, ns: string) =>
  fc
    .record({
      kind: fc.constantFrom<'allowed' | 'minAvailable' | 'maxUnavailable' | 'none'>('allowed', 'allowed', 'minAvailable', 'maxUnavailable', 'none'),
      allowed: fc.constantFrom(0, 1, 1, 1, 2, 3),
      healthy: fc.integer({ min: 0, max: 5 }),
      min: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom('50%', '100%', '0%')),
    })
    .map((r): PdbInfo | undefined => {
      if (r.kind === 'none') return undefined;
      const base: PdbInfo = { name: `pdb-${app}`, namespace: ns, selector: { matchLabels: { app } } };
      if (r.kind === 'allowed') return { ...base, disruptionsAllowed: r.allowed };
      if (r.kind === 'minAvailable') return { ...base, minAvailable: r.min, currentHealthy: r.healthy, expectedPods: r.healthy };
      return { ...base, maxUnavailable: r.min, currentHealthy: r.healthy, expectedPods: r.healthy };
    });

const groupSpecArb = fc.record({
  minNodes: fc.integer({ min: 0, max: 3 }),
  budget: fc.constantFrom<number | string>(0, 1, 1, 2, 3, 3, '50%', '100%', '100%', '10%', '0%'),
  dryRun: fc.integer({ min: 0, max: 8 }),
  scaleUpCpu: fc.constantFrom(60, 80, 90, 100),
  downCpu: fc.constantFrom(30, 50, 59),
  window: fc.constantFrom(0, 600, 600),
  consolidation: fc.integer({ min: 0, max: 3 }),
  threshold: fc.constantFrom(1, 20, 50),
  cooldown: fc.integer({ min: 0, max: 8 }),
  inFlight: fc.integer({ min: 0, max: 5 }),
  extraNodes: fc.integer({ min: 0, max: 2 }),
});

export interface Generated {
  input: ScaleDownInput;
}

export const clusterArb: fc.Arbitrary<ScaleDownInput> = fc
  .record({
    nodes: fc.array(nodeArb, { minLength: 1, maxLength: 8 }),
    pdbs: fc.tuple(...APPS.flatMap((a) => [pdbArb(a, 'default'), pdbArb(a, 'kube-system')])),
    extraPdb: rare(fc.constantFrom('a', 'b'), 6),
    g1: groupSpecArb,
    g2: groupSpecArb,
  })
  .map((r) => {
    let podSeq = 0;
    const nodes: ScaleDownNode[] = r.nodes.map((n, i) => {
      const name = `n${i}`;
      const taints: Taint[] = n.gpuTaint === 0 ? [{ key: 'gpu', value: 'x', effect: 'NoSchedule' }] : [];
      const pods: ScaleDownPod[] = n.pods.map((p) => {
        const k = podSeq++;
        const pod: ScaleDownPod = {
          name: `p${String(k).padStart(3, '0')}`,
          namespace: p.ns,
          uid: `u${k}`,
          labels: { app: p.app },
          requests: { cpuMilli: p.cpu, memoryBytes: p.memMi * Mi, pods: 1, ephemeralStorageBytes: 0 },
          nodeName: name,
          phase: 'Running',
        };
        if (p.owner !== undefined) pod.ownerKind = p.owner;
        if (p.annotation) pod.annotations = p.annotation;
        if (p.volume === 'emptyDir') pod.volumes = [{ name: 'v', kind: 'emptyDir', medium: '' }];
        if (p.volume === 'hostPath') pod.volumes = [{ name: 'v', kind: 'hostPath' }];
        if (p.volume === 'memory') pod.volumes = [{ name: 'v', kind: 'emptyDir', medium: 'Memory' }];
        if (p.anti) pod.podAntiAffinity = [p.anti];
        if (p.zoneSelector) pod.nodeSelector = { [LABEL_ZONE]: p.zoneSelector };
        if (p.toleratesGpu || p.owner === 'DaemonSet') pod.tolerations = [{ key: 'gpu', operator: 'Exists' }];
        if (p.terminating === 0) pod.terminating = true;
        return pod;
      });
      const out: ScaleDownNode = {
        node: {
          name,
          labels: {
            [LABEL_HOSTNAME]: name,
            [LABEL_ZONE]: n.zone,
            [LABEL_INSTANCE_TYPE]: n.offering.nickname,
            ...(n.group ? { 'autoscaler.vpsie.com/nodegroup': n.group } : {}),
          },
          allocatable: { cpuMilli: n.offering.cpuMilli, memoryBytes: n.offering.memoryBytes, pods: 110, ephemeralStorageBytes: 100 * Gi },
        },
        vpsieNode: `vn-${name}`,
        offeringId: n.offering.id,
        pods,
      };
      if (taints.length > 0) out.node.taints = taints;
      if (n.unschedulable === 0) out.node.unschedulable = true;
      if (n.notReady === 0) out.ready = false;
      if (n.annotated === 0) out.annotations = { 'karpenter.sh/do-not-disrupt': 'true' };
      if (n.group) out.nodeGroup = n.group;
      return out;
    });
    const pdbs = r.pdbs.filter((p): p is PdbInfo => p !== undefined);
    if (r.extraPdb) pdbs.push({ name: 'overlap', namespace: 'default', selector: { matchLabels: { app: r.extraPdb } }, disruptionsAllowed: 5 });
    const inFlightRemovals: InFlightRemoval[] = [];
    const groups: ScaleDownGroup[] = (['g1', 'g2'] as const).map((name) => {
      const g = r[name];
      const members = nodes.filter((n) => n.nodeGroup === name).length;
      const inFlight = g.inFlight === 0 ? 1 : 0;
      for (let k = 0; k < inFlight; k++) inFlightRemovals.push({ nodeGroup: name, vpsieNode: `vn-gone-${name}-${k}` });
      const group: ScaleDownGroup = {
        name,
        namespace: 'kube-system',
        currentNodes: members + g.extraNodes + inFlight,
        offerings: OFFERINGS,
        spec: spec({
          minNodes: g.minNodes,
          dryRun: g.dryRun === 0,
          disruptionBudget: { maxUnavailable: g.budget },
          scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 60, cooldownSeconds: 0, cpuThreshold: g.scaleUpCpu, memoryThreshold: 100 },
          scaleDownPolicy: {
            enabled: true,
            stabilizationWindowSeconds: g.window,
            cooldownSeconds: 600,
            cpuThreshold: g.downCpu,
            memoryThreshold: 50,
            utilizationSource: 'requests' as const,
          },
          consolidation: { enabled: g.consolidation === 0, savingsThresholdPercent: g.threshold },
        }),
      };
      if (g.cooldown === 0) group.lastScaleUpAt = NOW - 60_000;
      return group;
    });
    return { now: NOW, nodes, pdbs, groups, inFlightRemovals, utilization: steadyTracker(nodes, NOW) };
  });
