/**
 * Replays scale-up histories recorded from the sandbox tests (test/integration/nodes/scale-up, run with
 * RECORD_REPLAY_HISTORIES=1) against the current code: a run that placed pods in the spare room of
 * a node in flight and held them there (the `scale-up-hold-in-flight-room` patch).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleQuietly, loadHistory, recordedWorkflowId } from '../history';

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

  for (const f of FILES) {
    it(`replays ${f} deterministically`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(DIR, f)), workflowIdOf(f));
    });
  }
});
