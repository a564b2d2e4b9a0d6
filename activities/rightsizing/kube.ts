/**
 * What a rightsizing cycle reads from and writes to Kubernetes: the policy and its competitors,
 * namespaces, workloads (Deployments, StatefulSets, DaemonSets), pods (owners and OOM kills),
 * the OptimizationCheckpoints that hold the usage models, the policy's status and Events.
 * Every answer is validated with zod; an RBAC 403 is a typed `Forbidden`, never a throw that
 * would retry in a loop.
 */
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import type { OomKill, TemplateContainer } from '../../decision/rightsizing/cycle';
import type { ResourceValuesNum } from '../../decision/rightsizing/gate';
import { workloadKey, type NamespaceInfo, type WorkloadInfo } from '../../decision/rightsizing/selection';
import {
  CHECKPOINT_WORKLOAD_LABEL,
  OPTIMIZATIONCHECKPOINT_KIND,
  OPTIMIZATIONCHECKPOINT_PLURAL,
  OPTIMIZATIONPOLICY_PLURAL,
  OPTIPOD_API_VERSION,
  OPTIPOD_GROUP,
  OPTIPOD_VERSION,
  OptimizationCheckpointSchema,
  checkpointName,
  cpuMillis,
  memoryBytes,
  shortHash,
  type OptimizationPolicyStatus,
  type WorkloadKind,
} from '../../lib/crds/optipod';
import { apiStatus } from '../../lib/kube/api';
import { POD_SIZING_CONFIGMAP } from '../../lib/crds/optipod/pod-sizing';
import { ownership, type OwnedObject, type Ownership } from './owners';

const PATCH_MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const G = { group: OPTIPOD_GROUP, version: OPTIPOD_VERSION };

export type Read<T> = { ok: true; value: T } | { ok: false; forbidden: true; message: string };

async function guarded<T>(what: string, f: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (err) {
    if (apiStatus(err) === 403) return { ok: false, forbidden: true, message: `${what}: forbidden (RBAC)` };
    throw err;
  }
}

// ---------------------------------------------------------------- policies

/** The policy object as stored, or undefined when it is gone. */
export async function readPolicy(kc: k8s.KubeConfig, namespace: string, name: string): Promise<unknown> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  try {
    return (await custom.getNamespacedCustomObject({ ...G, namespace, plural: OPTIMIZATIONPOLICY_PLURAL, name })) as unknown;
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw err;
  }
}

/** Every policy of the cluster (competitors for overlap settlement), as stored. */
export async function listPolicies(kc: k8s.KubeConfig, namespace?: string): Promise<unknown[]> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (
    namespace === undefined
      ? await custom.listClusterCustomObject({ ...G, plural: OPTIMIZATIONPOLICY_PLURAL })
      : await custom.listNamespacedCustomObject({ ...G, namespace, plural: OPTIMIZATIONPOLICY_PLURAL })
  ) as { items?: unknown[] };
  return list.items ?? [];
}

/** Writes the policy's status (merge patch; a policy deleted meanwhile is not an error). */
export async function writePolicyStatus(kc: k8s.KubeConfig, namespace: string, name: string, status: OptimizationPolicyStatus): Promise<boolean> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  try {
    await custom.patchNamespacedCustomObjectStatus({ ...G, namespace, plural: OPTIMIZATIONPOLICY_PLURAL, name, body: { status } }, PATCH_MERGE);
    return true;
  } catch (err) {
    if (apiStatus(err) === 404) return false;
    throw err;
  }
}

// ---------------------------------------------------------------- namespaces and workloads

/** Namespaces with their labels; a tenant without the right to list them sees its own (read alone, or without labels). */
export async function listNamespaces(kc: k8s.KubeConfig, own: string): Promise<NamespaceInfo[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const info = (n: k8s.V1Namespace): NamespaceInfo => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} });
  try {
    return (await core.listNamespace()).items.map(info).filter((n) => n.name !== '');
  } catch (err) {
    if (apiStatus(err) !== 403) throw err;
    try {
      return [info(await core.readNamespace({ name: own }))];
    } catch (e) {
      // not even its own namespace may be read: it is known to exist (the policy lives there), its labels are not
      if (apiStatus(e) === 403) return [{ name: own, labels: {} }];
      if (apiStatus(e) === 404) return [];
      throw e;
    }
  }
}

