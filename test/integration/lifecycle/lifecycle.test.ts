import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { VPSIENODE_FINALIZER } from '../../../lib/crds';
import { vpsieNodeStateQuery } from '../../../workflows/contracts';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';
import {
  BOOTSTRAP_TOKEN,
  createBootstrapSecret,
  createNodeGroup,
  createVPSieNode,
  deleteVN,
  eventually,
  lifecycleActivities,
  machinesOf,
  makeDeps,
  maybeRecordHistory,
  readVN,
  startLifecycle,
  startLifecycleWorker,
} from './helpers';

const LABELS = { 'workload-type': 'lifecycle-test', tier: 'batch' };
const TAINTS = [{ key: 'dedicated', value: 'lifecycle', effect: 'NoSchedule' as const }];

describe('VPSieNode lifecycle on the sandbox (real Temporal, kube-apiserver, VPSie simulator)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });

  async function eventsOf(namespace: string, name: string): Promise<k8s.CoreV1Event[]> {
    return (await sb.core.listNamespacedEvent({ namespace })).items.filter((e) => e.involvedObject.name === name && e.involvedObject.kind === 'VPSieNode');
  }

  it('UserData: Pending → Provisioning → Provisioned → Joining → Ready with the group labels, taints and providerID; API delete → drain → Terminating → Deleted, VPS, Node and CR gone', async () => {
    const ns = await sb.namespace('lc-happy');
    const tq = sb.taskQueue('lc-happy');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group, { labels: LABELS, taints: TAINTS });
    const vn = await createVPSieNode(sb, ns, `${group}-a`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid!;
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    try {
      const input = { namespace: ns, name: vn.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 60, maxPodGracePeriodSeconds: 5 } };
      const handle = await startLifecycle(sb.temporal, tq, input);
      // A second signal-with-start (the watcher seeing an update) is a no-op: same run.
      const again = await startLifecycle(sb.temporal, tq, input);
      expect(again.signaledRunId).to.equal(handle.signaledRunId);

      const ready = await eventually('VPSieNode Ready', 90_000, async () => {
        const cur = await readVN(sb, ns, vn.metadata.name);
        return cur?.status?.phase === 'Ready' ? cur : undefined;
      });
      // Status: every phase time, node name, IPs, conditions; spec: the machine identity.
      expect(Object.keys(ready.status!.phaseTimes!)).to.have.members(['pending', 'provisioning', 'provisioned', 'joining', 'ready']);
      expect(ready.spec.vpsieIdentifier).to.be.a('string');
      expect(ready.spec.hostname).to.be.a('string');
      expect(ready.metadata.finalizers).to.include(VPSIENODE_FINALIZER);
      expect(ready.status!.privateIPv4).to.match(/^\d+\.\d+\.\d+\.\d+$/);
      const conds = Object.fromEntries((ready.status!.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
      expect(conds).to.include({ VPSRunning: 'True/VPSRunning', NodeRegistered: 'True/NodeRegistered', Ready: 'True/NodeReady', Error: 'False/NoError' });

      const node = await sb.core.readNode({ name: ready.status!.nodeName! });
      expect(node.spec?.providerID).to.equal(`vpsie://${ready.spec.vpsieIdentifier}`);
      expect(node.metadata?.labels).to.include({ ...LABELS, 'autoscaler.vpsie.com/nodegroup': group });
      expect((node.spec?.taints ?? []).filter((t) => t.key === 'dedicated')).to.deep.equal([{ key: 'dedicated', value: 'lifecycle', effect: 'NoSchedule' }]);
      const machines = await machinesOf(sb, uid);
      expect(machines).to.have.length(1);
      expect(machines[0]!.phase).to.equal('running');

      const state = await handle.query(vpsieNodeStateQuery);
      expect(state).to.include({ phase: 'Ready', nodeName: node.metadata!.name, vpsieIdentifier: ready.spec.vpsieIdentifier });
      const reasons = (await eventsOf(ns, vn.metadata.name)).map((e) => e.reason);
      expect(reasons).to.include.members(['VPSRequested', 'VPSCreating', 'VPSRunning', 'AwaitingNode', 'NodeReady']);
      const desc = await handle.describe();
      expect(desc.searchAttributes).to.deep.include({ NodeGroup: [`${ns}/${group}`], VPSieNode: [`${ns}/${vn.metadata.name}`], Phase: ['Ready'] });

      // A pod on the node (tolerating the group's taint) that the drain must evict.
      await sb.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'victim', namespace: ns },
          spec: {
            nodeName: node.metadata!.name,
            terminationGracePeriodSeconds: 3,
            tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }],
          },
        },
      });
      await eventually('victim running', 30_000, async () => ((await sb.core.readNamespacedPod({ name: 'victim', namespace: ns })).status?.phase === 'Running' ? true : undefined));

      // The user (or the NodeGroup workflow) deletes the VPSieNode; the watcher signals.
      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      const result = await handle.result();
      expect(result.outcome).to.equal('Deleted');
      expect(result.drain?.outcome).to.equal('Drained');
      expect(result.drain?.evicted).to.equal(1);

      expect(await readVN(sb, ns, vn.metadata.name)).to.equal(undefined);
      await eventually('Node deleted', 30_000, async () => {
        try {
          await sb.core.readNode({ name: node.metadata!.name! });
          return undefined;
        } catch (e) {
          return (e as { code?: number }).code === 404 ? true : undefined;
        }
      });
      const after = await machinesOf(sb, uid);
      expect(after.map((m) => m.phase)).to.deep.equal(['deleted']);
      const pods = (await sb.core.listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata?.name);
      expect(pods).to.not.include('victim');
      const metrics = await deps.registry.getSingleMetricAsString('vpsie_autoscaler_vpsienode_phase_transitions_total');
      for (const phase of ['Provisioning', 'Provisioned', 'Joining', 'Ready', 'Terminating', 'Deleted']) expect(metrics).to.include(`phase="${phase}"`);
      expect(await deps.registry.getSingleMetricAsString('vpsie_autoscaler_node_provisioning_duration_seconds')).to.match(/_count\{nodegroup="[^"]+"\} 1/);
      expect(await deps.registry.getSingleMetricAsString('vpsie_autoscaler_node_joining_duration_seconds')).to.match(/_count\{nodegroup="[^"]+"\} 1/);
      maybeRecordHistory(sb, handle, 'userdata-happy-path-to-deleted');
    } finally {
      await w.stop();
    }
  });
});
