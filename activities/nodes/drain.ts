/**
 * Kubernetes side of the node drain (workflows/nodes/drain.ts): cordon/uncordon (with the
 * orchestrator's cordon mark), list the pods to evict and re-check the safety rules on them, evict
 * pods through the Eviction API (pods/eviction) — one pod, or all of them in one heartbeating
 * activity that retries PDB refusals with backoff — see which pods are still there, whether a
 * failed drain may end in deletion, and record the drain metric and Events. Each call is idempotent.
 */
import * as k8s from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ANNOTATION_CORDONED_AT, ANNOTATION_CORDONED_BY, deleteAfterFailedDrainAllowed } from '../../decision/nodes/drain/annotations';
import { evictionRetryDelaySeconds, DEFAULT_EVICTION_BACKOFF } from '../../decision/nodes/drain/backoff';
import { podDisposition, type DrainPodView } from '../../decision/nodes/drain/disposition';
import { drainRefusals, type DrainRefusal } from '../../decision/nodes/drain/safety';
import { pdbFromK8s, scaleDownNodeFromK8s } from '../../decision/nodes/scale-down/from-k8s';
import { GROUP, NODEGROUP_PLURAL, VERSION } from '../../lib/crds/autoscaler/constants';
import type { DrainSkipReason } from '../../decision/nodes/drain/reasons';
import { recordEvent } from '../../lib/kube/events';
import { apiStatus } from '../../lib/kube/api';
import { autoscalerMetrics } from '../../lib/metrics';
import type { OrchestratorDeps } from '../../workers/deps';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface DrainPlan {
  nodeExists: boolean;
  evict: (PodRef & { gracePeriodSeconds: number })[];
  /** Pods already being deleted: waited for, not evicted. */
  wait: PodRef[];
  skipped: (PodRef & { reason: DrainSkipReason })[];
  /** Safety rules the pods on the (cordoned) node fail (decision/nodes/drain/safety.ts); empty = safe to drain. */
  refusals?: DrainRefusal[];
}

export interface EvictPodsInput {
  pods: (PodRef & { gracePeriodSeconds: number })[];
  /** Epoch ms: PDB refusals are retried until then. */
  deadlineMs: number;
  initialBackoffSeconds?: number;
  maxBackoffSeconds?: number;
}

export interface EvictPodsResult {
  evicted: PodRef[];
  gone: PodRef[];
  /** Still refused by a PodDisruptionBudget at the deadline. */
  blocked: (PodRef & { message: string })[];
  rounds: number;
}

interface EvictProgress {
  evicted: PodRef[];
  gone: PodRef[];
  rounds: number;
}

/**
 * evicted: the eviction was accepted; gone: the pod no longer exists (or is another pod now);
 * blocked: 429 — a PodDisruptionBudget does not allow it now (try again later).
 */
export type EvictOutcome = { result: 'evicted' | 'gone' } | { result: 'blocked'; message: string };

function currentWorkflowId(): string {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? 'unknown';
  } catch {
    return 'unknown'; // outside an activity (scripts, tests)
  }
}

function podView(p: k8s.V1Pod): DrainPodView {
  return {
    namespace: p.metadata?.namespace ?? 'default',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    ownerKinds: (p.metadata?.ownerReferences ?? []).filter((o) => o.controller).map((o) => o.kind),
    mirror: p.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined,
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
    ...(p.spec?.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: p.spec.terminationGracePeriodSeconds } : {}),
    deleting: p.metadata?.deletionTimestamp !== undefined,
  };
}

