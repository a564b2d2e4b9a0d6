/**
 * One rightsizing cycle of one policy, as pure code: the facts the activity read (governed and
 * overridden workloads, each namespace's usage, OOM kills, the stored usage models) in; every
 * workload's result, the updated models and the cycle's numbers out. No I/O, no clock.
 *
 * Idempotent by construction, so a retried or re-run cycle never counts a sample twice: a CPU
 * sample is ingested only when it is newer than the model's last one, a memory sample only raises
 * its interval's peak (the same peak again is no change), an OOM kill only when newer than the
 * last one remembered.
 */
import type { CoordinationVerdict } from '../../lib/crds/platform/types';
import type { PolicyMode, SkipReason, WorkloadKind } from '../../lib/crds/optipod/constants';
import type { UpdateStrategy } from '../../lib/crds/optipod/policy';
import { gate, type ContainerChange, type GateContainer, type InPlaceFallback, type ResourceValuesNum } from './gate';
import { ContainerUsageModel, type ModelState, type SeriesPoint } from './model';
import { recommend, type ContainerRecommendation, type RecommenderPolicy } from './recommendation';
import { workloadKey, type WorkloadInfo } from './selection';
import type { ContainerResult, CurrentResources, WorkloadResult } from './status';

export interface TemplateContainer extends CurrentResources {
  name: string;
  /** A native sidecar (an init container with restartPolicy Always). */
  sidecar?: boolean;
}

/** A workload the policy governs, with its pod template's containers. */
export interface GovernedWorkload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  containers: TemplateContainer[];
}

export interface UsageSeries {
  workload: { kind: WorkloadKind; namespace: string; name: string };
  container: string;
  cpu: readonly SeriesPoint[];
  memory: readonly SeriesPoint[];
}

/** A namespace's usage as a provider answered it (Forbidden: RBAC refused reading its pods or metrics). */
export type NamespaceUsage =
  | { ok: true; containers: readonly UsageSeries[] }
  | { ok: false; reason: Extract<SkipReason, 'MetricsUnavailable' | 'InsufficientData' | 'Forbidden'>; message: string };

export interface OomKill {
  /** Kind/namespace/name of the workload. */
  workload: string;
  container: string;
  /** Epoch ms of the kill. */
  at: number;
  /** Memory at the kill (bytes): the container's memory limit. */
  usage: number;
}

/** container name → stored model state (unknown: whatever was read back; a bad one is rebuilt). */
export type WorkloadModels = Record<string, unknown>;

export interface CycleInput {
  /** namespace/name of the policy. */
  policy: string;
  mode: PolicyMode;
  dryRun: boolean;
  now: number;
  recommender: RecommenderPolicy;
  governed: readonly GovernedWorkload[];
  overridden: readonly { workload: WorkloadInfo; winner: string }[];
  /** namespace → usage; a governed workload's namespace without an entry has no usage. */
  usage: Readonly<Record<string, NamespaceUsage>>;
  ooms: readonly OomKill[];
  /** workload key → its models. */
  models: Readonly<Record<string, WorkloadModels>>;
  /** workload key → the times the last status kept (epoch ms). */
  previous?: Readonly<Record<string, { lastRecommendationTime?: number; lastAppliedTime?: number; lastMethod?: 'InPlace' | 'Admission' | 'Recreate' }>>;
  /** What the gate needs to decide applications (Auto mode outside the dry run); none: nothing is applied. */
  apply?: ApplyFacts;
}

export interface WorkloadApplyFacts {
  /** Desired replicas (a DaemonSet: the pods it should run). */
  replicas: number;
  /** RBAC allows resizing and evicting its pods and writing the pod sizing. */
  canUpdate: boolean;
  /** container → what its pods have now (the replica furthest from the target) and whether it is a native sidecar. */
  containers: Readonly<Record<string, ResourceValuesNum & { sidecar?: boolean }>>;
}

export interface ApplyFacts {
  strategy: UpdateStrategy;
  inPlaceSupported: boolean;
  /** workload key → facts; a workload without facts is not applied (skipped WorkloadNotFound). */
  workloads: Readonly<Record<string, WorkloadApplyFacts>>;
  /**
   * Coordination's verdict per namespace (decision/coordination/gate.ts), asked once per cycle:
   * a "no" skips every change there with its reason; a "yes" allows at most its budget of
   * applications. A namespace without a verdict is not coordinated.
   */
  coordination?: Readonly<Record<string, CoordinationVerdict>>;
}

/** An application the gate allowed: the workflow carries it out (activities/rightsizing/apply.ts). */
export interface Application {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  method: 'InPlace' | 'Admission' | 'Recreate';
  containers: ContainerChange[];
  onInPlaceFailure?: InPlaceFallback;
  message: string;
}

