/**
 * One coordination object's decision (decision/coordination/decide.ts), as document 000 "Circuit
 * Breaker Logic" and issue #16 state it: each trip rule at and just above its threshold, the
 * windows, the cooldown and the half-open period, correlation of rightsizing updates with node
 * events, deduplication, the operator's trip and reset, a disabled breaker, bounded state.
 */
import { expect } from 'chai';
import {
  MAX_CONFLICTS,
  MAX_NAP_EVENTS,
  MAX_REC_WORKLOADS,
  MAX_VPA_EVENTS,
  REC_HISTORY,
  initialState,
  nextWake,
  observe,
  operator,
  paused,
  tick,
  type DecisionState,
  type Fact,
  type NapEvent,
  type Outcome,
  type Transition,
  type VpaEvent,
} from '../../../../decision/coordination/decide';
import { DEFAULT_SETTINGS, type BreakerSettings, type CoordinationSettings } from '../../../../decision/coordination/settings';

const MIN = 60_000;
const T = Date.UTC(2026, 0, 5, 12, 0, 0);

function settings(over: Partial<Omit<CoordinationSettings, 'breaker'>> & { breaker?: Partial<BreakerSettings> } = {}): CoordinationSettings {
  const { breaker, ...rest } = over;
  return { ...DEFAULT_SETTINGS, ...rest, breaker: { ...DEFAULT_SETTINGS.breaker, ...(breaker ?? {}) } };
}
const S = settings();

const node = (at: number, kind: NapEvent['kind'] = 'NodeScaleUp', name = `node-${at}`): NapEvent => ({ at, kind, node: name });
/** `n` node events from `from`, `step` apart. */
const nodes = (n: number, from: number, step: number, kind: NapEvent['kind'] = 'NodeScaleDown'): NapEvent[] =>
  Array.from({ length: n }, (_, i) => node(from + i * step, kind, `n-${from + i * step}`));
const eviction = (at: number, over: Partial<VpaEvent> = {}): VpaEvent => ({
  at,
  kind: 'Eviction',
  source: 'VPA',
  workload: 'Deployment/shop/web',
  pod: `web-${at}`,
  ...over,
});
const evictions = (n: number, from: number, step: number): VpaEvent[] => Array.from({ length: n }, (_, i) => eviction(from + i * step));
const rec = (at: number, cpu: number, workload = 'Deployment/shop/web', memory?: number): VpaEvent => ({
  at,
  kind: 'RecommendationUpdate',
  source: 'VPA',
  workload,
  recommendation: { cpu, ...(memory !== undefined ? { memory } : {}) },
});
const fact = (subject: string, type: Fact['type'] = 'DualGovernance'): Fact => ({ type, subject, message: `${subject} is governed twice` });

const opened = (o: Outcome): Extract<Transition, { to: 'Open' }> => {
  const t = o.transitions.find((x): x is Extract<Transition, { to: 'Open' }> => x.to === 'Open');
  if (t === undefined) throw new Error(`expected a trip, got ${JSON.stringify(o.transitions)}`);
  return t;
};

/** Observes the events one batch at a time, each at its own time, from `s`. */
function feed(
  s: DecisionState,
  batches: { now: number; nap?: NapEvent[]; vpa?: VpaEvent[]; facts?: Fact[] }[],
  st = S,
): { state: DecisionState; outcomes: Outcome[] } {
  const outcomes: Outcome[] = [];
  for (const b of batches) {
    const o = observe(s, b, st, b.now);
    outcomes.push(o);
    s = o.state;
  }
  return { state: s, outcomes };
}

/** A state whose breaker tripped at `at` on node churn (6 node changes in the minute before). */
function trippedOnChurn(at: number, st = S): DecisionState {
  const o = observe(initialState(), { nap: nodes(6, at - 50_000, 10_000) }, st, at);
  expect(o.state.breaker.state).to.equal('Open');
  return o.state;
}

