/**
 * The loop's work: reconcile the entity with the spec and the desired count (plan creations and
 * removals), and carry queued work out — create or delete VPSieNode objects, record Events.
 */
import { ActivityFailure, ApplicationFailure, log, patched, uuid4 } from '@temporalio/workflow';
import { reconcile } from '../../../decision/nodes/nodegroup';
import type { NodeGroupReasonFor } from '../../../lib/crds/autoscaler/constants';
import { acts, noteFailure, now, plan, type NodeGroupEntity, type Work } from './state';

/** The scale-up update answers when its VPSieNodes are created, before the scale metric is counted. */
export const PATCH_ANSWER_WHEN_CREATED = 'nodegroup-scale-up-answers-when-created';

export async function carryOut(e: NodeGroupEntity, w: Work): Promise<void> {
  try {
    if (w.kind === 'create') {
      if (w.nodes.length === 0) {
        await acts.recordNodeGroupEvent({ ...e.ref, type: 'Warning', reason: w.reason, message: w.message });
        return;
      }
      const created = await acts.createVPSieNodes({ ...e.ref, nodes: w.nodes, requestId: w.id, reason: w.reason, message: w.message });
      const ok = new Set(created);
      for (const p of w.nodes) {
        const n = e.nodes.get(p.name);
        if (!n) continue;
        if (ok.has(p.name)) n.confirmedEpoch = e.epoch;
        else e.nodes.delete(p.name); // the e.group is gone or being deleted
      }
      e.epoch += 1; // a listing started from now on sees these e.nodes
      // The scale-up's answer goes out once the VPSieNodes exist (its VM creates start from them),
      // not after the metric below: one activity round trip less on every scale-up (#13).
      if (patched(PATCH_ANSWER_WHEN_CREATED)) e.doneWork.add(w.id);
      if (created.length > 0) await acts.countScaleOperation({ ...e.ref, direction: 'up', nodes: created.length });
    } else {
      await acts.deleteVPSieNodes({ ...e.ref, names: w.names, reason: w.reason, message: w.message });
      await acts.countScaleOperation({ ...e.ref, direction: 'down', nodes: w.names.length });
    }
  } catch (err) {
    // Non-retryable refusals (bad configuration): the planned nodes are dropped and the group
    // shows the error; replacements wait for the back-off.
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    const reason: NodeGroupReasonFor<'Error'> =
      cause instanceof ApplicationFailure && cause.type === 'InvalidConfiguration' ? 'InvalidConfiguration' : 'VPSieAPIError';
    e.groupError = { reason, message: message.slice(0, 4000) };
    if (w.kind === 'create') for (const p of w.nodes) e.nodes.delete(p.name);
    noteFailure(e);
    log.warn('node e.group work failed', { nodegroup: e.groupLabel, work: w.kind, error: message });
  } finally {
    e.doneWork.add(w.id);
    e.dirty = true;
  }
}

/** Plans creations/removals so the group matches its spec and desired count. */
export function planReconcile(e: NodeGroupEntity): void {
  const g = e.group;
  if (!g || e.deleting || g.invalid !== undefined) return;
  const p = reconcile(g, e.desired, [...e.nodes.values()], { capByExistingMachines: e.maxCountsMachines });
  const wasDesired = e.desired;
  e.desired = p.desired;
  if (e.desired !== wasDesired) e.dirty = true;
  if (g.dryRun) return;
  if (p.create > 0 && Date.now() >= e.replaceNotBefore) {
    const offering = g.defaultOffering;
    const planned = plan(e, p.create, offering, p.reason);
    e.lastScaleUpTime = now();
    e.queue.push({
      kind: 'create',
      id: `reconcile:${uuid4()}`,
      nodes: planned,
      reason: 'ScalingUp',
      message: `${p.reason}: ${p.create} e.nodes to reach e.desired ${e.desired} (min ${g.minNodes}, max ${g.maxNodes})`,
    });
  }
  if (p.remove.length > 0) {
    for (const name of p.remove) {
      const n = e.nodes.get(name);
      if (n) n.removing = true;
    }
    e.lastScaleDownTime = now();
    e.queue.push({
      kind: 'delete',
      id: `reconcile:${uuid4()}`,
      names: p.remove,
      reason: 'ScalingDown',
      message: `${p.reason}: removing ${p.remove.length} to reach e.desired ${e.desired} (min ${g.minNodes}, max ${g.maxNodes})`,
    });
  }
}