export interface ListedWorkload extends WorkloadInfo {
  containers: TemplateContainer[];
  /** Desired replicas (a DaemonSet: the pods it should run). */
  replicas: number;
}

function resources(r: k8s.V1ResourceRequirements | undefined): Pick<TemplateContainer, 'requests' | 'limits'> {
  const pick = (m: Record<string, string> | undefined): { cpu?: string; memory?: string } | undefined => {
    if (m === undefined) return undefined;
    const out: { cpu?: string; memory?: string } = {};
    if (typeof m.cpu === 'string') out.cpu = m.cpu;
    if (typeof m.memory === 'string') out.memory = m.memory;
    return out.cpu === undefined && out.memory === undefined ? undefined : out;
  };
  const out: Pick<TemplateContainer, 'requests' | 'limits'> = {};
  const req = pick(r?.requests as Record<string, string> | undefined);
  const lim = pick(r?.limits as Record<string, string> | undefined);
  if (req) out.requests = req;
  if (lim) out.limits = lim;
  return out;
}

function listed(kind: WorkloadKind, o: k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet): ListedWorkload | undefined {
  const name = o.metadata?.name;
  const namespace = o.metadata?.namespace;
  if (!name || !namespace) return undefined;
  return {
    kind,
    namespace,
    name,
    labels: o.metadata?.labels ?? {},
    // native sidecars (init containers that keep running) are rightsized like containers; plain init containers are not
    containers: [
      ...(o.spec?.template.spec?.containers ?? []).map((c) => ({ name: c.name, ...resources(c.resources) })),
      ...(o.spec?.template.spec?.initContainers ?? [])
        .filter((c) => c.restartPolicy === 'Always')
        .map((c) => ({ name: c.name, sidecar: true, ...resources(c.resources) })),
    ],
    replicas:
      kind === 'DaemonSet' ? ((o as k8s.V1DaemonSet).status?.desiredNumberScheduled ?? 0) : ((o as k8s.V1Deployment | k8s.V1StatefulSet).spec?.replicas ?? 1),
  };
}

/**
 * The workloads of `namespaces` (all three kinds): one list per kind and namespace, or one per
 * kind across the cluster when `clusterWide` (an operator-namespace policy). Namespaces whose
 * workloads may not be listed are returned as forbidden.
 */
export async function listWorkloads(
  kc: k8s.KubeConfig,
  namespaces: readonly string[],
  clusterWide: boolean,
): Promise<{ workloads: ListedWorkload[]; forbidden: { namespace: string; message: string }[] }> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const wanted = new Set(namespaces);
  const out: ListedWorkload[] = [];
  const forbidden: { namespace: string; message: string }[] = [];
  const add = (kind: WorkloadKind, items: (k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet)[]): void => {
    for (const o of items) {
      const w = listed(kind, o);
      if (w && wanted.has(w.namespace)) out.push(w);
    }
  };
  if (clusterWide) {
    const all = await guarded('listing workloads of every namespace', async () =>
      Promise.all([apps.listDeploymentForAllNamespaces(), apps.listStatefulSetForAllNamespaces(), apps.listDaemonSetForAllNamespaces()]),
    );
    if (all.ok) {
      const [d, s, ds] = all.value;
      add('Deployment', d.items);
      add('StatefulSet', s.items);
      add('DaemonSet', ds.items);
      return { workloads: out, forbidden };
    }
  }
  for (const namespace of namespaces) {
    const r = await guarded(`listing workloads of namespace ${namespace}`, async () =>
      Promise.all([apps.listNamespacedDeployment({ namespace }), apps.listNamespacedStatefulSet({ namespace }), apps.listNamespacedDaemonSet({ namespace })]),
    );
    if (!r.ok) {
      forbidden.push({ namespace, message: r.message });
      continue;
    }
    const [d, s, ds] = r.value;
    add('Deployment', d.items);
    add('StatefulSet', s.items);
    add('DaemonSet', ds.items);
  }
  return { workloads: out, forbidden };
}

// ---------------------------------------------------------------- pods: owners and OOM kills

