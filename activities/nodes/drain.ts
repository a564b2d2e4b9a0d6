/**
 * Kubernetes side of the node drain (workflows/nodes/drain.ts): cordon/uncordon, list the pods to
 * evict, evict one pod through the Eviction API (pods/eviction), see which pods are still
 * there, and record the drain metric and Events. Each call is idempotent.
 */
import * as k8s from '@kubernetes/client-node';
import { podDisposition, type DrainPodView } from '../../decision/nodes/drain/disposition';
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
}

/**
 * evicted: the eviction was accepted; gone: the pod no longer exists (or is another pod now);
 * blocked: 429 — a PodDisruptionBudget does not allow it now (try again later).
 */
export type EvictOutcome = { result: 'evicted' | 'gone' } | { result: 'blocked'; message: string };

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
  const metrics = autoscalerMetrics(deps.registry);

  async function setUnschedulable(name: string, unschedulable: boolean): Promise<boolean> {
    try {
      const n = await core.readNode({ name });
      if ((n.spec?.unschedulable ?? false) === unschedulable) return true;
      await core.patchNode({ name, body: { spec: { unschedulable } } }, merge);
      return true;
    } catch (e) {
      if (apiStatus(e) === 404) return false;
      throw e;
    }
  }

  async function podsOn(nodeName: string): Promise<k8s.V1Pod[]> {
    return (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items;
  }

  return {
    /** Marks the Node unschedulable; false when the Node does not exist. */
    async cordonNode(name: string): Promise<boolean> {
      return setUnschedulable(name, true);
    },

    async uncordonNode(name: string): Promise<boolean> {
      return setUnschedulable(name, false);
    },

    /** The pods on the Node and what the drain does with each. */
    async planDrain(input: { nodeName: string; maxPodGracePeriodSeconds: number }): Promise<DrainPlan> {
      try {
        await core.readNode({ name: input.nodeName });
      } catch (e) {
        if (apiStatus(e) === 404) return { nodeExists: false, evict: [], wait: [], skipped: [] };
        throw e;
      }
      const plan: DrainPlan = { nodeExists: true, evict: [], wait: [], skipped: [] };
      for (const p of await podsOn(input.nodeName)) {
        const v = podView(p);
        const ref = { namespace: v.namespace, name: v.name, uid: v.uid };
        const d = podDisposition(v, input.maxPodGracePeriodSeconds);
        if (d.action === 'evict') plan.evict.push({ ...ref, gracePeriodSeconds: d.gracePeriodSeconds });
        else if (d.action === 'wait') plan.wait.push(ref);
        else plan.skipped.push({ ...ref, reason: d.reason });
      }
      return plan;
    },

    /** Asks the Eviction API to evict one pod (the uid precondition never evicts a replacement). */
    async evictPod(p: PodRef & { gracePeriodSeconds: number }): Promise<EvictOutcome> {
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
