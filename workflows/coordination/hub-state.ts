/**
 * The hub's bookkeeping, pure (workflows/coordination/hub.ts runs it at the workflow's clock):
 * node events, object reports, update budgets over a sliding hour, recent conflicts. Bounded.
 */
import type { AdmissionFacts, ConflictRecord, HubView, NapObservation, ObjectReport, Reservation, ReserveUpdates, ScaleDownHold } from './contracts';

export interface HubSettings {
  maxUpdatesPerHour: number;
  maxUpdatesPerNamespace: number;
}

export interface HubState {
  nap: NapObservation[];
  lastNodeActionAt?: number;
  objects: Record<string, ObjectReport>;
  /** Granted updates of the last hour: [at, namespace, count]. */
  updates: [number, string, number][];
  /** Recent reservations by key (idempotency), newest last. */
  reservations: [string, Reservation][];
  conflicts: ConflictRecord[];
}

const HOUR = 60 * 60_000;
const NAP_KEEP_MS = HOUR;
const CATCH_UP_MS = 10 * 60_000;
export const MAX_HUB_NAP = 1_000;
export const MAX_RESERVATION_KEYS = 500;
export const MAX_HUB_CONFLICTS = 200;

export function initialHub(): HubState {
  return { nap: [], objects: {}, updates: [], reservations: [], conflicts: [] };
}

const napKey = (e: NapObservation): string => `${e.kind}/${e.node}/${e.at}`;

export function onNapEvents(s: HubState, evs: readonly NapObservation[], now: number): HubState {
  if (evs.length === 0) return s;
  // a retried signal resends its batch: an event already kept is not counted twice; the newest are the ones kept
  const keys = new Set(s.nap.map(napKey));
  const fresh = evs.filter((e) => !keys.has(napKey(e)) && keys.add(napKey(e)));
  const nap = [...s.nap, ...fresh]
    .filter((e) => e.at >= now - NAP_KEEP_MS)
    .sort((a, b) => a.at - b.at)
    .slice(-MAX_HUB_NAP);
  const last = Math.max(s.lastNodeActionAt ?? 0, ...evs.map((e) => e.at));
  return { ...s, nap, lastNodeActionAt: last };
}

/** Node changes the hub counts in the breaker's windows. */
export function nodeChurn(s: HubState, now: number): { in5m: number; in1h: number } {
  let in5m = 0;
  let in1h = 0;
  for (const e of s.nap) {
    if (e.at > now - HOUR && e.at <= now) in1h++;
    if (e.at > now - 5 * 60_000 && e.at <= now) in5m++;
  }
  return { in5m, in1h };
}

/**
 * Objects to forward node events to now: those that saw rightsizing activity lately (for the
 * correlation), and those whose node-churn limit the hub's counts exceed (so their breaker trips
 * even before their next update). `full` marks the ones that get the whole window (they did not
 * get the previous events).
 */
export function interestedObjects(s: HubState, now: number, prevChurn?: { in5m: number; in1h: number }): { object: string; full: boolean }[] {
  const churn = nodeChurn(s, now);
  const over = (o: ObjectReport, c: { in5m: number; in1h: number }): boolean =>
    !o.paused && ((o.nodeChurnThreshold !== undefined && c.in5m > o.nodeChurnThreshold) || (o.nodeChurnPerHour !== undefined && c.in1h > o.nodeChurnPerHour));
  const out: { object: string; full: boolean }[] = [];
  for (const o of Object.values(s.objects)) {
    if (!o.enabled || o.strategy === 'disabled') continue;
    const interested = (o.interestUntil ?? 0) > now;
    if (interested) out.push({ object: o.object, full: false });
    else if (over(o, churn)) out.push({ object: o.object, full: prevChurn === undefined || !over(o, prevChurn) });
  }
  return out;
}

/** A report; a newly interested object gets the node events it missed (the last 10 minutes). */
export function onReport(s: HubState, r: ObjectReport, now: number): { state: HubState; catchUp: NapObservation[] } {
  const objects = { ...s.objects };
  const before = objects[r.object];
  if (r.deleted === true) {
    delete objects[r.object];
    return { state: { ...s, objects }, catchUp: [] };
  }
  objects[r.object] = r;
  const wasInterested = (before?.interestUntil ?? 0) > now;
  const isInterested = (r.interestUntil ?? 0) > now && r.enabled && r.strategy !== 'disabled';
  return { state: { ...s, objects }, catchUp: isInterested && !wasInterested ? s.nap.filter((e) => e.at >= now - CATCH_UP_MS) : [] };
}

