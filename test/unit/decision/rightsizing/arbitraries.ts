/** fast-check generators for the rightsizing tests: usage traces, bounds, policies. */
import fc from 'fast-check';
import { PERCENTILES } from '../../../../lib/crds/optipod/constants';
import { ContainerUsageModel } from '../../../../decision/rightsizing/model';
import { DEFAULT_MIN_SAMPLES, type Range, type RecommenderPolicy } from '../../../../decision/rightsizing/recommendation';

export const MIB = 2 ** 20;
export const MIN_MS = 60_000;

export interface Trace {
  /** [minute offset, cpu millicores, memory bytes] */
  samples: [number, number, number][];
  /** [minute offset, usage bytes at the kill] */
  ooms: [number, number][];
}

export const traceArb: fc.Arbitrary<Trace> = fc.record({
  samples: fc.array(
    fc.tuple(
      fc.integer({ min: 0, max: 14 * 24 * 60 }),
      fc.double({ min: 0, max: 64_000, noNaN: true }),
      fc.double({ min: 0, max: 64 * 1024 * MIB, noNaN: true }),
    ),
    { minLength: 0, maxLength: 150 },
  ),
  ooms: fc.array(fc.tuple(fc.integer({ min: 0, max: 14 * 24 * 60 }), fc.double({ min: 0, max: 16 * 1024 * MIB, noNaN: true })), { maxLength: 3 }),
});

/** Feeds a trace in time order (as providers deliver it). */
export function modelOf(t: Trace): ContainerUsageModel {
  const m = new ContainerUsageModel();
  const events: [number, () => void][] = [
    ...t.samples.map(([min, c, mem]): [number, () => void] => [min, () => (m.addCpu(min * MIN_MS, c), m.addMemory(min * MIN_MS, mem))]),
    ...t.ooms.map(([min, u]): [number, () => void] => [min, () => m.recordOom(min * MIN_MS, u)]),
  ];
  events.sort((a, b) => a[0] - b[0]);
  for (const [, f] of events) f();
  return m;
}

export const rangeArb = (max: number): fc.Arbitrary<Range> =>
  fc
    .tuple(fc.option(fc.double({ min: 0, max, noNaN: true }), { nil: undefined }), fc.option(fc.double({ min: 0, max, noNaN: true }), { nil: undefined }))
    .map(([a, b]) => {
      const r: Range = {};
      if (a !== undefined && b !== undefined) {
        r.min = Math.min(a, b);
        r.max = Math.max(a, b);
      } else if (a !== undefined) r.min = a;
      else if (b !== undefined) r.max = b;
      return r;
    });

export const policyArb: fc.Arbitrary<RecommenderPolicy> = fc.record({
  percentile: fc.constantFrom(...PERCENTILES),
  safetyFactor: fc.double({ min: 1, max: 10, noNaN: true }),
  cpu: rangeArb(100_000),
  memory: rangeArb(128 * 1024 * MIB),
  rollingWindowMs: fc.integer({ min: 1, max: 720 }).map((h) => h * 3_600_000),
  minSamples: fc.constantFrom(1, DEFAULT_MIN_SAMPLES),
  sampleIntervalMs: fc.constantFrom(15_000, 60_000, 300_000),
});

export const basePolicy = (over: Partial<RecommenderPolicy> = {}): RecommenderPolicy => ({
  percentile: 'P90',
  safetyFactor: 1.2,
  cpu: {},
  memory: {},
  rollingWindowMs: 24 * 3_600_000,
  minSamples: DEFAULT_MIN_SAMPLES,
  sampleIntervalMs: MIN_MS,
  ...over,
});
