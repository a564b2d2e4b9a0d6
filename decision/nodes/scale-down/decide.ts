/**
 * The scale-down decision: one record for one snapshot.
 *
 *  1. Eligibility (eligibility.ts): every node gets its utilisation over its group's stabilisation
 *     window (requests, and usage when sampled); candidates are the managed nodes under both
 *     thresholds for the whole window.
 *  2. The methods (methods/), in order, each on the simulation the one before left:
 *     - emptiness (methods/emptiness.ts): candidates least-utilised first, each checked against every
 *       rule and, when none fails, approved (or, in a dry-run group, reported as DryRun) and applied;
 *     - consolidation (methods/consolidation.ts): groups with consolidation enabled that removed
 *       nothing try to replace nodes by fewer or cheaper ones.
 *  Step 2 runs first for the groups that really remove, then for the dry-run groups: a dry-run
 *  removal is applied to the simulation (its report sees the whole decision), but it never happens,
 *  so no real removal is decided on a cluster that assumes it.
 *
 * Pure and deterministic: no I/O, no clock (input.now), input order does not matter.
 */
import { compareStrings } from '../../scheduling/types';
import type { GroupCtx } from './context';
import { canonicalInput, DecisionContext } from './context';
import { assessNodes, byUtilization, candidateNames, initialVerdicts } from './eligibility';
import { consolidation } from './methods/consolidation';
import { emptiness } from './methods/emptiness';
import type { ScaleDownMethod } from './methods/types';
import { sortBlockers } from './reasons';
import type { Removal, ScaleDownDecision, ScaleDownInput, ScaleDownNode } from './types';

/** The methods, in the order they run in each phase. */
export const SCALE_DOWN_METHODS: readonly ScaleDownMethod[] = [emptiness, consolidation];

export function decideScaleDown(raw: ScaleDownInput): ScaleDownDecision {
  const ctx = new DecisionContext(canonicalInput(raw));
  const assessed = assessNodes(ctx);
  const candidates = candidateNames(assessed);
  // Moved pods go to non-candidates first, so one removal does not fill the next candidate.
  ctx.sim.markLast(candidates);
  const verdicts = initialVerdicts(assessed);
  const removals: Removal[] = [];
  const dryRunRemovals: Removal[] = [];

  // Two phases: the groups that really remove first, the dry-run groups after. A dry-run removal is
  // applied to the simulation (so the dry-run report counts PDB allowances, budgets and destinations
  // over the whole decision, as if dry run were off), but it never happens: no real removal may be
  // checked against a cluster from which a dry-run removal took a node, its pods or their constraints.
  for (const dryRun of [false, true]) {
    const inPhase = (g: GroupCtx): boolean => g.group.spec.dryRun === dryRun;
    const phase = {
      ctx,
      verdicts,
      dryRun,
      candidates: [...candidates].filter((name) => inPhase(ctx.groupOf(ctx.nodes.get(name) as ScaleDownNode) as GroupCtx)).sort(byUtilization(assessed)),
      groups: [...ctx.groups.values()].filter(inPhase).sort((a, b) => compareStrings(a.group.name, b.group.name)),
    };
    for (const method of SCALE_DOWN_METHODS) (dryRun ? dryRunRemovals : removals).push(...method.compute(phase));
  }

  summarizeGroups(ctx);
  const nodes = [...verdicts.values()].sort((a, b) => compareStrings(a.node, b.node));
  return {
    now: ctx.input.now,
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

/** Each group's verdict: its gates, approvals, and requested share over its nodes in the input. */
function summarizeGroups(ctx: DecisionContext): void {
  for (const g of ctx.groups.values()) {
    g.verdict.blockers = sortBlockers([...g.gates]);
    g.verdict.approved = g.approved;
    let cpu = 0;
    let mem = 0;
    let acpu = 0;
    let amem = 0;
    for (const n of ctx.input.nodes) {
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
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
