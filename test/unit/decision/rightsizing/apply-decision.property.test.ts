/**
 * The apply decision (document 003 Properties 3, 5, 6, 8, 21, 22, 28, 29; issue 14 "Recommend and
 * dry-run never patch").
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { POLICY_MODES } from '../../../../lib/crds/optipod/constants';
import { DAY_MS } from '../../../../decision/rightsizing/histogram';
import { ContainerUsageModel } from '../../../../decision/rightsizing/model';
import { recommend, type ContainerRecommendation } from '../../../../decision/rightsizing/recommendation';
import { decideApply, type ApplyContext, type ContainerResources } from '../../../../decision/rightsizing/apply-decision';
import { MIB, MIN_MS, basePolicy } from './arbitraries';

function recFor(cpu: number, memMiB: number): ContainerRecommendation {
  const m = new ContainerUsageModel();
  for (let t = 0; t < DAY_MS; t += 5 * MIN_MS) (m.addCpu(t, cpu), m.addMemory(t, memMiB * MIB));
  return recommend(m, basePolicy(), DAY_MS);
}

const containerArb: fc.Arbitrary<ContainerResources> = fc
  .record({
    name: fc.constantFrom('app', 'sidecar', 'proxy'),
    usageCpu: fc.integer({ min: 10, max: 4000 }),
    usageMiB: fc.integer({ min: 32, max: 8192 }),
    cpuRequest: fc.option(fc.integer({ min: 10, max: 8000 }), { nil: undefined }),
    memoryRequestMiB: fc.option(fc.integer({ min: 32, max: 16384 }), { nil: undefined }),
    cpuLimit: fc.option(fc.integer({ min: 10, max: 16000 }), { nil: undefined }),
    memoryLimitMiB: fc.option(fc.integer({ min: 32, max: 32768 }), { nil: undefined }),
    insufficient: fc.boolean(),
  })
  .map((r) => {
    const c: ContainerResources = {
      name: r.name,
      recommendation:
        r.insufficient && r.usageCpu % 7 === 0 ? { ok: false, reason: 'InsufficientData', sampleCount: 3, minSamples: 10 } : recFor(r.usageCpu, r.usageMiB),
    };
    if (r.cpuRequest !== undefined) c.cpuRequest = r.cpuRequest;
    if (r.memoryRequestMiB !== undefined) c.memoryRequest = r.memoryRequestMiB * MIB;
    if (r.cpuLimit !== undefined) c.cpuLimit = r.cpuLimit;
    if (r.memoryLimitMiB !== undefined) c.memoryLimit = r.memoryLimitMiB * MIB;
    return c;
  });
const containersArb = fc.uniqueArray(containerArb, { selector: (c) => c.name, minLength: 1, maxLength: 3 });
const ctxArb: fc.Arbitrary<ApplyContext> = fc.record({
  mode: fc.oneof(fc.constant('Auto' as const), fc.constantFrom(...POLICY_MODES)),
  dryRun: fc.oneof(fc.constant(false), fc.boolean()),
  canUpdate: fc.oneof(fc.constant(true), fc.boolean()),
  inPlaceSupported: fc.boolean(),
  strategy: fc.oneof(
    fc.record({ allowInPlaceResize: fc.boolean(), allowRecreate: fc.boolean(), updateRequestsOnly: fc.constant(true) }),
    fc.record({
      allowInPlaceResize: fc.boolean(),
      allowRecreate: fc.boolean(),
      updateRequestsOnly: fc.constant(false),
      cpuLimitMultiplier: fc.double({ min: 1, max: 4, noNaN: true }),
      memoryLimitMultiplier: fc.double({ min: 1, max: 4, noNaN: true }),
    }),
  ),
});

describe('rightsizing: apply decision', () => {
  it('the generators reach every outcome (so the properties below are not vacuous)', () => {
    const seen = new Set<string>();
    for (const [containers, ctx] of fc.sample(fc.tuple(containersArb, ctxArb), { numRuns: 2000, seed: 7 })) {
      const d = decideApply(containers, ctx);
      seen.add(d.apply ? d.method : d.reason);
    }
    expect([...seen]).to.include.members([
      'InPlace',
      'Recreate',
      'RecommendMode',
      'PolicyDisabled',
      'DryRun',
      'Forbidden',
      'InsufficientData',
      'RecreateNotAllowed',
      'InPlaceResizeUnavailable',
    ]);
  });

  // Feature: k8s-workload-rightsizing, Property 8: Recommend mode prevents modifications
  // Feature: k8s-workload-rightsizing, Property 29: Global dry-run mode
  it('Properties 8, 19, 29: Recommend, Disabled and the global dry run never patch', () => {
    fc.assert(
      fc.property(containersArb, ctxArb, (containers, ctx) => {
        const d = decideApply(containers, ctx);
        if (ctx.mode !== 'Auto' || ctx.dryRun) {
          expect(d.apply).to.equal(false);
          if (!d.apply) expect(d.reason).to.equal(ctx.mode === 'Disabled' ? 'PolicyDisabled' : ctx.mode === 'Recommend' ? 'RecommendMode' : 'DryRun');
        }
      }),
    );
  });

  // Feature: k8s-workload-rightsizing, Property 28: RBAC respect
  it('Property 28: a workload RBAC forbids is skipped with Forbidden', () => {
    fc.assert(
      fc.property(containersArb, ctxArb, (containers, ctx) => {
        const d = decideApply(containers, { ...ctx, mode: 'Auto', dryRun: false, canUpdate: false });
        expect(d).to.deep.equal({ apply: false, method: 'None', reason: 'Forbidden' });
      }),
    );
  });

  // Feature: k8s-workload-rightsizing, Property 3: Updates preserve limits
  it('Property 3: with updateRequestsOnly the patches carry requests only; limits change only by the policy multipliers', () => {
    fc.assert(
      fc.property(containersArb, ctxArb, (containers, ctx) => {
        const d = decideApply(containers, ctx);
        if (!d.apply) return;
        for (const p of d.patches) {
          const c = containers.find((x) => x.name === p.name)!;
          if (!c.recommendation.ok) throw new Error('applied without a recommendation');
          expect(p.requests).to.deep.equal({ cpu: c.recommendation.cpu.target, memory: c.recommendation.memory.target });
          if (ctx.strategy.updateRequestsOnly) expect(p.limits).to.equal(undefined);
          else expect(p.limits!.memory).to.equal(c.recommendation.memory.target * ctx.strategy.memoryLimitMultiplier!);
        }
      }),
    );
  });

  // Feature: k8s-workload-rightsizing, Property 6: Fallback strategy respect; Property 21, 22
  it('Properties 6, 21, 22: in place when supported and allowed, recreate only when allowed, otherwise skipped', () => {
    fc.assert(
      fc.property(containersArb, ctxArb, (containers, ctx) => {
        const d = decideApply(containers, ctx);
        if (d.apply && d.method === 'Recreate') expect(ctx.strategy.allowRecreate).to.equal(true);
        if (d.apply && d.method === 'InPlace') expect(ctx.inPlaceSupported && ctx.strategy.allowInPlaceResize).to.equal(true);
        if (!d.apply && (d.reason === 'RecreateNotAllowed' || d.reason === 'InPlaceResizeUnavailable')) expect(ctx.strategy.allowRecreate).to.equal(false);
      }),
      { numRuns: 500 },
    );
  });

  // Feature: k8s-workload-rightsizing, Property 5: Memory decrease safety
  it('Property 5: an in-place change never lowers a memory limit', () => {
    fc.assert(
      fc.property(containersArb, ctxArb, (containers, ctx) => {
        const d = decideApply(containers, ctx);
        if (!d.apply || d.method !== 'InPlace') return;
        for (const p of d.patches) {
          const lim = containers.find((x) => x.name === p.name)!.memoryLimit;
          if (p.limits?.memory !== undefined && lim !== undefined) expect(p.limits.memory).to.be.at.least(lim);
        }
      }),
    );
  });

  it('a request is never patched above a limit it keeps, and a change too small is not worth a patch', () => {
    fc.assert(
      fc.property(containersArb, ctxArb, (containers, ctx) => {
        const d = decideApply(containers, ctx);
        if (!d.apply) return;
        for (const p of d.patches) {
          const c = containers.find((x) => x.name === p.name)!;
          const memLimit = p.limits?.memory ?? c.memoryLimit;
          if (memLimit !== undefined) expect(p.requests.memory).to.be.at.most(memLimit);
        }
      }),
    );
    const rec = recFor(500, 512);
    if (!rec.ok) throw new Error('no recommendation');
    const auto: ApplyContext = {
      mode: 'Auto',
      dryRun: false,
      canUpdate: true,
      inPlaceSupported: true,
      strategy: { allowInPlaceResize: true, allowRecreate: false, updateRequestsOnly: true },
    };
    expect(decideApply([{ name: 'app', cpuRequest: rec.cpu.target * 1.05, memoryRequest: rec.memory.target * 0.95, recommendation: rec }], auto)).to.deep.equal(
      { apply: false, method: 'None', reason: 'NoChangeNeeded' },
    );
    expect(decideApply([{ name: 'app', cpuRequest: rec.cpu.target * 2, memoryRequest: rec.memory.target, recommendation: rec }], auto)).to.include({
      apply: true,
      method: 'InPlace',
    });
  });
});
