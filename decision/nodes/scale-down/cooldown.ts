/**
 * The flapping guard: given a group's history of scale events and its policies, may it scale up or
 * down now? Shared by the scale-down decision (group gates) and the scale-up side.
 *
 * - scale-down: never while a scale-up is in flight; not within scaleDownPolicy.cooldownSeconds after
 *   the last scale-up, nor after the last failed drain.
 * - scale-up: not within scaleUpPolicy.cooldownSeconds after the previous scale-up (the CRD's
 *   meaning). Scale-ups are never delayed because of a scale-down: pending pods must get capacity.
 *   A scale-down does not cause the next scale-up because it is approved only when every evicted pod
 *   has a place and the group stays under its scale-up thresholds (`WouldTriggerScaleUp`).
 */
import type { ScaleDownPolicy, ScaleUpPolicy } from '../../../lib/crds/autoscaler/nodegroup';
import type { ScaleDownReason } from './reasons';
import { SCALE_UP_COOLDOWN_REASON } from '../nodegroup/refusals';

export type ScaleEventKind = 'scaleUp' | 'scaleDown' | 'drainFailed';

export interface ScaleEvent {
  kind: ScaleEventKind;
  /** Epoch ms. */
  at: number;
}

/** The latest time of each kind (what a group's status / workflow state carries). */
export interface ScaleHistory {
  scaleUpInProgress?: boolean;
  lastScaleUpAt?: number;
  lastScaleDownAt?: number;
  lastFailedDrainAt?: number;
}

export function historyFromEvents(events: readonly ScaleEvent[], scaleUpInProgress = false): ScaleHistory {
  const h: ScaleHistory = { scaleUpInProgress };
  for (const e of events) {
    if (e.kind === 'scaleUp') h.lastScaleUpAt = Math.max(h.lastScaleUpAt ?? -Infinity, e.at);
    else if (e.kind === 'scaleDown') h.lastScaleDownAt = Math.max(h.lastScaleDownAt ?? -Infinity, e.at);
    else h.lastFailedDrainAt = Math.max(h.lastFailedDrainAt ?? -Infinity, e.at);
  }
  return h;
}

export type GuardReason = Extract<ScaleDownReason, 'ScaleUpInProgress' | 'ScaleUpCooldown' | 'FailedDrainCooldown'> | typeof SCALE_UP_COOLDOWN_REASON;

export interface GuardBlock {
  reason: GuardReason;
  /** Epoch ms from which this gate no longer blocks (absent for ScaleUpInProgress). */
  until?: number;
  numbers: Record<string, number>;
  message: string;
}

/** Every gate that blocks a scale-down of the group at `now` (empty = allowed). */
export function scaleDownGates(history: ScaleHistory, policy: Pick<ScaleDownPolicy, 'cooldownSeconds'>, now: number): GuardBlock[] {
  const out: GuardBlock[] = [];
  const cd = policy.cooldownSeconds * 1000;
  if (history.scaleUpInProgress) {
    out.push({ reason: 'ScaleUpInProgress', numbers: {}, message: 'a scale-up of the group is in progress' });
  }
  if (history.lastScaleUpAt !== undefined && now < history.lastScaleUpAt + cd) {
    const remaining = Math.ceil((history.lastScaleUpAt + cd - now) / 1000);
    out.push({
      reason: 'ScaleUpCooldown',
      until: history.lastScaleUpAt + cd,
      numbers: { cooldownSeconds: policy.cooldownSeconds, sinceScaleUpSeconds: Math.floor((now - history.lastScaleUpAt) / 1000), remainingSeconds: remaining },
      message: `last scale-up ${Math.floor((now - history.lastScaleUpAt) / 1000)}s ago, cooldown ${policy.cooldownSeconds}s (${remaining}s left)`,
    });
  }
  if (history.lastFailedDrainAt !== undefined && now < history.lastFailedDrainAt + cd) {
    const remaining = Math.ceil((history.lastFailedDrainAt + cd - now) / 1000);
    out.push({
      reason: 'FailedDrainCooldown',
      until: history.lastFailedDrainAt + cd,
      numbers: {
        cooldownSeconds: policy.cooldownSeconds,
        sinceFailedDrainSeconds: Math.floor((now - history.lastFailedDrainAt) / 1000),
        remainingSeconds: remaining,
      },
      message: `last drain failed ${Math.floor((now - history.lastFailedDrainAt) / 1000)}s ago, cooldown ${policy.cooldownSeconds}s (${remaining}s left)`,
    });
  }
  return out;
}

/** Gate of a scale-up: scaleUpPolicy.cooldownSeconds since the previous scale-up. */
export function scaleUpGates(history: ScaleHistory, policy: Pick<ScaleUpPolicy, 'cooldownSeconds'>, now: number): GuardBlock[] {
  const cd = policy.cooldownSeconds * 1000;
  if (history.lastScaleUpAt !== undefined && now < history.lastScaleUpAt + cd) {
    const remaining = Math.ceil((history.lastScaleUpAt + cd - now) / 1000);
    return [
      {
        reason: SCALE_UP_COOLDOWN_REASON,
        until: history.lastScaleUpAt + cd,
        numbers: { cooldownSeconds: policy.cooldownSeconds, remainingSeconds: remaining },
        message: `last scale-up ${Math.floor((now - history.lastScaleUpAt) / 1000)}s ago, scale-up cooldown ${policy.cooldownSeconds}s`,
      },
    ];
  }
  return [];
}

/** Convenience: is the action allowed now? */
export function actionAllowed(
  action: 'scaleUp' | 'scaleDown',
  history: ScaleHistory,
  policies: { scaleUpPolicy: Pick<ScaleUpPolicy, 'cooldownSeconds'>; scaleDownPolicy: Pick<ScaleDownPolicy, 'cooldownSeconds'> },
  now: number,
): { allowed: boolean; blocks: GuardBlock[] } {
  const blocks = action === 'scaleDown' ? scaleDownGates(history, policies.scaleDownPolicy, now) : scaleUpGates(history, policies.scaleUpPolicy, now);
  return { allowed: blocks.length === 0, blocks };
}
