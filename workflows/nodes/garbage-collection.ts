/**
 * Garbage collection, one run per schedule tick (starters/nodes/schedules.ts): scan VPSie machines and
 * VPSieNodes, delete this cluster's leaked and duplicate machines (older than the grace period, at
 * most a bounded share per run), and end Ready VPSieNodes whose machine is missing from two
 * consecutive scans. The decisions are pure
 * (decision/nodes/garbage-collection/garbage.ts); each action re-checks before acting, so overlapping runs and
 * retries are safe.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { GarbageCollectionActivities } from '../../activities/nodes/garbage-collection';
import type { DeletionCap } from '../../decision/nodes/garbage-collection/garbage';
import { GARBAGE_COLLECTION } from '../../lib/temporal/retry-profiles';

const acts = proxyActivities<GarbageCollectionActivities>({
  startToCloseTimeout: '2m',
  retry: GARBAGE_COLLECTION,
});

export interface GarbageCollectionInput {
  /** Only this namespace ('' = all). */
  namespace: string;
  /** A machine of ours without a VPSieNode is left alone this long after its creation (or first sighting, when undated). */
  graceSeconds: number;
  /** Overrides GC_MAX_DELETE_PERCENT (share of the cluster's machines one run may delete). */
  maxDeletePercent?: number;
}

export interface GarbageCollectionResult {
  /** Leaked and duplicate machines deleted (identifiers). */
  leakedDeleted: string[];
  /** Of those, the duplicates (a second machine of a VPSieNode that records another one). */
  duplicatesDeleted?: string[];
  vanishedEnded: string[];
  young: number;
  foreign: number;
  /** This cluster's identity, as stamped in its machines' notes. */
  clusterId?: string;
  /** Machines with the request id but no cluster identity (made before #12): unowned, never collected. */
  noClusterIdentity?: number;
  /** Machines of another cluster on the same VPSie account. */
  otherCluster?: number;
  /** Ready VPSieNodes missing their machine in this scan only (ended if still missing next run). */
  missingOnce?: string[];
  /** What the per-run deletion cap left for the next run, with its numbers. */
  withheld?: DeletionCap[];
}

export async function garbageCollectionWorkflow(input: GarbageCollectionInput): Promise<GarbageCollectionResult> {
  const report = await acts.gcScan(input);
  // Only the result's shape grew with #12 (the same activities, in the same order): no patch needed.
  const result: GarbageCollectionResult = {
    leakedDeleted: [],
    duplicatesDeleted: [],
    vanishedEnded: [],
    young: report.young,
    foreign: report.foreign,
    ...(report.clusterId !== undefined ? { clusterId: report.clusterId } : {}),
    noClusterIdentity: report.noClusterIdentity ?? 0,
    otherCluster: report.otherCluster ?? 0,
    missingOnce: (report.missingOnce ?? []).map((n) => `${n.namespace}/${n.name}`),
    withheld: report.withheld ?? [],
  };
  for (const vm of report.leaked)
    if (await acts.gcDeleteLeakedVm(vm)) {
      result.leakedDeleted.push(vm.identifier);
      if (vm.reason === 'Duplicate') result.duplicatesDeleted?.push(vm.identifier);
    }
  for (const n of report.vanished) if (await acts.gcMarkVanished(n)) result.vanishedEnded.push(`${n.namespace}/${n.name}`);
  return result;
}
