import { compareStrings } from '../../../lib/compare';
/**
 * The closed vocabulary of scale-down decisions (like cluster-autoscaler's UnremovableReason): every
 * "why not" and every outcome is one of these, so NodeGroup status conditions, Kubernetes Events,
 * the `safety_check_failures_total{reason}` label and logs share one set of words.
 *
 * The array order is the evaluation order: the first failing rule of a node is the first of its
 * failing reasons in this order.
 */
export const SCALE_DOWN_REASONS = [
  // ---- group gates (apply to every node of the group) ----
  /** The group is being deleted. */
  'NodeGroupDeleting',
  /** spec.scaleDownPolicy.enabled is false. */
  'ScaleDownDisabled',
  /** A scale-up of the group is in flight (machines being provisioned / joining). */
  'ScaleUpInProgress',
  /** Less than scaleDownPolicy.cooldownSeconds since the group's last scale-up. */
  'ScaleUpCooldown',
  /** Less than scaleDownPolicy.cooldownSeconds since the group's last failed drain. */
  'FailedDrainCooldown',
  /** spec.disruptionBudget.windows are set and `now` is inside none of them. */
  'OutsideDisruptionWindow',
  /** A coordinated rightsizing update less than napActionDelay ago (VPANAPCoordination, issue #16). */
  'RightsizingCoordinationDelay',
  // ---- node state ----
  /** The node belongs to no NodeGroup known to this decision (not managed by the autoscaler). */
  'NotInNodeGroup',
  /** The node is already being drained / terminated. */
  'AlreadyBeingRemoved',
  /** Utilisation (requests, and usage when known) was not observed for the whole stabilisation window. */
  'StabilizationWindowPending',
  /**
   * scaleDownPolicy.utilizationSource `usage`: metrics-server's usage of the node was not known for
   * the whole window (not scraped yet, metrics API unavailable): not judged underutilised.
   */
  'UsageUnknown',
  /** cpu or memory utilisation (the source's: requests, usage, or both) reached the threshold at some point of the window. */
  'NotUnderutilized',
  // ---- annotations ----
  /** autoscaler.vpsie.com/scale-down-disabled (or cluster-autoscaler's) on the node or a pod. */
  'ScaleDownDisabledAnnotation',
  /** karpenter.sh/do-not-disrupt: "true" on the node or a pod. */
  'DoNotDisruptAnnotation',
  /** cluster-autoscaler.kubernetes.io/safe-to-evict: "false" on a pod. */
  'NotSafeToEvictAnnotation',
  // ---- pods ----
  /** A pod with local storage (emptyDir not in memory, hostPath) not marked safe to evict. */
  'LocalStorage',
  /** A kube-system pod no PodDisruptionBudget covers, not marked safe to evict. */
  'KubeSystemPodWithoutPDB',
  /** A pod without a controller (it would be lost), not marked safe to evict. */
  'UnreplicatedPod',
  /** Evicting the pods would exceed a PodDisruptionBudget (counted over the whole decision), or a pod has several PDBs. */
  'PodDisruptionBudget',
  /** Some movable pod fits on no remaining node (resources, selectors, affinity, taints, spread). */
  'NoPlaceToMove',
  /** A movable pod's bound PersistentVolume (node affinity / zone) allows no remaining node (doc 001 safety check 4). */
  'PersistentVolumeUnreachable',
  /** Some movable pod fits nowhere because of required pod anti-affinity. */
  'AntiAffinityUnsatisfiable',
  // ---- group arithmetic (cumulative over the decision) ----
  /** Removing the node would take the group below spec.minNodes. */
  'MinNodesReached',
  /** spec.disruptionBudget.maxUnavailable nodes of the group are already being removed. */
  'DisruptionBudgetExhausted',
  /** After the removal the group's requested share would reach the scale-up thresholds (it would flap back). */
  'WouldTriggerScaleUp',
  // ---- outcomes that are not safety failures ----
  /** spec.dryRun: the node would be removed, nothing is done. */
  'DryRun',
  /** Consolidation found a placement but its monthly saving is below savingsThresholdPercent. */
  'ConsolidationBelowThreshold',
  /** Consolidation cannot price the node (offering unknown). */
  'ConsolidationUnpriced',
] as const;

export type ScaleDownReason = (typeof SCALE_DOWN_REASONS)[number];

const ORDER: ReadonlyMap<string, number> = new Map(SCALE_DOWN_REASONS.map((r, i) => [r, i]));

export function reasonOrder(r: ScaleDownReason): number {
  return ORDER.get(r) ?? SCALE_DOWN_REASONS.length;
}

export function isScaleDownReason(s: string): s is ScaleDownReason {
  return ORDER.has(s);
}

/** Reasons that are safety-check failures (counted in `safety_check_failures_total{reason}`). */
export const SAFETY_REASONS: readonly ScaleDownReason[] = [
  'ScaleDownDisabledAnnotation',
  'DoNotDisruptAnnotation',
  'NotSafeToEvictAnnotation',
  'LocalStorage',
  'KubeSystemPodWithoutPDB',
  'UnreplicatedPod',
  'PodDisruptionBudget',
  'NoPlaceToMove',
  'PersistentVolumeUnreachable',
  'AntiAffinityUnsatisfiable',
  'MinNodesReached',
  'DisruptionBudgetExhausted',
  'WouldTriggerScaleUp',
];

/** One failing rule with the numbers behind it. */
export interface Blocker {
  reason: ScaleDownReason;
  message: string;
  numbers: Record<string, number>;
  /** The pod (`namespace/name`) the rule failed on, for pod rules. */
  pod?: string;
  /** The PodDisruptionBudget (`namespace/name`), for PodDisruptionBudget. */
  pdb?: string;
}

export function sortBlockers(blockers: Blocker[]): Blocker[] {
  return blockers.sort(
    (a, b) =>
      reasonOrder(a.reason) - reasonOrder(b.reason) ||
      compareStrings(a.pod ?? '', b.pod ?? '') ||
      compareStrings(a.pdb ?? '', b.pdb ?? '') ||
      compareStrings(a.message, b.message),
  );
}
