/**
 * Garbage collection, one run per schedule tick (starters/nodes/schedules.ts): scan VPSie machines and
 * VPSieNodes, delete our leaked machines (no VPSieNode has their request id, older than the grace
 * period), and end Ready VPSieNodes whose machine vanished. The decisions are pure
 * (decision/nodes/garbage-collection/garbage.ts); each action re-checks before acting, so overlapping runs and
 * retries are safe.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { GarbageCollectionActivities } from '../../activities/nodes/garbage-collection';
import { GARBAGE_COLLECTION } from '../../lib/temporal/retry-profiles';

const acts = proxyActivities<GarbageCollectionActivities>({
  startToCloseTimeout: '2m',
  retry: GARBAGE_COLLECTION,
});

export interface GarbageCollectionInput {
  /** Only this namespace ('' = all). */
  namespace: string;
  /** A machine of ours without a VPSieNode is left alone this long after its creation. */
  graceSeconds: number;
}

export interface GarbageCollectionResult {
  leakedDeleted: string[];
  vanishedEnded: string[];
  young: number;
  foreign: number;
}

export async function garbageCollectionWorkflow(input: GarbageCollectionInput): Promise<GarbageCollectionResult> {
  const report = await acts.gcScan(input);
  const result: GarbageCollectionResult = { leakedDeleted: [], vanishedEnded: [], young: report.young, foreign: report.foreign };
  for (const vm of report.leaked) if (await acts.gcDeleteLeakedVm(vm)) result.leakedDeleted.push(vm.identifier);
  for (const n of report.vanished) if (await acts.gcMarkVanished(n)) result.vanishedEnded.push(`${n.namespace}/${n.name}`);
  return result;
}
