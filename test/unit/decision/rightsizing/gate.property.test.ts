/**
 * The rightsizing gate (decision/rightsizing/gate.ts): document 003 Properties 3, 5, 6, 8, 19, 21,
 * 22, 28, 29 and issue #15's rules (threshold, bounds, max change per step, memory floor, request ≤
 * limit, cooldown, recreate only where allowed).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { POLICY_MODES } from '../../../../lib/crds/optipod/constants';
import { UpdateStrategySchema, type UpdateStrategy } from '../../../../lib/crds/optipod/policy';
import { DAY_MS } from '../../../../decision/rightsizing/histogram';
import { ContainerUsageModel } from '../../../../decision/rightsizing/model';
import { recommend, type ContainerRecommendation } from '../../../../decision/rightsizing/recommendation';
import { MAX_DECREASE_FRACTION, gate, qosClass, type GateContainer, type GateInput } from '../../../../decision/rightsizing/gate';
import { MIB, MIN_MS, basePolicy } from './arbitraries';

function recFor(cpu: number, memMiB: number): ContainerRecommendation {
  const m = new ContainerUsageModel();
  for (let t = 0; t < DAY_MS; t += 5 * MIN_MS) (m.addCpu(t, cpu), m.addMemory(t, memMiB * MIB));
  return recommend(m, basePolicy(), DAY_MS);
}
const recCache = new Map<string, ContainerRecommendation>();
const cachedRec = (cpu: number, mem: number): ContainerRecommendation => {
  const k = `${cpu}/${mem}`;
  let r = recCache.get(k);
  if (r === undefined) recCache.set(k, (r = recFor(cpu, mem)));
  return r;
};

const containerArb: fc.Arbitrary<GateContainer> = fc
  .record({
    name: fc.constantFrom('app', 'sidecar', 'proxy'),
    sidecar: fc.boolean(),
    usageCpu: fc.constantFrom(10, 50, 100, 250, 500, 1000, 4000),
    usageMiB: fc.constantFrom(32, 64, 256, 512, 2048, 8192),
    cpuRequest: fc.option(fc.integer({ min: 10, max: 8000 }), { nil: undefined }),
    memoryRequestMiB: fc.option(fc.integer({ min: 32, max: 16384 }), { nil: undefined }),
    cpuLimit: fc.option(fc.integer({ min: 10, max: 16000 }), { nil: undefined }),
    memoryLimitMiB: fc.option(fc.integer({ min: 32, max: 32768 }), { nil: undefined }),
    peakMiB: fc.option(fc.integer({ min: 16, max: 16384 }), { nil: undefined }),
    oomMiB: fc.option(fc.integer({ min: 16, max: 16384 }), { nil: undefined }),
    insufficient: fc.integer({ min: 0, max: 20 }),
  })
  .map((r) => {
    const c: GateContainer = {
      name: r.name,
      recommendation: r.insufficient === 0 ? { ok: false, reason: 'InsufficientData', sampleCount: 3, minSamples: 10 } : cachedRec(r.usageCpu, r.usageMiB),
    };
    if (r.sidecar) c.sidecar = true;
    if (r.cpuRequest !== undefined) c.cpuRequest = r.cpuRequest;
    if (r.memoryRequestMiB !== undefined) c.memoryRequest = r.memoryRequestMiB * MIB;
    // as the apiserver keeps them: a request at most its limit
    if (r.cpuLimit !== undefined) c.cpuLimit = Math.max(r.cpuLimit, r.cpuRequest ?? 0);
    if (r.memoryLimitMiB !== undefined) c.memoryLimit = Math.max(r.memoryLimitMiB, r.memoryRequestMiB ?? 0) * MIB;
    if (r.peakMiB !== undefined) c.memoryPeak = r.peakMiB * MIB;
    if (r.oomMiB !== undefined) c.oomUsage = r.oomMiB * MIB;
    return c;
  });
const containersArb = fc.uniqueArray(containerArb, { selector: (c) => c.name, minLength: 1, maxLength: 3 });

const strategyArb: fc.Arbitrary<UpdateStrategy> = fc
  .record({
    allowInPlaceResize: fc.boolean(),
    allowRecreate: fc.boolean(),
    limits: fc.boolean(),
    cpuLimitMultiplier: fc.double({ min: 1, max: 4, noNaN: true }),
    memoryLimitMultiplier: fc.double({ min: 1, max: 4, noNaN: true }),
    changeThresholdPercent: fc.integer({ min: 0, max: 100 }),
    maxChangePercent: fc.integer({ min: 1, max: 1000 }),
    cooldown: fc.constantFrom('0s', '1m', '1h'),
    memoryMarginPercent: fc.integer({ min: 0, max: 100 }),
    minReplicasForRecreate: fc.integer({ min: 1, max: 5 }),
    allowSingleReplicaRecreate: fc.boolean(),
  })
  .map(({ limits, cpuLimitMultiplier, memoryLimitMultiplier, ...r }) =>
    UpdateStrategySchema.parse(limits ? { ...r, updateRequestsOnly: false, cpuLimitMultiplier, memoryLimitMultiplier } : { ...r, updateRequestsOnly: true }),
  );

const NOW = 10 * DAY_MS;
const inputArb: fc.Arbitrary<GateInput> = fc
  .record({
    mode: fc.oneof(fc.constant('Auto' as const), fc.constant('Auto' as const), fc.constantFrom(...POLICY_MODES)),
    dryRun: fc.oneof(fc.constant(false), fc.constant(false), fc.boolean()),
    canUpdate: fc.oneof(fc.constant(true), fc.constant(true), fc.boolean()),
    inPlaceSupported: fc.oneof(fc.constant(true), fc.boolean()),
    strategy: strategyArb,
    lastAppliedAgoMs: fc.option(fc.integer({ min: 0, max: 2 * 3_600_000 }), { nil: undefined }),
    replicas: fc.integer({ min: 0, max: 4 }),
    containers: containersArb,
  })
  .map(({ lastAppliedAgoMs, ...r }) => ({ ...r, now: NOW, ...(lastAppliedAgoMs !== undefined ? { lastAppliedTime: NOW - lastAppliedAgoMs } : {}) }));

const cfg = { numRuns: 1500, seed: 15 };

describe('rightsizing: the gate', () => {
  it('the generators reach every verdict (so the properties below are not vacuous)', () => {
    const seen = new Set<string>();
    const clamps = new Set<string>();
    for (const i of fc.sample(inputArb, { numRuns: 6000, seed: 7 })) {
      const v = gate(i);
      seen.add(v.allowed ? v.method : v.reason);
      if (v.allowed) for (const c of v.containers) for (const ch of Object.values(c.changes)) if (ch.clampedBy) clamps.add(ch.clampedBy);
    }
    expect([...seen]).to.include.members([
      'InPlace',
      'Recreate',
      'Admission',
      'RecommendMode',
      'PolicyDisabled',
      'DryRun',
      'Forbidden',
      'InsufficientData',
      'RecreateNotAllowed',
      'InPlaceResizeUnavailable',
      'NoChangeNeeded',
      'Cooldown',
      'TooFewReplicas',
      'MemoryDecreaseUnsafe',
      'QoSClassChange',
    ]);
    expect([...clamps]).to.include.members(['MaxChange', 'MemoryFloor', 'Limit']);
  });

  // Feature: k8s-workload-rightsizing, Property 8: Recommend mode prevents modifications
  // Feature: k8s-workload-rightsizing, Property 19: Disabled mode stops processing
  // Feature: k8s-workload-rightsizing, Property 29: Global dry-run mode
  it('Properties 8, 19, 29: Recommend, Disabled and the global dry run never apply', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        if (i.mode !== 'Auto' || i.dryRun) {
          expect(v.allowed).to.equal(false);
          if (!v.allowed) expect(v.reason).to.equal(i.mode === 'Disabled' ? 'PolicyDisabled' : i.mode === 'Recommend' ? 'RecommendMode' : 'DryRun');
        }
      }),
      cfg,
    );
  });

  // Feature: k8s-workload-rightsizing, Property 28: RBAC respect
  it('Property 28: a workload RBAC forbids is skipped with Forbidden', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate({ ...i, mode: 'Auto', dryRun: false, canUpdate: false });
        expect(v.allowed).to.equal(false);
        if (!v.allowed) expect(v.reason).to.equal('Forbidden');
      }),
      cfg,
    );
  });

  // Feature: k8s-workload-rightsizing, Property 3: Updates preserve limits
  it('Property 3: requests only keeps every limit; with multipliers a limit is its request times the multiplier', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        if (!v.allowed) return;
        for (const p of v.containers) {
          if (i.strategy.updateRequestsOnly) {
            expect(p.limits).to.equal(undefined);
            expect(p.changes.cpuLimit).to.equal(undefined);
            expect(p.changes.memoryLimit).to.equal(undefined);
          } else {
            if (p.requests.memory !== undefined) expect(p.limits!.memory).to.equal(Math.round(p.requests.memory * i.strategy.memoryLimitMultiplier!));
          }
        }
      }),
      cfg,
    );
  });

  it('a request never exceeds its limit (the kept one or the new one)', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        if (!v.allowed) return;
        for (const p of v.containers) {
          const c = i.containers.find((x) => x.name === p.name)!;
          const cpuLimit = p.limits?.cpu ?? c.cpuLimit;
          const memLimit = p.limits?.memory ?? c.memoryLimit;
          if (cpuLimit !== undefined && p.requests.cpu !== undefined) expect(p.requests.cpu).to.be.at.most(cpuLimit);
          if (memLimit !== undefined && p.requests.memory !== undefined) expect(p.requests.memory).to.be.at.most(memLimit);
        }
      }),
      cfg,
    );
  });

  // Feature: k8s-workload-rightsizing, Property 4: Bounds enforcement (of the step)
  it('a changed request was outside the bounds or beyond the threshold, and moved at most maxChangePercent (a decrease at most 90 %)', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        if (!v.allowed) return;
        for (const p of v.containers)
          for (const res of ['cpu', 'memory'] as const) {
            const ch = p.changes[res];
            if (ch === undefined || ch.from === undefined) continue;
            const c = i.containers.find((x) => x.name === p.name)!;
            const r = c.recommendation.ok ? c.recommendation[res] : undefined;
            if (r === undefined) throw new Error('applied without a recommendation');
            const outside = ch.from < r.lowerBound || ch.from > r.upperBound;
            const far = Math.abs(r.target - ch.from) / ch.from > i.strategy.changeThresholdPercent / 100;
            expect(outside || far, `${p.name} ${res} ${ch.from}→${ch.to}`).to.equal(true);
            // +1: rounding to whole millicores and bytes
            expect(ch.to).to.be.at.most(ch.from * (1 + i.strategy.maxChangePercent / 100) + 1);
            expect(ch.to).to.be.at.least(ch.from * (1 - Math.min(i.strategy.maxChangePercent / 100, MAX_DECREASE_FRACTION)) - 1);
          }
      }),
      cfg,
    );
  });

  // Feature: k8s-workload-rightsizing, Property 5: Memory decrease safety
  it('Property 5: a memory decrease never goes below the peak plus the margin, nor below the last OOM usage; in place never lowers a memory limit', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        if (!v.allowed) return;
        for (const p of v.containers) {
          const c = i.containers.find((x) => x.name === p.name)!;
          const ch = p.changes.memory;
          if (ch !== undefined && ch.from !== undefined && ch.to < ch.from && ch.clampedBy !== 'Limit') {
            if (c.memoryPeak !== undefined) expect(ch.to).to.be.at.least(Math.floor(c.memoryPeak * (1 + i.strategy.memoryMarginPercent / 100)));
            if (c.oomUsage !== undefined) expect(ch.to).to.be.at.least(Math.floor(c.oomUsage));
          }
          if (v.method === 'InPlace' && p.limits?.memory !== undefined && c.memoryLimit !== undefined) expect(p.limits.memory).to.be.at.least(c.memoryLimit);
        }
      }),
      cfg,
    );
  });

  // Feature: k8s-workload-rightsizing, Property 6: Fallback strategy respect; Properties 21, 22
  it('Properties 6, 21, 22: in place when supported and allowed; recreate only when allowed and with enough replicas (or single-replica allowed)', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        const s = i.strategy;
        const recreateOk = s.allowRecreate && (i.replicas >= s.minReplicasForRecreate || s.allowSingleReplicaRecreate);
        if (v.allowed && v.method === 'Recreate') expect(recreateOk).to.equal(true);
        if (v.allowed && v.method === 'InPlace') {
          expect(i.inPlaceSupported && s.allowInPlaceResize).to.equal(true);
          expect(v.onInPlaceFailure).to.deep.equal(recreateOk ? { method: 'Recreate' } : { reason: s.allowRecreate ? 'TooFewReplicas' : 'RecreateNotAllowed' });
          // the QoS class stays (the apiserver refuses a resize that changes it)
          const before = i.containers;
          const after = v.containers.map((p) => {
            const c = i.containers.find((x) => x.name === p.name)!;
            return {
              cpuRequest: p.requests.cpu,
              memoryRequest: p.requests.memory,
              cpuLimit: p.limits?.cpu ?? c.cpuLimit,
              memoryLimit: p.limits?.memory ?? c.memoryLimit,
            };
          });
          expect(qosClass(after)).to.equal(qosClass(before));
        }
        if (v.allowed && v.method === 'Admission') expect(i.replicas).to.equal(0);
        if (!v.allowed && ['RecreateNotAllowed', 'InPlaceResizeUnavailable', 'QoSClassChange'].includes(v.reason)) expect(s.allowRecreate).to.equal(false);
        if (!v.allowed && v.reason === 'TooFewReplicas') expect(i.replicas < s.minReplicasForRecreate && !s.allowSingleReplicaRecreate).to.equal(true);
      }),
      cfg,
    );
  });

  it('at most one application per cooldown', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const v = gate(i);
        const cooldownMs = { '0s': 0, '1m': 60_000, '1h': 3_600_000 }[i.strategy.cooldown as '0s' | '1m' | '1h'];
        if (v.allowed && i.lastAppliedTime !== undefined) expect(i.now - i.lastAppliedTime).to.be.at.least(cooldownMs);
        // the same input without the last application is not in cooldown
        if (!v.allowed && v.reason === 'Cooldown') {
          const { lastAppliedTime: _, ...rest } = i;
          const again = gate(rest);
          expect(again.allowed || again.reason !== 'Cooldown').to.equal(true);
        }
      }),
      cfg,
    );
  });

  it('examples: threshold, step, floor, QoS', () => {
    const rec = recFor(500, 512);
    if (!rec.ok) throw new Error('no recommendation');
    const auto = (containers: GateContainer[], strategy: Partial<UpdateStrategy> = {}, more: Partial<GateInput> = {}): ReturnType<typeof gate> =>
      gate({
        mode: 'Auto',
        dryRun: false,
        canUpdate: true,
        inPlaceSupported: true,
        strategy: UpdateStrategySchema.parse({ cooldown: '0s', ...strategy }),
        now: NOW,
        replicas: 2,
        containers,
        ...more,
      });
    // within 10 % and the bounds: nothing to do
    const near = auto([{ name: 'app', cpuRequest: rec.cpu.target * 1.05, memoryRequest: rec.memory.target * 1.05, recommendation: rec }]);
    expect(near).to.include({ allowed: false, reason: 'NoChangeNeeded' });
    // four times the target: one step halves it (maxChangePercent 50)
    const big = auto([{ name: 'app', cpuRequest: rec.cpu.target * 4, memoryRequest: rec.memory.target, recommendation: rec }]);
    expect(big.allowed).to.equal(true);
    if (big.allowed) {
      expect(big.method).to.equal('InPlace');
      expect(big.containers[0]!.changes.cpu).to.deep.equal({ from: rec.cpu.target * 4, to: Math.round(rec.cpu.target * 2), clampedBy: 'MaxChange' });
      expect(big.containers[0]!.changes.memory).to.equal(undefined);
    }
    // memory 4× the target but the peak is just under the current request: refused with the numbers
    const cur = rec.memory.target * 2;
    const floor = auto([{ name: 'app', cpuRequest: rec.cpu.target, memoryRequest: cur, memoryPeak: cur * 0.95, recommendation: rec }]);
    expect(floor).to.include({ allowed: false, reason: 'MemoryDecreaseUnsafe' });
    // Guaranteed pod, requests only: in place would make it Burstable → recreate, or skipped
    const g = { name: 'app', cpuRequest: 4000, memoryRequest: 4 * 1024 * MIB, cpuLimit: 4000, memoryLimit: 4 * 1024 * MIB, recommendation: rec };
    expect(auto([g])).to.include({ allowed: false, reason: 'QoSClassChange' });
    expect(auto([g], { allowRecreate: true })).to.include({ allowed: true, method: 'Recreate' });
    expect(auto([g], { allowRecreate: true }, { replicas: 1 })).to.include({ allowed: false, reason: 'TooFewReplicas' });
    expect(auto([g], { allowRecreate: true, allowSingleReplicaRecreate: true }, { replicas: 1 })).to.include({ allowed: true, method: 'Recreate' });
  });
});
