import { abortable, type Clock } from './clock';

export interface TokenBucketOptions {
  /** Sustained rate: tokens added per minute (VPSie client default 100). */
  perMinute: number;
  /** Bucket size: how many calls may go at once after an idle period. Defaults to `perMinute`. */
  burst?: number;
}

/**
 * Bucket options that never send more than `limit` requests within any 60 s (VPSie documents
 * "100 requests/minute"): a bucket of burst B refilling at r per minute can send B + r in one
 * minute, so B = limit/5 and r = limit − B. A plain bucket of capacity = rate = limit sends up to
 * twice the limit in the first minute after an idle spell.
 */
export function withinPerMinute(limit: number): TokenBucketOptions {
  const burst = Math.max(1, Math.floor(limit / 5));
  return { perMinute: Math.max(1, limit - burst), burst };
}

/**
 * A token bucket. `take()` reserves a token and returns how long the caller must wait before
 * using it (0 when one is available now); reservations queue fairly in call order because the
 * balance may go negative. Pure given the clock.
 */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly capacity: number;
  private tokens: number;
  private last: number;

  constructor(
    opts: TokenBucketOptions,
    private readonly clock: Pick<Clock, 'now'>,
  ) {
    if (!(opts.perMinute > 0)) throw new RangeError('perMinute must be > 0');
    this.ratePerMs = opts.perMinute / 60_000;
    this.capacity = Math.max(1, opts.burst ?? opts.perMinute);
    this.tokens = this.capacity;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.ratePerMs);
  }

  /** Tokens currently available (may be negative when callers are queued). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** The share of the bucket that is available now, 0..1 (0 while callers are queued). */
  fill(): number {
    return Math.max(0, Math.min(1, this.available() / this.capacity));
  }

  /** Sustained rate, tokens per millisecond. */
  get rate(): number {
    return this.ratePerMs;
  }

  /**
   * The server answered 429 with Retry-After `ms`: no token is available before then, for every
   * caller of this bucket (one 429 slows everyone, instead of each caller finding out itself).
   */
  penalize(ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms)) return;
    this.refill();
    this.tokens = Math.min(this.tokens, -(ms * this.ratePerMs));
  }

  /** Reserves one token; returns the wait in ms before the reservation becomes valid. */
  take(): number {
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    return Math.ceil(-this.tokens / this.ratePerMs);
  }

  /**
   * Waits (via the clock) until a token is available. With `signal`, the wait ends (rejects) as
   * soon as the signal fires, and the reservation is given back so later callers do not wait for
   * a call that never happens.
   */
  async acquire(clock: Clock, signal?: AbortSignal, maxWaitMs?: number): Promise<number> {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    const wait = this.take();
    if (maxWaitMs !== undefined && wait > maxWaitMs) {
      // The caller would still be waiting when its time is up: give the place back, fail now.
      this.tokens += 1;
      throw new RateLimitWaitTooLong(wait, maxWaitMs);
    }
    if (wait > 0) {
      try {
        await abortable(clock.sleep(wait), signal);
      } catch (e) {
        this.tokens += 1;
        throw e;
      }
    }
    return wait;
  }
}

/** A rate-limit wait longer than the caller has left (its activity's deadline). */
export class RateLimitWaitTooLong extends Error {
  constructor(
    readonly waitMs: number,
    readonly maxWaitMs: number,
  ) {
    super(`the rate-limit wait of ${waitMs} ms exceeds the ${Math.max(0, Math.round(maxWaitMs))} ms left`);
    this.name = 'RateLimitWaitTooLong';
  }
}
