/** Tenant tiers: which tier an object is in, and the settings it gets (object > tier > global). */
import { expect } from 'chai';
import fc from 'fast-check';
import { loadCoordinationConfig } from '../../../../lib/coordination-config';
import { TENANT_TIERS, type TenantTier } from '../../../../lib/crds/platform/constants';
import type { CoordinationConfig } from '../../../../lib/crds/platform/config-types';
import { settingsFor, tierOf, type SettingsSpec } from '../../../../decision/coordination/tiers';

const config = loadCoordinationConfig();

describe('tierOf', () => {
  it('the object label first, then the namespace label, then the namespace name', () => {
    expect(tierOf({ objectLabels: { 'tenant-tier': 'premium' }, namespaceLabels: { 'tenant-tier': 'dev' }, namespace: 'tenant-std-a' })).to.equal('premium');
    expect(tierOf({ objectLabels: {}, namespaceLabels: { 'tenant-tier': 'dev' }, namespace: 'tenant-std-a' })).to.equal('dev');
    expect(tierOf({ namespace: 'tenant-std-a' })).to.equal('standard');
    expect(tierOf({ namespace: 'tenant-dev-a' })).to.equal('dev');
    expect(tierOf({ namespace: 'tenant-premium-a' })).to.equal('premium');
    expect(tierOf({ namespace: 'team-a' })).to.equal(undefined);
  });

  it('accepts std for standard; ignores a label naming no tier; needs the whole prefix', () => {
    expect(tierOf({ objectLabels: { 'tenant-tier': 'std' }, namespace: 'x' })).to.equal('standard');
    expect(tierOf({ namespaceLabels: { 'tenant-tier': 'std' }, namespace: 'x' })).to.equal('standard');
    expect(tierOf({ objectLabels: { 'tenant-tier': 'gold' }, namespace: 'tenant-dev-a' })).to.equal('dev');
    expect(tierOf({ objectLabels: { 'tenant-tier': 'Premium' }, namespaceLabels: { 'tenant-tier': 'std' }, namespace: 'x' })).to.equal('standard');
    expect(tierOf({ namespace: 'tenant-dev' })).to.equal(undefined);
    expect(tierOf({ namespace: 'tenant-standard-a' })).to.equal(undefined);
    expect(tierOf({ namespace: 'my-tenant-dev-a' })).to.equal(undefined);
  });
});

