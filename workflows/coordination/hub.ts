/**
 * The coordination hub: one workflow for the cluster (`COORDINATION_HUB_WORKFLOW_ID`), started by
 * the coordination watcher. It holds what is cluster-wide:
 *   - the node events (the Node watcher's batches): the last node action (coordinated
 *     rightsizing waits vpaUpdateDelay after it), forwarded to the objects that saw rightsizing
 *     activity lately (their `interestUntil`) — so 1,000 quiet objects cost nothing per node
 *     event, and an object that becomes interested gets the last 10 minutes at once;
 *   - the objects' reports: breaker states by namespace (the rightsizing gate's question,
 *     `admissionFactsQuery`), their last update (scale-down waits napActionDelay after it,
 *     `scaleDownHoldQuery`);
 *   - the update budgets: at most maxUpdatesPerHour rightsizing updates cluster-wide and
 *     maxUpdatesPerNamespace per namespace in any hour (`reserveUpdatesUpdate`, idempotent by key);
 *   - the recent conflicts across objects (`recentConflictsQuery`, the REST API's /conflicts).
 * Pure bookkeeping in ./hub-state.ts; continue-as-new when Temporal suggests it or every
 * SIGNALS_PER_RUN signals, carrying the compact state.
 */
import { condition, continueAsNew, getExternalWorkflowHandle, log, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  admissionFactsQuery,
  conflictReportSignal,
  coordinationWorkflowId,
  hubNapEventsSignal,
  hubStateQuery,
  napEventsSignal,
  objectReportSignal,
  recentConflictsQuery,
  reserveUpdatesSchema,
  reserveUpdatesUpdate,
  scaleDownHoldQuery,
  type HubInput,
  type NapObservation,
} from './contracts';
import {
  admissionFacts,
  hubView,
  initialHub,
  interestedObjects,
  onConflicts,
  onNapEvents,
  onReport,
  reserve,
  nodeChurn,
  scaleDownHold,
  type HubSettings,
  type HubState,
} from './hub-state';

export const SIGNALS_PER_RUN = 5_000;

export interface HubWorkflowInput extends HubInput {
  settings?: Partial<HubSettings>;
}

export async function coordinationHubWorkflow(input: HubWorkflowInput): Promise<void> {
  const settings: HubSettings = { maxUpdatesPerHour: 60, maxUpdatesPerNamespace: 10, ...(input.settings ?? {}) };
  let state: HubState = (input.carried as HubState | undefined) ?? initialHub();
  let signals = 0;
  /** Forwarding queued by handlers, sent by the main loop (signals to other workflows are awaited there). */
  const outbox = new Map<string, NapObservation[]>();

  setHandler(hubNapEventsSignal, (evs) => {
    signals++;
    const now = Date.now();
    const prev = nodeChurn(state, now);
    state = onNapEvents(state, evs, now);
    for (const o of interestedObjects(state, now, prev)) outbox.set(o.object, o.full ? [...state.nap] : [...(outbox.get(o.object) ?? []), ...evs]);
  });
  setHandler(objectReportSignal, (r) => {
    signals++;
    const r2 = onReport(state, r, Date.now());
    state = r2.state;
    if (r2.catchUp.length > 0) outbox.set(r.object, [...(outbox.get(r.object) ?? []), ...r2.catchUp]);
  });
  setHandler(conflictReportSignal, (cs) => {
    signals++;
    state = onConflicts(state, cs);
  });
  setHandler(admissionFactsQuery, (namespace) => admissionFacts(state, settings, namespace, Date.now()));
  setHandler(scaleDownHoldQuery, () => scaleDownHold(state, Date.now()));
  setHandler(recentConflictsQuery, () => state.conflicts);
  setHandler(hubStateQuery, () => hubView(state, settings, Date.now()));
  setHandler(
    reserveUpdatesUpdate,
    (r) => {
      signals++;
      const out = reserve(state, settings, r, Date.now());
      state = out.state;
      return out.reservation;
    },
    {
      validator: (r) => {
        reserveUpdatesSchema().parse(r);
      },
    },
  );

  for (;;) {
    await condition(() => outbox.size > 0 || signals >= SIGNALS_PER_RUN || workflowInfo().continueAsNewSuggested);
    const batch = [...outbox.entries()];
    outbox.clear();
    await Promise.all(
      batch.map(async ([object, evs]) => {
        const [namespace, name] = object.split('/') as [string, string];
        try {
          await getExternalWorkflowHandle(coordinationWorkflowId(namespace, name)).signal(napEventsSignal, evs);
        } catch (err) {
          log.warn('node events not forwarded: the object workflow is not running', { object, error: String(err) });
        }
      }),
    );
    if ((signals >= SIGNALS_PER_RUN || workflowInfo().continueAsNewSuggested) && outbox.size === 0)
      await continueAsNew<typeof coordinationHubWorkflow>({ carried: state, settings });
  }
}
