/**
 * Properties of one coordination object's decision (decision/coordination/decide.ts) over any
 * sequence of observations, timers and operator commands: the breaker's invariants (document 000
 * "Circuit Breaker Logic", issue #16), deduplication and bounded state.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { TRIP_REASONS } from '../../../../lib/crds/platform/constants';
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
  tick,
  windowCounts,
  type DecisionState,
  type Fact,
  type NapEvent,
  type Outcome,
  type VpaEvent,
} from '../../../../decision/coordination/decide';
import { DEFAULT_SETTINGS, type CoordinationSettings } from '../../../../decision/coordination/settings';

const settingsFor = (): CoordinationSettings => DEFAULT_SETTINGS;

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

// ---- generators ------------------------------------------------------------------------------

const settingsArb = (
  breakerOn: fc.Arbitrary<{ enabled: boolean; breaker: boolean; strategy: CoordinationSettings['strategy'] }>,
): fc.Arbitrary<CoordinationSettings> =>
  fc
    .record({
      on: breakerOn,
      nodeChurnThreshold: fc.integer({ min: 1, max: 6 }),
      evictionThreshold: fc.integer({ min: 1, max: 10 }),
      oscillationThreshold: fc.integer({ min: 5, max: 60 }),
      cooldownMs: fc.integer({ min: 1, max: 20 }).map((m) => m * MIN),
      nodeChurnPerHour: fc.option(fc.integer({ min: 2, max: 20 }), { nil: undefined }),
      evictionRatePerMinute: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      halfOpenMs: fc.integer({ min: 1, max: 20 }).map((m) => m * MIN),
      maxConflictsPerHour: fc.integer({ min: 1, max: 5 }),
    })
    .map((r) => ({
      strategy: r.on.strategy,
      enabled: r.on.enabled,
      breaker: {
        enabled: r.on.breaker,
        nodeChurnThreshold: r.nodeChurnThreshold,
        evictionThreshold: r.evictionThreshold,
        oscillationThreshold: r.oscillationThreshold,
        cooldownMs: r.cooldownMs,
        ...(r.nodeChurnPerHour !== undefined ? { nodeChurnPerHour: r.nodeChurnPerHour } : {}),
        ...(r.evictionRatePerMinute !== undefined ? { evictionRatePerMinute: r.evictionRatePerMinute } : {}),
      },
      halfOpenMs: r.halfOpenMs,
      maxConflictsPerHour: r.maxConflictsPerHour,
      maxResourceChangePercent: 50,
      vpaUpdateDelayMs: 5 * MIN,
      napActionDelayMs: 10 * MIN,
    }));

const activeArb = fc.record({ enabled: fc.constant(true), breaker: fc.constant(true), strategy: fc.constantFrom('coordinated' as const, 'isolated' as const) });
const anyOnArb = fc.record({
  enabled: fc.boolean(),
  breaker: fc.boolean(),
  strategy: fc.constantFrom('coordinated' as const, 'isolated' as const, 'disabled' as const),
});
const disabledArb = fc.oneof(
  fc.record({ enabled: fc.constant(false), breaker: fc.boolean(), strategy: fc.constantFrom('coordinated' as const, 'isolated' as const) }),
  fc.record({ enabled: fc.boolean(), breaker: fc.constant(false), strategy: fc.constantFrom('coordinated' as const, 'isolated' as const) }),
  fc.record({ enabled: fc.boolean(), breaker: fc.boolean(), strategy: fc.constant('disabled' as const) }),
);

/** An event `back` ms before the step's clock. */
interface NapSpec {
  back: number;
  kind: NapEvent['kind'];
  node: string;
}
interface VpaSpec {
  back: number;
  kind: VpaEvent['kind'];
  workload: string;
  pod: string;
  increase: boolean | undefined;
  cpu: number;
  memory: number | undefined;
}

const backArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12 * MIN }), fc.integer({ min: 0, max: 70 * MIN }));
const napSpecArb = (nodes: number): fc.Arbitrary<NapSpec> =>
  fc.record({
    back: backArb,
    kind: fc.constantFrom('NodeScaleUp' as const, 'NodeScaleDown' as const, 'NodeConsolidation' as const),
    node: fc.integer({ min: 0, max: nodes }).map((i) => `n${i}`),
  });
const vpaSpecArb = (workloads: number): fc.Arbitrary<VpaSpec> =>
  fc.record({
    back: backArb,
    kind: fc.constantFrom('Eviction' as const, 'Eviction' as const, 'InPlaceResize' as const, 'RecommendationUpdate' as const, 'RecommendationUpdate' as const),
    workload: fc.integer({ min: 0, max: workloads }).map((i) => `Deployment/shop/w${i}`),
    pod: fc.integer({ min: 0, max: 5 }).map((i) => `p${i}`),
    increase: fc.constantFrom(true, false, undefined),
    // values whose reversals fall on either side of the thresholds, some within rounding of them
    cpu: fc.constantFrom(100, 130, 200, 260, 1000, 1350, 2000, 2100, 3001),
    memory: fc.option(fc.constantFrom(256, 300, 512, 1024), { nil: undefined }),
  });

type Step = { dt: number; op: 'observe'; nap: NapSpec[]; vpa: VpaSpec[]; facts: string[] } | { dt: number; op: 'tick' } | { dt: number; op: 'trip' | 'reset' };

const stepArb = (o: { nodes: number; workloads: number; batch: number }): fc.Arbitrary<Step> =>
  fc
    .record({
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 * MIN }), fc.integer({ min: 0, max: 25 * MIN })),
      action: fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({
            nap: fc.array(napSpecArb(o.nodes), { maxLength: o.batch }),
            vpa: fc.array(vpaSpecArb(o.workloads), { maxLength: o.batch }),
            facts: fc.subarray(['a', 'b', 'c', 'd', 'e']),
          }),
        },
        { weight: 2, arbitrary: fc.constant('tick' as const) },
        { weight: 1, arbitrary: fc.constantFrom('trip' as const, 'reset' as const) },
      ),
    })
    .map(({ dt, action }): Step => (typeof action === 'string' ? { dt, op: action } : { dt, op: 'observe', ...action }));

const stepsArb = (o = { nodes: 8, workloads: 3, batch: 6 }, maxLength = 40): fc.Arbitrary<Step[]> => fc.array(stepArb(o), { minLength: 1, maxLength });

function batchOf(step: Extract<Step, { op: 'observe' }>, now: number): { nap: NapEvent[]; vpa: VpaEvent[]; facts: Fact[] } {
  return {
    nap: step.nap.map((n) => ({ at: now - n.back, kind: n.kind, node: n.node })),
    vpa: step.vpa.map((v): VpaEvent => {
      const e: VpaEvent = { at: now - v.back, kind: v.kind, source: 'VPA', workload: v.workload };
      if (v.kind === 'RecommendationUpdate') e.recommendation = { cpu: v.cpu, ...(v.memory !== undefined ? { memory: v.memory } : {}) };
      else {
        e.pod = v.pod;
        if (v.increase !== undefined) e.increase = v.increase;
      }
      return e;
    }),
    facts: step.facts.map((f) => ({ type: 'DualGovernance', subject: f, message: `${f} is governed twice` })),
  };
}

interface Run {
  step: Step;
  now: number;
  before: DecisionState;
  outcome: Outcome;
}

/** Runs the steps; `each` sees every step with the state before it and its outcome. */
function run(steps: readonly Step[], st: CoordinationSettings, each?: (r: Run) => void): DecisionState {
  let s = initialState();
  let now = T0;
  for (const step of steps) {
    now += step.dt;
    const outcome =
      step.op === 'observe'
        ? observe(s, batchOf(step, now), st, now)
        : step.op === 'tick'
          ? tick(s, st, now)
          : operator(s, step.op, 'by the property test', st, now);
    each?.({ step, now, before: s, outcome });
    s = outcome.state;
  }
  return s;
}

