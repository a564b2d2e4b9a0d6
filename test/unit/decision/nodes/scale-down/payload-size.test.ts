/**
 * Issue #12: the scale-down loop recorded the whole cluster (every Node and Pod with every
 * annotation) in its workflow history on every tick; a large cluster passed Temporal's 2 MB
 * payload limit and scale-down stopped for good. Now the activity decides where it read the
 * cluster and the history holds only what crosses the workflow/activity boundary: the samples,
 * the window views, the decision record. These tests size exactly those payloads for a generated
 * cluster of 1,000 nodes and 30,000 pods with realistic metadata, and check that deciding from the
 * slim snapshot and the views gives the decision the workflow used to compute from the full snapshot
 * and the tracker.
 */
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import { decisionRecord } from '../../../../../decision/nodes/scale-down/decision-record';
import { pdbFromK8s, scaleDownNodesFromK8s } from '../../../../../decision/nodes/scale-down/from-k8s';
import { decideLoop, observation, type LoopSnapshot } from '../../../../../decision/nodes/scale-down/loop-decision';
import { changedEvents, conditionsToWrite, removalsOf } from '../../../../../decision/nodes/scale-down/loop-records';
import { metricSamples } from '../../../../../decision/nodes/scale-down/records';
import { createTracker, observe, windowViews, type UtilizationTracker } from '../../../../../decision/nodes/scale-down/utilization';
import type { ScaleDownNode } from '../../../../../decision/nodes/scale-down/types';
import { NOW } from './fixtures';
import { largeCluster } from './large-cluster';

const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;
/** "Well under" the limit: a quarter of it. */
const BUDGET = TEMPORAL_PAYLOAD_LIMIT / 4;

function bytes(x: unknown): number {
  return Buffer.byteLength(JSON.stringify(x), 'utf8');
}

describe('scale-down payloads of a 1,000-node / 30,000-pod cluster (issue #12)', function () {
  this.timeout(300_000);
  const cluster = largeCluster(1000, 30);
  let full: { nodes: ScaleDownNode[] };
  let snap: LoopSnapshot;
  let tracker: UtilizationTracker;
  let fromFull: ReturnType<typeof decideScaleDown>;
  let result: ReturnType<typeof decideLoop>;
  let request: { scope: string; now: number; views: ReturnType<typeof windowViews>; failedDrainAt: Record<string, number>; inFlight: [] };

  before(() => {
    const pdbs = cluster.pdbs.map(pdbFromK8s);
    full = scaleDownNodesFromK8s(cluster.nodes, cluster.pods, (n) => ({ vpsieNode: `vn-${n}` }), { full: true });
    const slim = scaleDownNodesFromK8s(cluster.nodes, cluster.pods, (n) => ({ vpsieNode: `vn-${n}` }));
    snap = { nodes: slim.nodes, pdbs, groups: cluster.groups, inFlightRemovals: [], samples: slim.samples };
    // The workflow's tracker: the same samples every 60 s for 11 minutes (the 600 s window is covered).
    tracker = createTracker({ retentionSeconds: 3600 });
    for (let at = NOW - 660_000; at <= NOW; at += 60_000)
      tracker = observe(
        tracker,
        slim.samples,
        at,
        slim.samples.map((s) => s.node),
      );
    // Before: the workflow decided on the full snapshot with its tracker. Now: the activity decides
    // on the slim snapshot with the views the workflow sent.
    fromFull = decideScaleDown({ now: NOW, nodes: full.nodes, pdbs: snap.pdbs, groups: snap.groups, inFlightRemovals: [], utilization: tracker });
    request = { scope: '', now: NOW, views: windowViews(tracker, observation(snap).windows, NOW), failedDrainAt: {}, inFlight: [] };
    result = decideLoop(snap, request);
  });

  it('the generated cluster is large: its pods alone are tens of MB as the API returns them', () => {
    expect(cluster.nodes).to.have.length(1000);
    expect(cluster.pods).to.have.length(30_000);
    expect(bytes(cluster.pods.slice(0, 1000) as V1Pod[]) * 30).to.be.greaterThan(20 * TEMPORAL_PAYLOAD_LIMIT);
  });

  it('the snapshot the workflow used to record every tick is far past the 2 MB payload limit', () => {
    // What scaleDownSnapshot returned (the workflow's activity result) before the fix.
    expect(bytes({ nodes: full.nodes, pdbs: snap.pdbs, groups: snap.groups, inFlightRemovals: [], samples: snap.samples })).to.be.greaterThan(
      TEMPORAL_PAYLOAD_LIMIT,
    );
  });

  it('every payload the loop now records is well under the limit: observation, decide request, decision record', () => {
    const obs = observation(snap);
    const sizes = { observation: bytes(obs), request: bytes(request), decision: bytes(result) };
    console.log(`      payload bytes: ${JSON.stringify(sizes)}`);
    expect(sizes.observation, JSON.stringify(sizes)).to.be.lessThan(BUDGET);
    expect(sizes.request, JSON.stringify(sizes)).to.be.lessThan(BUDGET);
    expect(sizes.decision, JSON.stringify(sizes)).to.be.lessThan(BUDGET);
    // The decision is not empty: candidates, blockers and approvals are all in the record.
    expect(result.decision.stats.nodes).to.equal(1000);
    expect(result.decision.stats.candidates).to.be.greaterThan(30);
    expect(result.decision.stats.blocked).to.be.greaterThan(0);
    expect(result.decision.removals.length).to.be.greaterThan(0);
  });

  it('the decision from the slim snapshot and the window views equals the decision from the full snapshot and the tracker', () => {
    const record = result.decision;
    // The record is the full decision's record: nothing of the decision changed, only what is left out.
    expect(record).to.deep.equal(decisionRecord(fromFull));
    // Same candidates, outcomes and first reasons, same removals.
    const verdicts = (d: typeof fromFull) => d.nodes.filter((v) => v.candidate || v.outcome !== 'notCandidate').map((v) => [v.node, v.outcome, v.reason ?? '']);
    expect(verdicts(record)).to.deep.equal(verdicts(fromFull));
    expect(record.removals).to.deep.equal(fromFull.removals);
    expect(record.stats).to.deep.equal(fromFull.stats);
    // And everything the loop writes from the record is what it wrote from the full decision.
    expect(changedEvents(record, {})).to.deep.equal(changedEvents(fromFull, {}));
    expect(metricSamples(record)).to.deep.equal(metricSamples(fromFull));
    expect(conditionsToWrite(record)).to.deep.equal(conditionsToWrite(fromFull));
    expect(removalsOf(record)).to.deep.equal(removalsOf(fromFull));
  });
});
