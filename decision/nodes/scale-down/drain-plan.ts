/**
 * The pure drain plan of one node: which pods to evict (through the Eviction API) with which grace
 * period, and which to leave (DaemonSet pods, mirror pods of static pods, pods already terminating,
 * completed pods). The drain workflow executes it: cordon, evict (a 429 from a PDB waits and retries
 * until `evictionDeadlineSeconds`), wait for the pods to be gone (`waitSeconds`), else uncordon.
 */
import { compareStrings, podKey } from '../../scheduling/types';
import { DEFAULT_TERMINATION_GRACE_SECONDS, drainSkipReason, KUBE_SYSTEM } from './pods';
import type { DrainSkipReason } from '../drain/reasons';
import type { ScaleDownPod } from './types';

/** cluster-autoscaler's --max-graceful-termination-sec default. */
export const DEFAULT_MAX_GRACE_PERIOD_SECONDS = 600;
/** How long evictions refused by a PDB (HTTP 429) are retried before the drain fails. */
export const DEFAULT_EVICTION_DEADLINE_SECONDS = 600;

export interface PlannedEviction {
  pod: string;
  namespace: string;
  name: string;
  uid: string;
  /** min(pod's terminationGracePeriodSeconds (default 30), maxGracePeriodSeconds). */
  gracePeriodSeconds: number;
}

export interface SkippedPod {
  pod: string;
  reason: DrainSkipReason;
}

export interface DrainPlan {
  node: string;
  /** Eviction order: workloads first, kube-system last, then by key. */
  evict: PlannedEviction[];
  skip: SkippedPod[];
  maxGracePeriodSeconds: number;
  evictionDeadlineSeconds: number;
  /** Upper bound for the whole drain: eviction deadline plus the longest grace period. */
  waitSeconds: number;
}

export interface DrainOptions {
  maxGracePeriodSeconds?: number;
  evictionDeadlineSeconds?: number;
}

export function planDrain(node: string, pods: readonly ScaleDownPod[], opts: DrainOptions = {}): DrainPlan {
  const maxGrace = Math.max(0, opts.maxGracePeriodSeconds ?? DEFAULT_MAX_GRACE_PERIOD_SECONDS);
  const deadline = Math.max(0, opts.evictionDeadlineSeconds ?? DEFAULT_EVICTION_DEADLINE_SECONDS);
  const evict: PlannedEviction[] = [];
  const skip: SkippedPod[] = [];
  for (const p of pods) {
    const reason = drainSkipReason(p);
    if (reason) {
      skip.push({ pod: podKey(p), reason });
      continue;
    }
    const grace = p.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
    evict.push({ pod: podKey(p), namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: Math.min(Math.max(0, grace), maxGrace) });
  }
  evict.sort((a, b) => Number(a.namespace === KUBE_SYSTEM) - Number(b.namespace === KUBE_SYSTEM) || compareStrings(a.pod, b.pod));
  skip.sort((a, b) => compareStrings(a.pod, b.pod));
  const longest = evict.reduce((m, e) => Math.max(m, e.gracePeriodSeconds), 0);
  return { node, evict, skip, maxGracePeriodSeconds: maxGrace, evictionDeadlineSeconds: deadline, waitSeconds: deadline + longest };
}
