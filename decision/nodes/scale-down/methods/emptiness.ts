/**
 * Emptiness: remove a candidate outright when every rule passes — group gates, the static rules
 * (annotations, local storage, kube-system pods, unreplicated pods), PDBs, a place for every movable
 * pod on the remaining nodes (the scheduling predicates), minNodes and the disruption budget, and
 * the scale-up thresholds of what remains. All failing rules are recorded; the first in
 * SCALE_DOWN_REASONS order is the node's reason.
 *
 * Candidates are taken least-utilised first; each approval is applied to the simulation, so the next
 * candidate is checked against the cluster after it.
 */
import { compareStrings, podKey } from '../../../scheduling/types';
import type { GroupCtx } from '../context';
import { isMovable } from '../pods';
import type { Blocker } from '../reasons';
import { sortBlockers } from '../reasons';
import { staticRules } from '../rules';
import type { MoveResult } from '../simulate';
import type { NodeVerdict, Removal, ScaleDownNode } from '../types';
import type { MethodInput, ScaleDownMethod } from './types';

export function placementBlockers(result: MoveResult): Blocker[] {
  return result.failures.map((f) => ({
    reason: f.reason,
    pod: f.pod,
    message:
      f.reason === 'AntiAffinityUnsatisfiable'
        ? `pod ${f.pod} cannot move: required anti-affinity excludes every node with room (${describe(f.failures)})`
        : f.reason === 'PersistentVolumeUnreachable'
          ? `pod ${f.pod} cannot move: its PersistentVolume's node affinity / zone allows no remaining node (${describe(f.failures)})`
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

/** Checks one candidate; when every rule passes, approves it, applies it and returns its removal. */
function tryRemove({ ctx, verdicts, dryRun }: MethodInput, name: string): Removal | undefined {
  const n = ctx.nodes.get(name) as ScaleDownNode;
  const g = ctx.groupOf(n) as GroupCtx;
  const v = verdicts.get(name) as NodeVerdict;
  const pods = ctx.sim.podsOf(name);
  const movable = pods.filter(isMovable);
  const blockers: Blocker[] = [...g.gates, ...staticRules(n, pods, ctx.input.pdbs)];
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
    return undefined;
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
  return removal;
}

export const emptiness: ScaleDownMethod = {
  name: 'emptiness',
  compute(input) {
    const removals: Removal[] = [];
    for (const name of input.candidates) {
      const removal = tryRemove(input, name);
      if (removal) removals.push(removal);
    }
    return removals;
  },
};
