/**
 * The NodeGroup entity workflow (one per NodeGroup, id `nodeGroupWorkflowId(ns, name)`): it holds
 * the group's desired count and keeps the group's VPSieNode objects at that count within
 * [minNodes, maxNodes]. It starts nothing itself: it creates and deletes VPSieNode objects
 * through activities, and the VPSieNode watcher starts each node's lifecycle.
 *
 * - Scale-up and scale-down arrive as updates (`nodeGroupScaleUpUpdate`,
 *   `nodeGroupScaleDownUpdate`). Each handler decides synchronously (no await between reading and
 *   reserving the count), so concurrent requests never push the group past max or below min;
 *   request ids are remembered (across continue-as-new, last 1000) and a repeated request gets
 *   the first answer.
 * - A run started without carried state (terminated, reset, lost history, a new Temporal
 *   cluster; the watcher starts it again) takes its desired count from the cluster on its first
 *   sync: the larger of status.desiredNodes and the counted VPSieNodes, never zero
 *   (decision/nodes/nodegroup/restart.ts), so it removes Ready nodes only when maxNodes is lower,
 *   and then by deleting VPSieNodes, whose lifecycles drain them.
 * - `nodeGroupSyncSignal` (from the NodeGroup watcher) is a hint: the loop re-reads the NodeGroup
 *   and acts on what the object says (a `deleting: true` payload alone deletes nothing). Raising min creates
 *   nodes, lowering max removes the extras (not-Ready first, then newest); deletion removes every
 *   VPSieNode, waits until each is Deleted or gone, then drops the group's finalizer and ends.
 * - `nodeGroupNodePhaseSignal` (from lifecycles) tracks each node's phase; Failed nodes stop
 *   counting and are replaced, with exponential back-off while failures repeat.
 * - Status, Events and gauges are written by activities after each change.
 * All I/O is in the main loop; handlers only change state and wait for the loop to carry it out.
 *
 * One file per part: `state.ts` (the entity and its helpers), `handlers.ts` (signals, updates,
 * query), `sync.ts` (read spec and VPSieNodes), `work.ts` (reconcile, create, delete),
 * `status.ts`, `deletion.ts`; this file is the loop and continue-as-new.
 */
import { allHandlersFinished, condition, continueAsNew, upsertSearchAttributes } from '@temporalio/workflow';
import { NODEGROUP_SEARCH_ATTRIBUTE } from '../../../lib/temporal/search-attributes';
import type { NodeGroupWorkflowInput } from '../contracts';
import { finishDeletion } from './deletion';
import { installHandlers } from './handlers';
import { acts, carriedOf, counted, historyFull, newEntity, RESYNC_INTERVAL, type Work } from './state';
import { writeStatus } from './status';
import { sync } from './sync';
import { carryOut, planReconcile } from './work';

export type { NodeGroupCarried } from './state';

export async function nodeGroupWorkflow(input: NodeGroupWorkflowInput): Promise<void> {
  const e = newEntity(input);
  upsertSearchAttributes({ [NODEGROUP_SEARCH_ATTRIBUTE]: [e.groupLabel] });
  installHandlers(e);

  // ---- the loop ----------------------------------------------------------------------------
  for (;;) {
    if (e.syncRequested) {
      const exists = await sync(e);
      if (!exists) {
        await acts.clearNodeGroupMetrics(e.ref);
        await condition(allHandlersFinished);
        return;
      }
    }
    if (e.deleting) {
      const finished = await finishDeletion(e);
      await condition(allHandlersFinished);
      // Not finished: the history is long; a new run syncs, sees the deletion and goes on with it.
      if (!finished) await continueAsNew<typeof nodeGroupWorkflow>({ ...e.ref, carried: carriedOf(e) });
      return;
    }
    planReconcile(e);
    while (e.queue.length > 0) {
      const w = e.queue.shift() as Work;
      await carryOut(e, w);
    }
    if (e.dirty) await writeStatus(e);

    if (historyFull(e) && e.queue.length === 0) {
      await condition(() => allHandlersFinished() || e.queue.length > 0 || e.syncRequested);
      if (allHandlersFinished() && e.queue.length === 0 && !e.syncRequested) await continueAsNew<typeof nodeGroupWorkflow>({ ...e.ref, carried: carriedOf(e) });
      continue;
    }

    const waitForReplace = e.replaceNotBefore > Date.now() && e.group !== undefined && counted(e) < e.desired;
    const woke = await condition(
      () => e.syncRequested || e.queue.length > 0 || e.dirty || e.deleting,
      waitForReplace ? e.replaceNotBefore - Date.now() : RESYNC_INTERVAL,
    );
    if (!woke)
      e.syncRequested = true; // periodic resync, or the replacement back-off ended
    else if (e.dirty && !e.syncRequested && e.queue.length === 0 && !e.deleting) {
      // Debounce status writes while phase signals arrive in bursts.
      await condition(() => e.syncRequested || e.queue.length > 0 || e.deleting, '1s');
    }
  }
}