describe('coordination decision: the breaker trips on its thresholds', () => {
  it('node changes in 5 min: exactly nodeChurnThreshold does not trip, one more does, with the count, the threshold and the window', () => {
    const now = T + 4 * MIN;
    const five = observe(initialState(), { nap: nodes(5, T, 30_000) }, S, now);
    expect(five.state.breaker.state).to.equal('Closed');
    expect(five.transitions).to.deep.equal([]);
    expect(paused(five.state)).to.equal(false);

    const six = observe(five.state, { nap: [node(T + 3 * MIN, 'NodeScaleUp')] }, S, now);
    const t = opened(six);
    expect(t.trip).to.deep.equal({
      reason: 'NodeChurn',
      message: '6 node changes in 5 min exceed nodeChurnThreshold 5',
      numbers: { nodeChanges: 6, threshold: 5, windowMinutes: 5 },
    });
    expect(t.at).to.equal(now);
    expect(t.cooldownUntil).to.equal(now + 30 * MIN);
    expect(six.state.breaker).to.deep.include({ state: 'Open', reason: 'NodeChurn', trippedAt: now, cooldownUntil: now + 30 * MIN, trips: 1 });
    expect(six.state.breaker.numbers).to.deep.equal({ nodeChanges: 6, threshold: 5, windowMinutes: 5 });
    expect(paused(six.state)).to.equal(true);
    expect(nextWake(six.state)).to.equal(now + 30 * MIN);
  });

  it('every kind of node change counts (added, removed, consolidated)', () => {
    const evs = [
      node(T, 'NodeScaleUp'),
      node(T + 1, 'NodeScaleUp'),
      node(T + 2, 'NodeScaleDown'),
      node(T + 3, 'NodeScaleDown'),
      node(T + 4, 'NodeConsolidation'),
    ];
    expect(observe(initialState(), { nap: evs }, S, T + MIN).state.breaker.state).to.equal('Closed');
    expect(observe(initialState(), { nap: [...evs, node(T + 5, 'NodeConsolidation')] }, S, T + MIN).state.breaker.state).to.equal('Open');
  });

  it('a node change exactly 5 min old is outside the window; one a millisecond younger is inside', () => {
    const now = T + 10 * MIN;
    const inside = nodes(5, now - 2 * MIN, 10_000);
    expect(observe(initialState(), { nap: [node(now - 5 * MIN), ...inside] }, S, now).state.breaker.state).to.equal('Closed');
    const o = observe(initialState(), { nap: [node(now - 5 * MIN + 1), ...inside] }, S, now);
    expect(opened(o).trip.numbers).to.deep.equal({ nodeChanges: 6, threshold: 5, windowMinutes: 5 });
  });

  it('node changes spread wider than 5 min never trip on nodeChurnThreshold, however many', () => {
    // one every 61 s for 50 min: at most 5 in any 5 min
    const { state, outcomes } = feed(
      initialState(),
      nodes(50, T, 61_000).map((n) => ({ now: n.at, nap: [n] })),
    );
    expect(state.breaker.state).to.equal('Closed');
    expect(outcomes.flatMap((o) => o.transitions)).to.deep.equal([]);
  });

  it('evictions in 10 min: exactly evictionThreshold does not trip, one more does', () => {
    const now = T + 9 * MIN + 30_000;
    const twenty = observe(initialState(), { vpa: evictions(20, T, 27_000) }, S, now);
    expect(twenty.state.breaker.state).to.equal('Closed');
    const o = observe(twenty.state, { vpa: [eviction(now)] }, S, now);
    expect(opened(o).trip).to.deep.equal({
      reason: 'EvictionStorm',
      message: '21 evictions in 10 min exceed evictionThreshold 20',
      numbers: { evictions: 21, threshold: 20, windowMinutes: 10 },
    });
  });

  it('an eviction exactly 10 min old is outside the window; resizes and recommendations are not evictions', () => {
    const now = T + 20 * MIN;
    const inside = evictions(20, now - 5 * MIN, 10_000);
    expect(observe(initialState(), { vpa: [eviction(now - 10 * MIN), ...inside] }, S, now).state.breaker.state).to.equal('Closed');
    expect(observe(initialState(), { vpa: [eviction(now - 10 * MIN + 1), ...inside] }, S, now).state.breaker.state).to.equal('Open');
    const resizes = Array.from({ length: 40 }, (_, i): VpaEvent => ({ ...eviction(now - i * 1000), kind: 'InPlaceResize' }));
    const recs = Array.from({ length: 40 }, (_, i) => rec(now - i * 1000, 100 + i, `Deployment/shop/w${i}`));
    expect(observe(initialState(), { vpa: [...resizes, ...recs] }, S, now).state.breaker.state).to.equal('Closed');
  });

  it("the tier's nodeChurnPerHour: node changes in one hour above it trip, with every 5 min under nodeChurnThreshold", () => {
    const st = settings({ breaker: { nodeChurnPerHour: 8 } });
    // one every 6 min: never more than 1 in 5 min
    const eight = nodes(8, T, 6 * MIN);
    const now = T + 50 * MIN;
    expect(observe(initialState(), { nap: eight }, st, now).state.breaker.state).to.equal('Closed');
    const o = observe(initialState(), { nap: [...eight, node(T + 49 * MIN)] }, st, now);
    expect(opened(o).trip).to.deep.equal({
      reason: 'NodeChurn',
      message: "9 node changes in 1 h exceed the tier's nodeChurnPerHour 8",
      numbers: { nodeChanges: 9, threshold: 8, windowMinutes: 60 },
    });
    // a change exactly an hour old does not count
    expect(observe(initialState(), { nap: [node(now - 60 * MIN), ...eight] }, st, now).state.breaker.state).to.equal('Closed');
    // without the tier's limit the same nine changes are fine
    expect(observe(initialState(), { nap: [...eight, node(T + 49 * MIN)] }, S, now).state.breaker.state).to.equal('Closed');
  });

  it("the tier's evictionRatePerMinute: evictions in one minute above it trip, at the rate and not below", () => {
    const st = settings({ breaker: { evictionRatePerMinute: 3 } });
    const now = T + 10 * MIN;
    expect(observe(initialState(), { vpa: evictions(3, now - 50_000, 10_000) }, st, now).state.breaker.state).to.equal('Closed');
    const o = observe(initialState(), { vpa: evictions(4, now - 50_000, 10_000) }, st, now);
    expect(opened(o).trip).to.deep.equal({
      reason: 'EvictionStorm',
      message: "4 evictions in 1 min exceed the tier's evictionRatePerMinute 3",
      numbers: { evictions: 4, threshold: 3, windowMinutes: 1 },
    });
    // four evictions spread over 100 s: two of them in the last minute
    expect(observe(initialState(), { vpa: evictions(4, now - 100_000, 30_000) }, st, now).state.breaker.state).to.equal('Closed');
  });

  it('Oscillation: a recommendation reversing direction by more than oscillationThreshold % trips, with the swing and the values', () => {
    const { state, outcomes } = feed(initialState(), [
      { now: T, vpa: [rec(T, 1000)] },
      { now: T + MIN, vpa: [rec(T + MIN, 2000)] },
      { now: T + 2 * MIN, vpa: [rec(T + 2 * MIN, 1350)] },
    ]);
    const last = outcomes[2]!;
    expect(last.conflicts.map((c) => c.type)).to.deep.equal(['Oscillation']);
    expect(opened(last).trip).to.deep.equal({
      reason: 'Oscillation',
      message: 'Deployment/shop/web cpu recommendation reversed direction by 32.5 % (1000 → 2000 → 1350; threshold 30 %)',
      numbers: { swingPercent: 32.5, thresholdPercent: 30, previous: 2000, current: 1350 },
    });
    expect(state.lastConflictType).to.equal('Oscillation');
  });

  it('Oscillation: a reversal of exactly oscillationThreshold % is no conflict; a change that keeps its direction never is', () => {
    const at = (v: number[], st = S): Outcome =>
      feed(
        initialState(),
        v.map((x, i) => ({ now: T + i * MIN, vpa: [rec(T + i * MIN, x)] })),
        st,
      ).outcomes.at(-1)!;
    const exact = at([1000, 2000, 1400]);
    expect(exact.conflicts).to.deep.equal([]);
    expect(exact.state.breaker.state).to.equal('Closed');
    const same = at([1000, 2000, 4000]);
    expect(same.conflicts).to.deep.equal([]);
    // the threshold is the setting's
    expect(at([1000, 2000, 1400], settings({ breaker: { oscillationThreshold: 20 } })).state.breaker.state).to.equal('Open');
  });

  it('Oscillation on memory counts as on cpu', () => {
    const G = 2 ** 30;
    const { outcomes } = feed(initialState(), [
      { now: T, vpa: [rec(T, 500, 'Deployment/shop/web', 1 * G)] },
      { now: T + MIN, vpa: [rec(T + MIN, 500, 'Deployment/shop/web', 2 * G)] },
      { now: T + 2 * MIN, vpa: [rec(T + 2 * MIN, 500, 'Deployment/shop/web', 1 * G)] },
    ]);
    expect(opened(outcomes[2]!).trip.numbers).to.deep.include({ swingPercent: 50, thresholdPercent: 30 });
    expect(opened(outcomes[2]!).trip.message).to.contain('memory recommendation reversed direction by 50 %');
  });

  it('Oscillation: the numbers exceed the threshold even when the swing is within rounding of it', () => {
    // 3001 → 2100 is a swing of 30.02 %: over 30 %, so it trips, and the numbers must say so
    const { outcomes } = feed(initialState(), [
      { now: T, vpa: [rec(T, 1000)] },
      { now: T + MIN, vpa: [rec(T + MIN, 3001)] },
      { now: T + 2 * MIN, vpa: [rec(T + 2 * MIN, 2100)] },
    ]);
    const trip = opened(outcomes[2]!).trip;
    expect(trip.reason).to.equal('Oscillation');
    expect(trip.numbers.swingPercent).to.be.greaterThan(trip.numbers.thresholdPercent!);
    expect(trip.message).to.not.match(/by 30 %/);
  });

  it('Oscillation: a reversal is reported once; the same recommendation seen again later is not a new one', () => {
    const st = settings({ breaker: { enabled: false } });
    const { state, outcomes } = feed(
      initialState(),
      [
        { now: T, vpa: [rec(T, 1000)] },
        { now: T + MIN, vpa: [rec(T + MIN, 2000)] },
        { now: T + 2 * MIN, vpa: [rec(T + 2 * MIN, 1350)] },
        // the recommendation has not moved: the same values again, now and after the conflict left the hour
        { now: T + 10 * MIN, vpa: [rec(T + 10 * MIN, 1350)] },
        { now: T + 2 * 60 * MIN, vpa: [rec(T + 2 * 60 * MIN, 1350)] },
      ],
      st,
    );
    expect(outcomes.map((o) => o.conflicts.length)).to.deep.equal([0, 0, 1, 0, 0]);
    expect(state.conflictsTotal).to.equal(1);
  });

  it('Oscillation: three recommendations in one batch are judged once, on the last reversal', () => {
    const o = observe(initialState(), { vpa: [rec(T, 1000), rec(T + MIN, 2000), rec(T + 2 * MIN, 1350)] }, S, T + 2 * MIN);
    expect(o.conflicts.map((c) => c.type)).to.deep.equal(['Oscillation']);
    expect(opened(o).trip.reason).to.equal('Oscillation');
  });

  it('ConflictRate: more than maxConflictsPerHour conflicts in the last hour trip; exactly that many do not', () => {
    // an eviction, then a node added a minute later: one EvictionScaleUp each, 12 min apart (no churn, no storm)
    const pair = (at: number) => ({ now: at + MIN, vpa: [eviction(at)], nap: [node(at + MIN)] });
    const three = feed(initialState(), [pair(T), pair(T + 12 * MIN), pair(T + 24 * MIN)]);
    expect(three.outcomes.map((o) => o.conflicts.map((c) => c.type))).to.deep.equal([['EvictionScaleUp'], ['EvictionScaleUp'], ['EvictionScaleUp']]);
    expect(three.state.breaker.state).to.equal('Closed');
    const o = observe(three.state, pair(T + 36 * MIN), S, T + 37 * MIN);
    expect(opened(o).trip).to.deep.equal({
      reason: 'ConflictRate',
      message: '4 conflicts in the last hour exceed maxConflictsPerHour 3',
      numbers: { conflicts: 4, threshold: 3 },
    });
  });

  it('ConflictRate: conflicts older than an hour do not count', () => {
    const pair = (at: number) => ({ now: at + MIN, vpa: [eviction(at)], nap: [node(at + MIN)] });
    const { state } = feed(initialState(), [pair(T), pair(T + 20 * MIN), pair(T + 40 * MIN), pair(T + 61 * MIN)]);
    expect(state.conflictsTotal).to.equal(4);
    expect(state.breaker.state).to.equal('Closed');
  });
});

