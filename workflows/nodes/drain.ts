/**
 * Drains one Node: cordon, evict its pods through the Eviction API, wait until they are gone.
 * Run as a child workflow (by the VPSieNode lifecycle on termination; later by scale-down, which
 * will wrap its own safety rules around it). A basic but real drain:
 *
 * - DaemonSet pods, mirror (static) pods and finished pods are left alone.
 * - Each eviction asks for the pod's terminationGracePeriodSeconds, capped at
 *   `maxPodGracePeriodSeconds`, with a uid precondition (never evicts a replacement pod).
 * - An eviction refused with 429 (a PodDisruptionBudget does not allow it now) is retried every
 *   `retryIntervalSeconds` until the deadline.
 * - Pods already being deleted are waited for.
 * - On timeout or failure the Node is uncordoned and the result says why; the workflow itself
 *   never fails for a drain that could not finish (the caller decides).
 *
 * Deterministic: time from the workflow clock, all I/O in activities (activities/nodes/drain.ts).
 */
import { ActivityFailure, ApplicationFailure, proxyActivities, sleep } from '@temporalio/workflow';
import type { DrainActivities, PodRef } from '../../activities/nodes/drain';
import type { DrainSkipReason } from '../../decision/nodes/drain/reasons';
import type { ObjectRef } from './contracts';
import { KUBERNETES_DRAIN } from '../../lib/temporal/retry-profiles';

const acts = proxyActivities<DrainActivities>({
  startToCloseTimeout: '30s',
  retry: KUBERNETES_DRAIN,
});

export interface DrainNodeInput {
  nodeName: string;
  /** Whole budget of the drain (evictions + waiting for pods to go); then it gives up. */
  timeoutSeconds: number;
  /** Upper bound of the grace period asked for each pod. */
  maxPodGracePeriodSeconds: number;
  /** Between retries of PDB-refused evictions and between polls for remaining pods (default 2). */
  retryIntervalSeconds?: number;
  /** The VPSieNode this drain is for (recorded in the Event message). */
  vpsieNode?: ObjectRef;
}

/**
 * Drained: every evictable pod is gone (Node stays cordoned).
 * NodeNotFound: the Node does not exist (nothing to drain).
 * Timeout: the deadline passed (PDB refusals or pods slow to go); the Node was uncordoned.
 * Failed: an API call kept failing; the Node was uncordoned.
 */
export type DrainOutcome = 'Drained' | 'NodeNotFound' | 'Timeout' | 'Failed';

export interface DrainNodeResult {
  nodeName: string;
  outcome: DrainOutcome;
  /** Typed reason (VPSieNode Draining condition vocabulary). */
  reason: 'DrainComplete' | 'DrainFailed';
  message: string;
  /** Evictions the API accepted. */
  evicted: number;
  skipped: { namespace: string; name: string; reason: DrainSkipReason }[];
  /** Pods still on the Node when the drain gave up (empty when Drained). */
  remaining: PodRef[];
  /** Pods whose eviction a PodDisruptionBudget still refused at the end. */
  blockedByPdb: PodRef[];
  uncordoned: boolean;
  seconds: number;
}

export async function drainNodeWorkflow(input: DrainNodeInput): Promise<DrainNodeResult> {
  const started = Date.now();
  const deadline = started + input.timeoutSeconds * 1000;
  const interval = Math.max(1, input.retryIntervalSeconds ?? 2) * 1000;
  const forWhom = input.vpsieNode ? ` (VPSieNode ${input.vpsieNode.namespace}/${input.vpsieNode.name})` : '';
  let evicted = 0;
  let skipped: DrainNodeResult['skipped'] = [];
  let remaining: PodRef[] = [];
  let blocked: PodRef[] = [];

  const finish = async (outcome: DrainOutcome, message: string): Promise<DrainNodeResult> => {
    let uncordoned = false;
    if (outcome === 'Timeout' || outcome === 'Failed') uncordoned = await acts.uncordonNode(input.nodeName).catch(() => false);
    const seconds = (Date.now() - started) / 1000;
    const reason = outcome === 'Drained' || outcome === 'NodeNotFound' ? 'DrainComplete' : 'DrainFailed';
    await acts.recordDrain({ nodeName: input.nodeName, outcome, seconds, reason, message: `${message}${forWhom}` }).catch(() => undefined);
    return { nodeName: input.nodeName, outcome, reason, message, evicted, skipped, remaining, blockedByPdb: blocked, uncordoned, seconds };
  };

  try {
    if (!(await acts.cordonNode(input.nodeName))) return await finish('NodeNotFound', `node ${input.nodeName} does not exist`);
    const plan = await acts.planDrain({ nodeName: input.nodeName, maxPodGracePeriodSeconds: input.maxPodGracePeriodSeconds });
    if (!plan.nodeExists) return await finish('NodeNotFound', `node ${input.nodeName} does not exist`);
    skipped = plan.skipped.map((s) => ({ namespace: s.namespace, name: s.name, reason: s.reason }));
    const waitFor: PodRef[] = [...plan.wait];
    let toEvict = plan.evict;
    while (toEvict.length > 0) {
      const again: typeof toEvict = [];
      for (const p of toEvict) {
        const r = await acts.evictPod(p);
        if (r.result === 'evicted') {
          evicted++;
          waitFor.push({ namespace: p.namespace, name: p.name, uid: p.uid });
        } else if (r.result === 'blocked') again.push(p);
      }
      toEvict = again;
      blocked = again.map((p) => ({ namespace: p.namespace, name: p.name, uid: p.uid }));
      if (toEvict.length === 0) break;
      if (Date.now() >= deadline) {
        remaining = blocked;
        return await finish(
          'Timeout',
          `${blocked.length} pod(s) still refused by a PodDisruptionBudget after ${input.timeoutSeconds}s: ${blocked.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
        );
      }
      await sleep(Math.min(interval, deadline - Date.now()));
    }
    for (;;) {
      remaining = waitFor.length === 0 ? [] : await acts.podsRemaining({ nodeName: input.nodeName, pods: waitFor });
      if (remaining.length === 0) break;
      if (Date.now() >= deadline)
        return await finish(
          'Timeout',
          `${remaining.length} pod(s) still on the node after ${input.timeoutSeconds}s: ${remaining.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
        );
      await sleep(Math.min(interval, Math.max(1, deadline - Date.now())));
    }
    return await finish('Drained', `drained: ${evicted} pod(s) evicted, ${skipped.length} left (DaemonSet/mirror/completed)`);
  } catch (e) {
    if (e instanceof ActivityFailure || e instanceof ApplicationFailure) {
      const cause = e instanceof ActivityFailure && e.cause ? e.cause.message : e.message;
      return await finish('Failed', `drain failed: ${cause}`);
    }
    throw e;
  }
}
