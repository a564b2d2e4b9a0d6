/**
 * The pod sizing contract between the orchestrator and the MutatingAdmissionPolicy of
 * k8s/admission/optipod-pod-sizing.yaml: one ConfigMap `optipod-pod-sizing` per namespace whose
 * `data` holds, per workload under an Auto policy, the requests (and limits, when the policy
 * changes them) its new pods get at admission:
 *
 *   <Kind>_<workloadName>_<containerName>_<field> = <quantity>
 *
 * Kind ∈ Deployment | StatefulSet | DaemonSet; field ∈ cpu, memory (requests), cpuLimit,
 * memoryLimit. `_` occurs in no Kubernetes object or container name, so a key is unambiguous. A
 * key longer than 253 characters cannot be stored (the workload is reported not storable).
 * Pure: building, merging and reading the data; the activities do the I/O.
 */
import { z } from 'zod';
import { WORKLOAD_KINDS, type WorkloadKind } from './constants';
import { QUANTITY_PATTERN, cpuMillis, formatCpu, formatMemory, memoryBytes } from './quantity';

export const POD_SIZING_CONFIGMAP = 'optipod-pod-sizing';
export const POD_SIZING_LABELS = { 'app.kubernetes.io/managed-by': 'vpsie-orchestrator', 'optipod.io/pod-sizing': 'true' } as const;
export const POD_SIZING_FIELDS = ['cpu', 'memory', 'cpuLimit', 'memoryLimit'] as const;
export type PodSizingField = (typeof POD_SIZING_FIELDS)[number];
/** ConfigMap keys are at most 253 characters. */
export const POD_SIZING_MAX_KEY = 253;

export interface PodSizingContainer {
  name: string;
  /** Millicores / bytes. */
  cpu?: number;
  memory?: number;
  cpuLimit?: number;
  memoryLimit?: number;
}

export interface PodSizingWorkload {
  kind: WorkloadKind;
  name: string;
  containers: PodSizingContainer[];
}

export const podSizingKey = (kind: WorkloadKind, workload: string, container: string, field: PodSizingField): string =>
  `${kind}_${workload}_${container}_${field}`;

const prefixOf = (kind: WorkloadKind, workload: string): string => `${kind}_${workload}_`;

function format(field: PodSizingField, v: number): string {
  return field === 'cpu' || field === 'cpuLimit' ? formatCpu(v) : formatMemory(v);
}

/** The data of these workloads; a workload with a key too long is left out and named in `notStorable`. */
export function buildPodSizingData(workloads: readonly PodSizingWorkload[]): {
  data: Record<string, string>;
  notStorable: { kind: WorkloadKind; name: string }[];
} {
  const data: Record<string, string> = {};
  const notStorable: { kind: WorkloadKind; name: string }[] = [];
  for (const w of workloads) {
    const entries: [string, string][] = [];
    for (const c of w.containers)
      for (const f of POD_SIZING_FIELDS) {
        const v = c[f];
        if (v !== undefined && Number.isFinite(v) && v > 0) entries.push([podSizingKey(w.kind, w.name, c.name, f), format(f, v)]);
      }
    if (entries.some(([k]) => k.length > POD_SIZING_MAX_KEY)) {
      notStorable.push({ kind: w.kind, name: w.name });
      continue;
    }
    for (const [k, v] of entries) data[k] = v;
  }
  return { data, notStorable };
}

/**
 * `existing` with every key of `set`'s and `remove`'s workloads replaced: `set` workloads get
 * exactly their new entries, `remove` workloads none; other workloads' keys are untouched.
 */
export function mergePodSizingData(
  existing: Readonly<Record<string, string>>,
  set: readonly PodSizingWorkload[],
  remove: readonly { kind: WorkloadKind; name: string }[],
): { data: Record<string, string>; notStorable: { kind: WorkloadKind; name: string }[] } {
  const prefixes = [...set, ...remove].map((w) => prefixOf(w.kind, w.name));
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(existing)) if (!prefixes.some((p) => ownsKey(p, k))) data[k] = v;
  const built = buildPodSizingData(set);
  Object.assign(data, built.data);
  return { data, notStorable: built.notStorable };
}

/** `key` belongs to the workload of `prefix` (`Kind_name_`): the rest is `container_field` with no `_` in the container. */
function ownsKey(prefix: string, key: string): boolean {
  if (!key.startsWith(prefix)) return false;
  const rest = key.slice(prefix.length);
  const i = rest.indexOf('_');
  return i > 0 && rest.indexOf('_', i + 1) === -1 && (POD_SIZING_FIELDS as readonly string[]).includes(rest.slice(i + 1));
}

const KEY = z.string().regex(/^(Deployment|StatefulSet|DaemonSet)_([a-z0-9.-]+)_([a-z0-9-]+)_(cpu|memory|cpuLimit|memoryLimit)$/);

/** The workloads of a ConfigMap's data; entries that are not the contract's (key or quantity) are skipped and named. */
export function readPodSizing(data: Readonly<Record<string, string>>): { workloads: PodSizingWorkload[]; malformed: string[] } {
  const byWorkload = new Map<string, PodSizingWorkload>();
  const malformed: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    const m = KEY.safeParse(k).success ? /^([A-Za-z]+)_(.+)_([a-z0-9-]+)_(cpu|memory|cpuLimit|memoryLimit)$/.exec(k) : null;
    const kind = m?.[1] as WorkloadKind | undefined;
    const field = m?.[4] as PodSizingField | undefined;
    const n = field === undefined || !QUANTITY_PATTERN.test(v) ? undefined : field === 'cpu' || field === 'cpuLimit' ? cpuMillis(v) : memoryBytes(v);
    if (m === null || kind === undefined || !(WORKLOAD_KINDS as readonly string[]).includes(kind) || field === undefined || n === undefined) {
      malformed.push(k);
      continue;
    }
    const wk = `${kind}/${m[2]!}`;
    const w = byWorkload.get(wk) ?? { kind, name: m[2]!, containers: [] };
    byWorkload.set(wk, w);
    let c = w.containers.find((x) => x.name === m[3]);
    if (c === undefined) w.containers.push((c = { name: m[3]! }));
    c[field] = n;
  }
  return { workloads: [...byWorkload.values()], malformed };
}
