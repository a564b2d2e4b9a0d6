/**
 * Carrying out what the gate allowed (decision/rightsizing/gate.ts), one workload at a time, as
 * steps of the policy's workflow (workflows/rightsizing/policy.ts):
 *
 *   - `applyInPlace`: writes the workload's entry in the namespace's pod sizing ConfigMap (so pods
 *     created from now on come up at the new size: k8s/admission/optipod-pod-sizing.yaml), then
 *     resizes each running pod whose spec differs through the `pods/resize` subresource, and
 *     watches the outcome: each container's `status.containerStatuses[].resources` confirming the
 *     new values, or `PodResizePending` (Infeasible; Deferred past the policy's timeout) or
 *     `PodResizeInProgress` with reason Error. With no pod running, the ConfigMap entry is the
 *     whole application (method Admission).
 *   - `recreateStep`: one level-triggered step of a recreate: while any replica is missing, not
 *     Ready or terminating it waits; otherwise it evicts ONE pod whose running resources differ
 *     (Eviction API: PodDisruptionBudgets are respected, a 429 is reported as blocked, never a
 *     plain delete); done when none differs. The workflow calls it until done.
 *   - `recordApplications`: the outcomes into the policy status (method, outcome, skip reason,
 *     last applied time), Events on the workloads (RightsizingApplied / RightsizingSkipped /
 *     RightsizingFailed with the old and new values) and `optipod_applications_total{method}`.
 *
 * Idempotent under retries and worker restarts: a pod already at its new spec is not patched
 * again, so a retried step never resizes twice; a recreate step evicts only when every replica is
 * Ready and none is going away, so a retried or repeated step never has two replicas down. Every
 * step re-reads the policy and stops at once when it is no longer in Auto mode (or is gone).
 * Heartbeats while waiting; cancellation is honoured between polls.
 */
import { Context } from '@temporalio/activity';
import * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import {
  APPLY_METHODS,
  OptimizationPolicySpecSchema,
  OptimizationPolicyStatusSchema,
  SKIP_REASONS,
  WORKLOAD_KINDS,
  WORKLOAD_OUTCOMES,
  cpuMillis,
  formatCpu,
  formatMemory,
  memoryBytes,
  type OptimizationPolicyStatus,
  type WorkloadKind,
} from '../../lib/crds/optipod';
import { POD_SIZING_CONFIGMAP, POD_SIZING_LABELS, mergePodSizingData, type PodSizingWorkload } from '../../lib/crds/optipod/pod-sizing';
import { activityDecisionId, audit } from '../../lib/audit';
import { apiStatus } from '../../lib/kube/api';
import { recordEvent } from '../../lib/kube/events';
import { EVENT_INCREASE_ANNOTATION, EVENT_WORKLOAD_ANNOTATION, RIGHTSIZING_EVICTED_REASON } from '../../lib/crds/platform/constants';
import { logger } from '../../lib/log';
import { readPolicy, writePolicyStatus } from './kube';
import { cycleMetrics } from './metrics';

// ---------------------------------------------------------------- inputs (zod: workflow → activity)

const WorkloadRefSchema = z.object({ kind: z.enum(WORKLOAD_KINDS), namespace: z.string().min(1), name: z.string().min(1) });
const PolicyRefSchema = z.object({ namespace: z.string().min(1), name: z.string().min(1) });
const Num = z.number().finite().positive();
const ChangeSchema = z.object({ from: z.number().optional(), to: z.number(), clampedBy: z.string().optional() });
export const ContainerChangeSchema = z.object({
  name: z.string().min(1),
  sidecar: z.boolean().optional(),
  requests: z.object({ cpu: Num.optional(), memory: Num.optional() }),
  limits: z.object({ cpu: Num.optional(), memory: Num.optional() }).optional(),
  changes: z.record(z.string(), ChangeSchema),
});

export const ApplyInPlaceInputSchema = z.object({
  policy: PolicyRefSchema,
  workload: WorkloadRefSchema,
  containers: z.array(ContainerChangeSchema).min(1),
  deferredTimeoutMs: z.number().int().positive(),
  /** Poll period while watching the resize (default 250 ms). */
  pollMs: z.number().int().positive().optional(),
});
export type ApplyInPlaceInput = z.input<typeof ApplyInPlaceInputSchema>;

export const RecreateStepInputSchema = z.object({ policy: PolicyRefSchema, workload: WorkloadRefSchema, containers: z.array(ContainerChangeSchema).min(1) });
export type RecreateStepInput = z.input<typeof RecreateStepInputSchema>;

