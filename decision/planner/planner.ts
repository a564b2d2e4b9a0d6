/**
 * Scale-up planner: one decision record for a batch of pending pods.
 *
 * Runs the cost-directed packing (classes with anti-affinity first, then largest first; a new node
 * gets the offering with the best price per unit of the remaining demand's dominant resource; nodes
 * are right-sized to the cheapest offering that still holds their pods) and the first-fit-decreasing
 * baseline, and returns the better record: more pods placed, then lower monthly price, then the
 * cost-directed one. The result therefore never costs more than FFD for the same placed pods.
 *
 * Pure: no I/O, no clock, no randomness; same input -> same output.
 */
import { prepare, runStrategy } from './engine';
import type { PlannerInput, ScaleUpDecision } from './types';

/** Placed-then-price ordering of two decisions: negative when `a` is better. */
export function compareDecisions(a: ScaleUpDecision, b: ScaleUpDecision): number {
  const placed = b.placements.length - a.placements.length;
  if (placed !== 0) return placed;
  return a.monthlyPrice - b.monthlyPrice;
}

export function planScaleUp(input: PlannerInput): ScaleUpDecision {
  const prep = prepare(input);
  const cost = runStrategy(prep, 'cost');
  const ffd = runStrategy(prep, 'ffd');
  return compareDecisions(ffd, cost) < 0 ? ffd : cost;
}

/** The first-fit-decreasing baseline alone (cheapest offering that fits each node-opening pod). */
export function planFirstFitDecreasing(input: PlannerInput): ScaleUpDecision {
  return runStrategy(prepare(input), 'ffd');
}

/** The cost-directed packing alone (without the FFD fallback). */
export function planCostDirected(input: PlannerInput): ScaleUpDecision {
  return runStrategy(prepare(input), 'cost');
}
