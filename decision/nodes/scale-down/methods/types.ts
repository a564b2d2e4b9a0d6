/**
 * A scale-down method: one way of finding nodes to remove (emptiness, consolidation), after the
 * candidacy of eligibility.ts. decideScaleDown runs the methods in order, once for the groups that
 * really remove and once for the dry-run groups; each method sees the simulation as the methods
 * before it left it (modelled on Karpenter's disruption `Method`).
 */
import type { DecisionContext, GroupCtx } from '../context';
import type { NodeVerdict, Removal } from '../types';

/** What one method sees in one phase (the real groups, or the dry-run groups). */
export interface MethodInput {
  ctx: DecisionContext;
  /** Every node's verdict; a method updates the verdicts of the nodes it considers. */
  verdicts: Map<string, NodeVerdict>;
  /** The candidates of this phase's groups, least-utilised first. */
  candidates: readonly string[];
  /** This phase's groups, by name. */
  groups: readonly GroupCtx[];
  /** True in the dry-run phase: approvals are reported as DryRun. */
  dryRun: boolean;
}

export interface ScaleDownMethod {
  readonly name: 'emptiness' | 'consolidation';
  /**
   * The removals this method decides in this phase, in decision order. Each is already applied to
   * the simulation (pods bound where they go, PDB allowances and group counts consumed).
   */
  compute(input: MethodInput): Removal[];
}
