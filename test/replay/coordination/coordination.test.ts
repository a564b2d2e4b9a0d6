/**
 * Replays coordination workflow histories recorded from a real integration run
 * (test/integration/coordination/breaker.test.ts with RECORD_REPLAY_HISTORIES=1) against the
 * current workflow code: a change that makes the coordination or hub workflow non-deterministic
 * for runs in flight fails here (it then needs `patched()`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleQuietly, loadHistory } from '../history';

const HISTORIES = path.resolve(__dirname, 'histories');
const FILES = fs.existsSync(HISTORIES)
  ? fs
      .readdirSync(HISTORIES)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

describe('coordination workflows: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/index.ts'));
  });

  it('has an object history with a node-churn trip, the cooldown, and an operator trip and reset; and a hub history forwarding node events', () => {
    expect(FILES).to.include.members(['coordination-churn-trip-cooldown-operator.json', 'hub-churn-forwarding.json']);
    const obj = fs.readFileSync(path.join(HISTORIES, 'coordination-churn-trip-cooldown-operator.json'), 'utf8');
    expect(obj).to.include('pauseVpa').and.include('resumeVpa').and.include('recordCoordination').and.include('"trip"').and.include('"reset"');
    const hub = fs.readFileSync(path.join(HISTORIES, 'hub-churn-forwarding.json'), 'utf8');
    expect(hub).to.include('hubNapEvents').and.include('objectReport').and.include('napEvents');
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically against the current bundle`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, loadHistory(path.join(HISTORIES, f)), `replay-${f}`);
    });
  }
});
