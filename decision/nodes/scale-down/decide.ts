/**
 * The scale-down decision: one record for one snapshot.
 *
 *  1. Every node gets its utilisation over its group's stabilisation window (requests, and usage
 *     when sampled); candidates are the managed nodes under both thresholds for the whole window.
 *  2. Candidates are taken least-utilised first. Each is checked against every rule (group gates,
 *     annotations, local storage, kube-system pods, unreplicated pods, PDBs, placement of every
 *     movable pod with the scheduling predicates, minNodes, disruption budget, scale-up thresholds);
 *     all failing rules are recorded, the first in SCALE_DOWN_REASONS order is the node's reason.
 *  3. A node with no failing rule is approved (or, in a dry-run group, reported as DryRun) and its
 *     removal is applied to the simulation: its pods are bound where they would go, PDB allowances
 *     and group counts are consumed, so the next candidate is checked against the cluster after it.
 *  4. Groups with consolidation enabled that removed nothing try to replace nodes by fewer or
 *     cheaper ones (consolidation.ts).
 *  Steps 2-4 run first for the groups that really remove, then for the dry-run groups: a dry-run
 *  removal is applied to the simulation (its report sees the whole decision), but it never happens,
 *  so no real removal is decided on a cluster that assumes it.
 *
 * Pure and deterministic: no I/O, no clock (input.now), input order does not matter.
 */
import { podKey } from '../../scheduling/types';
import { compareStrings } from '../../scheduling/types';
import { consolidateGroup } from './consolidation';
import type { GroupCtx } from './context';
import { canonicalInput, DecisionContext, pct } from './context';
import { isMovable } from './pods';
import type { Blocker } from './reasons';
import { sortBlockers } from './reasons';
import { staticRules } from './rules';
import type { MoveResult } from './simulate';
import { requestShare, thresholds, windowView } from './utilization';
import type { NodeUtilization, NodeVerdict, Removal, ScaleDownDecision, ScaleDownInput, ScaleDownNode } from './types';

const DEFAULT_POLICY = { stabilizationWindowSeconds: 600, cpuThreshold: 50, memoryThreshold: 50 } as const;