describe('coordination decision: cooldown and half-open', () => {
  it('Open until cooldownUntil: a tick a millisecond before stays Open, a tick at cooldownUntil goes HalfOpen for halfOpenMs', () => {
    const s = trippedOnChurn(T);
    const until = T + 30 * MIN;
    const before = tick(s, S, until - 1);
    expect(before.state.breaker.state).to.equal('Open');
    expect(before.transitions).to.deep.equal([]);
    const at = tick(s, S, until);
    expect(at.transitions).to.deep.equal([{ to: 'HalfOpen', reason: 'CooldownElapsed', at: until, halfOpenUntil: until + 30 * MIN }]);
    expect(at.state.breaker).to.deep.include({ state: 'HalfOpen', halfOpenUntil: until + 30 * MIN, trips: 1 });
    expect(paused(at.state)).to.equal(false);
    expect(nextWake(at.state)).to.equal(until + 30 * MIN);
  });

  it('HalfOpen closes after halfOpenMs without a conflict (QuietPeriodElapsed), not a millisecond before', () => {
    const st = settings({ halfOpenMs: 10 * MIN });
    const half = tick(trippedOnChurn(T, st), st, T + 30 * MIN).state;
    const end = T + 40 * MIN;
    expect(tick(half, st, end - 1).state.breaker.state).to.equal('HalfOpen');
    const closed = tick(half, st, end);
    expect(closed.transitions).to.deep.equal([{ to: 'Closed', reason: 'QuietPeriodElapsed', at: end, message: 'no conflict for 10 min after the cooldown' }]);
    expect(closed.state.breaker.state).to.equal('Closed');
    expect(closed.state.breaker.trips).to.equal(1);
    expect(closed.state.breaker.reason).to.equal(undefined);
    expect(nextWake(closed.state)).to.equal(undefined);
  });

  it('a new conflict while half open trips it again at once (HalfOpenConflict) with the conflict in its message and numbers', () => {
    const half = tick(trippedOnChurn(T), S, T + 30 * MIN).state;
    const now = T + 32 * MIN;
    const o = observe(half, { vpa: [eviction(T + 31 * MIN)], nap: [node(T + 32 * MIN)] }, S, now);
    expect(o.conflicts.map((c) => c.type)).to.deep.equal(['EvictionScaleUp']);
    const t = opened(o);
    expect(t.trip.reason).to.equal('HalfOpenConflict');
    expect(t.trip.message).to.match(/^a EvictionScaleUp conflict during the half-open cooldown: node .* added 60 s after 1 rightsizing update/);
    expect(t.trip.numbers).to.deep.equal({ updates: 1, secondsAfterUpdate: 60 });
    expect(t.cooldownUntil).to.equal(now + 30 * MIN);
    expect(o.state.breaker).to.deep.include({ state: 'Open', reason: 'HalfOpenConflict', trips: 2 });
    expect(o.state.breaker.halfOpenUntil).to.equal(undefined);
  });

  it('a fact found while half open is a conflict too, and re-trips it', () => {
    const half = tick(trippedOnChurn(T), S, T + 30 * MIN).state;
    const o = observe(half, { facts: [fact('Deployment/shop/web')] }, S, T + 31 * MIN);
    expect(opened(o).trip.reason).to.equal('HalfOpenConflict');
  });

  it('the node changes that tripped it do not trip it again when half open; new ones above the threshold do', () => {
    const st = settings({ breaker: { cooldownMs: MIN } });
    const s = trippedOnChurn(T, st);
    const half = tick(s, st, T + MIN).state;
    expect(half.breaker.state).to.equal('HalfOpen');
    // the six changes are still inside the 5-minute window
    const quiet = observe(half, { vpa: [rec(T + MIN + 1000, 500)] }, st, T + MIN + 1000);
    expect(quiet.transitions).to.deep.equal([]);
    expect(quiet.state.breaker.state).to.equal('HalfOpen');
    // five new changes: not more than the threshold
    const five = observe(quiet.state, { nap: nodes(5, T + 2 * MIN, 1000) }, st, T + 2 * MIN + 5000);
    expect(five.state.breaker.state).to.equal('HalfOpen');
    const six = observe(five.state, { nap: [node(T + 2 * MIN + 6000, 'NodeScaleDown')] }, st, T + 2 * MIN + 6000);
    expect(opened(six).trip.numbers).to.deep.equal({ nodeChanges: 6, threshold: 5, windowMinutes: 5 });
  });

  it('the evictions that tripped it do not trip it again when half open', () => {
    const st = settings({ breaker: { cooldownMs: 2 * MIN } });
    const s = observe(initialState(), { vpa: evictions(21, T - 60_000, 2000) }, st, T).state;
    expect(s.breaker.reason).to.equal('EvictionStorm');
    const half = tick(s, st, T + 2 * MIN).state;
    const o = observe(half, { vpa: [eviction(T + 2 * MIN + 1000)] }, st, T + 2 * MIN + 1000);
    expect(o.transitions).to.deep.equal([]);
    expect(o.state.breaker.state).to.equal('HalfOpen');
  });

  it('the conflicts that tripped it do not count against maxConflictsPerHour when half open', () => {
    const st = settings({ breaker: { cooldownMs: 5 * MIN } });
    const s = observe(initialState(), { facts: [fact('a'), fact('b'), fact('c'), fact('d')] }, st, T).state;
    expect(s.breaker.reason).to.equal('ConflictRate');
    const half = tick(s, st, T + 5 * MIN).state;
    const o = observe(half, { vpa: [rec(T + 6 * MIN, 300)] }, st, T + 6 * MIN);
    expect(o.state.breaker.state).to.equal('HalfOpen');
  });

  it('node changes made while half open still count once it has closed', () => {
    const st = settings({ breaker: { cooldownMs: MIN }, halfOpenMs: 2 * MIN });
    const half = tick(trippedOnChurn(T, st), st, T + MIN).state;
    // four removals in the half-open period (no eviction: no conflict)
    const four = observe(half, { nap: nodes(4, T + MIN + 30_000, 15_000) }, st, T + 2 * MIN + 30_000);
    expect(four.state.breaker.state).to.equal('HalfOpen');
    const closed = tick(four.state, st, T + 3 * MIN);
    expect(closed.state.breaker.state).to.equal('Closed');
    // two more right after: six node changes in the last 5 min, all after the cooldown
    const o = observe(closed.state, { nap: nodes(2, T + 3 * MIN + 10_000, 10_000) }, st, T + 3 * MIN + 20_000);
    expect(opened(o).trip.numbers).to.deep.equal({ nodeChanges: 6, threshold: 5, windowMinutes: 5 });
  });

  it('a tick that wakes late still goes through the states in order, one at a time', () => {
    const s = trippedOnChurn(T);
    const late = tick(s, S, T + 45 * MIN);
    expect(late.transitions.map((t) => t.to)).to.deep.equal(['HalfOpen']);
    expect(late.state.breaker.halfOpenUntil).to.equal(T + 75 * MIN);
    expect(tick(late.state, S, T + 75 * MIN).transitions.map((t) => t.to)).to.deep.equal(['Closed']);
  });
});

