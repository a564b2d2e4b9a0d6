/**
 * Pure pieces of the node drain (workflows/nodes/drain.ts, activities/nodes/drain.ts): which pods a drain
 * evicts and which it leaves, and the grace period each eviction asks for. No I/O.
 */

/** The part of a Pod the drain reads. */
export interface DrainPodView {
  namespace: string;
  name: string;
  uid: string;
  /** Kinds of the pod's controller owner references. */
  ownerKinds: string[];
  /** True for static (mirror) pods: annotation kubernetes.io/config.mirror. */
  mirror: boolean;
  /** Pod phase: Succeeded/Failed pods need no eviction. */
  phase?: string;
  terminationGracePeriodSeconds?: number;
  /** Already being deleted. */
  deleting: boolean;
}

import type { DrainSkipReason } from './reasons';

export type PodDisposition = { action: 'evict'; gracePeriodSeconds: number } | { action: 'skip'; reason: DrainSkipReason } | { action: 'wait' };

/** Kubernetes' default terminationGracePeriodSeconds. */
export const DEFAULT_POD_GRACE_SECONDS = 30;

/**
 * What the drain does with a pod: DaemonSet and mirror pods are left (they would come back or
 * cannot be evicted), finished pods are left, pods already being deleted are waited for, every
 * other pod is evicted with its own grace period: by default as the pod asks
 * (terminationGracePeriodSeconds), capped only when `maxGraceSeconds` is given and shorter.
 */
export function podDisposition(p: DrainPodView, maxGraceSeconds?: number): PodDisposition {
  if (p.mirror) return { action: 'skip', reason: 'MirrorPod' };
  if (p.ownerKinds.includes('DaemonSet')) return { action: 'skip', reason: 'DaemonSetPod' };
  if (p.phase === 'Succeeded' || p.phase === 'Failed') return { action: 'skip', reason: 'Completed' };
  if (p.deleting) return { action: 'wait' };
  const own = Math.max(0, p.terminationGracePeriodSeconds ?? DEFAULT_POD_GRACE_SECONDS);
  return { action: 'evict', gracePeriodSeconds: maxGraceSeconds === undefined ? own : Math.min(own, Math.max(0, maxGraceSeconds)) };
}