export function createDrainActivities(deps: OrchestratorDeps) {
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const policy = deps.kc.makeApiClient(k8s.PolicyV1Api);
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);

  /**
   * Cordon writes the mark (who, when) with `unschedulable`; uncordon removes both. A Node already
   * in the wanted state is left alone (a cordon does not move an existing mark's time).
   */
  async function setUnschedulable(name: string, unschedulable: boolean): Promise<boolean> {
    try {
      const n = await core.readNode({ name });
      const marked = n.metadata?.annotations?.[ANNOTATION_CORDONED_BY] !== undefined;
      if ((n.spec?.unschedulable ?? false) === unschedulable && marked === unschedulable) return true;
      if ((n.spec?.unschedulable ?? false) === unschedulable && unschedulable) return true; // cordoned by someone else: no mark of ours
      const annotations = unschedulable
        ? { [ANNOTATION_CORDONED_BY]: currentWorkflowId(), [ANNOTATION_CORDONED_AT]: new Date().toISOString() }
        : { [ANNOTATION_CORDONED_BY]: null, [ANNOTATION_CORDONED_AT]: null };
      await core.patchNode({ name, body: { metadata: { annotations }, spec: { unschedulable } } }, merge);
      return true;
    } catch (e) {
      if (apiStatus(e) === 404) return false;
      throw e;
    }
  }

  async function podsOn(nodeName: string): Promise<k8s.V1Pod[]> {
    return (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items;
  }

  /** One eviction: 404/409 (gone, or another pod now) is gone, 429 (a PodDisruptionBudget) is blocked. */
  async function evictOne(p: PodRef & { gracePeriodSeconds: number }): Promise<EvictOutcome> {
    try {
      await core.createNamespacedPodEviction({
        name: p.name,
        namespace: p.namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: p.name, namespace: p.namespace },
          deleteOptions: { gracePeriodSeconds: p.gracePeriodSeconds, preconditions: { uid: p.uid } },
        },
      });
      return { result: 'evicted' };
    } catch (e) {
      const s = apiStatus(e);
      if (s === 404 || s === 409) return { result: 'gone' }; // 409: uid precondition failed (another pod now)
      if (s === 429) return { result: 'blocked', message: String((e as { body?: unknown }).body ?? e).slice(0, 300) };
      throw e;
    }
  }

  return {
    /** Marks the Node unschedulable; false when the Node does not exist. */
    async cordonNode(name: string): Promise<boolean> {
      return setUnschedulable(name, true);
    },

    async uncordonNode(name: string): Promise<boolean> {
      return setUnschedulable(name, false);
    },

    /**
     * The pods on the Node, what the drain does with each (grace period: the pod's own unless
     * `maxPodGracePeriodSeconds` caps it), and the safety rules they fail now.
     */
    async planDrain(input: { nodeName: string; maxPodGracePeriodSeconds?: number }): Promise<DrainPlan> {
      let node: k8s.V1Node;
      try {
        node = await core.readNode({ name: input.nodeName });
      } catch (e) {
        if (apiStatus(e) === 404) return { nodeExists: false, evict: [], wait: [], skipped: [], refusals: [] };
        throw e;
      }
      const pods = await podsOn(input.nodeName);
      // kube-system pods need a PodDisruptionBudget (the kube-system rule): read those only when needed.
      const pdbs = pods.some((p) => p.metadata?.namespace === 'kube-system')
        ? (await policy.listNamespacedPodDisruptionBudget({ namespace: 'kube-system' })).items.map(pdbFromK8s)
        : [];
      const plan: DrainPlan = { nodeExists: true, evict: [], wait: [], skipped: [], refusals: drainRefusals(scaleDownNodeFromK8s(node, pods), pdbs) };
      for (const p of pods) {
        const v = podView(p);
        const ref = { namespace: v.namespace, name: v.name, uid: v.uid };
        const d = podDisposition(v, input.maxPodGracePeriodSeconds);
        if (d.action === 'evict') plan.evict.push({ ...ref, gracePeriodSeconds: d.gracePeriodSeconds });
        else if (d.action === 'wait') plan.wait.push(ref);
        else plan.skipped.push({ ...ref, reason: d.reason });
      }
      // Document 001 §2.5.3 "drain started": the drain plans once, right after the cordon (one Event per node, a retry updates it).
      await recordEvent(deps.kc, {
        target: { apiVersion: 'v1', kind: 'Node', name: input.nodeName, ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}) },
        type: 'Normal',
        reason: 'DrainStarted',
        message: `node cordoned, draining: ${plan.evict.length} pod(s) to evict, ${plan.wait.length} to wait for, ${plan.skipped.length} skipped${(plan.refusals ?? []).length > 0 ? `, refused by ${(plan.refusals ?? []).map((r) => r.reason).join(', ')}` : ''}`,
        dedupeKey: 'drain-started',
      });
      return plan;
    },

    /** Asks the Eviction API to evict one pod (the uid precondition never evicts a replacement). */
    async evictPod(p: PodRef & { gracePeriodSeconds: number }): Promise<EvictOutcome> {
      return evictOne(p);
    },

    /**
     * Evicts every pod of `pods` in one activity: refusals by a PodDisruptionBudget (429) are
     * retried in rounds with exponential backoff until `deadlineMs`; heartbeats with its progress
     * (a retry after a lost worker resumes from it) and ends when cancelled.
     */
    async evictPods(input: EvictPodsInput): Promise<EvictPodsResult> {
      const ctx = Context.current();
      const resumed = (ctx.info.heartbeatDetails as EvictProgress | undefined) ?? { evicted: [], gone: [], rounds: 0 };
      const done = new Set([...resumed.evicted, ...resumed.gone].map((p) => p.uid));
      const progress: EvictProgress = { evicted: [...resumed.evicted], gone: [...resumed.gone], rounds: resumed.rounds };
      let pending = input.pods.filter((p) => !done.has(p.uid));
      const backoff = {
        initialSeconds: input.initialBackoffSeconds ?? DEFAULT_EVICTION_BACKOFF.initialSeconds,
        maxSeconds: input.maxBackoffSeconds ?? DEFAULT_EVICTION_BACKOFF.maxSeconds,
      };
      for (;;) {
        const blocked: (PodRef & { gracePeriodSeconds: number; message: string })[] = [];
        for (const p of pending) {
          const r = await evictOne(p);
          const ref = { namespace: p.namespace, name: p.name, uid: p.uid };
          if (r.result === 'blocked') blocked.push({ ...p, message: r.message });
          else if (r.result === 'evicted') progress.evicted.push(ref);
          else progress.gone.push(ref);
          ctx.heartbeat(progress);
        }
        progress.rounds += 1;
        ctx.heartbeat(progress);
        // The last retry is at the deadline itself.
        const delayMs = Math.min(evictionRetryDelaySeconds(progress.rounds - 1, backoff) * 1000, input.deadlineMs - Date.now());
        if (blocked.length === 0 || delayMs <= 0) {
          return { ...progress, blocked: blocked.map(({ gracePeriodSeconds: _g, ...b }) => b) };
        }
        pending = blocked.map(({ message: _m, ...p }) => p);
        // Sleep in short steps, heartbeating, so a cancellation or a lost worker is noticed.
        for (let left = delayMs; left > 0; left -= 5000) {
          await ctx.sleep(Math.min(5000, left));
          ctx.heartbeat(progress);
        }
      }
    },

    /**
     * Whether a node whose drain failed may be deleted with its pods once the failed-node TTL
     * passed: only when the NodeGroup or the Node carries autoscaler.vpsie.com/delete-after-failed-drain: "true".
     */
    async deleteAfterFailedDrainAllowed(input: { namespace: string; nodeGroup: string; nodeName?: string }): Promise<boolean> {
      let groupAnnotations: Record<string, string> | undefined;
      try {
        const g = (await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: input.namespace,
          plural: NODEGROUP_PLURAL,
          name: input.nodeGroup,
        })) as { metadata?: { annotations?: Record<string, string> } };
        groupAnnotations = g.metadata?.annotations;
      } catch (e) {
        if (apiStatus(e) !== 404) throw e;
      }
      let nodeAnnotations: Record<string, string> | undefined;
      if (input.nodeName) {
        try {
          nodeAnnotations = (await core.readNode({ name: input.nodeName })).metadata?.annotations;
        } catch (e) {
          if (apiStatus(e) !== 404) throw e;
        }
      }
      return deleteAfterFailedDrainAllowed(groupAnnotations, nodeAnnotations);
    },

    /** Which of `pods` still exist (same uid) on the Node. */
    async podsRemaining(input: { nodeName: string; pods: PodRef[] }): Promise<PodRef[]> {
      const uids = new Set(input.pods.map((p) => p.uid));
      return (await podsOn(input.nodeName))
        .filter((p) => uids.has(p.metadata?.uid ?? ''))
        .map((p) => ({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' }));
    },

    /** node_drain_duration_seconds{outcome} and an Event on the Node. */
    async recordDrain(input: { nodeName: string; outcome: string; seconds: number; reason: string; message: string }): Promise<void> {
      metrics.drainSeconds.observe({ outcome: input.outcome }, input.seconds);
      await recordEvent(deps.kc, {
        target: { apiVersion: 'v1', kind: 'Node', name: input.nodeName },
        type: input.outcome === 'Drained' || input.outcome === 'NodeNotFound' ? 'Normal' : 'Warning',
        reason: input.reason,
        message: input.message,
      });
    },
  };
}

export type DrainActivities = ReturnType<typeof createDrainActivities>;
