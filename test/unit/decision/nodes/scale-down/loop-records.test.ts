/**
 * Pure helpers of the scale-down loop (workflows/nodes/scale-down/loop.ts) and its condition writer
 * (activities/nodes/scale-down.ts): which removals become child workflows, which Events are re-sent,
 * which groups get a Scaling condition, and how the condition merges with the NodeGroup's own.
 */
import { expect } from 'chai';
import {
  changedEvents,
  conditionsToWrite,
  mergeScalingCondition,
  removalsOf,
  SCALE_DOWN_CONDITION_PREFIX,
} from '../../../../../decision/nodes/scale-down/loop-records';
import { decideScaleDown } from '../../../../../decision/nodes/scale-down';
import type { NodeGroupCondition } from '../../../../../lib/crds/autoscaler';
import { group, input, node, offering, pod } from './fixtures';

const T0 = '2025-06-04T11:00:00.000Z';
const NOW = '2025-06-04T12:00:00.000Z';

function cond(status: 'True' | 'False', reason: NodeGroupCondition['reason'], message: string): NodeGroupCondition {
  return { type: 'Scaling', status, reason, message, lastTransitionTime: T0, observedGeneration: 1 };
}

describe('scale-down loop helpers', () => {
  it('removalsOf: one child per deleted node, one per consolidation with all its nodes and replacements', () => {
    // Two idle nodes, budget 2: two 'delete' removals.
    const idle = decideScaleDown(
      input(
        [node('a', []), node('b', []), node('c', [pod('x', { requests: { cpuMilli: 2500, memoryBytes: 1 << 30, pods: 1, ephemeralStorageBytes: 0 } })])],
        [group('g', 3, {}, { disruptionBudget: { maxUnavailable: 2 } })],
      ),
    );
    const r = removalsOf(idle);
    expect(r.map((x) => [x.kind, x.nodes.map((n) => n.node)])).to.deep.equal([
      ['delete', ['a']],
      ['delete', ['b']],
    ]);
    expect(r[0]?.nodes[0]?.vpsieNode).to.equal('vn-a');
    // Consolidation: two 4-cpu nodes at 55% replaced by one 8-cpu node (cheaper).
    const busy = (n: string) =>
      node(n, [pod(`${n}-p`, { requests: { cpuMilli: 2200, memoryBytes: 1 << 30, pods: 1, ephemeralStorageBytes: 0 } })], { offeringId: 'm4' });
    const g = group(
      'g',
      2,
      { offerings: [offering('m4', 4000, 8, 30), offering('l8', 8000, 16, 45)] },
      { consolidation: { enabled: true, savingsThresholdPercent: 10 }, disruptionBudget: { maxUnavailable: 2 } },
    );
    const d = decideScaleDown(input([busy('a'), busy('b')], [g]));
    const c = removalsOf(d);
    expect(c).to.have.length(1);
    expect(c[0]?.kind).to.equal('consolidate');
    expect(c[0]?.nodes.map((n) => n.node)).to.deep.equal(['a', 'b']);
    expect(c[0]?.replacements?.map((x) => x.offeringId)).to.deep.equal(['l8']);
  });

  it('changedEvents: an Event per candidate when its reason changes, not on every decision', () => {
    const blocked = decideScaleDown(
      input(
        [
          node('a', [pod('bare', { ownerKind: undefined })]),
          node('b', [pod('big', { requests: { cpuMilli: 3000, memoryBytes: 1 << 30, pods: 1, ephemeralStorageBytes: 0 } })]),
        ],
        [group('g', 2)],
      ),
    );
    const first = changedEvents(blocked, {});
    expect(first.events.map((e) => [e.node, e.reason])).to.deep.equal([['a', 'UnreplicatedPod']]);
    const again = changedEvents(blocked, first.keys);
    expect(again.events, 'same verdict: no new Event').to.deep.equal([]);
    // The node stops being a candidate, then becomes one again: a fresh Event.
    const busy = decideScaleDown(
      input([node('a', [pod('x', { requests: { cpuMilli: 3000, memoryBytes: 1 << 30, pods: 1, ephemeralStorageBytes: 0 } })])], [group('g', 1)]),
    );
    const gone = changedEvents(busy, again.keys);
    expect(gone.keys).to.deep.equal({});
    expect(changedEvents(blocked, gone.keys).events.map((e) => e.reason)).to.deep.equal(['UnreplicatedPod']);
  });

  it('conditionsToWrite: only groups the scale-down has something to say about', () => {
    const d = decideScaleDown(
      input(
        [
          node('a', [pod('bare', { ownerKind: undefined })]),
          node('q', [pod('big', { requests: { cpuMilli: 3000, memoryBytes: 1 << 30, pods: 1, ephemeralStorageBytes: 0 } })], { nodeGroup: 'quiet' }),
        ],
        [group('g', 1), group('quiet', 1)],
      ),
    );
    const c = conditionsToWrite(d);
    expect(c.map((x) => x.name)).to.deep.equal(['g']);
    expect(c[0]?.condition.reason).to.equal('NotScaling');
    expect(c[0]?.condition.message).to.include('a: UnreplicatedPod');
  });

  it('mergeScalingCondition: replaces only the Scaling condition, never the NodeGroup workflow’s active scaling, keeps transition times', () => {
    const others: NodeGroupCondition[] = [
      { type: 'Ready', status: 'True', reason: 'AllNodesReady', message: 'ok', lastTransitionTime: T0, observedGeneration: 1 },
    ];
    const mine = { type: 'Scaling' as const, status: 'False' as const, reason: 'NotScaling' as const, message: 'blocked candidates: a: LocalStorage' };
    // NodeGroup workflow scaling up: left alone.
    expect(mergeScalingCondition([...others, cond('True', 'ScalingUp', '1 nodes on their way to Ready')], mine, 1, NOW)).to.equal(undefined);
    // NodeGroup's NotScaling: replaced, same status keeps its time, other conditions untouched.
    const next = mergeScalingCondition([...others, cond('False', 'NotScaling', 'stable at 2 nodes')], mine, 1, NOW) as NodeGroupCondition[];
    expect(next.find((c) => c.type === 'Ready')).to.deep.equal(others[0]);
    const s = next.find((c) => c.type === 'Scaling');
    expect(s?.message).to.equal(`${SCALE_DOWN_CONDITION_PREFIX}blocked candidates: a: LocalStorage`);
    expect(s?.lastTransitionTime).to.equal(T0);
    // Identical: nothing to write.
    expect(mergeScalingCondition(next, mine, 1, NOW)).to.equal(undefined);
    // Its own ScalingDown (True) may be replaced by a later NotScaling, with a new transition time.
    const own = cond('True', 'ScalingDown', `${SCALE_DOWN_CONDITION_PREFIX}removing a (delete)`);
    const after = mergeScalingCondition([own], mine, 1, NOW) as NodeGroupCondition[];
    expect(after[0]?.reason).to.equal('NotScaling');
    expect(after[0]?.lastTransitionTime).to.equal(NOW);
  });
});
