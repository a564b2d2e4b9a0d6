/**
 * The drain's own annotations (autoscaler.vpsie.com domain), one definition each:
 *
 * - `autoscaler.vpsie.com/cordoned-by` / `autoscaler.vpsie.com/cordoned-at` on a Node: the
 *   orchestrator cordoned it (the workflow id of the drain or removal, and when). Removed with the
 *   uncordon. A Node carrying the mark while no removal of it is in flight is a stray cordon: the
 *   scale-down loop uncordons it (`strayCordons`, cordon-sweep.ts).
 * - `autoscaler.vpsie.com/delete-after-failed-drain: "true"` on a NodeGroup or a Node: opt-in to
 *   deleting a node whose drain failed (pods a PodDisruptionBudget or a safety rule kept on it) once
 *   the failed-node TTL passed, with those pods on it. Without it such a node is never deleted with
 *   pods on it: after the TTL its drain is tried again, and it is deleted only once drained.
 */
import type { LabelMap } from '../../scheduling/types';

export const ANNOTATION_CORDONED_BY = 'autoscaler.vpsie.com/cordoned-by';
export const ANNOTATION_CORDONED_AT = 'autoscaler.vpsie.com/cordoned-at';
export const ANNOTATION_DELETE_AFTER_FAILED_DRAIN = 'autoscaler.vpsie.com/delete-after-failed-drain';

/** The orchestrator's cordon mark on a Node, when present (`at` in epoch ms, NaN when unreadable). */
export function cordonMark(annotations: LabelMap | undefined): { by: string; at: number } | undefined {
  const by = annotations?.[ANNOTATION_CORDONED_BY];
  if (by === undefined) return undefined;
  return { by, at: Date.parse(annotations?.[ANNOTATION_CORDONED_AT] ?? '') };
}

/** True when the NodeGroup or the Node opted in to deletion after a failed drain's TTL. */
export function deleteAfterFailedDrainAllowed(nodeGroupAnnotations: LabelMap | undefined, nodeAnnotations: LabelMap | undefined): boolean {
  const on = (a: LabelMap | undefined): boolean => (a?.[ANNOTATION_DELETE_AFTER_FAILED_DRAIN] ?? '').trim().toLowerCase() === 'true';
  return on(nodeGroupAnnotations) || on(nodeAnnotations);
}
