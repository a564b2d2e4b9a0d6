import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { GROUP, VERSION, VPSIENODE_FINALIZER, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import type { VPSieNode } from '../../../../lib/crds/autoscaler/vpsienode';
import { vpsieNodeStateQuery } from '../../../../workflows/nodes/contracts';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { historyOf } from './history-inspect';
import { createVPSieMachineActivities } from '../../../../activities/nodes/lifecycle/machines';
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
  simAdmin,
  simMachines,
  startLifecycle,
  startLifecycleWorker,
  freshVPSieGroup,
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

  it('UserData: Pending → Provisioning → Provisioned → Joining → Ready with the group labels, taints and providerID; API delete → drain → Terminating → Deleting (VPS delete in flight) → Deleted, VPS, Node and CR gone', async () => {
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
      const input = {
        namespace: ns,
        name: vn.metadata.name,
        nodeGroup: group,
        settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 60, maxPodGracePeriodSeconds: 5 },
      };
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
          // A bare pod: every drain re-checks the safety rules (issue #12), so it says it may be evicted.
          metadata: { name: 'victim', namespace: ns, annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } },
          spec: {
            nodeName: node.metadata!.name,
            terminationGracePeriodSeconds: 3,
            tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }],
          },
        },
      });
      await eventually('victim running', 30_000, async () =>
        (await sb.core.readNamespacedPod({ name: 'victim', namespace: ns })).status?.phase === 'Running' ? true : undefined,
      );

      // Every version of the VPSieNode the apiserver shows from here on.
      const versions: { phase?: string; status?: VPSieNode['status'] }[] = [];
      const watch = await new k8s.Watch(sb.kc).watch(
        `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${VPSIENODE_PLURAL}`,
        { fieldSelector: `metadata.name=${vn.metadata.name}` },
        (_type: string, o: VPSieNode) => versions.push({ ...(o.status?.phase ? { phase: o.status.phase } : {}), ...(o.status ? { status: o.status } : {}) }),
        () => undefined,
      );
      // The user (or the NodeGroup workflow) deletes the VPSieNode; the watcher signals.
      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      const result = await handle.result();
      watch.abort();
      // Terminating → Deleting → Deleted, each seen: Deleting (document 004) carries its own time and condition.
      const phasesSeen = versions.map((v) => v.phase).filter((p, i, a) => p !== undefined && p !== a[i - 1]);
      expect(phasesSeen.slice(phasesSeen.indexOf('Terminating'))).to.deep.equal(['Terminating', 'Deleting', 'Deleted']);
      const deletingVersion = versions.find((v) => v.phase === 'Deleting')!;
      const dconds = Object.fromEntries((deletingVersion.status!.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
      expect(dconds).to.include({ VPSRunning: 'False/VPSDeleting' });
      const last = versions[versions.length - 1]!.status!.phaseTimes!;
      expect(Date.parse(last.terminating!)).to.be.at.most(Date.parse(last.deleting!));
      expect(Date.parse(last.deleting!)).to.be.at.most(Date.parse(last.deleted!));
      // The Deleting status is written before the VPS delete call, Deleted after it (the activities in history order).
      const acts = (await historyOf(handle)).events
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => {
          const a = e.activityTaskScheduledEventAttributes!;
          const name = a.activityType?.name ?? '';
          if (name !== 'recordTransition') return name;
          const payload = a.input?.payloads?.[0]?.data;
          const to = payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { to?: string }).to : undefined;
          return `recordTransition:${to ?? ''}`;
        });
      expect(acts.indexOf('recordTransition:Deleting')).to.be.greaterThan(acts.indexOf('recordTransition:Terminating'));
      expect(acts.indexOf('deleteMachine')).to.be.greaterThan(acts.indexOf('recordTransition:Deleting'));
      expect(acts.indexOf('recordTransition:Deleted')).to.be.greaterThan(acts.indexOf('deleteMachine'));
      expect((await eventsOf(ns, vn.metadata.name)).map((e) => e.reason)).to.include.members(['DrainInProgress', 'VPSDeleting', 'VPSDeleted']);
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
      for (const phase of ['Provisioning', 'Provisioned', 'Joining', 'Ready', 'Terminating', 'Deleting', 'Deleted'])
        expect(metrics).to.include(`phase="${phase}"`);
      expect(await deps.registry.getSingleMetricAsString('vpsie_autoscaler_node_provisioning_duration_seconds')).to.match(/_count\{nodegroup="[^"]+"\} 1/);
      expect(await deps.registry.getSingleMetricAsString('vpsie_autoscaler_node_joining_duration_seconds')).to.match(/_count\{nodegroup="[^"]+"\} 1/);
      // Recorded with PATCH_DELETING_PHASE (userdata-happy-path-to-deleted.json is the run from before it).
      maybeRecordHistory(sb, handle, 'userdata-happy-path-deleting-phase');
    } finally {
      await w.stop();
    }
  });
  it('VPSie showing a created VM only after 10 s: the lifecycle polls every second and still creates exactly one VM (create recorded before the POST, settle window)', async () => {
    const ns = await sb.namespace('lc-slow-create');
    const tq = sb.taskQueue('lc-slow-create');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group);
    const vn = await createVPSieNode(sb, ns, `${group}-slow`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid!;
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    await simAdmin(sb, 'PATCH', '/config', { createVisibilityDelayMs: 10_000 });
    try {
      const input = { namespace: ns, name: vn.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 30 } };
      await startLifecycle(sb.temporal, tq, input);
      const ready = await eventually('VPSieNode Ready', 120_000, async () => {
        const cur = await readVN(sb, ns, vn.metadata.name);
        return cur?.status?.phase === 'Ready' ? cur : undefined;
      });
      expect(ready.metadata.annotations?.['autoscaler.vpsie.com/create-sent-at']).to.be.a('string');
      const machines = await machinesOf(sb, uid);
      expect(machines, 'machines with this VPSieNode request id').to.have.length(1);
      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      await eventually('VPSieNode gone', 60_000, async () => ((await readVN(sb, ns, vn.metadata.name)) === undefined ? true : undefined));
    } finally {
      await simAdmin(sb, 'PATCH', '/config', { createVisibilityDelayMs: 0 });
      await w.stop();
    }
  });

  it("the scale-up's early create racing the lifecycle's (#13): ten concurrent calls on one VPSieNode, VPSie showing creates only after 3 s, send exactly one create", async () => {
    const ns = await sb.namespace('lc-early-race');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group);
    const vn = await createVPSieNode(sb, ns, `${group}-race`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const machines = createVPSieMachineActivities(makeDeps(sb.endpoints, sb.temporal));
    const ref = { namespace: ns, name: vn.metadata.name };
    await simAdmin(sb, 'PATCH', '/config', { createVisibilityDelayMs: 3_000 });
    try {
      const calls = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          i % 2 === 0
            ? machines.createMachinesEarly({ vpsieNodes: [ref], nodeGroup: group, budgetMs: 5_000 }).then((r) => r.sent.length)
            : machines.ensureMachine({ vpsieNode: ref, nodeGroup: group }).then((m) => (m.created ? 1 : 0)),
        ),
      );
      const sent = calls.reduce((n, c) => n + (c.status === 'fulfilled' ? c.value : 0), 0);
      expect(sent, `creates sent by the ten calls: ${JSON.stringify(calls.map((c) => (c.status === 'fulfilled' ? c.value : String(c.reason))))}`).to.equal(1);
      const seen = await eventually('the VM listed', 30_000, async () => {
        const m = await machinesOf(sb, vn.metadata.uid!);
        return m.length > 0 ? m : undefined;
      });
      expect(seen).to.have.length(1);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await machinesOf(sb, vn.metadata.uid!)).to.have.length(1);
    } finally {
      await simAdmin(sb, 'PATCH', '/config', { createVisibilityDelayMs: 0 });
      await deleteVN(sb, ns, vn.metadata.name).catch(() => undefined);
      await machines.deleteMachine({ vpsieNode: ref, nodeGroup: group }).catch(() => undefined);
    }
  });

  it('a create VPSie refused (429 on every attempt) takes its create-sent mark back: the next attempt creates at once instead of waiting out the settle window', async () => {
    const ns = await sb.namespace('lc-create-429');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group);
    const vn = await createVPSieNode(sb, ns, `${group}-429`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const machines = createVPSieMachineActivities(makeDeps(sb.endpoints, sb.temporal));
    const ref = { namespace: ns, name: vn.metadata.name };
    await simAdmin(sb, 'POST', '/faults', { kind: 'rate429', match: 'POST /api/v2/vm', times: 3, retryAfterSeconds: 1 });
    try {
      let err: unknown;
      await machines.ensureMachine({ vpsieNode: ref, nodeGroup: group }).catch((e: unknown) => (err = e));
      expect(String(err)).to.match(/rate|429|Too many/i);
      expect((await readVN(sb, ns, vn.metadata.name))?.metadata.annotations?.['autoscaler.vpsie.com/create-sent-at'], 'mark taken back').to.equal(undefined);
      const m = await machines.ensureMachine({ vpsieNode: ref, nodeGroup: group });
      expect(m.created, 'created on the next attempt').to.equal(true);
      expect((await readVN(sb, ns, vn.metadata.name))?.metadata.annotations?.['autoscaler.vpsie.com/create-sent-at']).to.be.a('string');
    } finally {
      await simAdmin(sb, 'DELETE', '/faults');
      await deleteVN(sb, ns, vn.metadata.name).catch(() => undefined);
      await eventually('the VM listed', 30_000, async () => ((await machinesOf(sb, vn.metadata.uid!)).length > 0 ? true : undefined)).catch(() => undefined);
      await machines.deleteMachine({ vpsieNode: ref, nodeGroup: group }).catch(() => undefined);
    }
  });

  it('a VM that never joins: Joining → Failed (JoinTimeout) → cleaned up after the TTL: VPS deleted, no Node, CR gone, vpsienode_ttl_deletions_total counted', async () => {
    const ns = await sb.namespace('lc-ttl');
    const tq = sb.taskQueue('lc-ttl');
    const group = uniqueName('ng');
    // A cloud-config without the join configuration: the VM boots and never registers a Node.
    await createBootstrapSecret(sb, ns, 'bootstrap', '#cloud-config\nruncmd: []\n');
    await createNodeGroup(sb, ns, group, { labels: LABELS });
    const vn = await createVPSieNode(sb, ns, `${group}-a`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid!;
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    try {
      const handle = await startLifecycle(sb.temporal, tq, {
        namespace: ns,
        name: vn.metadata.name,
        nodeGroup: group,
        settings: { pollIntervalSeconds: 1, joinTimeoutSeconds: 3, failedNodeTtlSeconds: 4 },
      });
      const failed = await eventually('VPSieNode Failed', 90_000, async () => {
        const cur = await readVN(sb, ns, vn.metadata.name);
        return cur?.status?.phase === 'Failed' ? cur : undefined;
      });
      expect(failed.status!.lastError).to.include({ reason: 'JoinTimeout', phase: 'Joining' });
      expect(failed.status!.conditions!.find((c) => c.type === 'NodeRegistered')).to.include({ status: 'False', reason: 'JoinTimeout' });
      expect((await machinesOf(sb, uid)).map((m) => m.phase)).to.deep.equal(['running']);
      expect((await eventsOf(ns, vn.metadata.name)).find((e) => e.reason === 'JoinTimeout')?.type).to.equal('Warning');

      const result = await handle.result();
      expect(result.outcome).to.equal('CleanedUpAfterTtl');
      expect(result.lastError?.reason).to.equal('JoinTimeout');
      expect(await readVN(sb, ns, vn.metadata.name)).to.equal(undefined);
      const machines = await machinesOf(sb, uid);
      expect(machines.map((m) => m.phase)).to.deep.equal(['deleted']);
      const names = (await sb.core.listNode()).items.map((n) => n.metadata?.name);
      expect(names).to.not.include(machines[0]!.hostname);
      expect(await deps.registry.getSingleMetricAsString('vpsie_autoscaler_vpsienode_ttl_deletions_total')).to.include(
        `vpsie_autoscaler_vpsienode_ttl_deletions_total{nodegroup="${ns}/${group}"} 1`,
      );
      maybeRecordHistory(sb, handle, 'userdata-join-timeout-failed-ttl-cleanup');
    } finally {
      await w.stop();
    }
  });

  it('crash safety: the worker process is SIGKILLed while the create call is in flight; after a restart exactly one VPS exists and the node reaches Ready, then Deleted', async () => {
    const ns = await sb.namespace('lc-crash');
    const tq = sb.taskQueue('lc-crash');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group, { labels: LABELS, taints: TAINTS });
    const vn = await createVPSieNode(sb, ns, `${group}-a`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid!;
    // The next VM create is held 5 s by the simulator before it is applied: the worker dies meanwhile.
    await simAdmin(sb, 'DELETE', '/faults');
    await simAdmin(sb, 'POST', '/faults', { kind: 'latency', match: 'POST /api/v2/vm', ms: 5000 });
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')], {
      env: { ...process.env, LIFECYCLE_WORKER: JSON.stringify({ endpoints: sb.endpoints, taskQueue: tq }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let w: Awaited<ReturnType<typeof startLifecycleWorker>> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
        child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
      });
      const input = { namespace: ns, name: vn.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 30 } };
      const handle = await startLifecycle(sb.temporal, tq, input);
      // The fault is taken when the create request reaches the simulator: the POST is in flight.
      await eventually(
        'create request in flight',
        60_000,
        async () => (((await simAdmin(sb, 'GET', '/faults')) as unknown[]).length === 0 ? true : undefined),
        50,
      );
      expect((await readVN(sb, ns, vn.metadata.name))?.status?.phase).to.equal('Provisioning');
      child.kill('SIGKILL');
      await exited;
      // The simulator applies the create after the worker died.
      await eventually('the orphaned create applied', 30_000, async () => ((await machinesOf(sb, uid)).length === 1 ? true : undefined));

      const deps = makeDeps(sb.endpoints, sb.temporal);
      w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
      const ready = await eventually('VPSieNode Ready after the restart', 120_000, async () => {
        const cur = await readVN(sb, ns, vn.metadata.name);
        return cur?.status?.phase === 'Ready' ? cur : undefined;
      });
      const machines = await machinesOf(sb, uid);
      expect(machines, 'exactly one VPS for the VPSieNode').to.have.length(1);
      expect(machines[0]!.identifier).to.equal(ready.spec.vpsieIdentifier);
      // The create activity really was interrupted and retried (attempt > 1 in the history).
      const history = await handle.fetchHistory();
      const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
      expect(Math.max(...attempts)).to.be.greaterThan(1);

      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      expect((await handle.result()).outcome).to.equal('Deleted');
      expect((await machinesOf(sb, uid)).map((m) => m.phase)).to.deep.equal(['deleted']);
      expect(await readVN(sb, ns, vn.metadata.name)).to.equal(undefined);
      maybeRecordHistory(sb, handle, 'userdata-worker-crash-mid-create');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await simAdmin(sb, 'DELETE', '/faults').catch(() => undefined);
      await w?.stop();
    }
  });

  it('a run that starts on a VPSieNode in Deleting (its predecessor ended with the VPS delete in flight) goes on deleting: no drain, no Terminating, delete then Deleted', async () => {
    const ns = await sb.namespace('lc-resume-deleting');
    const tq = sb.taskQueue('lc-resume-deleting');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group, { labels: LABELS, taints: TAINTS });
    const vn = await createVPSieNode(sb, ns, `${group}-a`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid!;
    await simAdmin(sb, 'DELETE', '/faults');
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    try {
      const input = { namespace: ns, name: vn.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 30 } };
      const first = await startLifecycle(sb.temporal, tq, input);
      await eventually('VPSieNode Ready', 120_000, async () => ((await readVN(sb, ns, vn.metadata.name))?.status?.phase === 'Ready' ? true : undefined));
      await simAdmin(sb, 'POST', '/faults', { kind: 'latency', match: 'DELETE /api/v2/vm', ms: 8000 });
      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      await eventually(
        'the VPS delete in flight',
        90_000,
        async () => (((await simAdmin(sb, 'GET', '/faults')) as unknown[]).length === 0 ? true : undefined),
        50,
      );
      expect((await readVN(sb, ns, vn.metadata.name))?.status?.phase).to.equal('Deleting');
      // The run ends there (an operator's terminate, a lost history): the next one starts from the object.
      await first.terminate('test: the run ends with its VPS delete in flight');
      const second = await startLifecycle(sb.temporal, tq, input, { deleting: true });
      expect(second.signaledRunId).to.not.equal(first.signaledRunId);
      const result = await second.result();
      expect(result.outcome).to.equal('Deleted');
      expect((await machinesOf(sb, uid)).map((m) => m.phase)).to.deep.equal(['deleted']);
      expect(await readVN(sb, ns, vn.metadata.name)).to.equal(undefined);
      const events = (await sb.temporal.workflow.getHandle(second.workflowId, second.signaledRunId).fetchHistory()).events ?? [];
      const acts = events.flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        if (!a) return [];
        const name = a.activityType?.name ?? '';
        if (name !== 'recordTransition') return [name];
        const data = a.input?.payloads?.[0]?.data;
        return [`to:${data ? ((JSON.parse(Buffer.from(data).toString('utf8')) as { to?: string }).to ?? '') : ''}`];
      });
      expect(
        events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
        'no second drain',
      ).to.have.length(0);
      expect(acts).to.not.include('to:Terminating');
      expect(acts.filter((a) => a === 'deleteMachine' || a.startsWith('to:'))).to.deep.equal(['deleteMachine', 'to:Deleted']);
      maybeRecordHistory(sb, second, 'deleting-phase-run-resumes-in-deleting');
    } finally {
      await simAdmin(sb, 'DELETE', '/faults').catch(() => undefined);
      await w.stop();
    }
  });

  it('Deleting is the VPS delete in flight: while VPSie holds the delete the VPSieNode is Deleting with its VPS still there; the worker SIGKILLed then, a restart finishes the delete (no second drain), Deleted, one VPS, CR gone', async () => {
    const ns = await sb.namespace('lc-deleting');
    const tq = sb.taskQueue('lc-deleting');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group, { labels: LABELS, taints: TAINTS });
    const vn = await createVPSieNode(sb, ns, `${group}-a`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid!;
    await simAdmin(sb, 'DELETE', '/faults');
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')], {
      env: { ...process.env, LIFECYCLE_WORKER: JSON.stringify({ endpoints: sb.endpoints, taskQueue: tq }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let w: Awaited<ReturnType<typeof startLifecycleWorker>> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
        child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
      });
      const input = { namespace: ns, name: vn.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 30 } };
      const handle = await startLifecycle(sb.temporal, tq, input);
      await eventually('VPSieNode Ready', 120_000, async () => ((await readVN(sb, ns, vn.metadata.name))?.status?.phase === 'Ready' ? true : undefined));
      // VPSie holds the next VM delete 8 s before applying it.
      await simAdmin(sb, 'POST', '/faults', { kind: 'latency', match: 'DELETE /api/v2/vm', ms: 8000 });
      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      await eventually(
        'the VPS delete in flight',
        90_000,
        async () => (((await simAdmin(sb, 'GET', '/faults')) as unknown[]).length === 0 ? true : undefined),
        50,
      );
      const during = (await readVN(sb, ns, vn.metadata.name))!;
      expect(during.status?.phase).to.equal('Deleting');
      expect(during.status?.phaseTimes?.deleting).to.be.a('string');
      expect(Date.parse(during.status!.phaseTimes!.deleting!)).to.be.at.least(Date.parse(during.status!.phaseTimes!.terminating!));
      expect(during.status?.conditions?.find((c) => c.type === 'VPSRunning')).to.include({ status: 'False', reason: 'VPSDeleting' });
      expect(
        (await machinesOf(sb, uid)).map((m) => m.phase),
        'the VPS is still there while its delete is in flight',
      ).to.deep.equal(['running']);
      expect((await handle.describe()).searchAttributes).to.deep.include({ Phase: ['Deleting'] });
      child.kill('SIGKILL');
      await exited;

      const deps = makeDeps(sb.endpoints, sb.temporal);
      w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
      const result = await handle.result();
      expect(result.outcome).to.equal('Deleted');
      expect((await machinesOf(sb, uid)).map((m) => m.phase)).to.deep.equal(['deleted']);
      expect(await readVN(sb, ns, vn.metadata.name)).to.equal(undefined);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(
        events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
        'one drain',
      ).to.have.length(1);
      const deletes = events.flatMap((e) =>
        e.activityTaskStartedEventAttributes &&
        events.find((x) => x.eventId?.toString() === e.activityTaskStartedEventAttributes!.scheduledEventId?.toString())?.activityTaskScheduledEventAttributes
          ?.activityType?.name === 'deleteMachine'
          ? [e.activityTaskStartedEventAttributes.attempt ?? 1]
          : [],
      );
      expect(Math.max(...deletes), 'the interrupted delete was retried').to.be.greaterThan(1);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await simAdmin(sb, 'DELETE', '/faults').catch(() => undefined);
      await w?.stop();
    }
  });

  it('ManagedKubernetes: two VPSieNodes of one VPSie group claim distinct workers (no extra worker), join with the group labels, and their workers are deleted with them', async () => {
    const ns = await sb.namespace('lc-mk');
    const tq = sb.taskQueue('lc-mk');
    const group = uniqueName('ng');
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const cluster = sb.endpoints.vpsie!.clusterIdentifier;
    const vg = await freshVPSieGroup(deps, cluster, group);
    const join = { method: 'ManagedKubernetes', groupIdentifier: String(vg.id) };
    await createNodeGroup(sb, ns, group, { labels: LABELS, taints: TAINTS, join });
    const vns = await Promise.all(['a', 'b'].map((s) => createVPSieNode(sb, ns, `${group}-${s}`, group, join)));
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    try {
      const inputs = vns.map((v) => ({ namespace: ns, name: v.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1 } }));
      const handles = await Promise.all(inputs.map((i) => startLifecycle(sb.temporal, tq, i)));
      const ready = await Promise.all(
        vns.map((v) =>
          eventually(`${v.metadata.name} Ready`, 120_000, async () => {
            const cur = await readVN(sb, ns, v.metadata.name);
            return cur?.status?.phase === 'Ready' ? cur : undefined;
          }),
        ),
      );
      const ids = ready.map((r) => r.spec.vpsieIdentifier);
      expect(new Set(ids).size, 'distinct workers').to.equal(2);
      const workers = await deps.vpsie.listClusterWorkers(cluster, vg.id);
      expect(workers.map((x) => x.identifier).sort()).to.deep.equal([...ids].sort());
      const g = (await deps.vpsie.listNodeGroups(cluster)).find((x) => x.id === vg.id);
      expect(g?.nodes_count, 'no worker added beyond the two claimed').to.equal(2);
      for (const r of ready) {
        const node = await sb.core.readNode({ name: r.status!.nodeName! });
        expect(node.spec?.providerID).to.equal(`vpsie://${r.spec.vpsieIdentifier}`);
        expect(node.metadata?.labels).to.include({ ...LABELS, 'autoscaler.vpsie.com/nodegroup': group });
        expect((node.spec?.taints ?? []).filter((t) => t.key === 'dedicated')).to.deep.equal([{ key: 'dedicated', value: 'lifecycle', effect: 'NoSchedule' }]);
      }
      for (const [i, v] of vns.entries()) {
        await deleteVN(sb, ns, v.metadata.name);
        await startLifecycle(sb.temporal, tq, inputs[i]!, { deleting: true });
      }
      for (const h of handles) expect((await h.result()).outcome).to.equal('Deleted');
      const alive = (await simMachines(sb)).filter((m) => ids.includes(m.identifier) && m.phase !== 'deleted');
      expect(alive).to.deep.equal([]);
      maybeRecordHistory(sb, handles[0]!, 'managed-kubernetes-claim-to-deleted');
    } finally {
      await w.stop();
      await deps.vpsie.deleteNodeGroup(vg.identifier).catch(() => undefined);
    }
  });
});
