import { expect } from 'chai';
import { planScaleUp } from '../../../../../decision/planner/planner';
import type { NodeGroup, Offering, PlannerInput } from '../../../../../decision/planner/types';
import type { SimPod } from '../../../../../decision/scheduling/types';
import {
  groupOutcome,
  podOutcomes,
  requestedNodes,
  scaleUpRequestId,
  stabilizationDelayMs,
  type GroupExecution,
} from '../../../../../decision/nodes/scale-up/record';

const Gi = 1024 ** 3;
const small: Offering = {
  id: 'small-2cpu-4gb',
  nickname: 'small-2cpu-4gb',
  cpuMilli: 2000,
  memoryBytes: 4 * Gi,
  pods: 110,
  ephemeralStorageBytes: 50 * Gi,
  monthlyPrice: 15,
};
function group(name: string, over: Partial<NodeGroup> = {}): NodeGroup {
  return { name, namespace: 'ng', minNodes: 0, maxNodes: 10, currentNodes: 0, offerings: [small], allowMixedInstances: true, ...over };
}
function pod(name: string, cpuMilli = 1500, sel?: Record<string, string>): SimPod {
  return {
    name,
    namespace: 'app',
    uid: `u-${name}`,
    labels: {},
    requests: { cpuMilli, memoryBytes: Gi, pods: 1, ephemeralStorageBytes: 0 },
    ...(sel ? { nodeSelector: sel } : {}),
  };
}
function input(pods: SimPod[], groups: NodeGroup[]): PlannerInput {
  return { pendingPods: pods, existingNodes: [], inFlightNodes: [], nodeGroups: groups, daemonSetPods: [], maxClusterNodes: 100 };
}
const uids = (pods: SimPod[]) => Object.fromEntries(pods.map((p) => [`${p.namespace}/${p.name}`, p.uid]));

describe('scale-up decision record', () => {
  it('every pod of the batch gets exactly one outcome naming the pod; created nodes are matched to planned ones', () => {
    const pods = [pod('a'), pod('b'), pod('c'), pod('x', 100, { pool: 'none' })];
    const d = planScaleUp(input(pods, [group('g')]));
    expect(d.groups[0]!.newNodes).to.equal(3);
    const ex: GroupExecution = { requestId: 'r', created: ['vn-1', 'vn-2', 'vn-3'] };
    const out = podOutcomes(d, new Map([['ng/g', ex]]), new Set(), uids(pods));
    expect(out.map((o) => [o.pod, o.outcome, o.reason])).to.deep.equal([
      ['app/a', 'TriggeredScaleUp', 'ScaleUpTriggered'],
      ['app/b', 'TriggeredScaleUp', 'ScaleUpTriggered'],
      ['app/c', 'TriggeredScaleUp', 'ScaleUpTriggered'],
      ['app/x', 'NotTriggerScaleUp', 'NoGroupMatchesSelector'],
    ]);
    const vns = out.flatMap((o) => (o.outcome === 'TriggeredScaleUp' ? [o.vpsieNode] : []));
    expect(new Set(vns)).to.deep.equal(new Set(['vn-1', 'vn-2', 'vn-3']));
    expect(out.every((o) => o.uid === `u-${o.pod.split('/')[1]}`)).to.equal(true);
  });

  it('a partial refusal (MaxNodesReached) marks exactly the pods of the nodes not created', () => {
    const pods = [pod('a'), pod('b'), pod('c')];
    const d = planScaleUp(input(pods, [group('g')]));
    const ex: GroupExecution = { requestId: 'r', created: ['vn-1'], refused: { reason: 'MaxNodesReached', count: 2, message: 'max 1' } };
    const out = podOutcomes(d, new Map([['ng/g', ex]]), new Set(), uids(pods));
    expect(out.filter((o) => o.outcome === 'TriggeredScaleUp')).to.have.length(1);
    expect(out.filter((o) => o.outcome === 'NotTriggerScaleUp' && o.reason === 'MaxNodesReached')).to.have.length(2);
    const g = groupOutcome(d.groups[0]!, ex);
    expect(g).to.include({ group: 'ng/g', newNodes: 3, requestId: 'r' });
    expect(g.pods).to.deep.equal(['app/a', 'app/b', 'app/c']);
  });

  it('execution errors and dry runs are NotTriggerScaleUp with their reason; deferred groups are left for the next round', () => {
    const pods = [pod('a')];
    const d = planScaleUp(input(pods, [group('g')]));
    expect(podOutcomes(d, new Map([['ng/g', { requestId: 'r', created: [], error: 'boom' }]]), new Set(), {})[0]).to.include({
      outcome: 'NotTriggerScaleUp',
      reason: 'ScaleUpFailed',
    });
    expect(podOutcomes(d, new Map([['ng/g', { requestId: 'r', created: [], dryRun: true }]]), new Set(), {})[0]).to.include({
      outcome: 'NotTriggerScaleUp',
      reason: 'DryRun',
    });
    expect(podOutcomes(d, new Map(), new Set(['ng/g']), {})).to.deep.equal([]);
  });

  it('request ids are stable per workflow, group and round; requested nodes follow the plan', () => {
    expect(scaleUpRequestId('scaleup:t-1', 'ng/g', 1)).to.equal('scaleup:t-1/ng/g/r1');
    const d = planScaleUp(input([pod('a'), pod('b')], [group('g')]));
    expect(requestedNodes(d.groups[0]!)).to.deep.equal([{ offeringID: 'small-2cpu-4gb', count: 2 }]);
  });

  it('stabilization delays only a group that scaled up within its window', () => {
    const t = Date.parse('2026-01-01T00:01:00Z');
    expect(stabilizationDelayMs(undefined, 60, t)).to.equal(0);
    expect(stabilizationDelayMs('2026-01-01T00:00:30Z', 60, t)).to.equal(30_000);
    expect(stabilizationDelayMs('2026-01-01T00:00:00Z', 60, t)).to.equal(0);
    expect(stabilizationDelayMs('2026-01-01T00:00:59Z', 0, t)).to.equal(0);
    // The window never defers past the start deadline counted from the first signal.
    const first = Date.parse('2026-01-01T00:00:50Z');
    expect(stabilizationDelayMs('2026-01-01T00:00:30Z', 60, t, { firstSignalMs: first, withinMs: 25_000 })).to.equal(15_000);
    expect(stabilizationDelayMs('2026-01-01T00:00:30Z', 60, t, { firstSignalMs: first - 30_000, withinMs: 25_000 })).to.equal(0);
    expect(stabilizationDelayMs('2026-01-01T00:00:58Z', 3, t, { firstSignalMs: first, withinMs: 25_000 })).to.equal(1_000);
  });
});
