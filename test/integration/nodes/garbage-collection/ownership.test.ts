/**
 * Garbage collection and machine ownership on the sandbox (#12): two orchestrators with different
 * cluster identities share one VPSie (simulator) account; each collects only its own garbage.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { clusterNote } from '../../../../decision/nodes/garbage-collection/garbage';
import { API_VERSION, GROUP, VERSION, VPSIENODE_KIND, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import { apiStatus } from '../../../../lib/kube/api';
import { garbageCollectionWorkflow, type GarbageCollectionResult } from '../../../../workflows/nodes/garbage-collection';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { recordHistory } from '../../../support/histories';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { createGroup, customApi, deleteGroup, eventually, groupVNs, simMachines, startTestOrchestrator } from '../../../support/orchestrator';

const GC_HISTORIES_DIR = path.resolve(__dirname, '../../../replay/nodes/histories-gc');

describe('Garbage collection ownership: two clusters on one VPSie account', function () {
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

  /** One GC run; with RECORD_REPLAY_HISTORIES=1 its history is saved for test/replay/nodes/garbage-collection.test.ts. */
  async function gcRun(taskQueue: string, namespace: string, historyName?: string): Promise<GarbageCollectionResult> {
    const workflowId = uniqueName('gc-run');
    const result = await sb.temporal.workflow.execute(garbageCollectionWorkflow, { taskQueue, workflowId, args: [{ namespace, graceSeconds: 0 }] });
    if (historyName) recordHistory(sb, workflowId, GC_HISTORIES_DIR, historyName);
    return result;
  }

  async function alive(identifier: string): Promise<boolean> {
    const m = (await simMachines(sb)).find((x) => x.identifier === identifier);
    return m !== undefined && m.phase !== 'deleted';
  }

  it("each cluster's GC deletes only its own leaked machine; the other cluster's machines and machines without a cluster identity survive", async () => {
    const ns = await sb.namespace('gc-own');
    const idA = `cluster-a-${randomUUID().slice(0, 8)}`;
    const idB = `cluster-b-${randomUUID().slice(0, 8)}`;
    const tqA = sb.taskQueue('gc-own-a');
    const tqB = sb.taskQueue('gc-own-b');
    // A runs the node lifecycle (watchers on): its machines are stamped with its identity.
    const a = await startTestOrchestrator(sb, ns, tqA, { env: { CLUSTER_ID: idA } });
    running.push(a);
    const b = await startTestOrchestrator(sb, ns, tqB, { env: { CLUSTER_ID: idB }, watchers: false });
    running.push(b);
    const group = uniqueName('own');
    await createGroup(sb, ns, group, { minNodes: 1, maxNodes: 1 });
    const [vnA] = await eventually('a Ready VPSieNode of A', 120_000, async () => {
      const vns = await groupVNs(sb, ns, group);
      return vns.length === 1 && vns[0]!.phase === 'Ready' ? vns : undefined;
    });
    const machineA = String(vnA!.spec.vpsieIdentifier);
    const stamped = (await simMachines(sb)).find((m) => m.identifier === machineA);
    expect(stamped?.notes?.split(/\s+/)).to.include(clusterNote(idA));

    // Machines as the lifecycle makes them whose VPSieNodes exist nowhere: one per cluster, and
    // one made before #12 (no cluster identity).
    const vpsie = a.deps.vpsie;
    const make = async (name: string, extra: string) => {
      const r = await vpsie.ensureVm({
        requestId: randomUUID(),
        hostname: uniqueName(name),
        plan: 'small-2cpu-4gb',
        datacenter: 'us-east-1',
        osImage: 'ubuntu-22.04-lts',
        notes: `vpsienode=${ns}/${name} ${extra}`.trim(),
      });
      return eventually(`${name} listed`, 60_000, async () => (await vpsie.findVm({ hostname: r.hostname }))?.identifier);
    };
    const leakA = await make('ghost-a', clusterNote(idA));
    const leakB = await make('ghost-b', clusterNote(idB));
    const legacy = await make('ghost-old', '');

    const ranA = await gcRun(tqA, ns, 'gc-two-clusters-a');
    expect(ranA.leakedDeleted).to.deep.equal([leakA]);
    expect(ranA.clusterId).to.equal(idA);
    expect(ranA.otherCluster).to.equal(1);
    expect(ranA.noClusterIdentity).to.equal(1);
    expect(await alive(leakB), "B's machine survives A's GC").to.equal(true);

    const ranB = await gcRun(tqB, ns);
    expect(ranB.leakedDeleted).to.deep.equal([leakB]);
    expect(ranB.otherCluster, "A's live machine is another cluster's to B").to.equal(1);
    expect(ranB.noClusterIdentity).to.equal(1);
    expect(await alive(machineA), "A's live machine survives B's GC").to.equal(true);
    expect(await alive(legacy), 'a machine without a cluster identity is never collected').to.equal(true);
    expect(await alive(leakA)).to.equal(false);

    const metrics = await (await fetch(`${b.metricsUrl}/metrics`)).text();
    expect(metrics).to.match(/vpsie_autoscaler_garbage_collection_machines\{verdict="no_cluster_identity"\} 1/);
    await vpsie.deleteVm(legacy);
    await deleteGroup(sb, ns, group);
  });

  it('a Ready VPSieNode whose machine is missing from one scan is ended only when it is still missing in the next', async () => {
    const ns = await sb.namespace('gc-vanish');
    const tq = sb.taskQueue('gc-vanish');
    const o = await startTestOrchestrator(sb, ns, tq, { env: { CLUSTER_ID: `cluster-v-${randomUUID().slice(0, 8)}` }, watchers: false });
    running.push(o);
    const custom = customApi(sb);
    const name = uniqueName('ghost');
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: VPSIENODE_PLURAL,
      body: {
        apiVersion: API_VERSION,
        kind: VPSIENODE_KIND,
        metadata: { name, namespace: ns },
        spec: { nodeGroupName: 'ghosts', offeringID: 'small-2cpu-4gb', datacenterID: 'us-east-1', join: { method: 'UserData' }, vpsieIdentifier: randomUUID() },
      },
    });
    await custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: VPSIENODE_PLURAL,
      name,
      body: {
        ...((await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name })) as object),
        status: { phase: 'Ready' },
      },
    });
    const exists = async () => {
      try {
        await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name });
        return true;
      } catch (e) {
        if (apiStatus(e) === 404) return false;
        throw e;
      }
    };
    const first = await gcRun(tq, ns, 'gc-vanished-first-scan');
    expect(first.vanishedEnded).to.deep.equal([]);
    expect(first.missingOnce).to.deep.equal([`${ns}/${name}`]);
    expect(await exists()).to.equal(true);
    const second = await gcRun(tq, ns, 'gc-vanished-second-scan');
    expect(second.vanishedEnded).to.deep.equal([`${ns}/${name}`]);
    expect(await exists()).to.equal(false);
  });
});
