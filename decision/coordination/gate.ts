/**
 * Coordination's part of the rightsizing gate, pure: may a namespace's workloads be updated now?
 * Asked once per rightsizing cycle with the hub's facts (workflows/coordination/contracts.ts
 * AdmissionFacts); the rightsizing gate (decision/rightsizing/gate.ts) turns a "no" into the
 * workload's skip reason. In order:
 *   1. an object governing the namespace has its breaker open → CircuitBreakerOpen (until its cooldown ends);
 *   2. coordinated: a node was added or removed less than vpaUpdateDelay ago → CoordinationDelay;
 *   3. no update left in the hour's budget (cluster-wide or the namespace's) → RateLimited.
 * Disabled objects (enabled false or strategy disabled) do not count.
 */
import type { TripReason } from '../../lib/crds/platform/constants';
import type { CoordinationVerdict } from '../../lib/crds/platform/types';

export type { CoordinationSkipReason, CoordinationVerdict } from '../../lib/crds/platform/types';

export interface GateObject {
  object: string;
  strategy: 'isolated' | 'coordinated' | 'disabled';
  enabled: boolean;
  paused: boolean;
  pauseReason?: TripReason;
  pausedUntil?: number;
  vpaUpdateDelayMs: number;
}

export interface CoordinationFacts {
  namespace: string;
  objects: readonly GateObject[];
  lastNodeActionAt?: number;
  clusterBudget: number;
  namespaceBudget: number;
}

export function coordinationGate(f: CoordinationFacts, now: number): CoordinationVerdict {
  const active = f.objects.filter((o) => o.enabled && o.strategy !== 'disabled');
  const open = active.find((o) => o.paused);
  if (open)
    return {
      allowed: false,
      reason: 'CircuitBreakerOpen',
      message: `the circuit breaker of ${open.object} is open${open.pauseReason ? ` (${open.pauseReason})` : ''}${
        open.pausedUntil !== undefined ? `; updates resume in ${Math.max(0, Math.ceil((open.pausedUntil - now) / 1000))} s` : ''
      }`,
      numbers: open.pausedUntil !== undefined ? { secondsLeft: Math.max(0, Math.ceil((open.pausedUntil - now) / 1000)) } : {},
      ...(open.pausedUntil !== undefined ? { retryAt: open.pausedUntil } : {}),
    };
  if (f.lastNodeActionAt !== undefined) {
    const delay = Math.max(0, ...active.filter((o) => o.strategy === 'coordinated').map((o) => o.vpaUpdateDelayMs));
    const until = f.lastNodeActionAt + delay;
    if (delay > 0 && now < until)
      return {
        allowed: false,
        reason: 'CoordinationDelay',
        message: `a node changed ${Math.round((now - f.lastNodeActionAt) / 1000)} s ago; coordinated rightsizing waits vpaUpdateDelay ${Math.round(delay / 1000)} s`,
        numbers: { secondsSinceNodeAction: Math.round((now - f.lastNodeActionAt) / 1000), delaySeconds: Math.round(delay / 1000) },
        retryAt: until,
      };
  }
  const budget = Math.min(f.clusterBudget, f.namespaceBudget);
  if (budget <= 0)
    return {
      allowed: false,
      reason: 'RateLimited',
      message: `the hour's update budget is spent (cluster ${Math.max(0, f.clusterBudget)} left, namespace ${f.namespace} ${Math.max(0, f.namespaceBudget)} left)`,
      numbers: { clusterBudget: Math.max(0, f.clusterBudget), namespaceBudget: Math.max(0, f.namespaceBudget) },
    };
  return { allowed: true, budget };
}
