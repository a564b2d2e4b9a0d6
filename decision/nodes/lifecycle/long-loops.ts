/**
 * The VPSieNode lifecycle's long loops (provisioning polls, joining waits, Ready, failed cleanup
 * retries): when a run's history is long enough to continue as new, and how long a failing
 * cleanup of a Failed node waits before it tries again. Pure: the workflow passes its history
 * length and the server's suggestion.
 */

/** A run continues as new after this many history events unless told otherwise (the server suggests it near 4K as well). */
export const DEFAULT_MAX_HISTORY_EVENTS = 4000;

/** The lowest bound a run accepts: a run's own start takes about 15 events, and a bound below that would continue as new forever. */
export const MIN_HISTORY_EVENTS = 60;

/** The longest wait between two attempts to clean a Failed node up (delete its VPS and Node). */
export const FAILED_CLEANUP_MAX_BACKOFF_MS = 10 * 60 * 1000;

export interface HistoryBound {
  historyLength: number;
  continueAsNewSuggested: boolean;
  maxHistoryEvents: number;
}

/** True when a long loop should hand over to a new run (its state carried). */
export function historyFull(h: HistoryBound): boolean {
  return h.continueAsNewSuggested || h.historyLength > h.maxHistoryEvents;
}

/**
 * The wait before the next cleanup attempt after `failures` failed ones (1 = the first failure):
 * `baseMs` doubling per failure, capped at `capMs`.
 */
export function failedCleanupRetryDelayMs(failures: number, baseMs: number, capMs: number = FAILED_CLEANUP_MAX_BACKOFF_MS): number {
  const n = Math.max(1, Math.floor(failures));
  const base = Math.max(1, baseMs);
  // 2 ** n overflows to Infinity long after the cap is reached; min() keeps it finite.
  return Math.min(capMs, base * 2 ** (n - 1));
}
