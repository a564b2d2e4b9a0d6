/**
 * One VPANAPCoordination object's coordination: an entity workflow per object, id
 * `coordinationWorkflowId(namespace, name)`, started and signalled by the coordination watcher
 * (starters/coordination/watcher.ts).
 *
 * It receives the rightsizing events of the workloads it governs (the VPA's evictions, in-place
 * resizes and recommendations; an OptimizationPolicy's in its namespace), the node events near
 * them (forwarded by the hub while this object is "interested"), and operator commands. Every
 * decision is pure code (decision/coordination/decide.ts) at the workflow's clock; the workflow
 * carries it out:
 *   - a trip pauses updates: the VPA's updatePolicy.updateMode becomes Off (the previous mode is
 *     kept on the VPA, so a restarted coordinator restores it too), and the rightsizing gate says
 *     no for the namespace (through the hub); a durable timer ends the cooldown;
 *   - half open (Cooldown) the VPA's mode is restored and updates resume; the first new conflict
 *     re-trips; quiet for the half-open period, it closes (Active);
 *   - conflicts, trips and resets go into the object's status, Events and metrics (one activity),
 *     with their typed reasons and numbers; this history holds each as an activity input.
 * Signals are processed in order; a deleted object resumes its VPA and completes. Continue-as-new
 * carries only the compact decision state (bounded windows), every EVENTS_PER_RUN observations or
 * when Temporal suggests it.
 */
import {
  ActivityFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createCoordinationActivities, CoordinationRead } from '../../activities/coordination/coordination';
import { initialState, nextWake, observe, operator, paused, tick, type DecisionState, type Fact, type Outcome } from '../../decision/coordination/decide';
import { vpaRateLimit } from '../../decision/coordination/rate';
import { DEFAULT_SETTINGS, EVICTION_WINDOW_MS, type CoordinationSettings } from '../../decision/coordination/settings';
import { SA_CIRCUIT_BREAKER, SA_COORDINATION } from '../../lib/temporal/search-attributes';
import {
  circuitBreakerUpdate,
  COORDINATION_HUB_WORKFLOW_ID,
  circuitBreakerActionSchema,
  conflictReportSignal,
  coordinationChangedSignal,
  napEventsSignal,
  objectReportSignal,
  operatorCommandSchema,
  resetSignal,
  stateQuery,
  tripSignal,
  vpaEventsSignal,
  type ConflictRecord,
  type CoordinationView,
  type CoordinationWorkflowInput,
  type NapObservation,
  type ObjectReport,
  type VpaObservation,
} from './contracts';
import { toStatus, toView } from './view';

type Activities = ReturnType<typeof createCoordinationActivities>;
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** Observations processed per run before continue-as-new. */
export const EVENTS_PER_RUN = 2_000;
/** The object is re-read and inspected (dual governance, pools) at this interval. */
export const INSPECT_INTERVAL_MS = 60_000;
/** Status is written at most this often (and at once on a transition). */
/** Status is written at most this often between transitions (document 000's metricsInterval; a transition or conflict writes at once). */
export const STATUS_INTERVAL_MS = 30_000;
/** The hub forwards node events for this long after a rightsizing event. */
export const INTEREST_MS = EVICTION_WINDOW_MS;
/** A newer rightsizing update is reported to the hub (napActionDelay) once this much newer than the last reported. */
export const REPORT_UPDATE_MS = 2 * 60_000;

interface Carried {
  state: DecisionState;
  ratePausedUntil?: number;
  generation?: number;
  processed?: number;
}

type Command = { kind: 'trip' | 'reset'; reason: string; by?: string };

