/**
 * Replays OptimizationPolicy workflow histories recorded from real integration runs
 * (test/integration/rightsizing/cycles.test.ts with RECORD_REPLAY_HISTORIES=1) against the current
 * workflow code: a change that makes the policy workflow non-deterministic for runs in flight
 * fails here. `policy-recommend-then-disabled` was recorded before PATCH_APPLY (applications as
 * workflow steps, issue #15): it has no applications and no patch marker, and must still replay.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleQuietly, loadHistory } from '../history';
import { PATCH_APPLY } from '../../../workflows/rightsizing/policy';

const HISTORIES = path.resolve(__dirname, 'histories');
const FILES = fs
  .readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('OptimizationPolicy workflow: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/rightsizing/policy.ts'));
  });

  it('has the history from before applications: cycles, signals and Disabled, no patch marker', () => {
    expect(FILES).to.include('policy-recommend-then-disabled.json');
    const text = fs.readFileSync(path.join(HISTORIES, 'policy-recommend-then-disabled.json'), 'utf8');
    expect(text).to.include('runRightsizingCycle').and.include('policyChanged');
    const marker = Buffer.from(JSON.stringify({ id: PATCH_APPLY, deprecated: false })).toString('base64');
    expect(text).to.not.include(marker);
    expect(text).to.not.include('applyInPlace');
  });

  it('has a history from after the patch: the marker, an in-place application and its record', () => {
    expect(FILES).to.include('policy-auto-in-place.json');
    const text = fs.readFileSync(path.join(HISTORIES, 'policy-auto-in-place.json'), 'utf8');
    const marker = Buffer.from(JSON.stringify({ id: PATCH_APPLY, deprecated: false })).toString('base64');
    expect(text).to.include(marker).and.include('applyInPlace').and.include('recordApplications');
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically against the current bundle`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(HISTORIES, f)), `replay-${f}`);
    });
  }
});
