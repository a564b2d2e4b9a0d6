/**
 * One Auto rightsizing cycle at scale, end to end on the sandbox (issue #15): W workloads
 * (Deployments of R replicas, default 200 × 5 = 1,000 pods) over N namespaces on kwok nodes, their
 * usage scraped by the sandbox's real Prometheus from kwok's simulated kubelet metrics, one
 * OptimizationPolicy in Auto mode (provider prometheus) in the operator namespace reaching them
 * all, and the orchestrator (worker and watchers) running in this process.
 *
 *   npm run bench:rightsizing-cycle                               # 200 workloads × 5 replicas
 *   npm run bench:rightsizing-cycle -- --workloads 40 --replicas 5 --namespaces 2
 *
 * Uses the sandbox of TEST_SANDBOX_DIR when set, otherwise starts one (and stops it). Prints one
 * JSON object:
 * - cycleSeconds: the runRightsizingCycle activity (read, recommend, gate) from the workflow history;
 * - applySeconds: the applications (pods/resize of every pod, watched until the kubelet reports
 *   the new size) and their record, from the cycle's end to recordApplications' end;
 * - wallSeconds: from the policy's creation to its status counting every workload applied;
 * - kubernetesRequests: requests this process sent to the apiserver meanwhile (by method; watches
 *   count once), the orchestrator's informers included;
 * - vpsieRequests: requests the VPSie simulator answered meanwhile (none expected: rightsizing
 *   never calls VPSie; the node autoscaler is idle because every pod fits).
 */
