/**
 * Why a drain leaves a pod on the node instead of evicting it (closed set), for the drain itself
 * (decision/nodes/drain/disposition.ts: DaemonSet, mirror and finished pods) and for the
 * scale-down's drain plan (decision/nodes/scale-down/drain-plan.ts: also pods already terminating,
 * which the drain waits for). One vocabulary for the drain result, Events and the decision record.
 */
export const DRAIN_SKIP_REASONS = ['DaemonSetPod', 'MirrorPod', 'Terminating', 'Completed'] as const;
export type DrainSkipReason = (typeof DRAIN_SKIP_REASONS)[number];