describe('coordination decision: correlation', () => {
  it('evictions then a node added within 5 min: one EvictionScaleUp per node event, with the updates and the delay', () => {
    const o = observe(initialState(), { vpa: [eviction(T), eviction(T + MIN)], nap: [node(T + 4 * MIN, 'NodeScaleUp', 'n1')] }, S, T + 4 * MIN);
    expect(o.conflicts).to.have.length(1);
    expect(o.conflicts[0]).to.deep.include({
      at: T + 4 * MIN,
      type: 'EvictionScaleUp',
      numbers: { updates: 2, secondsAfterUpdate: 180 },
      message: 'node n1 added 180 s after 2 rightsizing update(s) of governed workloads (window 5 min)',
    });
    expect(o.state).to.deep.include({ conflictsTotal: 1, lastConflictAt: T + 4 * MIN, lastConflictType: 'EvictionScaleUp' });
    // a second node: a second conflict; the first is not counted again
    const two = observe(o.state, { nap: [node(T + 4 * MIN + 30_000, 'NodeScaleUp', 'n2')] }, S, T + 5 * MIN);
    expect(two.conflicts.map((c) => c.message)).to.deep.equal(['node n2 added 210 s after 2 rightsizing update(s) of governed workloads (window 5 min)']);
    expect(two.state.conflictsTotal).to.equal(2);
  });

  it('the 5-min window: a node added exactly 5 min after the update correlates, a second later does not; a node before the update does not', () => {
    const c = (nodeAt: number): number => observe(initialState(), { vpa: [eviction(T)], nap: [node(nodeAt)] }, S, T + 10 * MIN).conflicts.length;
    expect(c(T + 5 * MIN)).to.equal(1);
    expect(c(T + 5 * MIN + 1000)).to.equal(0);
    expect(c(T - 1000)).to.equal(0);
  });

  it('an upsizing in place counts; a downsizing (increase false) and a recommendation do not', () => {
    const c = (e: VpaEvent): number => observe(initialState(), { vpa: [e], nap: [node(T + MIN)] }, S, T + MIN).conflicts.length;
    expect(c({ ...eviction(T), kind: 'InPlaceResize', increase: true })).to.equal(1);
    expect(c({ ...eviction(T), kind: 'InPlaceResize' })).to.equal(1);
    expect(c({ ...eviction(T), increase: true })).to.equal(1);
    expect(c({ ...eviction(T), kind: 'InPlaceResize', increase: false })).to.equal(0);
    expect(c({ ...eviction(T), increase: false })).to.equal(0);
    expect(c(rec(T, 500))).to.equal(0);
  });

  it('a node removed then an eviction within 10 min: one ScaleDownEviction per node event (consolidation too)', () => {
    for (const kind of ['NodeScaleDown', 'NodeConsolidation'] as const) {
      const o = observe(initialState(), { nap: [node(T, kind, 'n1')], vpa: [eviction(T + 9 * MIN)] }, S, T + 9 * MIN);
      expect(o.conflicts).to.have.length(1);
      expect(o.conflicts[0]).to.deep.include({
        at: T + 9 * MIN,
        type: 'ScaleDownEviction',
        numbers: { evictions: 1, secondsAfterRemoval: 540 },
        message: '1 eviction(s) of governed workloads within 540 s after node n1 was removed (window 10 min)',
      });
      // a later eviction after the same removal is not a second conflict
      const again = observe(o.state, { vpa: [eviction(T + 9 * MIN + 30_000)] }, S, T + 10 * MIN);
      expect(again.conflicts).to.deep.equal([]);
      expect(again.state.conflictsTotal).to.equal(1);
    }
  });

  it('the 10-min window: an eviction exactly 10 min after the removal correlates, a second later does not; one before it does not; a resize is no eviction', () => {
    const c = (e: VpaEvent): number => observe(initialState(), { nap: [node(T, 'NodeScaleDown')], vpa: [e] }, S, T + 15 * MIN).conflicts.length;
    expect(c(eviction(T + 10 * MIN))).to.equal(1);
    expect(c(eviction(T + 10 * MIN + 1000))).to.equal(0);
    expect(c(eviction(T - 1000))).to.equal(0);
    expect(c({ ...eviction(T + MIN), kind: 'InPlaceResize' })).to.equal(0);
  });

  it('out-of-order delivery: an eviction arriving after the node event still correlates (both ways round)', () => {
    // the node added arrives first, the eviction before it arrives next
    const first = observe(initialState(), { nap: [node(T + 2 * MIN, 'NodeScaleUp', 'n1')] }, S, T + 2 * MIN);
    expect(first.conflicts).to.deep.equal([]);
    const late = observe(first.state, { vpa: [eviction(T)] }, S, T + 3 * MIN);
    expect(late.conflicts.map((c) => [c.type, c.numbers])).to.deep.equal([['EvictionScaleUp', { updates: 1, secondsAfterUpdate: 120 }]]);
    // the eviction arrives first, the removal before it arrives next
    const ev = observe(initialState(), { vpa: [eviction(T + 3 * MIN)] }, S, T + 3 * MIN);
    expect(ev.conflicts).to.deep.equal([]);
    const removal = observe(ev.state, { nap: [node(T, 'NodeScaleDown', 'n2')] }, S, T + 4 * MIN);
    expect(removal.conflicts.map((c) => [c.type, c.numbers])).to.deep.equal([['ScaleDownEviction', { evictions: 1, secondsAfterRemoval: 180 }]]);
  });

  it('old events that correlate are not reported again by an unrelated new event', () => {
    const o = observe(initialState(), { vpa: [eviction(T)], nap: [node(T + MIN)] }, S, T + MIN);
    expect(o.conflicts).to.have.length(1);
    const next = observe(o.state, { vpa: [rec(T + 2 * MIN, 300)], nap: [node(T + 2 * MIN, 'NodeScaleDown')] }, S, T + 2 * MIN);
    expect(next.conflicts).to.deep.equal([]);
  });

  it('facts are reported once an hour per subject', () => {
    const f = [fact('Deployment/shop/web'), fact('shop/web-1', 'OutsideDedicatedPool')];
    const first = observe(initialState(), { facts: f }, S, T);
    expect(first.conflicts.map((c) => [c.type, c.key, c.at])).to.deep.equal([
      ['DualGovernance', 'DualGovernance/Deployment/shop/web', T],
      ['OutsideDedicatedPool', 'OutsideDedicatedPool/shop/web-1', T],
    ]);
    expect(first.conflicts[0]!.message).to.equal('Deployment/shop/web is governed twice');
    const later = observe(first.state, { facts: [...f, fact('Deployment/shop/api')] }, S, T + 59 * MIN);
    expect(later.conflicts.map((c) => c.key)).to.deep.equal(['DualGovernance/Deployment/shop/api']);
    const nextHour = observe(later.state, { facts: f }, S, T + 61 * MIN);
    expect(nextHour.conflicts.map((c) => c.key)).to.deep.equal(['DualGovernance/Deployment/shop/web', 'OutsideDedicatedPool/shop/web-1']);
    expect(nextHour.state.conflictsTotal).to.equal(5);
  });
});

