/**
 * Issue #12: the loop's tick decided in the activity (decideLoop) and the decision record it
 * returns — what the workflow history holds instead of the cluster.
 */
import { expect } from 'chai';
import { ANNOTATION_CORDONED_AT, ANNOTATION_CORDONED_BY } from '../../../../../decision/nodes/drain/annotations';
import { decisionRecord, MAX_BLOCKERS_PER_REASON } from '../../../../../decision/nodes/scale-down/decision-record';
import { decideLoop, observation, type LoopSnapshot } from '../../../../../decision/nodes/scale-down/loop-decision';
import { changedEvents, removalsOf } from '../../../../../decision/nodes/scale-down/loop-records';
import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import { metricSamples, nodeEvents } from '../../../../../decision/nodes/scale-down/records';
import { nodeSample, windowViews } from '../../../../../decision/nodes/scale-down/utilization';
import { group, input, node, NOW, pod, steadyTracker } from './fixtures';

describe('scale-down decision record (issue #12)', () => {
  it('keeps at most two blockers per reason and counts the rest, so Events, keys and metrics read the same', () => {
    const bare = Array.from({ length: 12 }, (_, i) =>
      pod(`bare-${i}`, { ownerKind: undefined, requests: { cpuMilli: 10, memoryBytes: 1, pods: 1, ephemeralStorageBytes: 0 } }),
    );
    const n1 = node('n1', [...bare, pod('late-1', { annotations: { 'karpenter.sh/do-not-disrupt': 'true' } })]);
    const n2 = node('n2', [pod('web-1')], { cpu: 4000 });
    const busy = node(
      'busy',
      Array.from({ length: 30 }, (_, i) => pod(`busy-${i}`)),
    );
    const d = decideScaleDown(input([n1, n2, busy], [group('g', 3)]));
    const v = d.nodes.find((x) => x.node === 'n1');
    expect(v?.blockers.filter((b) => b.reason === 'UnreplicatedPod')).to.have.length(12);
    const r = decisionRecord(d);
    const rv = r.nodes.find((x) => x.node === 'n1');
    expect(rv?.blockers.filter((b) => b.reason === 'UnreplicatedPod')).to.have.length(MAX_BLOCKERS_PER_REASON);
    expect(rv?.omittedBlockers).to.equal(10);
    expect(nodeEvents(r)).to.deep.equal(nodeEvents(d));
    expect(changedEvents(r, {})).to.deep.equal(changedEvents(d, {}));
    expect(metricSamples(r)).to.deep.equal(metricSamples(d));
    expect(removalsOf(r)).to.deep.equal(removalsOf(d));
    // A node that is no candidate is left out of the record, counted in stats.
    expect(d.nodes.map((x) => x.node)).to.include('busy');
    expect(r.nodes.map((x) => x.node)).to.not.include('busy');
    expect(r.stats).to.deep.equal(d.stats);
  });
});

describe('scale-down loop decided in the activity (issue #12)', () => {
  const mark = { [ANNOTATION_CORDONED_BY]: 'old-removal', [ANNOTATION_CORDONED_AT]: new Date(NOW - 3600_000).toISOString() };
  function snapshot(): LoopSnapshot {
    const nodes = [
      node('a', [pod('a-1')]),
      node('stray', [pod('s-1')], { annotations: mark }),
      node('inflight', [pod('i-1')], { annotations: mark }),
      node('other-scope', [pod('o-1')], { annotations: mark, nodeGroup: 'elsewhere' }),
    ].map((n) => ({ ...n, node: { ...n.node, ...(n.annotations ? { unschedulable: true } : {}) } }));
    return { nodes, pdbs: [], groups: [group('g', 4)], inFlightRemovals: [], samples: nodes.map((n) => nodeSample(n.node.name, n.node.allocatable, n.pods)) };
  }

  it('decides as the workflow did: the views of the tracker stand for the tracker, its in-flight removals and failed drains count', () => {
    const snap = snapshot();
    const tracker = steadyTracker(snap.nodes, NOW);
    const obs = observation(snap);
    expect(obs.windows).to.deep.equal([600]);
    const inFlight = [{ nodeGroup: 'g', nodeName: 'inflight', vpsieNode: 'vn-inflight' }];
    const res = decideLoop(snap, { now: NOW, views: windowViews(tracker, obs.windows, NOW), failedDrainAt: {}, inFlight });
    const direct = decideScaleDown({ ...input(snap.nodes, snap.groups), utilization: tracker, inFlightRemovals: inFlight });
    expect(res.decision).to.deep.equal(decisionRecord(direct));
    expect(res.namespaces).to.deep.equal({ g: 'kube-system' });
    const cooled = decideLoop(snap, { now: NOW, views: windowViews(tracker, obs.windows, NOW), failedDrainAt: { 'kube-system/g': NOW - 1000 }, inFlight });
    expect(cooled.decision.removals).to.deep.equal([]);
    expect(cooled.decision.groups[0]?.blockers.map((b) => b.reason)).to.include('FailedDrainCooldown');
  });

  it('finds the stray cordons of its own groups only, never one a removal in flight accounts for', () => {
    const snap = snapshot();
    const tracker = steadyTracker(snap.nodes, NOW);
    const res = decideLoop(snap, {
      now: NOW,
      views: windowViews(tracker, [600], NOW),
      failedDrainAt: {},
      inFlight: [{ nodeGroup: 'g', nodeName: 'inflight' }],
    });
    expect(res.strayCordons.map((s) => s.node)).to.deep.equal(['stray']);
    expect(res.strayCordons[0]?.cordonedBy).to.equal('old-removal');
  });
});
