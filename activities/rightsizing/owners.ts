/**
 * Pods → their workloads through owner references: Pod → ReplicaSet → Deployment, Pod →
 * StatefulSet, Pod → DaemonSet. One list of pods and one of ReplicaSets per namespace (never a get
 * per pod), read from the apiserver with the kubeconfig's credentials, validated with zod. The
 * mapping itself is pure (`ownership`, `workloadOfPod`).
 */
import type { RequestOptions } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import type { WorkloadKind } from '../../lib/crds/optipod';
import { httpGet, type GetResult } from './http';
import type { ProviderFailure, WorkloadRef } from './provider';

const OwnerRef = z.object({ apiVersion: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() });
const ObjectMeta = z.object({ name: z.string(), namespace: z.string().optional(), ownerReferences: z.array(OwnerRef).optional() });
export const OwnedListSchema = z.object({ items: z.array(z.object({ metadata: ObjectMeta })) });
export type OwnedObject = z.infer<typeof OwnedListSchema>['items'][number];

/** The controller owner reference (or the only owner when none is marked controller). */
function controllerOf(o: OwnedObject): z.infer<typeof OwnerRef> | undefined {
  const refs = o.metadata.ownerReferences ?? [];
  return refs.find((r) => r.controller === true) ?? (refs.length === 1 ? refs[0] : undefined);
}

export interface Ownership {
  /** pod name → workload. */
  pods: Map<string, WorkloadRef>;
  /** ReplicaSet name → its Deployment (only ReplicaSets a Deployment owns). */
  replicaSets: Map<string, WorkloadRef>;
}

/** The workload of each pod of `namespace`, from one list of pods and one of ReplicaSets. */
export function ownership(namespace: string, pods: readonly OwnedObject[], replicaSets: readonly OwnedObject[]): Ownership {
  const rs = new Map<string, WorkloadRef>();
  for (const r of replicaSets) {
    const owner = controllerOf(r);
    if (owner?.kind === 'Deployment' && owner.apiVersion.startsWith('apps/')) rs.set(r.metadata.name, { kind: 'Deployment', namespace, name: owner.name });
  }
  const out = new Map<string, WorkloadRef>();
  for (const p of pods) {
    const owner = controllerOf(p);
    if (owner === undefined || !owner.apiVersion.startsWith('apps/')) continue;
    let w: WorkloadRef | undefined;
    if (owner.kind === 'ReplicaSet') w = rs.get(owner.name);
    else if (owner.kind === 'StatefulSet' || owner.kind === 'DaemonSet') w = { kind: owner.kind satisfies WorkloadKind, namespace, name: owner.name };
    if (w !== undefined) out.set(p.metadata.name, w);
  }
  return { pods: out, replicaSets: rs };
}

/**
 * The workload of a pod by name: from its owner references when the pod still exists, else (a pod
 * of the rolling window that is gone, e.g. replaced by a rollout) from its ReplicaSet's name,
 * `<replicaset>-<5 characters>`, when that ReplicaSet is still kept by its Deployment.
 */
export function workloadOfPod(o: Ownership, pod: string): WorkloadRef | undefined {
  const known = o.pods.get(pod);
  if (known !== undefined) return known;
  const m = /^(.+)-[a-z0-9]{5}$/.exec(pod);
  return m ? o.replicaSets.get(m[1]!) : undefined;
}

export type KubeGet = (
  path: string,
  signal?: AbortSignal,
) => Promise<{ ok: true; body: unknown } | { ok: false; failure: ProviderFailure; status?: number; message: string }>;

/** A GET of an apiserver path with the kubeconfig's current context (TLS, token or client certificate). */
export function kubeGetter(kc: k8s.KubeConfig, timeoutMs = 10_000): KubeGet {
  return async (path, signal) => {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) return { ok: false, failure: 'KubernetesError', message: 'the kubeconfig has no current cluster' };
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    const r: GetResult = await httpGet(`${cluster.server.replace(/\/$/, '')}${path}`, {
      headers,
      ca: opts.ca as string | Buffer | undefined,
      cert: opts.cert as string | Buffer | undefined,
      key: opts.key as string | Buffer | undefined,
      rejectUnauthorized: opts.rejectUnauthorized,
      timeoutMs,
      signal,
    });
    if (!r.ok) return r;
    if (r.status < 200 || r.status >= 300)
      return { ok: false, failure: 'HttpError', status: r.status, message: `GET ${path}: HTTP ${r.status}: ${r.body.slice(0, 300)}` };
    try {
      return { ok: true, body: JSON.parse(r.body) as unknown };
    } catch {
      return { ok: false, failure: 'InvalidResponse', message: `GET ${path}: not JSON` };
    }
  };
}

/** Lists the namespace's pods and ReplicaSets (two calls) and maps the pods to workloads. */
export async function readOwnership(
  get: KubeGet,
  namespace: string,
  signal?: AbortSignal,
): Promise<{ ok: true; ownership: Ownership } | { ok: false; failure: ProviderFailure; message: string }> {
  const ns = encodeURIComponent(namespace);
  const [pods, rs] = await Promise.all([get(`/api/v1/namespaces/${ns}/pods`, signal), get(`/apis/apps/v1/namespaces/${ns}/replicasets`, signal)]);
  if (!pods.ok) return { ok: false, failure: 'KubernetesError', message: `listing pods: ${pods.message}` };
  if (!rs.ok) return { ok: false, failure: 'KubernetesError', message: `listing replicasets: ${rs.message}` };
  const p = OwnedListSchema.safeParse(pods.body);
  const r = OwnedListSchema.safeParse(rs.body);
  if (!p.success || !r.success) return { ok: false, failure: 'KubernetesError', message: 'the pod or ReplicaSet list is malformed' };
  return { ok: true, ownership: ownership(namespace, p.data.items, r.data.items) };
}