describe('coordination decision: deduplication', () => {
  it('the same observations sent twice change nothing: the same state, no new conflict, no transition', () => {
    const batch = { nap: [node(T, 'NodeScaleDown'), node(T + MIN)], vpa: [eviction(T + 30_000), rec(T, 500), rec(T + 10_000, 900)], facts: [fact('w')] };
    const once = observe(initialState(), batch, S, T + 2 * MIN);
    expect(once.conflicts.length).to.equal(3);
    const twice = observe(once.state, batch, S, T + 2 * MIN);
    expect(twice.state).to.deep.equal(once.state);
    expect(twice.conflicts).to.deep.equal([]);
    expect(twice.transitions).to.deep.equal([]);
  });

  it('a resend counts only what is new in it', () => {
    const five = nodes(5, T, 10_000);
    const a = observe(initialState(), { nap: five }, S, T + MIN);
    const b = observe(a.state, { nap: five }, S, T + MIN + 1000);
    expect(b.state.nap).to.have.length(5);
    expect(b.state.breaker.state).to.equal('Closed');
    const c = observe(b.state, { nap: [...five, node(T + MIN)] }, S, T + MIN + 2000);
    expect(opened(c).trip.numbers.nodeChanges).to.equal(6);
  });

  it('duplicates inside one batch count once', () => {
    const e = eviction(T);
    const o = observe(initialState(), { vpa: Array.from({ length: 30 }, () => e) }, S, T);
    expect(o.state.vpa).to.have.length(1);
    expect(o.state.breaker.state).to.equal('Closed');
  });

  it('events older than an hour are not taken', () => {
    const o = observe(initialState(), { nap: [node(T - 61 * MIN)], vpa: [eviction(T - 61 * MIN)] }, S, T);
    expect(o.state.nap).to.deep.equal([]);
    expect(o.state.vpa).to.deep.equal([]);
  });
});

