/**
 * One coordination object's decisions, pure: the event windows, the conflicts they show, and the
 * circuit breaker. The workflow feeds observations and the clock; this module answers what
 * happened (new conflicts, a trip, a transition) with the numbers, and the state to keep.
 *
 * Conflicts (a closed set, lib/crds/platform/constants.ts), by temporal correlation:
 *   - EvictionScaleUp: a node added within EVICTION_SCALE_UP_WINDOW_MS after an eviction or an
 *     upsizing of a governed workload (its larger replacement needed room). One per node event.
 *   - ScaleDownEviction: an eviction within SCALE_DOWN_EVICTION_WINDOW_MS after a node removed
 *     (rightsizing undoes what the consolidation just packed). One per node event.
 *   - Oscillation: a workload's recommendation reverses direction, the reversal larger than
 *     oscillationThreshold percent of the previous value.
 *   - DualGovernance / OutsideDedicatedPool: facts found by inspection, reported once an hour each.
 * The breaker (document 000 "Circuit Breaker Logic"), when enabled, trips (Closed or HalfOpen →
 * Open) when node changes in 5 min exceed nodeChurnThreshold (or the tier's nodeChurnPerHour in
 * 1 h), evictions in 10 min exceed evictionThreshold (or the tier's evictionRatePerMinute in
 * 1 min), an Oscillation is seen, conflicts in the last hour exceed maxConflictsPerHour, or — half
 * open — any new conflict arrives. Open lasts cooldownMs (`cooldownUntil`), then HalfOpen lets
 * updates resume for halfOpenMs; quiet, it closes. An operator trips (Manual, for the cooldown)
 * or resets (closed at once) it.
 */
import type { ConflictType, ResetReason, TripReason } from '../../lib/crds/platform/constants';
import {
  EVICTION_SCALE_UP_WINDOW_MS,
  EVICTION_WINDOW_MS,
  HOUR_MS,
  MINUTE_MS,
  NODE_CHURN_WINDOW_MS,
  SCALE_DOWN_EVICTION_WINDOW_MS,
  type CoordinationSettings,
} from './settings';

export interface NapEvent {
  at: number;
  kind: 'NodeScaleUp' | 'NodeScaleDown' | 'NodeConsolidation';
  node: string;
}

export interface VpaEvent {
  at: number;
  kind: 'Eviction' | 'InPlaceResize' | 'RecommendationUpdate';
  source: 'VPA' | 'OptimizationPolicy';
  workload: string;
  pod?: string;
  recommendation?: { cpu?: number; memory?: number };
  increase?: boolean;
}

export interface Conflict {
  at: number;
  type: ConflictType;
  message: string;
  numbers: Record<string, number>;
  /** Dedup key: the same conflict is never counted twice. */
  key: string;
}

export interface Fact {
  type: Extract<ConflictType, 'DualGovernance' | 'OutsideDedicatedPool'>;
  /** What it is about (a workload, a pod); reported at most once an hour per subject. */
  subject: string;
  message: string;
}

export type BreakerState = 'Closed' | 'Open' | 'HalfOpen';

export interface Breaker {
  state: BreakerState;
  reason?: TripReason;
  message?: string;
  numbers?: Record<string, number>;
  trippedAt?: number;
  cooldownUntil?: number;
  halfOpenUntil?: number;
  trips: number;
  /** Closed: what happened before this never trips it again (a reset or disabled: when it closed; the quiet period: when the cooldown ended). */
  closedAt?: number;
}

export interface DecisionState {
  nap: NapEvent[];
  vpa: VpaEvent[];
  /** Recent recommendation targets per workload (newest last, at most REC_HISTORY). */
  recs: Record<string, { at: number; cpu?: number; memory?: number }[]>;
  /** Conflicts of the last hour (for the rate and dedup), newest last. */
  conflicts: Conflict[];
  conflictsTotal: number;
  lastConflictAt?: number;
  lastConflictType?: ConflictType;
  breaker: Breaker;
}

export interface Trip {
  reason: TripReason;
  message: string;
  numbers: Record<string, number>;
}

