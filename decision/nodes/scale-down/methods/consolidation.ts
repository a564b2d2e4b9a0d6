/**
 * Consolidation: replace one or more nodes of a group by fewer or cheaper ones when their pods fit
 * (the scale-up planner decides where, on remaining nodes and on new nodes of the group), and only
 * when the monthly saving reaches spec.consolidation.savingsThresholdPercent, so the cluster does not
 * churn. Replacements must be Ready before the drain (the workflow's job; the record lists them).
 *
 * Subsets tried: the least-utilised prefixes of the eligible nodes (as many as the disruption budget
 * allows, largest first) and each single node. The feasible subset with the largest saving wins.
 */
import { canonicalJson } from '../../../scheduling/canonical';
import { planScaleUp } from '../../../planner/planner';
import type { ClusterNode, NodeGroup as PlannerGroup, Offering, ScaleUpDecision } from '../../../planner/types';
import type { Resources, SimNode, SimPod, Taint } from '../../../scheduling/types';
import { compareStrings, LABEL_INSTANCE_TYPE, podKey } from '../../../scheduling/types';
import type { DecisionContext, GroupCtx } from '../context';
import { consolidationEligible } from '../eligibility';
import { isMovable } from '../pods';
import type { Blocker } from '../reasons';
import { sortBlockers } from '../reasons';
import type { ConsolidationRecord, NodeVerdict, PodMove, Removal, ReplacementNode, ScaleDownGroup, ScaleDownNode, ScaleDownPod } from '../types';
import type { ScaleDownMethod } from './types';

/** Largest subset tried (keeps the planner calls per decision bounded). */
export const MAX_CONSOLIDATION_NODES = 6;

export function nodePrice(group: ScaleDownGroup, n: ScaleDownNode): { offering: Offering; monthlyPrice: number } | undefined {
  const ids = [n.offeringId, n.node.labels[LABEL_INSTANCE_TYPE]].filter((x): x is string => x !== undefined);
  for (const id of ids) {
    const o = (group.offerings ?? []).find((x) => x.id === id || x.nickname === id);
    if (o) return { offering: o, monthlyPrice: o.monthlyPrice };
  }
  return undefined;
}

/**
 * The group as the planner sees it. With `headroom`, offerings are shrunk to just under the group's
 * scale-up thresholds, so replacements are never planned so full that the group would grow right back.
 */
export function plannerGroup(g: ScaleDownGroup, headroom = false): PlannerGroup {
  const up = g.spec.scaleUpPolicy;
  const shrink = (cap: number, pct: number): number => (headroom && up.enabled && pct < 100 ? Math.max(0, Math.ceil((cap * pct) / 100) - 1) : cap);
  const offerings = (g.offerings ?? []).map((o) => ({
    ...o,
    cpuMilli: shrink(o.cpuMilli, up.cpuThreshold),
    memoryBytes: shrink(o.memoryBytes, up.memoryThreshold),
  }));
  const out: PlannerGroup = {
    name: g.name,
    namespace: g.namespace,
    minNodes: 0,
    maxNodes: g.spec.maxNodes,
    currentNodes: g.currentNodes,
    offerings,
    allowMixedInstances: g.spec.allowMixedInstances ?? true,
    priority: g.spec.priority ?? 0,
  };
  if (g.spec.preferredInstanceType !== undefined) out.preferredInstanceType = g.spec.preferredInstanceType;
  if (g.spec.labels !== undefined) out.labels = g.spec.labels;
  if (g.spec.taints !== undefined)
    out.taints = g.spec.taints.map((t): Taint => (t.value === undefined ? { key: t.key, effect: t.effect } : { key: t.key, value: t.value, effect: t.effect }));
  if (g.zone !== undefined) out.zone = g.zone;
  return out;
}

function realAllocatable(g: ScaleDownGroup, offeringId: string): Resources | undefined {
  const o = (g.offerings ?? []).find((x) => x.id === offeringId);
  return o ? { cpuMilli: o.cpuMilli, memoryBytes: o.memoryBytes, pods: o.pods, ephemeralStorageBytes: o.ephemeralStorageBytes } : undefined;
}

