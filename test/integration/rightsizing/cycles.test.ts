/**
 * Rightsizing cycles on the real stack: the orchestrator (policy watcher → one workflow per
 * OptimizationPolicy → the cycle activity) against the sandbox's apiserver, its real
 * metrics-server and real Prometheus scraping kwok's simulated kubelets.
 *
 * Workloads play known steady traces (kwok usage annotations), so the expected recommendation is
 * the usage × the safety factor (P90 of a steady trace is the trace; the histogram's 5 % buckets
 * bound the error). Recommend mode never moves a workload's resourceVersion. A policy in namespace
 * A never reaches namespace B; deny beats allow; overlapping policies resolve by weight;
 * metrics-server down gives MetricsUnavailable and changes nothing; an OOM kill raises memory;
 * restarting the orchestrator (and terminating the policy's workflow) keeps the history; Disabled
 * stops the cycles and keeps the last status.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { cpuMillis, memoryBytes, type OptimizationPolicyStatus } from '../../../lib/crds/optipod';
import { oomBump } from '../../../decision/rightsizing/model';
import { optimizationPolicyWorkflowId } from '../../../workflows/rightsizing/policy';
import type { Orchestrator } from '../../../workers/orchestrator';
import { Registry } from 'prom-client';
import { createRightsizingActivities, type CycleRecord } from '../../../activities/rightsizing/cycle';
import { MetricsServerProvider } from '../../../activities/rightsizing/metrics-server';
import { kubeGetter } from '../../../activities/rightsizing/owners';
import { serviceAccountWithRole, until } from '../../support/identities';
import { startTestOrchestrator } from '../../support/orchestrator';
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';
import { recordHistory } from '../../support/histories';
import { eventually as poll } from '../../support/eventually';

const MiB = 2 ** 20;
const G = { group: 'optipod.io', version: 'v1alpha1', plural: 'optimizationpolicies' };
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const ENV = { RIGHTSIZING_MIN_SAMPLES: '1', PROMETHEUS_STEP_SECONDS: '15', SCALE_DOWN_ENABLED: 'false' };

const eventually = <T>(what: string | (() => string), fn: () => Promise<T | undefined>, timeoutMs = 150_000, everyMs = 1000): Promise<T> =>
  poll(what, fn, timeoutMs, everyMs);

describe('rightsizing cycles on the sandbox: policies, real metrics-server and Prometheus, durable history', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let custom: k8s.CustomObjectsApi;
  let apps: k8s.AppsV1Api;
  let orch: Orchestrator | undefined;
  let taskQueue: string;
  let node: string;
  let A: string;
  let B: string;

  /** usage per workload: cpu millicores and memory MiB of the one container `app`. */
  const TRACES = { web: { cpu: 250, mem: 300 }, api: { cpu: 100, mem: 200 }, db: { cpu: 50, mem: 500 } } as const;

  const template = (app: string, usage: { cpu: number; mem: number }, limits?: { memory: string }) => ({
    metadata: {
      labels: { app, rightsize: app === 'leaky' ? 'no' : 'yes' },
      annotations: { 'kwok.x-k8s.io/usage-cpu': `${usage.cpu}m`, 'kwok.x-k8s.io/usage-memory': `${usage.mem}Mi` },
    },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.9',
          resources: { requests: { cpu: '1', memory: limits?.memory ?? '1Gi' }, ...(limits ? { limits } : {}) },
        },
      ],
    },
  });

  async function deployment(
    namespace: string,
    name: string,
    replicas: number,
    usage: { cpu: number; mem: number },
    limits?: { memory: string },
  ): Promise<void> {
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, namespace, labels: { app: name, rightsize: name === 'leaky' ? 'no' : 'yes' } },
        spec: { replicas, selector: { matchLabels: { app: name } }, template: template(name, usage, limits) },
      },
    });
  }

  async function policy(name: string, spec: Record<string, unknown>): Promise<void> {
    await custom.createNamespacedCustomObject({
      ...G,
      namespace: A,
      body: {
        apiVersion: 'optipod.io/v1alpha1',
        kind: 'OptimizationPolicy',
        metadata: { name, namespace: A },
        spec: { reconciliationInterval: '10m', ...spec },
      },
    });
  }

  const status = async (name: string): Promise<OptimizationPolicyStatus> =>
    (((await custom.getNamespacedCustomObject({ ...G, namespace: A, name })) as { status?: OptimizationPolicyStatus }).status ??
      {}) as OptimizationPolicyStatus;

  /** A spec change (the weight) makes the watcher signal a new generation: a cycle now instead of at the interval. */
  let bump = 0;
  async function cycleNow(name: string, spec: Record<string, unknown> = {}): Promise<void> {
    bump++;
    await custom.patchNamespacedCustomObject({ ...G, namespace: A, name, body: { spec: { weight: 100 + bump, ...spec } } }, MERGE);
  }

  /** Waits for a status written after `since` (epoch ms) that satisfies `ok`. */
  async function statusAfter(name: string, since: number, ok: (s: OptimizationPolicyStatus) => boolean, what: string): Promise<OptimizationPolicyStatus> {
    let seen: OptimizationPolicyStatus | undefined;
    return eventually(
      () => `${what} (last status: ${JSON.stringify(seen)})`,
      async () => {
        const s = await status(name);
        seen = s;
        const t = s.lastReconciliationTime ? Date.parse(s.lastReconciliationTime) : 0;
        return t >= since - 1000 && ok(s) ? s : undefined;
      },
    );
  }

  /** Runs cycles (one every 12 s: past metrics-server's 10 s resolution, so each sees a new sample) until `ok`. */
  async function cyclesUntil(name: string, ok: (s: OptimizationPolicyStatus) => boolean, what: string): Promise<OptimizationPolicyStatus> {
    let seen: OptimizationPolicyStatus | undefined;
    let poked = 0;
    return eventually(
      () => `${what} (last status: ${JSON.stringify(seen)})`,
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

  const workload = (s: OptimizationPolicyStatus, name: string) => s.workloads?.find((w) => w.name === name);
  const target = (s: OptimizationPolicyStatus, name: string) => workload(s, name)?.containers?.find((c) => c.name === 'app')?.target;

  function expectTargetsMatchTraces(s: OptimizationPolicyStatus, names: (keyof typeof TRACES)[]): void {
    for (const n of names) {
      const t = target(s, n);
      expect(t, `${n} target`).to.not.equal(undefined);
      // P90 of a steady trace × safety factor 1.2, within the histogram's bucket width (5 %) and kwok's rate jitter
      expect(cpuMillis(t!.cpu!), `${n} cpu`).to.be.closeTo(TRACES[n].cpu * 1.2, TRACES[n].cpu * 1.2 * 0.12);
      expect(memoryBytes(t!.memory!)! / MiB, `${n} memory (MiB)`).to.be.closeTo(TRACES[n].mem * 1.2, TRACES[n].mem * 1.2 * 0.07);
    }
  }

  async function resourceVersions(): Promise<Record<string, string>> {
    const d = await apps.listNamespacedDeployment({ namespace: A });
    const s = await apps.listNamespacedStatefulSet({ namespace: A });
    return Object.fromEntries([...d.items, ...s.items].map((o) => [`${o.kind ?? ''}${o.metadata!.name!}`, o.metadata!.resourceVersion!]));
  }

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    node = await createKwokNode(sb, 'rs-cycles-node', { cpu: '32', memory: '64Gi' });
    A = await sb.namespace('rs-cycles');
    B = await sb.namespace('rs-tenant-b');
    await deployment(A, 'web', 2, TRACES.web);
    await deployment(A, 'api', 1, TRACES.api);
    await apps.createNamespacedStatefulSet({
      namespace: A,
      body: {
        metadata: { name: 'db', namespace: A, labels: { app: 'db', rightsize: 'yes' } },
        spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db', TRACES.db) },
      },
    });
    await deployment(B, 'other', 1, { cpu: 10, mem: 10 });
    // metrics-server has samples of every pod of A (it needs two scrapes of a pod)
    await eventually('PodMetrics of the 4 pods', async () => {
      const pm = (await custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace: A, plural: 'pods' })) as {
        items: { containers: unknown[] }[];
      };
      return pm.items.filter((i) => i.containers.length > 0).length >= 4 ? true : undefined;
    });
    taskQueue = sb.taskQueue('rs-cycles');
    orch = await startTestOrchestrator(sb, A, taskQueue, { env: ENV, scaleUpTrigger: false });
  });

  after(async () => {
    await orch?.stop();
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  it('Recommend mode over three workloads (metrics-server): targets match the traces, no resourceVersion moves, tenant B never reached', async () => {
    const before = await resourceVersions();
    const t0 = Date.now();
    await policy('ms', {
      mode: 'Recommend',
      weight: 100,
      selector: { namespaces: { allow: [A, B] }, workloadSelector: { matchLabels: { rightsize: 'yes' } } },
      metricsConfig: { provider: 'metrics-server', rollingWindow: '1h', percentile: 'P90', safetyFactor: 1.2 },
    });
    const s = await statusAfter('ms', t0, (x) => x.counts?.recommended === 3, 'three recommendations');
    expect(s.counts).to.deep.include({ discovered: 3, recommended: 3, applied: 0, skipped: 0 });
    expect(s.conditions?.[0]).to.include({ type: 'Ready', status: 'True', reason: 'PolicyValid' });
    expectTargetsMatchTraces(s, ['web', 'api', 'db']);
    expect(workload(s, 'db')).to.include({ kind: 'StatefulSet', outcome: 'Recommended', skipReason: 'RecommendMode', policy: `${A}/ms` });
    expect(s.workloads!.map((w) => w.namespace)).to.not.include(B);
    expect(await resourceVersions()).to.deep.equal(before);
    // the models are stored, one checkpoint per workload
    const cps = (await custom.listNamespacedCustomObject({ group: 'optipod.io', version: 'v1alpha1', namespace: A, plural: 'optimizationcheckpoints' })) as {
      items: { metadata: { name: string } }[];
    };
    expect(cps.items.map((c) => c.metadata.name).sort()).to.deep.equal(['deployment-api', 'deployment-web', 'statefulset-db']);
    // the run is findable in the Web UI by policy and by workload
    const runs: string[] = [];
    for await (const w of sb.temporal.workflow.list({ query: `OptimizationPolicy = '${A}/ms' AND Workload = 'Deployment/${A}/web'` })) runs.push(w.workflowId);
    expect(runs).to.include(optimizationPolicyWorkflowId(A, 'ms'));
    const metrics = await (await fetch(`${orch!.metricsUrl}/metrics`)).text();
    expect(metrics).to.match(new RegExp(`^optipod_workloads_monitored\\{namespace="${A}",policy="${A}/ms"\\} 3$`, 'm'));
    expect(metrics).to.match(new RegExp(`^optipod_recommendations_total\\{policy="${A}/ms"\\} [3-9]`, 'm'));
    expect(metrics).to.match(new RegExp(`^optipod_reconciliation_duration_seconds_count\\{policy="${A}/ms"\\} [1-9]`, 'm'));
  });

  it('overlapping policies resolve by weight (the loser names the winner); deny beats allow', async () => {
    await policy('heavy', {
      mode: 'Recommend',
      weight: 500,
      selector: { workloadSelector: { matchLabels: { app: 'api' } } },
      metricsConfig: { provider: 'metrics-server', rollingWindow: '1h' },
    });
    await policy('denied', { mode: 'Recommend', selector: { namespaces: { allow: [A], deny: [A] } }, metricsConfig: { provider: 'metrics-server' } });
    const t0 = Date.now();
    await cycleNow('ms');
    const s = await statusAfter('ms', t0, (x) => workload(x, 'api')?.skipReason === 'OverriddenByPolicy', 'api overridden in ms');
    expect(workload(s, 'api')).to.include({ outcome: 'Skipped', policy: `${A}/heavy` });
    expect(s.counts?.discovered).to.equal(2);
    const h = await statusAfter('heavy', t0, (x) => x.counts?.discovered === 1, 'heavy governs api');
    expect(workload(h, 'api')).to.include({ policy: `${A}/heavy` });
    const d = await statusAfter('denied', t0, (x) => x.conditions?.[0]?.reason === 'NoMatchingWorkloads', 'denied reaches nothing');
    expect(d.counts?.discovered).to.equal(0);
  });

  it('Prometheus provider: the same recommendations from the real Prometheus', async () => {
    const t0 = Date.now();
    await cycleNow('ms', { metricsConfig: { provider: 'prometheus', rollingWindow: '1h', percentile: 'P90', safetyFactor: 1.2 } });
    const s = await statusAfter(
      'ms',
      t0,
      (x) => /provider prometheus/.test(x.conditions?.[0]?.message ?? '') && x.counts?.recommended === 2,
      'recommendations from Prometheus',
    );
    expectTargetsMatchTraces(s, ['web', 'db']);
  });

  it('a lost checkpoint is rebuilt from Prometheus history: the next cycle ingests the whole rolling window again', async () => {
    const cp = { group: 'optipod.io', version: 'v1alpha1', namespace: A, plural: 'optimizationcheckpoints', name: 'deployment-web' };
    // Prometheus must hold more history than a cycle or two of metrics-server give: at least 90 s
    // of web's CPU counters (six 15 s steps per replica) before the checkpoint is lost.
    const prom = sb.endpoints.prometheus!.url;
    await eventually(
      '90 s of web history in Prometheus',
      async () => {
        const end = Math.floor(Date.now() / 1000);
        const q = new URLSearchParams({
          query: `min(container_cpu_usage_seconds_total{namespace="${A}",pod=~"web-.*"})`,
          start: String(end - 3600),
          end: String(end),
          step: '5s',
        });
        const body = (await (await fetch(`${prom}/api/v1/query_range?${q.toString()}`)).json()) as { data: { result: { values: [number, string][] }[] } };
        const first = body.data.result[0]?.values[0]?.[0];
        return first !== undefined && end - first >= 90 ? true : undefined;
      },
      180_000,
      5_000,
    );
    await custom.deleteNamespacedCustomObject(cp);
    const t0 = Date.now();
    await cycleNow('ms');
    // Prometheus keeps every 15 s step of both replicas since they started: far more than one cycle of metrics-server gives (2)
    const s = await statusAfter('ms', t0, (x) => (workload(x, 'web')?.containers?.[0]?.sampleCount ?? 0) > 4, 'web rebuilt from history');
    expectTargetsMatchTraces(s, ['web']);
    const rebuilt = (await custom.getNamespacedCustomObject(cp)) as { spec: { containers: { name: string; model: { n: number } }[] } };
    expect(rebuilt.spec.containers[0]!.model.n).to.be.greaterThan(4);
  });

  it('metrics-server down: MetricsUnavailable, a Warning Event, and no workload changes', async () => {
    const reg = sb.kc.makeApiClient(k8s.ApiregistrationV1Api);
    const svc = await reg.readAPIService({ name: 'v1beta1.metrics.k8s.io' });
    const port = svc.spec!.service!.port!;
    const before = await resourceVersions();
    try {
      // the aggregated API now points at a closed port: metrics.k8s.io answers 503
      await reg.patchAPIService({ name: 'v1beta1.metrics.k8s.io', body: { spec: { service: { port: 1 } } } }, MERGE);
      const t0 = Date.now();
      await cycleNow('ms', { metricsConfig: { provider: 'metrics-server', rollingWindow: '1h', percentile: 'P90', safetyFactor: 1.2 } });
      const s = await statusAfter('ms', t0, (x) => x.conditions?.[0]?.reason === 'MetricsUnavailable', 'MetricsUnavailable');
      expect(s.conditions?.[0]?.status).to.equal('False');
      expect(workload(s, 'web')).to.include({ outcome: 'Skipped', skipReason: 'MetricsUnavailable' });
      const events = await sb.core.listNamespacedEvent({ namespace: A, fieldSelector: 'involvedObject.name=ms,reason=MetricsUnavailable' });
      expect(events.items.length).to.be.greaterThan(0);
      expect(events.items[0]!.type).to.equal('Warning');
      expect(await resourceVersions()).to.deep.equal(before);
    } finally {
      await reg.patchAPIService({ name: 'v1beta1.metrics.k8s.io', body: { spec: { service: { port } } } }, MERGE);
    }
  });

  it('an OOM kill raises the memory recommendation to the bump of the limit it hit', async () => {
    // 110Mi used under a 100Mi limit: kwok's pod-oom-kill stage kills it; without the kill the target would be 132Mi
    await deployment(A, 'leaky', 1, { cpu: 20, mem: 110 }, { memory: '100Mi' });
    await eventually('the OOM kill', async () => {
      const pods = await sb.core.listNamespacedPod({ namespace: A, labelSelector: 'app=leaky' });
      return pods.items.some((p) => p.status?.containerStatuses?.some((c) => c.lastState?.terminated?.reason === 'OOMKilled')) ? true : undefined;
    });
    const t0 = Date.now();
    await policy('oom', {
      mode: 'Recommend',
      selector: { workloadSelector: { matchLabels: { app: 'leaky' } } },
      metricsConfig: { provider: 'metrics-server', rollingWindow: '1h' },
    });
    await statusAfter('oom', t0, () => true, 'a first cycle of oom');
    // the container restarts after each kill, so metrics-server has a sample of it only now and then
    const s = await cyclesUntil('oom', (x) => target(x, 'leaky') !== undefined, 'a recommendation for leaky');
    expect(memoryBytes(target(s, 'leaky')!.memory!)).to.be.at.least(oomBump(100 * MiB) * 0.999);
  });

  it('an identity RBAC forbids listing the workloads: the namespace is reported Forbidden (condition, Event, record), and the cycle neither throws nor loops', async () => {
    const C = await sb.namespace('rs-forbidden');
    await deployment(C, 'hidden', 1, { cpu: 10, mem: 10 });
    await custom.createNamespacedCustomObject({
      ...G,
      namespace: C,
      body: {
        apiVersion: 'optipod.io/v1alpha1',
        kind: 'OptimizationPolicy',
        metadata: { name: 'tenant', namespace: C },
        spec: { mode: 'Recommend', selector: { namespaces: { allow: [C] } } },
      },
    });
    // everything a cycle needs in C except listing Deployments, StatefulSets and DaemonSets
    const kc = await serviceAccountWithRole(sb, C, 'rightsizer', [
      { apiGroups: ['optipod.io'], resources: ['optimizationpolicies', 'optimizationcheckpoints'], verbs: ['get', 'list', 'create', 'update'] },
      { apiGroups: ['optipod.io'], resources: ['optimizationpolicies/status'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['get', 'create', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list'] },
    ]);
    const acts = createRightsizingActivities({
      kc,
      registry: new Registry(),
      providers: { 'metrics-server': new MetricsServerProvider({ kube: kubeGetter(kc) }) },
      defaultProvider: 'metrics-server',
      operatorNamespace: 'kube-system',
      dryRun: false,
    });
    let rec: CycleRecord | undefined;
    await until('RBAC in effect', 30_000, async () => {
      rec = await acts.runRightsizingCycle({ namespace: C, name: 'tenant', now: Date.now() });
      return rec.outcome === 'Completed' && rec.forbiddenNamespaces.length === 1;
    });
    expect(rec).to.deep.include({ outcome: 'Completed', forbiddenNamespaces: [C] });
    const again = await acts.runRightsizingCycle({ namespace: C, name: 'tenant', now: Date.now() });
    expect(again).to.deep.include({ outcome: 'Completed', forbiddenNamespaces: [C] });
    const s = (((await custom.getNamespacedCustomObject({ ...G, namespace: C, name: 'tenant' })) as { status?: OptimizationPolicyStatus }).status ??
      {}) as OptimizationPolicyStatus;
    expect(s.conditions?.[0]?.message).to.match(new RegExp(`forbidden: ${C}`));
    const events = await sb.core.listNamespacedEvent({ namespace: C, fieldSelector: 'involvedObject.name=tenant,reason=Forbidden' });
    expect(events.items.length).to.be.greaterThan(0);
    expect(events.items[0]!.message).to.match(/forbidden \(RBAC\)/);
  });

  it('restarting the orchestrator and terminating the policy workflow keeps the usage history', async () => {
    // a few cycles of history: more samples than one cycle of a fresh model would have (2 replicas)
    const s0 = await cyclesUntil('ms', (x) => (workload(x, 'web')?.containers?.[0]?.sampleCount ?? 0) >= 6, 'six samples of web');
    const n0 = workload(s0, 'web')!.containers![0]!.sampleCount!;
    await orch!.stop();
    orch = undefined;
    const t = sb.endpoints.temporal;
    execFileSync(
      t.cli,
      [
        'workflow',
        'terminate',
        '--workflow-id',
        optimizationPolicyWorkflowId(A, 'ms'),
        '--reason',
        'test: history lost',
        '--address',
        t.address,
        '--namespace',
        t.namespace,
      ],
      {
        stdio: 'ignore',
      },
    );
    const t0 = Date.now();
    orch = await startTestOrchestrator(sb, A, taskQueue, { env: ENV, scaleUpTrigger: false });
    const s = await statusAfter('ms', t0, (x) => x.conditions?.[0]?.reason === 'PolicyValid', 'a cycle of the new orchestrator');
    expect(workload(s, 'web')?.containers?.[0]?.sampleCount ?? 0).to.be.at.least(n0);
    expect(s.conditions?.[0]?.message).to.match(/provider metrics-server/);
  });
  it('Disabled: no more cycles, Ready False PolicyDisabled, the last recommendations kept', async () => {
    const before = await status('ms');
    const t0 = Date.now();
    await custom.patchNamespacedCustomObject({ ...G, namespace: A, name: 'ms', body: { spec: { mode: 'Disabled' } } }, MERGE);
    const s = await eventually('PolicyDisabled', async () => {
      const x = await status('ms');
      return x.conditions?.[0]?.reason === 'PolicyDisabled' && Date.parse(x.conditions[0].lastTransitionTime) >= t0 - 1000 ? x : undefined;
    });
    expect(s.conditions?.[0]?.status).to.equal('False');
    expect(s.workloads).to.deep.equal(before.workloads);
    expect(s.lastReconciliationTime).to.equal(before.lastReconciliationTime);
    // the workflow waits for a change of the policy, with no timer
    const d = await sb.temporal.workflow.getHandle(optimizationPolicyWorkflowId(A, 'ms')).describe();
    expect(d.status.name).to.equal('RUNNING');
    // with RECORD_REPLAY_HISTORIES=1: cycles, signals, a restart and Disabled, for test/replay/rightsizing
    recordHistory(sb, optimizationPolicyWorkflowId(A, 'ms'), path.resolve(__dirname, '../../replay/rightsizing/histories'), 'policy-recommend-then-disabled');
  });
});
