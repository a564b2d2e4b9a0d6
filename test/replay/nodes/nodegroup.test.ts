/**
 * Replays NodeGroup workflow histories recorded from real integration runs
 * (test/integration/nodes/nodegroup, run with RECORD_REPLAY_HISTORIES=1) against the current workflow
 * code: a change that makes the NodeGroup workflow non-deterministic for runs in flight fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleQuietly, loadHistory } from '../history';
import { PATCH_ANSWER_WHEN_CREATED } from '../../../workflows/nodes/nodegroup/work';
import { PATCH_APPLY_NODE_CONFIG } from '../../../workflows/nodes/nodegroup/sync';

const HISTORIES = path.resolve(__dirname, 'histories');
const FILES = fs
  .readdirSync(HISTORIES)
  .filter((f) => f.startsWith('nodegroup-') && f.endsWith('.json'))
  .sort();

describe('NodeGroup workflow: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/nodes/nodegroup/workflow.ts'));
  });

  it('has the recorded paths (spec changes and deletion; concurrent scale-up updates)', () => {
    expect(FILES).to.include.members(['nodegroup-spec-changes-and-deletion.json', 'nodegroup-concurrent-scale-up.json']);
  });

  it('the recorded histories exercise updates, phase signals and completion', () => {
    const spec = fs.readFileSync(path.join(HISTORIES, 'nodegroup-spec-changes-and-deletion.json'), 'utf8');
    expect(spec).to.include('nodeGroupNodePhase');
    expect(spec).to.include('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const conc = fs.readFileSync(path.join(HISTORIES, 'nodegroup-concurrent-scale-up.json'), 'utf8');
    expect(conc).to.include('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
  });

  it('replays histories of runs from before the patches (a sync signal taken as deletion, a fresh run from zero)', () => {
    // Recorded with the code before PATCH_SIGNALS_ARE_HINTS and PATCH_FRESH_RUN_FROM_CLUSTER
    // (test/integration/nodes/nodegroup/signals-and-restarts.test.ts, RECORD_REPLAY_HISTORIES=1).
    expect(FILES).to.include.members(['nodegroup-prepatch-deleting-signal.json', 'nodegroup-prepatch-fresh-run-removes-ready.json']);
    for (const f of ['nodegroup-prepatch-deleting-signal.json', 'nodegroup-prepatch-fresh-run-removes-ready.json']) {
      const text = fs.readFileSync(path.join(HISTORIES, f), 'utf8');
      // The old behaviour each patch changes: Ready nodes deleted.
      expect(text, f).to.include('deleteVPSieNodes');
      expect(text, f).to.not.include('nodegroup-fresh-run-from-cluster');
    }
  });

  it('replays histories of the patched code too (a deleting signal ignored, a fresh run from the cluster)', () => {
    expect(FILES).to.include.members(['nodegroup-deleting-signal-ignored.json', 'nodegroup-fresh-run-from-cluster.json']);
    for (const f of ['nodegroup-deleting-signal-ignored.json', 'nodegroup-fresh-run-from-cluster.json'])
      expect(fs.readFileSync(path.join(HISTORIES, f), 'utf8'), f)
        .to.include('EVENT_TYPE_MARKER_RECORDED')
        .and.not.include('deleteVPSieNodes');
  });

  it('the scale-up answer when its VPSieNodes exist (#13): recorded after the patch, and a run from before it replays too', () => {
    const after = fs.readFileSync(path.join(HISTORIES, 'nodegroup-concurrent-scale-up.json'), 'utf8');
    const before = fs.readFileSync(path.join(HISTORIES, 'nodegroup-prepatch-answer-after-count.json'), 'utf8');
    const marker = Buffer.from(JSON.stringify({ id: PATCH_ANSWER_WHEN_CREATED, deprecated: false })).toString('base64');
    expect(after).to.include(marker);
    expect(before).to.not.include(marker);
    for (const text of [after, before]) expect(text).to.include('countScaleOperation').and.include('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED');
  });

  it('labels and taints applied to existing Nodes (#17): recorded with the nodegroup-applies-node-config patch, and a run from before it replays too', () => {
    // test/integration/nodes/nodegroup/node-config.test.ts with RECORD_REPLAY_HISTORIES=1: label and taint changes applied to the group's Nodes.
    const f = 'nodegroup-node-config-applied.json';
    expect(FILES).to.include(f);
    const after = fs.readFileSync(path.join(HISTORIES, f), 'utf8');
    const before = fs.readFileSync(path.join(HISTORIES, 'nodegroup-concurrent-scale-up.json'), 'utf8');
    const marker = Buffer.from(JSON.stringify({ id: PATCH_APPLY_NODE_CONFIG, deprecated: false })).toString('base64');
    expect(after).to.include(marker);
    // The patched code ran: the activity that applies the spec to the Nodes is in the history.
    expect(after).to.include('"applyNodeGroupNodeConfig"');
    expect(before).to.not.include(marker);
    expect(before).to.not.include('applyNodeGroupNodeConfig');
    // Both replay below (the loop over every nodegroup-*.json history).
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically against the current bundle`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(HISTORIES, f)), `replay-${f}`);
    });
  }

  it('a non-deterministic change (a timer before the first activity) fails the replay', async () => {
    const changed = await bundleQuietly(path.resolve(__dirname, 'fixtures/nondeterministic-nodegroup.ts'));
    let error: unknown;
    try {
      await Worker.runReplayHistory(
        { workflowBundle: changed, replayName: 'changed' },
        loadHistory(path.join(HISTORIES, 'nodegroup-spec-changes-and-deletion.json')),
        'replay-changed',
      );
    } catch (e) {
      error = e;
    }
    expect(error, 'replay of a changed workflow must fail').to.be.instanceOf(Error);
    expect(String(error)).to.match(/[Nn]ondetermin|DeterminismViolation|TMPRL1100/);
  });
});