export type Transition =
  | { to: 'Open'; trip: Trip; at: number; cooldownUntil: number }
  | { to: 'HalfOpen'; reason: ResetReason; at: number; halfOpenUntil: number }
  | { to: 'Closed'; reason: ResetReason; at: number; message: string };

export interface Outcome {
  state: DecisionState;
  conflicts: Conflict[];
  transitions: Transition[];
}

/** Caps that keep the state (and so the workflow's history) bounded. */
export const MAX_NAP_EVENTS = 500;
export const MAX_VPA_EVENTS = 2000;
export const MAX_CONFLICTS = 200;
export const REC_HISTORY = 3;
export const MAX_REC_WORKLOADS = 200;

export function initialState(): DecisionState {
  return { nap: [], vpa: [], recs: {}, conflicts: [], conflictsTotal: 0, breaker: { state: 'Closed', trips: 0 } };
}

const napKey = (e: NapEvent): string => `${e.kind}/${e.node}/${e.at}`;
const vpaKey = (e: VpaEvent): string => `${e.kind}/${e.workload}/${e.pod ?? ''}/${e.at}`;
const isUpdate = (e: VpaEvent): boolean => e.kind === 'Eviction' || e.kind === 'InPlaceResize';
const pct = (a: number, b: number): number => (b === 0 ? (a === 0 ? 0 : Infinity) : (Math.abs(a - b) / b) * 100);
const round = (x: number): number => Math.round(x * 10) / 10;

/** Events kept: the longest window looking back (one hour), and the caps. */
function prune(s: DecisionState, now: number): DecisionState {
  const since = now - HOUR_MS;
  const nap = s.nap.filter((e) => e.at >= since).slice(-MAX_NAP_EVENTS);
  const vpa = s.vpa.filter((e) => e.at >= since).slice(-MAX_VPA_EVENTS);
  const conflicts = s.conflicts.filter((c) => c.at >= since).slice(-MAX_CONFLICTS);
  let recs = s.recs;
  const keys = Object.keys(recs);
  if (keys.length > MAX_REC_WORKLOADS) {
    const newest = keys.map((k) => [k, recs[k]!.at(-1)?.at ?? 0] as const).sort((a, b) => b[1] - a[1]);
    recs = Object.fromEntries(newest.slice(0, MAX_REC_WORKLOADS).map(([k]) => [k, s.recs[k]!]));
  }
  return { ...s, nap, vpa, conflicts, recs };
}

/** The window counts the breaker compares with its thresholds. */
export function windowCounts(
  s: DecisionState,
  now: number,
  floor = -Infinity,
): { nodeChanges5m: number; nodeChanges1h: number; evictions10m: number; evictions1m: number; conflicts1h: number } {
  const count = <T extends { at: number }>(xs: readonly T[], since: number, f: (x: T) => boolean = () => true): number =>
    xs.reduce((n, x) => (x.at > Math.max(since, floor) && x.at <= now && f(x) ? n + 1 : n), 0);
  return {
    nodeChanges5m: count(s.nap, now - NODE_CHURN_WINDOW_MS),
    nodeChanges1h: count(s.nap, now - HOUR_MS),
    evictions10m: count(s.vpa, now - EVICTION_WINDOW_MS, (e) => e.kind === 'Eviction'),
    evictions1m: count(s.vpa, now - MINUTE_MS, (e) => e.kind === 'Eviction'),
    conflicts1h: count(s.conflicts, now - HOUR_MS),
  };
}

