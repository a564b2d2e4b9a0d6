/**
 * The rightsizing-cycle activity: one cycle of one OptimizationPolicy. It reads the policy (a
 * signal is only a hint: the object decides), settles it against every other policy, lists the
 * workloads it governs, collects their usage from the policy's provider, reads OOM kills and the
 * stored models (OptimizationCheckpoints), runs the pure cycle (decision/rightsizing/cycle.ts),
 * stores the changed models, writes the policy status, records Events and metrics, and returns
 * the cycle's record for the workflow history (bounded: counts, skips by reason, and the first
 * workloads with their targets).
 *
 * Idempotent: a retried attempt ingests no sample twice (the models remember their last sample),
 * rewrites the same status and dedupes its Events. Heartbeats per namespace; cancellation is
 * honoured between namespaces and passed to the providers.
 */
import { Context } from '@temporalio/activity';
import type * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import {
  runCycle,
  skipsByReason,
  type ApplyFacts,
  type Application,
  type NamespaceUsage,
  type OomKill,
  type WorkloadApplyFacts,
} from '../../decision/rightsizing/cycle';
import { recommenderPolicy } from '../../decision/rightsizing/policy';
import { namespaceRefusal, policyKey, settle, workloadKey, type SelectablePolicy } from '../../decision/rightsizing/selection';
import { buildStatus, countsOf, readyCondition, type StatusInput } from '../../decision/rightsizing/status';
import {
  OPTIMIZATIONPOLICY_KIND,
  OPTIPOD_API_VERSION,
  OptimizationPolicySpecSchema,
  OptimizationPolicyStatusSchema,
  formatCpu,
  formatMemory,
  parseDuration,
  safeParseOptimizationPolicy,
  type MetricsProviderName,
  type OptimizationPolicyStatus,
  type PolicyMode,
  type PolicyReadyReason,
  type SkipReason,
  type WorkloadOutcome,
} from '../../lib/crds/optipod';
import { apiStatus } from '../../lib/kube/api';
import { recordEvent } from '../../lib/kube/events';
import { logger } from '../../lib/log';
import {
  canApplyIn,
  currentResources,
  inPlaceResizeServed,
  listNamespaces,
  listPolicies,
  listWorkloads,
  loadCheckpoints,
  oomKills,
  readPods,
  readPolicy,
  saveCheckpoint,
  templateResources,
  writePolicyStatus,
} from './kube';
import type { CoordinationAdvisor, CoordinationVerdict } from '../../lib/crds/platform/types';
import { podSizingEntry, removePolicySizing, updatePodSizing } from './apply';
import { cycleMetrics } from './metrics';
import { workloadOfPod } from './owners';
import type { UsageProvider } from './provider';

export const RunCycleInputSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  /** The cycle's instant (epoch ms, from the workflow): a retry asks the same question. */
  now: z.number().int().nonnegative(),
});
export type RunCycleInput = z.infer<typeof RunCycleInputSchema>;

/** The interval when a policy cannot be read as valid (the CRD default). */
export const DEFAULT_INTERVAL_MS = 5 * 60_000;
/** Workloads listed with their targets in the cycle record (the counts cover all). */
export const RECORD_MAX_WORKLOADS = 50;
/** Gate verdicts that refuse a change the recommendation wants (each gets a RightsizingSkipped Event). */
const GATE_REFUSALS: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'Forbidden',
  'MemoryDecreaseUnsafe',
  'TooFewReplicas',
  'QoSClassChange',
  'RecreateNotAllowed',
  'InPlaceResizeUnavailable',
]);
/** Applications one cycle hands to the workflow (the rest are allowed again next cycle). */
export const RECORD_MAX_APPLICATIONS = 500;
/** How long the answer to "does the cluster serve pods/resize" is kept. */
const IN_PLACE_PROBE_TTL_MS = 10 * 60_000;
/** Workload keys for the `Workload` search attribute (Temporal caps the attributes' total size). */
export const SEARCH_ATTRIBUTE_MAX_WORKLOADS = 50;

export interface CycleWorkloadRecord {
  workload: string;
  outcome: WorkloadOutcome;
  skipReason?: SkipReason;
  /** container → target requests, when recommended. */
  targets?: Record<string, { cpu: string; memory: string }>;
}

