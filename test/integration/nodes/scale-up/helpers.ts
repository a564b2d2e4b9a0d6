/**
 * Helpers of the scale-up end-to-end tests: an in-process orchestrator (worker + watchers +
 * scale-up trigger) on the shared sandbox, restricted to one namespace and task queue; NodeGroup
 * and Deployment fixtures; the simulator's machines; bounded polling.
 */
import * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import { Registry } from 'prom-client';
import { staticCredentials, VPSieClient } from '../../../../clients/vpsie';
import type { ScaleUpRecord } from '../../../../decision/nodes/scale-up/record';
import { ConfigSchema } from '../../../../lib/config';
import { API_VERSION, GROUP, NODEGROUP_KIND, NODEGROUP_PLURAL, VERSION, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import { startOrchestrator, type Orchestrator } from '../../../../workers/orchestrator';
import type { Batch } from '../../../../decision/nodes/batching/batcher';
import type { TestSandbox } from '../../../support/sandbox';
import { workflowBundle } from '../../../support/worker';
import { grantJoinSecrets, orchestratorIdentities } from '../../../support/orchestrator';
import { recordHistory } from '../../../support/histories';

export interface Harness {
  orchestrator: Orchestrator;
  records: ScaleUpRecord[];
  /** When each record arrived (ms), by workflow id. */
  recordTimes: Map<string, number>;
  batches: Batch[];
  registry: Registry;
  stop(): Promise<void>;
}

export async function startHarness(sb: TestSandbox, ns: string, env: Record<string, string> = {}): Promise<Harness> {
  const v = sb.endpoints.vpsie;
  if (!v) throw new Error('the sandbox publishes no vpsie section');
  const config = ConfigSchema.parse({
    TEMPORAL_NAMESPACE: sb.endpoints.temporal.namespace,
    TASK_QUEUE: sb.taskQueue('scaleup'),
    WATCH_NAMESPACE: ns,
    LEADER_ELECTION: 'false',
    METRICS_ADDR: '127.0.0.1:0',
    VPSIE_URL: v.url,
    VPSIE_CLUSTER_IDENTIFIER: v.clusterIdentifier,
    JOIN_API_SERVER: sb.endpoints.apiserver,
    MAX_CLUSTER_NODES: '10000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...env,
  });
  await sb.core
    .createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: BOOTSTRAP_SECRET, namespace: ns }, stringData: { 'user-data': `bootstrapToken: ${BOOTSTRAP_TOKEN}\n` } },
    })
    .catch(() => undefined);
  await grantJoinSecrets(sb, ns);
  const registry = new Registry();
  const vpsie = new VPSieClient({
    baseUrl: v.url,
    credentials: staticCredentials({ kind: 'client', clientId: v.clientId, clientSecret: v.clientSecret }),
    registry,
    rateLimit: false,
  });
  const records: ScaleUpRecord[] = [];
  const recordTimes = new Map<string, number>();
  const batches: Batch[] = [];
  const orchestrator = await startOrchestrator({
    config,
    kc: sb.kc,
    identities: await orchestratorIdentities(sb),
    temporalAddress: sb.endpoints.temporal.address,
    registry,
    vpsie,
    workflowBundle: await workflowBundle(),
    gc: { enabled: false },
    http: false,
    scaleUpTrigger: {
      namespaces: [ns],
      nodePressure: false,
      onRecord: (r) => void (records.push(r), recordTimes.set(r.workflowId, Date.now())),
      onBatch: (b) => batches.push(b),
    },
  });
  return { orchestrator, records, recordTimes, batches, registry, stop: () => orchestrator.stop() };
}

/** Bootstrap token the simulator's joiner accepts (as in the lifecycle tests). */
export const BOOTSTRAP_TOKEN = 'abcdef.0123456789abcdef';
export const BOOTSTRAP_SECRET = 'bootstrap';

export function nodeGroupBody(ns: string, name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: API_VERSION,
    kind: NODEGROUP_KIND,
    metadata: { name, namespace: ns },
    spec: { minNodes: 0, maxNodes: 10, join: { method: 'UserData', userDataSecretRef: { name: BOOTSTRAP_SECRET } }, ...spec },
  };
}

export async function createNodeGroup(sb: TestSandbox, ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  const custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: NODEGROUP_PLURAL, body: nodeGroupBody(ns, name, spec) });
}

export interface VnView {
  name: string;
  group: string;
  phase?: string;
  deleting: boolean;
  annotations: Record<string, string>;
}

export async function listVPSieNodes(sb: TestSandbox, ns: string): Promise<VnView[]> {
  const custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL })) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
      spec: { nodeGroupName: string };
      status?: { phase?: string };
    }[];
  };
  return list.items.map((o) => ({
    name: o.metadata.name,
    group: o.spec.nodeGroupName,
    ...(o.status?.phase ? { phase: o.status.phase } : {}),
    deleting: o.metadata.deletionTimestamp !== undefined,
    annotations: o.metadata.annotations ?? {},
  }));
}

export interface SimMachine {
  hostname: string;
  plan: string;
  phase: string;
  requestedAt: number;
  deletedAt: number | null;
}

export async function simMachines(sb: TestSandbox): Promise<SimMachine[]> {
  const admin = sb.endpoints.vpsie!.admin;
  const r = await fetch(`${admin.replace(/\/$/, '')}/state`);
  const body = (await r.json()) as { machines: SimMachine[] };
  return body.machines;
}

export async function createDeployment(
  sb: TestSandbox,
  ns: string,
  name: string,
  replicas: number,
  pod: k8s.V1PodSpec,
  labels: Record<string, string> = { app: name },
): Promise<void> {
  const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: { metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: pod } } },
  });
}

export function container(cpu: string, memory: string): k8s.V1Container {
  return { name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu, memory } } };
}

export async function podEvents(sb: TestSandbox, ns: string): Promise<Map<string, { reason: string; message: string }[]>> {
  const evs = await sb.core.listNamespacedEvent({ namespace: ns });
  const out = new Map<string, { reason: string; message: string }[]>();
  for (const e of evs.items) {
    if (e.involvedObject.kind !== 'Pod' || (e.reason !== 'TriggeredScaleUp' && e.reason !== 'NotTriggerScaleUp')) continue;
    const l = out.get(e.involvedObject.name ?? '') ?? [];
    l.push({ reason: e.reason, message: e.message ?? '' });
    out.set(e.involvedObject.name ?? '', l);
  }
  return out;
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Deletes the namespace's NodeGroups and waits (bounded) for their VPSieNodes to go. */
export async function cleanup(sb: TestSandbox, ns: string, timeoutMs = 90_000): Promise<void> {
  const custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
  const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
  await apps.deleteCollectionNamespacedDeployment({ namespace: ns }).catch(() => undefined);
  await sb.core.deleteCollectionNamespacedPod({ namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
  const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: NODEGROUP_PLURAL })) as {
    items: { metadata: { name: string } }[];
  };
  for (const g of list.items)
    await custom
      .deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: NODEGROUP_PLURAL, name: g.metadata.name })
      .catch(() => undefined);
  await eventually('VPSieNodes to be gone', timeoutMs, async () => ((await listVPSieNodes(sb, ns)).length === 0 ? true : undefined), 500).catch(
    () => undefined,
  );
}

/** With RECORD_REPLAY_HISTORIES=1: saves a scale-up run's history for test/replay/nodes/scale-up.test.ts. */
export function recordScaleUpHistory(sb: TestSandbox, workflowId: string, name: string): void {
  recordHistory(sb, workflowId, path.resolve(__dirname, '../../../replay/nodes/histories-scaleup'), name);
}
