/**
 * Decaying exponential histogram: bucket layout, percentiles against exact quantiles, decay by
 * half-life, peak replacement, and a lossless-enough round trip through plain JSON.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  CPU_HISTOGRAM,
  DAY_MS,
  DecayingHistogram,
  MEMORY_HISTOGRAM,
  WEIGHT_SCALE,
  bucketCount,
  isHistogramState,
} from '../../../../decision/rightsizing/histogram';

const exactQuantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
};

describe('rightsizing: decaying histogram', () => {
  it('has a bounded number of buckets (compact state whatever the usage)', () => {
    expect(bucketCount(CPU_HISTOGRAM)).to.be.within(150, 260);
    expect(bucketCount(MEMORY_HISTOGRAM)).to.be.within(150, 260);
  });

  it('places every value in the bucket whose range holds it', () => {
    const h = new DecayingHistogram(CPU_HISTOGRAM);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 999_999, noNaN: true }), (v) => {
        const b = h.bucketOf(v);
        expect(h.bucketStart(b)).to.be.at.most(v * (1 + 1e-12));
        expect(h.bucketStart(b + 1)).to.be.greaterThan(v * (1 - 1e-12));
      }),
    );
  });

  it('P50, P90 and P99 are within one bucket (5%) above the exact quantile, and ordered', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 1, max: 50_000, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
        const h = new DecayingHistogram(CPU_HISTOGRAM);
        for (const x of xs) h.add(x, 1, 0);
        const [p50, p90, p99] = h.percentiles([0.5, 0.9, 0.99]) as [number, number, number];
        expect(p50).to.be.at.most(p90);
        expect(p90).to.be.at.most(p99);
        for (const [q, p] of [
          [0.5, p50],
          [0.9, p90],
          [0.99, p99],
        ] as const) {
          const exact = exactQuantile(xs, q);
          expect(p, `q=${q}`).to.be.at.least(exact * (1 - 1e-9));
          expect(p, `q=${q}`).to.be.at.most(exact * 1.05 + CPU_HISTOGRAM.firstBucket + 1e-9);
          expect(h.percentile(q)).to.equal(p);
        }
      }),
    );
  });

  it('a sample one half-life older weighs half as much', () => {
    const h = new DecayingHistogram(CPU_HISTOGRAM);
    // 100 samples of 100m a day ago, 50 samples of 1000m now: equal weight, so the median is the boundary.
    for (let i = 0; i < 100; i++) h.add(100, 1, 0);
    for (let i = 0; i < 50; i++) h.add(1000, 1, DAY_MS);
    expect(h.percentile(0.49)).to.be.below(110);
    expect(h.percentile(0.51)).to.be.above(990);
  });

  it('renormalises far in the future without overflow or a change of percentiles', () => {
    const h = new DecayingHistogram(CPU_HISTOGRAM);
    for (let d = 0; d < 400; d += 5) h.add(d % 2 === 0 ? 100 : 200, 1, d * DAY_MS);
    expect(Number.isFinite(h.total)).to.equal(true);
    expect(h.percentile(0.99)).to.be.within(200, 211);
  });

  it('subtracting the sample added last restores the percentiles (memory peaks are replaced this way)', () => {
    const h = new DecayingHistogram(MEMORY_HISTOGRAM);
    for (let i = 0; i < 10; i++) h.add(200 * 2 ** 20, 1, 1000);
    const before = h.percentiles([0.5, 0.99]);
    h.add(900 * 2 ** 20, 1, 5000);
    expect(h.percentile(0.99)).to.be.above(before[1]!);
    h.subtract(900 * 2 ** 20, 1, 5000);
    expect(h.percentiles([0.5, 0.99])).to.deep.equal(before);
  });

  it('ignores NaN, negative and infinite values', () => {
    const h = new DecayingHistogram(CPU_HISTOGRAM);
    h.add(Number.NaN, 1, 0);
    h.add(-5, 1, 0);
    h.add(Number.POSITIVE_INFINITY, 1, 0);
    expect(h.isEmpty()).to.equal(true);
    expect(h.percentile(0.9)).to.equal(0);
  });

  it('round-trips through plain JSON with the same percentiles, and keeps decaying correctly afterwards', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 100_000, noNaN: true }), fc.integer({ min: 0, max: 7 * 24 })), { minLength: 1, maxLength: 200 }),
        (samples) => {
          const h = new DecayingHistogram(CPU_HISTOGRAM);
          for (const [v, hour] of samples) h.add(v, 1, hour * 3_600_000);
          const state = JSON.parse(JSON.stringify(h.toState())) as unknown;
          expect(isHistogramState(state)).to.equal(true);
          const r = DecayingHistogram.fromState(CPU_HISTOGRAM, state as never);
          // Integer weights (the largest bucket = WEIGHT_SCALE) round each bucket by at most half a unit and
          // the restore rescales them to the total, so the cumulative share at any bucket moves by at most
          // δ = buckets / WEIGHT_SCALE: the restored percentile lies between the original's at q − δ and at
          // q + δ (one bucket either side). A percentile on the edge between two distant buckets may jump.
          const buckets = h.toState().b.length / 2;
          const delta = buckets / WEIGHT_SCALE + 1e-9;
          for (const q of [0.5, 0.9, 0.99]) {
            const lo = h.bucketOf(h.percentile(Math.max(0, q - delta)) * 0.999999);
            const hi = h.bucketOf(h.percentile(Math.min(1, q + delta)) * 0.999999);
            const b = r.bucketOf(r.percentile(q) * 0.999999);
            expect(b, `q=${q}`).to.be.at.least(lo - 1);
            expect(b, `q=${q}`).to.be.at.most(hi + 1);
          }
          expect(r.total).to.be.closeTo(h.total, h.total * 1e-9);
          h.add(5, 1, 8 * DAY_MS);
          r.add(5, 1, 8 * DAY_MS);
          expect(r.total).to.be.closeTo(h.total, h.total * 1e-6);
        },
      ),
    );
  });

  it('keeps only non-empty buckets, with integer weights of at most WEIGHT_SCALE', () => {
    const h = new DecayingHistogram(CPU_HISTOGRAM);
    for (let i = 0; i < 1000; i++) h.add(i % 3 === 0 ? 50 : 3000, 1, i * 60_000);
    const s = h.toState();
    expect(s.b.length).to.equal(4);
    for (let i = 1; i < s.b.length; i += 2) expect(Number.isInteger(s.b[i]) && s.b[i]! <= WEIGHT_SCALE && s.b[i]! > 0).to.equal(true);
  });

  it('refuses state that is not a histogram', () => {
    for (const bad of [
      null,
      3,
      {},
      { ref: 0, total: 1, b: [1] },
      { ref: 0, total: -1, b: [] },
      { ref: 'x', total: 1, b: [] },
      { ref: 0, total: 1, b: [1, 'a'] },
    ])
      expect(isHistogramState(bad), JSON.stringify(bad)).to.equal(false);
  });
});
