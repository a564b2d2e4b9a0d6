import { expect } from 'chai';
import fc from 'fast-check';
import { backoffDelay, parseRetryAfter } from '../../../../clients/vpsie/backoff';
import { VPSieApiBreaker } from '../../../../clients/vpsie/api-breaker';
import { ManualClock } from '../../../../clients/vpsie/clock';
import { RateLimitWaitTooLong, TokenBucket, withinPerMinute } from '../../../../clients/vpsie/token-bucket';

describe('token bucket', () => {
  it('property (#12): withinPerMinute(limit) never sends more than limit requests within any 60 s, whatever the arrivals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 600 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 400 }), (limit, gaps) => {
        const clock = new ManualClock();
        const b = new TokenBucket(withinPerMinute(limit), clock);
        // Each caller arrives `gap` ms after the previous one and is sent when its reservation is valid.
        const sent: number[] = [];
        let t = clock.now();
        for (const gap of gaps) {
          t += gap;
          if (t > clock.now()) clock.advance(t - clock.now());
          sent.push(clock.now() + b.take());
        }
        sent.sort((x, y) => x - y);
        let lo = 0;
        for (let hi = 0; hi < sent.length; hi++) {
          while (sent[hi]! - sent[lo]! >= 60_000) lo++;
          if (hi - lo + 1 > limit) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('a plain bucket of capacity = rate = limit would send twice the limit in the first minute (why withinPerMinute exists)', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ perMinute: 100 }, clock);
    let inMinute = 0;
    for (let i = 0; i < 300; i++) if (b.take() < 60_000) inMinute++;
    expect(inMinute).to.be.greaterThan(100);
  });

  it('lets a full burst through, then spaces calls at the sustained rate', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ perMinute: 60, burst: 3 }, clock);
    expect([b.take(), b.take(), b.take()]).to.deep.equal([0, 0, 0]);
    expect(b.take()).to.equal(1000);
    expect(b.take()).to.equal(2000);
  });

  it('a 429 slows every caller: after penalize(Retry-After) nobody gets a token before it has passed (#12)', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ perMinute: 100 }, clock);
    expect(b.take()).to.equal(0);
    b.penalize(5_000);
    expect(b.take()).to.be.at.least(5_000);
    expect(b.take()).to.be.at.least(5_000 + 600);
  });

  it('a wait longer than the caller has left fails at once and gives the place back (#12)', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ perMinute: 60, burst: 1 }, clock);
    expect(await b.acquire(clock)).to.equal(0);
    let err: unknown;
    await b.acquire(clock, undefined, 500).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(RateLimitWaitTooLong);
    expect((err as RateLimitWaitTooLong).waitMs).to.equal(1000);
    expect(clock.sleeps).to.deep.equal([]);
    // the place was given back: the next caller waits one interval, not two
    expect(await b.acquire(clock, undefined, 2_000)).to.equal(1000);
  });

  it('refills over time up to the burst size, never beyond', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ perMinute: 100 }, clock);
    for (let i = 0; i < 100; i++) b.take();
    clock.advance(30_000);
    expect(b.available()).to.be.closeTo(50, 1e-9);
    clock.advance(600_000);
    expect(b.available()).to.equal(100);
  });

  it('property: over any schedule, calls granted by time T never exceed burst + rate × T', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        const clock = new ManualClock(0);
        const b = new TokenBucket({ perMinute: 100, burst: 10 }, clock);
        const granted: number[] = [];
        for (const g of gaps) {
          clock.advance(g);
          granted.push(clock.now() + b.take());
        }
        granted.sort((x, y) => x - y);
        return granted.every((t, i) => i + 1 <= 10 + (t * 100) / 60_000 + 1e-9);
      }),
    );
  });

  it('acquire waits through the clock', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ perMinute: 120, burst: 1 }, clock);
    await b.acquire(clock);
    await b.acquire(clock);
    expect(clock.sleeps).to.deep.equal([500]);
  });
});

