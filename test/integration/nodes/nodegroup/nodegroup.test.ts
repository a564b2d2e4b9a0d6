import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { GROUP, NODEGROUP_LABEL, VERSION, VPSIENODE_FINALIZER, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import { NODEGROUP_FINALIZER } from '../../../../activities/nodes/nodegroup';
import { TRIGGERED_PODS_ANNOTATION } from '../../../../lib/crds/autoscaler';
import {
  nodeGroupScaleDownUpdate,
  nodeGroupScaleUpUpdate,
  nodeGroupStateQuery,
  nodeGroupSyncSignal,
  nodeGroupWorkflowId,
} from '../../../../workflows/nodes/contracts';
import { nodeGroupWorkflow } from '../../../../workflows/nodes/nodegroup/workflow';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createGroup,
  deleteGroup,
  eventually,
  groupNodes,
  groupVNs,
  liveMachinesOfNamespace,
  patchGroupSpec,
  readGroup,
  startTestOrchestrator,
} from '../../../support/orchestrator';
import { maybeRecordHistory } from '../lifecycle/helpers';

const LABELS = { 'workload-type': 'ng-test', tier: 'web' };
const TAINTS = [{ key: 'dedicated', value: 'ng', effect: 'NoSchedule' as const }];

describe('NodeGroup entity workflow on the sandbox (in-process orchestrator, real Temporal, apiserver, VPSie simulator)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  const running: Orchestrator[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((o) => o.stop()));
  });

  async function setup(prefix: string): Promise<{ ns: string; tq: string; group: string; orch: Orchestrator }> {
    const ns = await sb.namespace(prefix);
    const tq = sb.taskQueue(prefix);
    const orch = await startTestOrchestrator(sb, ns, tq);
    running.push(orch);
    return { ns, tq, group: uniqueName('ng'), orch };
  }

  async function readyVNs(ns: string, group: string, n: number, ms = 120_000) {
    return eventually(`${n} VPSieNodes of ${group} Ready`, ms, async () => {
      const vns = (await groupVNs(sb, ns, group)).filter((v) => !v.deleting);
      return vns.length === n && vns.every((v) => v.phase === 'Ready') ? vns : undefined;
    });
  }

  /** Deletes the group and waits until it, its VPSieNodes and their machines are gone. */
  async function deleteAndWait(ns: string, group: string): Promise<void> {
    await deleteGroup(sb, ns, group);
    await eventually(
      `NodeGroup ${group} gone with its VPSieNodes and machines`,
      180_000,
      async () => {
        const [g, vns, machines] = await Promise.all([readGroup(sb, ns, group), groupVNs(sb, ns, group), liveMachinesOfNamespace(sb, ns)]);
        return g === undefined && vns.length === 0 && machines.length === 0 ? true : undefined;
      },
      500,
    );
  }

  it('a NodeGroup with minNodes 3 gets 3 Ready VPSieNodes (owned, labelled, finalized) and 3 Nodes with its labels and taints; status, finalizer and search attribute are set', async () => {
    const { ns, group, orch } = await setup('ng-min');
    await createGroup(sb, ns, group, { minNodes: 3, maxNodes: 5, labels: LABELS, taints: TAINTS });
    const vns = await readyVNs(ns, group, 3);
    const g = await readGroup(sb, ns, group);
    for (const v of vns) {
      expect(v.ownerUid).to.equal(g?.metadata.uid);
      expect(v.finalizers).to.include(VPSIENODE_FINALIZER);
      expect(v.labels[NODEGROUP_LABEL]).to.equal(group);
      expect(v.name.startsWith(`${group}-`)).to.equal(true);
    }
    const nodes = await eventually('3 Nodes of the group', 60_000, async () => {
      const n = await groupNodes(sb, group);
      return n.length === 3 ? n : undefined;
    });
    for (const n of nodes) {
      expect(n.metadata?.labels).to.include(LABELS);
      expect(n.spec?.taints?.map((t) => `${t.key}=${t.value}:${t.effect}`)).to.include('dedicated=ng:NoSchedule');
    }
    expect(nodes.map((n) => n.metadata?.name).sort()).to.deep.equal(vns.map((v) => v.nodeName).sort());
    expect(g?.metadata.finalizers).to.include(NODEGROUP_FINALIZER);
    const status = await eventually('status with 3 ready', 30_000, async () => {
      const cur = await readGroup(sb, ns, group);
      return cur?.status?.readyNodes === 3 ? cur.status : undefined;
    });
    expect(status).to.include({ currentNodes: 3, desiredNodes: 3, readyNodes: 3, observedGeneration: g?.metadata.generation });
    const cond = (t: string) => status.conditions?.find((c) => c.type === t);
    expect(cond('Ready')).to.include({ status: 'True', reason: 'AllNodesReady' });
    expect(cond('AtMinCapacity')).to.include({ status: 'True', reason: 'AtMinNodes' });
    expect(cond('AtMaxCapacity')).to.include({ status: 'False', reason: 'BelowMaxNodes' });
    expect(cond('Error')).to.include({ status: 'False', reason: 'NoError' });
    // Gauges on the orchestrator's /metrics.
    const metrics = await (await fetch(`${orch.metricsUrl}/metrics`)).text();
    expect(metrics).to.contain(`vpsie_autoscaler_nodegroup_desired_nodes{nodegroup="${ns}/${group}"} 3`);
    expect(metrics).to.contain(`vpsie_autoscaler_nodegroup_nodes{nodegroup="${ns}/${group}",state="Ready"} 3`);
    // The group's workflow and its lifecycles are found by the NodeGroup search attribute.
    const found = await eventually('4 workflows by search attribute', 30_000, async () => {
      const ids: string[] = [];
      for await (const w of sb.temporal.workflow.list({ query: `NodeGroup = '${ns}/${group}'` })) ids.push(w.workflowId);
      return ids.length >= 4 ? ids : undefined;
    });
    expect(found).to.include(nodeGroupWorkflowId(ns, group));
    expect(found.filter((id) => id.startsWith('vpsienode:'))).to.have.members(vns.map((v) => `vpsienode:${ns}/${v.name}`));
    await deleteAndWait(ns, group);
  });

  it('raising minNodes creates, lowering maxNodes removes the extras (not-Ready first, then newest), deletion removes everything and ends the workflow', async () => {
    const { ns, group } = await setup('ng-spec');
    await createGroup(sb, ns, group, { minNodes: 1, maxNodes: 6 });
    const one = await readyVNs(ns, group, 1);
    await patchGroupSpec(sb, ns, group, { minNodes: 4 });
    const four = await readyVNs(ns, group, 4);
    expect(four.map((v) => v.name)).to.include(one[0]!.name);
    // Lower max to 2 (and min to 1): the two newest go; the first node stays.
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    const order = (await handle.query(nodeGroupStateQuery)).nodes.map((n) => n.name);
    await patchGroupSpec(sb, ns, group, { minNodes: 1, maxNodes: 2 });
    const two = await eventually('2 VPSieNodes left', 120_000, async () => {
      const vns = await groupVNs(sb, ns, group);
      return vns.length === 2 && vns.every((v) => !v.deleting) ? vns : undefined;
    });
    const kept = order.filter((n) => two.some((v) => v.name === n));
    expect(kept).to.deep.equal(order.slice(0, 2));
    expect(two.map((v) => v.name)).to.include(one[0]!.name);
    const state = await handle.query(nodeGroupStateQuery);
    expect(state).to.include({ minNodes: 1, maxNodes: 2, desiredNodes: 2 });
    await eventually('2 Nodes', 60_000, async () => ((await groupNodes(sb, group)).length === 2 ? true : undefined));
    // Deletion: VPSieNodes and machines go, then the finalizer, then the workflow completes.
    await deleteAndWait(ns, group);
    const desc = await eventually('workflow completed', 30_000, async () => {
      const d = await handle.describe();
      return d.status.name === 'COMPLETED' ? d : undefined;
    });
    expect(desc.status.name).to.equal('COMPLETED');
    expect(await groupNodes(sb, group)).to.have.length(0);
    maybeRecordHistory(sb, handle, 'nodegroup-spec-changes-and-deletion');
  });

  it('20 concurrent scale-up updates never take the group past maxNodes; a repeated request id is applied once; scale-down honours minNodes', async () => {
    const { ns, group } = await setup('ng-conc');
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: 7 });
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    await eventually('group workflow running', 30_000, async () => ((await handle.describe()).status.name === 'RUNNING' ? true : undefined));
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const results = await Promise.all(
      ids.map((requestId) =>
        handle.executeUpdate(nodeGroupScaleUpUpdate, {
          args: [{ requestId, nodes: [{ offeringID: 'small-2cpu-4gb', count: 1 }], reason: 'PodsUnschedulable' }],
        }),
      ),
    );
    const created = results.flatMap((r) => r.created);
    expect(created).to.have.length(7);
    expect(new Set(created).size).to.equal(7);
    expect(results.filter((r) => r.refused?.reason === 'MaxNodesReached')).to.have.length(13);
    // The same request id again: the same answer, nothing new.
    const again = await handle.executeUpdate(nodeGroupScaleUpUpdate, {
      args: [{ requestId: ids[0]!, nodes: [{ offeringID: 'small-2cpu-4gb', count: 1 }], reason: 'PodsUnschedulable' }],
    });
    expect(again).to.deep.equal(results[0]);
    const unknown = await handle.executeUpdate(nodeGroupScaleUpUpdate, {
      args: [{ requestId: randomUUID(), nodes: [{ offeringID: 'huge-64cpu', count: 1 }], reason: 'PodsUnschedulable' }],
    });
    expect(unknown.refused?.reason).to.equal('UnknownOffering');
    const vns = await readyVNs(ns, group, 7);
    expect(vns.map((v) => v.name).sort()).to.deep.equal([...created].sort());
    expect(await liveMachinesOfNamespace(sb, ns)).to.have.length(7);
    // Scale down 3 with min raised to 5: 2 removed, 1 refused MinNodesReached.
    await patchGroupSpec(sb, ns, group, { minNodes: 5 });
    await eventually('min 5 seen', 30_000, async () => ((await handle.query(nodeGroupStateQuery)).minNodes === 5 ? true : undefined));
    const down = await handle.executeUpdate(nodeGroupScaleDownUpdate, {
      args: [{ requestId: randomUUID(), vpsieNodes: created.slice(0, 3), reason: 'Underutilized' }],
    });
    expect(down.removing).to.deep.equal(created.slice(0, 2));
    expect(down.refused).to.include({ reason: 'MinNodesReached', count: 1 });
    await readyVNs(ns, group, 5);
    await eventually('5 machines', 60_000, async () => ((await liveMachinesOfNamespace(sb, ns)).length === 5 ? true : undefined));
    await deleteAndWait(ns, group);
    await eventually('workflow completed', 30_000, async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined));
    maybeRecordHistory(sb, handle, 'nodegroup-concurrent-scale-up');
  });

  it('a scale-up names the pods of each new node: every VPSieNode is created with its pods annotated (never seen without them), in request order, for granted nodes only', async () => {
    const { ns, group } = await setup('ng-pods');
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: 3, offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'] });
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    await eventually('group workflow running', 30_000, async () => ((await handle.describe()).status.name === 'RUNNING' ? true : undefined));
    // Every version of every VPSieNode the apiserver ever shows, from before the request.
    const seen: { name: string; type: string; pods?: string }[] = [];
    const watch = await new k8s.Watch(sb.kc).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${VPSIENODE_PLURAL}`,
      {},
      (type: string, o: { metadata?: { name?: string; annotations?: Record<string, string> } }) => {
        const pods = o.metadata?.annotations?.[TRIGGERED_PODS_ANNOTATION];
        seen.push({ name: o.metadata?.name ?? '', type, ...(pods !== undefined ? { pods } : {}) });
      },
      () => undefined,
    );
    try {
      // 2 small + 2 medium asked, 3 granted (maxNodes): small a, small b, medium c; d is refused.
      const res = await handle.executeUpdate(nodeGroupScaleUpUpdate, {
        args: [
          {
            requestId: randomUUID(),
            nodes: [
              { offeringID: 'small-2cpu-4gb', count: 2 },
              { offeringID: 'medium-4cpu-8gb', count: 2 },
            ],
            reason: 'PendingPods',
            podUidsByNode: [['uid-a1', 'uid-a2'], ['uid-b'], ['uid-c'], ['uid-d']],
          },
        ],
      });
      expect(res.created).to.have.length(3);
      expect(res.refused).to.include({ reason: 'MaxNodesReached', count: 1 });
      const vns = await eventually('3 VPSieNodes', 30_000, async () => {
        const l = await groupVNs(sb, ns, group);
        return l.length === 3 ? l : undefined;
      });
      const offeringOf = new Map(vns.map((v) => [v.name, (v.spec as { offeringID?: string }).offeringID]));
      expect(res.created.map((n) => offeringOf.get(n))).to.deep.equal(['small-2cpu-4gb', 'small-2cpu-4gb', 'medium-4cpu-8gb']);
      await eventually('the watch saw the 3 creations', 10_000, async () => (seen.filter((e) => e.type === 'ADDED').length >= 3 ? true : undefined));
      const added = new Map(seen.filter((e) => e.type === 'ADDED').map((e) => [e.name, e.pods]));
      expect(res.created.map((n) => added.get(n))).to.deep.equal([JSON.stringify(['uid-a1', 'uid-a2']), JSON.stringify(['uid-b']), JSON.stringify(['uid-c'])]);
      expect(
        seen.filter((e) => e.pods === undefined),
        'a VPSieNode version without its pods',
      ).to.deep.equal([]);
    } finally {
      watch.abort();
    }
    await deleteAndWait(ns, group);
  });

  it('continues as new before its history grows long, keeping its nodes and its request ids (a repeated request after continue-as-new creates nothing)', async () => {
    // The workflow is started by the test (with a small history limit) before the orchestrator
    // and its watcher, which then only signal the running workflow.
    const ns = await sb.namespace('ng-can');
    const tq = sb.taskQueue('ng-can');
    const group = uniqueName('ng');
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: 4 });
    const handle = await sb.temporal.workflow.signalWithStart(nodeGroupWorkflow, {
      workflowId: nodeGroupWorkflowId(ns, group),
      taskQueue: tq,
      args: [{ namespace: ns, name: group, carried: { maxHistoryEvents: 60 } }],
      signal: nodeGroupSyncSignal,
      signalArgs: [{}],
    });
    const firstRun = (await handle.describe()).runId;
    running.push(await startTestOrchestrator(sb, ns, tq));
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const answers = [];
    for (const requestId of ids)
      answers.push(
        await handle.executeUpdate(nodeGroupScaleUpUpdate, {
          args: [{ requestId, nodes: [{ offeringID: 'small-2cpu-4gb', count: 1 }], reason: 'PodsUnschedulable' }],
        }),
      );
    await readyVNs(ns, group, 3);
    const latest = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    await eventually('a continued run', 60_000, async () => ((await latest.describe()).runId !== firstRun ? true : undefined));
    const again = await latest.executeUpdate(nodeGroupScaleUpUpdate, {
      args: [{ requestId: ids[0]!, nodes: [{ offeringID: 'small-2cpu-4gb', count: 1 }], reason: 'PodsUnschedulable' }],
    });
    expect(again).to.deep.equal(answers[0]);
    const state = await latest.query(nodeGroupStateQuery);
    expect(state.desiredNodes).to.equal(3);
    expect(state.nodes.map((n) => n.name).sort()).to.deep.equal(answers.flatMap((a) => a.created).sort());
    expect((await groupVNs(sb, ns, group)).length).to.equal(3);
    await deleteAndWait(ns, group);
  });
});
