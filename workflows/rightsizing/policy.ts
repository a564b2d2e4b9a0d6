/**
 * One OptimizationPolicy's rightsizing cycles: an entity workflow per policy, id
 * `optimizationPolicyWorkflowId(namespace, name)`, started and signalled by the policy watcher
 * (starters/rightsizing/policy-watcher.ts).
 *
 * Each cycle is one `runRightsizingCycle` activity at the workflow's clock (so a retried attempt
 * asks the same question); its record (counts, skips by reason, the first workloads with their
 * targets) is the activity result in this history. Between cycles the workflow sleeps for the
 * policy's reconciliationInterval, or until the watcher signals a new generation. Signals are
 * hints: the cycle re-reads the policy, and a signal that names the generation already seen (the
 * watcher's resync) wakes nothing.
 *   - PolicyGone → the workflow completes.
 *   - Disabled → no cycles; the last status is kept; waits for a change of the policy.
 *   - a cycle that fails all its attempts is logged and the next one runs at the interval.
 * The usage models are not workflow state: they live in OptimizationCheckpoints, so a lost,
 * terminated or reset workflow loses nothing. Continue-as-new every CYCLES_PER_RUN cycles or when
 * Temporal suggests it. Search attributes: `OptimizationPolicy` = namespace/name, `Workload` = the
 * governed workloads (Kind/namespace/name, capped).
 *
 * Applications (Auto mode; behind patched PATCH_APPLY): the cycle's gate (decision/rightsizing/
 * gate.ts) allows some workloads; each is then a step of this workflow, APPLY_CONCURRENCY at a
 * time (activities/rightsizing/apply.ts): in place through pods/resize (or, with no pod running,
 * at admission only); an Infeasible resize, or one Deferred past resizeDeferredTimeout, falls back
 * to recreate where the gate allowed it; a recreate is a loop of level-triggered steps that evict
 * one replica only while every other one is Ready (a PDB's 429 is waited on). The outcomes go into
 * the policy status, Events and metrics in one `recordApplications`. Every step re-reads the policy
 * and stops when it has left Auto mode.
 */
import {
  ActivityFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  sleep,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CycleRecord, createRightsizingActivities } from '../../activities/rightsizing/cycle';
import type { ApplicationOutcome, createApplyActivities } from '../../activities/rightsizing/apply';
import type { Application } from '../../decision/rightsizing/cycle';
import { formatCpu, formatMemory } from '../../lib/crds/optipod/quantity';
import { SA_OPTIMIZATION_POLICY, SA_WORKLOAD } from '../../lib/temporal/search-attributes';

type Activities = ReturnType<typeof createRightsizingActivities>;

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '60s',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