describe('settingsFor', () => {
  it('outside any tier, without an object: the global configuration and the fallbacks', () => {
    expect(settingsFor(undefined, undefined, config)).to.deep.equal({
      tier: undefined,
      strategy: 'coordinated',
      enabled: true,
      breaker: { enabled: true, nodeChurnThreshold: 5, evictionThreshold: 20, oscillationThreshold: 30, cooldownMinutes: 30 },
      conflictPrevention: { maxResourceChangePercent: 50, cooldownPeriodMinutes: 30, maxConflictsPerHour: 3 },
      delays: { vpaUpdateDelayMs: 300_000, napActionDelayMs: 600_000 },
      rateLimits: { maxUpdatesPerHour: 60, maxUpdatesPerNamespacePerHour: 10 },
      tierLimits: undefined,
    });
  });

  it("premium: the tier's breaker cooldown, hourly limits, strategy and limits", () => {
    const s = settingsFor({ circuitBreaker: { nodeChurnThreshold: 2 } }, 'premium', config);
    expect(s.strategy).to.equal('isolated');
    expect(s.breaker).to.deep.equal({
      enabled: true,
      nodeChurnThreshold: 2,
      evictionThreshold: 20,
      oscillationThreshold: 30,
      cooldownMinutes: 60,
      nodeChurnPerHour: 2,
      evictionRatePerMinute: 2,
    });
    expect(s.conflictPrevention).to.deep.equal({ maxResourceChangePercent: 0, cooldownPeriodMinutes: 60, maxConflictsPerHour: 3 });
    expect(s.tierLimits).to.deep.equal({
      updateMode: 'Off',
      maxChangePercent: 0,
      cooldownMs: 3_600_000,
      maxCpuMilli: 32_000,
      maxMemoryBytes: 64 * 2 ** 30,
      nodePool: 'premium-dedicated',
    });
  });

  it("the document's example object in a standard namespace keeps its own values", () => {
    const spec: SettingsSpec = {
      coordinationStrategy: 'coordinated',
      enabled: true,
      conflictPrevention: { maxResourceChangePercent: 50, cooldownPeriodMinutes: 30, maxConflictsPerHour: 3 },
      circuitBreaker: { enabled: true, nodeChurnThreshold: 5, evictionThreshold: 20, oscillationThreshold: 30, cooldownMinutes: 30 },
    };
    const s = settingsFor(spec, 'standard', config);
    expect(s.strategy).to.equal('coordinated');
    expect(s.breaker).to.include({ nodeChurnThreshold: 5, evictionThreshold: 20, oscillationThreshold: 30, cooldownMinutes: 30, nodeChurnPerHour: 5 });
  });

  it('precedence holds for every field: the object, else the tier, else the global configuration', () => {
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const n = fc.integer({ min: 1, max: 1000 });
    const spec: fc.Arbitrary<SettingsSpec | undefined> = opt(
      fc.record(
        {
          coordinationStrategy: opt(fc.constantFrom('isolated', 'coordinated', 'disabled') as fc.Arbitrary<'isolated' | 'coordinated' | 'disabled'>),
          enabled: opt(fc.boolean()),
          conflictPrevention: opt(fc.record({ maxResourceChangePercent: opt(n), cooldownPeriodMinutes: opt(n), maxConflictsPerHour: opt(n) })),
          circuitBreaker: opt(
            fc.record({
              enabled: opt(fc.boolean()),
              nodeChurnThreshold: opt(n),
              evictionThreshold: opt(n),
              oscillationThreshold: opt(n),
              cooldownMinutes: opt(n),
            }),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    const tier: fc.Arbitrary<TenantTier | undefined> = opt(fc.constantFrom(...TENANT_TIERS));
    // A configuration whose every number is distinct from the spec's range, so a value's source shows.
    const cfg: fc.Arbitrary<CoordinationConfig> = fc.integer({ min: 2000, max: 3000 }).map((base) => {
      const c = structuredClone(config);
      c.coordinator.circuitBreaker = {
        nodeChurnThreshold: base + 1,
        evictionThreshold: base + 2,
        resourceOscillationPercent: base + 3,
        cooldownMinutes: base + 4,
      };
      for (const [i, t] of TENANT_TIERS.entries()) {
        const k = 10_000 * (i + 1) + base;
        c.tiers[t].vpa.maxResourceChangePercent = k + 1;
        c.tiers[t].vpa.cooldownMinutes = k + 2;
        c.tiers[t].circuitBreaker = { nodeChurnPerHour: k + 3, evictionRatePerMinute: k + 4, cooldownMinutes: k + 5 };
      }
      return c;
    });
    fc.assert(
      fc.property(spec, tier, cfg, (sp, t, c) => {
        const s = settingsFor(sp, t, c);
        const g = c.coordinator;
        const tt = t === undefined ? undefined : c.tiers[t];
        const cb = sp?.circuitBreaker;
        const cp = sp?.conflictPrevention;
        const pick = <T>(...xs: (T | undefined)[]): T => xs.find((x) => x !== undefined)!;
        expect(s.tier).to.equal(t);
        expect(s.strategy).to.equal(pick(sp?.coordinationStrategy, tt?.vpa.coordinationStrategy, 'coordinated'));
        expect(s.enabled).to.equal(pick(sp?.enabled, true));
        expect(s.breaker.enabled).to.equal(pick(cb?.enabled, true));
        expect(s.breaker.nodeChurnThreshold).to.equal(pick(cb?.nodeChurnThreshold, g.circuitBreaker.nodeChurnThreshold));
        expect(s.breaker.evictionThreshold).to.equal(pick(cb?.evictionThreshold, g.circuitBreaker.evictionThreshold));
        expect(s.breaker.oscillationThreshold).to.equal(pick(cb?.oscillationThreshold, g.circuitBreaker.resourceOscillationPercent));
        expect(s.breaker.cooldownMinutes).to.equal(pick(cb?.cooldownMinutes, tt?.circuitBreaker.cooldownMinutes, g.circuitBreaker.cooldownMinutes));
        expect(s.breaker.nodeChurnPerHour).to.equal(tt?.circuitBreaker.nodeChurnPerHour);
        expect(s.breaker.evictionRatePerMinute).to.equal(tt?.circuitBreaker.evictionRatePerMinute);
        expect(s.conflictPrevention.maxResourceChangePercent).to.equal(pick(cp?.maxResourceChangePercent, tt?.vpa.maxResourceChangePercent, 50));
        expect(s.conflictPrevention.cooldownPeriodMinutes).to.equal(pick(cp?.cooldownPeriodMinutes, tt?.vpa.cooldownMinutes, g.circuitBreaker.cooldownMinutes));
        expect(s.conflictPrevention.maxConflictsPerHour).to.equal(pick(cp?.maxConflictsPerHour, 3));
        expect(s.delays).to.deep.equal(g.delays);
        expect(s.rateLimits).to.deep.equal({
          maxUpdatesPerHour: g.rateLimiting.maxVPAUpdatesPerHour,
          maxUpdatesPerNamespacePerHour: g.rateLimiting.maxVPAUpdatesPerNamespace,
        });
        expect(s.tierLimits?.maxCpuMilli).to.equal(tt?.resources.maxCpuMilli);
        expect(s.tierLimits?.cooldownMs).to.equal(tt === undefined ? undefined : tt.vpa.cooldownMinutes * 60_000);
      }),
      { numRuns: 500 },
    );
  });
});
