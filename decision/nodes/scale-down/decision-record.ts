/**
 * The decision as the scale-down loop records it (the result of the activity that decides, so an
 * entry of the workflow history, which Temporal limits to 2 MB per payload): every approval,
 * dry-run approval, consolidation and group verdict as decided, and the verdict of every node the
 * decision is about (candidates, and any node a method approved), with at most two blockers per
 * reason (the count of the others in `omittedBlockers`). Left out: the verdicts of nodes that are
 * no candidate (counted in `stats`; no Event, condition, metric or query reads them).
 *
 * What reads the record gets the same answers as from the full decision: node Events (first
 * blocker, count, the set of further reasons), Event keys (set of reasons), safety metrics (set of
 * reasons per blocked node), Scaling conditions, removals.
 */
import type { Blocker } from './reasons';
import type { NodeVerdict, ScaleDownDecision } from './types';

export const MAX_BLOCKERS_PER_REASON = 2;

function compactVerdict(v: NodeVerdict): NodeVerdict {
  const seen = new Map<string, number>();
  const kept: Blocker[] = [];
  for (const b of v.blockers) {
    const n = seen.get(b.reason) ?? 0;
    seen.set(b.reason, n + 1);
    if (n < MAX_BLOCKERS_PER_REASON) kept.push(b);
  }
  const omitted = v.blockers.length - kept.length + (v.omittedBlockers ?? 0);
  const { omittedBlockers: _o, ...rest } = v;
  return { ...rest, blockers: kept, ...(omitted > 0 ? { omittedBlockers: omitted } : {}) };
}

export function decisionRecord(d: ScaleDownDecision): ScaleDownDecision {
  return { ...d, nodes: d.nodes.filter((v) => v.candidate || v.outcome !== 'notCandidate').map(compactVerdict) };
}
