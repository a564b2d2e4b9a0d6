/**
 * Orphan Nodes on the sandbox: a Node labelled for a NodeGroup that no VPSieNode names is reported
 * (Event, metric, the orphan-since mark) on first sight, left alone within the grace period, and
 * then deleted together with its VPS when that VPS is this cluster's garbage; the group's own Node
 * is never touched.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { clusterNote } from '../../../../decision/nodes/garbage-collection/garbage';
import { ORPHAN_SINCE_ANNOTATION } from '../../../../decision/nodes/garbage-collection/orphans';
import { API_VERSION, GROUP, NODEGROUP_LABEL, VERSION, VPSIENODE_KIND, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import { apiStatus } from '../../../../lib/kube/api';
import { garbageCollectionWorkflow, type GarbageCollectionInput, type GarbageCollectionResult } from '../../../../workflows/nodes/garbage-collection';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { recordHistory } from '../../../support/histories';
import { SA_DECISION_REASON } from '../../../../lib/temporal/search-attributes';
import { garbageCollectionVerdict } from '../../../../decision/nodes/garbage-collection/garbage';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { createGroup, customApi, deleteGroup, eventually, groupNodes, groupVNs, simMachines, startTestOrchestrator } from '../../../support/orchestrator';

const GC_HISTORIES_DIR = path.resolve(__dirname, '../../../replay/nodes/histories-gc');

describe('Garbage collection of orphan Nodes (labelled for a NodeGroup, no VPSieNode)', function () {
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

  async function gcRun(taskQueue: string, input: GarbageCollectionInput, historyName?: string): Promise<GarbageCollectionResult> {
    const workflowId = uniqueName('gc-orphan');
    const result = await sb.temporal.workflow.execute(garbageCollectionWorkflow, { taskQueue, workflowId, args: [input] });
    if (historyName) recordHistory(sb, workflowId, GC_HISTORIES_DIR, historyName);
    // The run's verdict is its DecisionReason search attribute (the Web UI filters GC runs by it).
    const described = await sb.temporal.workflow.getHandle(workflowId).describe();
    expect(described.typedSearchAttributes.get(SA_DECISION_REASON)).to.equal(garbageCollectionVerdict(result));
    return result;
  }

  async function nodeExists(name: string): Promise<boolean> {
    try {
      await sb.core.readNode({ name });
      return true;
    } catch (e) {
      if (apiStatus(e) === 404) return false;
      throw e;
    }
  }

  async function nodeEvents(name: string): Promise<{ reason: string; message: string }[]> {
    const list = await sb.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.kind=Node,involvedObject.name=${name}` });
    return list.items.map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
  }

  it('an orphan Node is reported on first sight, kept within the grace period, then deleted with its VPS; the group’s own Node stays', async () => {
    const ns = await sb.namespace('gc-orphan');
    const tq = sb.taskQueue('gc-orphan');
    const clusterId = `cluster-o-${randomUUID().slice(0, 8)}`;
    const orch = await startTestOrchestrator(sb, ns, tq, { env: { CLUSTER_ID: clusterId } });
    running.push(orch);
    const group = uniqueName('orph');
    await createGroup(sb, ns, group, { minNodes: 1, maxNodes: 1 });
    const [own] = await eventually('the group’s Node', 180_000, async () => {
      const [vns, nodes] = await Promise.all([groupVNs(sb, ns, group), groupNodes(sb, group)]);
      return vns.length === 1 && vns[0]!.phase === 'Ready' && nodes.length === 1 ? nodes : undefined;
    });
    const ownName = own!.metadata!.name!;

    // A machine of this cluster without a VPSieNode, and a Node for it labelled for the group (as if its VPSieNode had been force-removed).
    const vpsie = orch.deps.vpsie;
    const hostname = uniqueName('orphan-vm');
    await vpsie.ensureVm({
      requestId: randomUUID(),
      hostname,
      plan: 'small-2cpu-4gb',
      datacenter: 'us-east-1',
      osImage: 'ubuntu-22.04-lts',
      notes: `vpsienode=${ns}/gone-${hostname} ${clusterNote(clusterId)}`,
    });
    const vps = await eventually('the orphan’s VPS listed', 60_000, async () => (await vpsie.findVm({ hostname }))?.identifier);
    const orphan = uniqueName('orphan-node');
    await sb.core.createNode({
      body: { metadata: { name: orphan, labels: { [NODEGROUP_LABEL]: group, 'kubernetes.io/hostname': orphan } }, spec: { providerID: `vpsie://${vps}` } },
    });

    // First sight (long grace): marked, reported, kept. The VPS is young for the leaked-machine rule.
    const first = await gcRun(tq, { namespace: ns, graceSeconds: 3600, orphanNodeGraceSeconds: 3600 });
    expect(first.orphanNodes).to.deep.include({ newlySeen: [orphan], deleted: [] });
    const marked = await sb.core.readNode({ name: orphan });
    expect(marked.metadata?.annotations?.[ORPHAN_SINCE_ANNOTATION]).to.be.a('string');
    expect((await sb.core.readNode({ name: ownName })).metadata?.annotations?.[ORPHAN_SINCE_ANNOTATION]).to.equal(undefined);
    const reported = await eventually('the OrphanNode Event', 30_000, async () => (await nodeEvents(orphan)).find((e) => e.reason === 'OrphanNode'));
    expect(reported.message).to.contain(group).and.contain(vps);
    const metrics = await (await fetch(`${orch.metricsUrl}/metrics`)).text();
    expect(metrics).to.contain(`vpsie_autoscaler_orphan_nodes_detected_total{nodegroup="${group}"} 1`);

    // Within the grace: waiting, not reported again.
    const second = await gcRun(tq, { namespace: ns, graceSeconds: 3600, orphanNodeGraceSeconds: 3600 });
    expect(garbageCollectionVerdict(second)).to.equal('OrphanNodesReported');
    expect(second.orphanNodes).to.deep.include({ newlySeen: [], waiting: [orphan], deleted: [] });
    expect(await nodeExists(orphan)).to.equal(true);

    // Past the grace: the Node and its VPS (this cluster's, no VPSieNode) are deleted; the group's Node stays.
    const third = await gcRun(tq, { namespace: ns, graceSeconds: 3600, orphanNodeGraceSeconds: 0 }, 'gc-orphan-node-deleted');
    expect(third.orphanNodes).to.deep.include({ deleted: [orphan], vpsDeleted: [vps] });
    expect(garbageCollectionVerdict(third)).to.equal('GarbageDeleted');
    expect(third.leakedDeleted).to.deep.equal([]);
    expect(await nodeExists(orphan)).to.equal(false);
    expect((await simMachines(sb)).find((m) => m.identifier === vps)?.phase).to.equal('deleted');
    expect(await nodeExists(ownName)).to.equal(true);
    expect((await groupVNs(sb, ns, group)).map((v) => v.phase)).to.deep.equal(['Ready']);
    await eventually('the OrphanNodeDeleted Event', 30_000, async () => (await nodeEvents(orphan)).find((e) => e.reason === 'OrphanNodeDeleted'));

    await deleteGroup(sb, ns, group);
    await eventually('group gone', 180_000, async () => ((await groupVNs(sb, ns, group)).length === 0 ? true : undefined), 500);
  });

  it('a Node marked orphan that a VPSieNode names again is unmarked and kept; another cluster’s VPS behind an orphan Node is left alone', async () => {
    const ns = await sb.namespace('gc-adopt');
    const tq = sb.taskQueue('gc-adopt');
    const clusterId = `cluster-p-${randomUUID().slice(0, 8)}`;
    const orch = await startTestOrchestrator(sb, ns, tq, { env: { CLUSTER_ID: clusterId }, watchers: false });
    running.push(orch);
    const group = uniqueName('adopt');
    // The group exists (so its Nodes are in the namespace's scope); no watchers run, so nothing scales it.
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: 1 });
    const vpsie = orch.deps.vpsie;
    const hostname = uniqueName('foreign-vm');
    await vpsie.ensureVm({
      requestId: randomUUID(),
      hostname,
      plan: 'small-2cpu-4gb',
      datacenter: 'us-east-1',
      osImage: 'ubuntu-22.04-lts',
      notes: `vpsienode=${ns}/x-${hostname} ${clusterNote('another-cluster')}`,
    });
    const vps = await eventually('the VPS listed', 60_000, async () => (await vpsie.findVm({ hostname }))?.identifier);
    const adopted = uniqueName('adopted-node');
    const foreign = uniqueName('foreign-node');
    for (const [name, providerID] of [
      [adopted, undefined],
      [foreign, `vpsie://${vps}`],
    ] as const)
      await sb.core.createNode({ body: { metadata: { name, labels: { [NODEGROUP_LABEL]: group } }, ...(providerID ? { spec: { providerID } } : {}) } });
    const first = await gcRun(tq, { namespace: ns, graceSeconds: 3600, orphanNodeGraceSeconds: 3600 });
    expect(first.orphanNodes?.newlySeen.sort()).to.deep.equal([adopted, foreign].sort());
    // A VPSieNode now names `adopted` (its status.nodeName).
    const vnName = uniqueName('adopter');
    await customApi(sb).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: VPSIENODE_PLURAL,
      body: {
        apiVersion: API_VERSION,
        kind: VPSIENODE_KIND,
        metadata: { name: vnName, namespace: ns, labels: { [NODEGROUP_LABEL]: group } },
        spec: { nodeGroupName: group, offeringID: 'small-2cpu-4gb', datacenterID: 'us-east-1', join: { method: 'UserData' } },
      },
    });
    await customApi(sb).patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name: vnName, body: { status: { nodeName: adopted } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const second = await gcRun(tq, { namespace: ns, graceSeconds: 3600, orphanNodeGraceSeconds: 0 });
    expect(second.orphanNodes).to.deep.include({ deleted: [foreign], vpsDeleted: [] });
    expect(await nodeExists(adopted)).to.equal(true);
    expect((await sb.core.readNode({ name: adopted })).metadata?.annotations?.[ORPHAN_SINCE_ANNOTATION]).to.equal(undefined);
    expect(await nodeExists(foreign)).to.equal(false);
    expect((await simMachines(sb)).find((m) => m.identifier === vps)?.phase).to.not.equal('deleted');
    await sb.core.deleteNode({ name: adopted });
    await customApi(sb).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name: vnName });
    await vpsie.deleteVm(vps, 'test-cleanup');
  });
});
