/**
 * The coordination hub's bookkeeping (workflows/coordination/hub-state.ts): the update budgets
 * over a sliding hour (60 cluster-wide, 10 per namespace by default), reservations idempotent by
 * key, node events forwarded to interested objects (with the last 10 minutes for a newly
 * interested one), the scale-down hold after a coordinated update, the admission facts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { NapObservation, ObjectReport } from '../../../../workflows/coordination/contracts';
import {
  MAX_HUB_CONFLICTS,
  MAX_HUB_NAP,
  admissionFacts,
  budgets,
  hubView,
  initialHub,
  interestedObjects,
  nodeChurn,
  onConflicts,
  onNapEvents,
  onReport,
  reserve,
  scaleDownHold,
  type HubSettings,
  type HubState,
} from '../../../../workflows/coordination/hub-state';

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);
/** The hub workflow's defaults (document 000's rateLimiting). */
const SETTINGS: HubSettings = { maxUpdatesPerHour: 60, maxUpdatesPerNamespace: 10 };

const report = (object: string, over: Partial<ObjectReport> = {}): ObjectReport => {
  const [namespace, vpaName] = object.split('/') as [string, string];
  return {
    object,
    namespace,
    vpaName,
    strategy: 'coordinated',
    enabled: true,
    phase: 'Active',
    paused: false,
    vpaUpdateDelayMs: 5 * MIN,
    napActionDelayMs: 10 * MIN,
    ...over,
  };
};
const nap = (at: number, node = `n-${at}`, kind: NapObservation['kind'] = 'NodeScaleUp'): NapObservation => ({ at, kind, node });
const withObjects = (...rs: ObjectReport[]): HubState => rs.reduce((s, r) => onReport(s, r, NOW).state, initialHub());

