/**
 * PodDisruptionBudgets: which pods a PDB covers and how many evictions it allows now.
 */
import { matchesLabelSelector } from '../../scheduling/labels';
import type { SimPod } from '../../scheduling/types';
import type { PdbInfo } from './types';

export function pdbKey(p: Pick<PdbInfo, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`;
}

/** policy/v1: same namespace; an absent selector matches nothing, an empty one every pod. */
export function pdbMatches(pdb: PdbInfo, pod: Pick<SimPod, 'namespace' | 'labels'>): boolean {
  if (pdb.namespace !== pod.namespace || pdb.selector === undefined) return false;
  return matchesLabelSelector(pod.labels, pdb.selector);
}

/** An int-or-percent resolved against `total`, rounding up (as the disruption controller does). */
export function resolveIntOrPercent(v: number | string, total: number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.max(0, Math.floor(v)) : undefined;
  const m = /^(\d+)%$/.exec(v.trim());
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Evictions the PDB allows right now. The controller's `disruptionsAllowed` when known; otherwise
 * computed from the spec and the counts; when both are known, the smaller. Unknown: 0 (never guess
 * in the direction of breaking a budget).
 */
export function allowedDisruptions(pdb: PdbInfo): number {
  const candidates: number[] = [];
  if (pdb.disruptionsAllowed !== undefined) candidates.push(pdb.disruptionsAllowed);
  if (pdb.currentHealthy !== undefined) {
    const expected = pdb.expectedPods ?? pdb.currentHealthy;
    if (pdb.minAvailable !== undefined) {
      const min = resolveIntOrPercent(pdb.minAvailable, expected);
      if (min !== undefined) candidates.push(pdb.currentHealthy - min);
    } else if (pdb.maxUnavailable !== undefined) {
      const max = resolveIntOrPercent(pdb.maxUnavailable, expected);
      if (max !== undefined) candidates.push(pdb.currentHealthy - (expected - max));
    }
  }
  if (candidates.length === 0) return 0;
  return Math.max(0, Math.min(...candidates));
}
