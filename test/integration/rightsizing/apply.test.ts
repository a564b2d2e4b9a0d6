/**
 * Auto mode changes real workloads on the sandbox (issue #15): the orchestrator's policy workflow
 * runs a cycle (real metrics-server usage of kwok's simulated pods), the gate allows the change,
 * and the workflow resizes the running pods in place through pods/resize; the kwok kubelet
 * actuates it (sandbox/kwok/stages/pod-resize.yaml). Pods created afterwards come up at the new
 * size through the in-apiserver MutatingAdmissionPolicy (k8s/admission/optipod-pod-sizing.yaml),
 * also with the orchestrator stopped (it is not on the pod-create path at all). Recommend mode
 * never patches; a memory decrease below the observed peak is refused with its numbers.
 */
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { cpuMillis, memoryBytes, type OptimizationPolicyStatus } from '../../../lib/crds/optipod';
import { POD_SIZING_CONFIGMAP } from '../../../lib/crds/optipod/pod-sizing';
import type { Orchestrator } from '../../../workers/orchestrator';
import { optimizationPolicyWorkflowId } from '../../../workflows/rightsizing/policy';
import { recordHistory } from '../../support/histories';
import { startTestOrchestrator } from '../../support/orchestrator';
import { eventually } from '../../support/eventually';
import { MERGE, POLICY_API as G, createPolicy, livePods, podMetricsOf, policyStatus } from '../../support/rightsizing';
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';

const MiB = 2 ** 20;
const ENV = { RIGHTSIZING_MIN_SAMPLES: '1', SCALE_DOWN_ENABLED: 'false' };

