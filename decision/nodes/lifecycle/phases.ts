/**
 * The VPSieNode phase sets every part of node autoscaling reads (the phases themselves are
 * `VPSIENODE_PHASES` in lib/crds/autoscaler/constants.ts): one definition each.
 */
import type { VPSieNodePhase } from '../../../lib/crds/autoscaler/constants';

/** Phases whose machine is still coming: capacity in flight. */
export const IN_FLIGHT_PHASES: ReadonlySet<VPSieNodePhase> = new Set(['Pending', 'Provisioning', 'Provisioned', 'Joining']);

/** Phases that no longer count against a group's size (planning, scale-down snapshots). */
export const GONE_PHASES: ReadonlySet<VPSieNodePhase> = new Set(['Deleted', 'Failed']);

/** Phases in which a node counts towards its group's size: on its way to Ready, or Ready. */
export const COUNTED_PHASES: readonly VPSieNodePhase[] = ['Pending', 'Provisioning', 'Provisioned', 'Joining', 'Ready'];

/** Ordinal of a phase in the state machine, as the NodeGroup tracks it: a node's phase only moves forward. */
export const PHASE_ORDER: Readonly<Record<VPSieNodePhase, number>> = {
  Pending: 0,
  Provisioning: 1,
  Provisioned: 2,
  Joining: 3,
  Ready: 4,
  Failed: 5,
  Terminating: 6,
  Deleting: 7,
  Deleted: 8,
};

/** Which nodes go first when a group must shrink: the least advanced first (Failed, then Pending, …, Ready). */
export const READINESS_ORDER: Readonly<Record<VPSieNodePhase, number>> = {
  Failed: 0,
  Pending: 1,
  Provisioning: 2,
  Provisioned: 3,
  Joining: 4,
  Ready: 5,
  Terminating: 6,
  Deleting: 7,
  Deleted: 8,
};
