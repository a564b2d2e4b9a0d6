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
 */
import {
  ActivityFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CycleRecord, createRightsizingActivities } from '../../activities/rightsizing/cycle';
import { SA_OPTIMIZATION_POLICY, SA_WORKLOAD } from '../../lib/temporal/search-attributes';

type Activities = ReturnType<typeof createRightsizingActivities>;

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '60s',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

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
