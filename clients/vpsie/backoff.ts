export interface BackoffOptions {
  /** First retry's nominal delay (ms). Product default 100 ms → 200 → 400. */
  baseMs: number;
  /** Upper bound on any computed delay (ms). */
  maxMs: number;
  /** Fraction of the nominal delay randomised away: 0 = none, 1 = full jitter. Default 0.5. */
  jitter?: number;
  /** A server's Retry-After is honoured up to this (ms; default 30 s): one bad header never parks a caller for an hour. */
  maxRetryAfterMs?: number;
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 10_000, jitter: 0.5 };

/**
 * Delay before retry number `retry` (0-based): exponential with jitter, never shorter than the
 * server's Retry-After (itself capped at `maxRetryAfterMs`). `random` returns [0, 1).
 */
export function backoffDelay(retry: number, opts: BackoffOptions, random: () => number, retryAfterMs?: number): number {
  const nominal = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, retry));
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const r = Math.min(Math.max(random(), 0), 1);
  const delay = Math.round(nominal * (1 - jitter) + nominal * jitter * r);
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > delay) {
    return Math.ceil(Math.min(retryAfterMs, opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS));
  }
  return delay;
}

/**
 * Parses an HTTP Retry-After header: delta-seconds or an HTTP date. Returns ms, or undefined if
 * absent or unparsable. Negative results are clamped to 0.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
