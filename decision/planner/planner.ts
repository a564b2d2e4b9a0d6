/**
 * Scale-up planner: one decision record for a batch of pending pods.
 *
 * Runs the cost-directed packing (classes with anti-affinity first, then largest first; a new node
 * gets the offering with the best price per unit of the remaining demand's dominant resource; nodes
 * are right-sized to the cheapest offering that still holds their pods) and the first-fit-decreasing
 * baseline, and returns the better record: more pods placed, then lower monthly price, then the
 * cost-directed one. The result therefore never costs more than FFD for the same placed pods.
 *
 * preferredInstanceType is a preference with a price tolerance: for each group that names one (in
 * group order), the plan is made again with the group taking its preferred offering wherever that
 * offering can host the pod; it is taken when it places as many pods and its monthly price is at
 * most `preferredTolerancePercent` (default 10) above the cheapest plan's. `preferences` records
 * both prices and the choice.
 *
 * Pure: no I/O, no clock, no randomness; same input -> same output.
 */
import type { Prepared, RunOptions } from './engine';
import { prepare, runStrategy } from './engine';
import { isPreferred } from './templates';
import type { NodeGroup, PlannerInput, PreferenceChoice, ScaleUpDecision } from './types';

export const DEFAULT_PREFERRED_TOLERANCE_PERCENT = 10;

/** Placed-then-price ordering of two decisions: negative when `a` is better. */
export function compareDecisions(a: ScaleUpDecision, b: ScaleUpDecision): number {
  const placed = b.placements.length - a.placements.length;
  if (placed !== 0) return placed;
  return a.monthlyPrice - b.monthlyPrice;
}

function best(prep: Prepared, options: RunOptions = {}): ScaleUpDecision {
  const cost = runStrategy(prep, 'cost', options);
  const ffd = runStrategy(prep, 'ffd', options);
  return compareDecisions(ffd, cost) < 0 ? ffd : cost;
}

/** True when every new node the decision gives the group is of its preferred offering. */
function usesOnlyPreferred(d: ScaleUpDecision, g: NodeGroup): boolean {
  const gs = d.groups.find((x) => x.group === g.name && x.namespace === g.namespace);
  if (!gs) return true;
  return gs.nodes.every((n) => g.preferredInstanceType === n.offeringId || g.preferredInstanceType === n.nickname);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function planScaleUp(input: PlannerInput): ScaleUpDecision {
  const prep = prepare(input);
  const cheapest = best(prep);
  let chosen = cheapest;
  const prefer = new Set<NodeGroup>();
  const preferences: PreferenceChoice[] = [];
  for (const t of prep.templates) {
    const g = t.group;
    if (!t.preferred || prefer.has(g) || !g.offerings.some((o) => isPreferred(g, o))) continue;
    if (usesOnlyPreferred(chosen, g)) continue;
    const trial = best(prep, { preferGroups: new Set([...prefer, g]) });
    const tolerancePercent = g.preferredTolerancePercent ?? DEFAULT_PREFERRED_TOLERANCE_PERCENT;
    const limit = cheapest.monthlyPrice * (1 + tolerancePercent / 100);
    const accept = trial.placements.length >= chosen.placements.length && trial.monthlyPrice <= limit + 1e-9;
    const preferred = g.preferredInstanceType as string;
    const over = cheapest.monthlyPrice > 0 ? round2(((trial.monthlyPrice - cheapest.monthlyPrice) / cheapest.monthlyPrice) * 100) : 0;
    const message = accept
      ? `preferred ${preferred} chosen: $${round2(trial.monthlyPrice)}/month vs cheapest $${round2(cheapest.monthlyPrice)}/month (+${over}%, tolerance ${tolerancePercent}%)`
      : trial.placements.length < chosen.placements.length
        ? `cheapest plan kept: with preferred ${preferred} ${chosen.placements.length - trial.placements.length} fewer pod(s) would be placed`
        : `cheapest plan kept: preferred ${preferred} would cost $${round2(trial.monthlyPrice)}/month vs $${round2(cheapest.monthlyPrice)}/month (+${over}%, over the tolerance of ${tolerancePercent}%)`;
    preferences.push({
      group: g.name,
      namespace: g.namespace,
      preferred,
      tolerancePercent,
      cheapestMonthlyPrice: cheapest.monthlyPrice,
      preferredMonthlyPrice: trial.monthlyPrice,
      chosen: accept ? 'preferred' : 'cheapest',
      message,
    });
    if (accept) {
      prefer.add(g);
      chosen = trial;
    }
  }
  return preferences.length > 0 ? { ...chosen, preferences } : chosen;
}

/** The first-fit-decreasing baseline alone (cheapest offering that fits each node-opening pod). */
export function planFirstFitDecreasing(input: PlannerInput): ScaleUpDecision {
  return runStrategy(prepare(input), 'ffd');
}

/** The cost-directed packing alone (without the FFD fallback). */
export function planCostDirected(input: PlannerInput): ScaleUpDecision {
  return runStrategy(prepare(input), 'cost');
}