export const ApplicationOutcomeSchema = z.object({
  workload: WorkloadRefSchema,
  method: z.enum(APPLY_METHODS),
  outcome: z.enum(WORKLOAD_OUTCOMES),
  skipReason: z.enum(SKIP_REASONS).optional(),
  message: z.string(),
  /** Epoch ms the application ended (the workflow's clock). */
  at: z.number().int().nonnegative(),
  /** "cpu 1000m→500m, memory 1024Mi→640Mi" per container, for the Event. */
  changes: z.string(),
});
export type ApplicationOutcome = z.infer<typeof ApplicationOutcomeSchema>;
const CountsSchema = z.object({ applied: z.number().int().nonnegative(), skipped: z.number().int().nonnegative() });
export const RecordApplicationsInputSchema = z.object({
  policy: PolicyRefSchema,
  outcomes: z.array(ApplicationOutcomeSchema),
  /** The cycle's counts (over every workload, not only those the status lists): the outcomes are added to them. */
  cycleCounts: CountsSchema.optional(),
});
export type RecordApplicationsInput = z.input<typeof RecordApplicationsInputSchema>;

export type PodResizeState = 'Done' | 'Infeasible' | 'Deferred' | 'Error' | 'Pending';
export interface ApplyInPlaceResult {
  outcome: 'Applied' | 'NoPods' | 'Infeasible' | 'Deferred' | 'Error' | 'Forbidden' | 'Stopped';
  resized: number;
  alreadyAtSize: number;
  message: string;
  pods: { name: string; state: PodResizeState; message?: string }[];
}

export type RecreateStepResult =
  | { state: 'Done'; message: string }
  | { state: 'Waiting'; message: string }
  | { state: 'Evicted'; pod: string; message: string }
  | { state: 'Blocked'; pod: string; message: string }
  | { state: 'Forbidden' | 'Stopped' | 'WorkloadNotFound'; message: string };

// ---------------------------------------------------------------- pods (zod: what is read)

const ResourceMap = z.record(z.string(), z.union([z.string(), z.number()])).nullish();
const Resources = z.object({ requests: ResourceMap, limits: ResourceMap }).nullish();
const ContainerSpec = z.object({ name: z.string(), resources: Resources, restartPolicy: z.string().nullish() });
const PodSchema = z.object({
  metadata: z.object({
    name: z.string(),
    uid: z.string().optional(),
    generation: z.number().nullish(),
    deletionTimestamp: z.unknown().optional(),
    labels: z.record(z.string(), z.string()).nullish(),
    ownerReferences: z.array(z.object({ kind: z.string(), name: z.string(), controller: z.boolean().nullish() })).nullish(),
  }),
  spec: z.object({ containers: z.array(ContainerSpec), initContainers: z.array(ContainerSpec).nullish() }),
  status: z
    .object({
      phase: z.string().nullish(),
      observedGeneration: z.number().nullish(),
      conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().nullish(), message: z.string().nullish() })).nullish(),
      containerStatuses: z.array(z.object({ name: z.string(), ready: z.boolean().nullish(), resources: Resources })).nullish(),
      initContainerStatuses: z.array(z.object({ name: z.string(), ready: z.boolean().nullish(), resources: Resources })).nullish(),
    })
    .nullish(),
});
type Pod = z.infer<typeof PodSchema>;

const quantityOf = (res: 'cpu' | 'memory', v: string | number | undefined): number | undefined =>
  v === undefined ? undefined : res === 'cpu' ? cpuMillis(String(v)) : memoryBytes(String(v));

type Change = z.infer<typeof ContainerChangeSchema>;

/** The quantities the pods get (what the ConfigMap and the resize carry). */
export function desiredQuantities(c: Change): { requests: Record<string, string>; limits: Record<string, string> } {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (c.requests.cpu !== undefined) requests.cpu = formatCpu(c.requests.cpu);
  if (c.requests.memory !== undefined) requests.memory = formatMemory(c.requests.memory);
  if (c.limits?.cpu !== undefined) limits.cpu = formatCpu(c.limits.cpu);
  if (c.limits?.memory !== undefined) limits.memory = formatMemory(c.limits.memory);
  return { requests, limits };
}

function sameQuantities(res: 'cpu' | 'memory', have: string | number | undefined, want: string): boolean {
  const a = quantityOf(res, have);
  const b = quantityOf(res, want);
  return a !== undefined && b !== undefined && Math.abs(a - b) < 1e-6;
}

