/**
 * Failed: after FAILED_NODE_TTL_SECONDS (or at once when the VPSieNode is deleted, unless the
 * failure is DrainFailed) delete the VPS, the Node and the VPSieNode object. A failed deletion is
 * retried (a Failed node must not leak its VPS), after a wait that doubles with each failure from
 * 5 poll intervals up to FAILED_CLEANUP_MAX_BACKOFF_MS (the count is carried across
 * continue-as-new). Returns the result when the node is gone, undefined to try again (the main
 * loop then continues as new when the history is long).
 */
import { patched, sleep } from '@temporalio/workflow';
import { failedCleanupRetryDelayMs } from '../../../decision/nodes/lifecycle/long-loops';
import { vpsieNodeWorkflowId } from '../contracts';
import { deletionAfterFailedDrain, PATCH_FAILED_DRAIN_TTL } from '../drain';
import { failureInfo, type LifecycleContext, type VPSieNodeLifecycleResult } from './context';

export async function cleanUpFailed(ctx: LifecycleContext): Promise<VPSieNodeLifecycleResult | undefined> {
  const { st, settings, kube, input, ref, transition, waitForChange, removeNodeAndMachine } = ctx;
  const failedAt = st.phaseTimes.Failed ?? Date.now();
  const ttlEnd = failedAt + settings.failedNodeTtlSeconds * 1000;
  // A deletion cleans a Failed node up at once, except after a failed drain (its pods
  // may still run there: the TTL is the operator's window).
  const cleanNow = (): boolean => ctx.deleting() && st.lastError?.reason !== 'DrainFailed';
  // Issue #12 (patched): after a failed drain, deleted only when drained again or opted in; and
  // the wait for the TTL sleeps while the VPSieNode is being deleted (waitForChange returns at once
  // then: the loop used to spin without time passing).
  const guarded = st.lastError?.reason === 'DrainFailed' && patched(PATCH_FAILED_DRAIN_TTL);
  // false: the history is long (the main loop continues as new and comes back here)
  const waitUntil = async (end: number): Promise<boolean> => {
    while (!cleanNow() && Date.now() < end) {
      if (ctx.historyFull()) return false;
      if (guarded && ctx.deleting()) await sleep(Math.max(1, end - Date.now()));
      else await waitForChange(end - Date.now());
    }
    return true;
  };
  if (!(await waitUntil(ttlEnd))) return undefined;
  const byTtl = !cleanNow();
  if (byTtl && guarded) {
    const after = await deletionAfterFailedDrain({
      namespace: input.namespace,
      nodeGroup: input.nodeGroup,
      ...(st.nodeName ? { nodeName: st.nodeName } : {}),
      vpsieNode: ref,
      workflowIdPrefix: vpsieNodeWorkflowId(input.namespace, input.name),
      timeoutSeconds: settings.drainTimeoutSeconds,
      ...(settings.maxPodGracePeriodSeconds !== undefined ? { maxPodGracePeriodSeconds: settings.maxPodGracePeriodSeconds } : {}),
    });
    await kube.recordVPSieNodeEvent({
      vpsieNode: ref,
      type: after.allowed ? 'Normal' : 'Warning',
      reason: 'DrainFailed',
      message: after.message,
      dedupeKey: 'ttl-drain',
    });
    if (!after.allowed) {
      await waitUntil(Date.now() + settings.failedNodeTtlSeconds * 1000);
      return undefined;
    }
  }
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