function correlate(s: DecisionState, newNap: readonly NapEvent[], newVpa: readonly VpaEvent[], settings: CoordinationSettings): Conflict[] {
  const seen = new Set(s.conflicts.map((c) => c.key));
  const out: Conflict[] = [];
  const add = (c: Conflict): void => {
    if (seen.has(c.key)) return;
    seen.add(c.key);
    out.push(c);
  };
  const newNapKeys = new Set(newNap.map(napKey));
  const newVpaKeys = new Set(newVpa.map(vpaKey));
  const updates = s.vpa.filter(isUpdate);
  for (const n of s.nap) {
    const nodeIsNew = newNapKeys.has(napKey(n));
    if (n.kind === 'NodeScaleUp') {
      // evictions / upsizings shortly before the node came
      const before = updates.filter((e) => e.increase !== false && e.at <= n.at && n.at - e.at <= EVICTION_SCALE_UP_WINDOW_MS);
      if (before.length > 0 && (nodeIsNew || before.some((e) => newVpaKeys.has(vpaKey(e))))) {
        const last = Math.max(...before.map((e) => e.at));
        add({
          at: n.at,
          type: 'EvictionScaleUp',
          key: `EvictionScaleUp/${napKey(n)}`,
          message: `node ${n.node} added ${Math.round((n.at - last) / 1000)} s after ${before.length} rightsizing update(s) of governed workloads (window ${EVICTION_SCALE_UP_WINDOW_MS / 60_000} min)`,
          numbers: { updates: before.length, secondsAfterUpdate: Math.round((n.at - last) / 1000) },
        });
      }
    } else {
      const after = updates.filter((e) => e.kind === 'Eviction' && e.at >= n.at && e.at - n.at <= SCALE_DOWN_EVICTION_WINDOW_MS);
      if (after.length > 0 && (nodeIsNew || after.some((e) => newVpaKeys.has(vpaKey(e))))) {
        const first = Math.min(...after.map((e) => e.at));
        add({
          at: Math.max(...after.map((e) => e.at)),
          type: 'ScaleDownEviction',
          key: `ScaleDownEviction/${napKey(n)}`,
          message: `${after.length} eviction(s) of governed workloads within ${Math.round((first - n.at) / 1000)} s after node ${n.node} was removed (window ${SCALE_DOWN_EVICTION_WINDOW_MS / 60_000} min)`,
          numbers: { evictions: after.length, secondsAfterRemoval: Math.round((first - n.at) / 1000) },
        });
      }
    }
  }
  // oscillation: a reversal of direction larger than the threshold
  for (const e of newVpa) {
    if (e.kind !== 'RecommendationUpdate' || e.recommendation === undefined) continue;
    const h = s.recs[e.workload] ?? [];
    if (h.length < 3) continue;
    const [a, b, c] = h.slice(-3) as [(typeof h)[0], (typeof h)[0], (typeof h)[0]];
    // only a recommendation that moved (the newest of the history) is judged: the same values again are no new reversal
    if (c.at !== e.at) continue;
    for (const res of ['cpu', 'memory'] as const) {
      const x = a[res];
      const y = b[res];
      const z = c[res];
      if (x === undefined || y === undefined || z === undefined) continue;
      const reversed = (y - x) * (z - y) < 0;
      const swing = pct(z, y);
      // rounded for people, unless rounding would bring it down to the threshold it exceeds
      const shown = round(swing) > settings.breaker.oscillationThreshold ? round(swing) : swing;
      if (reversed && swing > settings.breaker.oscillationThreshold)
        add({
          at: e.at,
          type: 'Oscillation',
          key: `Oscillation/${e.workload}/${res}/${c.at}`,
          message: `${e.workload} ${res} recommendation reversed direction by ${shown} % (${x} → ${y} → ${z}; threshold ${settings.breaker.oscillationThreshold} %)`,
          numbers: { swingPercent: shown, thresholdPercent: settings.breaker.oscillationThreshold, previous: y, current: z },
        });
    }
  }
  return out;
}

