import { expect } from 'chai';

import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import type { ScaleDownReason } from '../../../../../decision/nodes/scale-down/reasons';
import { SCALE_DOWN_REASONS } from '../../../../../decision/nodes/scale-down/reasons';
import type { NodeVerdict, ScaleDownInput } from '../../../../../decision/nodes/scale-down/types';
import { createTracker, nodeSample, observe } from '../../../../../decision/nodes/scale-down/utilization';
import { Gi, group, input, Mi, node, NOW, pod, res, steadyTracker } from './fixtures';

/**
 * The base cluster: n1 is idle (10% cpu) and its one pod fits on n2 (60% busy); n1 is approved.
 * Every case changes one thing and expects exactly one failing rule on n1.
 */
function base(): ScaleDownInput {
  const n1 = node('n1', [pod('web-1', { requests: res(400, 512 * Mi) })]);
  const n2 = node('n2', [pod('busy-1', { requests: res(2400, 4.8 * Gi) })]);
  return input([n1, n2], [group('g', 2)], {
    pdbs: [{ name: 'web', namespace: 'default', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 1 }],
  });
}

function n1(i: ScaleDownInput): NodeVerdict {
  const v = decideScaleDown(i).nodes.find((x) => x.node === 'n1');
  if (!v) throw new Error('n1 missing');
  return v;
}

function reasons(v: NodeVerdict): ScaleDownReason[] {
  return [...new Set(v.blockers.map((b) => b.reason))];
}

function withN1Pod(i: ScaleDownInput, patch: Partial<ReturnType<typeof pod>>): ScaleDownInput {
  const nodes = i.nodes.map((n) => (n.node.name === 'n1' ? { ...n, pods: n.pods.map((p) => ({ ...p, ...patch })) } : n));
  return { ...i, nodes };
}

function withGroup(i: ScaleDownInput, patch: (g: ScaleDownInput['groups'][number]) => void): ScaleDownInput {
  const groups = i.groups.map((g) => {
    const c = structuredClone(g);
    patch(c);
    return c;
  });
  return { ...i, groups };
}

interface Case {
  reason: ScaleDownReason;
  outcome: NodeVerdict['outcome'];
  make: () => ScaleDownInput;
}

