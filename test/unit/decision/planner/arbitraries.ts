/** fast-check generators for planner inputs over a small vocabulary (so constraints interact). */
import fc from 'fast-check';

import type { ClusterNode, NodeGroup, Offering, PlannerInput } from '../../../../decision/planner/types';
import type {
  LabelSelector,
  NodeSelectorTerm,
  PodAffinityTerm,
  SimNode,
  SimPod,
  Taint,
  Toleration,
  TopologySpreadConstraint,
} from '../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_ZONE } from '../../../../decision/scheduling/types';

const Mi = 1024 * 1024;

/** `arb` with probability 1/(1+weight), else undefined. */
function rare<T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight }, { arbitrary: arb, weight: 1 });
}
const ZONES = ['z1', 'z2', 'z3'];
const APPS = ['a', 'b', 'c'];
const TOPO = [LABEL_HOSTNAME, LABEL_ZONE];

const selectorArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constantFrom(...APPS).map((a) => ({ matchLabels: { app: a } })),
  fc.subarray(APPS, { minLength: 1 }).map((vs) => ({ matchExpressions: [{ key: 'app', operator: 'In' as const, values: vs }] })),
);

const termArb: fc.Arbitrary<PodAffinityTerm> = fc.record({
  topologyKey: fc.constantFrom(...TOPO),
  labelSelector: selectorArb,
});

const spreadArb: fc.Arbitrary<TopologySpreadConstraint> = fc.record({
  maxSkew: fc.integer({ min: 1, max: 2 }),
  topologyKey: fc.constantFrom(...TOPO),
  whenUnsatisfiable: fc.constantFrom('DoNotSchedule' as const, 'DoNotSchedule' as const, 'ScheduleAnyway' as const),
  labelSelector: selectorArb,
});

const taintArb: fc.Arbitrary<Taint> = fc.record({
  key: fc.constantFrom('dedicated', 'gpu'),
  value: fc.constantFrom('x', 'y'),
  effect: fc.constantFrom('NoSchedule' as const, 'NoExecute' as const, 'PreferNoSchedule' as const),
});

const tolerationArb: fc.Arbitrary<Toleration> = fc.oneof(
  fc.record({ key: fc.constantFrom('dedicated', 'gpu'), operator: fc.constant('Exists' as const) }),
  fc.record({ key: fc.constantFrom('dedicated', 'gpu'), value: fc.constantFrom('x', 'y') }),
);