function tripCheck(s: DecisionState, fresh: readonly Conflict[], settings: CoordinationSettings, now: number): Trip | undefined {
  const b = settings.breaker;
  // half open, only what happened since the cooldown ended counts: the events that tripped it do not trip it again
  // closed again, only what happened since counts (the events an operator reset are not counted twice)
  const w = windowCounts(s, now, s.breaker.state === 'HalfOpen' ? (s.breaker.cooldownUntil ?? -Infinity) : (s.breaker.closedAt ?? -Infinity));
  if (w.nodeChanges5m > b.nodeChurnThreshold)
    return {
      reason: 'NodeChurn',
      message: `${w.nodeChanges5m} node changes in 5 min exceed nodeChurnThreshold ${b.nodeChurnThreshold}`,
      numbers: { nodeChanges: w.nodeChanges5m, threshold: b.nodeChurnThreshold, windowMinutes: 5 },
    };
  if (b.nodeChurnPerHour !== undefined && w.nodeChanges1h > b.nodeChurnPerHour)
    return {
      reason: 'NodeChurn',
      message: `${w.nodeChanges1h} node changes in 1 h exceed the tier's nodeChurnPerHour ${b.nodeChurnPerHour}`,
      numbers: { nodeChanges: w.nodeChanges1h, threshold: b.nodeChurnPerHour, windowMinutes: 60 },
    };
  if (w.evictions10m > b.evictionThreshold)
    return {
      reason: 'EvictionStorm',
      message: `${w.evictions10m} evictions in 10 min exceed evictionThreshold ${b.evictionThreshold}`,
      numbers: { evictions: w.evictions10m, threshold: b.evictionThreshold, windowMinutes: 10 },
    };
  if (b.evictionRatePerMinute !== undefined && w.evictions1m > b.evictionRatePerMinute)
    return {
      reason: 'EvictionStorm',
      message: `${w.evictions1m} evictions in 1 min exceed the tier's evictionRatePerMinute ${b.evictionRatePerMinute}`,
      numbers: { evictions: w.evictions1m, threshold: b.evictionRatePerMinute, windowMinutes: 1 },
    };
  const osc = fresh.find((c) => c.type === 'Oscillation');
  if (osc) return { reason: 'Oscillation', message: osc.message, numbers: osc.numbers };
  if (w.conflicts1h > settings.maxConflictsPerHour)
    return {
      reason: 'ConflictRate',
      message: `${w.conflicts1h} conflicts in the last hour exceed maxConflictsPerHour ${settings.maxConflictsPerHour}`,
      numbers: { conflicts: w.conflicts1h, threshold: settings.maxConflictsPerHour },
    };
  if (s.breaker.state === 'HalfOpen' && fresh.length > 0) {
    const c = fresh[fresh.length - 1]!;
    return { reason: 'HalfOpenConflict', message: `a ${c.type} conflict during the half-open cooldown: ${c.message}`, numbers: c.numbers };
  }
  return undefined;
}

function open(s: DecisionState, trip: Trip, settings: CoordinationSettings, now: number): { state: DecisionState; t: Transition } {
  const cooldownUntil = now + settings.breaker.cooldownMs;
  return {
    state: {
      ...s,
      breaker: { state: 'Open', reason: trip.reason, message: trip.message, numbers: trip.numbers, trippedAt: now, cooldownUntil, trips: s.breaker.trips + 1 },
    },
    t: { to: 'Open', trip, at: now, cooldownUntil },
  };
}

/** Timers: Open → HalfOpen after the cooldown, HalfOpen → Closed after the quiet period; a disabled breaker closes. */
export function tick(s0: DecisionState, settings: CoordinationSettings, now: number): Outcome {
  let s = prune(s0, now);
  const transitions: Transition[] = [];
  const b = s.breaker;
  if (b.state !== 'Closed' && (!settings.breaker.enabled || !settings.enabled || settings.strategy === 'disabled') && b.reason !== 'Manual') {
    s = { ...s, breaker: { state: 'Closed', trips: b.trips, closedAt: now } };
    transitions.push({ to: 'Closed', reason: 'BreakerDisabled', at: now, message: 'the circuit breaker or the coordination is disabled' });
    return { state: s, conflicts: [], transitions };
  }
  if (b.state === 'Open' && b.cooldownUntil !== undefined && now >= b.cooldownUntil) {
    const halfOpenUntil = now + settings.halfOpenMs;
    s = { ...s, breaker: { ...b, state: 'HalfOpen', halfOpenUntil } };
    transitions.push({ to: 'HalfOpen', reason: 'CooldownElapsed', at: now, halfOpenUntil });
  }
  const h = s.breaker;
  if (h.state === 'HalfOpen' && h.halfOpenUntil !== undefined && now >= h.halfOpenUntil) {
    // what happened half open did not trip it and still counts: only what came before the cooldown ended is left behind
    s = { ...s, breaker: { state: 'Closed', trips: h.trips, closedAt: h.cooldownUntil ?? now } };
    transitions.push({
      to: 'Closed',
      reason: 'QuietPeriodElapsed',
      at: now,
      message: `no conflict for ${Math.round(settings.halfOpenMs / 60_000)} min after the cooldown`,
    });
  }
  return { state: s, conflicts: [], transitions };
}

