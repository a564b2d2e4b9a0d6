/**
 * The pure costs of coordination (no I/O), for bench/coordination.ts: one object's `observe()` on
 * a busy decision state, the rightsizing gate's `coordinationGate()`, the hub's `admissionFacts()`,
 * `reserve()` and its node-event handling (onNapEvents + interestedObjects), and the `stateQuery`
 * view (toView), each timed per call with process.hrtime over many warmed-up iterations.
 *
 * The states are those of the load the bench drives: E events/s over N objects (E/N per object),
 * node events at R/s cluster-wide that the hub forwards to every object that saw rightsizing
 * activity in the last 10 minutes (so to all of them), after an hour:
 *   - busyHour: one object's windows after an hour at that rate (its rightsizing events of the hour,
 *     the node events up to MAX_NAP_EVENTS, one workload's recommendations);
 *   - atCaps: every window at its cap (MAX_VPA_EVENTS, MAX_NAP_EVENTS, MAX_CONFLICTS,
 *     MAX_REC_WORKLOADS) — the most one object ever holds.
 */
import {
  initialState,
  MAX_CONFLICTS,
  MAX_NAP_EVENTS,
  MAX_REC_WORKLOADS,
  MAX_VPA_EVENTS,
  observe,
  type DecisionState,
  type NapEvent,
  type VpaEvent,
} from '../decision/coordination/decide';
import { coordinationGate } from '../decision/coordination/gate';
import { DEFAULT_SETTINGS, HOUR_MS, type CoordinationSettings } from '../decision/coordination/settings';
import type { ObjectReport } from '../workflows/coordination/contracts';
import {
  admissionFacts,
  initialHub,
  interestedObjects,
  MAX_HUB_NAP,
  MAX_RESERVATION_KEYS,
  nodeChurn,
  onNapEvents,
  reserve,
  type HubSettings,
  type HubState,
} from '../workflows/coordination/hub-state';
import { toView } from '../workflows/coordination/view';
import type { CoordinationRead } from '../activities/coordination/coordination';
import { percentile, round3 } from './stats';

export interface PureOptions {
  objects: number;
  namespaces: number;
  eventsPerSecond: number;
  napPerSecond: number;
  iterations: number;
  warmup: number;
  hub: HubSettings;
}

export interface CallStats {
  iterations: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
}

/** The object settings the bench creates (thresholds above the load, as the objects of bench/coordination.ts). */
export const BENCH_SETTINGS: CoordinationSettings = {
  ...DEFAULT_SETTINGS,
  breaker: { enabled: true, nodeChurnThreshold: 1000, evictionThreshold: 10_000, oscillationThreshold: 1000, cooldownMs: 5 * 60_000 },
  halfOpenMs: 5 * 60_000,
  maxConflictsPerHour: 1000,
};

