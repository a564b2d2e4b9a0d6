/**
 * Drains one Node: cordon, evict its pods through the Eviction API, wait until they are gone.
 * Run as a child workflow (by the VPSieNode lifecycle on termination, and by scale-down's removals):
 *
 * - DaemonSet pods, mirror (static) pods and finished pods are left alone.
 * - After the cordon the safety rules are checked again on the pods then on the node
 *   (decision/nodes/drain/safety.ts: opt-out annotations, local storage, unreplicated and
 *   kube-system pods): one failing rule refuses the drain (outcome Failed, `refusedBy`), nothing is
 *   evicted and the Node is uncordoned.
 * - Each eviction asks for the pod's own terminationGracePeriodSeconds (capped only when
 *   `maxPodGracePeriodSeconds` is given), with a uid precondition (never evicts a replacement pod).
 * - Evictions run in one heartbeating activity (`evictPods`); one refused with 429 (a
 *   PodDisruptionBudget does not allow it now) is retried there with exponential backoff until the
 *   deadline.
 * - Pods already being deleted are waited for.
 * - On timeout or failure the Node is uncordoned and the result says why; the workflow itself
 *   never fails for a drain that could not finish (the caller decides). Any other end before the
 *   drain finished (cancellation, an unexpected error) uncordons too, then fails the workflow.
 *
 * Those behaviours came with issue #12 behind the patch PATCH_DRAIN_V2; histories from before it
 * replay the older drain (no re-check, the cap as given, one evictPod activity per pod per retry).
 *
 * Deterministic: time from the workflow clock, all I/O in activities (activities/nodes/drain.ts).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { SA_DECISION_REASON, SA_VPSIENODE } from '../../lib/temporal/search-attributes';
import type { DrainActivities, PodRef } from '../../activities/nodes/drain';
import type { DrainRefusal } from '../../decision/nodes/drain/safety';
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
  /** Upper bound of the grace period asked for each pod; absent: each pod's own terminationGracePeriodSeconds. */
  maxPodGracePeriodSeconds?: number;
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
  /** The safety rules that refused the drain (outcome Failed, nothing evicted). */
  refusedBy?: DrainRefusal[];
}

/** The drain of issue #12: safety re-check after the cordon, own grace periods, evictions in one activity, uncordon on any failure. */
export const PATCH_DRAIN_V2 = 'drain-keeps-its-promises';
/** Patch (issue #17): a finished drain upserts DecisionReason (DrainComplete/DrainFailed) and its VPSieNode. */
export const PATCH_DRAIN_SEARCH_ATTRIBUTES = 'drain-search-attributes';