export type CycleRecord =
  | { outcome: 'PolicyGone' }
  | { outcome: 'Disabled' | 'Invalid'; generation?: number; intervalMs: number; message: string }
  | {
      outcome: 'Completed';
      generation?: number;
      mode: PolicyMode;
      dryRun: boolean;
      provider: MetricsProviderName;
      intervalMs: number;
      ready: PolicyReadyReason;
      counts: ReturnType<typeof countsOf>;
      skips: Partial<Record<SkipReason, number>>;
      recommendations: number;
      ingested: number;
      forbiddenNamespaces: string[];
      workloads: CycleWorkloadRecord[];
      workloadsOmitted: number;
      /** Governed workload keys (at most SEARCH_ATTRIBUTE_MAX_WORKLOADS), for the `Workload` search attribute. */
      workloadKeys: string[];
      /** What the gate allowed (at most RECORD_MAX_APPLICATIONS; the rest waits for the next cycle): the workflow applies them. */
      applications?: Application[];
      resizeDeferredTimeoutMs?: number;
    };

export interface RightsizingActivityDeps {
  kc: k8s.KubeConfig;
  registry: Registry;
  providers: Partial<Record<MetricsProviderName, UsageProvider>>;
  defaultProvider: MetricsProviderName;
  /** Policies here reach the namespaces their selector names; elsewhere only their own. */
  operatorNamespace: string;
  /** The global dry run: recommend, never modify. */
  dryRun: boolean;
  /** CPU samples a container needs before it is recommended (default 10). */
  minSamples?: number;
  /** Prometheus's step: its nominal sample interval for the confidence (default 60 s; metrics-server's is 1 min). */
  prometheusStepMs?: number;
  /** Coordination's part of the gate (activities/coordination/advisor.ts); absent: not coordinated. */
  coordination?: CoordinationAdvisor;
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const ms = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

export function createRightsizingActivities(deps: RightsizingActivityDeps) {
  const metrics = cycleMetrics(deps.registry);
  let inPlaceProbe: { at: number; served: boolean } | undefined;
  async function inPlaceSupported(): Promise<boolean> {
    if (inPlaceProbe === undefined || Date.now() - inPlaceProbe.at > IN_PLACE_PROBE_TTL_MS) {
      // a failed discovery answers "no" for this cycle only: it is asked again next time
      const served = await inPlaceResizeServed(deps.kc).catch(() => undefined);
      if (served === undefined) return false;
      inPlaceProbe = { at: Date.now(), served };
    }
    return inPlaceProbe.served;
  }
  /** Label sets this process set per policy, so a namespace or reason that drops out is zeroed. */
  const gaugeLabels = new Map<string, { namespaces: Set<string>; skips: Set<string> }>();

  async function event(policy: { namespace: string; name: string; uid?: string }, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await recordEvent(deps.kc, {
      target: {
        apiVersion: OPTIPOD_API_VERSION,
        kind: OPTIMIZATIONPOLICY_KIND,
        namespace: policy.namespace,
        name: policy.name,
        ...(policy.uid ? { uid: policy.uid } : {}),
      },
      type,
      reason,
      message,
      dedupeKey: `${reason}-${message.length.toString(36)}-${[...message].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7).toString(36)}`,
    });
  }

  function setGauges(policy: string, results: ReturnType<typeof runCycle>['results']): void {
    const prev = gaugeLabels.get(policy) ?? { namespaces: new Set<string>(), skips: new Set<string>() };
    const next = { namespaces: new Set<string>(), skips: new Set<string>() };
    const monitored = new Map<string, number>();
    const updated = new Map<string, number>();
    const skipped = new Map<string, number>();
    for (const r of results) {
      if (r.skipReason === 'OverriddenByPolicy') continue;
      next.namespaces.add(r.namespace);
      if (r.skipReason !== 'Forbidden') monitored.set(r.namespace, (monitored.get(r.namespace) ?? 0) + 1);
      if (r.outcome === 'Applied') updated.set(r.namespace, (updated.get(r.namespace) ?? 0) + 1);
      if (r.outcome === 'Skipped' && r.skipReason) {
        const k = `${r.namespace}\u0000${r.skipReason}`;
        next.skips.add(k);
        skipped.set(k, (skipped.get(k) ?? 0) + 1);
      }
    }
    for (const ns of new Set([...prev.namespaces, ...next.namespaces])) {
      metrics.monitored.set({ namespace: ns, policy }, monitored.get(ns) ?? 0);
      metrics.updated.set({ namespace: ns, policy }, updated.get(ns) ?? 0);
    }
    for (const k of new Set([...prev.skips, ...next.skips])) {
      const [namespace, reason] = k.split('\u0000') as [string, string];
      metrics.skipped.set({ namespace, policy, reason }, skipped.get(k) ?? 0);
    }
    gaugeLabels.set(policy, next);
  }

  return {
    async runRightsizingCycle(rawInput: RunCycleInput): Promise<CycleRecord> {
      const input = RunCycleInputSchema.parse(rawInput);
      const ctx = activityContext();
      const signal = ctx?.cancellationSignal;
      const heartbeat = (d: string): void => ctx?.heartbeat(d);
      const key = `${input.namespace}/${input.name}`;
      const log = logger('rightsizing', { policy: key });
      const endTimer = metrics.duration.startTimer({ policy: key });
      /** The policy's pod sizing entries go (Disabled, deleted): new pods get their template's size; running pods stay as they are. */
      const dropSizing = async (): Promise<void> => {
        try {
          const n = await removePolicySizing(deps.kc, key);
          if (n > 0) log.info('pod sizing entries removed', { workloads: n });
        } catch (err) {
          log.warn('pod sizing entries not removed', { error: String(err) });
        }
      };
      try {
        const raw = await readPolicy(deps.kc, input.namespace, input.name);
        if (raw === undefined) {
          gaugeLabels.delete(key);
          await dropSizing();
          return { outcome: 'PolicyGone' };
        }
        const meta = (raw as { metadata?: { uid?: string; generation?: number } }).metadata ?? {};
        const ref = { namespace: input.namespace, name: input.name, ...(meta.uid ? { uid: meta.uid } : {}) };
        const prevStatus = OptimizationPolicyStatusSchema.safeParse((raw as { status?: unknown }).status ?? {});
        const previous: OptimizationPolicyStatus | undefined = prevStatus.success ? prevStatus.data : undefined;
        const generation = typeof meta.generation === 'number' ? meta.generation : undefined;
        const withReady = async (status: 'True' | 'False', reason: PolicyReadyReason, message: string): Promise<void> => {
          const s: StatusInput = { results: [], now: input.now, ready: { status, reason, message }, ...(previous ? { previous } : {}) };
          if (generation !== undefined) s.observedGeneration = generation;
          // keep the last workloads and counts: only the condition changes
          const next: OptimizationPolicyStatus = { ...(previous ?? {}), conditions: [readyCondition(s)] };
          if (generation !== undefined) next.observedGeneration = generation;
          await writePolicyStatus(deps.kc, input.namespace, input.name, next);
        };

        const parsed = safeParseOptimizationPolicy({ ...(raw as object), status: undefined });
        if (!parsed.ok) {
          const message = parsed.error.message;
          metrics.errors.inc({ policy: key, error_type: 'PolicyInvalid' });
          await withReady('False', 'PolicyInvalid', message);
          await event(ref, 'Warning', 'PolicyInvalid', message);
          log.warn('policy invalid', { error: message });
          return { outcome: 'Invalid', ...(generation !== undefined ? { generation } : {}), intervalMs: DEFAULT_INTERVAL_MS, message };
        }
        const policy = parsed.value;
        const spec = policy.spec;
        const intervalMs = parseDuration(spec.reconciliationInterval) ?? DEFAULT_INTERVAL_MS;
        if (spec.mode === 'Disabled') {
          const message = 'mode Disabled: no cycles run; the last recommendations are kept';
          await withReady('False', 'PolicyDisabled', message);
          await dropSizing();
          gaugeLabels.delete(key);
          return { outcome: 'Disabled', ...(generation !== undefined ? { generation } : {}), intervalMs, message };
        }

        // ---- who governs what ----
        heartbeat('settling');
        const competitors: SelectablePolicy[] = [];
        // every policy of the cluster compete; an identity that may list only its own namespace's sees those
        const all = await listPolicies(deps.kc).catch(async (err: unknown) => {
          if (apiStatus(err) !== 403) throw err;
          return listPolicies(deps.kc, input.namespace);
        });
        for (const item of all) {
          const p = item as { metadata?: { namespace?: string; name?: string }; spec?: unknown };
          const s = OptimizationPolicySpecSchema.safeParse(p.spec);
          if (s.success && p.metadata?.namespace && p.metadata.name) competitors.push({ namespace: p.metadata.namespace, name: p.metadata.name, spec: s.data });
        }
        const self: SelectablePolicy = { namespace: input.namespace, name: input.name, spec };
        if (!competitors.some((c) => policyKey(c) === key)) competitors.push(self);
        const namespaces = await listNamespaces(deps.kc, input.namespace);
        const reachable = namespaces.filter((n) => namespaceRefusal(self, n, deps.operatorNamespace) === undefined).map((n) => n.name);
        const listedW = await listWorkloads(deps.kc, reachable, input.namespace === deps.operatorNamespace && reachable.length > 1);
        const settlement = settle(competitors, namespaces, listedW.workloads, deps.operatorNamespace);
        const mine = settlement.policies.find((p) => p.policy === key);
        const byKey = new Map(listedW.workloads.map((w) => [workloadKey(w), w]));
        const governed = (mine?.governed ?? []).flatMap((w) => byKey.get(workloadKey(w)) ?? []);

        // ---- usage, OOM kills and stored models per namespace ----
        const providerName = spec.metricsConfig.provider ?? deps.defaultProvider;
        const provider = deps.providers[providerName];
        const rollingMs = parseDuration(spec.metricsConfig.rollingWindow) ?? 24 * 3_600_000;
        const usage: Record<string, NamespaceUsage> = {};
        const ooms: OomKill[] = [];
        const models: Record<string, Record<string, unknown>> = {};
        const versions: Record<string, string> = {};
        const unavailable: string[] = [];
        const applying = spec.mode === 'Auto' && !deps.dryRun;
        const applyFacts: Record<string, WorkloadApplyFacts> = {};
        for (const ns of [...new Set(governed.map((w) => w.namespace))].sort()) {
          signal?.throwIfAborted();
          heartbeat(`namespace ${ns}`);
          const stored = await loadCheckpoints(deps.kc, ns);
          if (stored.ok) {
            Object.assign(models, stored.value.models);
            Object.assign(versions, stored.value.versions);
          }
          const pods = await readPods(deps.kc, ns);
          if (!pods.ok) {
            usage[ns] = { ok: false, reason: 'Forbidden', message: pods.message };
            continue;
          }
          ooms.push(...oomKills(pods.value.pods, pods.value.ownership, workloadOfPod));
          if (applying) {
            const canUpdate = await canApplyIn(deps.kc, ns);
            const current = currentResources(pods.value.pods, pods.value.ownership, workloadOfPod);
            for (const w of governed) {
              if (w.namespace !== ns) continue;
              const wk = workloadKey(w);
              applyFacts[wk] = { replicas: w.replicas, canUpdate, containers: { ...templateResources(w.containers), ...(current.get(wk) ?? {}) } };
            }
          } else {
            // not applying: pods created from now on get the template's size again (running pods are left as they are)
            const mineHere = governed.filter((w) => w.namespace === ns).map((w) => ({ kind: w.kind, name: w.name }));
            try {
              await updatePodSizing(deps.kc, ns, [], mineHere);
            } catch (err) {
              log.warn('pod sizing entries not removed', { namespace: ns, error: String(err) });
            }
          }
          if (provider === undefined) {
            usage[ns] = { ok: false, reason: 'MetricsUnavailable', message: `metrics provider ${providerName} is not configured` };
            metrics.errors.inc({ policy: key, error_type: 'NotConfigured' });
            unavailable.push(ns);
            continue;
          }
          const u = await provider.collect({ namespace: ns, now: input.now, windowMs: rollingMs, policy: key }, signal);
          if (u.ok) usage[ns] = { ok: true, containers: u.containers };
          else {
            usage[ns] = { ok: false, reason: u.reason, message: u.message };
            if (u.reason === 'MetricsUnavailable') unavailable.push(ns);
          }
        }

        // ---- the decision ----
        const prevTimes: Record<string, { lastRecommendationTime?: number; lastAppliedTime?: number; lastMethod?: 'InPlace' | 'Admission' | 'Recreate' }> = {};
        for (const w of previous?.workloads ?? []) {
          const t: { lastRecommendationTime?: number; lastAppliedTime?: number; lastMethod?: 'InPlace' | 'Admission' | 'Recreate' } = {};
          if (w.method !== undefined && w.method !== 'None') t.lastMethod = w.method;
          const r = ms(w.lastRecommendationTime);
          const a = ms(w.lastAppliedTime);
          if (r !== undefined) t.lastRecommendationTime = r;
          if (a !== undefined) t.lastAppliedTime = a;
          prevTimes[workloadKey(w)] = t;
        }
        // coordination: one verdict per namespace with changes to make (the hub's breaker states, delays, budgets)
        const coordination: Record<string, CoordinationVerdict> = {};
        if (applying && deps.coordination !== undefined)
          for (const ns of new Set(governed.map((w) => w.namespace))) {
            heartbeat(`coordination ${ns}`);
            const v = await deps.coordination.verdict(ns, input.now);
            if (v !== undefined) coordination[ns] = v;
          }
        const out = runCycle({
          policy: key,
          mode: spec.mode,
          dryRun: deps.dryRun,
          now: input.now,
          recommender: recommenderPolicy(spec, {
            sampleIntervalMs: providerName === 'prometheus' ? (deps.prometheusStepMs ?? 60_000) : 60_000,
            ...(deps.minSamples !== undefined ? { minSamples: deps.minSamples } : {}),
          }),
          governed,
          overridden: mine?.overridden ?? [],
          usage,
          ooms,
          models,
          previous: prevTimes,
          ...(applying
            ? {
                apply: {
                  strategy: spec.updateStrategy,
                  inPlaceSupported: await inPlaceSupported(),
                  workloads: applyFacts,
                  ...(Object.keys(coordination).length > 0 ? { coordination } : {}),
                } satisfies ApplyFacts,
              }
            : {}),
        });
        // the budget is shared with every other policy: reserve it; what is not granted waits for the next hour
        if (deps.coordination !== undefined && out.applications.length > 0) {
          const byNs = new Map<string, number>();
          for (const a of out.applications) if (coordination[a.namespace] !== undefined) byNs.set(a.namespace, (byNs.get(a.namespace) ?? 0) + 1);
          for (const [ns, count] of byNs) {
            const granted = await deps.coordination.reserve(ns, count, `${key}@${input.now}`);
            if (granted >= count) continue;
            let kept = 0;
            const dropped = new Set<string>();
            out.applications = out.applications.filter((a) => {
              if (a.namespace !== ns) return true;
              if (kept++ < granted) return true;
              dropped.add(workloadKey(a));
              return false;
            });
            for (const r of out.results)
              if (dropped.has(workloadKey(r))) {
                r.outcome = 'Skipped';
                r.skipReason = 'RateLimited';
                r.message = `the hour's update budget granted ${granted} of ${count} updates in ${ns}`;
                delete r.method;
              }
          }
        }

        // ---- the pod sizing of what the gate allowed: one write per namespace (each application step re-checks its entry) ----
        const sizingByNs = new Map<string, ReturnType<typeof podSizingEntry>[]>();
        for (const a of out.applications.slice(0, RECORD_MAX_APPLICATIONS))
          sizingByNs.set(a.namespace, [...(sizingByNs.get(a.namespace) ?? []), podSizingEntry(a, a.containers)]);
        for (const [ns, entries] of sizingByNs) {
          heartbeat(`pod sizing ${ns}`);
          try {
            await updatePodSizing(deps.kc, ns, entries, [], key);
          } catch (err) {
            log.warn('pod sizing not written here; each application step writes its own', { namespace: ns, error: String(err) });
          }
        }

        // ---- store the models that changed ----
        for (const wk of out.changed) {
          const w = byKey.get(wk);
          const m = out.models[wk];
          if (w === undefined || m === undefined) continue;
          heartbeat(`checkpoint ${wk}`);
          try {
            await saveCheckpoint(deps.kc, w, m, key, input.now, versions[wk]);
          } catch (err) {
            metrics.errors.inc({ policy: key, error_type: 'CheckpointWriteFailed' });
            log.warn('checkpoint not written; the model is rebuilt from the next samples', { workload: wk, error: String(err) });
          }
        }

        // ---- status, Events, metrics ----
        const counts = countsOf(out.results);
        const usedNamespaces = new Set(governed.map((w) => w.namespace));
        let ready: { status: 'True' | 'False'; reason: PolicyReadyReason; message: string };
        if (usedNamespaces.size > 0 && unavailable.length === usedNamespaces.size)
          ready = {
            status: 'False',
            reason: 'MetricsUnavailable',
            message: `${providerName}: ${usage[unavailable[0]!]?.ok === false ? (usage[unavailable[0]!] as { message: string }).message : ''}`,
          };
        else if (governed.length === 0)
          ready = {
            status: 'True',
            reason: 'NoMatchingWorkloads',
            message: `no workload in ${reachable.length} reachable namespace(s) is governed by this policy`,
          };
        else
          ready = {
            status: 'True',
            reason: 'PolicyValid',
            message: `${counts.discovered} workload(s): ${counts.recommended} recommended, ${counts.applied} applied, ${counts.skipped} skipped (provider ${providerName}${deps.dryRun ? ', dry run' : ''})`,
          };
        if (listedW.forbidden.length > 0) ready.message += `; forbidden: ${listedW.forbidden.map((f) => f.namespace).join(', ')}`;
        const statusInput: StatusInput = { results: out.results, now: input.now, dryRun: deps.dryRun, ready, ...(previous ? { previous } : {}) };
        if (generation !== undefined) statusInput.observedGeneration = generation;
        await writePolicyStatus(deps.kc, input.namespace, input.name, buildStatus(statusInput));

        for (const ns of unavailable) {
          const u = usage[ns];
          await event(ref, 'Warning', 'MetricsUnavailable', `${providerName} for namespace ${ns}: ${u && !u.ok ? u.message : ''}; no workload changed`);
        }
        for (const f of listedW.forbidden)
          await event(ref, 'Warning', 'Forbidden', `${f.message}; grant list on deployments, statefulsets and daemonsets there`);
        for (const [ns, u] of Object.entries(usage))
          if (!u.ok && u.reason === 'Forbidden') await event(ref, 'Warning', 'Forbidden', `${u.message}; grant list on pods and replicasets in ${ns}`);
        // the gate refused a change the recommendation wants: a Warning Event on the workload, with the numbers
        if (applying)
          for (const r of out.results) {
            if (r.outcome !== 'Skipped' || r.skipReason === undefined || !GATE_REFUSALS.has(r.skipReason)) continue;
            const message = `${r.skipReason}: ${r.message ?? ''} (policy ${key})`;
            await recordEvent(deps.kc, {
              target: { apiVersion: 'apps/v1', kind: r.kind, namespace: r.namespace, name: r.name },
              type: 'Warning',
              reason: 'RightsizingSkipped',
              message,
              dedupeKey: `RightsizingSkipped-${r.skipReason}-${[...message].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7).toString(36)}`,
            });
          }
        if (listedW.forbidden.length > 0) metrics.errors.inc({ policy: key, error_type: 'Forbidden' }, listedW.forbidden.length);
        if (out.recommendations > 0) metrics.recommendations.inc({ policy: key }, out.recommendations);
        setGauges(key, out.results);

        const workloads: CycleWorkloadRecord[] = out.results.slice(0, RECORD_MAX_WORKLOADS).map((r) => {
          const rec: CycleWorkloadRecord = { workload: workloadKey(r), outcome: r.outcome };
          if (r.skipReason) rec.skipReason = r.skipReason;
          const targets: Record<string, { cpu: string; memory: string }> = {};
          for (const c of r.containers)
            if (c.recommendation?.ok) targets[c.name] = { cpu: formatCpu(c.recommendation.cpu.target), memory: formatMemory(c.recommendation.memory.target) };
          if (Object.keys(targets).length > 0) rec.targets = targets;
          return rec;
        });
        log.info('rightsizing cycle', { mode: spec.mode, provider: providerName, ...counts, recommendations: out.recommendations, ingested: out.ingested });
        return {
          outcome: 'Completed',
          ...(generation !== undefined ? { generation } : {}),
          mode: spec.mode,
          dryRun: deps.dryRun,
          provider: providerName,
          intervalMs,
          ready: ready.reason,
          counts,
          skips: skipsByReason(out.results),
          recommendations: out.recommendations,
          ingested: out.ingested,
          forbiddenNamespaces: listedW.forbidden.map((f) => f.namespace),
          workloads,
          workloadsOmitted: Math.max(0, out.results.length - workloads.length),
          workloadKeys: governed.map((w) => workloadKey(w)).slice(0, SEARCH_ATTRIBUTE_MAX_WORKLOADS),
          ...(out.applications.length > 0
            ? {
                applications: out.applications.slice(0, RECORD_MAX_APPLICATIONS),
                resizeDeferredTimeoutMs: parseDuration(spec.updateStrategy.resizeDeferredTimeout) ?? 5 * 60_000,
              }
            : {}),
        };
      } catch (err) {
        if (!signal?.aborted) metrics.errors.inc({ policy: key, error_type: 'CycleFailed' });
        throw err;
      } finally {
        endTimer();
      }
    },
  };
}
