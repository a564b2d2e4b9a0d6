/**
 * Where a NodeGroup workflow run that carries no state starts (terminated, reset, lost history,
 * a new Temporal cluster): from the cluster's truth, never from zero. Its desired count is the
 * larger of the group's `status.desiredNodes` (what the last run wrote) and the VPSieNodes that
 * count now; `reconcile` then clamps it into [minNodes, maxNodes], so Ready nodes are removed only
 * when maxNodes is below them. Pure.
 */

export const STARTING_DESIRED_REASONS = ['StatusDesiredNodes', 'CountedNodes', 'Empty'] as const;
export type StartingDesiredReason = (typeof STARTING_DESIRED_REASONS)[number];

export interface StartingDesired {
  desired: number;
  /** StatusDesiredNodes: status.desiredNodes is the larger; CountedNodes: the counted VPSieNodes are; Empty: neither says anything. */
  reason: StartingDesiredReason;
  statusDesired: number | undefined;
  counted: number;
  message: string;
}

export function startingDesired(o: { statusDesired: number | undefined; counted: number }): StartingDesired {
  const status = o.statusDesired !== undefined && Number.isInteger(o.statusDesired) && o.statusDesired >= 0 ? o.statusDesired : undefined;
  const counted = Math.max(0, o.counted);
  const desired = Math.max(status ?? 0, counted);
  const reason: StartingDesiredReason = desired === 0 ? 'Empty' : status !== undefined && status >= counted ? 'StatusDesiredNodes' : 'CountedNodes';
  return {
    desired,
    reason,
    statusDesired: status,
    counted,
    message: `started without carried state: desired ${desired} (status.desiredNodes ${status ?? 'unset'}, ${counted} counted VPSieNodes)`,
  };
}
