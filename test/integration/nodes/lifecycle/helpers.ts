/**
 * Helpers of the VPSieNode lifecycle integration tests: deps on the shared sandbox, a worker
 * running only the lifecycle bundle (workflows/nodes/lifecycle/workflow.ts, which also exports the
 * drain child), NodeGroup/VPSieNode/Secret fixtures, simulator state and bounded polling.
 */
import type { NodeGroup as VPSieGroup } from '../../../../clients/vpsie/schemas';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { Client, WorkflowHandle, WorkflowHandleWithSignaledRunId } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { staticCredentials, VPSieClient } from '../../../../clients/vpsie';
import { createDrainActivities } from '../../../../activities/nodes/drain';
import { createVPSieMachineActivities } from '../../../../activities/nodes/lifecycle/machines';
import { createVPSieNodeActivities } from '../../../../activities/nodes/lifecycle/vpsienode';
import { ConfigSchema, type Config } from '../../../../lib/config';
import {
  API_VERSION,
  GROUP,
  NODEGROUP_KIND,
  NODEGROUP_PLURAL,
  VERSION,
  VPSIENODE_KIND,
  VPSIENODE_PLURAL,
  parseVPSieNode,
  type VPSieNode,
} from '../../../../lib/crds/autoscaler';
import type { OrchestratorDeps } from '../../../../workers/deps';
import { QUIET_BUNDLER, workflowBundleOptions } from '../../../../workers/bundle-options';
import { vpsieNodeSyncSignal, vpsieNodeWorkflowId } from '../../../../workflows/nodes/contracts';
import { vpsieNodeLifecycleWorkflow, type VPSieNodeLifecycleInput } from '../../../../workflows/nodes/lifecycle/workflow';
import type { TestSandbox } from '../../../support/sandbox';

export const LIFECYCLE_WORKFLOWS = path.resolve(__dirname, '../../../../workflows/nodes/lifecycle/workflow.ts');
export const HISTORIES_DIR = path.resolve(__dirname, '../../../replay/nodes/histories');
export const BOOTSTRAP_TOKEN = 'abcdef.0123456789abcdef';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function lifecycleBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ ...workflowBundleOptions(LIFECYCLE_WORKFLOWS), logger: QUIET_BUNDLER });
  return bundle;
}

export interface EndpointsLike {
  kubeconfig: string;
  apiserver: string;
  temporal: { address: string; namespace: string };
  vpsie?: { url: string; clientId: string; clientSecret: string; clusterIdentifier: string; admin: string };
}

export function makeDeps(endpoints: EndpointsLike, temporal: Client, env: Record<string, string> = {}): OrchestratorDeps {
  const v = endpoints.vpsie;
  if (!v) throw new Error('the sandbox publishes no vpsie section');
  const config: Config = ConfigSchema.parse({
    VPSIE_URL: v.url,
    VPSIE_CLUSTER_IDENTIFIER: v.clusterIdentifier,
    JOIN_API_SERVER: endpoints.apiserver,
    ...env,
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(endpoints.kubeconfig);
  const registry = new Registry();
  const vpsie = new VPSieClient({
    baseUrl: v.url,
    credentials: staticCredentials({ kind: 'client', clientId: v.clientId, clientSecret: v.clientSecret }),
    registry,
    rateLimit: false,
  });
  return { config, kc, vpsie, temporal, registry };
}

export function lifecycleActivities(deps: OrchestratorDeps): object {
  return { ...createVPSieNodeActivities(deps), ...createVPSieMachineActivities(deps), ...createDrainActivities(deps) };
}

export async function startLifecycleWorker(
  endpoints: EndpointsLike,
  taskQueue: string,
  activities: object,
): Promise<{ worker: Worker; stop: () => Promise<void> }> {
  const connection = await NativeConnection.connect({ address: endpoints.temporal.address });
  const worker = await Worker.create({ connection, namespace: endpoints.temporal.namespace, taskQueue, workflowBundle: await lifecycleBundle(), activities });
  const running = worker.run();
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
    },
  };
}

export function customApi(sb: TestSandbox): k8s.CustomObjectsApi {
  return sb.kc.makeApiClient(k8s.CustomObjectsApi);
}

export interface GroupFixture {
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  join?: Record<string, unknown>;
}

export async function createNodeGroup(sb: TestSandbox, namespace: string, name: string, f: GroupFixture = {}): Promise<void> {
  await customApi(sb).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: NODEGROUP_PLURAL,
    body: {
      apiVersion: API_VERSION,
      kind: NODEGROUP_KIND,
      metadata: { name, namespace },
      spec: {
        minNodes: 0,
        maxNodes: 5,
        datacenterID: 'us-east-1',
        offeringIDs: ['small-2cpu-4gb'],
        ...(f.labels ? { labels: f.labels } : {}),
        ...(f.taints ? { taints: f.taints } : {}),
        join: f.join ?? { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } },
      },
    },
  });
}

export async function createBootstrapSecret(sb: TestSandbox, namespace: string, name: string, content: string): Promise<void> {
  await sb.core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, stringData: { 'user-data': content } } });
}

export interface VPSieNodeFixture {
  /**
   * The VPSieNode's ownerReferences. Default: its NodeGroup as controller (read for its uid), as
   * the NodeGroup workflow creates it; only such a VPSieNode is provisioned.
   */
  ownerReferences?: Record<string, unknown>[];
  finalizers?: string[];
  spec?: Record<string, unknown>;
}