function matches(r: z.infer<typeof Resources>, c: Change): boolean {
  const d = desiredQuantities(c);
  for (const res of ['cpu', 'memory'] as const) {
    if (d.requests[res] !== undefined && !sameQuantities(res, r?.requests?.[res] ?? undefined, d.requests[res])) return false;
    if (d.limits[res] !== undefined && !sameQuantities(res, r?.limits?.[res] ?? undefined, d.limits[res])) return false;
  }
  return true;
}

const containerSpec = (p: Pod, c: Change) =>
  c.sidecar === true ? p.spec.initContainers?.find((x) => x.name === c.name) : p.spec.containers.find((x) => x.name === c.name);
const containerStatus = (p: Pod, c: Change) =>
  (c.sidecar === true ? p.status?.initContainerStatuses : p.status?.containerStatuses)?.find((x) => x.name === c.name);

/** The pod's spec asks for the new values. */
export function specAtSize(p: Pod, changes: readonly Change[]): boolean {
  return changes.every((c) => {
    const s = containerSpec(p, c);
    return s === undefined || matches(s.resources, c);
  });
}

/** The pod runs with the new values (the kubelet reports them), falling back to the spec when no status reports resources. */
export function runningAtSize(p: Pod, changes: readonly Change[]): boolean {
  return changes.every((c) => {
    const st = containerStatus(p, c);
    if (st?.resources !== undefined && st.resources !== null) return matches(st.resources, c);
    const s = containerSpec(p, c);
    return s === undefined || matches(s.resources, c);
  });
}

const condition = (p: Pod, type: string) => p.status?.conditions?.find((c) => c.type === type && c.status === 'True');
const live = (p: Pod): boolean => p.metadata.deletionTimestamp == null && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
const ready = (p: Pod): boolean => condition(p, 'Ready') !== undefined;

/** The resize state of a pod whose spec asks for the new values. */
export function resizeState(p: Pod, changes: readonly Change[]): { state: PodResizeState; message?: string } {
  const pending = condition(p, 'PodResizePending');
  if (pending?.reason === 'Infeasible') return { state: 'Infeasible', message: pending.message ?? 'Infeasible' };
  const inProgress = condition(p, 'PodResizeInProgress');
  if (inProgress?.reason === 'Error') return { state: 'Error', message: inProgress.message ?? 'Error' };
  const observed = (p.status?.observedGeneration ?? 0) >= (p.metadata.generation ?? 0);
  if (pending === undefined && inProgress === undefined && observed && runningAtSize(p, changes)) return { state: 'Done' };
  if (pending?.reason === 'Deferred') return { state: 'Deferred', message: pending.message ?? 'Deferred' };
  return { state: 'Pending' };
}

/**
 * The audit numbers of a pod's change: per container `<name>.cpuMillicores.from|to` and
 * `<name>.memoryBytes.from|to` for the requests that change; `from` what the pod has (its spec, or
 * with `running` what the kubelet reports), `to` what it gets.
 */
export function requestNumbers(p: Pod, changes: readonly Change[], running = false): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) {
    const have = (running ? containerStatus(p, c)?.resources : undefined) ?? containerSpec(p, c)?.resources;
    const unit = { cpu: 'cpuMillicores', memory: 'memoryBytes' } as const;
    for (const res of ['cpu', 'memory'] as const) {
      const to = c.requests[res];
      if (to === undefined) continue;
      const from = quantityOf(res, have?.requests?.[res] ?? undefined);
      if (from !== undefined) out[`${c.name}.${unit[res]}.from`] = from;
      out[`${c.name}.${unit[res]}.to`] = quantityOf(res, desiredQuantities(c).requests[res]) ?? to;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the activities

export interface ApplyActivityDeps {
  kc: k8s.KubeConfig;
  registry: Registry;
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
      },
      { once: true },
    );
  });

const STRATEGIC = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

const StatusBody = z.object({
  message: z.string().optional(),
  // metav1.StatusCause's Type is "reason" in JSON
  details: z.object({ causes: z.array(z.object({ reason: z.string().optional() })).optional() }).optional(),
});

function statusBody(e: unknown): z.infer<typeof StatusBody> | undefined {
  const body: unknown = (e as { body?: unknown }).body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const r = StatusBody.safeParse(parsed);
  return r.success ? r.data : undefined;
}

/** A 403 from the PodResizeValidator admission plugin: the resize exceeds the node's allocatable (cause NodeCapacity). */
export function nodeCapacityRefusal(e: unknown): boolean {
  return (statusBody(e)?.details?.causes ?? []).some((c) => c.reason === 'NodeCapacity');
}

const statusMessage = (e: unknown): string => (statusBody(e)?.message ?? String(e)).slice(0, 300);

