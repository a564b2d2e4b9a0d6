/**
 * Replays scale-down histories recorded from the sandbox tests (test/integration/nodes/scale-down, run
 * with RECORD_REPLAY_HISTORIES=1) against the current code: the loop (snapshots, decisions, a
 * removal child), a 'delete' removal, a consolidation removal (replacement scale-up, wait Ready,
 * drains, NodeGroup update) and a removal whose drain a PDB blocked.
 *
 * Issue #12 put the loop, the removal and the drain behind patches (the loop decides in an
 * activity, the removal and the drain uncordon on any failure, the drain re-checks safety and
 * evicts in one activity): the `*-pre-issue-12` histories, recorded before, replay the old branches;
 * the others, recorded after, replay the patched ones (their patch markers are checked here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { PATCH_DRAIN_SEARCH_ATTRIBUTES, PATCH_DRAIN_V2 } from '../../../workflows/nodes/drain';
import { PATCH_DECIDE_IN_ACTIVITY, PATCH_OBSERVABILITY, PATCH_REMOVAL_UNCORDON } from '../../../workflows/nodes/scale-down/loop';
import { bundleQuietly, loadHistory, recordedWorkflowId, type History } from '../history';

const DIR = path.resolve(__dirname, 'histories-scaledown');
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const workflowIdOf = (file: string): string => recordedWorkflowId(DIR, file);

/** Ids of the patch markers of a history, in order. */
function patchesOf(h: History): string[] {
  const out: string[] = [];
  for (const e of h.events ?? []) {
    const details = e.markerRecordedEventAttributes?.details;
    const data = details?.['patch-data']?.payloads?.[0]?.data;
    if (data) out.push((JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id);
  }
  return out;
}

type Payload = { data?: Uint8Array | null } | null | undefined;
const decoded = (p: Payload): unknown => (p?.data ? JSON.parse(Buffer.from(p.data).toString('utf8')) : undefined);
const fieldsOf = (f: Record<string, Payload> | null | undefined): Record<string, unknown> =>
  Object.fromEntries(Object.entries(f ?? {}).map(([k, v]) => [k, decoded(v)]));

/** The removal children a loop history started: their typed search attributes and their input. */
function removalStartsOf(h: History): { searchAttributes: Record<string, unknown>; input: { decision?: { reason: string } } }[] {
  return (h.events ?? []).flatMap((e) => {
    const a = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (a?.workflowType?.name !== 'scaleDownRemovalWorkflow') return [];
    return [{ searchAttributes: fieldsOf(a.searchAttributes?.indexedFields), input: decoded(a.input?.payloads?.[0]) as { decision?: { reason: string } } }];
  });
}

/** The search attributes a history upserted (TemporalChangeVersion, the patch bookkeeping, left out). */
function upsertsOf(h: History): Record<string, unknown>[] {
  return (h.events ?? []).flatMap((e) => {
    const f = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (!f) return [];
    const { TemporalChangeVersion: _v, ...rest } = fieldsOf(f);
    return Object.keys(rest).length > 0 ? [rest] : [];
  });
}

function activitiesOf(h: History): string[] {
  return (h.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((n): n is string => typeof n === 'string');
}

describe('scale-down: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/index.ts'));
  });

  it('has the recorded paths', () => {
    expect(FILES).to.include.members([
      'scaledown-loop-idle-shrinks-pre-issue-12.json',
      'scaledown-removal-delete-pre-issue-12.json',
      'scaledown-removal-consolidation.json',
      'scaledown-removal-pdb-drain-failed-pre-issue-12.json',
      'scaledown-removal-cancelled-uncordons.json',
      'drain-v2-cancelled-uncordons.json',
      'scaledown-loop-idle-shrinks.json',
      'scaledown-removal-delete.json',
      'scaledown-removal-pdb-drain-failed.json',
    ]);
    // After issue #12 the loop records observations and decisions, never the cluster snapshot.
    const after = activitiesOf(loadHistory(path.join(DIR, 'scaledown-loop-idle-shrinks.json')));
    expect(after).to.include.members(['scaleDownObserve', 'scaleDownDecide', 'recordScaleDownDecision']);
    expect(after).to.not.include('scaleDownSnapshot');
    expect(activitiesOf(loadHistory(path.join(DIR, 'scaledown-loop-idle-shrinks-pre-issue-12.json')))).to.include('scaleDownSnapshot');
    const loop = fs.readFileSync(path.join(DIR, 'scaledown-loop-idle-shrinks-pre-issue-12.json'), 'utf8');
    expect(loop).to.include('scaleDownRemovalWorkflow');
    expect(loop).to.include('recordScaleDownDecision');
    const cons = fs.readFileSync(path.join(DIR, 'scaledown-removal-consolidation.json'), 'utf8');
    expect(cons).to.include('requestReplacementNodes');
    expect(cons).to.include('drainNodeWorkflow');
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(DIR, f)), workflowIdOf(f));
    });
  }

  it('the histories recorded before issue #12 have no patch marker; those after carry the patch they replay', () => {
    for (const f of FILES.filter((x) => x.includes('-pre-issue-12'))) expect(patchesOf(loadHistory(path.join(DIR, f))), f).to.deep.equal([]);
    expect(patchesOf(loadHistory(path.join(DIR, 'scaledown-removal-cancelled-uncordons.json')))).to.deep.equal([PATCH_REMOVAL_UNCORDON]);
    const drain = loadHistory(path.join(DIR, 'drain-v2-cancelled-uncordons.json'));
    expect(patchesOf(drain)).to.deep.equal([PATCH_DRAIN_V2]);
    expect(activitiesOf(drain)).to.deep.equal(['cordonNode', 'planDrain', 'evictPods', 'uncordonNode']);
    for (const f of ['scaledown-loop-idle-shrinks.json', 'scaledown-removal-delete.json', 'scaledown-removal-pdb-drain-failed.json']) {
      const h = loadHistory(path.join(DIR, f));
      const want = f.startsWith('scaledown-loop') ? PATCH_DECIDE_IN_ACTIVITY : PATCH_REMOVAL_UNCORDON;
      expect(patchesOf(h), f).to.include(want);
    }
  });

  it('issue #17 observability: the loop, removal and drain recorded with their patches carry them; those from before do not (each replays above)', () => {
    // test/integration/nodes/events.test.ts with RECORD_REPLAY_HISTORIES=1: a loop iteration that started a
    // removal (scale-down-loop-observability), that removal, and its drain that finished (drain-search-attributes).
    expect(FILES).to.include.members(['scaledown-loop-observability.json', 'scaledown-removal-observability.json', 'drain-search-attributes.json']);

    const loop = loadHistory(path.join(DIR, 'scaledown-loop-observability.json'));
    expect(patchesOf(loop)).to.include.members([PATCH_DECIDE_IN_ACTIVITY, PATCH_OBSERVABILITY]);
    const starts = removalStartsOf(loop);
    expect(starts, 'the iteration started a removal').to.have.length.greaterThan(0);
    for (const st of starts) {
      expect(st.searchAttributes.DecisionReason).to.equal('Underutilized');
      expect(st.searchAttributes.NodeGroup)
        .to.be.a('string')
        .and.match(/^[^/]+\/[^/]+$/);
      expect(st.input.decision?.reason, 'the decision handed to the removal').to.equal('Underutilized');
    }
    expect(upsertsOf(loop).map((u) => u.DecisionReason)).to.include('Underutilized');
    const loopBefore = loadHistory(path.join(DIR, 'scaledown-loop-idle-shrinks.json'));
    expect(patchesOf(loopBefore)).to.include(PATCH_DECIDE_IN_ACTIVITY).and.not.include(PATCH_OBSERVABILITY);
    const startsBefore = removalStartsOf(loopBefore);
    expect(startsBefore).to.have.length.greaterThan(0);
    for (const st of startsBefore) {
      expect(st.searchAttributes).to.deep.equal({});
      expect(st.input.decision).to.equal(undefined);
    }
    expect(upsertsOf(loopBefore)).to.deep.equal([]);

    // The removal: started with the typed search attributes, carrying the decision to recordRemovalOutcome.
    const removal = loadHistory(path.join(DIR, 'scaledown-removal-observability.json'));
    const started = removal.events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(fieldsOf(started?.searchAttributes?.indexedFields)).to.include({ DecisionReason: 'Underutilized' });
    expect((decoded(started?.input?.payloads?.[0]) as { decision?: { reason: string } }).decision?.reason).to.equal('Underutilized');
    expect(activitiesOf(removal)).to.include('recordRemovalOutcome');
    expect((removal.events ?? []).some((e) => e.childWorkflowExecutionCompletedEventAttributes)).to.equal(true);
    const removalBefore = loadHistory(path.join(DIR, 'scaledown-removal-delete.json'));
    const startedBefore = removalBefore.events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(fieldsOf(startedBefore?.searchAttributes?.indexedFields)).to.not.have.property('DecisionReason');
    expect((decoded(startedBefore?.input?.payloads?.[0]) as { decision?: unknown }).decision).to.equal(undefined);

    // The drain that finished: its outcome and VPSieNode upserted behind its patch.
    const drain = loadHistory(path.join(DIR, 'drain-search-attributes.json'));
    expect(patchesOf(drain)).to.deep.equal([PATCH_DRAIN_V2, PATCH_DRAIN_SEARCH_ATTRIBUTES]);
    expect(activitiesOf(drain)).to.include.members(['cordonNode', 'planDrain', 'recordDrain']);
    expect(upsertsOf(drain)).to.have.length(1);
    expect(upsertsOf(drain)[0]).to.have.property('DecisionReason', 'DrainComplete');
    expect(upsertsOf(drain)[0]).to.have.property('VPSieNode').that.is.a('string');
    expect((drain.events ?? []).some((e) => e.workflowExecutionCompletedEventAttributes)).to.equal(true);
    const drainBefore = loadHistory(path.join(DIR, 'drain-v2-cancelled-uncordons.json'));
    expect(patchesOf(drainBefore)).to.not.include(PATCH_DRAIN_SEARCH_ATTRIBUTES);
    expect(upsertsOf(drainBefore)).to.deep.equal([]);
  });

  it('a non-deterministic change of the loop (a timer first) fails the replay', async () => {
    const changed = await bundleQuietly(path.resolve(__dirname, 'fixtures/nondeterministic-scaledown.ts'));
    let error: unknown;
    try {
      await Worker.runReplayHistory(
        { workflowBundle: changed },
        loadHistory(path.join(DIR, 'scaledown-loop-idle-shrinks-pre-issue-12.json')),
        workflowIdOf('scaledown-loop-idle-shrinks-pre-issue-12.json'),
      );
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(DeterminismViolationError);
  });
});
