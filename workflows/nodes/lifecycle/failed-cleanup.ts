/**
 * Failed: after FAILED_NODE_TTL_SECONDS (or at once when the VPSieNode is deleted, unless the
 * failure is DrainFailed) delete the VPS, the Node and the VPSieNode object. A failed deletion is
 * retried (a Failed node must not leak its VPS), after a wait that doubles with each failure from
 * 5 poll intervals up to FAILED_CLEANUP_MAX_BACKOFF_MS (the count is carried across
 * continue-as-new). Returns the result when the node is gone, undefined to try again (the main
 * loop then continues as new when the history is long).
 */
import { failedCleanupRetryDelayMs } from '../../../decision/nodes/lifecycle/long-loops';
import { failureInfo, type LifecycleContext, type VPSieNodeLifecycleResult } from './context';

export async function cleanUpFailed(ctx: LifecycleContext): Promise<VPSieNodeLifecycleResult | undefined> {
  const { st, settings, kube, input, ref, transition, waitForChange, removeNodeAndMachine } = ctx;
  const failedAt = st.phaseTimes.Failed ?? Date.now();
  const ttlEnd = failedAt + settings.failedNodeTtlSeconds * 1000;
  // A deletion cleans a Failed node up at once, except after a failed drain (its pods
  // may still run there: the TTL is the operator's window).
  const cleanNow = (): boolean => ctx.deleting() && st.lastError?.reason !== 'DrainFailed';
  while (!cleanNow() && Date.now() < ttlEnd) {
    if (ctx.historyFull()) return undefined;
    await waitForChange(ttlEnd - Date.now());
  }
  const byTtl = !cleanNow();
  let done: string;
  try {
    done = await removeNodeAndMachine();
  } catch (e) {
    // Keep trying: a Failed node must not leak its VPS.
    const f = failureInfo(e);
    await kube.recordVPSieNodeEvent({ vpsieNode: ref, type: 'Warning', reason: 'VPSDeleteFailed', message: f.message, dedupeKey: 'cleanup' });
    const base = settings.pollIntervalSeconds * 1000 * 5;
    if (ctx.patches.cleanupBackoff) {
      st.cleanupFailures = (st.cleanupFailures ?? 0) + 1;
      await waitForChange(failedCleanupRetryDelayMs(st.cleanupFailures, base));
    } else await waitForChange(base);
    return undefined;
  }
  if (byTtl) await kube.countTtlDeletion(input.nodeGroup);
  await kube.deleteVPSieNode(ref);
  await transition(
    'Deleted',
    'VPSDeleted',
    byTtl ? `Failed node cleaned up after its TTL of ${settings.failedNodeTtlSeconds}s: ${done}` : `Failed node deleted on request: ${done}`,
  );
  await kube.removeFinalizer(ref);
  return {
    phase: 'Deleted',
    outcome: byTtl ? 'CleanedUpAfterTtl' : 'Deleted',
    ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}),
    ...(st.lastError ? { lastError: st.lastError } : {}),
  };
}
