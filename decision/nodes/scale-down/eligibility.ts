/**
 * Candidacy: which nodes a scale-down method may consider at all, before any method runs.
 *
 * - A candidate is a managed node (its group is known), not already being removed, observed for its
 *   group's whole stabilisation window, with the window peak strictly below both thresholds — the
 *   peak of requests, of usage (metrics-server), or of both, as scaleDownPolicy.utilizationSource
 *   says (default both). `usage` is conservative: usage not known for the whole window means no
 *   candidate (UsageUnknown), never "idle because nothing was measured". `both` needs requests low
 *   for the whole window AND every used share metrics-server reported in it low; with no usage at
 *   all in the window (no metrics-server installed, a node it does not report) it is judged by
 *   requests alone, so the default never stops scale-down where usage cannot be had.
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
import type { UtilizationSource } from '../../../lib/crds/autoscaler/constants';

const DEFAULT_POLICY = { stabilizationWindowSeconds: 600, cpuThreshold: 50, memoryThreshold: 50 } as const;

/** One node before any method: its utilisation over the window and why it is not a candidate. */
export interface Assessed {
  n: ScaleDownNode;
  u: NodeUtilization;
  /** Why the node is not a candidate (empty = it is one). */
  notCandidate: Blocker[];
}

/**
 * The node's utilisation as scaleDownPolicy.utilizationSource judges it:
 *  - `requests`: pods' requests over allocatable (history and now), observed for the window;
 *  - `usage`: metrics-server's usage over allocatable, known for the whole window;
 *  - `both` (default): the larger of the two (requests observed for the whole window, usage where known).
 */
function utilizationOf(input: ScaleDownInput, n: ScaleDownNode, g: GroupCtx | undefined): NodeUtilization {
  const policy = g?.group.spec.scaleDownPolicy ?? DEFAULT_POLICY;
  // A spec without the field comes only from inputs recorded before issue #17 (the CRD defaults it
  // to `both`): judged as it was then, by requests.
  const source: UtilizationSource = ('utilizationSource' in policy ? policy.utilizationSource : undefined) ?? 'requests';
  const t = thresholds(policy);
  const current = requestShare(n.node.allocatable, n.pods);
  const window = policy.stabilizationWindowSeconds;
  const view = viewOf(input.utilization, input.windowViews, n.node.name, window, input.now);
  const reqCpu = Math.max(current.cpu, view.maxCpu);
  const reqMemory = Math.max(current.memory, view.maxMemory);
  const usage = view.usage
    ? { windowMaxCpu: view.usage.maxCpu, windowMaxMemory: view.usage.maxMemory, observedSeconds: window === 0 ? 0 : view.usage.observedSeconds }
    : undefined;
  const observed = window === 0 ? 0 : view.observedSeconds;
  const u: NodeUtilization = {
    cpu: current.cpu,
    memory: current.memory,
    windowMaxCpu: reqCpu,
    windowMaxMemory: reqMemory,
    observedSeconds: observed,
    windowSeconds: window,
    cpuThreshold: t.cpu,
    memoryThreshold: t.memory,
    source,
  };
  if (source === 'requests') return u;
  u.requests = { windowMaxCpu: reqCpu, windowMaxMemory: reqMemory };
  if (usage) u.usage = usage;
  if (source === 'usage') {
    u.windowMaxCpu = usage?.windowMaxCpu ?? 0;
    u.windowMaxMemory = usage?.windowMaxMemory ?? 0;
    u.observedSeconds = usage?.observedSeconds ?? 0;
  } else {
    u.windowMaxCpu = Math.max(reqCpu, usage?.windowMaxCpu ?? 0);
    u.windowMaxMemory = Math.max(reqMemory, usage?.windowMaxMemory ?? 0);
  }
  return u;
}

function overThreshold(what: 'requests' | 'usage', cpu: number, memory: number, u: NodeUtilization): Blocker | undefined {
  if (cpu * 100 < u.cpuThreshold && memory * 100 < u.memoryThreshold) return undefined;
  return {
    reason: 'NotUnderutilized',
    message: `${what === 'requests' ? 'requests' : 'usage (metrics-server)'} peaked over the window at ${pct(cpu)}% cpu / ${pct(memory)}% memory, thresholds ${u.cpuThreshold}% / ${u.memoryThreshold}% (utilizationSource ${u.source ?? 'requests'})`,
    numbers: {
      cpuPercent: pct(cpu),
      memoryPercent: pct(memory),
      cpuThreshold: u.cpuThreshold,
      memoryThreshold: u.memoryThreshold,
      usage: what === 'usage' ? 1 : 0,
    },
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
  const source = u.source ?? 'requests';
  const byRequests = source !== 'usage';
  const byUsage = source !== 'requests';
  if (byRequests) {
    const observed = u.observedSeconds;
    if (observed < u.windowSeconds) {
      out.push({
        reason: 'StabilizationWindowPending',
        message: `utilisation observed for ${observed}s of the ${u.windowSeconds}s window`,
        numbers: { observedSeconds: observed, windowSeconds: u.windowSeconds },
      });
    }
  }
  if (source === 'usage' && (!u.usage || u.usage.observedSeconds < u.windowSeconds)) {
    out.push({
      reason: 'UsageUnknown',
      message: u.usage
        ? `usage (metrics-server) known for ${u.usage.observedSeconds}s of the ${u.windowSeconds}s window (utilizationSource ${source}): not judged underutilised`
        : `no usage of node ${n.node.name} from metrics-server (not scraped yet, or the metrics API unavailable; utilizationSource ${source}): not judged underutilised`,
      numbers: { usageObservedSeconds: u.usage?.observedSeconds ?? 0, windowSeconds: u.windowSeconds },
    });
  }
  const req = u.requests ?? { windowMaxCpu: u.windowMaxCpu, windowMaxMemory: u.windowMaxMemory };
  const overReq = byRequests ? overThreshold('requests', req.windowMaxCpu, req.windowMaxMemory, u) : undefined;
  if (overReq) out.push(overReq);
  // `both`: usage where metrics-server reported it in the window must be low too; a node it never
  // reported (no metrics-server, a node it cannot scrape) is judged by requests alone, as before.
  const overUse = byUsage && u.usage ? overThreshold('usage', u.usage.windowMaxCpu, u.usage.windowMaxMemory, u) : undefined;
  if (overUse) out.push(overUse);
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
