/**
 * Replays histories recorded from real integration runs (test/integration/nodes/lifecycle, run with
 * RECORD_REPLAY_HISTORIES=1) against the current workflow code: a change that makes the
 * lifecycle or the drain non-deterministic for runs already in flight fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleQuietly, loadHistory, type History } from '../history';

const HISTORIES = path.resolve(__dirname, 'histories');

function bundleOf(file: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleQuietly(file);
}

function history(name: string): History {
  return loadHistory(path.join(HISTORIES, name));
}

// nodegroup-*.json are the NodeGroup workflow's histories (test/replay/nodes/nodegroup.test.ts), not the lifecycle's.
const FILES = fs
  .readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json') && !f.startsWith('nodegroup-'))
  .sort();

describe('VPSieNode lifecycle: replay of recorded histories', function () {
  this.timeout(120_000);
  let current: WorkflowBundleWithSourceMap;

  before(async () => {
    current = await bundleOf(path.resolve(__dirname, '../../../workflows/nodes/lifecycle/workflow.ts'));
  });

  it('has the required recorded paths (happy path to Deleted, Failed then TTL cleanup, crash, managed Kubernetes)', () => {
    expect(FILES).to.include.members([
      'userdata-happy-path-to-deleted.json',
      'userdata-join-timeout-failed-ttl-cleanup.json',
      'userdata-worker-crash-mid-create.json',
      'managed-kubernetes-claim-to-deleted.json',
      'drain-child-one-pod-evicted.json',
    ]);
  });

  for (const f of FILES) {
    it(`replays ${f} deterministically against the current bundle`, async () => {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: f }, history(f), `replay-${f}`);
    });
  }

  it('replays histories of runs from before the patches (sync signal as state, loops that never continued as new, fixed cleanup retries)', () => {
    // Recorded with the code before PATCH_SIGNALS_ARE_HINTS, PATCH_BOUNDED_LOOPS and PATCH_CLEANUP_BACKOFF
    // (test/integration/nodes/lifecycle/durable.test.ts, RECORD_REPLAY_HISTORIES=1): each replays above.
    expect(FILES).to.include.members([
      'prepatch-ready-deleting-signal.json',
      'prepatch-provisioning-polls.json',
      'prepatch-joining-waits.json',
      'prepatch-failed-cleanup-keeps-failing.json',
    ]);
    const failed = JSON.parse(fs.readFileSync(path.join(HISTORIES, 'prepatch-failed-cleanup-keeps-failing.json'), 'utf8')) as {
      events: { eventType: string }[];
    };
    // Hundreds of events in one run, no continue-as-new: the unbounded loop the patch bounds.
    expect(failed.events.length).to.be.greaterThan(400);
    expect(failed.events.map((e) => e.eventType)).to.not.include('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    expect(fs.readFileSync(path.join(HISTORIES, 'prepatch-failed-cleanup-keeps-failing.json'), 'utf8')).to.not.include('vpsienode-failed-cleanup-backoff');
  });

  it('replays histories of the patched code too (a continued Failed-cleanup run, a deleting signal ignored then a real deletion)', () => {
    expect(FILES).to.include.members(['failed-cleanup-continued-run.json', 'ready-deleting-signal-ignored-then-deleted.json']);
    const continued = fs.readFileSync(path.join(HISTORIES, 'failed-cleanup-continued-run.json'), 'utf8');
    expect(continued).to.include('EVENT_TYPE_MARKER_RECORDED');
  });

  it('replays a run recorded with the Deleting phase (lifecycle-deleting-phase) and the one from before it without it', () => {
    // userdata-happy-path-deleting-phase.json: recorded by the happy-path test of test/integration/nodes/lifecycle/lifecycle.test.ts
    // (RECORD_REPLAY_HISTORIES=1) with PATCH_DELETING_PHASE; userdata-happy-path-to-deleted.json is the same test before it.
    expect(FILES).to.include.members(['userdata-happy-path-deleting-phase.json', 'userdata-happy-path-to-deleted.json']);
    const transitions = (name: string): string[] => {
      const h = JSON.parse(fs.readFileSync(path.join(HISTORIES, name), 'utf8')) as {
        events: {
          activityTaskScheduledEventAttributes?: { activityType?: { name?: string }; input?: { payloads?: { data?: string }[] } };
          markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] } | undefined> };
        }[];
      };
      const out: string[] = [];
      for (const e of h.events) {
        const a = e.activityTaskScheduledEventAttributes;
        if (a?.activityType?.name === 'recordTransition' || a?.activityType?.name === 'deleteMachine') {
          const data = a.input?.payloads?.[0]?.data;
          const to = data ? (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { to?: string }).to : undefined;
          out.push(to ? `to:${to}` : a.activityType.name);
        }
        const m = e.markerRecordedEventAttributes;
        const data = m?.details?.['patch-data']?.payloads?.[0]?.data;
        if (m?.markerName === 'core_patch' && data) out.push(`patch:${(JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id?: string }).id ?? ''}`);
      }
      return out;
    };
    const patchedRun = transitions('userdata-happy-path-deleting-phase.json');
    expect(patchedRun).to.include('patch:lifecycle-deleting-phase');
    expect(patchedRun.filter((x) => !x.startsWith('patch:')).slice(-4)).to.deep.equal(['to:Terminating', 'to:Deleting', 'deleteMachine', 'to:Deleted']);
    // A run that started on a VPSieNode already in Deleting (lifecycle.test.ts "a run that starts on a VPSieNode in Deleting"):
    // no drain, no Terminating, the delete then Deleted.
    expect(FILES).to.include('deleting-phase-run-resumes-in-deleting.json');
    const resumed = transitions('deleting-phase-run-resumes-in-deleting.json');
    expect(resumed).to.include('patch:lifecycle-deleting-phase');
    expect(resumed.filter((x) => !x.startsWith('patch:'))).to.deep.equal(['deleteMachine', 'to:Deleted']);
    expect(fs.readFileSync(path.join(HISTORIES, 'deleting-phase-run-resumes-in-deleting.json'), 'utf8')).to.not.include(
      'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED',
    );
    const before = transitions('userdata-happy-path-to-deleted.json');
    expect(before).to.not.include('patch:lifecycle-deleting-phase');
    expect(before.filter((x) => !x.startsWith('patch:')).slice(-3)).to.deep.equal(['to:Terminating', 'deleteMachine', 'to:Deleted']);
  });

  it('the happy-path history contains every phase and a drain child workflow (so replay exercises them)', () => {
    const text = fs.readFileSync(path.join(HISTORIES, 'userdata-happy-path-to-deleted.json'), 'utf8');
    expect(text).to.include('EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED');
    expect(text).to.include('drainNodeWorkflow');
    expect(text).to.include('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
  });

  it('a non-deterministic change (a timer before the first activity) fails the replay', async () => {
    const changed = await bundleOf(path.resolve(__dirname, 'fixtures/nondeterministic-lifecycle.ts'));
    let error: unknown;
    try {
      await Worker.runReplayHistory({ workflowBundle: changed }, history('userdata-happy-path-to-deleted.json'), 'replay-changed');
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(DeterminismViolationError);
  });
});