const nodeAffinityArb: fc.Arbitrary<NodeSelectorTerm[]> = fc.array(
  fc.record({
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({
          key: fc.constant(LABEL_ZONE),
          operator: fc.constantFrom('In' as const, 'NotIn' as const),
          values: fc.subarray(ZONES, { minLength: 1 }),
        }),
        fc.record({ key: fc.constant('tier'), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
        fc.record({
          key: fc.constant('gen'),
          operator: fc.constantFrom('Gt' as const, 'Lt' as const),
          values: fc.constantFrom(['1'], ['2']),
        }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  }),
  { minLength: 1, maxLength: 2 },
);

function podArb(i: number, namespace = 'default'): fc.Arbitrary<SimPod> {
  return fc
    .record(
      {
        app: fc.constantFrom(...APPS),
        cpu: fc.constantFrom(50, 100, 250, 500, 1000, 1500, 3000),
        mem: fc.constantFrom(64, 128, 256, 512, 1024, 2048, 6144),
        nodeSelector: rare(fc.constantFrom<Record<string, string>>({ tier: 'gold' }, { [LABEL_ZONE]: 'z1' }, { [LABEL_ZONE]: 'z2' }), 5),
        affinity: rare(nodeAffinityArb, 6),
        tolerations: rare(fc.array(tolerationArb, { maxLength: 2 }), 1),
        podAffinity: rare(fc.array(termArb, { minLength: 1, maxLength: 1 }), 4),
        podAntiAffinity: rare(fc.array(termArb, { minLength: 1, maxLength: 1 }), 3),
        spread: rare(fc.array(spreadArb, { minLength: 1, maxLength: 2 }), 3),
        ds: fc.integer({ min: 0, max: 30 }),
      },
      { requiredKeys: ['app', 'cpu', 'mem', 'ds'] },
    )
    .map((r) => {
      const p: SimPod = {
        name: `p${String(i).padStart(3, '0')}`,
        namespace,
        uid: `u${i}`,
        labels: { app: r.app },
        requests: { cpuMilli: r.cpu, memoryBytes: r.mem * Mi, pods: 1, ephemeralStorageBytes: 0 },
      };
      if (r.nodeSelector) p.nodeSelector = r.nodeSelector;
      if (r.affinity) p.requiredNodeAffinity = r.affinity;
      if (r.tolerations) p.tolerations = r.tolerations;
      if (r.podAffinity) p.podAffinity = r.podAffinity;
      if (r.podAntiAffinity) p.podAntiAffinity = r.podAntiAffinity;
      if (r.spread) p.topologySpreadConstraints = r.spread;
      if (r.ds === 0) p.ownerKind = 'DaemonSet';
      return p;
    });
}

function offeringArb(id: string): fc.Arbitrary<Offering> {
  return fc
    .record({
      cpu: fc.constantFrom(1000, 2000, 4000, 8000),
      memGi: fc.constantFrom(1, 2, 4, 8, 16),
      pods: fc.constantFrom(4, 8, 110),
      price: fc.integer({ min: 3, max: 120 }),
      zone: rare(fc.constantFrom(...ZONES), 3),
    })
    .map((r) => {
      const o: Offering = {
        id,
        nickname: `nick-${id}`,
        cpuMilli: r.cpu,
        memoryBytes: r.memGi * 1024 * Mi,
        pods: r.pods,
        ephemeralStorageBytes: 100 * 1024 * 1024 * Mi,
        monthlyPrice: r.price,
      };
      if (r.zone) o.zone = r.zone;
      return o;
    });
}

function groupArb(i: number): fc.Arbitrary<NodeGroup> {
  return fc
    .record({
      offerings: fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => offeringArb(`o${i}${k}`)))),
      minNodes: fc.integer({ min: 0, max: 1 }),
      maxNodes: fc.integer({ min: 1, max: 8 }),
      currentNodes: fc.integer({ min: 0, max: 2 }),
      mixed: fc.boolean(),
      priority: rare(fc.integer({ min: 0, max: 2 }), 1),
      zone: fc.constantFrom(...ZONES),
      tier: fc.boolean(),
      gen: fc.constantFrom('1', '2', '3'),
      taints: rare(fc.array(taintArb, { maxLength: 1 }), 3),
      preferred: rare(fc.integer({ min: 0, max: 2 }), 1),
    })
    .map((r) => {
      const g: NodeGroup = {
        name: `g${i}`,
        namespace: 'kube-system',
        minNodes: Math.min(r.minNodes, r.maxNodes),
        maxNodes: r.maxNodes,
        currentNodes: Math.min(r.currentNodes, r.maxNodes),
        offerings: r.offerings,
        allowMixedInstances: r.mixed,
        labels: { ...(r.tier ? { tier: 'gold' } : {}), gen: r.gen },
        zone: r.zone,
      };
      if (r.priority !== undefined) g.priority = r.priority;
      if (r.taints) g.taints = r.taints;
      if (r.preferred !== undefined && r.offerings[r.preferred]) g.preferredInstanceType = r.offerings[r.preferred]?.id;
      return g;
    });
}