type ApplyActivities = ReturnType<typeof createApplyActivities>;
/** The in-place step waits for the kubelet (up to the policy's resizeDeferredTimeout, at most 1 h). */
const resizeActs = proxyActivities<ApplyActivities>({
  startToCloseTimeout: '70m',
  heartbeatTimeout: '60s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});
const stepActs = proxyActivities<ApplyActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** Applications of recommendations as workflow steps (issue #15). */
export const PATCH_APPLY = 'rightsizing-applies-recommendations';
/** Workloads applied at once. */
export const APPLY_CONCURRENCY = 16;
/** A recreate that has not finished in this time ends (EvictionBlocked or RecreateTimedOut). */
export const RECREATE_TIMEOUT_MS = 30 * 60_000;
const RECREATE_POLL_MS = 2_000;
const RECREATE_BLOCKED_MS = 10_000;

function describeChanges(app: Application): string {
  return app.containers
    .map((c) => {
      const parts: string[] = [];
      for (const [k, ch] of Object.entries(c.changes)) {
        if (ch === undefined) continue;
        const f = k.startsWith('cpu') ? formatCpu : formatMemory;
        parts.push(`${k} ${ch.from === undefined ? 'unset' : f(ch.from)}→${f(ch.to)}`);
      }
      return parts.length > 0 ? `${c.name}: ${parts.join(', ')}` : '';
    })
    .filter((x) => x !== '')
    .join('; ');
}

async function recreate(
  policy: { namespace: string; name: string },
  app: Application,
  done: (o: Omit<ApplicationOutcome, 'workload' | 'at' | 'changes'>) => ApplicationOutcome,
  prefix: string,
): Promise<ApplicationOutcome | undefined> {
  const workload = { kind: app.kind, namespace: app.namespace, name: app.name };
  const deadline = Date.now() + RECREATE_TIMEOUT_MS;
  let evicted = 0;
  let blocked: string | undefined;
  for (;;) {
    const s = await stepActs.recreateStep({ policy, workload, containers: app.containers });
    switch (s.state) {
      case 'Done':
        return done({ outcome: 'Applied', method: 'Recreate', message: `${prefix}${evicted} pod(s) recreated one at a time; ${s.message}` });
      case 'Stopped':
        return undefined;
      case 'Forbidden':
        return done({ outcome: 'Skipped', method: 'None', skipReason: 'Forbidden', message: s.message });
      case 'WorkloadNotFound':
        return done({ outcome: 'Skipped', method: 'None', skipReason: 'WorkloadNotFound', message: s.message });
      case 'Evicted':
        evicted++;
        blocked = undefined;
        break;
      case 'Blocked':
        blocked = s.message;
        break;
      case 'Waiting':
        break;
    }
    if (Date.now() > deadline)
      return blocked !== undefined
        ? done({ outcome: 'Skipped', method: 'Recreate', skipReason: 'EvictionBlocked', message: `${prefix}${blocked}` })
        : done({
            outcome: 'Failed',
            method: 'Recreate',
            skipReason: 'RecreateTimedOut',
            message: `${prefix}not finished in ${RECREATE_TIMEOUT_MS / 60_000} min: ${s.message}`,
          });
    await sleep(s.state === 'Blocked' ? RECREATE_BLOCKED_MS : RECREATE_POLL_MS);
  }
}

/** One workload's application; undefined when the policy left Auto mode meanwhile (the next cycle writes its status). */
async function applyOne(policy: { namespace: string; name: string }, app: Application, deferredTimeoutMs: number): Promise<ApplicationOutcome | undefined> {
  const workload = { kind: app.kind, namespace: app.namespace, name: app.name };
  const changes = describeChanges(app);
  const done = (o: Omit<ApplicationOutcome, 'workload' | 'at' | 'changes'>): ApplicationOutcome => ({ workload, at: Date.now(), changes, ...o });
  if (app.method === 'Recreate') return recreate(policy, app, done, '');
  const r = await resizeActs.applyInPlace({ policy, workload, containers: app.containers, deferredTimeoutMs });
  switch (r.outcome) {
    case 'Applied':
      return done({ outcome: 'Applied', method: 'InPlace', message: r.message });
    case 'NoPods':
      return done({ outcome: 'Applied', method: 'Admission', message: r.message });
    case 'Stopped':
      return undefined;
    case 'Forbidden':
      return done({ outcome: 'Skipped', method: 'None', skipReason: 'Forbidden', message: r.message });
    case 'Error':
      return done({ outcome: 'Failed', method: 'InPlace', skipReason: 'ResizeFailed', message: r.message });
    case 'Infeasible':
    case 'Deferred': {
      const reason = r.outcome === 'Infeasible' ? 'ResizeInfeasible' : 'ResizeDeferred';
      const fallback = app.onInPlaceFailure;
      if (fallback !== undefined && 'method' in fallback) return recreate(policy, app, done, `in-place resize ${r.outcome}: ${r.message}; `);
      const why = fallback === undefined ? '' : fallback.reason === 'TooFewReplicas' ? '; too few replicas to recreate' : '; recreate is not allowed';
      return done({ outcome: 'Skipped', method: 'InPlace', skipReason: reason, message: `${r.message}${why}` });
    }
  }
}

/** The cycle's applications, APPLY_CONCURRENCY at a time, in the cycle's order. */
async function applyAll(policy: { namespace: string; name: string }, apps: readonly Application[], deferredTimeoutMs: number): Promise<ApplicationOutcome[]> {
  const out: (ApplicationOutcome | undefined)[] = new Array<ApplicationOutcome | undefined>(apps.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < apps.length) {
      const i = next++;
      try {
        out[i] = await applyOne(policy, apps[i]!, deferredTimeoutMs);
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const a = apps[i]!;
        out[i] = {
          workload: { kind: a.kind, namespace: a.namespace, name: a.name },
          method: a.method,
          outcome: 'Failed',
          message: `the application failed all its attempts: ${String(err.cause?.message ?? err.message)}`.slice(0, 256),
          at: Date.now(),
          changes: describeChanges(a),
        };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(APPLY_CONCURRENCY, apps.length) }, lane));
  return out.filter((o): o is ApplicationOutcome => o !== undefined);
}

export interface OptimizationPolicyWorkflowInput {
  namespace: string;
  name: string;
  /** Carried across continue-as-new. */
  cycles?: number;
  lastGeneration?: number;
  last?: CycleRecord;
}

export interface PolicyChangedSignal {
  /** metadata.generation the watcher saw (a resync repeats it); absent when deleted. */
  generation?: number;
  deleted?: boolean;
}

export const policyChangedSignal = defineSignal<[PolicyChangedSignal]>('policyChanged');
export const lastCycleQuery = defineQuery<CycleRecord | undefined>('lastCycle');

export const CYCLES_PER_RUN = 50;

export function optimizationPolicyWorkflowId(namespace: string, name: string): string {
  return `optimization-policy:${namespace}/${name}`;
}

export async function optimizationPolicyWorkflow(input: OptimizationPolicyWorkflowInput): Promise<CycleRecord | undefined> {
  let wake = false;
  let seenGeneration = input.lastGeneration;
  let last = input.last;
  setHandler(policyChangedSignal, (s) => {
    if (s.deleted === true || s.generation === undefined || s.generation !== seenGeneration) wake = true;
  });
  setHandler(lastCycleQuery, () => last);
  upsertSearchAttributes([{ key: SA_OPTIMIZATION_POLICY, value: `${input.namespace}/${input.name}` }]);

  let cycles = input.cycles ?? 0;
  for (let run = 0; ; run++) {
    wake = false;
    let record: CycleRecord | undefined;
    try {
      record = await acts.runRightsizingCycle({ namespace: input.namespace, name: input.name, now: Date.now() });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('rightsizing cycle failed; the next runs at the interval', { error: String(err.cause ?? err) });
    }
    cycles++;
    if (record?.outcome === 'PolicyGone') return last;
    if (record !== undefined) {
      last = record;
      if (record.generation !== undefined) seenGeneration = record.generation;
      if (record.outcome === 'Completed') upsertSearchAttributes([{ key: SA_WORKLOAD, value: record.workloadKeys }]);
    }
    // after the generation is noted: a signal repeating it during the applications wakes nothing
    if (record?.outcome === 'Completed' && (record.applications?.length ?? 0) > 0 && patched(PATCH_APPLY)) {
      const policy = { namespace: input.namespace, name: input.name };
      const outcomes = await applyAll(policy, record.applications ?? [], record.resizeDeferredTimeoutMs ?? 5 * 60_000);
      try {
        await stepActs.recordApplications({ policy, outcomes, cycleCounts: { applied: record.counts.applied, skipped: record.counts.skipped } });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('application outcomes not recorded', { error: String(err.cause ?? err) });
      }
    }
    const intervalMs = record !== undefined && 'intervalMs' in record ? record.intervalMs : 5 * 60_000;
    if (record?.outcome === 'Disabled') await condition(() => wake);
    else await condition(() => wake, intervalMs);
    if (run + 1 >= CYCLES_PER_RUN || workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof optimizationPolicyWorkflow>({
        namespace: input.namespace,
        name: input.name,
        cycles,
        ...(seenGeneration !== undefined ? { lastGeneration: seenGeneration } : {}),
        ...(last !== undefined ? { last } : {}),
      });
  }
}
