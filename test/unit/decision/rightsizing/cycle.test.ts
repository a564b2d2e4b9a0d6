/**
 * One rightsizing cycle as pure code: the same recommendation as the recommender over the same
 * samples; a re-run of a cycle (a retried activity) ingests nothing twice; models carried from
 * one cycle to the next equal a model fed everything at once (so losing the workflow loses
 * nothing); provider failures skip with their reason and never invent a model; an OOM kill raises
 * memory once; overridden workloads name the winner; Recommend and dry run say why nothing is applied.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { runCycle, skipsByReason, type CycleInput, type GovernedWorkload, type UsageSeries } from '../../../../decision/rightsizing/cycle';
import { ContainerUsageModel, oomBump, type SeriesPoint } from '../../../../decision/rightsizing/model';
import { recommend, type ContainerRecommendation } from '../../../../decision/rightsizing/recommendation';
import { MIB, MIN_MS, basePolicy } from './arbitraries';

const NOW = 130 * MIN_MS;
const web: GovernedWorkload = {
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
  containers: [{ name: 'app', requests: { cpu: '500m', memory: '512Mi' } }, { name: 'sidecar' }],
};
const KEY = 'Deployment/shop/web';

function series(container: string, fromMin: number, toMin: number, cpu: (m: number) => number, mem: (m: number) => number): UsageSeries {
  const c: SeriesPoint[] = [];
  const m: SeriesPoint[] = [];
  for (let i = fromMin; i < toMin; i++) {
    c.push([i * MIN_MS, cpu(i)]);
    m.push([i * MIN_MS, mem(i)]);
  }
  return { workload: { kind: 'Deployment', namespace: 'shop', name: 'web' }, container, cpu: c, memory: m };
}

function input(over: Partial<CycleInput> = {}): CycleInput {
  return {
    policy: 'shop/rightsize',
    mode: 'Recommend',
    dryRun: false,
    now: NOW,
    recommender: basePolicy(),
    governed: [web],
    overridden: [],
    usage: {
      shop: {
        ok: true,
        containers: [
          series(
            'app',
            0,
            120,
            (i) => 200 + (i % 10) * 10,
            () => 300 * MIB,
          ),
          series(
            'sidecar',
            0,
            120,
            () => 20,
            () => 40 * MIB,
          ),
        ],
      },
    },
    ooms: [],
    models: {},
    ...over,
  };
}

const ok = (r: ContainerRecommendation | undefined): Extract<ContainerRecommendation, { ok: true }> => {
  if (r === undefined || !r.ok) throw new Error(`expected a recommendation, got ${JSON.stringify(r)}`);
  return r;
};

describe('rightsizing: one cycle (pure)', () => {
  it('recommends per container exactly what the recommender gives for the same samples, and says Recommend mode applied nothing', () => {
    const out = runCycle(input());
    expect(out.results).to.have.length(1);
    const r = out.results[0]!;
    expect(r).to.include({ outcome: 'Recommended', skipReason: 'RecommendMode', policy: 'shop/rightsize', lastRecommendationTime: NOW });
    const direct = new ContainerUsageModel();
    for (const [t, v] of (input().usage.shop as { containers: readonly UsageSeries[] }).containers[0]!.cpu) direct.addCpu(t, v);
    direct.addMemory(0, 300 * MIB);
    const expected = ok(recommend(direct, basePolicy(), NOW));
    const app = ok(r.containers.find((c) => c.name === 'app')?.recommendation);
    expect(app.cpu.target).to.equal(expected.cpu.target);
    expect(app.memory.target).to.equal(expected.memory.target);
    expect(r.containers.find((c) => c.name === 'app')?.requests).to.deep.equal({ cpu: '500m', memory: '512Mi' });
    expect(out.recommendations).to.equal(2);
    expect(out.ingested).to.equal(240);
    expect(out.changed).to.deep.equal([KEY]);
  });

  it('a re-run of the same cycle with the models it stored ingests nothing and changes no model (a retried activity counts no sample twice)', () => {
    const first = runCycle(input());
    const again = runCycle(input({ models: first.models }));
    expect(again.ingested).to.equal(0);
    expect(again.changed).to.deep.equal([]);
    expect(again.models).to.deep.equal(first.models);
    expect(ok(again.results[0]!.containers[0]!.recommendation).cpu.target).to.equal(ok(first.results[0]!.containers[0]!.recommendation).cpu.target);
  });

  it('models carried over cycles equal one model fed all samples: for any split of a trace into cycles', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 40, maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 199 }), { maxLength: 5 }),
        (cpu, cuts) => {
          const points = cpu.map((v, i): SeriesPoint => [i * MIN_MS, v]);
          const mem = cpu.map((v, i): SeriesPoint => [i * MIN_MS, (100 + v) * MIB]);
          const bounds = [...new Set([0, ...cuts.filter((c) => c < points.length), points.length])].sort((a, b) => a - b);
          let models: CycleInput['models'] = {};
          let last: ReturnType<typeof runCycle> | undefined;
          for (let i = 0; i + 1 < bounds.length; i++) {
            const [a, b] = [bounds[i]!, bounds[i + 1]!];
            // each cycle's answer overlaps the previous one (a provider's window is wider than the interval)
            const from = Math.max(0, a - 5);
            const s: UsageSeries = {
              workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
              container: 'app',
              cpu: points.slice(from, b),
              memory: mem.slice(from, b),
            };
            last = runCycle(input({ governed: [{ ...web, containers: [{ name: 'app' }] }], usage: { shop: { ok: true, containers: [s] } }, models }));
            models = last.models;
          }
          const whole = runCycle(
            input({
              governed: [{ ...web, containers: [{ name: 'app' }] }],
              usage: {
                shop: {
                  ok: true,
                  containers: [{ workload: { kind: 'Deployment', namespace: 'shop', name: 'web' }, container: 'app', cpu: points, memory: mem }],
                },
              },
            }),
          );
          expect(last!.models[KEY]!.app!.n).to.equal(points.length);
          const a = last!.results[0]!.containers[0]!.recommendation!;
          const b = whole.results[0]!.containers[0]!.recommendation!;
          expect(a.ok).to.equal(b.ok);
          if (a.ok && b.ok) {
            expect(a.cpu.target).to.be.closeTo(b.cpu.target, b.cpu.target * 1e-9 + 1e-9);
            expect(a.memory.target).to.be.closeTo(b.memory.target, b.memory.target * 1e-9 + 1e-9);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('metrics unavailable and no stored history: Skipped MetricsUnavailable with the provider message, and no model invented', () => {
    const out = runCycle(input({ usage: { shop: { ok: false, reason: 'MetricsUnavailable', message: 'metrics.k8s.io: connect ECONNREFUSED' } } }));
    expect(out.results[0]).to.include({ outcome: 'Skipped', skipReason: 'MetricsUnavailable', message: 'metrics.k8s.io: connect ECONNREFUSED' });
    expect(out.models).to.deep.equal({});
    expect(out.changed).to.deep.equal([]);
    expect(skipsByReason(out.results)).to.deep.equal({ MetricsUnavailable: 1 });
  });

  it('metrics unavailable with stored history: Skipped MetricsUnavailable (nothing new learnt), the stored recommendation still shown', () => {
    const first = runCycle(input());
    const out = runCycle(input({ models: first.models, usage: { shop: { ok: false, reason: 'MetricsUnavailable', message: 'timeout' } } }));
    expect(out.results[0]).to.include({
      outcome: 'Skipped',
      skipReason: 'MetricsUnavailable',
      message: 'timeout; the recommendation shown is from stored history',
    });
    expect(ok(out.results[0]!.containers[0]!.recommendation).cpu.target).to.equal(ok(first.results[0]!.containers[0]!.recommendation).cpu.target);
    expect(out.ingested).to.equal(0);
    expect(out.changed).to.deep.equal([]);
  });

  it('too few samples: Skipped InsufficientData naming each container and its sample count', () => {
    const out = runCycle(
      input({
        usage: {
          shop: {
            ok: true,
            containers: [
              series(
                'app',
                0,
                3,
                () => 100,
                () => 100 * MIB,
              ),
            ],
          },
        },
      }),
    );
    expect(out.results[0]).to.include({ outcome: 'Skipped', skipReason: 'InsufficientData' });
    expect(out.results[0]!.message).to.equal('app: 3 of 10 samples; sidecar: no usage');
    expect(out.results[0]!.lastRecommendationTime).to.equal(undefined);
  });

  it('an OOM kill raises the memory target to the bump of the usage at the kill, once (the same kill again changes nothing)', () => {
    const before = runCycle(input());
    const kill = { workload: KEY, container: 'app', at: 119 * MIN_MS, usage: 512 * MIB };
    const withKill = runCycle(input({ ooms: [kill] }));
    const mem = ok(withKill.results[0]!.containers.find((c) => c.name === 'app')?.recommendation).memory;
    expect(mem.target).to.be.at.least(oomBump(512 * MIB));
    expect(mem.target).to.be.above(ok(before.results[0]!.containers[0]!.recommendation).memory.target);
    const again = runCycle(input({ ooms: [kill], models: withKill.models }));
    expect(again.changed).to.deep.equal([]);
    expect(again.models).to.deep.equal(withKill.models);
  });

  it('a workload another policy governs is Skipped OverriddenByPolicy under the winner, and does not count as discovered', () => {
    const out = runCycle(
      input({ overridden: [{ workload: { kind: 'StatefulSet', namespace: 'shop', name: 'db', labels: {} }, winner: 'kube-system/platform' }] }),
    );
    const db = out.results.find((r) => r.name === 'db');
    expect(db).to.include({
      outcome: 'Skipped',
      skipReason: 'OverriddenByPolicy',
      policy: 'kube-system/platform',
      message: 'governed by kube-system/platform',
    });
  });

  it('dry run in Auto mode: recommended, with DryRun as the reason nothing was applied', () => {
    const out = runCycle(input({ mode: 'Auto', dryRun: true }));
    expect(out.results[0]).to.include({ outcome: 'Recommended', skipReason: 'DryRun' });
  });

  it('a stored model that is corrupt is rebuilt from the new samples, never trusted', () => {
    const out = runCycle(input({ models: { [KEY]: { app: { v: 1, cpu: 'garbage' }, sidecar: null } } }));
    expect(out.results[0]).to.include({ outcome: 'Recommended' });
    expect(out.models[KEY]!.app!.n).to.equal(120);
  });
});
