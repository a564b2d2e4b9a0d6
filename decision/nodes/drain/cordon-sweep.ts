/**
 * Stray cordons: Nodes the orchestrator cordoned (its cordon mark, annotations.ts) that are still
 * unschedulable while no removal of them is in flight (no removal child of the scale-down loop, no
 * VPSieNode being deleted). A drain or removal that failed in a way its own compensation could not
 * handle (a worker lost mid-way, a workflow terminated) leaves such a Node; the scale-down loop
 * uncordons it. The mark must be older than `minAgeSeconds`, so a cordon written between the
 * reads of one snapshot (Node listed after the cordon, removal not yet visible) is not undone.
 */
import { compareStrings, type LabelMap } from '../../scheduling/types';
import { cordonMark } from './annotations';

export interface CordonSweepNode {
  name: string;
  unschedulable?: boolean;
  annotations?: LabelMap;
}

export interface StrayCordon {
  node: string;
  /** Who cordoned it (workflow id in the mark). */
  cordonedBy: string;
  /** Seconds since the cordon (NaN when the time is unreadable). */
  ageSeconds: number;
}

export const DEFAULT_STRAY_CORDON_MIN_AGE_SECONDS = 300;

export function strayCordons(
  nodes: readonly CordonSweepNode[],
  removing: ReadonlySet<string>,
  now: number,
  minAgeSeconds: number = DEFAULT_STRAY_CORDON_MIN_AGE_SECONDS,
): StrayCordon[] {
  const out: StrayCordon[] = [];
  for (const n of nodes) {
    const mark = cordonMark(n.annotations);
    if (!mark || removing.has(n.name)) continue;
    // Unreadable time: treated as old (the mark is ours, nothing else writes it).
    const ageSeconds = Number.isNaN(mark.at) ? Number.NaN : (now - mark.at) / 1000;
    if (!Number.isNaN(ageSeconds) && ageSeconds < minAgeSeconds) continue;
    // Marked but schedulable: only the mark is left to remove (uncordon is idempotent).
    out.push({ node: n.name, cordonedBy: mark.by, ageSeconds });
  }
  return out.sort((a, b) => compareStrings(a.node, b.node));
}