export interface CycleOutput {
  results: WorkloadResult[];
  /** workload key → container → model state: every governed workload that has a model now. */
  models: Record<string, Record<string, ModelState>>;
  /** Workload keys whose models changed this cycle (the ones to store). */
  changed: string[];
  /** Container recommendations made. */
  recommendations: number;
  /** CPU samples newly ingested (0 on a re-run of the same cycle). */
  ingested: number;
  /** What the gate allowed, in workload order. */
  applications: Application[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Ingests one container's new samples into its model; returns the CPU samples ingested. */
export function ingest(model: ContainerUsageModel, series: UsageSeries | undefined, ooms: readonly OomKill[]): number {
  let n = 0;
  if (series !== undefined) {
    // a fresh model takes every sample (its lastSample 0 is "none", not epoch 0)
    const last = model.sampleCount === 0 ? -Infinity : model.lastSample;
    for (const [t, v] of [...series.cpu].sort((a, b) => a[0] - b[0]))
      if (t > last) {
        model.addCpu(t, v);
        n++;
      }
    for (const [t, v] of [...series.memory].sort((a, b) => a[0] - b[0])) model.addMemory(t, v);
  }
  for (const k of [...ooms].sort((a, b) => a.at - b.at)) if (model.lastOom === undefined || k.at > model.lastOom.at) model.recordOom(k.at, k.usage);
  return n;
}

function insufficientMessage(containers: readonly ContainerResult[]): string {
  const parts = containers
    .filter((c) => c.recommendation !== undefined && !c.recommendation.ok)
    .map((c) => {
      const r = c.recommendation as Extract<ContainerRecommendation, { ok: false }>;
      return `${c.name}: ${r.sampleCount} of ${r.minSamples} samples`;
    });
  const none = containers.filter((c) => c.recommendation === undefined).map((c) => `${c.name}: no usage`);
  return [...parts, ...none].join('; ');
}

export function runCycle(input: CycleInput): CycleOutput {
  const results: WorkloadResult[] = [];
  const models: Record<string, Record<string, ModelState>> = {};
  const changed: string[] = [];
  let recommendations = 0;
  let ingested = 0;
  const applications: Application[] = [];
  const coordinationSpent = new Map<string, number>();
  const usageIndex = new Map<string, UsageSeries>();
  for (const u of Object.values(input.usage)) if (u.ok) for (const c of u.containers) usageIndex.set(`${workloadKey(c.workload)}|${c.container}`, c);
  const oomIndex = new Map<string, OomKill[]>();
  for (const k of input.ooms) {
    const key = `${k.workload}|${k.container}`;
    oomIndex.set(key, [...(oomIndex.get(key) ?? []), k]);
  }

  for (const w of input.governed) {
    const wk = workloadKey(w);
    const prev = input.previous?.[wk] ?? {};
    const base: WorkloadResult = { kind: w.kind, namespace: w.namespace, name: w.name, policy: input.policy, outcome: 'Skipped', containers: [] };
    if (prev.lastAppliedTime !== undefined) base.lastAppliedTime = prev.lastAppliedTime;
    const stored = input.models[wk] ?? {};
    const usage = input.usage[w.namespace];
    const containers: ContainerResult[] = [];
    const gateFacts = new Map<string, { memoryPeak?: number; oomUsage?: number }>();
    const kept: Record<string, ModelState> = {};
    let workloadChanged = false;
    for (const c of [...w.containers].sort(byName)) {
      const restored = ContainerUsageModel.restore(stored[c.name]);
      const model = restored ?? new ContainerUsageModel();
      const before = restored === undefined ? undefined : JSON.stringify(stored[c.name]);
      const series = usageIndex.get(`${wk}|${c.name}`);
      const n = ingest(model, usage?.ok === true ? series : undefined, oomIndex.get(`${wk}|${c.name}`) ?? []);
      ingested += n;
      const result: ContainerResult = { name: c.name };
      if (c.requests !== undefined) result.requests = c.requests;
      if (c.limits !== undefined) result.limits = c.limits;
      if (model.sampleCount > 0 || model.lastOom !== undefined || restored !== undefined) {
        const state = model.toState();
        kept[c.name] = state;
        if (before === undefined || before !== JSON.stringify(state)) workloadChanged = true;
        result.recommendation = recommend(model, input.recommender, input.now);
        const f: { memoryPeak?: number; oomUsage?: number } = {};
        const peak = model.observedMemoryPeak();
        if (peak > 0) f.memoryPeak = peak;
        if (model.lastOom !== undefined) f.oomUsage = model.lastOom.usage;
        gateFacts.set(c.name, f);
      }
      containers.push(result);
    }
    if (Object.keys(kept).length > 0) models[wk] = kept;
    if (workloadChanged) changed.push(wk);
    base.containers = containers;

    const ok = containers.length > 0 && containers.every((c) => c.recommendation?.ok === true);
    const fresh = ok && usage?.ok === true;
    if (fresh) {
      recommendations += containers.length;
      base.lastRecommendationTime = input.now;
    } else if (prev.lastRecommendationTime !== undefined) base.lastRecommendationTime = prev.lastRecommendationTime;

    if (usage !== undefined && !usage.ok) {
      // nothing new was learnt: skipped with the provider's reason (a stored recommendation stays visible)
      base.outcome = 'Skipped';
      base.skipReason = usage.reason;
      base.message = ok ? `${usage.message}; the recommendation shown is from stored history` : usage.message;
    } else if (!ok) {
      base.outcome = 'Skipped';
      base.skipReason = 'InsufficientData';
      base.message = insufficientMessage(containers) || 'the workload has no containers';
    } else {
      base.outcome = 'Recommended';
      if (input.mode === 'Recommend') base.skipReason = 'RecommendMode';
      else if (input.dryRun) base.skipReason = 'DryRun';
      else if (input.mode === 'Auto' && input.apply !== undefined) {
        const facts = input.apply.workloads[wk];
        if (facts === undefined) {
          base.outcome = 'Skipped';
          base.skipReason = 'WorkloadNotFound';
          base.message = 'the workload or its pods could not be read';
        } else {
          const gc: GateContainer[] = containers.map((c) => {
            const cur = facts.containers[c.name] ?? {};
            const g: GateContainer = { name: c.name, recommendation: c.recommendation!, ...cur, ...(gateFacts.get(c.name) ?? {}) };
            return g;
          });
          const v = gate({
            mode: input.mode,
            dryRun: input.dryRun,
            canUpdate: facts.canUpdate,
            inPlaceSupported: input.apply.inPlaceSupported,
            strategy: input.apply.strategy,
            now: input.now,
            ...(prev.lastAppliedTime !== undefined ? { lastAppliedTime: prev.lastAppliedTime } : {}),
            replicas: facts.replicas,
            containers: gc,
          });
          const coord = input.apply.coordination?.[w.namespace];
          const spent = coordinationSpent.get(w.namespace) ?? 0;
          if (v.allowed && coord !== undefined && !coord.allowed) {
            base.outcome = 'Skipped';
            base.skipReason = coord.reason;
            base.message = `${v.message}; held: ${coord.message}`;
          } else if (v.allowed && coord?.allowed === true && spent >= coord.budget) {
            base.outcome = 'Skipped';
            base.skipReason = 'RateLimited';
            base.message = `${v.message}; held: the namespace's update budget for this hour (${coord.budget}) is used by this cycle`;
          } else if (v.allowed) {
            if (coord !== undefined) coordinationSpent.set(w.namespace, spent + 1);
            base.method = v.method;
            base.message = v.message;
            const a: Application = { kind: w.kind, namespace: w.namespace, name: w.name, method: v.method, containers: v.containers, message: v.message };
            if (v.onInPlaceFailure !== undefined) a.onInPlaceFailure = v.onInPlaceFailure;
            applications.push(a);
          } else if (v.reason === 'NoChangeNeeded' && prev.lastAppliedTime !== undefined && prev.lastMethod !== undefined) {
            // the workload runs at what was applied: its last application stays visible
            base.outcome = 'Applied';
            base.method = prev.lastMethod;
            base.message = `at the size applied ${new Date(prev.lastAppliedTime).toISOString()}; ${v.message}`;
          } else {
            base.outcome = 'Skipped';
            base.skipReason = v.reason;
            base.message = v.message;
          }
        }
      }
    }
    results.push(base);
  }

  for (const o of input.overridden)
    results.push({
      kind: o.workload.kind,
      namespace: o.workload.namespace,
      name: o.workload.name,
      policy: o.winner,
      outcome: 'Skipped',
      skipReason: 'OverriddenByPolicy',
      message: `governed by ${o.winner}`,
      containers: [],
    });
  return { results, models, changed: changed.sort(), recommendations, ingested, applications };
}

/** Skips by reason over every result (optipod_workloads_skipped{reason}, the cycle record). */
export function skipsByReason(results: readonly WorkloadResult[]): Partial<Record<SkipReason, number>> {
  const out: Partial<Record<SkipReason, number>> = {};
  for (const r of results) if (r.outcome === 'Skipped' && r.skipReason !== undefined) out[r.skipReason] = (out[r.skipReason] ?? 0) + 1;
  return out;
}
