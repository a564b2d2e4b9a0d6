import type { Clock } from './clock';

export type ApiBreakerState = 'closed' | 'open' | 'half_open';

/** Numeric encoding for the breaker gauge: closed 0, half-open 1, open 2. */
export const API_BREAKER_STATE_VALUE: Record<ApiBreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface VPSieApiBreakerOptions {
  /** Error fraction within the window that opens the breaker (product: 0.5). */
  errorRateThreshold: number;
  /** Minimum outcomes in the window before the rate is judged (a single failure never opens it). */
  minRequests: number;
  /** Sliding window length in ms over which the rate is computed. */
  windowMs: number;
  /** How long the breaker stays open before letting one probe through (product: 30 s). */
  openMs: number;
}

export const DEFAULT_API_BREAKER: VPSieApiBreakerOptions = {
  errorRateThreshold: 0.5,
  minRequests: 10,
  windowMs: 60_000,
  openMs: 30_000,
};

/**
 * The VPSie API client's HTTP circuit breaker (not the coordination circuit breaker between
 * rightsizing and node scaling), over a sliding time window. Closed: calls pass, outcomes are recorded; when at
 * least `minRequests` outcomes fall in the window and the failure fraction reaches the threshold
 * it opens. Open: calls are refused until `openMs` has passed, then it half-opens and lets exactly
 * one probe through; the probe's success closes it (window cleared), its failure re-opens it.
 */
export class VPSieApiBreaker {
  private stateValue: ApiBreakerState = 'closed';
  private openedAt = 0;
  private probeInFlight = false;
  private outcomes: { t: number; ok: boolean }[] = [];

  constructor(
    private readonly opts: VPSieApiBreakerOptions,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly onChange: (s: ApiBreakerState) => void = () => undefined,
  ) {}

  get state(): ApiBreakerState {
    if (this.stateValue === 'open' && this.clock.now() - this.openedAt >= this.opts.openMs) {
      this.set('half_open');
    }
    return this.stateValue;
  }

  /** Ms until an open breaker half-opens (0 if not open). */
  retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.openedAt + this.opts.openMs - this.clock.now()) : 0;
  }

  /** Asks to make a call. False means refused (open, or half-open with its probe already out). */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open') return false;
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** Records a call's outcome. `ok: false` only for failures that say the service is unhealthy. */
  record(ok: boolean): void {
    const now = this.clock.now();
    if (this.stateValue === 'half_open' || this.probeInFlight) {
      this.probeInFlight = false;
      if (ok) {
        this.outcomes = [];
        this.set('closed');
      } else {
        this.trip(now);
      }
      return;
    }
    if (this.stateValue === 'open') return;
    this.outcomes.push({ t: now, ok });
    const from = now - this.opts.windowMs;
    while (this.outcomes.length > 0 && this.outcomes[0]!.t < from) this.outcomes.shift();
    if (this.outcomes.length >= this.opts.minRequests) {
      const failures = this.outcomes.reduce((n, o) => n + (o.ok ? 0 : 1), 0);
      if (failures / this.outcomes.length >= this.opts.errorRateThreshold) this.trip(now);
    }
  }

  /** Releases a half-open probe slot without an outcome (e.g. the call was cancelled). */
  release(): void {
    this.probeInFlight = false;
  }

  private trip(now: number): void {
    this.openedAt = now;
    this.outcomes = [];
    this.set('open');
  }

  private set(s: ApiBreakerState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    this.onChange(s);
  }
}