const cases: Case[] = [
  { reason: 'NodeGroupDeleting', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.deleting = true)) },
  { reason: 'ScaleDownDisabled', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.spec.scaleDownPolicy.enabled = false)) },
  { reason: 'ScaleUpInProgress', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.scaleUpInProgress = true)) },
  { reason: 'ScaleUpCooldown', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.lastScaleUpAt = NOW - 599_000)) },
  { reason: 'FailedDrainCooldown', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.lastFailedDrainAt = NOW - 60_000)) },
  {
    reason: 'RightsizingCoordinationDelay',
    outcome: 'blocked',
    make: () => withGroup(base(), (g) => ((g.coordinationHoldUntil = NOW + 1_000), (g.coordinationHoldBy = 'tenant-a/web'))),
  },
  {
    reason: 'OutsideDisruptionWindow',
    outcome: 'blocked',
    make: () => withGroup(base(), (g) => (g.spec.disruptionBudget.windows = [{ start: '01:00', end: '05:00', timeZone: 'UTC' }])),
  },
  {
    reason: 'NotInNodeGroup',
    outcome: 'notCandidate',
    make: () => ({ ...base(), nodes: base().nodes.map((n) => (n.node.name === 'n1' ? { ...n, nodeGroup: undefined } : n)) }),
  },
  {
    reason: 'AlreadyBeingRemoved',
    outcome: 'notCandidate',
    make: () => ({ ...base(), inFlightRemovals: [{ nodeGroup: 'g', nodeName: 'n1' }] }),
  },
  {
    reason: 'StabilizationWindowPending',
    outcome: 'notCandidate',
    make: () => {
      const i = base();
      return { ...i, utilization: steadyTracker(i.nodes, NOW, 300) };
    },
  },
  {
    reason: 'UsageUnknown',
    outcome: 'notCandidate',
    // Requests low for the whole window, but no usage from metrics-server: `usage` judges nothing idle.
    make: () => withGroup(base(), (g) => (g.spec.scaleDownPolicy.utilizationSource = 'usage')),
  },
  {
    reason: 'NotUnderutilized',
    outcome: 'notCandidate',
    make: () => {
      // A spike to 70% cpu 5 minutes ago, inside the 10-minute window.
      const i = base();
      let t = steadyTracker(i.nodes, NOW - 300_000, 600);
      t = observe(
        t,
        [
          { node: 'n1', cpu: 0.7, memory: 0.1 },
          { node: 'n2', cpu: 0.6, memory: 0.6 },
        ],
        NOW - 240_000,
      );
      for (let at = NOW - 180_000; at <= NOW; at += 60_000) {
        t = observe(
          t,
          i.nodes.map((n) => nodeSample(n.node.name, n.node.allocatable, n.pods)),
          at,
        );
      }
      return { ...i, utilization: t };
    },
  },
  {
    reason: 'ScaleDownDisabledAnnotation',
    outcome: 'blocked',
    make: () => ({
      ...base(),
      nodes: base().nodes.map((n) => (n.node.name === 'n1' ? { ...n, annotations: { 'autoscaler.vpsie.com/scale-down-disabled': 'true' } } : n)),
    }),
  },
  { reason: 'DoNotDisruptAnnotation', outcome: 'blocked', make: () => withN1Pod(base(), { annotations: { 'karpenter.sh/do-not-disrupt': 'true' } }) },
  {
    reason: 'NotSafeToEvictAnnotation',
    outcome: 'blocked',
    make: () => withN1Pod(base(), { annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' } }),
  },
  { reason: 'LocalStorage', outcome: 'blocked', make: () => withN1Pod(base(), { volumes: [{ name: 'cache', kind: 'emptyDir', medium: '' }] }) },
  {
    reason: 'KubeSystemPodWithoutPDB',
    outcome: 'blocked',
    make: () => withN1Pod({ ...base(), pdbs: [] }, { namespace: 'kube-system', labels: { app: 'dns' } }),
  },
  { reason: 'UnreplicatedPod', outcome: 'blocked', make: () => withN1Pod(base(), { ownerKind: undefined }) },
  {
    reason: 'PodDisruptionBudget',
    outcome: 'blocked',
    make: () => ({
      ...base(),
      pdbs: [{ name: 'web', namespace: 'default', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 0, currentHealthy: 3, expectedPods: 3 }],
    }),
  },
  {
    reason: 'NoPlaceToMove',
    outcome: 'blocked',
    // 1800m fits n1 (8 cpu, 22%) but not n2's 1600m of room.
    make: () => {
      const i = base();
      const nodes = i.nodes.map((n) => (n.node.name === 'n1' ? node('n1', [pod('web-1', { requests: res(1800, 512 * Mi) })], { cpu: 8000 }) : n));
      return { ...i, nodes, utilization: steadyTracker(nodes, NOW) };
    },
  },
  {
    reason: 'AntiAffinityUnsatisfiable',
    outcome: 'blocked',
    make: () =>
      withN1Pod(base(), {
        podAntiAffinity: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'busy' } } }],
      }),
  },
  {
    reason: 'PersistentVolumeUnreachable',
    outcome: 'blocked',
    // A local PV pinned to n1 by its node affinity: the pod fits n2 by resources but cannot reach its data there.
    make: () =>
      withN1Pod(base(), {
        persistentVolumes: [{ name: 'data-web-1 -> pv-local-n1', nodeAffinity: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] }],
      }),
  },
  { reason: 'MinNodesReached', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.spec.minNodes = 2)) },
  { reason: 'DisruptionBudgetExhausted', outcome: 'blocked', make: () => withGroup(base(), (g) => (g.spec.disruptionBudget.maxUnavailable = 0)) },
  {
    reason: 'DisruptionBudgetExhausted',
    outcome: 'blocked',
    // Another node of the group is being drained (budget 1, not in the snapshot any more); the group has 3 nodes.
    make: () => withGroup({ ...base(), inFlightRemovals: [{ nodeGroup: 'g', vpsieNode: 'vn-n3' }] }, (g) => (g.currentNodes = 3)),
  },
  {
    reason: 'WouldTriggerScaleUp',
    outcome: 'blocked',
    // n2 at 75%: with web-1 (10%) it would request 85% > 80% scale-up threshold.
    make: () => {
      const i = base();
      const nodes = i.nodes.map((n) => (n.node.name === 'n2' ? node('n2', [pod('busy-1', { requests: res(3000, 4 * Gi) })]) : n));
      return { ...i, nodes, utilization: steadyTracker(nodes, NOW) };
    },
  },
];

