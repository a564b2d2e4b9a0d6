/**
 * Backoff between rounds of evictions refused by a PodDisruptionBudget (HTTP 429): the first retry
 * after `initialSeconds`, each later one twice as late, never later than `maxSeconds`. One
 * heartbeating activity runs the rounds (activities/nodes/drain.ts `evictPods`), so many blocked
 * pods cost one activity, not one activity per pod per retry.
 */
export const DEFAULT_EVICTION_BACKOFF = { initialSeconds: 1, maxSeconds: 30 } as const;

export function evictionRetryDelaySeconds(round: number, opts: { initialSeconds: number; maxSeconds: number } = DEFAULT_EVICTION_BACKOFF): number {
  const initial = Math.max(0.1, opts.initialSeconds);
  return Math.min(Math.max(initial, opts.maxSeconds), initial * 2 ** Math.max(0, round));
}
