/**
 * Recommender properties (issue 14 and document 003): bounds always hold (Property 4); the target
 * is monotone in percentile and safety factor and equals percentile × factor before the bounds
 * (Property 14); an OOM kill raises memory; confidence grows with history; no data, no
 * recommendation (Property 7's InsufficientData).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PERCENTILES, type Percentile } from '../../../../lib/crds/optipod/constants';
import { DAY_MS } from '../../../../decision/rightsizing/histogram';
import { ContainerUsageModel, modelFromHistory, oomBump } from '../../../../decision/rightsizing/model';
import { recommend, type ContainerRecommendation, type ResourceRecommendation } from '../../../../decision/rightsizing/recommendation';
import { MIB, MIN_MS, basePolicy, modelOf, policyArb, traceArb } from './arbitraries';

const NOW = 15 * DAY_MS;
const ok = (r: ContainerRecommendation): Extract<ContainerRecommendation, { ok: true }> => {
  if (!r.ok) throw new Error(`expected a recommendation, got ${r.reason}`);
  return r;
};
const rank = (p: Percentile): number => PERCENTILES.indexOf(p);

describe('rightsizing: recommender properties', () => {
  // Feature: k8s-workload-rightsizing, Property 4: Bounds enforcement
  it('Property 4: lower ≤ target ≤ upper, all within resourceBounds, for any usage, OOMs and policy', () => {
    fc.assert(
      fc.property(traceArb, policyArb, (trace, policy) => {
        const r = recommend(modelOf(trace), policy, NOW);
        if (!r.ok) return;
        for (const res of [r.cpu, r.memory]) {
          const range = policy[res.resource];
          expect(res.lowerBound).to.be.at.most(res.target);
          expect(res.target).to.be.at.most(res.upperBound);
          for (const v of [res.lowerBound, res.target, res.upperBound]) {
            expect(Number.isFinite(v)).to.equal(true);
            if (range.min !== undefined) expect(v).to.be.at.least(range.min);
            if (range.max !== undefined) expect(v).to.be.at.most(range.max);
          }
          const expectCap =
            range.max !== undefined && res.uncappedTarget > range.max ? 'Max' : range.min !== undefined && res.uncappedTarget < range.min ? 'Min' : 'None';
          expect(res.cappedBy).to.equal(expectCap);
        }
      }),
      { numRuns: 300 },
    );
  });

  // Feature: k8s-workload-rightsizing, Property 14: Strategy application
  it('Property 14: before the bounds, the target is the policy percentile × safety factor (or the OOM bump, when larger)', () => {
    fc.assert(
      fc.property(traceArb, policyArb, (trace, policy) => {
        const m = modelOf(trace);
        const r = recommend(m, policy, NOW);
        if (!r.ok) return;
        expect(r.cpu.reason).to.equal('Percentile');
        expect(r.cpu.uncappedTarget).to.be.closeTo(r.cpu.percentileValue * policy.safetyFactor, 1e-6 * r.cpu.uncappedTarget + 1e-9);
        const q = { P50: 0.5, P90: 0.9, P99: 0.99 }[policy.percentile];
        expect(r.cpu.percentileValue).to.equal(m.cpu.percentile(q));
        expect(r.memory.percentileValue).to.equal(m.memory.percentile(q));
        const byPercentile = r.memory.percentileValue * policy.safetyFactor;
        if (r.memory.reason === 'Percentile') expect(r.memory.uncappedTarget).to.be.closeTo(byPercentile, 1e-6 * byPercentile + 1e-9);
        else {
          expect(r.memory.oom).to.not.equal(undefined);
          expect(r.memory.uncappedTarget).to.equal(oomBump(r.memory.oom!.usage));
          expect(r.memory.uncappedTarget).to.be.greaterThan(byPercentile);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the target is monotone in the percentile and in the safety factor', () => {
    fc.assert(
      fc.property(traceArb, policyArb, fc.constantFrom(...PERCENTILES), fc.double({ min: 1, max: 10, noNaN: true }), (trace, policy, p2, f2) => {
        const m = modelOf(trace);
        const a = recommend(m, policy, NOW);
        if (!a.ok) return;
        const higherP = rank(p2) >= rank(policy.percentile) ? p2 : policy.percentile;
        const higherF = Math.max(f2, policy.safetyFactor);
        const b = ok(recommend(m, { ...policy, percentile: higherP }, NOW));
        const c = ok(recommend(m, { ...policy, safetyFactor: higherF }, NOW));
        for (const k of ['cpu', 'memory'] as const) {
          expect(b[k].target, `${k} percentile ${policy.percentile}→${higherP}`).to.be.at.least(a[k].target);
          expect(c[k].target, `${k} factor ${policy.safetyFactor}→${higherF}`).to.be.at.least(a[k].target);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an OOM kill raises the memory recommendation to at least the bump (+100 MiB or ×1.2), within the rolling window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 8192 }), fc.integer({ min: 1, max: 4 }), (mib, days) => {
        const m = new ContainerUsageModel();
        for (let t = 0; t < days * DAY_MS; t += 5 * MIN_MS) {
          m.addCpu(t, 200);
          m.addMemory(t, mib * MIB);
        }
        const now = days * DAY_MS;
        const policy = basePolicy();
        const before = ok(recommend(m, policy, now)).memory;
        m.recordOom(now - MIN_MS, mib * MIB);
        const after = ok(recommend(m, policy, now)).memory;
        const bump = Math.max(mib * MIB + 100 * MIB, mib * MIB * 1.2);
        expect(after.target).to.be.at.least(bump);
        expect(after.target).to.be.at.least(before.target);
        expect(after.reason === 'OOMBump' || after.target > bump).to.equal(true);
        // after the rolling window, the bump no longer holds the target up on its own
        const later = ok(recommend(m, policy, now + policy.rollingWindowMs + MIN_MS)).memory;
        expect(later.reason).to.equal('Percentile');
      }),
      { numRuns: 50 },
    );
  });

  it('memory is sized from per-interval peaks: a short peak of the day counts fully, CPU sees it as one sample', () => {
    const m = new ContainerUsageModel();
    for (let t = 0; t < DAY_MS - MIN_MS; t += MIN_MS) {
      m.addCpu(t, 100);
      m.addMemory(t, t === 600 * MIN_MS ? 1000 * MIB : 200 * MIB);
    }
    const r = ok(recommend(m, basePolicy({ percentile: 'P50' }), DAY_MS));
    expect(r.memory.percentileValue).to.be.within(1000 * MIB, 1050 * MIB);
    expect(r.cpu.percentileValue).to.be.within(100, 106);
  });

  it('confidence grows with history and the bounds narrow (a young workload gets wide bounds)', () => {
    const m = new ContainerUsageModel();
    const policy = basePolicy();
    let prev: ResourceRecommendation | undefined;
    for (let day = 1; day <= 8; day++) {
      for (let t = (day - 1) * DAY_MS; t < day * DAY_MS; t += MIN_MS) {
        m.addCpu(t, 300); // steady usage: every percentile is the same, so the bounds' width is the confidence alone
        m.addMemory(t, 500 * MIB);
      }
      const r = ok(recommend(m, policy, day * DAY_MS));
      if (prev !== undefined) {
        expect(r.cpu.confidence).to.be.greaterThan(prev.confidence);
        expect(r.cpu.upperBound / r.cpu.target).to.be.at.most(prev.upperBound / prev.target);
        expect(r.cpu.lowerBound / r.cpu.target).to.be.at.least(prev.lowerBound / prev.target - 1e-12);
      }
      expect(r.cpu.confidence).to.be.within(0, 1);
      prev = r.cpu;
    }
    const young = new ContainerUsageModel();
    for (let t = 0; t < 15 * MIN_MS; t += MIN_MS) (young.addCpu(t, 300), young.addMemory(t, 500 * MIB));
    const y = ok(recommend(young, policy, 15 * MIN_MS)).cpu;
    expect(y.upperBound / y.target).to.be.greaterThan(10);
    expect(y.lowerBound / y.target).to.be.below(0.9);
  });

  // Feature: k8s-workload-rightsizing, Property 7: Missing metrics prevent changes
  it('Property 7: without enough samples there is no recommendation, only InsufficientData', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), (n) => {
        const m = new ContainerUsageModel();
        for (let i = 0; i < n; i++) (m.addCpu(i * MIN_MS, 100), m.addMemory(i * MIN_MS, 100 * MIB));
        const r = recommend(m, basePolicy({ minSamples: 10 }), NOW);
        expect(r).to.deep.equal({ ok: false, reason: 'InsufficientData', sampleCount: n, minSamples: 10 });
      }),
    );
  });

  it('the model survives a restart: the recommendation from its JSON state is the same within one bucket', () => {
    fc.assert(
      fc.property(traceArb, policyArb, (trace, policy) => {
        const m = modelOf(trace);
        const restored = ContainerUsageModel.restore(JSON.parse(JSON.stringify(m.toState())));
        expect(restored).to.not.equal(undefined);
        const a = recommend(m, policy, NOW);
        const b = recommend(restored!, policy, NOW);
        expect(b.ok).to.equal(a.ok);
        if (!a.ok || !b.ok) return;
        for (const k of ['cpu', 'memory'] as const) {
          expect(b[k].reason).to.equal(a[k].reason);
          expect(b[k].confidence).to.equal(a[k].confidence);
          // one 5% bucket, plus the first bucket's width for values near zero
          const slack = a[k].target * 0.051 * policy.safetyFactor + (k === 'cpu' ? 1 : MIB) * policy.safetyFactor * 1.06;
          expect(Math.abs(b[k].target - a[k].target)).to.be.at.most(slack);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('lost or corrupt state is reported as such (the caller rebuilds from history), never half-used', () => {
    for (const bad of [undefined, null, {}, { v: 2 }, { v: 1, cpu: {}, mem: {} }, 'x']) expect(ContainerUsageModel.restore(bad)).to.equal(undefined);
  });
});

describe('rightsizing: a lost model is rebuilt from history', () => {
  it('the model rebuilt from the same history, delivered in any order, recommends what the live model recommends', () => {
    fc.assert(
      fc.property(traceArb, policyArb, fc.integer(), (trace, policy, salt) => {
        const live = modelOf(trace);
        const shuffle = <T>(xs: readonly T[]): T[] =>
          xs
            .map((x, i) => ({ x, k: Math.imul(i + 1, 2654435761) ^ salt }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
        const rebuilt = modelFromHistory({
          cpu: shuffle(trace.samples.map(([min, c]) => [min * MIN_MS, c] as const)),
          memory: shuffle(trace.samples.map(([min, , m]) => [min * MIN_MS, m] as const)),
          ooms: shuffle(trace.ooms.map(([min, u]) => [min * MIN_MS, u] as const)),
        });
        const a = recommend(live, policy, NOW);
        const b = recommend(rebuilt, policy, NOW);
        expect(b.ok).to.equal(a.ok);
        if (!a.ok || !b.ok) return;
        for (const k of ['cpu', 'memory'] as const) {
          expect(b[k].target).to.be.closeTo(a[k].target, a[k].target * 1e-9 + 1e-9);
          expect(b[k].reason).to.equal(a[k].reason);
        }
      }),
      { numRuns: 200 },
    );
  });
});