describe('rightsizing applies recommendations on the sandbox: in place, at admission, refusals', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let custom: k8s.CustomObjectsApi;
  let apps: k8s.AppsV1Api;
  let orch: Orchestrator | undefined;
  let node: string;
  let ns: string;
  let taskQueue: string;

  const template = (app: string, usage: { cpu: number; mem: number }, resources: k8s.V1ResourceRequirements) => ({
    metadata: { labels: { app, tier: app }, annotations: { 'kwok.x-k8s.io/usage-cpu': `${usage.cpu}m`, 'kwok.x-k8s.io/usage-memory': `${usage.mem}Mi` } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources }],
    },
  });

  async function policy(name: string, tier: string, spec: Record<string, unknown>): Promise<void> {
    await createPolicy(sb, ns, name, {
      selector: { namespaces: { allow: [ns] }, workloadSelector: { matchLabels: { tier } } },
      reconciliationInterval: '10m',
      metricsConfig: { provider: 'metrics-server' },
      ...spec,
    });
  }

  const status = (name: string): Promise<OptimizationPolicyStatus> => policyStatus(sb, ns, name);

  let bump = 0;
  /** A spec change makes the watcher signal a new generation: a cycle now. */
  async function cycleNow(name: string): Promise<void> {
    bump++;
    await custom.patchNamespacedCustomObject({ ...G, namespace: ns, name, body: { spec: { weight: 100 + bump } } }, MERGE);
  }

  async function cyclesUntil(name: string, ok: (s: OptimizationPolicyStatus) => boolean, what: string): Promise<OptimizationPolicyStatus> {
    let seen: OptimizationPolicyStatus | undefined;
    let poked = 0;
    return eventually(
      () => `${what} (last status: ${JSON.stringify(seen?.workloads)})`,
      async () => {
        seen = await status(name);
        if (ok(seen)) return seen;
        if (Date.now() - poked > 12_000) {
          poked = Date.now();
          await cycleNow(name);
        }
        return undefined;
      },
      240_000,
    );
  }

  const podsOf = (app: string): Promise<k8s.V1Pod[]> => livePods(sb, ns, app);

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    node = await createKwokNode(sb, 'rs-apply-node', { cpu: '32', memory: '64Gi' });
    ns = await sb.namespace('rs-apply');
    // web: 2 replicas asking 1 CPU / 1 GiB (limit 2 GiB) and using 250m / 300Mi → resized down in place
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web', namespace: ns, labels: { tier: 'web' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: template('web', { cpu: 250, mem: 300 }, { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } }),
        },
      },
    });
    // db: a StatefulSet of 1 using more than it asks → resized up in place
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'db', namespace: ns, labels: { tier: 'db' } },
        spec: {
          replicas: 1,
          serviceName: 'db',
          selector: { matchLabels: { app: 'db' } },
          template: template('db', { cpu: 400, mem: 600 }, { requests: { cpu: '100m', memory: '256Mi' } }),
        },
      },
    });
    // agent: a DaemonSet on this test's node only, using more than it asks → resized up in place
    await apps.createNamespacedDaemonSet({
      namespace: ns,
      body: {
        metadata: { name: 'agent', namespace: ns, labels: { tier: 'agent' } },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: (() => {
            const t = template('agent', { cpu: 150, mem: 100 }, { requests: { cpu: '50m', memory: '64Mi' } });
            return { ...t, spec: { ...t.spec, nodeName: undefined, nodeSelector: { 'kubernetes.io/hostname': node }, tolerations: [{ operator: 'Exists' }] } };
          })(),
        },
      },
    });
    // watched: Recommend mode, never patched
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'watched', namespace: ns, labels: { tier: 'watched' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'watched' } },
          template: template('watched', { cpu: 50, mem: 64 }, { requests: { cpu: '1', memory: '1Gi' } }),
        },
      },
    });
    // dry: like web, under the global dry run
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'dry', namespace: ns, labels: { tier: 'dry' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'dry' } },
          template: template('dry', { cpu: 100, mem: 100 }, { requests: { cpu: '1', memory: '1Gi' } }),
        },
      },
    });
    // tight: memory asked just above its use; a decrease below the peak + margin is refused (CPU pinned by bounds)
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'tight', namespace: ns, labels: { tier: 'tight' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'tight' } },
          template: template('tight', { cpu: 200, mem: 850 }, { requests: { cpu: '200m', memory: '900Mi' } }),
        },
      },
    });
    await podMetricsOf(sb, ns, 7);
    taskQueue = sb.taskQueue('rs-apply');
    orch = await startTestOrchestrator(sb, ns, taskQueue, { env: ENV, scaleUpTrigger: false });
  });

  after(async () => {
    await orch?.stop();
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  it('Auto: the Deployment and the StatefulSet are resized in place — same pods, new requests in their status, limits unchanged', async () => {
    const before = new Map((await podsOf('web')).map((p) => [p.metadata!.name!, p.metadata!.uid!]));
    const dbBefore = (await podsOf('db')).map((p) => p.metadata!.uid!);
    await policy('auto-web', 'web', { mode: 'Auto', updateStrategy: { cooldown: '0s', maxChangePercent: 90 } });
    await policy('auto-db', 'db', { mode: 'Auto', updateStrategy: { cooldown: '0s', maxChangePercent: 900 } });
    const s = await cyclesUntil('auto-web', (x) => x.workloads?.find((w) => w.name === 'web')?.outcome === 'Applied', 'web Applied');
    const w = s.workloads!.find((x) => x.name === 'web')!;
    expect(w.method).to.equal('InPlace');
    expect(w.lastAppliedTime).to.be.a('string');
    const pods = await podsOf('web');
    expect(new Map(pods.map((p) => [p.metadata!.name!, p.metadata!.uid!]))).to.deep.equal(before);
    for (const p of pods) {
      const st = p.status!.containerStatuses!.find((c) => c.name === 'app')!;
      const cpu = cpuMillis(String(st.resources!.requests!.cpu))!;
      const mem = memoryBytes(String(st.resources!.requests!.memory))!;
      // 250m × 1.2 and 300Mi × 1.2, within the histogram's buckets and kwok's jitter
      expect(cpu, 'cpu request in status').to.be.within(250, 400);
      expect(mem / MiB, 'memory request in status').to.be.within(330, 420);
      expect(String(st.resources!.limits!.memory)).to.equal('2Gi');
      expect(st.restartCount).to.equal(0);
      expect(p.spec!.containers[0]!.resources!.limits!.memory).to.equal('2Gi');
    }
    const db = await cyclesUntil('auto-db', (x) => x.workloads?.find((w) => w.name === 'db')?.outcome === 'Applied', 'db Applied');
    expect(db.workloads!.find((x) => x.name === 'db')!.method).to.equal('InPlace');
    const dbPods = await podsOf('db');
    expect(dbPods.map((p) => p.metadata!.uid!)).to.deep.equal(dbBefore);
    expect(cpuMillis(String(dbPods[0]!.status!.containerStatuses![0]!.resources!.requests!.cpu))).to.be.within(400, 650);
    // an Event on the workload names the old and new values
    const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=web' });
    const applied = events.items.find((e) => e.reason === 'RightsizingApplied');
    expect(applied?.message).to.match(/InPlace: app: cpu 1000m→\d+m/);
    // scraped as Prometheus would: one application InPlace for the policy, the workload counted updated
    const text = await (await fetch(`${orch!.metricsUrl}/metrics`)).text();
    const policyKey = `${ns}/auto-web`;
    expect(text).to.match(new RegExp(`optipod_applications_total\\{policy="${policyKey}",method="InPlace"\\} 1\\b`));
    expect(text).to.match(new RegExp(`optipod_workloads_updated\\{namespace="${ns}",policy="${policyKey}"\\} [1-9]`));
    // the application is a step of the policy's workflow, behind its patch marker
    const history = await sb.temporal.workflow.getHandle(optimizationPolicyWorkflowId(ns, 'auto-web')).fetchHistory();
    const kinds = JSON.stringify(history.events ?? []);
    expect(kinds).to.include('applyInPlace').and.include('recordApplications');
    recordHistory(sb, optimizationPolicyWorkflowId(ns, 'auto-web'), path.resolve(__dirname, '../../replay/rightsizing/histories'), 'policy-auto-in-place');
  });

  it('Auto: the DaemonSet is resized in place too', async () => {
    const uids = (await podsOf('agent')).map((p) => p.metadata!.uid!);
    expect(uids).to.have.length(1);
    await policy('auto-agent', 'agent', { mode: 'Auto', updateStrategy: { cooldown: '0s', maxChangePercent: 900 } });
    const s = await cyclesUntil('auto-agent', (x) => x.workloads?.find((w) => w.name === 'agent')?.outcome === 'Applied', 'agent Applied');
    expect(s.workloads!.find((x) => x.name === 'agent')!.method).to.equal('InPlace');
    const pods = await podsOf('agent');
    expect(pods.map((p) => p.metadata!.uid!)).to.deep.equal(uids);
    expect(cpuMillis(String(pods[0]!.status!.containerStatuses![0]!.resources!.requests!.cpu))).to.be.within(150, 250);
  });

  it('a pod created afterwards comes up at the recommended size (admission), and so it does with the orchestrator stopped', async () => {
    const cm = await sb.core.readNamespacedConfigMap({ namespace: ns, name: POD_SIZING_CONFIGMAP });
    const want = cm.data!['Deployment_web_app_cpu']!;
    expect(want).to.match(/^\d+m$/);
    await apps.patchNamespacedDeployment({ namespace: ns, name: 'web', body: { spec: { replicas: 3 } } }, MERGE);
    const third = await eventually('a third web pod', async () => {
      const pods = await podsOf('web');
      return pods.length === 3 ? pods : undefined;
    });
    for (const p of third) expect(p.spec!.containers[0]!.resources!.requests!.cpu).to.equal(want);
    await orch!.stop();
    orch = undefined;
    await apps.patchNamespacedDeployment({ namespace: ns, name: 'web', body: { spec: { replicas: 4 } } }, MERGE);
    const fourth = await eventually('a fourth web pod with the orchestrator stopped', async () => {
      const pods = await podsOf('web');
      return pods.length === 4 ? pods : undefined;
    });
    for (const p of fourth) expect(p.spec!.containers[0]!.resources!.requests!.cpu).to.equal(want);
    orch = await startTestOrchestrator(sb, ns, taskQueue, { env: ENV, scaleUpTrigger: false });
  });

  it('Recommend never patches; a memory decrease below the observed peak is refused with its numbers', async () => {
    const watchedBefore = (await podsOf('watched')).map((p) => [p.metadata!.uid, p.metadata!.resourceVersion, p.metadata!.generation]);
    const tightBefore = (await podsOf('tight')).map((p) => p.spec!.containers[0]!.resources!.requests!.memory);
    await policy('rec-watched', 'watched', { mode: 'Recommend' });
    await policy('auto-tight', 'tight', {
      mode: 'Auto',
      metricsConfig: { provider: 'metrics-server', safetyFactor: 1 },
      resourceBounds: { cpu: { min: '200m', max: '200m' } },
      updateStrategy: { cooldown: '0s', changeThresholdPercent: 0, memoryMarginPercent: 10 },
    });
    const rec = await cyclesUntil('rec-watched', (x) => x.workloads?.find((w) => w.name === 'watched')?.skipReason === 'RecommendMode', 'RecommendMode');
    expect(rec.workloads!.find((w) => w.name === 'watched')!.containers![0]!.target).to.not.equal(undefined);
    const t = await cyclesUntil(
      'auto-tight',
      (x) => x.workloads?.find((w) => w.name === 'tight')?.skipReason === 'MemoryDecreaseUnsafe',
      'MemoryDecreaseUnsafe',
    );
    expect(t.workloads!.find((w) => w.name === 'tight')!.message).to.match(/below the floor .* \(peak .* \+ 10%/);
    // two more cycles: still nothing patched
    await cycleNow('rec-watched');
    await cycleNow('auto-tight');
    await new Promise((r) => setTimeout(r, 5000));
    expect((await podsOf('watched')).map((p) => [p.metadata!.uid, p.metadata!.resourceVersion, p.metadata!.generation])).to.deep.equal(watchedBefore);
    expect((await podsOf('tight')).map((p) => p.spec!.containers[0]!.resources!.requests!.memory)).to.deep.equal(tightBefore);
    const cm = await sb.core.readNamespacedConfigMap({ namespace: ns, name: POD_SIZING_CONFIGMAP });
    expect(Object.keys(cm.data ?? {}).filter((k) => k.startsWith('Deployment_watched_') || k.startsWith('Deployment_tight_'))).to.deep.equal([]);
    const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=tight' });
    expect(events.items.map((e) => e.reason)).to.include('RightsizingSkipped');
  });

  it('the global dry run: an Auto policy recommends and never patches, and writes no pod sizing', async () => {
    await orch!.stop();
    orch = await startTestOrchestrator(sb, ns, taskQueue, { env: { ...ENV, DRY_RUN: 'true' }, scaleUpTrigger: false });
    try {
      const before = (await podsOf('dry')).map((p) => [p.metadata!.uid, p.metadata!.resourceVersion, p.metadata!.generation]);
      await policy('auto-dry', 'dry', { mode: 'Auto', updateStrategy: { cooldown: '0s', maxChangePercent: 90 } });
      const s = await cyclesUntil('auto-dry', (x) => x.workloads?.find((w) => w.name === 'dry')?.skipReason === 'DryRun', 'DryRun');
      expect(s.dryRun).to.equal(true);
      expect(s.workloads!.find((w) => w.name === 'dry')!.containers![0]!.target).to.not.equal(undefined);
      await cycleNow('auto-dry');
      await new Promise((r) => setTimeout(r, 5000));
      expect((await podsOf('dry')).map((p) => [p.metadata!.uid, p.metadata!.resourceVersion, p.metadata!.generation])).to.deep.equal(before);
      const cm = await sb.core.readNamespacedConfigMap({ namespace: ns, name: POD_SIZING_CONFIGMAP });
      expect(Object.keys(cm.data ?? {}).filter((k) => k.startsWith('Deployment_dry_'))).to.deep.equal([]);
    } finally {
      await orch!.stop();
      orch = await startTestOrchestrator(sb, ns, taskQueue, { env: ENV, scaleUpTrigger: false });
    }
  });

  it('switching a policy to Recommend removes its workloads from the pod sizing: new pods get the template size again', async () => {
    await custom.patchNamespacedCustomObject({ ...G, namespace: ns, name: 'auto-web', body: { spec: { mode: 'Recommend' } } }, MERGE);
    await eventually('web entries removed', async () => {
      const cm = await sb.core.readNamespacedConfigMap({ namespace: ns, name: POD_SIZING_CONFIGMAP });
      return Object.keys(cm.data ?? {}).some((k) => k.startsWith('Deployment_web_')) ? undefined : true;
    });
    await apps.patchNamespacedDeployment({ namespace: ns, name: 'web', body: { spec: { replicas: 5 } } }, MERGE);
    const pods = await eventually('a fifth web pod', async () => {
      const p = await podsOf('web');
      return p.length === 5 ? p : undefined;
    });
    expect(pods.filter((p) => p.spec!.containers[0]!.resources!.requests!.cpu === '1')).to.have.length(1);
  });
});