describe('coordination decision: the operator', () => {
  it('trip: Open with Manual and the reason, for the cooldown', () => {
    const o = operator(initialState(), 'trip', 'maintenance', S, T);
    expect(o.transitions).to.deep.equal([
      { to: 'Open', trip: { reason: 'Manual', message: 'tripped by an operator: maintenance', numbers: {} }, at: T, cooldownUntil: T + 30 * MIN },
    ]);
    expect(o.state.breaker).to.deep.equal({
      state: 'Open',
      reason: 'Manual',
      message: 'tripped by an operator: maintenance',
      numbers: {},
      trippedAt: T,
      cooldownUntil: T + 30 * MIN,
      trips: 1,
    });
    // then the cooldown as for any trip
    const half = tick(o.state, S, T + 30 * MIN);
    expect(half.transitions.map((t) => t.to)).to.deep.equal(['HalfOpen']);
  });

  it('trip when already open is a no-op: the first trip, its reason and its cooldown stay', () => {
    const s = trippedOnChurn(T);
    const o = operator(s, 'trip', 'again', S, T + 5 * MIN);
    expect(o.transitions).to.deep.equal([]);
    expect(o.state.breaker).to.deep.equal(s.breaker);
  });

  it('trip when half open opens it again (Manual)', () => {
    const half = tick(trippedOnChurn(T), S, T + 30 * MIN).state;
    const o = operator(half, 'trip', 'not yet', S, T + 31 * MIN);
    expect(opened(o).trip.reason).to.equal('Manual');
    expect(o.state.breaker).to.deep.include({ state: 'Open', trips: 2, cooldownUntil: T + 61 * MIN });
  });

  it('reset closes at once, from Open and from HalfOpen; reset when closed is a no-op', () => {
    const s = trippedOnChurn(T);
    const r = operator(s, 'reset', 'false alarm', S, T + MIN);
    expect(r.transitions).to.deep.equal([{ to: 'Closed', reason: 'Manual', at: T + MIN, message: 'reset by an operator: false alarm' }]);
    expect(r.state.breaker.state).to.equal('Closed');
    expect(r.state.breaker.trips).to.equal(1);
    expect(paused(r.state)).to.equal(false);
    expect(nextWake(r.state)).to.equal(undefined);
    const half = tick(s, S, T + 30 * MIN).state;
    expect(operator(half, 'reset', 'ok', S, T + 31 * MIN).state.breaker.state).to.equal('Closed');
    const none = operator(initialState(), 'reset', 'nothing', S, T);
    expect(none.transitions).to.deep.equal([]);
    expect(none.state.breaker).to.deep.equal({ state: 'Closed', trips: 0 });
  });

  it('after a reset the events that tripped it do not trip it again; new ones over the threshold do', () => {
    const r = operator(trippedOnChurn(T), 'reset', 'checked', S, T + MIN);
    const next = observe(r.state, { vpa: [rec(T + MIN + 1000, 500)] }, S, T + MIN + 1000);
    expect(next.transitions).to.deep.equal([]);
    expect(next.state.breaker.state).to.equal('Closed');
    const six = observe(next.state, { nap: nodes(6, T + 2 * MIN, 1000) }, S, T + 2 * MIN + 6000);
    expect(opened(six).trip.numbers).to.deep.equal({ nodeChanges: 6, threshold: 5, windowMinutes: 5 });
  });
});

