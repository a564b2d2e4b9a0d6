/**
 * The orchestrator run in-process against the shared sandbox, one per test: its own task queue,
 * WATCH_NAMESPACE = the test's namespace, leader election off (or a lease of the test's own),
 * the GC schedule deleted on stop. Plus NodeGroup fixtures.
 */
import * as k8s from '@kubernetes/client-node';
import { loadConfig, type Config } from '../../lib/config';
import { API_VERSION, GROUP, NODEGROUP_KIND, NODEGROUP_LABEL, NODEGROUP_PLURAL, VERSION, VPSIENODE_PLURAL } from '../../lib/crds/autoscaler';
import { apiStatus } from '../../lib/kube/api';
import { startOrchestrator, type Orchestrator, type StartOrchestratorOptions } from '../../workers/orchestrator';
import { ensureCredentialsSecret, sandboxConfig } from '../../workers/sandbox-setup';
import type { TestSandbox } from './sandbox';
import { workflowBundle } from './worker';
import { ORCHESTRATOR_NAMESPACE, SERVICE_ACCOUNTS, sandboxIdentities, serviceAccountUser, type SandboxIdentities } from '../../sandbox/identities';
import type { KubeIdentities } from '../../workers/orchestrator';

export const BOOTSTRAP_TOKEN = 'abcdef.0123456789abcdef';

let secretReady: Promise<void> | undefined;
const identitiesReady = new WeakMap<TestSandbox, Promise<SandboxIdentities>>();

/** The orchestrator's parts as their ServiceAccounts of k8s/rbac.yaml (as `npm start` runs them in the sandbox). */
export async function orchestratorIdentities(sb: TestSandbox): Promise<KubeIdentities> {
  let ready = identitiesReady.get(sb);
  if (!ready) {
    ready = sandboxIdentities(sb.kc);
    identitiesReady.set(sb, ready);
  }
  return (await ready).identities;
}

/** The configuration a test orchestrator runs with. */
export function testConfig(sb: TestSandbox, namespace: string, taskQueue: string, env: Record<string, string> = {}): Config {
  const base = loadConfig({ LOG_LEVEL: 'error', ...env });
  return {
    ...sandboxConfig(base, sb.endpoints, env),
    TASK_QUEUE: taskQueue,
    WATCH_NAMESPACE: namespace,
    LEADER_ELECTION: env.LEADER_ELECTION === 'true',
    METRICS_ADDR: '127.0.0.1:0',
  };
}

export async function startTestOrchestrator(
  sb: TestSandbox,
  namespace: string,
  taskQueue: string,
  over: Partial<StartOrchestratorOptions> & { env?: Record<string, string> } = {},
): Promise<Orchestrator> {
  secretReady ??= ensureCredentialsSecret(sb.kc, 'kube-system/vpsie-credentials', sb.endpoints.vpsie!);
  await secretReady;
  const { env, ...rest } = over;
  return startOrchestrator({
    config: testConfig(sb, namespace, taskQueue, env),
    kc: sb.kc,
    identities: await orchestratorIdentities(sb),
    temporalAddress: sb.endpoints.temporal.address,
    kubeconfigPath: sb.kubeconfig,
    workflowBundle: await workflowBundle(),
    gc: { enabled: false },
    ...rest,
  });
}

/**
 * A Lease of the test's own for the watchers' leader election, outside the orchestrator's
 * namespace: a Role there like k8s/rbac.yaml's vpsie-orchestrator-leader-election, for that name.
 */
export async function grantLeaderLease(sb: TestSandbox, namespace: string, lease: string): Promise<void> {
  const rbac = sb.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const name = `vpsie-orchestrator-leader-election-${lease}`;
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name, namespace },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [lease], verbs: ['get', 'update'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNTS.watchers, namespace: ORCHESTRATOR_NAMESPACE }],
    },
  });
  const authz = sb.kc.makeApiClient(k8s.AuthorizationV1Api);
  await eventually(`the watchers may hold the Lease ${namespace}/${lease}`, 30_000, async () => {
    const r = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: serviceAccountUser('watchers'),
          resourceAttributes: { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', name: lease, namespace },
        },
      },
    });
    return r.status?.allowed === true;
  });
}

export function customApi(sb: TestSandbox): k8s.CustomObjectsApi {
  return sb.kc.makeApiClient(k8s.CustomObjectsApi);
}

export async function createBootstrapSecret(sb: TestSandbox, namespace: string, name = 'bootstrap'): Promise<void> {
  await sb.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name, namespace }, stringData: { 'user-data': JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }) } },
  });
  await grantJoinSecrets(sb, namespace);
}

