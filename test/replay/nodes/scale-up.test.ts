/**
 * Replays scale-up histories recorded from the sandbox tests (test/integration/nodes/scale-up, run with
 * RECORD_REPLAY_HISTORIES=1) against the current code: a run that placed pods in the spare room of
 * a node in flight and held them there (the `scale-up-hold-in-flight-room` patch), before and after
 * follow-up scale-ups stopped being deferred (the `scale-up-follow-ups-not-deferred` patch), and
 * after the plan moved into the `scaleUpPlan` activity (the `scale-up-plans-in-activity` patch).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleQuietly, loadHistory, recordedWorkflowId } from '../history';
import { PATCH_SEARCH_ATTRIBUTES } from '../../../workflows/nodes/scale-up';

const DIR = path.resolve(__dirname, 'histories-scaleup');
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const workflowIdOf = (file: string): string => recordedWorkflowId(DIR, file);

describe('scale-up: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/index.ts'));
  });

  it('has the recorded path: pods held in the room of a node in flight, behind its patch marker', () => {
    expect(FILES).to.include('scaleup-holds-in-flight-room.json');
    const h = fs.readFileSync(path.join(DIR, 'scaleup-holds-in-flight-room.json'), 'utf8');
    expect(h).to.include('scaleUpSnapshot');
    expect(h).to.include('holdPodsOnInFlightNodes');
    expect(h).to.include('EVENT_TYPE_MARKER_RECORDED');
    expect(h).to.include(Buffer.from(JSON.stringify('scale-up-hold-in-flight-room')).toString('base64'));
    expect(h).to.include('recordScaleUpOutcome');
  });

  /** The patch ids of a recorded history's core_patch markers. */
  const patchesOf = (file: string): string[] => {
    const h = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as {
      events: { markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> } }[];
    };
    return h.events.flatMap((e) => {
      const m = e.markerRecordedEventAttributes;
      if (m?.markerName !== 'core_patch') return [];
      const data = m.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? [(JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id] : [];
    });
  };

  it('has a run recorded after the scale-up-follow-ups-not-deferred patch (its marker), and one from before it (none)', () => {
    expect(FILES).to.include('scaleup-holds-in-flight-room-no-deferral.json');
    expect(patchesOf('scaleup-holds-in-flight-room-no-deferral.json')).to.include.members(['scale-up-follow-ups-not-deferred', 'scale-up-hold-in-flight-room']);
    expect(patchesOf('scaleup-holds-in-flight-room.json')).to.include('scale-up-hold-in-flight-room');
    expect(patchesOf('scaleup-holds-in-flight-room.json')).to.not.include('scale-up-follow-ups-not-deferred');
  });

  it('has a run recorded after the scale-up-plans-in-activity patch: planned by the scaleUpPlan activity, no snapshot in its history', () => {
    const f = 'scaleup-holds-in-flight-room-plans-in-activity.json';
    expect(FILES).to.include(f);
    expect(patchesOf(f)).to.include.members(['scale-up-plans-in-activity', 'scale-up-follow-ups-not-deferred', 'scale-up-hold-in-flight-room']);
    const h = fs.readFileSync(path.join(DIR, f), 'utf8');
    expect(h).to.include('scaleUpPlan');
    expect(h).to.not.include('"scaleUpSnapshot"');
    expect(patchesOf('scaleup-holds-in-flight-room-no-deferral.json')).to.not.include('scale-up-plans-in-activity');
  });

  /** The search attributes a recorded history upserted (TemporalChangeVersion, the patch bookkeeping, left out). */
  const upsertsOf = (file: string): Record<string, unknown>[] => {
    const h = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as {
      events: { upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes?: { indexedFields?: Record<string, { data?: string }> } } }[];
    };
    return h.events.flatMap((e) => {
      const f = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
      const out = Object.fromEntries(
        Object.entries(f)
          .filter(([k, v]) => k !== 'TemporalChangeVersion' && v.data !== undefined)
          .map(([k, v]) => [k, JSON.parse(Buffer.from(v.data ?? '', 'base64').toString('utf8')) as unknown]),
      );
      return Object.keys(out).length > 0 ? [out] : [];
    });
  };

  it('has a run recorded after the scale-up-search-attributes patch: its outcome recorded, then DecisionReason and NodeGroup upserted; runs from before upsert none', () => {
    // test/integration/nodes/events.test.ts with RECORD_REPLAY_HISTORIES=1: a run that created a node for a pending pod.
    const f = 'scaleup-search-attributes.json';
    expect(FILES).to.include(f);
    expect(patchesOf(f)).to.include.members([PATCH_SEARCH_ATTRIBUTES, 'scale-up-plans-in-activity']);
    const h = fs.readFileSync(path.join(DIR, f), 'utf8');
    expect(h).to.include('recordScaleUpOutcome');
    expect(h).to.include('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const ups = upsertsOf(f);
    expect(ups).to.have.length(1);
    expect(ups[0]).to.have.property('DecisionReason', 'TriggeredScaleUp');
    expect(ups[0])
      .to.have.property('NodeGroup')
      .that.is.a('string')
      .and.matches(/^[^/]+\/[^/]+$/);
    for (const before of [
      'scaleup-holds-in-flight-room.json',
      'scaleup-holds-in-flight-room-no-deferral.json',
      'scaleup-holds-in-flight-room-plans-in-activity.json',
    ]) {
      expect(patchesOf(before), before).to.not.include(PATCH_SEARCH_ATTRIBUTES);
      expect(upsertsOf(before), before).to.deep.equal([]);
    }
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(DIR, f)), workflowIdOf(f));
    });
  }
});