const Terminated = z.object({ reason: z.string().optional(), finishedAt: z.string().nullable().optional() });
const ResourceMap = z.record(z.string(), z.union([z.string(), z.number()])).nullish();
const Resources = z.object({ requests: ResourceMap, limits: ResourceMap }).nullish();
const SpecContainer = z.object({ name: z.string(), resources: Resources, restartPolicy: z.string().nullish() });
const PodSchema = z.object({
  metadata: z.object({
    name: z.string(),
    deletionTimestamp: z.unknown().optional(),
    ownerReferences: z.array(z.object({ apiVersion: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() })).optional(),
  }),
  spec: z.object({ containers: z.array(SpecContainer), initContainers: z.array(SpecContainer).nullish() }).optional(),
  status: z
    .object({
      phase: z.string().nullish(),
      containerStatuses: z
        .array(
          z.object({ name: z.string(), resources: Resources, lastState: z.object({ terminated: Terminated.nullable().optional() }).nullable().optional() }),
        )
        .nullable()
        .optional(),
      initContainerStatuses: z.array(z.object({ name: z.string(), resources: Resources })).nullish(),
    })
    .optional(),
});
type Pod = z.infer<typeof PodSchema>;

/**
 * OOM kills of `namespace`'s pods that belong to a workload: the container's last termination
 * with reason OOMKilled, at its finish time, with the container's memory limit as the usage at the
 * kill (a container without a memory limit is killed by node pressure, not by its limit: skipped).
 */
export function oomKills(
  pods: readonly Pod[],
  owners: Ownership,
  workloadOf: (o: Ownership, pod: string) => { kind: WorkloadKind; namespace: string; name: string } | undefined,
): OomKill[] {
  const out: OomKill[] = [];
  for (const p of pods) {
    const w = workloadOf(owners, p.metadata.name);
    if (w === undefined) continue;
    for (const cs of p.status?.containerStatuses ?? []) {
      const t = cs.lastState?.terminated;
      if (t?.reason !== 'OOMKilled' || !t.finishedAt) continue;
      const at = Date.parse(t.finishedAt);
      const limit = p.spec?.containers.find((c) => c.name === cs.name)?.resources?.limits?.memory;
      const usage = limit === undefined ? undefined : memoryBytes(String(limit));
      if (!Number.isFinite(at) || usage === undefined) continue;
      out.push({ workload: workloadKey(w), container: cs.name, at, usage });
    }
  }
  return out;
}

/**
 * What each workload's running pods have now, per container (millicores and bytes): what the
 * kubelet reports (`status.containerStatuses[].resources`), else the spec; across replicas, the
 * values most of them have (a tie goes to the first pod by name). Native sidecars too.
 */
export function currentResources(
  pods: readonly Pod[],
  owners: Ownership,
  workloadOf: (o: Ownership, pod: string) => { kind: WorkloadKind; namespace: string; name: string } | undefined,
): Map<string, Record<string, ResourceValuesNum & { sidecar?: boolean }>> {
  const votes = new Map<string, Map<string, Map<string, { n: number; v: ResourceValuesNum & { sidecar?: boolean } }>>>();
  const num = (res: 'cpu' | 'memory', m: z.infer<typeof ResourceMap>): number | undefined => {
    const q = m?.[res];
    return q === undefined ? undefined : res === 'cpu' ? cpuMillis(String(q)) : memoryBytes(String(q));
  };
  for (const p of [...pods].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    if (p.metadata.deletionTimestamp != null || p.status?.phase !== 'Running' || p.spec === undefined) continue;
    const w = workloadOf(owners, p.metadata.name);
    if (w === undefined) continue;
    const wk = workloadKey(w);
    const byContainer = votes.get(wk) ?? new Map<string, Map<string, { n: number; v: ResourceValuesNum & { sidecar?: boolean } }>>();
    votes.set(wk, byContainer);
    const specs = [
      ...p.spec.containers.map((c) => ({ c, sidecar: false })),
      ...(p.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => ({ c, sidecar: true })),
    ];
    for (const { c, sidecar } of specs) {
      const st = (sidecar ? p.status?.initContainerStatuses : p.status?.containerStatuses)?.find((x) => x.name === c.name);
      const r = st?.resources ?? c.resources;
      const v: ResourceValuesNum & { sidecar?: boolean } = {};
      const cr = num('cpu', r?.requests);
      const mr = num('memory', r?.requests);
      const cl = num('cpu', r?.limits);
      const ml = num('memory', r?.limits);
      if (cr !== undefined) v.cpuRequest = cr;
      if (mr !== undefined) v.memoryRequest = mr;
      if (cl !== undefined) v.cpuLimit = cl;
      if (ml !== undefined) v.memoryLimit = ml;
      if (sidecar) v.sidecar = true;
      const key = JSON.stringify(v);
      const tally = byContainer.get(c.name) ?? new Map<string, { n: number; v: ResourceValuesNum & { sidecar?: boolean } }>();
      byContainer.set(c.name, tally);
      const t = tally.get(key);
      if (t) t.n++;
      else tally.set(key, { n: 1, v });
    }
  }
  const out = new Map<string, Record<string, ResourceValuesNum & { sidecar?: boolean }>>();
  for (const [wk, byContainer] of votes) {
    const rec: Record<string, ResourceValuesNum & { sidecar?: boolean }> = {};
    for (const [name, tally] of byContainer) {
      let best: { n: number; v: ResourceValuesNum & { sidecar?: boolean } } | undefined;
      for (const t of tally.values()) if (best === undefined || t.n > best.n) best = t;
      if (best) rec[name] = best.v;
    }
    out.set(wk, rec);
  }
  return out;
}

