/**
 * A VPSieNode that is not owned (controller ownerReference, uid-checked) by an existing NodeGroup is
 * refused at the start of its lifecycle (issue #12): no machine is created for it from defaults,
 * none is adopted or deleted through its spec.vpsieIdentifier, the Node its status.nodeName names
 * is neither drained nor deleted, and the VPSieNode carries the typed reason (an Event and its
 * Error condition, NotOwnedByNodeGroup). The VPSieNodes here are created by the sandbox's admin —
 * an identity the admission policy lets through — as a bypass of that policy would.
 */
import * as k8s from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { expect } from 'chai';
import { API_VERSION, GROUP, NODEGROUP_KIND, VERSION, VPSIENODE_FINALIZER, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  BOOTSTRAP_TOKEN,
  createBootstrapSecret,
  createNodeGroup,
  createVPSieNode,
  customApi,
  deleteVN,
  eventually,
  lifecycleActivities,
  machinesOf,
  makeDeps,
  readVN,
  simMachines,
  startLifecycle,
  startLifecycleWorker,
} from './helpers';

const JOIN = { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } };
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

describe('a VPSieNode not owned by an existing NodeGroup is refused at the start of its lifecycle', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  let tq: string;
  let group: string;
  let stopWorker: (() => Promise<void>) | undefined;
  const handles: WorkflowHandle[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    ns = await sb.namespace('lc-owner');
    tq = sb.taskQueue('lc-owner');
    group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(makeDeps(sb.endpoints, sb.temporal)));
    stopWorker = w.stop;
  });

  after(async () => {
    for (const h of handles) await h.terminate('test over').catch(() => undefined);
    await stopWorker?.();
  });

  async function reasonsOf(name: string): Promise<string[]> {
    return (await sb.core.listNamespacedEvent({ namespace: ns })).items
      .filter((e) => e.involvedObject.name === name && e.involvedObject.kind === 'VPSieNode')
      .map((e) => e.reason ?? '');
  }

  /** Runs the lifecycle of `name` until it ends; fails at once if a machine appears for `uid`. */
  async function runToEnd(name: string, uid: string, nodeGroup: string, signal: { deleting?: boolean } = {}): Promise<void> {
    const h = await startLifecycle(sb.temporal, tq, { namespace: ns, name, nodeGroup, settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 20 } }, signal);
    handles.push(h);
    await eventually(`the lifecycle of ${name} to end`, 60_000, async () => {
      const machines = await machinesOf(sb, uid);
      if (machines.length > 0) throw new Error(`a machine was created for ${name}: ${machines.map((m) => m.hostname).join(', ')}`);
      const d = await h.describe();
      return d.status.name === 'RUNNING' ? undefined : d.status.name;
    }).catch(async (e: unknown) => {
      // Surface a machine as the failure, not the timeout.
      const machines = await machinesOf(sb, uid);
      if (machines.length > 0) throw new Error(`a machine was created for unowned VPSieNode ${name} (${machines.length})`);
      throw e;
    });
    expect((await h.describe()).status.name).to.equal('COMPLETED');
  }

  it('without a controller ownerReference: no machine is created, and it carries a NotOwnedByNodeGroup Event and Error condition', async () => {
    const vn = await createVPSieNode(sb, ns, uniqueName(`${group}-noowner`), group, JOIN, { ownerReferences: [] });
    await runToEnd(vn.metadata.name, vn.metadata.uid!, group);
    expect(await machinesOf(sb, vn.metadata.uid!)).to.have.length(0);
    const cur = await readVN(sb, ns, vn.metadata.name);
    expect(cur?.status?.phase, 'a refused VPSieNode gets no phase').to.equal(undefined);
    const err = (cur?.status?.conditions ?? []).find((c) => c.type === 'Error');
    expect(err, JSON.stringify(cur?.status)).to.include({ status: 'True', reason: 'NotOwnedByNodeGroup' });
    expect(err!.message).to.include('no controller ownerReference');
    expect(await reasonsOf(vn.metadata.name)).to.include('NotOwnedByNodeGroup');
  });

  it('naming a NodeGroup that does not exist: nothing is provisioned from defaults', async () => {
    const missing = uniqueName('missing');
    const vn = await createVPSieNode(sb, ns, uniqueName(`${missing}-a`), missing, JOIN, {
      ownerReferences: [{ apiVersion: API_VERSION, kind: NODEGROUP_KIND, name: missing, uid: '00000000-0000-0000-0000-00000000beef', controller: true }],
      // kube-controller-manager's garbage collector deletes a dependent whose owner does not exist;
      // the finalizer keeps it (deleting) until the lifecycle has refused it and let it go.
      finalizers: [VPSIENODE_FINALIZER],
    });
    await runToEnd(vn.metadata.name, vn.metadata.uid!, missing);
    expect(await machinesOf(sb, vn.metadata.uid!)).to.have.length(0);
    // The Event is the durable record (the object itself goes once the finalizer is released).
    const events = (await sb.core.listNamespacedEvent({ namespace: ns })).items.filter(
      (e) => e.involvedObject.name === vn.metadata.name && e.involvedObject.kind === 'VPSieNode' && e.reason === 'NotOwnedByNodeGroup',
    );
    expect(events, 'a NotOwnedByNodeGroup Event').to.have.length.greaterThan(0);
    expect(events[0]!.message).to.include('does not exist');
    const cur = await readVN(sb, ns, vn.metadata.name);
    if (cur !== undefined) {
      const err = (cur.status?.conditions ?? []).find((c) => c.type === 'Error');
      expect(err, JSON.stringify(cur.status)).to.include({ status: 'True', reason: 'NotOwnedByNodeGroup' });
      expect(err!.message).to.include('does not exist');
    }
  });

  it('with a forged owner uid, deleted: the machine its spec.vpsieIdentifier names is not deleted, the Node its status.nodeName names is neither drained nor deleted, and it goes away', async () => {
    // A machine and a Node that belong to someone else.
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const victimHost = uniqueName('victim');
    const requestId = uniqueName('victim-request');
    const request = {
      requestId,
      hostname: victimHost,
      plan: 'small-2cpu-4gb',
      datacenter: 'us-east-1',
      osImage: 'ubuntu-22.04-lts',
      notes: 'not the orchestrator',
    };
    const victimVm = await eventually(
      'the victim VM listed',
      60_000,
      async () => {
        const r = await deps.vpsie.ensureVm(request);
        return r.state === 'listed' ? r.vm : undefined;
      },
      500,
    );
    const victimNode = uniqueName('victim-node');
    await sb.core.createNode({ body: { metadata: { name: victimNode, labels: { 'vpsie.test/victim': 'true' } } } });

    const vn = await createVPSieNode(sb, ns, uniqueName(`${group}-forged`), group, JOIN, {
      ownerReferences: [{ apiVersion: API_VERSION, kind: NODEGROUP_KIND, name: group, uid: '00000000-0000-0000-0000-0000000f0f0f', controller: true }],
      finalizers: [VPSIENODE_FINALIZER],
      spec: { vpsieIdentifier: victimVm.identifier, hostname: victimHost },
    });
    await customApi(sb).patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name: vn.metadata.name, body: { status: { nodeName: victimNode } } },
      MERGE,
    );
    await deleteVN(sb, ns, vn.metadata.name); // held by the finalizer
    await runToEnd(vn.metadata.name, vn.metadata.uid!, group, { deleting: true });

    const node = await sb.core.readNode({ name: victimNode });
    expect(node.spec?.unschedulable ?? false, 'the victim Node was cordoned').to.equal(false);
    const vm = (await simMachines(sb)).find((m) => m.identifier === victimVm.identifier);
    expect(vm?.phase, 'the victim VM').to.not.equal('deleted');
    expect(vm, 'the victim VM').to.not.equal(undefined);
    // Nothing was provisioned for it, so the finalizer is released and the object goes.
    await eventually('the refused VPSieNode gone', 30_000, async () => ((await readVN(sb, ns, vn.metadata.name)) === undefined ? true : undefined));
    expect(await reasonsOf(vn.metadata.name)).to.include('NotOwnedByNodeGroup');
  });
});