function clusterNodeArb(i: number, inFlight: boolean): fc.Arbitrary<ClusterNode> {
  const name = `${inFlight ? 'f' : 'e'}${i}`;
  return fc
    .record({
      zone: fc.constantFrom(...ZONES),
      cpu: fc.constantFrom(1000, 2000, 4000),
      memGi: fc.constantFrom(1, 2, 4, 8),
      tier: fc.boolean(),
      unschedulable: fc.boolean(),
      taints: rare(fc.array(taintArb, { maxLength: 1 }), 3),
      pods: fc.array(
        fc.record({
          app: fc.constantFrom(...APPS),
          cpu: fc.constantFrom(100, 500),
          anti: rare(termArb, 3),
        }),
        { maxLength: 3 },
      ),
    })
    .map((r) => {
      const node: SimNode = {
        name,
        labels: { [LABEL_HOSTNAME]: name, [LABEL_ZONE]: r.zone, ...(r.tier ? { tier: 'gold' } : {}) },
        allocatable: { cpuMilli: r.cpu, memoryBytes: r.memGi * 1024 * Mi, pods: 110, ephemeralStorageBytes: 100 * 1024 * 1024 * Mi },
      };
      if (r.unschedulable && !inFlight) node.unschedulable = true;
      if (r.taints) node.taints = r.taints;
      const pods: SimPod[] = r.pods.map((p, k) => {
        const sp: SimPod = {
          name: `${name}-pod${k}`,
          namespace: 'default',
          uid: `${name}-${k}`,
          labels: { app: p.app },
          requests: { cpuMilli: p.cpu, memoryBytes: 128 * Mi, pods: 1, ephemeralStorageBytes: 0 },
          nodeName: name,
        };
        if (p.anti) sp.podAntiAffinity = [p.anti];
        return sp;
      });
      return { node, pods };
    });
}

const daemonSetArb: fc.Arbitrary<SimPod[]> = fc
  .array(
    fc.record({
      cpu: fc.constantFrom(50, 100, 200),
      tolerateAll: fc.boolean(),
      selectGold: fc.boolean(),
    }),
    { maxLength: 2 },
  )
  .map((ds) =>
    ds.map((d, k) => {
      const p: SimPod = {
        name: `ds${k}`,
        namespace: 'kube-system',
        uid: `ds${k}`,
        labels: { app: `ds${k}` },
        requests: { cpuMilli: d.cpu, memoryBytes: 64 * Mi, pods: 1, ephemeralStorageBytes: 0 },
        ownerKind: 'DaemonSet',
      };
      if (d.tolerateAll) p.tolerations = [{ operator: 'Exists' }];
      if (d.selectGold) p.nodeSelector = { tier: 'gold' };
      return p;
    }),
  );

export const plannerInputArb: fc.Arbitrary<PlannerInput> = fc
  .record({
    podCount: fc.integer({ min: 0, max: 30 }),
    groupCount: fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 8 }),
    existingCount: fc.integer({ min: 0, max: 3 }),
    inFlightCount: fc.integer({ min: 0, max: 2 }),
    maxClusterNodes: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 6, max: 40 }), fc.constant(1000)),
    enforceMinNodes: fc.boolean(),
  })
  .chain((s) =>
    fc
      .record({
        pods: fc.tuple(...Array.from({ length: s.podCount }, (_, i) => podArb(i))),
        groups: fc.tuple(...Array.from({ length: s.groupCount }, (_, i) => groupArb(i))),
        existing: fc.tuple(...Array.from({ length: s.existingCount }, (_, i) => clusterNodeArb(i, false))),
        inFlight: fc.tuple(...Array.from({ length: s.inFlightCount }, (_, i) => clusterNodeArb(i, true))),
        daemonSets: daemonSetArb,
      })
      .map((r): PlannerInput => ({
        pendingPods: r.pods,
        existingNodes: r.existing,
        inFlightNodes: r.inFlight,
        nodeGroups: r.groups,
        daemonSetPods: r.daemonSets,
        maxClusterNodes: s.maxClusterNodes,
        enforceMinNodes: s.enforceMinNodes,
      })),
  );