describe('coordination decision: disabled', () => {
  const storm = (s: DecisionState, st: CoordinationSettings, now: number): Outcome =>
    observe(
      s,
      {
        nap: nodes(20, now - 2 * MIN, 5000, 'NodeScaleUp'),
        vpa: [...evictions(40, now - 3 * MIN, 3000), rec(now - 3 * MIN, 1000), rec(now - 2 * MIN, 3000), rec(now - MIN, 1000)],
        facts: [fact('a'), fact('b'), fact('c'), fact('d')],
      },
      st,
      now,
    );

  for (const [what, st] of [
    ['the breaker (circuitBreaker.enabled false)', settings({ breaker: { enabled: false } })],
    ['the object (enabled false)', settings({ enabled: false })],
    ['the strategy (disabled)', settings({ strategy: 'disabled' })],
  ] as const) {
    it(`${what}: never trips, however bad it gets, and still records the conflicts`, () => {
      const o = storm(initialState(), st, T);
      expect(o.transitions).to.deep.equal([]);
      expect(o.state.breaker.state).to.equal('Closed');
      expect(o.conflicts.length).to.be.greaterThan(4);
      expect(o.state.conflictsTotal).to.equal(o.conflicts.length);
    });

    it(`${what}: an open breaker closes at the next tick with BreakerDisabled; an operator's trip stays`, () => {
      const s = trippedOnChurn(T);
      const o = tick(s, st, T + MIN);
      expect(o.transitions).to.deep.equal([
        { to: 'Closed', reason: 'BreakerDisabled', at: T + MIN, message: 'the circuit breaker or the coordination is disabled' },
      ]);
      expect(o.state.breaker).to.deep.include({ state: 'Closed', trips: 1 });
      // an observation closes it too (it ticks first)
      expect(observe(s, {}, st, T + MIN).transitions.map((t) => [t.to, 'reason' in t ? t.reason : undefined])).to.deep.equal([['Closed', 'BreakerDisabled']]);
      const half = tick(s, S, T + 30 * MIN).state;
      expect(tick(half, st, T + 31 * MIN).state.breaker.state).to.equal('Closed');
      const manual = operator(initialState(), 'trip', 'hold', st, T);
      expect(manual.state.breaker.state).to.equal('Open');
      expect(tick(manual.state, st, T + MIN).state.breaker.state).to.equal('Open');
    });
  }

  it('enabled again, a storm still inside the windows trips it: the events seen while disabled are what is happening now', () => {
    const off = settings({ breaker: { enabled: false } });
    const s = storm(initialState(), off, T).state;
    const o = observe(s, { vpa: [rec(T + 1000, 700, 'Deployment/shop/other')] }, S, T + 1000);
    // the storm is inside every window: enabling the breaker counts it (it is what is happening now)
    expect(opened(o).trip.reason).to.be.oneOf(['NodeChurn', 'EvictionStorm', 'ConflictRate']);
  });
});

