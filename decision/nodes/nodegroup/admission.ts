/**
 * Admission of scale requests by a NodeGroup: whether the group takes a scale-up or scale-down
 * request, how much of it, and the typed refusal otherwise. The NodeGroup workflow calls these in
 * its update handlers with no await between deciding and reserving, so concurrent requests see each
 * other's count; this module only decides (pure: `now` is an argument).
 */
import { scaleUpGates } from '../scale-down/cooldown';
import { grantScaleDown, grantScaleUp, type GroupNode, type ScaleDownGrant, type ScaleUpGrant } from './index';
import { SCALE_UP_COOLDOWN_REASON, type ScaleDownRefusal, type ScaleUpRefusal } from './refusals';

export interface Refusal<R extends string> {
  reason: R;
  count: number;
  message: string;
}

/** What admission reads of the group (the NodeGroup workflow's view of its spec). */
export interface AdmissionGroup {
  deleting: boolean;
  dryRun: boolean;
  minNodes: number;
  maxNodes: number;
  scaleUpEnabled: boolean;
  scaleDownEnabled: boolean;
  scaleUpCooldownSeconds: number;
  /** Offerings of the group (spec.offeringIDs or the defaults). */
  offerings: readonly string[];
}

export interface ScaleUpAsk {
  nodes: readonly { offeringID: string; count: number }[];
  reason: string;
}

export type ScaleUpAdmission =
  /** Refused whole (`count` = every node asked). */
  | { kind: 'refused'; refused: Refusal<ScaleUpRefusal> }
  /** spec.dryRun: nothing is created; `event` says what would have been, `refused` is the answer. */
  | { kind: 'dryRun'; event: string; refused: Refusal<ScaleUpRefusal> }
  /** `grant.granted` nodes may be created (maybe 0); `refused` is the part above maxNodes, if any. */
  | { kind: 'granted'; asked: number; base: number; grant: ScaleUpGrant; refused?: Refusal<ScaleUpRefusal> };

/**
 * Admits a scale-up of `ask` on a group holding `desired` nodes (`counted` of them counted now),
 * last scaled up at `lastScaleUpTime` (ISO), at `now` (ms). Refusals, in order: the group is being
 * deleted (`deleting` or its spec), scale-up is disabled, an offering is not the group's, the
 * cooldown runs; then as many nodes as fit under maxNodes are granted.
 */
export function admitScaleUp(o: {
  group: AdmissionGroup;
  groupName: string;
  deleting: boolean;
  ask: ScaleUpAsk;
  desired: number;
  counted: number;
  /** Nodes whose machine may still exist (Failed, Terminating, removed included): maxNodes bounds them too. */
  existing?: number;
  lastScaleUpTime?: string | undefined;
  now: number;
}): ScaleUpAdmission {
  const g = o.group;
  const asked = o.ask.nodes.reduce((s, n) => s + Math.max(0, n.count), 0);
  const refuse = (reason: ScaleUpRefusal, message: string): ScaleUpAdmission => ({ kind: 'refused', refused: { reason, count: asked, message } });
  if (o.deleting || g.deleting) return refuse('NodeGroupDeleting', `NodeGroup ${o.groupName} is being deleted`);
  if (!g.scaleUpEnabled) return refuse('ScaleUpDisabled', 'spec.scaleUpPolicy.enabled is false');
  const unknown = o.ask.nodes.filter((n) => !g.offerings.includes(n.offeringID)).map((n) => n.offeringID);
  if (unknown.length > 0) return refuse('UnknownOffering', `offerings ${unknown.join(', ')} are not among ${g.offerings.join(', ')}`);
  if (g.scaleUpCooldownSeconds > 0 && o.lastScaleUpTime !== undefined) {
    const gates = scaleUpGates({ lastScaleUpAt: Date.parse(o.lastScaleUpTime) }, { cooldownSeconds: g.scaleUpCooldownSeconds }, o.now);
    if (gates.length > 0) return refuse(SCALE_UP_COOLDOWN_REASON, `last scale-up at ${o.lastScaleUpTime}, cooldown ${g.scaleUpCooldownSeconds}s`);
  }
  const base = Math.max(o.desired, o.counted);
  const grant = grantScaleUp(base, asked, g.maxNodes, o.existing);
  if (g.dryRun && grant.granted > 0) {
    return {
      kind: 'dryRun',
      event: `spec.dryRun: would create ${grant.granted} nodes for ${o.ask.reason} (desired ${base} -> ${grant.desired}, max ${g.maxNodes})`,
      refused: {
        reason: 'ScaleUpDisabled',
        count: asked,
        message: `spec.dryRun: would create ${grant.granted} of ${asked} (desired ${base}, max ${g.maxNodes})`,
      },
    };
  }
  const out: ScaleUpAdmission = { kind: 'granted', asked, base, grant };
  if (grant.refused > 0)
    out.refused = {
      reason: 'MaxNodesReached',
      count: grant.refused,
      message: `asked ${asked}, granted ${grant.granted}: maxNodes ${g.maxNodes} (desired was ${base}${o.existing !== undefined ? `, machines existing ${o.existing}` : ''})`,
    };
  return out;
}

export type ScaleDownAdmission =
  /** Refused whole: nothing is removed. */
  | { kind: 'refused'; refused: Refusal<ScaleDownRefusal> }
  /** `grant.allowed` may go; `refused` names the part kept (below minNodes, or not in the group). */
  | { kind: 'granted'; grant: ScaleDownGrant; refused?: Refusal<ScaleDownRefusal> };

/**
 * Admits the removal of `vpsieNodes` from a group holding `desired` nodes. Refusals, in order: the
 * group is being deleted, scale-down is disabled, a dry run (request or spec: what would go is
 * said, nothing goes); then the nodes that keep the group at or above minNodes are allowed, the
 * rest refused (MinNodesReached), or the names that are not counted members (NotInGroup).
 */
export function admitScaleDown(o: {
  group: AdmissionGroup;
  groupName: string;
  deleting: boolean;
  vpsieNodes: readonly string[];
  dryRun: boolean;
  desired: number;
  nodes: readonly GroupNode[];
}): ScaleDownAdmission {
  const g = o.group;
  const refuse = (reason: ScaleDownRefusal, count: number, message: string): ScaleDownAdmission => ({ kind: 'refused', refused: { reason, count, message } });
  if (o.deleting || g.deleting) return refuse('NodeGroupDeleting', o.vpsieNodes.length, `NodeGroup ${o.groupName} is being deleted`);
  if (!g.scaleDownEnabled) return refuse('ScaleDownDisabled', o.vpsieNodes.length, 'spec.scaleDownPolicy.enabled is false');
  const grant = grantScaleDown(o.desired, g.minNodes, [...o.vpsieNodes], [...o.nodes]);
  if (o.dryRun || g.dryRun)
    return refuse(
      'DryRun',
      grant.allowed.length,
      `dry run: would remove ${grant.allowed.join(', ') || 'nothing'} (desired ${o.desired} -> ${grant.desired}, min ${g.minNodes})`,
    );
  const out: ScaleDownAdmission = { kind: 'granted', grant };
  if (grant.belowMin.length > 0)
    out.refused = {
      reason: 'MinNodesReached',
      count: grant.belowMin.length,
      message: `minNodes ${g.minNodes}: ${grant.belowMin.join(', ')} kept (desired ${grant.desired})`,
    };
  else if (grant.notInGroup.length > 0)
    out.refused = { reason: 'NotInGroup', count: grant.notInGroup.length, message: `not counted members of the group: ${grant.notInGroup.join(', ')}` };
  return out;
}
