/**
 * The pod sizing contract between the orchestrator and the MutatingAdmissionPolicy of
 * k8s/admission/optipod-pod-sizing.yaml: one ConfigMap `optipod-pod-sizing` per namespace whose
 * `data` holds, per workload under an Auto policy, the requests (and limits, when the policy
 * changes them) its new pods get at admission:
 *
 *   <Kind>_<workloadName>_<containerName>_<field> = <quantity>
 *
 * Kind ∈ Deployment | StatefulSet | DaemonSet; field ∈ cpu, memory (requests), cpuLimit,
 * memoryLimit. `_` occurs in no Kubernetes object or container name, so a key is unambiguous and
 * every key starting with `<Kind>_<workloadName>_` is that workload's. A key longer than 253
 * characters cannot be stored (the workload is reported not storable). CPU is written in whole
 * millicores and memory in whole MiB, rounded up (formatCpu / formatMemory: what an in-place
 * resize writes too, so new pods match resized ones).
 *
 * Pure: building, merging and reading the data; the activities do the I/O.
 */
import { z } from 'zod';
import { WORKLOAD_KINDS, type WorkloadKind } from './constants';
import { QUANTITY_PATTERN, cpuMillis, formatCpu, formatMemory, memoryBytes } from './quantity';

export const POD_SIZING_CONFIGMAP = 'optipod-pod-sizing';
export const POD_SIZING_LABELS = { 'app.kubernetes.io/managed-by': 'vpsie-orchestrator', 'optipod.io/pod-sizing': 'true' } as const;
/** cpu, memory: requests; cpuLimit, memoryLimit: limits. */
export const POD_SIZING_FIELDS = ['cpu', 'memory', 'cpuLimit', 'memoryLimit'] as const;
export type PodSizingField = (typeof POD_SIZING_FIELDS)[number];
/** ConfigMap keys are at most 253 characters. */
export const POD_SIZING_MAX_KEY = 253;

export interface PodSizingContainer {
  name: string;
  /** Millicores. */
  cpu?: number;
  /** Bytes. */
  memory?: number;
  /** Millicores. */
  cpuLimit?: number;
  /** Bytes. */
  memoryLimit?: number;
}

export interface PodSizingWorkload {
  kind: WorkloadKind;
  name: string;
  containers: PodSizingContainer[];
}

export interface PodSizingWorkloadRef {
  kind: WorkloadKind;
  name: string;
}

export const podSizingKey = (kind: WorkloadKind, workload: string, container: string, field: PodSizingField): string =>
  `${kind}_${workload}_${container}_${field}`;

/** The prefix of every key of the workload. */
const prefixOf = (w: PodSizingWorkloadRef): string => `${w.kind}_${w.name}_`;

const isCpu = (field: PodSizingField): boolean => field === 'cpu' || field === 'cpuLimit';

function format(field: PodSizingField, v: number): string {
  return isCpu(field) ? formatCpu(v) : formatMemory(v);
}

/**
 * The data of these workloads. A value that is not a positive finite number, or that rounds to
 * zero, is left out (that key only: no zero limit is ever written); a workload with a key over 253 characters is left out entirely and named in
 * `notStorable` (half a workload's entries would size some containers and not others).
 */
export function buildPodSizingData(workloads: readonly PodSizingWorkload[]): {
  data: Record<string, string>;
  notStorable: PodSizingWorkloadRef[];
} {
  const data: Record<string, string> = {};
  const notStorable: PodSizingWorkloadRef[] = [];
  for (const w of workloads) {
    const entries: [string, string][] = [];
    for (const c of w.containers)
      for (const f of POD_SIZING_FIELDS) {
        const v = c[f];
        if (v === undefined || !Number.isFinite(v) || v <= 0) continue;
        const q = format(f, v);
        if (!/^0+(m|Mi)$/.test(q)) entries.push([podSizingKey(w.kind, w.name, c.name, f), q]);
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
 * `existing` with every key of the `set` and `remove` workloads replaced: `set` workloads get
 * exactly their new entries (a not-storable one none, and is named), `remove` workloads none;
 * every other key — other workloads', and keys that are no workload's — is kept as it is.
 */
export function mergePodSizingData(
  existing: Readonly<Record<string, string>>,
  set: readonly PodSizingWorkload[],
  remove: readonly PodSizingWorkloadRef[],
): { data: Record<string, string>; notStorable: PodSizingWorkloadRef[] } {
  const prefixes = [...set, ...remove].map(prefixOf);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(existing)) if (!prefixes.some((p) => k.startsWith(p))) data[k] = v;
  const built = buildPodSizingData(set);
  Object.assign(data, built.data);
  return { data, notStorable: built.notStorable };
}

const DNS_SUBDOMAIN = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';
const DNS_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
/** A key of the contract; groups: kind, workload, container, field. */
const KEY_PATTERN = new RegExp(`^(${WORKLOAD_KINDS.join('|')})_(${DNS_SUBDOMAIN})_(${DNS_LABEL})_(${POD_SIZING_FIELDS.join('|')})$`);

const EntrySchema = z.tuple([
  z
    .string()
    .max(POD_SIZING_MAX_KEY)
    .regex(KEY_PATTERN)
    .transform((k) => {
      const m = KEY_PATTERN.exec(k)!;
      return { kind: m[1] as WorkloadKind, workload: m[2]!, container: m[3]!, field: m[4] as PodSizingField };
    }),
  z.string().regex(QUANTITY_PATTERN),
]);

/** A quantity of `field` as a number: bytes, or millicores ("250m" exactly 250; others to the nanocore). */
function valueOf(field: PodSizingField, q: string): number | undefined {
  if (!isCpu(field)) return memoryBytes(q);
  if (q.endsWith('m') && QUANTITY_PATTERN.test(q)) return Number(q.slice(0, -1));
  const m = cpuMillis(q);
  return m === undefined || Math.abs(m) * 1e6 > Number.MAX_SAFE_INTEGER ? m : Math.round(m * 1e6) / 1e6;
}

/**
 * The workloads of a ConfigMap's `data` (anything: it comes from the API). Entries that are not
 * the contract's — key not `<Kind>_<workload>_<container>_<field>`, value not a non-negative
 * quantity — are skipped and their keys named in `malformed` (the policy ignores them too).
 * Workloads and containers come in the order of their first key.
 */
export function readPodSizing(data: unknown): { workloads: PodSizingWorkload[]; malformed: string[] } {
  const byWorkload = new Map<string, PodSizingWorkload>();
  const malformed: string[] = [];
  const record = z.record(z.string(), z.unknown()).safeParse(data ?? {});
  if (!record.success) return { workloads: [], malformed: [] };
  for (const entry of Object.entries(record.data)) {
    const parsed = EntrySchema.safeParse(entry);
    const n = parsed.success ? valueOf(parsed.data[0].field, parsed.data[1]) : undefined;
    if (!parsed.success || n === undefined) {
      malformed.push(entry[0]);
      continue;
    }
    const [{ kind, workload, container, field }] = parsed.data;
    const wk = `${kind}/${workload}`;
    let w = byWorkload.get(wk);
    if (w === undefined) byWorkload.set(wk, (w = { kind, name: workload, containers: [] }));
    let c = w.containers.find((x) => x.name === container);
    if (c === undefined) w.containers.push((c = { name: container }));
    c[field] = n;
  }
  return { workloads: [...byWorkload.values()], malformed };
}