function time(iterations: number, warmup: number, call: (i: number) => void): CallStats {
  for (let i = 0; i < warmup; i++) call(i);
  const us: number[] = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    call(warmup + i);
    us[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  return {
    iterations,
    p50Us: round3(percentile(us, 50)),
    p99Us: round3(percentile(us, 99)),
    maxUs: round3(Math.max(...us)),
    meanUs: round3(us.reduce((a, b) => a + b, 0) / iterations),
  };
}

const WORKLOAD = 'vpa-0:vpa-0';

/** One object's rightsizing event as the watcher sends it (an OptimizationPolicy eviction, a downsizing). */
function eviction(at: number, i: number): VpaEvent {
  return { at, kind: 'Eviction', source: 'OptimizationPolicy', workload: `Deployment/ns/w${i % 10}`, pod: `w${i % 10}-pod-${i}`, increase: false };
}

function busyState(kind: 'busyHour' | 'atCaps', now: number, o: PureOptions): DecisionState {
  const s = initialState();
  const perObject = o.eventsPerSecond / o.objects;
  const vpaCount = kind === 'atCaps' ? MAX_VPA_EVENTS : Math.min(MAX_VPA_EVENTS, Math.round(perObject * 3600));
  const napCount = kind === 'atCaps' ? MAX_NAP_EVENTS : Math.min(MAX_NAP_EVENTS, Math.round(o.napPerSecond * 3600));
  const vpa: VpaEvent[] = [];
  for (let i = 0; i < vpaCount; i++) {
    const at = now - HOUR_MS + Math.round(((i + 1) * HOUR_MS) / (vpaCount + 1));
    vpa.push(
      i % 10 < 7
        ? eviction(at, i)
        : { at, kind: 'RecommendationUpdate', source: 'VPA', workload: WORKLOAD, recommendation: { cpu: 100 + i, memory: 2 ** 27 + i * 2 ** 20 } },
    );
  }
  // the node events the hub forwarded (the newest MAX_NAP_EVENTS of the hour)
  const napSpan = Math.min(HOUR_MS, (napCount / Math.max(o.napPerSecond, 1e-9)) * 1000);
  const nap: NapEvent[] = [];
  for (let i = 0; i < napCount; i++) nap.push({ at: now - napSpan + Math.round(((i + 1) * napSpan) / (napCount + 1)), kind: 'NodeScaleUp', node: `node-${i}` });
  const recs: DecisionState['recs'] = {};
  const recWorkloads = kind === 'atCaps' ? MAX_REC_WORKLOADS : 1;
  for (let w = 0; w < recWorkloads; w++) {
    const name = w === 0 ? WORKLOAD : `vpa-0:w${w}`;
    recs[name] = [0, 1, 2].map((k) => ({ at: now - (3 - k) * 60_000, cpu: 100 + k, memory: 2 ** 27 + k }));
  }
  const conflicts =
    kind === 'atCaps'
      ? Array.from({ length: MAX_CONFLICTS }, (_, i) => ({
          at: now - HOUR_MS + (i + 1) * 10_000,
          type: 'EvictionScaleUp' as const,
          message: `node node-${i} added 30 s after 2 rightsizing update(s) of governed workloads (window 5 min)`,
          numbers: { updates: 2, secondsAfterUpdate: 30 },
          key: `EvictionScaleUp/NodeScaleUp/node-${i}/${now - HOUR_MS + i}`,
        }))
      : [];
  return { ...s, vpa, nap, recs, conflicts, conflictsTotal: conflicts.length };
}

function observeStats(kind: 'busyHour' | 'atCaps', o: PureOptions): Record<string, unknown> {
  const t0 = Date.now();
  const base = busyState(kind, t0, o);
  // each call: one new event (one signal of the watcher's batch of one object), the clock moving on
  let s = base;
  const n = Math.ceil(o.iterations / 4);
  const w = Math.ceil(o.warmup / 4);
  const rightsizing = time(n, w, (i) => {
    const now = t0 + i * 10;
    s = observe(s, { vpa: [eviction(now, 100_000 + i)] }, BENCH_SETTINGS, now).state;
  });
  s = base;
  const node = time(n, w, (i) => {
    const now = t0 + i * 10;
    s = observe(s, { nap: [{ at: now, kind: 'NodeScaleUp', node: `new-node-${i}` }] }, BENCH_SETTINGS, now).state;
  });
  // (a variable, not a literal: fields the read gains later need no change here)
  const found = {
    found: true as const,
    generation: 1,
    spec: { vpaName: 'vpa-0', namespace: 'ns', coordinationStrategy: 'coordinated' as const, enabled: true },
    settings: BENCH_SETTINGS,
    vpa: { exists: true, paused: false },
    facts: [],
    vpaUpdatesPerHour: 1000,
  };
  const read: CoordinationRead = found;
  const view = time(Math.min(o.iterations, 5000), Math.min(o.warmup, 500), () => {
    toView({ namespace: 'ns', name: 'vpa-0' }, read, s, BENCH_SETTINGS, { vpaPaused: false }, []);
  });
  return {
    state: { vpaEvents: base.vpa.length, napEvents: base.nap.length, conflicts: base.conflicts.length, recWorkloads: Object.keys(base.recs).length },
    stateJsonBytes: JSON.stringify(base).length,
    rightsizingEvent: rightsizing,
    nodeEvent: node,
    stateQueryView: view,
  };
}

function hubState(now: number, o: PureOptions): { state: HubState; namespaces: string[] } {
  const namespaces = Array.from({ length: o.namespaces }, (_, i) => `bench-ns-${i}`);
  const objects: Record<string, ObjectReport> = {};
  for (let i = 0; i < o.objects; i++) {
    const namespace = namespaces[i % o.namespaces]!;
    const name = `vpa-${Math.floor(i / o.namespaces)}`;
    objects[`${namespace}/${name}`] = {
      object: `${namespace}/${name}`,
      namespace,
      vpaName: name,
      strategy: 'coordinated',
      enabled: true,
      phase: 'Active',
      paused: false,
      // interested (they saw rightsizing activity lately, as under the load) for as long as the iterations run
      interestUntil: now + 3 * HOUR_MS,
      lastUpdateAt: now - 5_000,
      vpaUpdateDelayMs: 5 * 60_000,
      napActionDelayMs: 10 * 60_000,
      nodeChurnThreshold: 1000,
    };
  }
  const nap = Array.from({ length: MAX_HUB_NAP }, (_, i) => ({ at: now - (MAX_HUB_NAP - i) * 1000, kind: 'NodeScaleUp' as const, node: `node-${i}` }));
  const used = Math.floor(o.hub.maxUpdatesPerHour / 2);
  const updates: HubState['updates'] = Array.from({ length: used }, (_, i) => [now - HOUR_MS + (i + 1) * 30_000, namespaces[i % o.namespaces]!, 1]);
  const reservations: HubState['reservations'] = Array.from({ length: MAX_RESERVATION_KEYS }, (_, i) => [
    `cycle-${i}`,
    { granted: 1, clusterBudget: 10, namespaceBudget: 5 },
  ]);
  return { state: { ...initialHub(), nap, lastNodeActionAt: now - 1000, objects, updates, reservations }, namespaces };
}

export function pureCosts(o: PureOptions): Record<string, unknown> {
  const t0 = Date.now();
  const { state: hub, namespaces } = hubState(t0, o);
  let facts = admissionFacts(hub, o.hub, namespaces[0]!, t0);
  const admission = time(o.iterations, o.warmup, (i) => {
    facts = admissionFacts(hub, o.hub, namespaces[i % namespaces.length]!, t0 + i);
  });
  // the gate on one namespace's facts (objects per namespace as in the load), a node changed 1 s ago
  const gateFacts = admissionFacts(hub, o.hub, namespaces[0]!, t0);
  let verdict = coordinationGate(gateFacts, t0);
  const gate = time(o.iterations, o.warmup, (i) => {
    verdict = coordinationGate(gateFacts, t0 + (i % 1000));
  });
  const quietFacts = { ...gateFacts, lastNodeActionAt: t0 - HOUR_MS };
  let quietVerdict = coordinationGate(quietFacts, t0);
  const gateQuiet = time(o.iterations, o.warmup, (i) => {
    quietVerdict = coordinationGate(quietFacts, t0 + (i % 1000));
  });
  let hs = hub;
  const reserveStats = time(o.iterations, o.warmup, (i) => {
    hs = reserve(hs, o.hub, { namespace: namespaces[i % namespaces.length]!, count: 1, key: `bench-${i}` }, t0 + i * 10).state;
  });
  // the hub's handler of one node-event signal: the window, then whom to forward it to
  hs = hub;
  let forwarded = 0;
  const napHandler = time(Math.min(o.iterations, 5000), Math.min(o.warmup, 500), (i) => {
    const now = t0 + i * 1000;
    const prev = nodeChurn(hs, now);
    hs = onNapEvents(hs, [{ at: now, kind: 'NodeScaleUp', node: `new-node-${i}` }], now);
    forwarded = interestedObjects(hs, now, prev).length;
  });
  return {
    observe: { busyHour: observeStats('busyHour', o), atCaps: observeStats('atCaps', o) },
    coordinationGate: {
      objectsInNamespace: gateFacts.objects.length,
      afterNodeChange: { ...gate, verdict: verdict.allowed ? 'allowed' : verdict.reason },
      quiet: { ...gateQuiet, verdict: quietVerdict.allowed ? 'allowed' : quietVerdict.reason },
    },
    hub: {
      objects: Object.keys(hub.objects).length,
      namespaces: namespaces.length,
      stateJsonBytes: JSON.stringify(hub).length,
      admissionFacts: { ...admission, objectsAnswered: facts.objects.length },
      reserve: reserveStats,
      nodeEventSignal: { ...napHandler, objectsForwardedTo: forwarded },
    },
  };
}
