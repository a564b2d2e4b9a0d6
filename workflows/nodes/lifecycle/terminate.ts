/**
 * Terminating (the VPSieNode's deletionTimestamp is set): drain as a child workflow
 * (`drainNodeWorkflow`), then (PATCH_DELETING_PHASE) Deleting — the VPS delete in flight, status
 * and search attribute Phase=Deleting, condition VPSRunning=False/VPSDeleting — delete the VPS and
 * the Node, status Deleted, remove the finalizer. A run in Deleting (continued as new, or started
 * again) skips the drain and goes on deleting. A drain that cannot finish makes the node Failed
 * (DrainFailed) with the Node uncordoned; it is then cleaned up after the TTL like any Failed node.
 * Returns the result when the node is gone, undefined when it moved to Failed.
 */
import { ChildWorkflowFailure, executeChild } from '@temporalio/workflow';
import { vpsieNodeWorkflowId } from '../contracts';
import { drainNodeWorkflow, type DrainNodeResult } from '../drain';
import { failureInfo, type LifecycleContext, type VPSieNodeLifecycleResult } from './context';

export async function terminate(ctx: LifecycleContext): Promise<VPSieNodeLifecycleResult | undefined> {
  const { st, settings, kube, input, ref, transition, fail, removeNodeAndMachine } = ctx;
  let drain: DrainNodeResult | undefined;
  if (st.phase === 'Terminating' && st.nodeName) {
    try {
      drain = await executeChild(drainNodeWorkflow, {
        workflowId: `${vpsieNodeWorkflowId(input.namespace, input.name)}/drain`,
        args: [
          {
            nodeName: st.nodeName,
            timeoutSeconds: settings.drainTimeoutSeconds,
            ...(settings.maxPodGracePeriodSeconds !== undefined ? { maxPodGracePeriodSeconds: settings.maxPodGracePeriodSeconds } : {}),
            vpsieNode: ref,
          },
        ],
      });
    } catch (e) {
      if (!(e instanceof ChildWorkflowFailure)) throw e;
      drain = undefined;
      await fail('DrainFailed', `drain workflow failed: ${e.cause?.message ?? e.message}`);
      return undefined;
    }
    await kube.recordVPSieNodeEvent({
      vpsieNode: ref,
      type: drain.reason === 'DrainComplete' ? 'Normal' : 'Warning',
      reason: drain.reason,
      message: `${drain.outcome}: ${drain.message} (${drain.seconds.toFixed(1)}s)`,
      dedupeKey: 'drain',
    });
    if (drain.outcome === 'Timeout' || drain.outcome === 'Failed') {
      await fail('DrainFailed', drain.message);
      return undefined;
    }
  }
  if (ctx.patches.deletingPhase && st.phase === 'Terminating')
    await transition(
      'Deleting',
      'VPSDeleting',
      `deleting the VPS${st.vpsieIdentifier ? ` ${st.vpsieIdentifier}` : ''}${st.nodeName ? ` and the node ${st.nodeName}` : ''}`,
    );
  let done: string;
  try {
    done = await removeNodeAndMachine();
  } catch (e) {
    const f = failureInfo(e);
    await fail('VPSDeleteFailed', f.message);
    return undefined;
  }
  await transition('Deleted', 'VPSDeleted', done);
  await kube.removeFinalizer(ref);
  return { phase: 'Deleted', outcome: 'Deleted', ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}), ...(drain ? { drain } : {}) };
}