/** New observations (deduplicated: a watcher's resend changes nothing), then the breaker. */
export function observe(
  s0: DecisionState,
  input: { nap?: readonly NapEvent[]; vpa?: readonly VpaEvent[]; facts?: readonly Fact[] },
  settings: CoordinationSettings,
  now: number,
): Outcome {
  const first = tick(s0, settings, now);
  let s = first.state;
  const transitions = [...first.transitions];
  const napKeys = new Set(s.nap.map(napKey));
  const vpaKeys = new Set(s.vpa.map(vpaKey));
  const newNap = (input.nap ?? []).filter((e) => e.at >= now - HOUR_MS && !napKeys.has(napKey(e)) && napKeys.add(napKey(e)));
  const newVpa = (input.vpa ?? []).filter((e) => e.at >= now - HOUR_MS && !vpaKeys.has(vpaKey(e)) && vpaKeys.add(vpaKey(e)));
  const recs = { ...s.recs };
  for (const e of newVpa)
    if (e.kind === 'RecommendationUpdate' && e.recommendation !== undefined) {
      const h = recs[e.workload] ?? [];
      const last = h.at(-1);
      if (last === undefined || last.cpu !== e.recommendation.cpu || last.memory !== e.recommendation.memory)
        recs[e.workload] = [...h, { at: e.at, ...e.recommendation }].slice(-REC_HISTORY);
    }
  s = {
    ...s,
    nap: [...s.nap, ...newNap].sort((a, b) => a.at - b.at),
    vpa: [...s.vpa, ...newVpa].sort((a, b) => a.at - b.at),
    recs,
  };
  const fresh = correlate(s, newNap, newVpa, settings);
  for (const f of input.facts ?? []) {
    const key = `${f.type}/${f.subject}`;
    if (s.conflicts.some((c) => c.key === key) || fresh.some((c) => c.key === key)) continue;
    fresh.push({ at: now, type: f.type, key, message: f.message, numbers: {} });
  }
  if (fresh.length > 0) {
    const last = fresh.reduce((a, c) => (c.at >= a.at ? c : a));
    s = { ...s, conflicts: [...s.conflicts, ...fresh], conflictsTotal: s.conflictsTotal + fresh.length, lastConflictAt: last.at, lastConflictType: last.type };
  }
  s = prune(s, now);
  const active = settings.enabled && settings.strategy !== 'disabled' && settings.breaker.enabled;
  if (active && s.breaker.state !== 'Open') {
    const trip = tripCheck(s, fresh, settings, now);
    if (trip) {
      const o = open(s, trip, settings, now);
      s = o.state;
      transitions.push(o.t);
    }
  }
  return { state: s, conflicts: fresh, transitions };
}

/** An operator's trip (Manual, for the cooldown) or reset (closed at once). */
export function operator(s0: DecisionState, command: 'trip' | 'reset', reason: string, settings: CoordinationSettings, now: number): Outcome {
  const s = prune(s0, now);
  if (command === 'trip') {
    if (s.breaker.state === 'Open') return { state: s, conflicts: [], transitions: [] };
    const o = open(s, { reason: 'Manual', message: `tripped by an operator: ${reason}`, numbers: {} }, settings, now);
    return { state: o.state, conflicts: [], transitions: [o.t] };
  }
  if (s.breaker.state === 'Closed') return { state: s, conflicts: [], transitions: [] };
  return {
    state: { ...s, breaker: { state: 'Closed', trips: s.breaker.trips, closedAt: now } },
    conflicts: [],
    transitions: [{ to: 'Closed', reason: 'Manual', at: now, message: `reset by an operator: ${reason}` }],
  };
}

/** When the workflow must wake for a timer (undefined: none pending). */
export function nextWake(s: DecisionState): number | undefined {
  const b = s.breaker;
  if (b.state === 'Open') return b.cooldownUntil;
  if (b.state === 'HalfOpen') return b.halfOpenUntil;
  return undefined;
}

/** Updates are paused while the breaker is open (half-open lets them resume). */
export function paused(s: DecisionState): boolean {
  return s.breaker.state === 'Open';
}