interface Attempt {
  nodes: string[];
  pods: ScaleDownPod[];
  blockers: Blocker[];
  decision?: ScaleUpDecision;
  removedMonthlyPrice: number;
  pdbUsage: Map<string, number>;
}

function dedupeDaemonSets(pods: readonly SimPod[]): SimPod[] {
  const seen = new Map<string, SimPod>();
  for (const p of pods) {
    const k = canonicalJson({
      ns: p.namespace,
      l: p.labels,
      r: p.requests,
      s: p.nodeSelector ?? {},
      a: p.requiredNodeAffinity ?? null,
      t: p.tolerations ?? [],
    });
    if (!seen.has(k)) seen.set(k, p);
  }
  return [...seen.values()];
}

function evaluate(ctx: DecisionContext, g: GroupCtx, subset: readonly ScaleDownNode[]): Attempt {
  const names = subset.map((n) => n.node.name);
  const leaving = new Set(names);
  const pods: ScaleDownPod[] = [];
  const daemonSets: SimPod[] = [];
  let removedMonthlyPrice = 0;
  for (const n of subset) {
    for (const p of ctx.sim.podsOf(n.node.name)) {
      if (isMovable(p)) pods.push(p);
      else if (p.ownerKind === 'DaemonSet') daemonSets.push(p);
    }
    removedMonthlyPrice += nodePrice(g.group, n)?.monthlyPrice ?? 0;
  }
  const pdb = ctx.pdbRule(pods);
  const blockers: Blocker[] = [...pdb.blockers, ...ctx.groupArithmetic(g, subset.length)];
  const existing: ClusterNode[] = [];
  for (const e of ctx.sim.liveEntries()) {
    if (leaving.has(e.node.name) || e.extraRequested !== undefined) continue;
    const c: ClusterNode = { node: e.node, pods: e.pods };
    const grp = ctx.nodeGroupOf.get(e.node.name);
    if (grp !== undefined) c.nodeGroup = grp;
    existing.push(c);
  }
  const pending = pods.map((p) => {
    const q: ScaleDownPod = { ...p };
    delete q.nodeName;
    return q;
  });
  const decision = planScaleUp({
    pendingPods: pending,
    existingNodes: existing,
    inFlightNodes: [],
    nodeGroups: [plannerGroup(g.group, true)],
    daemonSetPods: dedupeDaemonSets(daemonSets),
    maxClusterNodes: Number.MAX_SAFE_INTEGER,
    enforceMinNodes: false,
    ...(ctx.input.hoursPerMonth !== undefined ? { hoursPerMonth: ctx.input.hoursPerMonth } : {}),
  });
  for (const u of decision.unplaced) {
    blockers.push({
      reason: u.reason === 'AntiAffinityUnsatisfiable' ? 'AntiAffinityUnsatisfiable' : 'NoPlaceToMove',
      pod: u.pod,
      message: `pod ${u.pod} has no place after consolidation: ${u.reason} (${u.message})`,
      numbers: { ...u.numbers },
    });
  }
  // Minimum nodes after the replacements exist and the subset is gone.
  const arithmetic = ctx.groupArithmetic(g, subset.length, decision.newNodes);
  const kept = blockers.filter((b) => b.reason !== 'MinNodesReached');
  blockers.length = 0;
  blockers.push(...kept, ...arithmetic.filter((b) => b.reason === 'MinNodesReached'));
  if (decision.unplaced.length === 0) {
    const moves = decision.placements.filter((p) => p.target !== 'new').map((p) => ({ pod: p.pod, node: p.node }));
    const extra = decision.groups.flatMap((x) =>
      x.nodes.map((n) => ({ allocatable: realAllocatable(g.group, n.offeringId) ?? n.allocatable, requested: n.requested })),
    );
    blockers.push(...ctx.scaleUpRule(g, leaving, moves, extra));
  }
  return { nodes: names, pods, blockers: sortBlockers(blockers), decision, removedMonthlyPrice, pdbUsage: pdb.usage };
}

