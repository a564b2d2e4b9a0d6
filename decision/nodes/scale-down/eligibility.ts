/**
 * Candidacy: which nodes a scale-down method may consider at all, before any method runs.
 *
 * - A candidate is a managed node (its group is known), not already being removed, observed for its
 *   group's whole stabilisation window, with the window peak strictly below both thresholds.
 * - Consolidation looks further than the candidates (a busy node can be replaced by a cheaper one),
 *   so it has its own eligibility: observed for the whole window, Ready, passing every static rule.
 *
 * The methods (methods/) decide what to remove among what this file lets through.
 */
import { compareStrings } from '../../scheduling/types';
import type { DecisionContext, GroupCtx } from './context';
import { pct } from './context';
import type { Blocker } from './reasons';
import { sortBlockers } from './reasons';
import { staticRules } from './rules';
import { requestShare, thresholds, viewOf } from './utilization';
import type { NodeUtilization, NodeVerdict, ScaleDownInput, ScaleDownNode } from './types';

const DEFAULT_POLICY = { stabilizationWindowSeconds: 600, cpuThreshold: 50, memoryThreshold: 50 } as const;

/** One node before any method: its utilisation over the window and why it is not a candidate. */
export interface Assessed {
  n: ScaleDownNode;
  u: NodeUtilization;
  /** Why the node is not a candidate (empty = it is one). */
  notCandidate: Blocker[];
}

function utilizationOf(input: ScaleDownInput, n: ScaleDownNode, g: GroupCtx | undefined): NodeUtilization {
  const policy = g?.group.spec.scaleDownPolicy ?? DEFAULT_POLICY;
  const t = thresholds(policy);
  const current = requestShare(n.node.allocatable, n.pods);
  const window = policy.stabilizationWindowSeconds;
  const view = viewOf(input.utilization, input.windowViews, n.node.name, window, input.now);
  return {
    cpu: current.cpu,
    memory: current.memory,
    windowMaxCpu: Math.max(current.cpu, view.maxCpu),
    windowMaxMemory: Math.max(current.memory, view.maxMemory),
    observedSeconds: window === 0 ? 0 : view.observedSeconds,
    windowSeconds: window,
    cpuThreshold: t.cpu,
    memoryThreshold: t.memory,
  };
}

/** Why a node is not a candidate (empty = it is one). */
function candidacy(ctx: DecisionContext, n: ScaleDownNode, u: NodeUtilization): Blocker[] {
  const out: Blocker[] = [];
  if (!ctx.groupOf(n)) {
    out.push({ reason: 'NotInNodeGroup', message: `node ${n.node.name} belongs to no known NodeGroup`, numbers: {} });
    return out;
  }
  if (ctx.removing.has(n.node.name)) {
    out.push({ reason: 'AlreadyBeingRemoved', message: `node ${n.node.name} is already being removed`, numbers: {} });
    return out;
  }
  if (u.observedSeconds < u.windowSeconds) {
    out.push({
      reason: 'StabilizationWindowPending',
      message: `utilisation observed for ${u.observedSeconds}s of the ${u.windowSeconds}s window`,
      numbers: { observedSeconds: u.observedSeconds, windowSeconds: u.windowSeconds },
    });
  }
  if (u.windowMaxCpu * 100 >= u.cpuThreshold || u.windowMaxMemory * 100 >= u.memoryThreshold) {
    out.push({
      reason: 'NotUnderutilized',
      message: `peak over the window ${pct(u.windowMaxCpu)}% cpu / ${pct(u.windowMaxMemory)}% memory, thresholds ${u.cpuThreshold}% / ${u.memoryThreshold}%`,
      numbers: { cpuPercent: pct(u.windowMaxCpu), memoryPercent: pct(u.windowMaxMemory), cpuThreshold: u.cpuThreshold, memoryThreshold: u.memoryThreshold },
    });
  }
  return out;
}

/** Every node of the input, in input order, with its utilisation and candidacy. */
export function assessNodes(ctx: DecisionContext): Map<string, Assessed> {
  const out = new Map<string, Assessed>();
  for (const n of ctx.input.nodes) {
    const u = utilizationOf(ctx.input, n, ctx.groupOf(n));
    out.set(n.node.name, { n, u, notCandidate: candidacy(ctx, n, u) });
  }
  return out;
}

/** The names of the candidates, in input order. */
export function candidateNames(assessed: ReadonlyMap<string, Assessed>): Set<string> {
  const out = new Set<string>();
  for (const [name, a] of assessed) if (a.notCandidate.length === 0) out.add(name);
  return out;
}

/** The verdict of every node before any method ran: candidates 'blocked' until a method approves them. */
export function initialVerdicts(assessed: ReadonlyMap<string, Assessed>): Map<string, NodeVerdict> {
  const verdicts = new Map<string, NodeVerdict>();
  for (const [name, p] of assessed) {
    const v: NodeVerdict = {
      node: name,
      utilization: p.u,
      candidate: p.notCandidate.length === 0,
      outcome: p.notCandidate.length === 0 ? 'blocked' : 'notCandidate',
      blockers: sortBlockers([...p.notCandidate]),
    };
    if (p.n.nodeGroup !== undefined) v.nodeGroup = p.n.nodeGroup;
    if (p.n.vpsieNode !== undefined) v.vpsieNode = p.n.vpsieNode;
    if (v.blockers[0]) v.reason = v.blockers[0].reason;
    verdicts.set(name, v);
  }
  return verdicts;
}

/** Least-utilised first: window peak of the larger resource, then of both, then name. */
export function byUtilization(assessed: ReadonlyMap<string, Assessed>): (a: string, b: string) => number {
  return (a, b) => {
    const ua = (assessed.get(a) as Assessed).u;
    const ub = (assessed.get(b) as Assessed).u;
    return (
      Math.max(ua.windowMaxCpu, ua.windowMaxMemory) - Math.max(ub.windowMaxCpu, ub.windowMaxMemory) ||
      ua.windowMaxCpu + ua.windowMaxMemory - (ub.windowMaxCpu + ub.windowMaxMemory) ||
      compareStrings(a, b)
    );
  };
}

/**
 * The nodes of group `g` consolidation may consider, by name: not being removed, not removed earlier
 * in this decision, observed for the whole window, Ready, and passing every static rule.
 */
export function consolidationEligible(ctx: DecisionContext, g: GroupCtx, verdicts: ReadonlyMap<string, NodeVerdict>): ScaleDownNode[] {
  const out: ScaleDownNode[] = [];
  for (const v of [...verdicts.values()].sort((a, b) => compareStrings(a.node, b.node))) {
    const n = ctx.nodes.get(v.node);
    if (!n || n.nodeGroup !== g.group.name || ctx.removing.has(v.node) || ctx.sim.isRemoved(v.node)) continue;
    if (v.utilization.observedSeconds < v.utilization.windowSeconds) continue;
    if ((n.ready ?? true) === false) continue;
    if (staticRules(n, ctx.sim.podsOf(v.node), ctx.input.pdbs).length > 0) continue;
    out.push(n);
  }
  return out;
}