export function createApplyActivities(deps: ApplyActivityDeps) {
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const apps = deps.kc.makeApiClient(k8s.AppsV1Api);
  const metrics = cycleMetrics(deps.registry);

  /** The policy is still in Auto mode (a step stops at once otherwise). */
  async function stillAuto(policy: { namespace: string; name: string }): Promise<boolean> {
    const raw = await readPolicy(deps.kc, policy.namespace, policy.name);
    if (raw === undefined) return false;
    const spec = OptimizationPolicySpecSchema.safeParse((raw as { spec?: unknown }).spec);
    return spec.success && spec.data.mode === 'Auto';
  }

  /** The workload's desired replicas and its live pods (by its selector and the controller chain). */
  async function workloadPods(w: {
    kind: WorkloadKind;
    namespace: string;
    name: string;
  }): Promise<{ replicas: number; pods: Pod[]; labelSelector: string } | undefined> {
    let selector: k8s.V1LabelSelector | undefined;
    let replicas: number;
    try {
      if (w.kind === 'Deployment') {
        const d = await apps.readNamespacedDeployment({ namespace: w.namespace, name: w.name });
        selector = d.spec?.selector;
        replicas = d.spec?.replicas ?? 1;
      } else if (w.kind === 'StatefulSet') {
        const s = await apps.readNamespacedStatefulSet({ namespace: w.namespace, name: w.name });
        selector = s.spec?.selector;
        replicas = s.spec?.replicas ?? 1;
      } else {
        const ds = await apps.readNamespacedDaemonSet({ namespace: w.namespace, name: w.name });
        selector = ds.spec?.selector;
        replicas = ds.status?.desiredNumberScheduled ?? 0;
      }
    } catch (e) {
      if (apiStatus(e) === 404) return undefined;
      throw e;
    }
    const labelSelector = Object.entries(selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const list = await core.listNamespacedPod({ namespace: w.namespace, ...(labelSelector ? { labelSelector } : {}) });
    let owners: Set<string>;
    if (w.kind === 'Deployment') {
      const rs = await apps.listNamespacedReplicaSet({ namespace: w.namespace, ...(labelSelector ? { labelSelector } : {}) });
      owners = new Set(
        rs.items
          .filter((r) => (r.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.kind === 'Deployment' && o.name === w.name))
          .map((r) => `ReplicaSet/${r.metadata?.name ?? ''}`),
      );
    } else owners = new Set([`${w.kind}/${w.name}`]);
    const pods: Pod[] = [];
    for (const raw of list.items) {
      const p = PodSchema.safeParse(JSON.parse(JSON.stringify(raw)) as unknown);
      if (!p.success) continue;
      const owner = p.data.metadata.ownerReferences?.find((o) => o.controller === true);
      if (owner !== undefined && owners.has(`${owner.kind}/${owner.name}`)) pods.push(p.data);
    }
    pods.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    return { replicas, pods, labelSelector };
  }

  /** The named pods as they are now (one list by the workload's selector). */
  async function podsNamed(namespace: string, labelSelector: string, names: ReadonlySet<string>): Promise<Pod[]> {
    const list = await core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) });
    const out: Pod[] = [];
    for (const raw of list.items) {
      if (!names.has(raw.metadata?.name ?? '')) continue;
      const p = PodSchema.safeParse(JSON.parse(JSON.stringify(raw)) as unknown);
      if (p.success) out.push(p.data);
    }
    return out;
  }

  /** Sets (or replaces) the workload's entries in the namespace's pod sizing ConfigMap (no write when they are there already). */
  async function writePodSizing(w: { kind: WorkloadKind; namespace: string; name: string }, changes: readonly Change[], owner: string): Promise<void> {
    const entry = podSizingEntry(w, changes);
    const notStorable = await updatePodSizing(deps.kc, w.namespace, [entry], [], owner);
    if (notStorable.length > 0)
      logger('rightsizing', { workload: `${w.kind}/${w.namespace}/${w.name}` }).warn(
        'the workload name is too long for a pod sizing key: new pods are not sized at admission',
      );
  }

  return {
    async applyInPlace(raw: ApplyInPlaceInput): Promise<ApplyInPlaceResult> {
      const input = ApplyInPlaceInputSchema.parse(raw);
      const ctx = activityContext();
      const signal = ctx?.cancellationSignal;
      const w = input.workload;
      const log = logger('rightsizing', { policy: `${input.policy.namespace}/${input.policy.name}`, workload: `${w.kind}/${w.namespace}/${w.name}` });
      const result = (outcome: ApplyInPlaceResult['outcome'], message: string, rest: Partial<ApplyInPlaceResult> = {}): ApplyInPlaceResult => ({
        outcome,
        message,
        resized: 0,
        alreadyAtSize: 0,
        pods: [],
        ...rest,
      });
      if (!(await stillAuto(input.policy))) return result('Stopped', 'the policy is no longer in Auto mode: nothing applied');
      try {
        await writePodSizing(w, input.containers, `${input.policy.namespace}/${input.policy.name}`);
      } catch (e) {
        if (apiStatus(e) === 403) return result('Forbidden', `writing ${POD_SIZING_CONFIGMAP} in ${w.namespace} is forbidden`);
        throw e;
      }
      const found = await workloadPods(w);
      if (found === undefined) return result('NoPods', 'the workload is gone');
      const running = found.pods.filter((p) => live(p) && p.status?.phase === 'Running');
      if (running.length === 0) return result('NoPods', 'no pod runs: new pods are sized at admission');

      let resized = 0;
      let alreadyAtSize = 0;
      const refused: { name: string; state: PodResizeState; message: string }[] = [];
      const resizeOne = async (p: Pod): Promise<ApplyInPlaceResult | undefined> => {
        if (specAtSize(p, input.containers)) {
          alreadyAtSize++;
          return undefined;
        }
        const containers: { name: string; resources: { requests?: Record<string, string>; limits?: Record<string, string> } }[] = [];
        const initContainers: typeof containers = [];
        for (const c of input.containers) {
          const d = desiredQuantities(c);
          const resources: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
          if (Object.keys(d.requests).length > 0) resources.requests = d.requests;
          if (Object.keys(d.limits).length > 0) resources.limits = d.limits;
          (c.sidecar === true ? initContainers : containers).push({ name: c.name, resources });
        }
        const body = { spec: { ...(containers.length > 0 ? { containers } : {}), ...(initContainers.length > 0 ? { initContainers } : {}) } };
        const numbers = requestNumbers(p, input.containers);
        try {
          await core.patchNamespacedPodResize({ namespace: w.namespace, name: p.metadata.name, body }, STRATEGIC);
          resized++;
          audit({
            action: 'PodResized',
            decision: activityDecisionId(`resize:${p.metadata.uid ?? p.metadata.name}`),
            object: { kind: 'Pod', namespace: w.namespace, name: p.metadata.name, ...(p.metadata.uid ? { uid: p.metadata.uid } : {}) },
            reason: 'InPlace',
            numbers,
            policy: `${input.policy.namespace}/${input.policy.name}`,
            workload: `${w.kind}/${w.namespace}/${w.name}`,
            detail: `resized in place to the recommendation of ${input.policy.namespace}/${input.policy.name}`,
          });
        } catch (e) {
          const s = apiStatus(e);
          if (s === 404) return undefined;
          if (s === 403 && nodeCapacityRefusal(e)) {
            // the apiserver's PodResizeValidator (v1.36+): larger than the node's allocatable — Infeasible before the kubelet sees it
            refused.push({ name: p.metadata.name, state: 'Infeasible', message: `the apiserver refused the resize: ${statusMessage(e)}` });
            return undefined;
          }
          if (s === 403) return result('Forbidden', `resizing pod ${p.metadata.name} is forbidden`);
          const msg = String((e as { body?: unknown }).body ?? e).slice(0, 300);
          log.warn('resize refused', { pod: p.metadata.name, status: s, error: msg });
          return result('Error', `the apiserver refused resizing pod ${p.metadata.name}: ${msg}`, { resized });
        }
        return undefined;
      };
      // the workload's pods are resized together (each patch is idempotent: a pod already at its new spec is not patched)
      signal?.throwIfAborted();
      const firstFailure = (await Promise.all(running.map(resizeOne))).find((r) => r !== undefined);
      if (firstFailure !== undefined) return { ...firstFailure, resized, alreadyAtSize };

      if (refused.length > 0) return result('Infeasible', `pod ${refused[0]!.name}: ${refused[0]!.message}`, { resized, alreadyAtSize, pods: refused });

      // ---- watch the outcome ----
      const started = Date.now();
      const names = new Set(running.map((p) => p.metadata.name));
      for (;;) {
        const pods = (await podsNamed(w.namespace, found.labelSelector, names)).filter(live);
        const states = pods.map((p) => ({ name: p.metadata.name, ...resizeState(p, input.containers) }));
        ctx?.heartbeat({ resized, states: states.map((s) => s.state) });
        const rest = { resized, alreadyAtSize, pods: states };
        const count = (s: PodResizeState) => states.filter((x) => x.state === s).length;
        if (states.every((s) => s.state === 'Done')) return result('Applied', `${states.length} pod(s) run at the new size (${resized} resized)`, rest);
        const infeasible = states.find((s) => s.state === 'Infeasible');
        if (infeasible !== undefined) return result('Infeasible', `pod ${infeasible.name}: ${infeasible.message ?? 'Infeasible'}`, rest);
        const error = states.find((s) => s.state === 'Error');
        if (error !== undefined) return result('Error', `pod ${error.name}: ${error.message ?? 'Error'}`, rest);
        if (Date.now() - started > input.deferredTimeoutMs) {
          const d = states.find((s) => s.state === 'Deferred' || s.state === 'Pending');
          return result(
            'Deferred',
            `${count('Deferred') + count('Pending')} pod(s) not resized after ${Math.round(input.deferredTimeoutMs / 1000)} s: ${d?.message ?? 'pending'}`,
            rest,
          );
        }
        await sleep(input.pollMs ?? 250, signal);
      }
    },

    async recreateStep(raw: RecreateStepInput): Promise<RecreateStepResult> {
      const input = RecreateStepInputSchema.parse(raw);
      const w = input.workload;
      if (!(await stillAuto(input.policy))) return { state: 'Stopped', message: 'the policy is no longer in Auto mode: no more pods are recreated' };
      try {
        await writePodSizing(w, input.containers, `${input.policy.namespace}/${input.policy.name}`);
      } catch (e) {
        if (apiStatus(e) === 403) return { state: 'Forbidden', message: `writing ${POD_SIZING_CONFIGMAP} in ${w.namespace} is forbidden` };
        throw e;
      }
      const found = await workloadPods(w);
      if (found === undefined) return { state: 'WorkloadNotFound', message: 'the workload is gone' };
      const pods = found.pods;
      const going = pods.filter((p) => !live(p));
      const alive = pods.filter(live);
      const notReady = alive.filter((p) => !ready(p));
      if (going.length > 0 || notReady.length > 0 || alive.length < found.replicas)
        return {
          state: 'Waiting',
          message: `${alive.length - notReady.length}/${found.replicas} replica(s) Ready, ${going.length} terminating: the next pod is recreated once all are Ready`,
        };
      const stale = alive.find((p) => !runningAtSize(p, input.containers));
      if (stale === undefined) return { state: 'Done', message: `all ${alive.length} pod(s) run at the new size` };
      try {
        await core.createNamespacedPodEviction({
          name: stale.metadata.name,
          namespace: w.namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: stale.metadata.name, namespace: w.namespace },
            ...(stale.metadata.uid ? { deleteOptions: { preconditions: { uid: stale.metadata.uid } } } : {}),
          },
        });
        audit({
          action: 'PodRecreated',
          decision: activityDecisionId(`recreate:${stale.metadata.uid ?? stale.metadata.name}`),
          object: { kind: 'Pod', namespace: w.namespace, name: stale.metadata.name, ...(stale.metadata.uid ? { uid: stale.metadata.uid } : {}) },
          reason: 'Recreate',
          numbers: requestNumbers(stale, input.containers, true),
          policy: `${input.policy.namespace}/${input.policy.name}`,
          workload: `${w.kind}/${w.namespace}/${w.name}`,
          detail: `evicted to apply ${input.policy.namespace}/${input.policy.name}'s recommendation; its replacement is sized at admission`,
        });
        const increase = input.containers.some((c) => (['cpu', 'memory'] as const).some((r) => (c.changes[r]?.to ?? 0) > (c.changes[r]?.from ?? Infinity)));
        // the coordination watcher counts this eviction for the namespace's VPANAPCoordinations
        await recordEvent(deps.kc, {
          target: {
            apiVersion: 'v1',
            kind: 'Pod',
            namespace: w.namespace,
            name: stale.metadata.name,
            ...(stale.metadata.uid ? { uid: stale.metadata.uid } : {}),
          },
          type: 'Normal',
          reason: RIGHTSIZING_EVICTED_REASON,
          message: `evicted to apply ${input.policy.namespace}/${input.policy.name}'s recommendation to ${w.kind}/${w.namespace}/${w.name}; its replacement is sized at admission`,
          dedupeKey: `rightsizing-evicted-${stale.metadata.uid ?? ''}`,
          annotations: { [EVENT_WORKLOAD_ANNOTATION]: `${w.kind}/${w.namespace}/${w.name}`, [EVENT_INCREASE_ANNOTATION]: String(increase) },
        });
        return { state: 'Evicted', pod: stale.metadata.name, message: `evicted ${stale.metadata.name}; its replacement is sized at admission` };
      } catch (e) {
        const s = apiStatus(e);
        if (s === 404 || s === 409) return { state: 'Waiting', message: `pod ${stale.metadata.name} is gone` };
        if (s === 429)
          return {
            state: 'Blocked',
            pod: stale.metadata.name,
            message: `eviction of ${stale.metadata.name} refused: ${String((e as { body?: unknown }).body ?? e).slice(0, 200)}`,
          };
        if (s === 403) return { state: 'Forbidden', message: `evicting pods in ${w.namespace} is forbidden` };
        throw e;
      }
    },

    async recordApplications(raw: RecordApplicationsInput): Promise<void> {
      const input = RecordApplicationsInputSchema.parse(raw);
      const key = `${input.policy.namespace}/${input.policy.name}`;
      if (input.outcomes.length === 0) return;
      // ---- the policy status: the workloads' entries (read-modify-write; the cycle owns the rest) ----
      for (let attempt = 0; attempt < 5; attempt++) {
        const rawPolicy = await readPolicy(deps.kc, input.policy.namespace, input.policy.name);
        if (rawPolicy === undefined) break;
        const parsed = OptimizationPolicyStatusSchema.safeParse((rawPolicy as { status?: unknown }).status ?? {});
        const status: OptimizationPolicyStatus = parsed.success ? parsed.data : {};
        const byKey = new Map(input.outcomes.map((o) => [`${o.workload.kind}/${o.workload.namespace}/${o.workload.name}`, o]));
        const workloads = (status.workloads ?? []).map((w) => {
          const o = byKey.get(`${w.kind}/${w.namespace}/${w.name}`);
          if (o === undefined) return w;
          const next = { ...w, outcome: o.outcome, method: o.method, message: o.message.slice(0, 256) };
          if (o.skipReason !== undefined) next.skipReason = o.skipReason;
          else delete next.skipReason;
          if (o.outcome === 'Applied') next.lastAppliedTime = new Date(o.at).toISOString().replace(/\.\d{3}Z$/, 'Z');
          return next;
        });
        // the cycle counted these workloads as neither applied nor skipped: add what became of them
        const base = input.cycleCounts ?? { applied: status.counts?.applied ?? 0, skipped: status.counts?.skipped ?? 0 };
        const counts = {
          ...(status.counts ?? {}),
          applied: base.applied + input.outcomes.filter((o) => o.outcome === 'Applied').length,
          skipped: base.skipped + input.outcomes.filter((o) => o.outcome !== 'Applied').length,
        };
        try {
          await writePolicyStatus(deps.kc, input.policy.namespace, input.policy.name, { ...status, workloads, counts });
          break;
        } catch (e) {
          if (apiStatus(e) !== 409) throw e;
        }
      }
      // ---- Events and metrics ----
      for (const o of input.outcomes) {
        const w = o.workload;
        const reason = o.outcome === 'Applied' ? 'RightsizingApplied' : o.outcome === 'Failed' ? 'RightsizingFailed' : 'RightsizingSkipped';
        const type = o.outcome === 'Applied' ? 'Normal' : 'Warning';
        const message = `${o.method === 'None' ? '' : `${o.method}: `}${o.changes}${o.skipReason ? ` — ${o.skipReason}` : ''}: ${o.message} (policy ${key})`;
        await recordEvent(deps.kc, {
          target: { apiVersion: 'apps/v1', kind: w.kind, namespace: w.namespace, name: w.name },
          type,
          reason,
          message,
          dedupeKey: `${reason}-${o.at.toString(36)}`,
        });
        if (o.outcome === 'Applied') {
          metrics.applications.inc({ policy: key, method: o.method });
          // the cycle's gauge counted it as recommended; it is updated now (the next cycle counts it again from its status)
          metrics.updated.inc({ namespace: w.namespace, policy: key });
        } else if (o.outcome === 'Failed') metrics.errors.inc({ policy: key, error_type: o.skipReason ?? 'ApplicationFailed' });
      }
    },
  };
}

