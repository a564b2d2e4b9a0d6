/**
 * The VPSieNode lifecycle (the real workflow, on the sandbox's Temporal) in front of an in-memory
 * VPSieNode and machine (fake-node.ts): a sync signal is a hint to re-read the object, every long
 * loop continues-as-new after a bounded history carrying its state, and a failing cleanup backs off.
 */
import { expect } from 'chai';
import type { WorkflowHandle } from '@temporalio/client';
import { vpsieNodeStateQuery, vpsieNodeSyncSignal, vpsieNodeWorkflowId } from '../../../../workflows/nodes/contracts';
import type { VPSieNodeLifecycleInput } from '../../../../workflows/nodes/lifecycle/workflow';
import type { LifecycleSettings } from '../../../../activities/nodes/lifecycle/vpsienode';
import type { VPSieNodePhase } from '../../../../lib/crds/autoscaler/constants';
import { recordHistory } from '../../../support/histories';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { startWorker } from '../../../support/worker';
import { HISTORIES_DIR } from './helpers';
import { historyOf, idle, waitFor } from './history-inspect';
import { FakeNode } from './fake-node';

const RECORD_DIR = process.env.REPLAY_HISTORIES_DIR ?? HISTORIES_DIR;
const BOUND = 100;

describe('VPSieNode lifecycle: signals are hints, every long loop continues-as-new, failed cleanups back off (fake node, real Temporal)', function () {
  this.timeout(120_000);
  let sb: TestSandbox;
  const stops: (() => Promise<void>)[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
  });

  async function start(fake: FakeNode, settings: Partial<LifecycleSettings> = {}, maxHistoryEvents?: number): Promise<WorkflowHandle> {
    const tq = sb.taskQueue('vn-durable');
    const w = await startWorker(sb, tq, fake.activities(settings));
    stops.push(w.stop);
    const namespace = uniqueName('ns');
    const name = uniqueName('vn');
    const input: VPSieNodeLifecycleInput = { namespace, name, nodeGroup: 'g', ...(maxHistoryEvents !== undefined ? { maxHistoryEvents } : {}) };
    return sb.temporal.workflow.signalWithStart('vpsieNodeLifecycleWorkflow', {
      workflowId: vpsieNodeWorkflowId(namespace, name),
      taskQueue: tq,
      args: [input],
      signal: vpsieNodeSyncSignal,
      signalArgs: [{ deleting: false }],
    });
  }

  /** With RECORD_REPLAY_HISTORIES=1: ends the run (so its history is complete) and saves it for the replay tests. */
  async function record(handle: WorkflowHandle, name: string): Promise<void> {
    if (process.env.RECORD_REPLAY_HISTORIES !== '1') return;
    await handle.terminate('recorded for replay').catch(() => undefined);
    recordHistory(sb, handle.workflowId, RECORD_DIR, name);
  }

  it('a {deleting: true} sync signal while the VPSieNode object is not being deleted keeps a Ready node Ready: no drain, no machine deletion', async () => {
    // No Node name: a termination then has nothing to drain (this fake runs no drain activities).
    const fake = new FakeNode({ phase: 'Ready', phaseTimes: { Ready: Date.now() }, vpsieIdentifier: 'vps-1', hostname: 'vn-host' });
    const handle = await start(fake);
    try {
      await waitFor('the lifecycle waiting in Ready', 30_000, async () => ((await idle(handle, 5)) && fake.count('observeVPSieNode') >= 1 ? true : undefined));
      const observed = fake.count('observeVPSieNode');
      const before = (await historyOf(handle)).events.length;
      await handle.signal(vpsieNodeSyncSignal, { deleting: true });
      const terminating = (): string | undefined =>
        fake.transitions().includes('Terminating') ? `the lifecycle went to Terminating on a signal alone (${fake.transitions().join(' -> ')})` : undefined;
      await waitFor(
        'the signal handled (object re-read) and the lifecycle idle again',
        30_000,
        async () => (fake.count('observeVPSieNode') > observed && (await idle(handle, before + 3)) ? true : undefined),
        terminating,
      );
      expect(terminating()).to.equal(undefined);
      expect(fake.count('deleteMachine')).to.equal(0);
      expect((await handle.query(vpsieNodeStateQuery)).phase).to.equal('Ready');
      // A deletion the object shows still terminates the node.
      fake.observation = { ...fake.observation, deleting: true };
      await handle.signal(vpsieNodeSyncSignal, { deleting: false });
      await waitFor('the node terminated on the object deletion', 30_000, async () =>
        (await handle.describe()).status.name === 'COMPLETED' ? true : undefined,
      );
      expect(fake.transitions()).to.include.members(['Terminating', 'Deleted']);
    } finally {
      await record(handle, 'ready-deleting-signal-hint');
    }
  });

  const loops: { phase: VPSieNodePhase; setup: (f: FakeNode) => void; what: string }[] = [
    { phase: 'Provisioning', what: 'provisioning polls (the VPS never runs)', setup: (f) => (f.observation.phaseTimes = { Provisioning: Date.now() }) },
    { phase: 'Joining', what: 'joining waits (no Node registers)', setup: (f) => (f.observation.phaseTimes = { Joining: Date.now() }) },
    {
      phase: 'Failed',
      what: 'failed cleanup retries (the VPS deletion keeps failing)',
      setup: (f) => {
        f.observation.phaseTimes = { Failed: Date.now() - 3_600_000 };
        f.observation.lastError = { reason: 'VPSCreateTimeout', message: 'not running' };
        f.deleteFails = 'VPSie refuses the deletion';
      },
    },
  ];
  for (const l of loops) {
    it(`${l.what}: the lifecycle continues-as-new in ${l.phase} after a bounded history, carrying its phase`, async () => {
      const fake = new FakeNode({ phase: l.phase, vpsieIdentifier: 'vps-1', hostname: 'vn-host' });
      l.setup(fake);
      const handle = await start(fake, { pollIntervalSeconds: 0.01 }, BOUND);
      const firstRun = (await handle.describe()).runId;
      try {
        const next = await waitFor('a continue-as-new', 40_000, async () => {
          const d = await handle.describe();
          return d.runId !== firstRun ? d : undefined;
        });
        const first = await sb.temporal.workflow.getHandle(handle.workflowId, firstRun).describe();
        expect(first.status.name).to.equal('CONTINUED_AS_NEW');
        expect(first.historyLength).to.be.at.most(BOUND + 40);
        expect(next.status.name).to.equal('RUNNING');
        const state = await waitFor('the new run answering', 20_000, async () => handle.query(vpsieNodeStateQuery));
        expect(state.phase).to.equal(l.phase);
        // The new run went on in the same phase: no transition was recorded anywhere.
        expect(fake.transitions()).to.deep.equal([]);
      } finally {
        await record(handle, `${l.phase.toLowerCase()}-loop-long-history`);
      }
    });
  }

  it('a Failed cleanup that keeps failing retries with an exponential back-off, capped, kept across continue-as-new', async () => {
    const fake = new FakeNode({ phase: 'Failed', vpsieIdentifier: 'vps-1', hostname: 'vn-host' });
    loops[2]!.setup(fake);
    const handle = await start(fake, { pollIntervalSeconds: 0.01 }, BOUND);
    const firstRun = (await handle.describe()).runId;
    await waitFor('a continue-as-new', 40_000, async () => ((await handle.describe()).runId !== firstRun ? true : undefined));
    const first = await historyOf(handle, firstRun);
    const delays = first.timers;
    expect(delays.length, `retry waits ${delays.join(', ')}`).to.be.at.least(3);
    for (let i = 1; i < delays.length; i++) expect(delays[i], `retry waits ${delays.join(', ')}`).to.equal(Math.min(2 * delays[i - 1]!, 600_000));
    // The next run goes on from the back-off it reached, not from the first delay.
    const second = await waitFor('a retry wait in the new run', 20_000, async () => {
      const h = await historyOf(handle);
      return h.timers.length > 0 ? h : undefined;
    });
    expect(second.timers[0]).to.equal(Math.min(2 * delays[delays.length - 1]!, 600_000));
    expect(fake.count('deleteMachine')).to.be.at.least(delays.length);
  });
});
