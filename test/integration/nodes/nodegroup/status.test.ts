/**
 * NodeGroup status fields of documents 001 and 004 on the sandbox: `status.nodeList[].vpsID` (the
 * VPS of each VPSieNode, as VPSie numbers it) and `status.vpsieGroupID` (the VPSie managed-Kubernetes
 * node group whose workers a ManagedKubernetes group joins), read as a user reads them (kubectl).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { nodeGroupScaleUpUpdate, nodeGroupWorkflowId } from '../../../../workflows/nodes/contracts';
import type { NodeGroupStatus } from '../../../../lib/crds/autoscaler/nodegroup';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { createGroup, deleteGroup, eventually, groupVNs, liveMachinesOfNamespace, readGroup, startTestOrchestrator } from '../../../support/orchestrator';
import { simMachines } from '../lifecycle/helpers';

describe('NodeGroup status: nodeList vpsID and vpsieGroupID (documents 001, 004) on the sandbox', function () {
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

  /** The NodeGroup's status as `kubectl get nodegroup -o json` shows it. */
  function kubectlStatus(ns: string, group: string): NodeGroupStatus | undefined {
    const out = execFileSync(sb.endpoints.kubectl, ['get', 'nodegroups.autoscaler.vpsie.com', group, '-n', ns, '-o', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: sb.kubeconfig },
    });
    return (JSON.parse(out) as { status?: NodeGroupStatus }).status;
  }

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

  it("after a scale-up, every nodeList entry carries the VPSieNode's spec.vpsID, which is the id VPSie gives the VM", async () => {
    const ns = await sb.namespace('ng-vpsid');
    const tq = sb.taskQueue('ng-vpsid');
    const group = uniqueName('ng');
    const orch = await startTestOrchestrator(sb, ns, tq);
    running.push(orch);
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: 3 });
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    await eventually('group workflow running', 30_000, async () => ((await handle.describe()).status.name === 'RUNNING' ? true : undefined));
    const res = await handle.executeUpdate(nodeGroupScaleUpUpdate, {
      args: [{ requestId: randomUUID(), nodes: [{ offeringID: 'small-2cpu-4gb', count: 2 }], reason: 'PendingPods' }],
    });
    expect(res.created).to.have.length(2);
    const vns = await eventually('2 VPSieNodes Ready', 180_000, async () => {
      const v = (await groupVNs(sb, ns, group)).filter((x) => !x.deleting);
      return v.length === 2 && v.every((x) => x.phase === 'Ready') ? v : undefined;
    });
    const status = await eventually('the nodeList with 2 Ready entries carrying vpsID', 60_000, async () => {
      const s = kubectlStatus(ns, group);
      const list = s?.nodeList ?? [];
      return list.length === 2 && list.every((n) => n.status === 'Ready' && n.vpsID !== undefined) ? s : undefined;
    });
    for (const v of vns) {
      const spec = v.spec as { vpsID?: number; vpsieIdentifier?: string };
      expect(spec.vpsID, `${v.name} spec.vpsID`).to.be.a('number');
      const entry = status.nodeList!.find((n) => n.vpsieNodeName === v.name)!;
      expect(entry).to.include({ vpsID: spec.vpsID, vpsieIdentifier: spec.vpsieIdentifier, nodeName: v.nodeName });
      // VPSie's own id of that VM.
      const vm = await orch.deps.vpsie.getVm(spec.vpsieIdentifier!);
      expect(vm.id).to.equal(entry.vpsID);
    }
    expect(new Set(status.nodeList!.map((n) => n.vpsID)).size).to.equal(2);
    expect(status.vpsieGroupID, 'a UserData group joins no VPSie group').to.equal(undefined);
    await deleteAndWait(ns, group);
  });

  it('a ManagedKubernetes group reports in status.vpsieGroupID the VPSie node group its workers come from', async () => {
    const ns = await sb.namespace('ng-vgid');
    const tq = sb.taskQueue('ng-vgid');
    const group = uniqueName('mk');
    const orch = await startTestOrchestrator(sb, ns, tq);
    running.push(orch);
    // No groupIdentifier: the group is found or created per offering, so only the status says which one.
    await createGroup(sb, ns, group, { minNodes: 1, maxNodes: 2, join: { method: 'ManagedKubernetes' } });
    const [vn] = await eventually('1 VPSieNode Ready', 240_000, async () => {
      const v = (await groupVNs(sb, ns, group)).filter((x) => !x.deleting);
      return v.length === 1 && v[0]!.phase === 'Ready' ? v : undefined;
    });
    const worker = (vn!.spec as { vpsieIdentifier?: string }).vpsieIdentifier;
    expect(worker).to.be.a('string');
    const machine = (await simMachines(sb)).find((m) => m.identifier === worker) as { groupId?: number | null } | undefined;
    expect(machine?.groupId, 'the simulator puts the worker in a VPSie group').to.be.a('number');
    const status = await eventually('status.vpsieGroupID', 60_000, async () => {
      const s = kubectlStatus(ns, group);
      return s?.vpsieGroupID !== undefined && (s.nodeList ?? []).some((n) => n.status === 'Ready') ? s : undefined;
    });
    expect(status.vpsieGroupID).to.equal(String(machine!.groupId));
    expect(status.nodeList!.find((n) => n.vpsieNodeName === vn!.name)).to.include({ vpsieIdentifier: worker });
    // The worker's VPS id reaches spec.vpsID and the nodeList entry, as for a UserData node.
    // VPSie's own id of the worker's VM.
    const machineId = (await orch.deps.vpsie.getVm(worker!)).id;
    const withId = await eventually('the worker VPS id in nodeList', 60_000, async () => {
      const e = (kubectlStatus(ns, group)?.nodeList ?? []).find((n) => n.vpsieNodeName === vn!.name);
      return e?.vpsID !== undefined ? e : undefined;
    });
    expect(withId.vpsID).to.equal(machineId);
    const spec = (await groupVNs(sb, ns, group)).find((x) => x.name === vn!.name)?.spec as { vpsID?: number } | undefined;
    expect(spec?.vpsID).to.equal(machineId);
    await deleteAndWait(ns, group);
  });
});