describe('coordination hub: update budgets', () => {
  it('at most 10 updates per namespace and 60 cluster-wide in an hour', () => {
    let s = initialHub();
    const first = reserve(s, SETTINGS, { namespace: 'shop', count: 10, key: 'k1' }, NOW);
    expect(first.reservation).to.deep.equal({ granted: 10, clusterBudget: 50, namespaceBudget: 0 });
    s = first.state;
    expect(reserve(s, SETTINGS, { namespace: 'shop', count: 1, key: 'k2' }, NOW + MIN).reservation.granted).to.equal(0);
    expect(budgets(s, SETTINGS, 'shop', NOW)).to.deep.equal({ clusterBudget: 50, namespaceBudget: 0 });
    expect(budgets(s, SETTINGS, 'other', NOW)).to.deep.equal({ clusterBudget: 50, namespaceBudget: 10 });
    // five more namespaces spend the cluster's 60
    for (let i = 0; i < 5; i++) s = reserve(s, SETTINGS, { namespace: `ns${i}`, count: 10, key: `n${i}` }, NOW + i).state;
    const last = reserve(s, SETTINGS, { namespace: 'fresh', count: 3, key: 'f' }, NOW + 10);
    expect(last.reservation).to.deep.equal({ granted: 0, clusterBudget: 0, namespaceBudget: 10 });
    expect(hubView(last.state, SETTINGS, NOW + 10).updatesLastHour).to.equal(60);
  });

  it('granted = min(count, cluster budget, namespace budget), and what is left is said', () => {
    let s = reserve(initialHub(), SETTINGS, { namespace: 'shop', count: 7, key: 'a' }, NOW).state;
    const r = reserve(s, SETTINGS, { namespace: 'shop', count: 5, key: 'b' }, NOW);
    expect(r.reservation).to.deep.equal({ granted: 3, clusterBudget: 50, namespaceBudget: 0 });
    s = initialHub();
    for (let i = 0; i < 5; i++) s = reserve(s, SETTINGS, { namespace: `ns${i}`, count: 10, key: `n${i}` }, NOW).state;
    s = reserve(s, SETTINGS, { namespace: 'x', count: 8, key: 'x' }, NOW).state;
    // cluster 2 left, namespace y 10 left
    expect(reserve(s, SETTINGS, { namespace: 'y', count: 4, key: 'y' }, NOW).reservation).to.deep.equal({ granted: 2, clusterBudget: 0, namespaceBudget: 8 });
  });

  it('the hour slides: an update frees its place exactly an hour after it was granted', () => {
    let s = reserve(initialHub(), SETTINGS, { namespace: 'shop', count: 6, key: 'a' }, NOW).state;
    s = reserve(s, SETTINGS, { namespace: 'shop', count: 4, key: 'b' }, NOW + 30 * MIN).state;
    expect(budgets(s, SETTINGS, 'shop', NOW + HOUR - 1).namespaceBudget).to.equal(0);
    expect(budgets(s, SETTINGS, 'shop', NOW + HOUR)).to.deep.equal({ clusterBudget: 56, namespaceBudget: 6 });
    expect(budgets(s, SETTINGS, 'shop', NOW + 90 * MIN)).to.deep.equal({ clusterBudget: 60, namespaceBudget: 10 });
    const later = reserve(s, SETTINGS, { namespace: 'shop', count: 10, key: 'c' }, NOW + HOUR);
    expect(later.reservation.granted).to.equal(6);
    // the expired grant is forgotten (bounded)
    expect(later.state.updates.map(([at]) => at)).to.deep.equal([NOW + 30 * MIN, NOW + HOUR]);
  });

  it('a reservation is idempotent by key: the same key answers the same again and spends nothing more', () => {
    const first = reserve(initialHub(), SETTINGS, { namespace: 'shop', count: 4, key: 'cycle-1' }, NOW);
    const again = reserve(first.state, SETTINGS, { namespace: 'shop', count: 4, key: 'cycle-1' }, NOW + MIN);
    expect(again.reservation).to.deep.equal(first.reservation);
    expect(again.state).to.deep.equal(first.state);
    expect(budgets(again.state, SETTINGS, 'shop', NOW + MIN).namespaceBudget).to.equal(6);
    // even when the budget has changed since, and with another count
    const spent = reserve(first.state, SETTINGS, { namespace: 'shop', count: 6, key: 'cycle-2' }, NOW + MIN).state;
    expect(reserve(spent, SETTINGS, { namespace: 'shop', count: 9, key: 'cycle-1' }, NOW + 2 * MIN).reservation).to.deep.equal(first.reservation);
    // a new key is a new reservation
    expect(reserve(spent, SETTINGS, { namespace: 'shop', count: 1, key: 'cycle-3' }, NOW + 2 * MIN).reservation.granted).to.equal(0);
  });

  it('for any sequence of reservations: no hour ever holds more than the budgets, and retries change nothing', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 20 * MIN }),
            ns: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'),
            count: fc.integer({ min: 1, max: 12 }),
            retry: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        (reqs) => {
          let s = initialHub();
          let now = NOW;
          const grants: [number, string, number][] = [];
          reqs.forEach((r, i) => {
            now += r.dt;
            const out = reserve(s, SETTINGS, { namespace: r.ns, count: r.count, key: `k${i}` }, now);
            expect(out.reservation.granted).to.be.within(0, r.count);
            if (out.reservation.granted > 0) grants.push([now, r.ns, out.reservation.granted]);
            s = out.state;
            if (r.retry) {
              const again = reserve(s, SETTINGS, { namespace: r.ns, count: r.count, key: `k${i}` }, now + 1);
              expect(again.reservation).to.deep.equal(out.reservation);
              expect(again.state).to.equal(s);
            }
            // every hour ending now
            const inHour = grants.filter(([at]) => at > now - HOUR);
            expect(inHour.reduce((n, [, , c]) => n + c, 0)).to.be.at.most(60);
            for (const ns of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) expect(inHour.filter(([, n]) => n === ns).reduce((n, [, , c]) => n + c, 0)).to.be.at.most(10);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('coordination hub: node events and interest', () => {
  it('keeps the last hour of node events, the last node action, and counts them in 5 min and 1 h', () => {
    let s = onNapEvents(initialHub(), [nap(NOW - 70 * MIN), nap(NOW - 30 * MIN), nap(NOW - 2 * MIN)], NOW);
    expect(s.nap.map((e) => e.at)).to.deep.equal([NOW - 30 * MIN, NOW - 2 * MIN]);
    expect(s.lastNodeActionAt).to.equal(NOW - 2 * MIN);
    s = onNapEvents(s, [nap(NOW - 3 * MIN, 'late')], NOW);
    // an older event delivered late does not move the last node action back
    expect(s.lastNodeActionAt).to.equal(NOW - 2 * MIN);
    expect(nodeChurn(s, NOW)).to.deep.equal({ in5m: 2, in1h: 3 });
    expect(nodeChurn(s, NOW + 2 * MIN)).to.deep.equal({ in5m: 1, in1h: 3 });
    expect(onNapEvents(s, [], NOW)).to.equal(s);
  });

  it('a batch sent twice (a retried signal) is counted once', () => {
    const batch = [nap(NOW - MIN, 'a'), nap(NOW - 30_000, 'b', 'NodeScaleDown')];
    const once = onNapEvents(initialHub(), batch, NOW);
    const twice = onNapEvents(once, batch, NOW);
    expect(nodeChurn(twice, NOW)).to.deep.equal({ in5m: 2, in1h: 2 });
    expect(twice.nap).to.deep.equal(once.nap);
  });

  it('keeps at most MAX_HUB_NAP node events, the newest', () => {
    const evs = Array.from({ length: MAX_HUB_NAP + 300 }, (_, i) => nap(NOW - 50 * MIN + i * 1000, `n${i}`));
    // delivered newest first
    const s = onNapEvents(initialHub(), [...evs].reverse(), NOW);
    expect(s.nap).to.have.length(MAX_HUB_NAP);
    expect(Math.min(...s.nap.map((e) => e.at))).to.equal(evs[300]!.at);
  });

  it('forwards node events to the objects interested now (rightsizing activity), enabled and not disabled', () => {
    const s = withObjects(
      report('shop/busy', { interestUntil: NOW + 5 * MIN }),
      report('shop/quiet'),
      report('shop/expired', { interestUntil: NOW }),
      report('shop/off', { interestUntil: NOW + 5 * MIN, enabled: false }),
      report('shop/none', { interestUntil: NOW + 5 * MIN, strategy: 'disabled' }),
      report('other/isolated', { interestUntil: NOW + 5 * MIN, strategy: 'isolated' }),
    );
    expect(interestedObjects(onNapEvents(s, [nap(NOW)], NOW), NOW)).to.have.deep.members([
      { object: 'shop/busy', full: false },
      { object: 'other/isolated', full: false },
    ]);
  });

  it('an object the hub counts over its node-churn limit gets the whole window once, then the new events; not while paused', () => {
    let s = withObjects(
      report('shop/quiet', { nodeChurnThreshold: 2 }),
      report('shop/hourly', { nodeChurnPerHour: 4 }),
      report('shop/paused', { nodeChurnThreshold: 2, paused: true }),
    );
    const step = (evs: NapObservation[], now: number): { object: string; full: boolean }[] => {
      const prev = nodeChurn(s, now);
      s = onNapEvents(s, evs, now);
      return interestedObjects(s, now, prev);
    };
    // 2 in 5 min, 2 in the hour: no limit exceeded
    expect(step([nap(NOW - 40 * MIN), nap(NOW - 2 * MIN)], NOW)).to.deep.equal([]);
    // 4 in 5 min and in the hour: over the 5-min limit of 2, not over the hourly 4
    expect(step([nap(NOW - MIN), nap(NOW - 30_000)], NOW)).to.deep.equal([{ object: 'shop/quiet', full: true }]);
    // 4 in 5 min, 5 in the hour
    expect(step([nap(NOW)], NOW)).to.have.deep.members([
      { object: 'shop/quiet', full: false },
      { object: 'shop/hourly', full: true },
    ]);
    // at the hub's first sight (no previous counts) it is the whole window
    expect(interestedObjects(s, NOW)).to.have.deep.members([
      { object: 'shop/quiet', full: true },
      { object: 'shop/hourly', full: true },
    ]);
  });

  it('a newly interested object gets the node events of the last 10 minutes; one already interested gets none again', () => {
    let s = onNapEvents(withObjects(report('shop/web')), [nap(NOW - 11 * MIN, 'old'), nap(NOW - 10 * MIN, 'edge'), nap(NOW - 3 * MIN, 'recent')], NOW);
    const first = onReport(s, report('shop/web', { interestUntil: NOW + 5 * MIN }), NOW);
    expect(first.catchUp.map((e) => e.node)).to.deep.equal(['edge', 'recent']);
    s = first.state;
    const again = onReport(s, report('shop/web', { interestUntil: NOW + 2 * MIN }), NOW + MIN);
    expect(again.catchUp).to.deep.equal([]);
    // interest lapsed, then back: it missed events, so it gets those of the last 10 minutes again
    const back = onReport(again.state, report('shop/web', { interestUntil: NOW + 30 * MIN }), NOW + 5 * MIN);
    expect(back.catchUp.map((e) => e.node)).to.deep.equal(['recent']);
  });

  it('no catch-up for a report without interest, nor for a disabled object', () => {
    const s = onNapEvents(initialHub(), [nap(NOW - MIN)], NOW);
    expect(onReport(s, report('shop/web'), NOW).catchUp).to.deep.equal([]);
    expect(onReport(s, report('shop/web', { interestUntil: NOW + MIN, enabled: false }), NOW).catchUp).to.deep.equal([]);
    expect(onReport(s, report('shop/web', { interestUntil: NOW + MIN, strategy: 'disabled' }), NOW).catchUp).to.deep.equal([]);
  });

  it('a deleted report removes the object: no forwarding, no admission fact, no hold', () => {
    let s = withObjects(report('shop/web', { interestUntil: NOW + 5 * MIN, paused: true, lastUpdateAt: NOW }), report('shop/api'));
    const del = onReport(s, { ...report('shop/web'), deleted: true }, NOW);
    expect(del.catchUp).to.deep.equal([]);
    s = del.state;
    expect(Object.keys(s.objects)).to.deep.equal(['shop/api']);
    expect(interestedObjects(s, NOW)).to.deep.equal([]);
    expect(admissionFacts(s, SETTINGS, 'shop', NOW).objects.map((o) => o.object)).to.deep.equal(['shop/api']);
    expect(scaleDownHold(s, NOW)).to.deep.equal({});
    expect(hubView(s, SETTINGS, NOW).openBreakers).to.deep.equal([]);
  });
});

describe('coordination hub: the scale-down hold', () => {
  it('holds for napActionDelay after a coordinated, enabled object’s last update; the latest hold wins', () => {
    const s = withObjects(report('shop/a', { lastUpdateAt: NOW - 4 * MIN }), report('shop/b', { lastUpdateAt: NOW - 2 * MIN, napActionDelayMs: 5 * MIN }));
    expect(scaleDownHold(s, NOW)).to.deep.equal({ holdUntil: NOW + 6 * MIN, reason: 'RightsizingUpdate', object: 'shop/a' });
    expect(scaleDownHold(s, NOW + 6 * MIN - 1)).to.deep.include({ object: 'shop/a' });
    expect(scaleDownHold(s, NOW + 6 * MIN)).to.deep.equal({});
  });

  it('no hold for isolated, disabled or not enabled objects, nor without an update', () => {
    for (const r of [
      report('shop/a', { lastUpdateAt: NOW, strategy: 'isolated' }),
      report('shop/a', { lastUpdateAt: NOW, strategy: 'disabled' }),
      report('shop/a', { lastUpdateAt: NOW, enabled: false }),
      report('shop/a'),
    ])
      expect(scaleDownHold(withObjects(r), NOW + 1)).to.deep.equal({});
  });

  it('a granted reservation starts the hold for the namespace’s coordinated objects; a refused one does not', () => {
    let s = withObjects(report('shop/a'), report('shop/iso', { strategy: 'isolated' }), report('other/b'));
    s = reserve(s, SETTINGS, { namespace: 'shop', count: 2, key: 'k' }, NOW).state;
    expect(scaleDownHold(s, NOW + MIN)).to.deep.equal({ holdUntil: NOW + 10 * MIN, reason: 'RightsizingUpdate', object: 'shop/a' });
    expect(s.objects['other/b']!.lastUpdateAt).to.equal(undefined);
    // the namespace's budget spent: nothing granted, no new hold
    let t = withObjects(report('full/a'));
    t = reserve(t, SETTINGS, { namespace: 'full', count: 10, key: 'a' }, NOW - HOUR + MIN).state;
    t = reserve(t, SETTINGS, { namespace: 'full', count: 1, key: 'b' }, NOW).state;
    expect(scaleDownHold(t, NOW + MIN)).to.deep.equal({});
  });
});

describe('coordination hub: admission facts', () => {
  it('the namespace’s objects, the last node action and both budgets', () => {
    let s = withObjects(report('shop/a', { vpaUpdateDelayMs: 7 * MIN }), report('other/b'));
    s = onNapEvents(s, [nap(NOW - MIN)], NOW);
    s = reserve(s, SETTINGS, { namespace: 'shop', count: 3, key: 'k' }, NOW).state;
    expect(admissionFacts(s, SETTINGS, 'shop', NOW)).to.deep.equal({
      namespace: 'shop',
      at: NOW,
      objects: [{ object: 'shop/a', strategy: 'coordinated', enabled: true, phase: 'Active', paused: false, vpaUpdateDelayMs: 7 * MIN }],
      lastNodeActionAt: NOW - MIN,
      clusterBudget: 57,
      namespaceBudget: 7,
    });
    expect(admissionFacts(initialHub(), SETTINGS, 'none', NOW)).to.deep.equal({
      namespace: 'none',
      at: NOW,
      objects: [],
      clusterBudget: 60,
      namespaceBudget: 10,
    });
  });

  it('a paused object is paused until pausedUntil, not after (a breaker whose report is late does not hold updates forever)', () => {
    const s = withObjects(report('shop/a', { paused: true, phase: 'CircuitBreaker', pauseReason: 'NodeChurn', pausedUntil: NOW + 10 * MIN }));
    expect(admissionFacts(s, SETTINGS, 'shop', NOW + 10 * MIN - 1).objects[0]).to.deep.include({
      paused: true,
      pauseReason: 'NodeChurn',
      pausedUntil: NOW + 10 * MIN,
    });
    expect(admissionFacts(s, SETTINGS, 'shop', NOW + 10 * MIN).objects[0]).to.deep.include({ paused: false });
    // an operator's trip without an end stays paused
    const m = withObjects(report('shop/a', { paused: true, pauseReason: 'Manual' }));
    expect(admissionFacts(m, SETTINGS, 'shop', NOW + 10 * HOUR).objects[0]!.paused).to.equal(true);
  });
});

describe('coordination hub: bounded', () => {
  it('recent conflicts are capped at MAX_HUB_CONFLICTS, the newest kept', () => {
    const cs = Array.from({ length: MAX_HUB_CONFLICTS + 50 }, (_, i) => ({
      at: NOW + i,
      type: 'EvictionScaleUp' as const,
      object: 'shop/a',
      namespace: 'shop',
      vpaName: 'a',
      message: `c${i}`,
    }));
    const s = onConflicts(onConflicts(initialHub(), cs.slice(0, 100)), cs.slice(100));
    expect(s.conflicts).to.have.length(MAX_HUB_CONFLICTS);
    expect(s.conflicts.at(-1)!.message).to.equal(`c${MAX_HUB_CONFLICTS + 49}`);
    expect(s.conflicts[0]!.message).to.equal('c50');
  });
});
