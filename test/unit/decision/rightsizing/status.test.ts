/**
 * Status building: bounded in size whatever the number of workloads (1,000 workloads with the
 * longest names never come near the object size limit), counts over everything, what needs
 * attention listed first, and a status the CRD schema accepts (document 003 Properties 10, 23, 24).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { SKIP_REASONS, STATUS_MAX_CONTAINERS, STATUS_MAX_WORKLOADS, WORKLOAD_KINDS, WORKLOAD_OUTCOMES } from '../../../../lib/crds/optipod/constants';
import { OptimizationPolicyStatusSchema } from '../../../../lib/crds/optipod/policy';
import { cpuMillis, memoryBytes } from '../../../../lib/crds/optipod/quantity';
import { DAY_MS } from '../../../../decision/rightsizing/histogram';
import { ContainerUsageModel } from '../../../../decision/rightsizing/model';
import { recommend, type ContainerRecommendation } from '../../../../decision/rightsizing/recommendation';
import { buildStatus, utf8Length, type WorkloadResult } from '../../../../decision/rightsizing/status';
import { MIB, MIN_MS, basePolicy } from './arbitraries';

const NOW = Date.UTC(2026, 0, 15, 10, 5);

function aRecommendation(): ContainerRecommendation {
  const m = new ContainerUsageModel();
  for (let t = 0; t < DAY_MS; t += 5 * MIN_MS) (m.addCpu(t, 250 + (t % 7)), m.addMemory(t, 300 * MIB));
  return recommend(m, basePolicy(), DAY_MS);
}
const REC = aRecommendation();

function longResult(i: number, containers: number): WorkloadResult {
  return {
    kind: WORKLOAD_KINDS[i % 3]!,
    namespace: `n${String(i).padStart(62, '0')}`.slice(0, 63),
    name: `w${String(i).padStart(252, 'x')}`.slice(0, 253),
    policy: `${'p'.repeat(63)}/${'q'.repeat(253)}`,
    outcome: i % 5 === 0 ? 'Skipped' : 'Recommended',
    ...(i % 5 === 0 ? { skipReason: 'RecreateNotAllowed' as const, message: 'é'.repeat(400) } : {}),
    method: 'None',
    lastRecommendationTime: NOW,
    containers: Array.from({ length: containers }, (_, c) => ({
      name: `c${String(c).padStart(62, '0')}`,
      requests: { cpu: '1500m', memory: '2Gi' },
      limits: { cpu: '3', memory: '4Gi' },
      recommendation: REC,
    })),
  };
}

describe('rightsizing: status building', () => {
  for (const n of [1_000, 5_000]) {
    it(`${n} workloads with the longest names and 20 containers each: capped, counted, far below the size limit, accepted by the schema`, () => {
      const results = Array.from({ length: n }, (_, i) => longResult(i, 20));
      const status = buildStatus({ results, now: NOW, ready: { status: 'True', reason: 'PolicyValid', message: 'ok' } });
      const bytes = utf8Length(JSON.stringify(status));
      expect(bytes).to.be.below(300 * 1024);
      expect(status.workloads!.length).to.be.at.most(STATUS_MAX_WORKLOADS);
      expect(status.workloads!.length + status.workloadsOmitted!).to.equal(n);
      expect(status.counts).to.deep.equal({ discovered: n, monitored: n, recommended: n, applied: 0, skipped: n / 5 });
      for (const w of status.workloads!) {
        expect(w.containers!.length).to.equal(STATUS_MAX_CONTAINERS);
        expect(w.containersOmitted).to.equal(20 - STATUS_MAX_CONTAINERS);
        if (w.message !== undefined) expect(w.message.length).to.be.at.most(256);
      }
      expect(OptimizationPolicyStatusSchema.safeParse(status).error?.issues ?? []).to.deep.equal([]);
      // skipped workloads (what needs attention) are listed before the merely recommended
      const outcomes = status.workloads!.map((w) => w.outcome);
      expect(outcomes[0]).to.equal('Skipped');
      expect(outcomes.lastIndexOf('Skipped')).to.be.below(outcomes.includes('Recommended') ? outcomes.indexOf('Recommended') : Infinity);
    });
  }

  const resultArb: fc.Arbitrary<WorkloadResult> = fc.record({
    kind: fc.constantFrom(...WORKLOAD_KINDS),
    namespace: fc.constantFrom('a', 'b', 'c'),
    name: fc.stringMatching(/^[a-z]{1,8}$/),
    policy: fc.constantFrom('ops/p1', 'a/p2'),
    outcome: fc.constantFrom(...WORKLOAD_OUTCOMES),
    skipReason: fc.constantFrom(...SKIP_REASONS),
    lastRecommendationTime: fc.integer({ min: 0, max: 4e12 }),
    containers: fc.array(fc.record({ name: fc.stringMatching(/^[a-z]{1,6}$/), recommendation: fc.constant(REC) }), { maxLength: 12 }),
  });

  // Feature: k8s-workload-rightsizing, Property 10: Recommendation format completeness
  it('Properties 10, 23, 24: every listed workload has its timestamps, skip reason and per-container cpu and memory targets; nothing is lost from the counts', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(resultArb, { maxLength: 150, selector: (r) => `${r.kind}/${r.namespace}/${r.name}` }),
        fc.integer({ min: 1, max: 40 }),
        (results, maxKiB) => {
          const status = buildStatus(
            { results, now: NOW, ready: { status: 'True', reason: 'PolicyValid', message: '' } },
            { maxWorkloads: 100, maxContainers: 8, maxBytes: maxKiB * 1024 },
          );
          expect(OptimizationPolicyStatusSchema.safeParse(status).success).to.equal(true);
          const unique = new Set(results.map((r) => `${r.kind}/${r.namespace}/${r.name}`));
          expect(status.workloads!.length + status.workloadsOmitted!).to.equal(unique.size);
          expect(utf8Length(JSON.stringify(status.workloads))).to.be.at.most(maxKiB * 1024);
          for (const w of status.workloads!) {
            const src = results.find((r) => r.kind === w.kind && r.namespace === w.namespace && r.name === w.name)!;
            expect(w.skipReason).to.equal(src.skipReason);
            expect(w.lastRecommendationTime).to.equal(new Date(src.lastRecommendationTime!).toISOString());
            for (const c of w.containers!) {
              expect(cpuMillis(c.target!.cpu!)).to.be.at.least(REC.ok ? REC.cpu.target - 1e-9 : 0);
              expect(memoryBytes(c.target!.memory!)).to.be.at.least(REC.ok ? REC.memory.target - 1e-9 : 0);
              expect(c.cpu!.percentile).to.equal('P90');
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('the Ready condition keeps its transition time while its status does not change', () => {
    const first = buildStatus({ results: [], now: NOW, ready: { status: 'True', reason: 'PolicyValid', message: '' } });
    const same = buildStatus({ results: [], now: NOW + 60_000, previous: first, ready: { status: 'True', reason: 'NoMatchingWorkloads', message: '' } });
    expect(same.conditions![0]!.lastTransitionTime).to.equal(first.conditions![0]!.lastTransitionTime);
    const changed = buildStatus({ results: [], now: NOW + 120_000, previous: same, ready: { status: 'False', reason: 'MetricsUnavailable', message: '' } });
    expect(changed.conditions![0]!.lastTransitionTime).to.equal(new Date(NOW + 120_000).toISOString());
  });

  it('rounds recommendations up to whole millicores and MiB (never below the computed target)', () => {
    const s = buildStatus({ results: [longResult(1, 1)], now: NOW, ready: { status: 'True', reason: 'PolicyValid', message: '' } });
    const c = s.workloads![0]!.containers![0]!;
    expect(c.target!.cpu).to.match(/^\d+m$/);
    expect(c.target!.memory).to.match(/^\d+Mi$/);
    expect(c.confidence).to.be.within(0, 1);
  });
});