/** Template values as numbers (a workload with no running pod). */
export function templateResources(containers: readonly TemplateContainer[]): Record<string, ResourceValuesNum & { sidecar?: boolean }> {
  const rec: Record<string, ResourceValuesNum & { sidecar?: boolean }> = {};
  for (const c of containers) {
    const v: ResourceValuesNum & { sidecar?: boolean } = {};
    const cr = c.requests?.cpu !== undefined ? cpuMillis(c.requests.cpu) : undefined;
    const mr = c.requests?.memory !== undefined ? memoryBytes(c.requests.memory) : undefined;
    const cl = c.limits?.cpu !== undefined ? cpuMillis(c.limits.cpu) : undefined;
    const ml = c.limits?.memory !== undefined ? memoryBytes(c.limits.memory) : undefined;
    if (cr !== undefined) v.cpuRequest = cr;
    if (mr !== undefined) v.memoryRequest = mr;
    if (cl !== undefined) v.cpuLimit = cl;
    if (ml !== undefined) v.memoryLimit = ml;
    if (c.sidecar === true) v.sidecar = true;
    rec[c.name] = v;
  }
  return rec;
}

/**
 * Whether this identity may resize pods and write the pod sizing ConfigMap in `namespace` (two
 * SelfSubjectAccessReviews; the ConfigMap's by its name, as RBAC grants it by name only).
 */
export async function canApplyIn(kc: k8s.KubeConfig, namespace: string): Promise<boolean> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const ask = async (resource: string, subresource: string | undefined, verb: string, name?: string): Promise<boolean> => {
    const r = await authz.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace, resource, verb, group: '', ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) } } },
    });
    return r.status?.allowed === true;
  };
  const [resize, sizing] = await Promise.all([ask('pods', 'resize', 'patch'), ask('configmaps', undefined, 'update', POD_SIZING_CONFIGMAP)]);
  return resize && sizing;
}

/** The cluster serves pods/resize (in-place pod resize, Kubernetes ≥ 1.33 with InPlacePodVerticalScaling). */
export async function inPlaceResizeServed(kc: k8s.KubeConfig): Promise<boolean> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.getAPIResources();
  return list.resources.some((r) => r.name === 'pods/resize');
}

/** The namespace's pods (full) and ReplicaSets: the owner mapping and the pods for OOM kills. */
export async function readPods(kc: k8s.KubeConfig, namespace: string): Promise<Read<{ pods: Pod[]; ownership: Ownership }>> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const r = await guarded(`reading pods of namespace ${namespace}`, async () =>
    Promise.all([core.listNamespacedPod({ namespace }), apps.listNamespacedReplicaSet({ namespace })]),
  );
  if (!r.ok) return r;
  const [podList, rsList] = r.value;
  const pods: Pod[] = [];
  for (const raw of podList.items) {
    const p = PodSchema.safeParse(JSON.parse(JSON.stringify(raw)) as unknown);
    if (p.success) pods.push(p.data);
  }
  const rs: OwnedObject[] = rsList.items.flatMap((x) =>
    x.metadata?.name
      ? [
          {
            metadata: {
              name: x.metadata.name,
              ownerReferences: (x.metadata.ownerReferences ?? []).map((o) => ({
                apiVersion: o.apiVersion,
                kind: o.kind,
                name: o.name,
                ...(o.controller !== undefined ? { controller: o.controller } : {}),
              })),
            },
          },
        ]
      : [],
  );
  return { ok: true, value: { pods, ownership: ownership(namespace, pods, rs) } };
}