describe('backoff with jitter', () => {
  const opts = { baseMs: 100, maxMs: 10_000, jitter: 0.5 };

  it('doubles per retry: 100 → 200 → 400 ms nominal', () => {
    expect([0, 1, 2].map((r) => backoffDelay(r, { ...opts, jitter: 0 }, () => 0))).to.deep.equal([100, 200, 400]);
  });

  it('property: stays within [nominal × (1 − jitter), nominal] and under the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (retry, r) => {
        const nominal = Math.min(10_000, 100 * 2 ** retry);
        const d = backoffDelay(retry, opts, () => r);
        return d >= Math.floor(nominal * 0.5) && d <= nominal;
      }),
    );
  });

  it('never waits less than Retry-After', () => {
    expect(backoffDelay(0, opts, () => 0.5, 7_000)).to.equal(7_000);
    expect(backoffDelay(5, opts, () => 1, 10)).to.equal(3_200);
    // a Retry-After of an hour is capped (30 s by default, or the option)
    expect(backoffDelay(0, opts, () => 0.5, 3_600_000)).to.equal(30_000);
    expect(backoffDelay(0, { ...opts, maxRetryAfterMs: 5_000 }, () => 0.5, 3_600_000)).to.equal(5_000);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).to.equal(3000);
    expect(parseRetryAfter('0.5', now)).to.equal(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).to.equal(10_000);
    expect(parseRetryAfter('Thu, 01 Jan 2025 00:00:10 GMT', now)).to.equal(0);
    expect(parseRetryAfter('soon', now)).to.equal(undefined);
    expect(parseRetryAfter(null, now)).to.equal(undefined);
  });
});

describe('circuit breaker', () => {
  const opts = { errorRateThreshold: 0.5, minRequests: 4, windowMs: 60_000, openMs: 30_000 };

  it('does not open before minRequests outcomes, opens at the error-rate threshold', () => {
    const clock = new ManualClock();
    const b = new VPSieApiBreaker(opts, clock);
    b.record(false);
    b.record(false);
    b.record(false);
    expect(b.state).to.equal('closed');
    b.record(true);
    expect(b.state).to.equal('open');
    expect(b.tryAcquire()).to.equal(false);
  });

  it('stays closed when the error rate is below the threshold', () => {
    const b = new VPSieApiBreaker(opts, new ManualClock());
    for (let i = 0; i < 20; i++) b.record(i % 3 !== 2);
    expect(b.state).to.equal('closed');
  });

  it('forgets outcomes older than the window', () => {
    const clock = new ManualClock();
    const b = new VPSieApiBreaker(opts, clock);
    for (let i = 0; i < 3; i++) b.record(false);
    clock.advance(61_000);
    b.record(false);
    expect(b.state).to.equal('closed');
  });

  it('half-opens after openMs, lets one probe through, closes on success', () => {
    const clock = new ManualClock();
    const changes: string[] = [];
    const b = new VPSieApiBreaker(opts, clock, (s) => changes.push(s));
    for (let i = 0; i < 4; i++) b.record(false);
    clock.advance(29_999);
    expect(b.tryAcquire()).to.equal(false);
    expect(b.retryInMs()).to.equal(1);
    clock.advance(1);
    expect(b.tryAcquire()).to.equal(true);
    expect(b.tryAcquire()).to.equal(false);
    b.record(true);
    expect(b.state).to.equal('closed');
    expect(changes).to.deep.equal(['open', 'half_open', 'closed']);
  });

  it('re-opens when the probe fails', () => {
    const clock = new ManualClock();
    const b = new VPSieApiBreaker(opts, clock);
    for (let i = 0; i < 4; i++) b.record(false);
    clock.advance(30_000);
    expect(b.tryAcquire()).to.equal(true);
    b.record(false);
    expect(b.state).to.equal('open');
    clock.advance(29_000);
    expect(b.tryAcquire()).to.equal(false);
  });
});