describe('scale-down rules: each rule, and only it, blocks the removal', () => {
  it('the base cluster approves n1 and moves its pod to n2', () => {
    const d = decideScaleDown(base());
    const v = n1(base());
    expect(v.outcome).to.equal('approved');
    expect(v.blockers).to.deep.equal([]);
    expect(v.moves).to.deep.equal([{ pod: 'default/web-1', node: 'n2' }]);
    expect(d.removals.map((r) => [r.node, r.vpsieNode, r.kind])).to.deep.equal([['n1', 'vn-n1', 'delete']]);
    expect(d.nodes.find((x) => x.node === 'n2')?.reason).to.equal('NotUnderutilized');
  });

  for (const c of cases) {
    it(`${c.reason} blocks alone (${c.outcome})`, () => {
      const i = c.make();
      const v = n1(i);
      expect(v.outcome).to.equal(c.outcome);
      expect(reasons(v)).to.deep.equal([c.reason]);
      expect(v.reason).to.equal(c.reason);
      const b = v.blockers[0];
      expect(b?.message).to.be.a('string').and.not.equal('');
      expect(decideScaleDown(i).removals).to.deep.equal([]);
    });
  }

  it('every blocking reason of the vocabulary except the consolidation/dry-run outcomes has a case', () => {
    const covered = new Set(cases.map((c) => c.reason));
    const outcomes: ScaleDownReason[] = ['DryRun', 'ConsolidationBelowThreshold', 'ConsolidationUnpriced'];
    expect(SCALE_DOWN_REASONS.filter((r) => !covered.has(r) && !outcomes.includes(r))).to.deep.equal([]);
  });

  it('reports every failing rule, first in evaluation order', () => {
    let i = withN1Pod(base(), { ownerKind: undefined, volumes: [{ name: 'data', kind: 'hostPath' }] });
    i = withGroup(i, (g) => (g.lastScaleUpAt = NOW - 1000));
    const v = n1(i);
    expect(reasons(v)).to.deep.equal(['ScaleUpCooldown', 'LocalStorage', 'UnreplicatedPod']);
    expect(v.reason).to.equal('ScaleUpCooldown');
    expect(v.blockers[0]?.numbers).to.include({ cooldownSeconds: 600, remainingSeconds: 599 });
  });

  it('DryRun: reports the removal without making it', () => {
    const d = decideScaleDown(withGroup(base(), (g) => (g.spec.dryRun = true)));
    const v = d.nodes.find((x) => x.node === 'n1');
    expect(v?.outcome).to.equal('dryRun');
    expect(v?.reason).to.equal('DryRun');
    expect(d.removals).to.deep.equal([]);
    expect(d.dryRunRemovals.map((r) => r.node)).to.deep.equal(['n1']);
  });

  describe('exceptions that do not block', () => {
    const ok: [string, () => ScaleDownInput][] = [
      ['emptyDir in memory', () => withN1Pod(base(), { volumes: [{ name: 'tmp', kind: 'emptyDir', medium: 'Memory' }] })],
      [
        'local volumes listed in safe-to-evict-local-volumes',
        () =>
          withN1Pod(base(), {
            volumes: [{ name: 'cache', kind: 'emptyDir', medium: '' }],
            annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes': 'cache' },
          }),
      ],
      [
        'hostPath on a pod marked safe-to-evict: "true"',
        () => withN1Pod(base(), { volumes: [{ name: 'h', kind: 'hostPath' }], annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } }),
      ],
      [
        'a pod without controller marked safe-to-evict: "true"',
        () => withN1Pod(base(), { ownerKind: undefined, annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } }),
      ],
      [
        'a kube-system pod with a PDB',
        () => ({
          ...withN1Pod(base(), { namespace: 'kube-system', labels: { app: 'dns' } }),
          pdbs: [{ name: 'dns', namespace: 'kube-system', selector: { matchLabels: { app: 'dns' } }, disruptionsAllowed: 1 }],
        }),
      ],
      ['PVC volumes', () => withN1Pod(base(), { volumes: [{ name: 'data', kind: 'other' }] })],
      ['a pod annotated do-not-disrupt "false"', () => withN1Pod(base(), { annotations: { 'karpenter.sh/do-not-disrupt': 'false' } })],
      [
        'a DaemonSet pod with hostPath and no PDB in kube-system (it is not evicted)',
        () => {
          const i = base();
          const ds = pod('proxy-1', { namespace: 'kube-system', ownerKind: 'DaemonSet', volumes: [{ name: 'h', kind: 'hostPath' }] });
          return { ...i, nodes: i.nodes.map((n) => (n.node.name === 'n1' ? { ...n, pods: [...n.pods, { ...ds, nodeName: 'n1' }] } : n)) };
        },
      ],
      [
        'a mirror pod without controller',
        () => {
          const i = base();
          const m = pod('etcd-n1', { namespace: 'kube-system', ownerKind: 'Node', annotations: { 'kubernetes.io/config.mirror': 'x' } });
          return { ...i, nodes: i.nodes.map((n) => (n.node.name === 'n1' ? { ...n, pods: [...n.pods, { ...m, nodeName: 'n1' }] } : n)) };
        },
      ],
      [
        'a completed pod without controller',
        () => {
          const i = base();
          const m = pod('job-x', { ownerKind: undefined, phase: 'Succeeded' });
          return { ...i, nodes: i.nodes.map((n) => (n.node.name === 'n1' ? { ...n, pods: [...n.pods, { ...m, nodeName: 'n1' }] } : n)) };
        },
      ],
    ];
    for (const [name, make] of ok) {
      it(name, () => {
        const v = n1(make());
        expect(v.blockers).to.deep.equal([]);
        expect(v.outcome).to.equal('approved');
      });
    }
  });

  it('the node annotation of cluster-autoscaler and karpenter block too', () => {
    for (const [k, r] of [
      ['cluster-autoscaler.kubernetes.io/scale-down-disabled', 'ScaleDownDisabledAnnotation'],
      ['karpenter.sh/do-not-disrupt', 'DoNotDisruptAnnotation'],
    ] as const) {
      const i = base();
      const v = n1({ ...i, nodes: i.nodes.map((n) => (n.node.name === 'n1' ? { ...n, annotations: { [k]: 'true' } } : n)) });
      expect(reasons(v)).to.deep.equal([r]);
    }
  });

  it('a pod under two PDBs is refused (the eviction API would refuse it)', () => {
    const i = base();
    const v = n1({ ...i, pdbs: [...i.pdbs, { name: 'all', namespace: 'default', selector: {}, disruptionsAllowed: 5 }] });
    expect(reasons(v)).to.deep.equal(['PodDisruptionBudget']);
    expect(v.blockers[0]?.numbers).to.deep.equal({ pdbs: 2 });
  });

  it('an unknown PDB status allows nothing (fail closed)', () => {
    const i = base();
    const v = n1({ ...i, pdbs: [{ name: 'web', namespace: 'default', selector: { matchLabels: { app: 'web' } } }] });
    expect(reasons(v)).to.deep.equal(['PodDisruptionBudget']);
  });

  it('a NotReady or cordoned node is no destination', () => {
    for (const patch of [{ ready: false }, { node: { ...base().nodes[1]!.node, unschedulable: true } }]) {
      const i = base();
      const v = n1({ ...i, nodes: i.nodes.map((n) => (n.node.name === 'n2' ? { ...n, ...patch } : n)) });
      expect(reasons(v)).to.deep.equal(['NoPlaceToMove']);
    }
  });

  it('a node selector the remaining nodes do not match leaves no place', () => {
    const v = n1(withN1Pod(base(), { nodeSelector: { disk: 'ssd' } }));
    expect(reasons(v)).to.deep.equal(['NoPlaceToMove']);
    expect(v.blockers[0]?.numbers).to.include({ NodeAffinityMismatch: 1 });
  });

  it('a taint the pod does not tolerate leaves no place', () => {
    const i = base();
    const v = n1({
      ...i,
      nodes: i.nodes.map((n) =>
        n.node.name === 'n2' ? { ...n, node: { ...n.node, taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' as const }] } } : n,
      ),
    });
    expect(reasons(v)).to.deep.equal(['NoPlaceToMove']);
    expect(v.blockers[0]?.numbers).to.include({ TaintNotTolerated: 1 });
  });

  it('without a tracker, a node with a window is never a candidate; with window 0 the current requests decide', () => {
    const i = { ...base(), utilization: undefined };
    expect(reasons(n1(i))).to.deep.equal(['StabilizationWindowPending']);
    const j = withGroup({ ...base(), utilization: createTracker() }, (g) => (g.spec.scaleDownPolicy.stabilizationWindowSeconds = 0));
    expect(n1(j).outcome).to.equal('approved');
  });

  it('utilizationThreshold replaces both thresholds', () => {
    const v = n1(withGroup(base(), (g) => (g.spec.scaleDownPolicy.utilizationThreshold = 5)));
    expect(reasons(v)).to.deep.equal(['NotUnderutilized']);
    expect(v.utilization).to.include({ cpuThreshold: 5, memoryThreshold: 5 });
  });
});

describe('scale-down: the coordination hold (napActionDelay)', () => {
  it('holds until the hold ends, and not a millisecond longer', () => {
    const held = withGroup(base(), (g) => (g.coordinationHoldUntil = NOW + 1));
    const v = n1(held);
    expect(reasons(v)).to.deep.equal(['RightsizingCoordinationDelay']);
    expect(v.blockers[0]!.numbers).to.deep.equal({ remainingSeconds: 1 });
    expect(n1(withGroup(base(), (g) => (g.coordinationHoldUntil = NOW))).outcome).to.equal('approved');
  });
});