describe('coordination decision: bounded state', () => {
  it('caps hold under many events: node and rightsizing events, recommendation histories, conflicts', () => {
    const st = settings({ breaker: { enabled: false } });
    let s = initialState();
    for (let b = 0; b < 6; b++) {
      const now = T + b * 5 * MIN;
      const nap = Array.from({ length: 600 }, (_, i) => node(now - i * 400, i % 2 ? 'NodeScaleUp' : 'NodeScaleDown', `b${b}-${i}`));
      const vpa = [
        ...Array.from({ length: 1500 }, (_, i) => eviction(now - i * 150, { pod: `b${b}-${i}`, workload: `Deployment/shop/w${i % 50}` })),
        ...Array.from({ length: 300 }, (_, i) => rec(now - (i % 7) * 1000, 100 + ((i * 37 + b * 11) % 900), `Deployment/shop/r${b}-${i}`)),
      ];
      const facts = Array.from({ length: 150 }, (_, i) => fact(`b${b}-s${i}`));
      s = observe(s, { nap, vpa, facts }, st, now).state;
      expect(s.nap.length).to.be.at.most(MAX_NAP_EVENTS);
      expect(s.vpa.length).to.be.at.most(MAX_VPA_EVENTS);
      expect(s.conflicts.length).to.be.at.most(MAX_CONFLICTS);
      expect(Object.keys(s.recs).length).to.be.at.most(MAX_REC_WORKLOADS);
      for (const h of Object.values(s.recs)) expect(h.length).to.be.at.most(REC_HISTORY);
    }
    // the newest are the ones kept
    expect(s.nap.at(-1)!.at).to.equal(T + 25 * MIN);
    expect(s.conflictsTotal).to.be.greaterThan(MAX_CONFLICTS);
  });

  it('one workload’s recommendation history keeps the last REC_HISTORY distinct values', () => {
    const { state } = feed(
      initialState(),
      [100, 100, 200, 300, 300, 400].map((v, i) => ({ now: T + i * MIN, vpa: [rec(T + i * MIN, v)] })),
      settings({ breaker: { enabled: false } }),
    );
    expect(state.recs['Deployment/shop/web']!.map((r) => r.cpu)).to.deep.equal([200, 300, 400]);
  });
});
