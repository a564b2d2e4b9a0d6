/**
 * Replays scale-down histories recorded from the sandbox tests (test/integration/nodes/scale-down, run
 * with RECORD_REPLAY_HISTORIES=1) against the current code: the loop (snapshots, decisions, a
 * removal child), a 'delete' removal, a consolidation removal (replacement scale-up, wait Ready,
 * drains, NodeGroup update) and a removal whose drain a PDB blocked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleQuietly, loadHistory, recordedWorkflowId } from '../history';

const DIR = path.resolve(__dirname, 'histories-scaledown');
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const workflowIdOf = (file: string): string => recordedWorkflowId(DIR, file);

describe('scale-down: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleQuietly(path.resolve(__dirname, '../../../workflows/index.ts'));
  });

  it('has the recorded paths', () => {
    expect(FILES).to.include.members([
      'scaledown-loop-idle-shrinks.json',
      'scaledown-removal-delete.json',
      'scaledown-removal-consolidation.json',
      'scaledown-removal-pdb-drain-failed.json',
    ]);
    const loop = fs.readFileSync(path.join(DIR, 'scaledown-loop-idle-shrinks.json'), 'utf8');
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

  it('a non-deterministic change of the loop (a timer first) fails the replay', async () => {
    const changed = await bundleQuietly(path.resolve(__dirname, 'fixtures/nondeterministic-scaledown.ts'));
    let error: unknown;
    try {
      await Worker.runReplayHistory(
        { workflowBundle: changed },
        loadHistory(path.join(DIR, 'scaledown-loop-idle-shrinks.json')),
        workflowIdOf('scaledown-loop-idle-shrinks.json'),
      );
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(DeterminismViolationError);
  });
});
