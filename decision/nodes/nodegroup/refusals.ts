/** Why a NodeGroup refuses (some of) a scale request: closed sets, answered in the update results. */

/** Refusals of a scale-up request. */
export const SCALE_UP_REFUSALS = ['MaxNodesReached', 'NodeGroupDeleting', 'ScaleUpDisabled', 'CooldownActive', 'UnknownOffering'] as const;
export type ScaleUpRefusal = (typeof SCALE_UP_REFUSALS)[number];

/** Refusals of a scale-down request. */
export const SCALE_DOWN_REFUSALS = ['MinNodesReached', 'NodeGroupDeleting', 'ScaleDownDisabled', 'NotInGroup', 'DryRun'] as const;
export type ScaleDownRefusal = (typeof SCALE_DOWN_REFUSALS)[number];

/**
 * The scale-up cooldown's one name (scaleUpPolicy.cooldownSeconds since the group's last
 * scale-up): the NodeGroup's refusal, the scale-up gate (decision/nodes/scale-down/cooldown.ts),
 * the pod's not-triggered reason in the scale-up record.
 */
export const SCALE_UP_COOLDOWN_REASON = 'CooldownActive' satisfies ScaleUpRefusal;
