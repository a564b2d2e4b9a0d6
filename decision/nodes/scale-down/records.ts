/**
 * What a decision record becomes outside the workflow, as plain data (the activities write it):
 * Events on nodes, metric samples, the NodeGroup Scaling condition. One vocabulary: the reasons.
 */
import type { NodeGroupReasonFor } from '../../../lib/crds/autoscaler/constants';
import type { ScaleDownReason } from './reasons';
import { SAFETY_REASONS } from './reasons';
import type { GroupVerdict, NodeVerdict, ScaleDownDecision } from './types';

/** Event reasons of outcomes (blocked nodes use the blocking ScaleDownReason itself). */
export type ScaleDownEventReason = ScaleDownReason | 'ScaleDownCandidate' | 'ScaleDownApproved' | 'ConsolidationApproved';

export interface NodeEventRecord {
  node: string;
  type: 'Normal' | 'Warning';
  reason: ScaleDownEventReason;
  message: string;
  /** Same key for the same node + reason, so repeated decisions update one Event. */
  dedupeKey: string;
}

function numbers(n: Record<string, number>): string {
  const keys = Object.keys(n).sort();
  return keys.length === 0 ? '' : ` [${keys.map((k) => `${k}=${n[k]}`).join(' ')}]`;
}

/**
 * Events for the nodes the decision is about: candidates (blocked with the first reason and how
 * many rules failed, or approved with where the pods go) and consolidated nodes. Non-candidates get
 * no Event (that would be every node on every tick).
 */
export function nodeEvents(d: ScaleDownDecision): NodeEventRecord[] {
  const out: NodeEventRecord[] = [];
  for (const v of d.nodes) {
    if (v.outcome === 'notCandidate') continue;
    out.push(nodeEvent(v));
  }
  return out;
}

export function nodeEvent(v: NodeVerdict): NodeEventRecord {
  const u = v.utilization;
  const util = `cpu ${(u.windowMaxCpu * 100).toFixed(1)}% memory ${(u.windowMaxMemory * 100).toFixed(1)}% (thresholds ${u.cpuThreshold}%/${u.memoryThreshold}%, window ${u.windowSeconds}s)`;
  if (v.outcome === 'blocked' || v.outcome === 'notCandidate') {
    const first = v.blockers[0];
    const reason = v.reason ?? 'NotUnderutilized';
    const total = v.blockers.length + (v.omittedBlockers ?? 0);
    const more = total > 1 ? `; ${total - 1} more: ${[...new Set(v.blockers.slice(1).map((b) => b.reason))].join(', ')}` : '';
    return {
      node: v.node,
      type: 'Normal',
      reason,
      message: `scale-down blocked: ${first?.message ?? reason}${first ? numbers(first.numbers) : ''}${more}; ${util}`,
      dedupeKey: `scaledown-${reason}`,
    };
  }
  const dry = v.outcome === 'dryRun';
  const reason: ScaleDownEventReason = dry ? 'DryRun' : v.kind === 'consolidate' ? 'ConsolidationApproved' : 'ScaleDownApproved';
  const moves = (v.moves ?? []).map((m) => `${m.pod}->${m.node}`).join(', ');
  return {
    node: v.node,
    type: 'Normal',
    reason,
    message: `${dry ? 'dry run: would remove' : 'removing'} node (${v.kind ?? 'delete'}); ${util}; ${v.evictions?.length ?? 0} pod(s) to evict${moves ? `: ${moves}` : ''}`,
    dedupeKey: `scaledown-${reason}`,
  };
}

export interface MetricSamples {
  /** safety_check_failures_total{reason}: one increment per blocked node per failing reason (deduped per node). */
  safetyCheckFailures: { reason: ScaleDownReason; count: number }[];
  /** vpsie_autoscaler_node_utilization{nodegroup,resource} */
  utilization: { nodegroup: string; resource: 'cpu' | 'memory'; value: number }[];
  /** vpsie_autoscaler_scale_down_total{nodegroup}: approved (non dry-run) removals. */
  scaleDowns: { nodegroup: string; count: number }[];
}

export function metricSamples(d: ScaleDownDecision): MetricSamples {
  const safety = new Map<ScaleDownReason, number>();
  for (const v of d.nodes) {
    if (v.outcome !== 'blocked') continue;
    for (const r of new Set(v.blockers.map((b) => b.reason))) {
      if (SAFETY_REASONS.includes(r)) safety.set(r, (safety.get(r) ?? 0) + 1);
    }
  }
  const scaleDowns = new Map<string, number>();
  for (const r of d.removals) scaleDowns.set(r.nodeGroup, (scaleDowns.get(r.nodeGroup) ?? 0) + 1);
  return {
    safetyCheckFailures: [...safety.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([reason, count]) => ({ reason, count })),
    utilization: d.groups.flatMap((g) => [
      { nodegroup: g.nodeGroup, resource: 'cpu' as const, value: g.utilization.cpu },
      { nodegroup: g.nodeGroup, resource: 'memory' as const, value: g.utilization.memory },
    ]),
    scaleDowns: [...scaleDowns.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([nodegroup, count]) => ({ nodegroup, count })),
  };
}

export interface ScalingCondition {
  type: 'Scaling';
  status: 'True' | 'False';
  reason: NodeGroupReasonFor<'Scaling'>;
  message: string;
}

/** The NodeGroup `Scaling` condition for the scale-down side of one decision. */
export function scalingCondition(d: ScaleDownDecision, g: GroupVerdict): ScalingCondition {
  const mine = d.nodes.filter((v) => v.nodeGroup === g.nodeGroup);
  const approved = mine.filter((v) => v.outcome === 'approved');
  const dry = mine.filter((v) => v.outcome === 'dryRun');
  const blocked = mine.filter((v) => v.outcome === 'blocked');
  const cons = g.consolidation;
  const consMsg = cons
    ? `; consolidation ${cons.outcome}: ${cons.nodes.join(', ')} saving ${cons.savingMonthly}/month (${cons.savingPercent}%, threshold ${cons.thresholdPercent}%)`
    : '';
  if (approved.length > 0) {
    return { type: 'Scaling', status: 'True', reason: 'ScalingDown', message: `removing ${approved.map((v) => `${v.node} (${v.kind})`).join(', ')}${consMsg}` };
  }
  if (dry.length > 0) {
    return { type: 'Scaling', status: 'False', reason: 'DryRun', message: `dry run: would remove ${dry.map((v) => v.node).join(', ')}${consMsg}` };
  }
  const cooldown = g.blockers.find((b) => b.reason === 'ScaleUpCooldown' || b.reason === 'FailedDrainCooldown');
  if (cooldown) return { type: 'Scaling', status: 'False', reason: 'CooldownActive', message: `${cooldown.reason}: ${cooldown.message}` };
  const parts = blocked.map((v) => `${v.node}: ${v.reason}`);
  const gates = g.blockers.map((b) => b.reason);
  return {
    type: 'Scaling',
    status: 'False',
    reason: 'NotScaling',
    message: `${gates.length > 0 ? `gates: ${gates.join(', ')}; ` : ''}${parts.length > 0 ? `blocked candidates: ${parts.join('; ')}` : 'no scale-down candidates'}${consMsg}`,
  };
}
