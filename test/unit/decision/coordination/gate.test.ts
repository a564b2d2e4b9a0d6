/**
 * Coordination's part of the rightsizing gate (decision/coordination/gate.ts): an open breaker,
 * then vpaUpdateDelay after a node action (coordinated only), then the hour's budgets; disabled
 * objects do not count.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { coordinationGate, type CoordinationFacts, type GateObject } from '../../../../decision/coordination/gate';

const MIN = 60_000;
const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);

const obj = (over: Partial<GateObject> = {}): GateObject => ({
  object: 'shop/web',
  strategy: 'coordinated',
  enabled: true,
  paused: false,
  vpaUpdateDelayMs: 5 * MIN,
  ...over,
});
const facts = (over: Partial<CoordinationFacts> = {}): CoordinationFacts => ({
  namespace: 'shop',
  objects: [obj()],
  clusterBudget: 60,
  namespaceBudget: 10,
  ...over,
});

describe('coordination gate', () => {
  it('nothing in the way: allowed, with the smaller of the two budgets', () => {
    expect(coordinationGate(facts(), NOW)).to.deep.equal({ allowed: true, budget: 10 });
    expect(coordinationGate(facts({ clusterBudget: 3 }), NOW)).to.deep.equal({ allowed: true, budget: 3 });
    expect(coordinationGate(facts({ objects: [] }), NOW)).to.deep.equal({ allowed: true, budget: 10 });
  });

  it('an open breaker: CircuitBreakerOpen with its reason, the seconds left and retryAt its cooldown end', () => {
    const v = coordinationGate(facts({ objects: [obj({ paused: true, pauseReason: 'NodeChurn', pausedUntil: NOW + 90_500 })] }), NOW);
    expect(v).to.deep.equal({
      allowed: false,
      reason: 'CircuitBreakerOpen',
      message: 'the circuit breaker of shop/web is open (NodeChurn); updates resume in 91 s',
      numbers: { secondsLeft: 91 },
      retryAt: NOW + 90_500,
    });
    // without a known end (an operator's trip read without it): no retryAt, no seconds
    const manual = coordinationGate(facts({ objects: [obj({ paused: true, pauseReason: 'Manual' })] }), NOW);
    expect(manual).to.deep.equal({ allowed: false, reason: 'CircuitBreakerOpen', message: 'the circuit breaker of shop/web is open (Manual)', numbers: {} });
  });

  it('any one open breaker among the namespace’s objects denies; an isolated object’s breaker counts too', () => {
    const v = coordinationGate(facts({ objects: [obj({ object: 'shop/a' }), obj({ object: 'shop/b', strategy: 'isolated', paused: true })] }), NOW);
    expect(v).to.deep.include({ allowed: false, reason: 'CircuitBreakerOpen' });
    expect(v.allowed === false && v.message).to.contain('shop/b');
  });

  it('coordinated: a node action less than vpaUpdateDelay ago → CoordinationDelay until it has passed', () => {
    const v = coordinationGate(facts({ lastNodeActionAt: NOW - 2 * MIN }), NOW);
    expect(v).to.deep.equal({
      allowed: false,
      reason: 'CoordinationDelay',
      message: 'a node changed 120 s ago; coordinated rightsizing waits vpaUpdateDelay 300 s',
      numbers: { secondsSinceNodeAction: 120, delaySeconds: 300 },
      retryAt: NOW + 3 * MIN,
    });
    // exactly vpaUpdateDelay after: allowed
    expect(coordinationGate(facts({ lastNodeActionAt: NOW - 5 * MIN }), NOW)).to.deep.equal({ allowed: true, budget: 10 });
    expect(coordinationGate(facts({ lastNodeActionAt: NOW - 5 * MIN + 1 }), NOW)).to.deep.include({ reason: 'CoordinationDelay', retryAt: NOW + 1 });
  });

  it('the longest vpaUpdateDelay of the coordinated objects applies', () => {
    const v = coordinationGate(
      facts({ objects: [obj({ object: 'shop/a' }), obj({ object: 'shop/b', vpaUpdateDelayMs: 15 * MIN })], lastNodeActionAt: NOW - 10 * MIN }),
      NOW,
    );
    expect(v).to.deep.include({ reason: 'CoordinationDelay', retryAt: NOW + 5 * MIN });
  });

  it('isolated has no delay (its workloads live on their own pools); nor does a namespace with no object', () => {
    expect(coordinationGate(facts({ objects: [obj({ strategy: 'isolated', vpaUpdateDelayMs: 10 * MIN })], lastNodeActionAt: NOW - MIN }), NOW)).to.deep.equal({
      allowed: true,
      budget: 10,
    });
    expect(coordinationGate(facts({ objects: [], lastNodeActionAt: NOW - MIN }), NOW)).to.deep.equal({ allowed: true, budget: 10 });
  });

  it('disabled objects do not count: neither their breaker nor their delay', () => {
    for (const off of [obj({ enabled: false }), obj({ strategy: 'disabled' })]) {
      const v = coordinationGate(facts({ objects: [{ ...off, paused: true, pausedUntil: NOW + MIN }], lastNodeActionAt: NOW - MIN }), NOW);
      expect(v).to.deep.equal({ allowed: true, budget: 10 });
    }
  });

  it('no update left in the hour (cluster-wide or the namespace’s) → RateLimited with both budgets', () => {
    expect(coordinationGate(facts({ namespaceBudget: 0 }), NOW)).to.deep.equal({
      allowed: false,
      reason: 'RateLimited',
      message: "the hour's update budget is spent (cluster 60 left, namespace shop 0 left)",
      numbers: { clusterBudget: 60, namespaceBudget: 0 },
    });
    expect(coordinationGate(facts({ clusterBudget: 0, namespaceBudget: 4 }), NOW)).to.deep.include({
      reason: 'RateLimited',
      numbers: { clusterBudget: 0, namespaceBudget: 4 },
    });
    // a budget over-spent (negative) reads as none left
    expect(coordinationGate(facts({ clusterBudget: -2 }), NOW)).to.deep.include({ reason: 'RateLimited', numbers: { clusterBudget: 0, namespaceBudget: 10 } });
  });

  it('precedence: an open breaker beats the delay, the delay beats the budget', () => {
    const all = facts({ objects: [obj({ paused: true, pausedUntil: NOW + MIN })], lastNodeActionAt: NOW - MIN, clusterBudget: 0, namespaceBudget: 0 });
    expect(coordinationGate(all, NOW)).to.deep.include({ reason: 'CircuitBreakerOpen' });
    expect(coordinationGate({ ...all, objects: [obj()] }, NOW)).to.deep.include({ reason: 'CoordinationDelay' });
    expect(coordinationGate({ ...all, objects: [obj()], lastNodeActionAt: NOW - 6 * MIN }, NOW)).to.deep.include({ reason: 'RateLimited' });
  });

  it('for any facts: allowed exactly when no active breaker is open, no coordinated delay is running and both budgets are left; retryAt is in the future', () => {
    const objArb: fc.Arbitrary<GateObject> = fc
      .record({
        object: fc.constantFrom('shop/a', 'shop/b', 'shop/c'),
        strategy: fc.constantFrom('isolated' as const, 'coordinated' as const, 'disabled' as const),
        enabled: fc.boolean(),
        paused: fc.boolean(),
        pausedIn: fc.option(fc.integer({ min: 1, max: 60 * MIN }), { nil: undefined }),
        vpaUpdateDelayMs: fc.constantFrom(0, MIN, 5 * MIN, 10 * MIN),
      })
      .map(({ pausedIn, ...o }) => ({ ...o, ...(pausedIn !== undefined ? { pausedUntil: NOW + pausedIn } : {}) }));
    fc.assert(
      fc.property(
        fc.array(objArb, { maxLength: 4 }),
        fc.option(fc.integer({ min: 0, max: 20 * MIN }), { nil: undefined }),
        fc.integer({ min: -1, max: 60 }),
        fc.integer({ min: -1, max: 10 }),
        (objects, ago, clusterBudget, namespaceBudget) => {
          const f: CoordinationFacts = {
            namespace: 'shop',
            objects,
            clusterBudget,
            namespaceBudget,
            ...(ago !== undefined ? { lastNodeActionAt: NOW - ago } : {}),
          };
          const v = coordinationGate(f, NOW);
          const active = objects.filter((o) => o.enabled && o.strategy !== 'disabled');
          const open = active.some((o) => o.paused);
          const delay = Math.max(0, ...active.filter((o) => o.strategy === 'coordinated').map((o) => o.vpaUpdateDelayMs));
          const waiting = ago !== undefined && ago < delay;
          const spent = Math.min(clusterBudget, namespaceBudget) <= 0;
          expect(v.allowed).to.equal(!open && !waiting && !spent);
          if (v.allowed) expect(v.budget).to.equal(Math.min(clusterBudget, namespaceBudget));
          else {
            expect(v.reason).to.equal(open ? 'CircuitBreakerOpen' : waiting ? 'CoordinationDelay' : 'RateLimited');
            if (v.retryAt !== undefined) expect(v.retryAt).to.be.greaterThan(NOW);
            if (v.reason === 'CoordinationDelay') expect(v.retryAt).to.equal(NOW - ago! + delay);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