import diagnostics from 'node:diagnostics_channel';
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { optimizationPolicyWorkflowId } from '../workflows/rightsizing/policy';
import type { OptimizationPolicyStatus } from '../lib/crds/optipod';
import { startTestOrchestrator } from '../test/support/orchestrator';
import { createKwokNode, sharedSandbox, stopSharedSandbox, uniqueName, type TestSandbox } from '../test/support/sandbox';
import { percentile, round3 } from './stats';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const G = { group: 'optipod.io', version: 'v1alpha1', plural: 'optimizationpolicies' };

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Counts requests to the apiserver from this process: undici (client-node's fetch) and node's https (the rightsizing GETs). */
function countApiRequests(apiserver: string): { snapshot: () => Record<string, number> } {
  const origin = new URL(apiserver);
  const counts: Record<string, number> = {};
  let on = false;
  const add = (method: string): void => {
    if (on) counts[method] = (counts[method] ?? 0) + 1;
  };
  diagnostics.channel('undici:request:create').subscribe((m) => {
    const r = (m as { request: { origin: string; method: string } }).request;
    if (new URL(r.origin).host === origin.host) add(r.method);
  });
  const orig = https.request.bind(https);
  (https as { request: typeof https.request }).request = ((...args: Parameters<typeof https.request>) => {
    const a = args[0];
    const url = typeof a === 'string' ? new URL(a) : a instanceof URL ? a : undefined;
    const host = url ? url.host : `${(a as https.RequestOptions).hostname ?? (a as https.RequestOptions).host}:${(a as https.RequestOptions).port}`;
    if (host === origin.host) add(String((url ? (args[1] as https.RequestOptions | undefined)?.method : (a as https.RequestOptions).method) ?? 'GET'));
    return orig(...args);
  }) as typeof https.request;
  return {
    snapshot: () => {
      on = !on;
      return { ...counts };
    },
  };
}

async function vpsieAccepted(sb: TestSandbox): Promise<number> {
  const r = await fetch(`${sb.endpoints.vpsie!.admin.replace(/\/$/, '')}/traffic`);
  return ((await r.json()) as { accepted: number }).accepted;
}

async function main(): Promise<void> {
  const workloads = Number(arg('workloads', '200'));
  const replicas = Number(arg('replicas', '5'));
  const nsCount = Number(arg('namespaces', '4'));
  const sb = await sharedSandbox();
  const api = process.env.BENCH_NO_COUNT === '1' ? { snapshot: () => ({}) as Record<string, number> } : countApiRequests(sb.endpoints.apiserver);
  const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
  const custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
  const pods = workloads * replicas;
  const nodes: string[] = [];
  const perNode = 250;
  for (let i = 0; i < Math.ceil(pods / perNode); i++)
    nodes.push(await createKwokNode(sb, 'bench-rs', { cpu: '2000', memory: '8Ti', pods: String(perNode + 10) }));
  const namespaces: string[] = [];
  for (let i = 0; i < nsCount; i++) namespaces.push(await sb.namespace('bench-rs'));
  const t0 = Date.now();
  for (let w = 0; w < workloads; w++) {
    const namespace = namespaces[w % nsCount]!;
    const name = `w${w}`;
    const cpu = 50 + ((w * 37) % 400);
    const mem = 64 + ((w * 53) % 512);
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, namespace, labels: { bench: 'rightsizing' } },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name }, annotations: { 'kwok.x-k8s.io/usage-cpu': `${cpu}m`, 'kwok.x-k8s.io/usage-memory': `${mem}Mi` } },
            spec: {
              nodeName: nodes[Math.floor((w * replicas) / perNode)]!,
              terminationGracePeriodSeconds: 0,
              containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '1', memory: '1Gi' } } }],
            },
          },
        },
      },
    });
  }
  await until(
    `${pods} pods Running`,
    async () => {
      let running = 0;
      for (const namespace of namespaces) running += (await sb.core.listNamespacedPod({ namespace, fieldSelector: 'status.phase=Running' })).items.length;
      return running >= pods ? true : undefined;
    },
    900_000,
    3000,
  );
  const podsRunningSeconds = (Date.now() - t0) / 1000;
  // Prometheus has two scrapes of every pod (a rate needs two samples)
  const prom = sb.endpoints.prometheus!.url;
  const nsRe = namespaces.join('|');
  // Prometheus answers the provider's own CPU query for every pod at the step the cycle will ask (its end is aligned down to the step)
  const stepS = 15;
  await until(
    'Prometheus usage of every pod',
    async () => {
      const at = Math.floor(Date.now() / 1000 / stepS) * stepS - stepS;
      const q = encodeURIComponent(`count(sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace=~"${nsRe}"}[${stepS}s])))`);
      const r = (await (await fetch(`${prom}/api/v1/query?query=${q}&time=${at}`)).json()) as { data?: { result?: { value: [number, string] }[] } };
      return Number(r.data?.result?.[0]?.value[1] ?? 0) >= pods ? true : undefined;
    },
    600_000,
    3000,
  );

  const operatorNs = 'kube-system';
  const taskQueue = sb.taskQueue('bench-rs');
  const orch = await startTestOrchestrator(sb, operatorNs, taskQueue, {
    env: { RIGHTSIZING_MIN_SAMPLES: '1', PROMETHEUS_STEP_SECONDS: String(stepS), SCALE_DOWN_ENABLED: 'false', LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
    scaleUpTrigger: false,
  });
  const policy = uniqueName('bench-rs');
  const vpsieBefore = await vpsieAccepted(sb);
  api.snapshot(); // start counting
  const start = Date.now();
  await custom.createNamespacedCustomObject({
    ...G,
    namespace: operatorNs,
    body: {
      apiVersion: 'optipod.io/v1alpha1',
      kind: 'OptimizationPolicy',
      metadata: { name: policy, namespace: operatorNs },
      spec: {
        mode: 'Auto',
        selector: { namespaces: { allow: namespaces } },
        reconciliationInterval: '1h',
        metricsConfig: { provider: 'prometheus', rollingWindow: '1h' },
        updateStrategy: { cooldown: '0s', maxChangePercent: 95 },
      },
    },
  });
  const status = await until(
    'every workload applied',
    async () => {
      const s = ((await custom.getNamespacedCustomObject({ ...G, namespace: operatorNs, name: policy })) as { status?: OptimizationPolicyStatus }).status;
      return (s?.counts?.applied ?? 0) + (s?.counts?.skipped ?? 0) >= workloads && (s?.counts?.applied ?? 0) > 0 ? s : undefined;
    },
    900_000,
    250,
  );
  const wallSeconds = (Date.now() - start) / 1000;
  const requests = api.snapshot();
  const vpsieRequests = (await vpsieAccepted(sb)) - vpsieBefore;

  // the activities' times from the workflow history (once recordApplications' completion is in it)
  const handle = sb.temporal.workflow.getHandle(optimizationPolicyWorkflowId(operatorNs, policy));
  const history = await until(
    'recordApplications completed in the history',
    async () => {
      const h = await handle.fetchHistory();
      const scheduledIds = new Set(
        (h.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordApplications').map((e) => String(e.eventId)),
      );
      return (h.events ?? []).some((e) => scheduledIds.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? ''))) ? h : undefined;
    },
    60_000,
    250,
  );
  const ts = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }): number =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
  const events = history.events ?? [];
  const scheduled = new Map<string, { type: string; at: number }>();
  const spans: { type: string; start: number; end: number }[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', at: ts(e) });
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const from = scheduled.get(String(c.scheduledEventId));
      if (from) spans.push({ type: from.type, start: from.at, end: ts(e) });
    }
  }
  const cycle = spans.find((s) => s.type === 'runRightsizingCycle');
  const record = spans.find((s) => s.type === 'recordApplications');
  const applies = spans.filter((s) => s.type === 'applyInPlace');
  await orch.stop();
  process.stdout.write(
    `${JSON.stringify({
      workloads,
      pods,
      namespaces: nsCount,
      provider: 'prometheus',
      podsRunningSeconds: round3(podsRunningSeconds),
      cycleSeconds: cycle ? round3((cycle.end - cycle.start) / 1000) : null,
      applySeconds: cycle && record ? round3((record.end - cycle.end) / 1000) : null,
      applyInPlaceActivities: applies.length,
      applyInPlaceSeconds: {
        p50: round3(
          percentile(
            applies.map((a) => (a.end - a.start) / 1000),
            50,
          ),
        ),
        p95: round3(
          percentile(
            applies.map((a) => (a.end - a.start) / 1000),
            95,
          ),
        ),
      },
      wallSeconds: round3(wallSeconds),
      applied: status.counts?.applied ?? 0,
      skipped: status.counts?.skipped ?? 0,
      kubernetesRequests: { total: Object.values(requests).reduce((a, b) => a + b, 0), byMethod: requests },
      vpsieRequests,
    })}\n`,
  );
  for (const namespace of namespaces) await sb.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  for (const n of nodes) await sb.core.deleteNode({ name: n }).catch(() => undefined);
  await custom.deleteNamespacedCustomObject({ ...G, namespace: operatorNs, name: policy }).catch(() => undefined);
}

main()
  .then(async () => {
    await stopSharedSandbox();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    console.error(err);
    await stopSharedSandbox().catch(() => undefined);
    process.exit(1);
  });