export async function drainNodeWorkflow(input: DrainNodeInput): Promise<DrainNodeResult> {
  if (patched(PATCH_DRAIN_V2)) return drainV2(input);
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

async function drainV2(input: DrainNodeInput): Promise<DrainNodeResult> {
  const started = Date.now();
  const deadline = started + input.timeoutSeconds * 1000;
  const interval = Math.max(1, input.retryIntervalSeconds ?? 2) * 1000;
  const forWhom = input.vpsieNode ? ` (VPSieNode ${input.vpsieNode.namespace}/${input.vpsieNode.name})` : '';
  const evictActs = proxyActivities<DrainActivities>({
    // The whole eviction phase in one activity: bounded by the drain's deadline, heartbeating.
    startToCloseTimeout: `${input.timeoutSeconds + 120}s`,
    heartbeatTimeout: '30s',
    retry: KUBERNETES_DRAIN,
  });
  let evicted = 0;
  let skipped: DrainNodeResult['skipped'] = [];
  let remaining: PodRef[] = [];
  let blocked: PodRef[] = [];
  let refusedBy: DrainRefusal[] | undefined;
  let settled = false;

  const finish = async (outcome: DrainOutcome, message: string): Promise<DrainNodeResult> => {
    settled = true;
    let uncordoned = false;
    if (outcome === 'Timeout' || outcome === 'Failed') {
      uncordoned = await CancellationScope.nonCancellable(() => acts.uncordonNode(input.nodeName).catch(() => false));
    }
    const seconds = (Date.now() - started) / 1000;
    const reason = outcome === 'Drained' || outcome === 'NodeNotFound' ? 'DrainComplete' : 'DrainFailed';
    await acts.recordDrain({ nodeName: input.nodeName, outcome, seconds, reason, message: `${message}${forWhom}` }).catch(() => undefined);
    if (patched(PATCH_DRAIN_SEARCH_ATTRIBUTES)) {
      // The Web UI filters drains by why and by VPSieNode (issue #17).
      upsertSearchAttributes([
        { key: SA_DECISION_REASON, value: reason },
        ...(input.vpsieNode ? [{ key: SA_VPSIENODE, value: `${input.vpsieNode.namespace}/${input.vpsieNode.name}` }] : []),
      ]);
    }
    return {
      nodeName: input.nodeName,
      outcome,
      reason,
      message,
      evicted,
      skipped,
      remaining,
      blockedByPdb: blocked,
      uncordoned,
      seconds,
      ...(refusedBy ? { refusedBy } : {}),
    };
  };

  try {
    if (!(await acts.cordonNode(input.nodeName))) return await finish('NodeNotFound', `node ${input.nodeName} does not exist`);
    const plan = await acts.planDrain({
      nodeName: input.nodeName,
      ...(input.maxPodGracePeriodSeconds !== undefined ? { maxPodGracePeriodSeconds: input.maxPodGracePeriodSeconds } : {}),
    });
    if (!plan.nodeExists) return await finish('NodeNotFound', `node ${input.nodeName} does not exist`);
    skipped = plan.skipped.map((s) => ({ namespace: s.namespace, name: s.name, reason: s.reason }));
    if ((plan.refusals ?? []).length > 0) {
      refusedBy = plan.refusals ?? [];
      remaining = plan.evict.map((p) => ({ namespace: p.namespace, name: p.name, uid: p.uid }));
      return await finish('Failed', `drain refused by the safety rules after the cordon: ${refusedBy.map((r) => `${r.reason}: ${r.message}`).join('; ')}`);
    }
    const waitFor: PodRef[] = [...plan.wait];
    if (plan.evict.length > 0) {
      const r = await evictActs.evictPods({ pods: plan.evict, deadlineMs: deadline });
      evicted = r.evicted.length;
      waitFor.push(...r.evicted);
      blocked = r.blocked.map((p) => ({ namespace: p.namespace, name: p.name, uid: p.uid }));
      if (blocked.length > 0) {
        remaining = blocked;
        return await finish(
          'Timeout',
          `${blocked.length} pod(s) still refused by a PodDisruptionBudget after ${input.timeoutSeconds}s: ${blocked.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
        );
      }
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
    if (!settled && !isCancellation(e) && (e instanceof ActivityFailure || e instanceof ApplicationFailure)) {
      const cause = e instanceof ActivityFailure && e.cause ? e.cause.message : e.message;
      return await finish('Failed', `drain failed: ${cause}`);
    }
    // Cancelled, or failed in a way the result cannot carry: never leave the node cordoned.
    if (!settled) await CancellationScope.nonCancellable(() => acts.uncordonNode(input.nodeName).catch(() => false));
    throw e;
  }
}

/** Patch of the failed-node cleanup (issue #12): a node whose drain failed is deleted after the TTL only when drained or opted in. */
export const PATCH_FAILED_DRAIN_TTL = 'failed-drain-ttl-opt-in';

export interface AfterFailedDrainInput {
  namespace: string;
  nodeGroup: string;
  nodeName?: string;
  vpsieNode: ObjectRef;
  /** Prefix of the retry drain's workflow id (the caller's id). */
  workflowIdPrefix: string;
  timeoutSeconds: number;
  maxPodGracePeriodSeconds?: number;
}

/**
 * Once the failed-node TTL of a node whose drain failed has passed: may it be deleted now? Yes when
 * the NodeGroup or the Node opted in (autoscaler.vpsie.com/delete-after-failed-drain: "true"), when
 * there is no Node, or when a new drain (a child workflow) empties it. Otherwise no: its pods are
 * still there, and it is never deleted with them (the caller waits another TTL and asks again).
 */
export async function deletionAfterFailedDrain(x: AfterFailedDrainInput): Promise<{ allowed: boolean; message: string; drain?: DrainNodeResult }> {
  if (await acts.deleteAfterFailedDrainAllowed({ namespace: x.namespace, nodeGroup: x.nodeGroup, ...(x.nodeName ? { nodeName: x.nodeName } : {}) })) {
    return { allowed: true, message: 'deleted with its pods after the TTL: the NodeGroup or Node opted in (autoscaler.vpsie.com/delete-after-failed-drain)' };
  }
  if (!x.nodeName) return { allowed: true, message: 'no Node: nothing runs there' };
  const drain = await executeChild(drainNodeWorkflow, {
    workflowId: `${x.workflowIdPrefix}/drain-after-ttl/${Date.now()}`,
    args: [
      {
        nodeName: x.nodeName,
        timeoutSeconds: x.timeoutSeconds,
        ...(x.maxPodGracePeriodSeconds !== undefined ? { maxPodGracePeriodSeconds: x.maxPodGracePeriodSeconds } : {}),
        vpsieNode: x.vpsieNode,
      },
    ],
  });
  if (drain.outcome === 'Drained' || drain.outcome === 'NodeNotFound') return { allowed: true, message: `drained after the TTL: ${drain.message}`, drain };
  return {
    allowed: false,
    message: `not deleted: the drain failed again (${drain.outcome}: ${drain.message}); annotate the NodeGroup or Node autoscaler.vpsie.com/delete-after-failed-drain: "true" to delete it with its pods`,
    drain,
  };
}