/** A workload's pod sizing entry: the requests (and limits) its containers get. */
export function podSizingEntry(w: { kind: WorkloadKind; name: string }, changes: readonly Change[]): PodSizingWorkload {
  return {
    kind: w.kind,
    name: w.name,
    containers: changes.map((c) => {
      const x: PodSizingWorkload['containers'][number] = { name: c.name };
      if (c.requests.cpu !== undefined) x.cpu = c.requests.cpu;
      if (c.requests.memory !== undefined) x.memory = c.requests.memory;
      if (c.limits?.cpu !== undefined) x.cpuLimit = c.limits.cpu;
      if (c.limits?.memory !== undefined) x.memoryLimit = c.limits.memory;
      return x;
    }),
  };
}

/** The ConfigMap annotation naming, per workload (`Kind/name`), the policy (`namespace/name`) that wrote its entries. */
export const POD_SIZING_OWNERS_ANNOTATION = 'optipod.io/owners';

function ownersOf(cm: k8s.V1ConfigMap | undefined): Record<string, string> {
  const raw = cm?.metadata?.annotations?.[POD_SIZING_OWNERS_ANNOTATION];
  if (raw === undefined) return {};
  try {
    const r = z.record(z.string(), z.string()).safeParse(JSON.parse(raw));
    return r.success ? r.data : {};
  } catch {
    return {};
  }
}

