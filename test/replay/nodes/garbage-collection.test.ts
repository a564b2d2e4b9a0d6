/**
 * Replays garbage-collection histories recorded from test/integration/nodes/garbage-collection
 * (run with RECORD_REPLAY_HISTORIES=1) against the current code. `pre12-*` were recorded with the
 * GC before #12 (its report had no cluster identity, duplicates, missing-once list or deletion
 * cap; it deleted three machines and ended a VPSieNode on its first scan): #12 only grew the
 * workflow's result, with the same activities in the same order, so those histories replay
 * without a patch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleQuietly, loadHistory, recordedWorkflowId } from '../history';

const DIR = path.resolve(__dirname, 'histories-gc');
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

/** The patch ids of a recorded history's markers. */
function patchIds(json: string): string[] {
  const events = (
    JSON.parse(json) as {
      events: { markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] } | undefined> } }[];
    }
  ).events;
  const out: string[] = [];
  for (const e of events) {
    const m = e.markerRecordedEventAttributes;
    const data = m?.details?.['patch-data']?.payloads?.[0]?.data;
    if (m?.markerName === 'core_patch' && data) out.push((JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id?: string }).id ?? '');
  }
  return out;
}

describe('garbage collection: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/index.ts'));
  });

  it('has the recorded paths, from before and after #12', () => {
    expect(FILES).to.include.members([
      'pre12-gc-two-clusters-a.json',
      'pre12-gc-vanished-first-scan.json',
      'gc-two-clusters-a.json',
      'gc-vanished-first-scan.json',
      'gc-vanished-second-scan.json',
    ]);
    const old = fs.readFileSync(path.join(DIR, 'pre12-gc-two-clusters-a.json'), 'utf8');
    expect(old.match(/gcDeleteLeakedVm/g)?.length).to.equal(3);
    expect(fs.readFileSync(path.join(DIR, 'pre12-gc-vanished-first-scan.json'), 'utf8')).to.include('gcMarkVanished');
    expect(fs.readFileSync(path.join(DIR, 'gc-vanished-second-scan.json'), 'utf8')).to.include('gcMarkVanished');
  });

  it('has a run recorded with the gc-decision-reason patch (its marker and the upsert) and the same path from before it (neither)', () => {
    const withPatch = fs.readFileSync(path.join(DIR, 'gc-orphan-node-deleted.json'), 'utf8');
    expect(patchIds(withPatch)).to.include('gc-decision-reason');
    expect(withPatch).to.include('UPSERT_WORKFLOW_SEARCH_ATTRIBUTES');
    const before = fs.readFileSync(path.join(DIR, 'pre17-gc-orphan-node-deleted.json'), 'utf8');
    expect(patchIds(before)).to.not.include('gc-decision-reason');
    expect(before).to.not.include('UPSERT_WORKFLOW_SEARCH_ATTRIBUTES');
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(DIR, f)), recordedWorkflowId(DIR, f));
    });
  }
});