function utilizationOf(input: ScaleDownInput, n: ScaleDownNode, g: GroupCtx | undefined): NodeUtilization {
  const policy = g?.group.spec.scaleDownPolicy ?? DEFAULT_POLICY;
  const t = thresholds(policy);
  const current = requestShare(n.node.allocatable, n.pods);
  const window = policy.stabilizationWindowSeconds;
  const view = windowView(input.utilization, n.node.name, window, input.now);
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

export function placementBlockers(result: MoveResult): Blocker[] {
  return result.failures.map((f) => ({
    reason: f.reason,
    pod: f.pod,
    message:
      f.reason === 'AntiAffinityUnsatisfiable'
        ? `pod ${f.pod} cannot move: required anti-affinity excludes every node with room (${describe(f.failures)})`
        : `pod ${f.pod} fits on no remaining node (${describe(f.failures)})`,
    numbers: { cpuMilli: f.requests.cpuMilli, memoryBytes: f.requests.memoryBytes, ...f.failures },
  }));
}

function describe(counts: Readonly<Record<string, number>>): string {
  const parts = Object.keys(counts)
    .sort()
    .map((k) => `${k}: ${counts[k]}`);
  return parts.length === 0 ? 'no nodes left' : parts.join(', ');
}

export function decideScaleDown(raw: ScaleDownInput): ScaleDownDecision {
  const input = canonicalInput(raw);
  const ctx = new DecisionContext(input);
  const prelim = new Map<string, { n: ScaleDownNode; u: NodeUtilization; notCandidate: Blocker[] }>();
  const candidateNames = new Set<string>();
  for (const n of input.nodes) {
    const u = utilizationOf(input, n, ctx.groupOf(n));
    const notCandidate = candidacy(ctx, n, u);
    prelim.set(n.node.name, { n, u, notCandidate });
    if (notCandidate.length === 0) candidateNames.add(n.node.name);
  }
  // Moved pods go to non-candidates first, so one removal does not fill the next candidate.
  ctx.sim.markLast(candidateNames);

  const verdicts = new Map<string, NodeVerdict>();
  for (const [name, p] of prelim) {
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

  const removals: Removal[] = [];
  const dryRunRemovals: Removal[] = [];
  const byUtilization = (a: string, b: string): number => {
    const ua = (prelim.get(a) as { u: NodeUtilization }).u;
    const ub = (prelim.get(b) as { u: NodeUtilization }).u;
    return (
      Math.max(ua.windowMaxCpu, ua.windowMaxMemory) - Math.max(ub.windowMaxCpu, ub.windowMaxMemory) ||
      ua.windowMaxCpu + ua.windowMaxMemory - (ub.windowMaxCpu + ub.windowMaxMemory) ||
      compareStrings(a, b)
    );
  };
  const isDryRun = (g: GroupCtx): boolean => g.group.spec.dryRun;

  // Two phases: the groups that really remove first, the dry-run groups after. A dry-run removal is
  // applied to the simulation (so the dry-run report counts PDB allowances, budgets and destinations
  // over the whole decision, as if dry run were off), but it never happens: no real removal may be
  // checked against a cluster from which a dry-run removal took a node, its pods or their constraints.
  for (const dryRun of [false, true]) {
    // Emptiness: candidates least-utilised first.
    const order = [...candidateNames].filter((name) => isDryRun(ctx.groupOf(ctx.nodes.get(name) as ScaleDownNode) as GroupCtx) === dryRun).sort(byUtilization);
    for (const name of order) {
      const n = ctx.nodes.get(name) as ScaleDownNode;
      const g = ctx.groupOf(n) as GroupCtx;
      const v = verdicts.get(name) as NodeVerdict;
      const pods = ctx.sim.podsOf(name);
      const movable = pods.filter(isMovable);
      const blockers: Blocker[] = [...g.gates, ...staticRules(n, pods, input.pdbs)];
      const pdb = ctx.pdbRule(movable);
      blockers.push(...pdb.blockers);
      const leaving = new Set([name]);
      const moved = ctx.sim.tryMove(leaving, movable);
      blockers.push(...placementBlockers(moved));
      blockers.push(...ctx.groupArithmetic(g, 1));
      if (moved.failures.length === 0) blockers.push(...ctx.scaleUpRule(g, leaving, moved.moves));
      v.blockers = sortBlockers(blockers);
      if (v.blockers.length > 0) {
        v.outcome = 'blocked';
        v.reason = (v.blockers[0] as Blocker).reason;
        continue;
      }
      // Approved: apply.
      v.outcome = dryRun ? 'dryRun' : 'approved';
      if (dryRun) v.reason = 'DryRun';
      else delete v.reason;
      v.kind = 'delete';
      v.moves = moved.moves;
      v.evictions = movable.map(podKey).sort(compareStrings);
      ctx.consumePdbs(pdb.usage);
      ctx.sim.apply([name], moved.moves, ctx.podsByKey);
      g.approved++;
      const removal: Removal = { node: name, nodeGroup: g.group.name, kind: 'delete', evictions: v.evictions, moves: moved.moves };
      if (n.vpsieNode !== undefined) removal.vpsieNode = n.vpsieNode;
      (dryRun ? dryRunRemovals : removals).push(removal);
    }

    // Consolidation, for groups that removed nothing by emptiness.
    for (const g of [...ctx.groups.values()].filter((x) => isDryRun(x) === dryRun).sort((a, b) => compareStrings(a.group.name, b.group.name))) {
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
        (rec.outcome === 'dryRun' ? dryRunRemovals : removals).push(removal);
      }
    }
  }

  // Group summaries.
  for (const g of ctx.groups.values()) {
    g.verdict.blockers = sortBlockers([...g.gates]);
    g.verdict.approved = g.approved;
    let cpu = 0;
    let mem = 0;
    let acpu = 0;
    let amem = 0;
    for (const n of input.nodes) {
      if (n.nodeGroup !== g.group.name) continue;
      for (const p of n.pods) {
        if (p.terminating || p.phase === 'Succeeded' || p.phase === 'Failed') continue;
        cpu += p.requests.cpuMilli;
        mem += p.requests.memoryBytes;
      }
      acpu += n.node.allocatable.cpuMilli;
      amem += n.node.allocatable.memoryBytes;
    }
    g.verdict.utilization = { cpu: acpu > 0 ? round4(cpu / acpu) : 0, memory: amem > 0 ? round4(mem / amem) : 0 };
  }

  const nodes = [...verdicts.values()].sort((a, b) => compareStrings(a.node, b.node));
  return {
    now: input.now,
    nodes,
    groups: [...ctx.groups.values()].map((g) => g.verdict).sort((a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.nodeGroup, b.nodeGroup)),
    removals,
    dryRunRemovals,
    stats: {
      nodes: nodes.length,
      candidates: nodes.filter((v) => v.candidate).length,
      blocked: nodes.filter((v) => v.outcome === 'blocked').length,
      approved: nodes.filter((v) => v.outcome === 'approved').length,
      dryRun: nodes.filter((v) => v.outcome === 'dryRun').length,
    },
  };
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