export function onConflicts(s: HubState, cs: readonly ConflictRecord[]): HubState {
  return { ...s, conflicts: [...s.conflicts, ...cs].slice(-MAX_HUB_CONFLICTS) };
}

function used(s: HubState, now: number, namespace?: string): number {
  return s.updates.reduce((n, [at, ns, c]) => (at > now - HOUR && (namespace === undefined || ns === namespace) ? n + c : n), 0);
}

export function budgets(s: HubState, settings: HubSettings, namespace: string, now: number): { clusterBudget: number; namespaceBudget: number } {
  return {
    clusterBudget: Math.max(0, settings.maxUpdatesPerHour - used(s, now)),
    namespaceBudget: Math.max(0, settings.maxUpdatesPerNamespace - used(s, now, namespace)),
  };
}

export function admissionFacts(s: HubState, settings: HubSettings, namespace: string, now: number): AdmissionFacts {
  const objects = Object.values(s.objects)
    .filter((o) => o.namespace === namespace)
    .map((o) => ({
      object: o.object,
      strategy: o.strategy,
      enabled: o.enabled,
      phase: o.phase,
      paused: o.paused && (o.pausedUntil === undefined || o.pausedUntil > now),
      ...(o.pauseReason !== undefined ? { pauseReason: o.pauseReason } : {}),
      ...(o.pausedUntil !== undefined ? { pausedUntil: o.pausedUntil } : {}),
      vpaUpdateDelayMs: o.vpaUpdateDelayMs,
    }));
  return {
    namespace,
    at: now,
    objects,
    ...(s.lastNodeActionAt !== undefined ? { lastNodeActionAt: s.lastNodeActionAt } : {}),
    ...budgets(s, settings, namespace, now),
  };
}

/** Grants min(count, budgets); the same key answers the same again. */
export function reserve(s: HubState, settings: HubSettings, r: ReserveUpdates, now: number): { state: HubState; reservation: Reservation } {
  const prior = s.reservations.find(([k]) => k === r.key);
  if (prior) return { state: s, reservation: prior[1] };
  const b = budgets(s, settings, r.namespace, now);
  const granted = Math.max(0, Math.min(r.count, b.clusterBudget, b.namespaceBudget));
  const reservation: Reservation = { granted, clusterBudget: b.clusterBudget - granted, namespaceBudget: b.namespaceBudget - granted };
  const updates = s.updates.filter(([at]) => at > now - HOUR);
  if (granted > 0) updates.push([now, r.namespace, granted]);
  // the namespace's coordinated objects count the update for napActionDelay
  const objects = { ...s.objects };
  if (granted > 0)
    for (const o of Object.values(objects)) if (o.namespace === r.namespace) objects[o.object] = { ...o, lastUpdateAt: Math.max(o.lastUpdateAt ?? 0, now) };
  return {
    state: { ...s, updates, objects, reservations: [...s.reservations, [r.key, reservation] as [string, Reservation]].slice(-MAX_RESERVATION_KEYS) },
    reservation,
  };
}

/** Scale-down waits napActionDelay after the last rightsizing update of any coordinated object. */
export function scaleDownHold(s: HubState, now: number): ScaleDownHold {
  let best: ScaleDownHold = {};
  for (const o of Object.values(s.objects)) {
    if (!o.enabled || o.strategy !== 'coordinated' || o.lastUpdateAt === undefined) continue;
    const until = o.lastUpdateAt + o.napActionDelayMs;
    if (until > now && until > (best.holdUntil ?? 0)) best = { holdUntil: until, reason: 'RightsizingUpdate', object: o.object };
  }
  return best;
}

export function hubView(s: HubState, _settings: HubSettings, now: number): HubView {
  return {
    objects: Object.keys(s.objects).length,
    nodeEvents5m: nodeChurn(s, now).in5m,
    ...(s.lastNodeActionAt !== undefined ? { lastNodeActionAt: s.lastNodeActionAt } : {}),
    updatesLastHour: used(s, now),
    openBreakers: Object.values(s.objects)
      .filter((o) => o.paused)
      .map((o) => o.object),
  };
}