export async function coordinationWorkflow(input: CoordinationWorkflowInput): Promise<void> {
  const ref = { namespace: input.namespace, name: input.name };
  const objectKey = `${input.namespace}/${input.name}`;
  const hubId = input.hub ?? COORDINATION_HUB_WORKFLOW_ID;
  const carried = (input.carried ?? {}) as Partial<Carried>;
  let state: DecisionState = carried.state ?? initialState();
  let settings: CoordinationSettings = DEFAULT_SETTINGS;
  let read: CoordinationRead | undefined;
  let generation = carried.generation;
  let processed = 0;
  let changed = true; // re-read at start
  let deleted = false;
  let dirty = true;
  let lastStatusAt = 0;
  let lastInspectAt = 0;
  let vpaPaused = false;
  let restoreMode: string | undefined;
  let lastReport: string | undefined;
  let reportedInterestUntil = 0;
  let reportedUpdateAt: number | undefined;
  let interestUntil = 0;
  let lastUpdateAt: number | undefined;
  /** The VPA is paused for its hourly update limit until then (not the breaker). */
  let ratePausedUntil = carried.ratePausedUntil;
  const napQueue: NapObservation[] = [];
  const vpaQueue: VpaObservation[] = [];
  const commands: Command[] = [];
  const recent: ConflictRecord[] = [];

  upsertSearchAttributes([
    { key: SA_COORDINATION, value: objectKey },
    { key: SA_CIRCUIT_BREAKER, value: state.breaker.state },
  ]);

  setHandler(coordinationChangedSignal, (s) => {
    if (s.deleted === true) deleted = true;
    if (s.generation === undefined || s.generation !== generation) changed = true;
  });
  setHandler(vpaEventsSignal, (evs) => {
    vpaQueue.push(...evs);
  });
  setHandler(napEventsSignal, (evs) => {
    napQueue.push(...evs);
  });
  setHandler(tripSignal, (c) => {
    const p = operatorCommandSchema().safeParse(c);
    if (!p.success) log.warn('trip signal ignored: invalid input', { error: p.error.message });
    else commands.push({ kind: 'trip', reason: p.data.reason, ...(p.data.by !== undefined ? { by: p.data.by } : {}) });
  });
  setHandler(resetSignal, (c) => {
    const p = operatorCommandSchema().safeParse(c);
    if (!p.success) log.warn('reset signal ignored: invalid input', { error: p.error.message });
    else commands.push({ kind: 'reset', reason: p.data.reason, ...(p.data.by !== undefined ? { by: p.data.by } : {}) });
  });
  const view = (): CoordinationView => toView(ref, read, state, settings, { vpaPaused, ...(restoreMode !== undefined ? { restoreMode } : {}) }, recent);
  setHandler(stateQuery, view);
  let pendingUpdates = 0;
  setHandler(
    circuitBreakerUpdate,
    async (a) => {
      pendingUpdates++;
      try {
        commands.push({ kind: a.action === 'trigger' ? 'trip' : 'reset', reason: a.reason, ...(a.by !== undefined ? { by: a.by } : {}) });
        await condition(() => commands.length === 0 && !busy);
        return view();
      } finally {
        pendingUpdates--;
      }
    },
    {
      validator: (a) => {
        circuitBreakerActionSchema().parse(a);
      },
    },
  );

  const report = async (force = false): Promise<void> => {
    if (read === undefined || !read.found) return;
    const r: ObjectReport = {
      object: objectKey,
      namespace: read.spec.namespace,
      vpaName: read.spec.vpaName,
      strategy: settings.strategy,
      enabled: settings.enabled,
      phase: toStatus(read, state, settings).phase ?? 'Active',
      paused: paused(state),
      ...(state.breaker.reason !== undefined && paused(state) ? { pauseReason: state.breaker.reason } : {}),
      ...(paused(state) && state.breaker.cooldownUntil !== undefined ? { pausedUntil: state.breaker.cooldownUntil } : {}),
      ...(interestUntil > Date.now() ? { interestUntil } : {}),
      ...(lastUpdateAt !== undefined ? { lastUpdateAt } : {}),
      vpaUpdateDelayMs: settings.vpaUpdateDelayMs,
      napActionDelayMs: settings.napActionDelayMs,
      ...(settings.enabled && settings.breaker.enabled ? { nodeChurnThreshold: settings.breaker.nodeChurnThreshold } : {}),
      ...(settings.enabled && settings.breaker.enabled && settings.breaker.nodeChurnPerHour !== undefined
        ? { nodeChurnPerHour: settings.breaker.nodeChurnPerHour }
        : {}),
    };
    // the hub hears of a change of state at once; of more interest only when what it knows runs out within
    // half the interest, and of a newer update only when what it knows is REPORT_UPDATE_MS older
    const { interestUntil: iu, lastUpdateAt: lu, ...rest } = r;
    const key = JSON.stringify(rest);
    const now = Date.now();
    const interestStale = (iu ?? 0) > now && reportedInterestUntil - now < INTEREST_MS / 2;
    const updateStale = lu !== undefined && lu - (reportedUpdateAt ?? -Infinity) >= REPORT_UPDATE_MS;
    if (!force && key === lastReport && !interestStale && !updateStale) return;
    lastReport = key;
    reportedInterestUntil = iu ?? 0;
    if (lu !== undefined) reportedUpdateAt = lu;
    try {
      await getExternalWorkflowHandle(hubId).signal(objectReportSignal, r);
    } catch (err) {
      log.warn('the coordination hub is not running; the report is sent again with the next change', { error: String(err) });
      lastReport = undefined;
    }
  };

  /** Carry out what the decision said: pause/resume the VPA, then status, Events and metrics in one step. */
  const act = async (o: Outcome, cause: string): Promise<void> => {
    state = o.state;
    if (o.conflicts.length === 0 && o.transitions.length === 0) return;
    dirty = true;
    if (o.transitions.length > 0) upsertSearchAttributes([{ key: SA_CIRCUIT_BREAKER, value: state.breaker.state }]);
    const spec = read?.found ? read.spec : undefined;
    for (const t of o.transitions) {
      if (spec === undefined) continue;
      try {
        if (t.to === 'Open') {
          const r = await acts.pauseVpa({ namespace: spec.namespace, vpaName: spec.vpaName, reason: `${t.trip.reason}: ${t.trip.message}` });
          vpaPaused = r.paused;
          if (r.restoreMode !== undefined) restoreMode = r.restoreMode;
        } else if (ratePausedUntil === undefined) {
          await acts.resumeVpa({ namespace: spec.namespace, vpaName: spec.vpaName });
          vpaPaused = false;
          restoreMode = undefined;
        }
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('the VPA could not be paused or resumed; tried again at the next transition', { error: String(err.cause ?? err) });
      }
    }
    const conflicts: ConflictRecord[] = o.conflicts.map((c) => ({
      at: c.at,
      type: c.type,
      object: objectKey,
      namespace: input.namespace,
      vpaName: spec?.vpaName ?? input.name,
      message: c.message,
      numbers: c.numbers,
    }));
    recent.push(...conflicts);
    recent.splice(0, Math.max(0, recent.length - 50));
    try {
      await acts.recordCoordination({
        ref,
        vpaName: spec?.vpaName ?? input.name,
        status: toStatus(read, state, settings, ratePausedUntil !== undefined ? { rateLimitedUntil: ratePausedUntil } : {}),
        conflicts,
        transitions: o.transitions,
        cause,
        decidedAt: Date.now(),
      });
      lastStatusAt = Date.now();
      dirty = false;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('coordination outcome not recorded', { error: String(err.cause ?? err) });
    }
    if (conflicts.length > 0)
      try {
        await getExternalWorkflowHandle(hubId).signal(conflictReportSignal, conflicts);
      } catch {
        // the hub keeps the recent list only; the conflicts are in this object's status and Events
      }
    await report(true);
  };

  /** The VPA's hourly update limit: paused once reached, resumed when the hour has room (and the breaker is not open). */
  const rateCheck = async (): Promise<void> => {
    // a read without the limit (a worker from before it) keeps no limit
    if (read === undefined || !read.found || typeof read.vpaUpdatesPerHour !== 'number') return;
    const now = Date.now();
    const active = settings.enabled && settings.strategy !== 'disabled';
    const v = vpaRateLimit(state.vpa, read.vpaUpdatesPerHour, now);
    const spec = read.spec;
    let notice: { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined;
    if (active && v.limited && ratePausedUntil === undefined) {
      ratePausedUntil = v.until;
      notice = {
        type: 'Warning',
        reason: 'UpdatesRateLimited',
        message: `${v.count} VPA updates in the last hour reach the limit ${v.limit}: the VPA is paused until ${new Date(v.until ?? now).toISOString()}`,
      };
      if (!paused(state)) {
        const r = await acts.pauseVpa({
          namespace: spec.namespace,
          vpaName: spec.vpaName,
          reason: `RateLimited: ${v.count} updates in 1 h (limit ${v.limit})`,
        });
        vpaPaused = r.paused;
        if (r.restoreMode !== undefined) restoreMode = r.restoreMode;
      }
    } else if (ratePausedUntil !== undefined && (!active || (now >= ratePausedUntil && !v.limited))) {
      ratePausedUntil = undefined;
      notice = {
        type: 'Normal',
        reason: 'UpdatesRateLimitLifted',
        message: `${v.count} VPA updates in the last hour, below the limit ${v.limit}: updates resume`,
      };
      if (!paused(state)) {
        await acts.resumeVpa({ namespace: spec.namespace, vpaName: spec.vpaName });
        vpaPaused = false;
        restoreMode = undefined;
      }
    }
    if (notice === undefined) return;
    try {
      await acts.recordCoordination({
        ref,
        vpaName: spec.vpaName,
        status: toStatus(read, state, settings, ratePausedUntil !== undefined ? { rateLimitedUntil: ratePausedUntil } : {}),
        conflicts: [],
        transitions: [],
        notices: [notice],
        cause: 'rate limit',
        decidedAt: now,
      });
      lastStatusAt = now;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
    }
  };

  let busy = false;
  for (;;) {
    busy = true;
    const now = Date.now();
    if (deleted) {
      if (read?.found && vpaPaused) await acts.resumeVpa({ namespace: read.spec.namespace, vpaName: read.spec.vpaName }).catch(() => undefined);
      try {
        await getExternalWorkflowHandle(hubId).signal(objectReportSignal, {
          object: objectKey,
          namespace: input.namespace,
          vpaName: read?.found ? read.spec.vpaName : input.name,
          strategy: settings.strategy,
          enabled: false,
          phase: 'Active',
          paused: false,
          vpaUpdateDelayMs: 0,
          napActionDelayMs: 0,
          deleted: true,
        });
      } catch {
        // no hub: nothing to forget
      }
      return;
    }
    if (changed || now - lastInspectAt >= INSPECT_INTERVAL_MS) {
      changed = false;
      lastInspectAt = now;
      try {
        read = await acts.readCoordination({ ...ref, inspect: true });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('the coordination object could not be read', { error: String(err.cause ?? err) });
      }
      if (read !== undefined && !read.found) {
        deleted = true;
        continue;
      }
      if (read?.found) {
        if (read.generation !== generation) dirty = true;
        generation = read.generation;
        settings = read.settings;
        vpaPaused = read.vpa.paused;
        restoreMode = read.vpa.restoreMode;
        const facts: Fact[] = read.facts;
        await act(observe(state, { facts }, settings, now), 'inspection');
        // a paused VPA with a closed breaker (e.g. the object was reset while the coordinator was down): resume it
        if (!paused(state) && ratePausedUntil === undefined && read.vpa.paused) {
          await acts.resumeVpa({ namespace: read.spec.namespace, vpaName: read.spec.vpaName }).catch(() => undefined);
          vpaPaused = false;
          restoreMode = undefined;
        } else if (paused(state) && !read.vpa.paused && read.vpa.exists) {
          const r = await acts.pauseVpa({
            namespace: read.spec.namespace,
            vpaName: read.spec.vpaName,
            reason: `${state.breaker.reason ?? 'Manual'}: ${state.breaker.message ?? ''}`,
          });
          vpaPaused = r.paused;
          if (r.restoreMode !== undefined) restoreMode = r.restoreMode;
        }
        await report();
      }
    }
    // operator commands, in order
    while (commands.length > 0) {
      const c = commands.shift()!;
      await act(operator(state, c.kind, c.by !== undefined ? `${c.reason} (by ${c.by})` : c.reason, settings, Date.now()), `operator ${c.kind}`);
    }
    // observations
    if (napQueue.length > 0 || vpaQueue.length > 0) {
      const nap = napQueue.splice(0, napQueue.length);
      const vpa = vpaQueue.splice(0, vpaQueue.length);
      processed += nap.length + vpa.length;
      const updates = vpa.filter((e) => e.kind !== 'RecommendationUpdate');
      if (vpa.length > 0) interestUntil = Math.max(interestUntil, Date.now() + INTEREST_MS);
      if (updates.length > 0) lastUpdateAt = Math.max(lastUpdateAt ?? 0, ...updates.map((e) => e.at));
      const t0 = Date.now();
      await act(
        observe(
          state,
          {
            nap: nap.map((e) => ({ at: e.at, kind: e.kind, node: e.node })),
            vpa: vpa.map((e) => ({
              at: e.at,
              kind: e.kind,
              source: e.source,
              workload: e.workload,
              ...(e.pod !== undefined ? { pod: e.pod } : {}),
              ...(e.recommendation !== undefined ? { recommendation: e.recommendation } : {}),
              ...(e.increase !== undefined ? { increase: e.increase } : {}),
            })),
          },
          settings,
          t0,
        ),
        `${nap.length} node and ${vpa.length} rightsizing event(s)`,
      );
      dirty = true;
      await report();
    }
    // timers
    await act(tick(state, settings, Date.now()), 'timer');
    await rateCheck();
    if (dirty && Date.now() - lastStatusAt >= STATUS_INTERVAL_MS && read?.found) {
      try {
        await acts.recordCoordination({
          ref,
          vpaName: read.spec.vpaName,
          status: toStatus(read, state, settings, ratePausedUntil !== undefined ? { rateLimitedUntil: ratePausedUntil } : {}),
          conflicts: [],
          transitions: [],
          cause: 'status',
          decidedAt: Date.now(),
        });
        lastStatusAt = Date.now();
        dirty = false;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
      }
    }
    busy = false;
    if ((processed >= EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) && commands.length === 0 && napQueue.length === 0 && vpaQueue.length === 0) {
      await condition(() => pendingUpdates === 0);
      await continueAsNew<typeof coordinationWorkflow>({
        namespace: input.namespace,
        name: input.name,
        ...(input.hub !== undefined ? { hub: input.hub } : {}),
        carried: {
          state,
          ...(generation !== undefined ? { generation } : {}),
          ...(ratePausedUntil !== undefined ? { ratePausedUntil } : {}),
        } satisfies Carried,
      });
    }
    const wakeAt = Math.min(nextWake(state) ?? Infinity, lastInspectAt + INSPECT_INTERVAL_MS, dirty ? lastStatusAt + STATUS_INTERVAL_MS : Infinity);
    const wait = Math.max(1, wakeAt - Date.now());
    await condition(() => changed || deleted || commands.length > 0 || napQueue.length > 0 || vpaQueue.length > 0, wait);
  }
}