// ---------------------------------------------------------------- checkpoints

export interface StoredModels {
  /** workload key → container → model state as read. */
  models: Record<string, Record<string, unknown>>;
  /** workload key → resourceVersion (for replace). */
  versions: Record<string, string>;
}

/** The namespace's checkpoints (one list call); malformed ones are left out (their models are rebuilt). */
export async function loadCheckpoints(kc: k8s.KubeConfig, namespace: string): Promise<Read<StoredModels>> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const r = await guarded(
    `reading checkpoints of namespace ${namespace}`,
    async () => (await custom.listNamespacedCustomObject({ ...G, namespace, plural: OPTIMIZATIONCHECKPOINT_PLURAL })) as { items?: unknown[] },
  );
  if (!r.ok) return r;
  const out: StoredModels = { models: {}, versions: {} };
  for (const item of r.value.items ?? []) {
    const cp = OptimizationCheckpointSchema.safeParse(item);
    if (!cp.success) continue;
    const key = workloadKey({ kind: cp.data.spec.workload.kind, namespace, name: cp.data.spec.workload.name });
    out.models[key] = Object.fromEntries(cp.data.spec.containers.map((c) => [c.name, c.model]));
    if (cp.data.metadata.resourceVersion) out.versions[key] = cp.data.metadata.resourceVersion;
  }
  return { ok: true, value: out };
}

/**
 * Stores one workload's models: create, or replace at the version read (a conflict — another
 * writer — re-reads once and replaces; the models are idempotent, so the later write is right).
 */
export async function saveCheckpoint(
  kc: k8s.KubeConfig,
  w: { kind: WorkloadKind; namespace: string; name: string },
  containers: Record<string, unknown>,
  policy: string,
  now: number,
  resourceVersion: string | undefined,
): Promise<void> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const name = checkpointName(w.kind, w.name);
  const label = `${w.kind.toLowerCase()}.${w.name}`;
  const body = (rv: string | undefined) => ({
    apiVersion: OPTIPOD_API_VERSION,
    kind: OPTIMIZATIONCHECKPOINT_KIND,
    metadata: {
      name,
      namespace: w.namespace,
      labels: { [CHECKPOINT_WORKLOAD_LABEL]: label.length <= 63 ? label : `${label.slice(0, 54)}-${shortHash(label)}` },
      ...(rv ? { resourceVersion: rv } : {}),
    },
    spec: {
      workload: { kind: w.kind, name: w.name },
      policy,
      lastUpdateTime: new Date(now).toISOString(),
      containers: Object.entries(containers)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([n, model]) => ({ name: n, model })),
    },
  });
  const replace = (rv: string) =>
    custom.replaceNamespacedCustomObject({ ...G, namespace: w.namespace, plural: OPTIMIZATIONCHECKPOINT_PLURAL, name, body: body(rv) });
  const current = async (): Promise<string | undefined> => {
    const o = (await custom.getNamespacedCustomObject({ ...G, namespace: w.namespace, plural: OPTIMIZATIONCHECKPOINT_PLURAL, name })) as {
      metadata?: { resourceVersion?: string };
    };
    return o.metadata?.resourceVersion;
  };
  if (resourceVersion === undefined) {
    try {
      await custom.createNamespacedCustomObject({ ...G, namespace: w.namespace, plural: OPTIMIZATIONCHECKPOINT_PLURAL, body: body(undefined) });
      return;
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
    }
    const rv = await current();
    if (rv !== undefined) await replace(rv);
    return;
  }
  try {
    await replace(resourceVersion);
  } catch (err) {
    if (apiStatus(err) === 404) {
      await saveCheckpoint(kc, w, containers, policy, now, undefined);
      return;
    }
    if (apiStatus(err) !== 409) throw err;
    const rv = await current();
    if (rv !== undefined) await replace(rv);
  }
}