export async function createVPSieNode(
  sb: TestSandbox,
  namespace: string,
  name: string,
  group: string,
  join: Record<string, unknown>,
  f: VPSieNodeFixture = {},
): Promise<VPSieNode> {
  let ownerReferences = f.ownerReferences;
  if (!ownerReferences) {
    const ng = (await customApi(sb).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: NODEGROUP_PLURAL, name: group })) as {
      metadata: { name: string; uid: string };
    };
    ownerReferences = [{ apiVersion: API_VERSION, kind: NODEGROUP_KIND, name: group, uid: ng.metadata.uid, controller: true, blockOwnerDeletion: true }];
  }
  const created = await customApi(sb).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: VPSIENODE_PLURAL,
    body: {
      apiVersion: API_VERSION,
      kind: VPSIENODE_KIND,
      metadata: {
        name,
        namespace,
        labels: { [`${GROUP}/nodegroup`]: group },
        ...(ownerReferences.length > 0 ? { ownerReferences } : {}),
        ...(f.finalizers ? { finalizers: f.finalizers } : {}),
      },
      spec: { nodeGroupName: group, offeringID: 'small-2cpu-4gb', datacenterID: 'us-east-1', osImageID: 'ubuntu-22.04-lts', join, ...(f.spec ?? {}) },
    },
  });
  return parseVPSieNode(created);
}

export async function readVN(sb: TestSandbox, namespace: string, name: string): Promise<VPSieNode | undefined> {
  try {
    return parseVPSieNode(await customApi(sb).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: VPSIENODE_PLURAL, name }));
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

export async function deleteVN(sb: TestSandbox, namespace: string, name: string): Promise<void> {
  await customApi(sb).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: VPSIENODE_PLURAL, name });
}

/** Signal-with-start, as the VPSieNode watcher does. */
export async function startLifecycle(
  temporal: Client,
  taskQueue: string,
  input: VPSieNodeLifecycleInput,
  signal: { deleting?: boolean } = {},
): Promise<WorkflowHandleWithSignaledRunId<typeof vpsieNodeLifecycleWorkflow>> {
  return temporal.workflow.signalWithStart(vpsieNodeLifecycleWorkflow, {
    workflowId: vpsieNodeWorkflowId(input.namespace, input.name),
    taskQueue,
    args: [input],
    signal: vpsieNodeSyncSignal,
    signalArgs: [signal],
  });
}

/** Polls `fn` until it returns a value other than undefined, up to `ms`. */
export async function eventually<T>(what: string, ms: number, fn: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface SimMachine {
  identifier: string;
  hostname: string;
  kind: string;
  phase: 'pending' | 'booting' | 'running' | 'deleted';
  notes: string | null;
  node: { state: string; name: string | null };
}

export async function simMachines(sb: TestSandbox): Promise<SimMachine[]> {
  const r = await fetch(`${sb.endpoints.vpsie!.admin}/state`);
  return ((await r.json()) as { machines: SimMachine[] }).machines;
}

/** Machines the simulator holds for a VPSieNode (request id = its uid). */
export async function machinesOf(sb: TestSandbox, uid: string): Promise<SimMachine[]> {
  return (await simMachines(sb)).filter((m) => (m.notes ?? '').split(/\s+/).includes(`orchestrator-request-id=${uid}`));
}

/** The simulator's admin API; `p` is relative to the admin URL (`/faults`, `/state`, `/config`). */
export async function simAdmin(sb: TestSandbox, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${sb.endpoints.vpsie!.admin}${p}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  if (!r.ok) throw new Error(`simulator admin ${method} ${p}: HTTP ${r.status}`);
  const out: unknown = await r.json();
  if (typeof out === 'object' && out !== null && (out as { error?: unknown }).error === true)
    throw new Error(`simulator admin ${method} ${p}: ${JSON.stringify(out)}`);
  return out;
}

/**
 * Saves a workflow's history (proto JSON, as `temporal workflow show --output json` writes it)
 * for the replay tests, when RECORD_REPLAY_HISTORIES=1.
 */
export function maybeRecordHistory(sb: TestSandbox, handle: WorkflowHandle | { workflowId: string }, name: string): void {
  if (process.env.RECORD_REPLAY_HISTORIES !== '1') return;
  const t = sb.endpoints.temporal;
  const json = execFileSync(
    t.cli,
    ['workflow', 'show', '--workflow-id', handle.workflowId, '--address', t.address, '--namespace', t.namespace, '--output', 'json'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json);
}

/** A VPSie managed-cluster node group of a size no other group of the sandbox cluster uses (a fresh one per test). */
export async function freshVPSieGroup(deps: OrchestratorDeps, cluster: string, groupName: string): Promise<VPSieGroup> {
  const used = new Set((await deps.vpsie.listNodeGroups(cluster)).map((g) => g.boxsize_id));
  const offers = await deps.vpsie.listK8sOffers((await deps.vpsie.resolveDatacenter('us-east-1')).identifier);
  const offer = offers.find((o) => !used.has(o.id));
  if (!offer) throw new Error('no free size for a new VPSie group');
  return deps.vpsie.ensureNodeGroup({ clusterIdentifier: cluster, groupName, kubeSizeId: offer.id });
}
