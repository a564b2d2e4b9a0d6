/**
 * Pod and node classification for scale-down: annotations, which pods move, which stay, local storage.
 */
import type { LabelMap } from '../../scheduling/types';
import { ANNOTATION_CORDONED_AT, ANNOTATION_CORDONED_BY } from '../drain/annotations';
import type { DrainSkipReason } from '../drain/reasons';
import type { ScaleDownPod } from './types';

/** The autoscaler's own opt-out, on a node or a pod ("true"). */
export const ANNOTATION_SCALE_DOWN_DISABLED = 'autoscaler.vpsie.com/scale-down-disabled';
/** cluster-autoscaler's node opt-out, honoured too ("true"). */
export const ANNOTATION_CA_SCALE_DOWN_DISABLED = 'cluster-autoscaler.kubernetes.io/scale-down-disabled';
/** cluster-autoscaler's pod annotation: "false" blocks, "true" overrides local storage / kube-system / no controller. */
export const ANNOTATION_SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
/** Comma-separated volume names whose local data may be lost. */
export const ANNOTATION_SAFE_TO_EVICT_LOCAL_VOLUMES = 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes';
/** Karpenter's opt-out, on a node or a pod ("true"). */
export const ANNOTATION_DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';
/** Set by the kubelet on mirror pods of static pods. */
export const ANNOTATION_MIRROR = 'kubernetes.io/config.mirror';

/** The pod annotations the decision (and the drain's safety re-check) reads: the only ones a snapshot keeps. */
export const DECISION_POD_ANNOTATIONS: readonly string[] = [
  ANNOTATION_SCALE_DOWN_DISABLED,
  ANNOTATION_CA_SCALE_DOWN_DISABLED,
  ANNOTATION_SAFE_TO_EVICT,
  ANNOTATION_SAFE_TO_EVICT_LOCAL_VOLUMES,
  ANNOTATION_DO_NOT_DISRUPT,
  ANNOTATION_MIRROR,
];
/** The node annotations the decision reads, plus the drain's cordon mark (the stray-cordon sweep reads it). */
export const DECISION_NODE_ANNOTATIONS: readonly string[] = [
  ANNOTATION_SCALE_DOWN_DISABLED,
  ANNOTATION_CA_SCALE_DOWN_DISABLED,
  ANNOTATION_DO_NOT_DISRUPT,
  ANNOTATION_CORDONED_BY,
  ANNOTATION_CORDONED_AT,
];

/** Only the `keys` of `annotations` (undefined when none is there). */
export function pickAnnotations(annotations: Readonly<Record<string, string>> | undefined, keys: readonly string[]): LabelMap | undefined {
  if (!annotations) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = annotations[k];
    if (v === undefined) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

export const KUBE_SYSTEM = 'kube-system';
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

function isTrue(annotations: LabelMap | undefined, key: string): boolean {
  return (annotations?.[key] ?? '').toLowerCase() === 'true';
}

export function scaleDownDisabled(annotations: LabelMap | undefined): boolean {
  return isTrue(annotations, ANNOTATION_SCALE_DOWN_DISABLED) || isTrue(annotations, ANNOTATION_CA_SCALE_DOWN_DISABLED);
}

export function doNotDisrupt(annotations: LabelMap | undefined): boolean {
  return isTrue(annotations, ANNOTATION_DO_NOT_DISRUPT);
}

export function notSafeToEvict(pod: ScaleDownPod): boolean {
  return (pod.annotations?.[ANNOTATION_SAFE_TO_EVICT] ?? '').toLowerCase() === 'false';
}

export function markedSafeToEvict(pod: ScaleDownPod): boolean {
  return isTrue(pod.annotations, ANNOTATION_SAFE_TO_EVICT);
}

/** Why a pod stays (is not evicted) when its node is drained; undefined = it is evicted and must move. */
export function drainSkipReason(pod: ScaleDownPod): DrainSkipReason | undefined {
  if (pod.annotations?.[ANNOTATION_MIRROR] !== undefined) return 'MirrorPod';
  if (pod.ownerKind === 'DaemonSet') return 'DaemonSetPod';
  if (pod.terminating) return 'Terminating';
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return 'Completed';
  return undefined;
}

export function isMovable(pod: ScaleDownPod): boolean {
  return drainSkipReason(pod) === undefined;
}

/** Names of volumes whose data lives on the node (emptyDir on disk, hostPath) and are not declared safe. */
export function unsafeLocalVolumes(pod: ScaleDownPod): string[] {
  const safe = new Set(
    (pod.annotations?.[ANNOTATION_SAFE_TO_EVICT_LOCAL_VOLUMES] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
  const out: string[] = [];
  for (const v of pod.volumes ?? []) {
    const local = v.kind === 'hostPath' || (v.kind === 'emptyDir' && v.medium !== 'Memory');
    if (local && !safe.has(v.name)) out.push(v.name);
  }
  return out.sort();
}

/** Requests of the pods that count on the node (terminating and completed pods do not). */
export function countsForUtilization(pod: ScaleDownPod): boolean {
  return !pod.terminating && pod.phase !== 'Succeeded' && pod.phase !== 'Failed';
}
