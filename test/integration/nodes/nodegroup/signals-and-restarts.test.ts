/**
 * The NodeGroup workflow (the real one, on the sandbox's Temporal) in front of an in-memory
 * NodeGroup (fake-group.ts): signals are hints to re-read the object, update inputs are validated,
 * and a run started without carried state starts from what the cluster says, never from zero.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import {
  nodeGroupScaleDownUpdate,
  nodeGroupScaleUpUpdate,
  nodeGroupStateQuery,
  nodeGroupSyncSignal,
  nodeGroupWorkflowId,
} from '../../../../workflows/nodes/contracts';
import { recordHistory } from '../../../support/histories';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { startWorker } from '../../../support/worker';
import { HISTORIES_DIR } from '../lifecycle/helpers';
import { historyOf, idle, waitFor, type HistoryView } from '../lifecycle/history-inspect';
import { FakeGroup } from './fake-group';

const RECORD_DIR = process.env.REPLAY_HISTORIES_DIR ?? HISTORIES_DIR;

describe('NodeGroup workflow: signals are hints, updates are validated, a fresh run starts from the cluster (fake group, real Temporal)', function () {
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

  async function start(fake: FakeGroup, carried?: { maxHistoryEvents: number }): Promise<{ handle: WorkflowHandle; namespace: string; name: string }> {
    const tq = sb.taskQueue('ng-hints');
    const w = await startWorker(sb, tq, fake.activities());
    stops.push(w.stop);
    const namespace = uniqueName('ns');
    const name = uniqueName('ng');
    const handle = await sb.temporal.workflow.signalWithStart('nodeGroupWorkflow', {
      workflowId: nodeGroupWorkflowId(namespace, name),
      taskQueue: tq,
      args: [{ namespace, name, ...(carried ? { carried } : {}) }],
      signal: nodeGroupSyncSignal,
      signalArgs: [{ generation: 1, deleting: false }],
    });
    return { handle, namespace, name };
  }

  /** The loop has run after history event `after` and waits on its resync timer (minutes). */
  async function settled(handle: WorkflowHandle, after: number, fatal?: () => string | undefined): Promise<HistoryView> {
    return waitFor(
      'the NodeGroup loop to settle on its resync wait',
      60_000,
      async () => {
        if (!(await idle(handle, after + 1))) return undefined;
        const h = await historyOf(handle);
        return h.last === 'EVENT_TYPE_TIMER_STARTED' && (h.timers[h.timers.length - 1] ?? 0) >= 60_000 ? h : undefined;
      },
      fatal,
    );
  }

  const record = (handle: WorkflowHandle, name: string): void => recordHistory(sb, handle.workflowId, RECORD_DIR, name);

  it('a {deleting: true} sync signal while the NodeGroup object is not being deleted deletes no VPSieNode and the workflow keeps running', async () => {
    const fake = new FakeGroup({ minNodes: 0, maxNodes: 5 }, { desiredNodes: 2 });
    fake.addReady('vn', 2);
    const { handle } = await start(fake);
    const first = await settled(handle, 0);
    try {
      await handle.signal(nodeGroupSyncSignal, { generation: 1, deleting: true });
      const after = await settled(handle, first.events.length, () =>
        fake.count('deleteVPSieNodes') > 0 ? `the workflow deleted VPSieNodes ${fake.deleted().join(', ')} on a signal alone` : undefined,
      );
      expect(after.signals).to.have.length(2);
      expect(fake.deleted()).to.deep.equal([]);
      // It re-read the object after the signal, and acted on what it says.
      expect(fake.count('readNodeGroup')).to.be.at.least(2);
      const state = await handle.query(nodeGroupStateQuery);
      expect(state).to.include({ deleting: false, desiredNodes: 2 });
      expect(state.nodes.map((n) => n.phase)).to.deep.equal(['Ready', 'Ready']);
    } finally {
      record(handle, 'nodegroup-deleting-signal-hint');
    }
  });

  it('a deletion the object shows (deletionTimestamp) still removes every VPSieNode, whatever the signal says', async () => {
    const fake = new FakeGroup({ minNodes: 0, maxNodes: 5 }, { desiredNodes: 2 });
    const names = fake.addReady('vn', 2);
    const { handle } = await start(fake);
    await settled(handle, 0);
    fake.view = { ...fake.view, deleting: true };
    await handle.signal(nodeGroupSyncSignal, { generation: 1, deleting: false });
    await waitFor('both VPSieNodes deleted', 30_000, async () => (fake.deleted().length === 2 ? true : undefined));
    expect(fake.deleted().sort()).to.deep.equal(names);
    expect((await handle.query(nodeGroupStateQuery)).deleting).to.equal(true);
  });

  it('a scale-up update with a NaN or negative count is refused with an error naming the field; nothing is created', async () => {
    const fake = new FakeGroup({ minNodes: 0, maxNodes: 5 }, { desiredNodes: 0 });
    const { handle } = await start(fake);
    await settled(handle, 0);
    for (const [count, what] of [
      [Number.NaN, 'NaN'],
      [-2, 'negative'],
      [1.5, 'fractional'],
    ] as const) {
      let err: unknown;
      try {
        await handle.executeUpdate(nodeGroupScaleUpUpdate, {
          args: [{ requestId: randomUUID(), nodes: [{ offeringID: 'small-2cpu-4gb', count }], reason: 'PodsUnschedulable' }],
        });
      } catch (e) {
        err = e;
      }
      expect(err, `a ${what} count must be refused`).to.be.instanceOf(Error);
      const message = `${String(err)} ${String((err as { cause?: unknown }).cause)}`;
      expect(message, what).to.include('nodes[0].count');
    }
    expect(fake.count('createVPSieNodes')).to.equal(0);
    expect((await handle.query(nodeGroupStateQuery)).desiredNodes).to.equal(0);
    // A valid request after the refusals is taken.
    const ok = await handle.executeUpdate(nodeGroupScaleUpUpdate, {
      args: [{ requestId: randomUUID(), nodes: [{ offeringID: 'small-2cpu-4gb', count: 1 }], reason: 'PodsUnschedulable' }],
    });
    expect(ok.created).to.have.length(1);
  });

  it('a scale-down update without a requestId or with a non-list of nodes is refused with an error naming the field', async () => {
    const fake = new FakeGroup({ minNodes: 0, maxNodes: 5 }, { desiredNodes: 1 });
    fake.addReady('vn', 1);
    const { handle } = await start(fake);
    await settled(handle, 0);
    const bad: [unknown, string][] = [
      [{ vpsieNodes: ['vn-0'], reason: 'Underutilized' }, 'requestId'],
      [{ requestId: randomUUID(), vpsieNodes: 'vn-0', reason: 'Underutilized' }, 'vpsieNodes'],
    ];
    for (const [req, field] of bad) {
      let err: unknown;
      try {
        await handle.executeUpdate(nodeGroupScaleDownUpdate, { args: [req as never] });
      } catch (e) {
        err = e;
      }
      expect(err, field).to.be.instanceOf(Error);
      expect(`${String(err)} ${String((err as { cause?: unknown }).cause)}`).to.include(field);
    }
    expect(fake.deleted()).to.deep.equal([]);
  });

  it('a run started without carried state keeps the 5 Ready VPSieNodes the cluster has (status.desiredNodes 5): none is removed', async () => {
    const fake = new FakeGroup({ minNodes: 1, maxNodes: 10 }, { desiredNodes: 5 });
    fake.addReady('vn', 5);
    const { handle } = await start(fake);
    try {
      await settled(handle, 0, () => (fake.count('deleteVPSieNodes') > 0 ? `a fresh run removed Ready nodes ${fake.deleted().join(', ')}` : undefined));
      const state = await handle.query(nodeGroupStateQuery);
      expect(state.desiredNodes).to.equal(5);
      expect(fake.lastStatus?.desired).to.equal(5);
      expect(fake.count('createVPSieNodes')).to.equal(0);
    } finally {
      record(handle, 'nodegroup-fresh-run-with-ready-nodes');
    }
  });

  it('a run started without carried state and no status.desiredNodes takes the counted VPSieNodes as its desired count', async () => {
    const fake = new FakeGroup({ minNodes: 0, maxNodes: 10 });
    fake.addReady('vn', 3);
    const { handle } = await start(fake);
    await settled(handle, 0, () => (fake.count('deleteVPSieNodes') > 0 ? `a fresh run removed Ready nodes ${fake.deleted().join(', ')}` : undefined));
    expect((await handle.query(nodeGroupStateQuery)).desiredNodes).to.equal(3);
  });

  it('a run started without carried state with maxNodes lowered below the Ready count removes only the extras, the newest first', async () => {
    const fake = new FakeGroup({ minNodes: 1, maxNodes: 3 }, { desiredNodes: 5 });
    fake.addReady('vn', 5);
    const { handle } = await start(fake);
    await settled(handle, 0);
    expect(fake.deleted().sort()).to.deep.equal(['vn-3', 'vn-4']);
    expect((await handle.query(nodeGroupStateQuery)).desiredNodes).to.equal(3);
  });

  it('a deletion waiting for VPSieNodes that take long to go continues-as-new while it polls, and the new run finishes it', async () => {
    const fake = new FakeGroup({ minNodes: 0, maxNodes: 5 }, { desiredNodes: 1 });
    fake.addReady('vn', 1);
    fake.view = { ...fake.view, deleting: true };
    const { handle } = await start(fake, { maxHistoryEvents: 40 });
    const firstRun = (await handle.describe()).runId;
    await waitFor('a continue-as-new during the deletion', 60_000, async () => ((await handle.describe()).runId !== firstRun ? true : undefined));
    const first = await sb.temporal.workflow.getHandle(handle.workflowId, firstRun).describe();
    expect(first.status.name).to.equal('CONTINUED_AS_NEW');
    expect(fake.deleted()).to.deep.equal(['vn-0']);
    // The lifecycle finishes: the VPSieNode goes; the new run drops the finalizer and ends.
    fake.nodes.clear();
    await waitFor('the deletion finished', 30_000, async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined));
    expect(fake.calls.filter((c) => c.name === 'setNodeGroupFinalizer').map((c) => (c.input as { present: boolean }).present)).to.include(false);
    expect(fake.deleted()).to.deep.equal(['vn-0']);
  });
});