/**
 * Read-modify-write of a namespace's pod sizing ConfigMap (created when missing; resourceVersion-
 * checked, retried on conflict): `set` workloads get exactly their new entries (owned by
 * `owner`), `remove` workloads none; other workloads are untouched. Returns the workloads whose
 * keys are too long to store.
 */
export async function updatePodSizing(
  kc: k8s.KubeConfig,
  namespace: string,
  set: readonly PodSizingWorkload[],
  remove: readonly { kind: WorkloadKind; name: string }[],
  owner?: string,
): Promise<{ kind: WorkloadKind; name: string }[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (let attempt = 0; ; attempt++) {
    let existing: k8s.V1ConfigMap | undefined;
    try {
      existing = await core.readNamespacedConfigMap({ namespace, name: POD_SIZING_CONFIGMAP });
    } catch (e) {
      if (apiStatus(e) !== 404) throw e;
    }
    if (existing === undefined && set.length === 0) return [];
    const merged = mergePodSizingData(existing?.data ?? {}, set, remove);
    const owners = ownersOf(existing);
    for (const w of remove) delete owners[`${w.kind}/${w.name}`];
    for (const w of set) if (owner !== undefined) owners[`${w.kind}/${w.name}`] = owner;
    for (const w of merged.notStorable) delete owners[`${w.kind}/${w.name}`];
    const sameData = JSON.stringify(Object.entries(merged.data).sort()) === JSON.stringify(Object.entries(existing?.data ?? {}).sort());
    const sameOwners = JSON.stringify(Object.entries(owners).sort()) === JSON.stringify(Object.entries(ownersOf(existing)).sort());
    if (existing !== undefined && sameData && sameOwners) return merged.notStorable;
    const annotations = { [POD_SIZING_OWNERS_ANNOTATION]: JSON.stringify(Object.fromEntries(Object.entries(owners).sort())) };
    try {
      if (existing === undefined)
        await core.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name: POD_SIZING_CONFIGMAP, namespace, labels: { ...POD_SIZING_LABELS }, annotations }, data: merged.data },
        });
      else
        await core.replaceNamespacedConfigMap({
          namespace,
          name: POD_SIZING_CONFIGMAP,
          body: {
            ...existing,
            metadata: {
              ...existing.metadata,
              labels: { ...(existing.metadata?.labels ?? {}), ...POD_SIZING_LABELS },
              annotations: { ...(existing.metadata?.annotations ?? {}), ...annotations },
            },
            data: merged.data,
          },
        });
      return merged.notStorable;
    } catch (e) {
      const s = apiStatus(e);
      if ((s === 409 || s === 422) && attempt < 5) continue;
      throw e;
    }
  }
}

/**
 * Removes every pod sizing entry `policy` wrote, in every namespace (a policy Disabled or deleted:
 * pods created from now on get their template's size; running pods are left as they are).
 */
export async function removePolicySizing(kc: k8s.KubeConfig, policy: string): Promise<number> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listConfigMapForAllNamespaces({ labelSelector: 'optipod.io/pod-sizing=true' });
  let removed = 0;
  for (const cm of list.items) {
    if (cm.metadata?.name !== POD_SIZING_CONFIGMAP || cm.metadata.namespace === undefined) continue;
    const mine = Object.entries(ownersOf(cm))
      .filter(([, p]) => p === policy)
      .flatMap(([k]) => {
        const [kind, name] = k.split('/') as [string, string | undefined];
        return (WORKLOAD_KINDS as readonly string[]).includes(kind) && name !== undefined ? [{ kind: kind as WorkloadKind, name }] : [];
      });
    if (mine.length === 0) continue;
    await updatePodSizing(kc, cm.metadata.namespace, [], mine);
    removed += mine.length;
  }
  return removed;
}