function saving(a: Attempt): number {
  return a.removedMonthlyPrice - (a.decision?.monthlyPrice ?? Infinity);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The record of attempt `a`; its reason is the first blocker's. */
function toRecord(g: GroupCtx, a: Attempt, outcome: ConsolidationRecord['outcome'], blockers: Blocker[]): ConsolidationRecord {
  const d = a.decision;
  const replacementMonthlyPrice = d ? d.monthlyPrice : 0;
  const savingMonthly = round2(a.removedMonthlyPrice - replacementMonthlyPrice);
  const replacements: ReplacementNode[] = (d?.groups ?? []).flatMap((x) =>
    x.nodes.map((n) => ({ name: n.name, offeringId: n.offeringId, nickname: n.nickname, monthlyPrice: n.monthlyPrice })),
  );
  const r: ConsolidationRecord = {
    nodeGroup: g.group.name,
    nodes: a.nodes,
    replacements,
    removedMonthlyPrice: round2(a.removedMonthlyPrice),
    replacementMonthlyPrice: round2(replacementMonthlyPrice),
    savingMonthly,
    savingPercent: a.removedMonthlyPrice > 0 ? round2((savingMonthly / a.removedMonthlyPrice) * 100) : 0,
    thresholdPercent: g.group.spec.consolidation.savingsThresholdPercent,
    outcome,
    blockers,
    moves: (d?.placements ?? []).map((p) => ({ pod: p.pod, node: p.node })),
  };
  if (blockers[0]) r.reason = blockers[0].reason;
  return r;
}

/** Nothing to try but nodes without a price. */
function unpricedRecord(g: GroupCtx, unpriced: string[]): ConsolidationRecord {
  return {
    nodeGroup: g.group.name,
    nodes: unpriced,
    replacements: [],
    removedMonthlyPrice: 0,
    replacementMonthlyPrice: 0,
    savingMonthly: 0,
    savingPercent: 0,
    thresholdPercent: g.group.spec.consolidation.savingsThresholdPercent,
    outcome: 'blocked',
    reason: 'ConsolidationUnpriced',
    blockers: [{ reason: 'ConsolidationUnpriced', message: `no offering price for node(s) ${unpriced.join(', ')}`, numbers: { nodes: unpriced.length } }],
    moves: [],
  };
}

/** The subsets tried: least-utilised prefixes (largest first, within the budget), then each single node. */
function subsetsOf(eligible: readonly ScaleDownNode[], budgetLeft: number): ScaleDownNode[][] {
  const subsets: ScaleDownNode[][] = [];
  const maxK = Math.min(Math.max(budgetLeft, 1), eligible.length, MAX_CONSOLIDATION_NODES);
  for (let k = maxK; k >= 2; k--) subsets.push(eligible.slice(0, k));
  for (const n of eligible.slice(0, MAX_CONSOLIDATION_NODES)) subsets.push([n]);
  return subsets;
}

function belowThreshold(best: Attempt, savingPercent: number, threshold: number): Blocker {
  return {
    reason: 'ConsolidationBelowThreshold',
    message: `replacing ${best.nodes.join(', ')} saves ${round2(saving(best))}/month (${round2(savingPercent)}%), threshold ${threshold}%`,
    numbers: {
      removedMonthlyPrice: round2(best.removedMonthlyPrice),
      replacementMonthlyPrice: round2(best.decision?.monthlyPrice ?? 0),
      savingPercent: round2(savingPercent),
      thresholdPercent: threshold,
    },
  };
}

/** Applies an approved attempt to the simulation (replacements added, pods moved) and to the verdicts. */
function apply(ctx: DecisionContext, g: GroupCtx, best: Attempt, rec: ConsolidationRecord, verdicts: Map<string, NodeVerdict>): void {
  const d = best.decision as ScaleUpDecision;
  const dryRun = g.group.spec.dryRun;
  for (const x of d.groups) {
    for (const pn of x.nodes) {
      const node: SimNode = { name: pn.name, labels: pn.labels, allocatable: realAllocatable(g.group, pn.offeringId) ?? pn.allocatable };
      const taints = plannerGroup(g.group).taints;
      if (taints && taints.length > 0) node.taints = taints;
      ctx.sim.addNode(node, pn.daemonSetOverhead);
      ctx.nodeGroupOf.set(pn.name, g.group.name);
    }
  }
  const podNode = new Map<string, string>();
  for (const name of best.nodes) for (const p of ctx.sim.podsOf(name)) if (isMovable(p)) podNode.set(podKey(p), name);
  const moves: PodMove[] = rec.moves;
  ctx.sim.apply(best.nodes, moves, ctx.podsByKey);
  ctx.consumePdbs(best.pdbUsage);
  g.approved += best.nodes.length;
  for (const name of best.nodes) {
    const v = verdicts.get(name) as NodeVerdict;
    v.outcome = dryRun ? 'dryRun' : 'approved';
    v.kind = 'consolidate';
    v.blockers = [];
    if (dryRun) v.reason = 'DryRun';
    else delete v.reason;
    v.moves = moves.filter((m) => podNode.get(m.pod) === name);
    v.evictions = v.moves.map((m) => m.pod).sort(compareStrings);
    const price = nodePrice(g.group, ctx.nodes.get(name) as ScaleDownNode);
    if (price) v.monthlyPrice = price.monthlyPrice;
  }
}

export function consolidateGroup(ctx: DecisionContext, g: GroupCtx, verdicts: Map<string, NodeVerdict>): ConsolidationRecord | undefined {
  if (g.gates.length > 0) return undefined;
  const threshold = g.group.spec.consolidation.savingsThresholdPercent;
  const considered = consolidationEligible(ctx, g, verdicts);
  const eligible = considered.filter((n) => nodePrice(g.group, n) !== undefined);
  const unpriced = considered.filter((n) => nodePrice(g.group, n) === undefined).map((n) => n.node.name);
  if (eligible.length === 0) return unpriced.length === 0 ? undefined : unpricedRecord(g, unpriced);
  const util = (n: ScaleDownNode): number => {
    const u = (verdicts.get(n.node.name) as NodeVerdict).utilization;
    return Math.max(u.windowMaxCpu, u.windowMaxMemory);
  };
  eligible.sort((a, b) => util(a) - util(b) || compareStrings(a.node.name, b.node.name));
  const attempts = subsetsOf(eligible, g.budget - g.inFlight - g.approved).map((s) => evaluate(ctx, g, s));
  const feasible = attempts.filter((a) => a.blockers.length === 0 && a.removedMonthlyPrice > 0);
  feasible.sort((a, b) => saving(b) - saving(a) || a.nodes.length - b.nodes.length);
  const best = feasible[0];
  if (!best) {
    const first = attempts[0] as Attempt;
    return toRecord(g, first, 'blocked', first.blockers);
  }
  const savingPercent = best.removedMonthlyPrice > 0 ? (saving(best) / best.removedMonthlyPrice) * 100 : 0;
  if (!(savingPercent >= threshold) || saving(best) <= 0) return toRecord(g, best, 'belowThreshold', [belowThreshold(best, savingPercent, threshold)]);
  // Approved: apply to the simulation.
  const dryRun = g.group.spec.dryRun;
  const rec = toRecord(g, best, dryRun ? 'dryRun' : 'approved', []);
  if (dryRun) rec.reason = 'DryRun';
  apply(ctx, g, best, rec, verdicts);
  return rec;
}

/** Consolidation, for each group with it enabled that removed nothing by emptiness in this phase. */
export const consolidation: ScaleDownMethod = {
  name: 'consolidation',
  compute({ ctx, verdicts, groups }) {
    const removals: Removal[] = [];
    for (const g of groups) {
      if (!g.group.spec.consolidation.enabled || g.approved > 0) continue;
      const rec = consolidateGroup(ctx, g, verdicts);
      if (!rec) continue;
      g.verdict.consolidation = rec;
      if (rec.outcome !== 'approved' && rec.outcome !== 'dryRun') continue;
      for (const name of rec.nodes) {
        const n = ctx.nodes.get(name) as ScaleDownNode;
        const v = verdicts.get(name) as NodeVerdict;
        const removal: Removal = {
          node: name,
          nodeGroup: g.group.name,
          kind: 'consolidate',
          replacements: rec.replacements,
          evictions: v.evictions ?? [],
          moves: v.moves ?? [],
        };
        if (n.vpsieNode !== undefined) removal.vpsieNode = n.vpsieNode;
        removals.push(removal);
      }
    }
    return removals;
  },
};