// ---- properties --------------------------------------------------------------------------------

describe('coordination decision: properties', () => {
  it('the breaker never opens while the breaker (or the coordination) is disabled: only an operator trips it', () => {
    fc.assert(
      fc.property(settingsArb(disabledArb), stepsArb(), (st, steps) => {
        run(steps, st, ({ step, outcome }) => {
          for (const t of outcome.transitions)
            if (t.to === 'Open') {
              expect(t.trip.reason).to.equal('Manual');
              expect(step.op).to.equal('trip');
            }
          if (outcome.state.breaker.state !== 'Closed') expect(outcome.state.breaker.reason).to.equal('Manual');
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a trip always carries a reason from TRIP_REASONS and the numbers that exceed its threshold (numbers.x > numbers.threshold)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(settingsArb(activeArb), stepsArb(), (st, steps) => {
        run(steps, st, ({ step, before, outcome }) => {
          for (const t of outcome.transitions) {
            if (t.to !== 'Open') continue;
            const { reason, numbers, message } = t.trip;
            seen.add(reason);
            expect(TRIP_REASONS).to.include(reason);
            expect(message).to.be.a('string').and.not.equal('');
            expect(outcome.state.breaker).to.deep.include({ state: 'Open', reason, message, numbers, trippedAt: t.at });
            for (const v of Object.values(numbers)) expect(Number.isFinite(v), `${reason} ${JSON.stringify(numbers)}`).to.equal(true);
            switch (reason) {
              case 'NodeChurn':
                expect(numbers.nodeChanges).to.be.greaterThan(numbers.threshold!);
                expect(numbers.threshold).to.equal(numbers.windowMinutes === 5 ? st.breaker.nodeChurnThreshold : st.breaker.nodeChurnPerHour);
                break;
              case 'EvictionStorm':
                expect(numbers.evictions).to.be.greaterThan(numbers.threshold!);
                expect(numbers.threshold).to.equal(numbers.windowMinutes === 10 ? st.breaker.evictionThreshold : st.breaker.evictionRatePerMinute);
                break;
              case 'ConflictRate':
                expect(numbers.conflicts).to.be.greaterThan(numbers.threshold!);
                expect(numbers.threshold).to.equal(st.maxConflictsPerHour);
                break;
              case 'Oscillation':
                expect(numbers.swingPercent).to.be.greaterThan(numbers.thresholdPercent!);
                expect(numbers.thresholdPercent).to.equal(st.breaker.oscillationThreshold);
                expect(outcome.conflicts.some((c) => c.type === 'Oscillation')).to.equal(true);
                break;
              case 'HalfOpenConflict':
                // a new conflict arrived while half open (the observation may have ended the cooldown itself)
                expect(step.op).to.equal('observe');
                expect(outcome.conflicts.length).to.be.greaterThan(0);
                expect(before.breaker.state === 'HalfOpen' || outcome.transitions.some((x) => x.to === 'HalfOpen')).to.equal(true);
                break;
              case 'Manual':
                expect(step.op).to.equal('trip');
                expect(numbers).to.deep.equal({});
                break;
            }
          }
        });
      }),
      { numRuns: 400 },
    );
    // the generator reaches every automatic reason (a property that never trips proves nothing)
    expect([...seen]).to.include.members(['NodeChurn', 'EvictionStorm', 'Oscillation', 'ConflictRate', 'HalfOpenConflict', 'Manual']);
  });

  it('replaying any prefix twice (dedup) yields the same state as once', () => {
    fc.assert(
      fc.property(settingsArb(anyOnArb), stepsArb(), (st, steps) => {
        const once = run(steps, st);
        let twice = initialState();
        let now = T0;
        for (const step of steps) {
          now += step.dt;
          if (step.op !== 'observe') {
            twice = (step.op === 'tick' ? tick(twice, st, now) : operator(twice, step.op, 'by the property test', st, now)).state;
            continue;
          }
          const first = observe(twice, batchOf(step, now), st, now);
          const again = observe(first.state, batchOf(step, now), st, now);
          expect(again.conflicts).to.deep.equal([]);
          expect(again.transitions).to.deep.equal([]);
          twice = again.state;
        }
        expect(twice).to.deep.equal(once);
      }),
      { numRuns: 300 },
    );
  });

  it('resending every node and rightsizing event seen so far changes nothing but the clock', () => {
    fc.assert(
      fc.property(settingsArb(anyOnArb), stepsArb(), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (st, steps, at) => {
        const sent: { nap: NapEvent[]; vpa: VpaEvent[] } = { nap: [], vpa: [] };
        const points = new Set(at.map((i) => i % steps.length));
        let i = 0;
        run(steps, st, ({ step, now, outcome }) => {
          if (step.op === 'observe') {
            const b = batchOf(step, now);
            sent.nap.push(...b.nap);
            sent.vpa.push(...b.vpa);
          }
          if (points.has(i++)) {
            const resent = observe(outcome.state, sent, st, now);
            const timer = tick(outcome.state, st, now);
            expect(resent.conflicts).to.deep.equal([]);
            expect(resent.transitions).to.deep.equal(timer.transitions);
            expect(resent.state).to.deep.equal(timer.state);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('state sizes stay within the caps for any event sequence', function () {
    this.timeout(180_000);
    const most = { nap: 0, vpa: 0, conflicts: 0, recs: 0 };
    // big batches, a minute or two apart: enough to reach every cap
    const bigStepArb: fc.Arbitrary<Step> = fc.record({
      dt: fc.integer({ min: 0, max: 2 * MIN }),
      op: fc.constant('observe' as const),
      nap: fc.array(napSpecArb(5000), { minLength: 100, maxLength: 250 }),
      vpa: fc.array(vpaSpecArb(400), { minLength: 250, maxLength: 300 }),
      facts: fc.subarray(['a', 'b', 'c', 'd', 'e']),
    });
    fc.assert(
      fc.property(settingsArb(anyOnArb), fc.array(bigStepArb, { minLength: 9, maxLength: 12 }), (st, steps) => {
        run(steps, st, ({ outcome: { state: s } }) => {
          most.nap = Math.max(most.nap, s.nap.length);
          most.vpa = Math.max(most.vpa, s.vpa.length);
          most.conflicts = Math.max(most.conflicts, s.conflicts.length);
          most.recs = Math.max(most.recs, Object.keys(s.recs).length);
          expect(s.nap.length).to.be.at.most(MAX_NAP_EVENTS);
          expect(s.vpa.length).to.be.at.most(MAX_VPA_EVENTS);
          expect(s.conflicts.length).to.be.at.most(MAX_CONFLICTS);
          expect(Object.keys(s.recs).length).to.be.at.most(MAX_REC_WORKLOADS);
          for (const h of Object.values(s.recs)) expect(h.length).to.be.at.most(REC_HISTORY);
          // and nothing older than the longest window
          const now = Math.max(s.nap.at(-1)?.at ?? 0, s.vpa.at(-1)?.at ?? 0);
          for (const e of [...s.nap, ...s.vpa]) expect(now - e.at).to.be.at.most(60 * MIN);
        });
      }),
      { numRuns: 4 },
    );
    // the generator reached the caps (a property far below them proves nothing)
    expect(most).to.deep.equal({ nap: MAX_NAP_EVENTS, vpa: MAX_VPA_EVENTS, conflicts: MAX_CONFLICTS, recs: MAX_REC_WORKLOADS });
  });

  it('Open always has cooldownUntil = trippedAt + cooldownMs; HalfOpen always ends halfOpenMs after it began, after the cooldown', () => {
    fc.assert(
      fc.property(settingsArb(anyOnArb), stepsArb(), (st, steps) => {
        run(steps, st, ({ now, outcome }) => {
          const b = outcome.state.breaker;
          for (const t of outcome.transitions) {
            expect(t.at).to.equal(now);
            if (t.to === 'Open') expect(t.cooldownUntil).to.equal(t.at + st.breaker.cooldownMs);
            if (t.to === 'HalfOpen') expect(t.halfOpenUntil).to.equal(t.at + st.halfOpenMs);
          }
          if (b.state === 'Open') {
            expect(b.trippedAt).to.be.a('number');
            expect(b.cooldownUntil).to.equal(b.trippedAt! + st.breaker.cooldownMs);
            expect(b.reason).to.be.oneOf([...TRIP_REASONS]);
          }
          if (b.state === 'HalfOpen') {
            expect(b.halfOpenUntil! - st.halfOpenMs).to.be.at.least(b.cooldownUntil!);
            expect(b.halfOpenUntil! - st.halfOpenMs).to.be.at.most(now);
          }
          if (b.state === 'Closed') {
            expect(b.reason).to.equal(undefined);
            expect(b.cooldownUntil).to.equal(undefined);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('nextWake is never in the past of the last transition, and is pending exactly while the breaker is not closed', () => {
    fc.assert(
      fc.property(settingsArb(anyOnArb), stepsArb(), (st, steps) => {
        let lastTransition = -Infinity;
        run(steps, st, ({ outcome }) => {
          const last = outcome.transitions.at(-1);
          if (last !== undefined) lastTransition = last.at;
          const wake = nextWake(outcome.state);
          if (outcome.state.breaker.state === 'Closed') expect(wake).to.equal(undefined);
          else {
            expect(wake).to.be.a('number');
            expect(wake!).to.be.greaterThan(lastTransition);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('the counts add up: trips are the Open transitions, conflictsTotal the conflicts reported, and no correlated conflict is reported twice', () => {
    fc.assert(
      fc.property(settingsArb(anyOnArb), stepsArb(), (st, steps) => {
        let opens = 0;
        let reported = 0;
        const keys = new Set<string>();
        const s = run(steps, st, ({ outcome }) => {
          opens += outcome.transitions.filter((t) => t.to === 'Open').length;
          reported += outcome.conflicts.length;
          for (const c of outcome.conflicts) {
            if (c.type === 'DualGovernance' || c.type === 'OutsideDedicatedPool') continue;
            expect(keys.has(c.key), c.key).to.equal(false);
            keys.add(c.key);
          }
        });
        expect(s.breaker.trips).to.equal(opens);
        expect(s.conflictsTotal).to.equal(reported);
      }),
      { numRuns: 300 },
    );
  });

  it('no trip is missed: after an observation the breaker is open, or what happened since it last left Open is within every threshold', () => {
    fc.assert(
      fc.property(settingsArb(activeArb), stepsArb(), (st, steps) => {
        // the model's floor: the end of the last cooldown (half open, then closed by the quiet period), or the last reset
        let floor = -Infinity;
        let cooldownUntil = -Infinity;
        run(steps, st, ({ step, now, outcome }) => {
          for (const t of outcome.transitions) {
            if (t.to === 'Open') cooldownUntil = t.cooldownUntil;
            else if (t.to === 'HalfOpen') floor = cooldownUntil;
            else if (t.reason !== 'QuietPeriodElapsed') floor = t.at;
          }
          if (step.op !== 'observe' || outcome.state.breaker.state === 'Open') return;
          const w = windowCounts(outcome.state, now, floor);
          const b = st.breaker;
          expect(w.nodeChanges5m, 'node changes in 5 min').to.be.at.most(b.nodeChurnThreshold);
          if (b.nodeChurnPerHour !== undefined) expect(w.nodeChanges1h, 'node changes in 1 h').to.be.at.most(b.nodeChurnPerHour);
          expect(w.evictions10m, 'evictions in 10 min').to.be.at.most(b.evictionThreshold);
          if (b.evictionRatePerMinute !== undefined) expect(w.evictions1m, 'evictions in 1 min').to.be.at.most(b.evictionRatePerMinute);
          expect(w.conflicts1h, 'conflicts in 1 h').to.be.at.most(st.maxConflictsPerHour);
          if (outcome.state.breaker.state === 'HalfOpen') expect(outcome.conflicts, 'a conflict while half open').to.deep.equal([]);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('a reversal trips exactly when it is larger than oscillationThreshold, and its numbers say by how much (never rounded down to it)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 20_000 }),
        fc.integer({ min: 1, max: 90 }),
        fc.constantFrom(-1, 1),
        fc.constantFrom(0, 1, 2),
        (y, threshold, dir, k) => {
          // a change just at, or just past, threshold % of y
          const delta = Math.floor((y * threshold) / 100) + k;
          const z = y + dir * delta;
          const x = y + dir; // the step before went the other way
          const st = { ...settingsFor(), breaker: { ...settingsFor().breaker, oscillationThreshold: threshold } };
          let s = initialState();
          let o: Outcome | undefined;
          for (const [i, v] of [x, y, z].entries()) {
            o = observe(
              s,
              { vpa: [{ at: T0 + i * MIN, kind: 'RecommendationUpdate', source: 'VPA', workload: 'w', recommendation: { cpu: v } }] },
              st,
              T0 + i * MIN,
            );
            s = o.state;
          }
          const over = (delta / y) * 100 > threshold;
          const trip = o!.transitions.find((t) => t.to === 'Open');
          expect(trip !== undefined, `${x} → ${y} → ${z}, threshold ${threshold} %`).to.equal(over);
          if (trip?.to === 'Open') {
            expect(trip.trip.reason).to.equal('Oscillation');
            expect(trip.trip.numbers.swingPercent).to.be.greaterThan(threshold);
            expect(trip.trip.numbers).to.deep.include({ thresholdPercent: threshold, previous: y, current: z });
            expect(trip.trip.message).to.contain(`(${x} → ${y} → ${z}; threshold ${threshold} %)`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('each reversal of a recommendation is reported once, however often and however late the same values come again', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(1000, 1350, 2000), fc.constantFrom(MIN, 10 * MIN, 70 * MIN, 3 * 60 * MIN)), { minLength: 3, maxLength: 20 }),
        (seq) => {
          const st = { ...settingsFor(), breaker: { ...settingsFor().breaker, enabled: false } };
          let s = initialState();
          let now = T0;
          let reversals = 0;
          let reported = 0;
          const hist: number[] = [];
          for (const [v, gap] of seq) {
            now += gap;
            const o = observe(s, { vpa: [{ at: now, kind: 'RecommendationUpdate', source: 'VPA', workload: 'w', recommendation: { cpu: v } }] }, st, now);
            s = o.state;
            reported += o.conflicts.filter((c) => c.type === 'Oscillation').length;
            // the model: a new value extends the history; a reversal of the last three by more than 30 % is one conflict
            if (hist.at(-1) !== v) {
              hist.push(v);
              const [a, b, c] = hist.slice(-3);
              if (hist.length >= 3 && (b! - a!) * (c! - b!) < 0 && (Math.abs(c! - b!) / b!) * 100 > 30) reversals++;
            }
          }
          expect(reported).to.equal(reversals);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a tick at the same clock twice is a tick once (timers are idempotent)', () => {
    fc.assert(
      fc.property(settingsArb(anyOnArb), stepsArb(), fc.integer({ min: 0, max: 90 * MIN }), (st, steps, later) => {
        const s = run(steps, st);
        const now = T0 + steps.reduce((a, x) => a + x.dt, 0) + later;
        const once = tick(s, st, now);
        const again = tick(once.state, st, now);
        expect(again.transitions).to.deep.equal([]);
        expect(again.state).to.deep.equal(once.state);
      }),
      { numRuns: 200 },
    );
  });
});
