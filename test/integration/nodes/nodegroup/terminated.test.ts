/**
 * A NodeGroup workflow that loses its carried state — terminated by a person from the `temporal`
 * CLI — is started again by the watcher and takes up the group as the cluster shows it: the Ready
 * nodes stay; a maxNodes lowered meanwhile removes only the extras, through the lifecycle's drain.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { nodeGroupStateQuery, nodeGroupWorkflowId, vpsieNodeWorkflowId } from '../../../../workflows/nodes/contracts';
import type { VPSieNodeLifecycleResult } from '../../../../workflows/nodes/lifecycle/workflow';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createGroup,
  deleteGroup,
  eventually,
  groupVNs,
  liveMachinesOfNamespace,
  patchGroupSpec,
  readGroup,
  startTestOrchestrator,
} from '../../../support/orchestrator';
import { historyOf } from '../lifecycle/history-inspect';

const N = Number(process.env.TERMINATED_TEST_NODES ?? 5);

describe('NodeGroup workflow terminated from the temporal CLI (sandbox: orchestrator, apiserver, VPSie simulator)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let orch: Orchestrator | undefined;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });
  after(async () => {
    await orch?.stop();
  });

  function terminateWithCli(workflowId: string): void {
    const t = sb.endpoints.temporal;
    execFileSync(
      t.cli,
      ['workflow', 'terminate', '--workflow-id', workflowId, '--reason', 'test: lost history', '--address', t.address, '--namespace', t.namespace],
      {
        encoding: 'utf8',
      },
    );
  }

  async function readyVNs(ns: string, group: string, n: number) {
    return eventually(`${n} VPSieNodes of ${group} Ready`, 120_000, async () => {
      const vns = await groupVNs(sb, ns, group);
      return vns.length === n && vns.every((v) => v.phase === 'Ready' && !v.deleting) ? vns : undefined;
    });
  }

  /** Waits for a run other than `previous` to have finished its first loop (status written), and returns its id. */
  async function restartedRun(ns: string, group: string, previous: string): Promise<{ runId: string; activities: string[] }> {
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    return eventually('the watcher to start the NodeGroup workflow again and its first loop to finish', 60_000, async () => {
      const d = await handle.describe();
      if (d.runId === previous || d.status.name !== 'RUNNING') return undefined;
      const h = await historyOf(handle, d.runId);
      return h.activities.includes('writeNodeGroupStatus') ? { runId: d.runId, activities: h.activities } : undefined;
    });
  }

  it(`a NodeGroup workflow terminated with the group at ${N} Ready nodes comes back (the watcher restarts it) with ${N}; terminated again with maxNodes lowered, only the extras go, drained`, async () => {
    const ns = await sb.namespace('ng-term');
    const tq = sb.taskQueue('ng-term');
    const group = uniqueName('ng');
    orch = await startTestOrchestrator(sb, ns, tq, { groupLivenessSeconds: 2 });
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    await createGroup(sb, ns, group, { minNodes: N, maxNodes: N + 1 });
    const ready = await readyVNs(ns, group, N);
    // minNodes back to 1: the group holds N because it was asked for N, not because of its minimum.
    await patchGroupSpec(sb, ns, group, { minNodes: 1 });
    await eventually('min 1 seen and status written', 30_000, async () => {
      const s = await handle.query(nodeGroupStateQuery);
      const g = await readGroup(sb, ns, group);
      return s.minNodes === 1 && s.desiredNodes === N && g?.status?.desiredNodes === N ? true : undefined;
    });

    // 1. Terminated: no carried state. The new run keeps every Ready node.
    const run1 = (await handle.describe()).runId;
    terminateWithCli(handle.workflowId);
    const second = await restartedRun(ns, group, run1);
    expect(second.activities, 'the restarted run deleted VPSieNodes').to.not.include('deleteVPSieNodes');
    const state = await handle.query(nodeGroupStateQuery);
    expect(state.desiredNodes).to.equal(N);
    const after = await groupVNs(sb, ns, group);
    expect(
      after
        .filter((v) => !v.deleting)
        .map((v) => v.name)
        .sort(),
    ).to.deep.equal(ready.map((v) => v.name).sort());
    expect(after.every((v) => v.phase === 'Ready')).to.equal(true);

    // 2. Terminated again, and maxNodes lowered while no run holds the group: the extras (newest) go
    // through the lifecycle's Terminating phase and its drain; the rest stay Ready.
    const keep = N - 2;
    terminateWithCli(handle.workflowId);
    await patchGroupSpec(sb, ns, group, { maxNodes: keep });
    await restartedRun(ns, group, second.runId);
    const left = await readyVNs(ns, group, keep);
    const removed = ready.map((v) => v.name).filter((n) => !left.some((v) => v.name === n));
    expect(removed).to.have.length(2);
    for (const name of removed) {
      const r = await sb.temporal.workflow.getHandle(vpsieNodeWorkflowId(ns, name)).result();
      const result = r as VPSieNodeLifecycleResult;
      expect(result.outcome, name).to.equal('Deleted');
      expect(result.drain?.outcome, `${name} drained`).to.be.a('string');
    }
    expect((await handle.query(nodeGroupStateQuery)).desiredNodes).to.equal(keep);
    await eventually(`${keep} machines`, 60_000, async () => ((await liveMachinesOfNamespace(sb, ns)).length === keep ? true : undefined));

    await deleteGroup(sb, ns, group);
    await eventually('group gone', 120_000, async () => ((await readGroup(sb, ns, group)) === undefined ? true : undefined), 500);
  });
});