/**
 * What a namespace whose NodeGroups join with a Secret of their own does for the orchestrator
 * (k8s/examples/join-secret-access.yaml): bind vpsie-orchestrator-join-secrets to the worker there.
 * Waits until the worker may read the namespace's Secrets.
 */
export async function grantJoinSecrets(sb: TestSandbox, namespace: string): Promise<void> {
  const rbac = sb.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  try {
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'vpsie-orchestrator-join-secrets', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'vpsie-orchestrator-join-secrets' },
        subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNTS.worker, namespace: ORCHESTRATOR_NAMESPACE }],
      },
    });
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
    return;
  }
  const authz = sb.kc.makeApiClient(k8s.AuthorizationV1Api);
  await eventually(`the worker may read Secrets of ${namespace}`, 30_000, async () => {
    const r = await authz.createSubjectAccessReview({
      body: { spec: { user: serviceAccountUser('worker'), resourceAttributes: { resource: 'secrets', verb: 'get', namespace } } },
    });
    return r.status?.allowed === true;
  });
}

export interface GroupSpecFixture {
  minNodes: number;
  maxNodes: number;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  [k: string]: unknown;
}

/** A UserData NodeGroup joining with the namespace's `bootstrap` Secret (created here if missing). */
export async function createGroup(sb: TestSandbox, namespace: string, name: string, spec: GroupSpecFixture): Promise<void> {
  try {
    await createBootstrapSecret(sb, namespace);
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
  }
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
        datacenterID: 'us-east-1',
        offeringIDs: ['small-2cpu-4gb'],
        join: { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } },
        ...spec,
      },
    },
  });
}

export async function patchGroupSpec(sb: TestSandbox, namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await customApi(sb).patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: NODEGROUP_PLURAL, name, body: { spec } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

/** A custom object as read from the API (only the parts the tests look at). */
export interface KObj {
  metadata: {
    name: string;
    uid: string;
    generation?: number;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    ownerReferences?: { uid: string; kind: string }[];
  };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    nodeName?: string;
    currentNodes?: number;
    desiredNodes?: number;
    readyNodes?: number;
    observedGeneration?: number;
    nodeList?: { vpsieNodeName: string; status: string }[];
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

export async function readGroup(sb: TestSandbox, namespace: string, name: string): Promise<KObj | undefined> {
  try {
    return (await customApi(sb).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: NODEGROUP_PLURAL, name })) as KObj;
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw err;
  }
}

export async function deleteGroup(sb: TestSandbox, namespace: string, name: string): Promise<void> {
  try {
    await customApi(sb).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: NODEGROUP_PLURAL, name });
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
  }
}

export interface VNView {
  name: string;
  uid: string;
  phase?: string;
  deleting: boolean;
  nodeName?: string;
  ownerUid?: string;
  finalizers: string[];
  labels: Record<string, string>;
  spec: Record<string, unknown>;
}

export async function groupVNs(sb: TestSandbox, namespace: string, group: string): Promise<VNView[]> {
  const list = (await customApi(sb).listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: VPSIENODE_PLURAL,
    labelSelector: `${NODEGROUP_LABEL}=${group}`,
  })) as { items: KObj[] };
  return list.items.map((o) => ({
    name: o.metadata.name,
    uid: o.metadata.uid,
    phase: o.status?.phase,
    deleting: o.metadata.deletionTimestamp !== undefined,
    nodeName: o.status?.nodeName,
    ownerUid: o.metadata.ownerReferences?.[0]?.uid,
    finalizers: o.metadata.finalizers ?? [],
    labels: o.metadata.labels ?? {},
    spec: o.spec,
  }));
}

export async function groupNodes(sb: TestSandbox, group: string): Promise<k8s.V1Node[]> {
  return (await sb.core.listNode({ labelSelector: `${NODEGROUP_LABEL}=${group}` })).items;
}

export async function eventually<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>, everyMs = 250): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface SimMachine {
  identifier: string;
  hostname: string;
  phase: 'pending' | 'booting' | 'running' | 'deleted';
  notes: string | null;
}

export async function simMachines(sb: TestSandbox): Promise<SimMachine[]> {
  const r = await fetch(`${sb.endpoints.vpsie!.admin}/state`);
  return ((await r.json()) as { machines: SimMachine[] }).machines;
}

/** Live (not deleted) simulator machines made for VPSieNodes of `namespace`. */
export async function liveMachinesOfNamespace(sb: TestSandbox, namespace: string): Promise<SimMachine[]> {
  return (await simMachines(sb)).filter((m) => m.phase !== 'deleted' && (m.notes ?? '').split(/\s+/).some((t) => t.startsWith(`vpsienode=${namespace}/`)));
}
