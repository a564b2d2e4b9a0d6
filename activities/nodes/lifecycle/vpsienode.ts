/**
 * Kubernetes side of the VPSieNode lifecycle (workflows/nodes/lifecycle/workflow.ts): read a VPSieNode
 * and its NodeGroup, write its status (phase, phaseTimes, conditions, lastError, node name, IPs)
 * and the set-once machine identity in its spec, manage the finalizer, find the machine's Node,
 * put the group's labels and taints on it, delete it, and record Events and metrics.
 *
 * Every activity is idempotent: it reads before it writes and treats "already so" (404 on
 * delete, finalizer present, same phase) as success, so a retried or re-run activity is harmless.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Config } from '../../../lib/config';
import {
  API_VERSION,
  GROUP,
  NODEGROUP_PLURAL,
  PHASE_TIME_KEYS,
  VERSION,
  VPSIENODE_FINALIZER,
  VPSIENODE_KIND,
  VPSIENODE_PLURAL,
  nodeLabelsFor,
  safeParseNodeGroup,
  safeParseVPSieNode,
  type Join,
  type NodeGroup,
  type Taint,
  type VPSieNode,
  type VPSieNodePhase,
  type VPSieNodeReason,
} from '../../../lib/crds/autoscaler';
import { recordEvent } from '../../../lib/kube/events';
import { apiStatus } from '../../../lib/kube/api';
import { nodeReady } from '../../../decision/scheduling/from-k8s';
import { logger } from '../../../lib/log';
import { autoscalerMetrics, nodeGroupLabel } from '../../../lib/metrics';
import {
  buildStatusPatch,
  matchNode,
  mergeConditions,
  mergeTaints,
  missingLabels,
  type NodeView,
  type TransitionRecord,
} from '../../../decision/nodes/lifecycle/vpsienode';
import { checkOwnership, type OwnershipProblem } from '../../../decision/nodes/lifecycle/ownership';
import type { ObjectRef } from '../../../workflows/nodes/contracts';
import type { OrchestratorDeps } from '../../../workers/deps';

// ---- shared Kubernetes helpers (also used by activities/nodes/lifecycle/machines.ts) ----------------

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
export const MERGE_PATCH = merge;
export const JSON_PATCH = jsonPatch;

export interface KubeApis {
  custom: k8s.CustomObjectsApi;
  core: k8s.CoreV1Api;
  coordination: k8s.CoordinationV1Api;
}

export function kubeApis(kc: k8s.KubeConfig): KubeApis {
  return { custom: kc.makeApiClient(k8s.CustomObjectsApi), core: kc.makeApiClient(k8s.CoreV1Api), coordination: kc.makeApiClient(k8s.CoordinationV1Api) };
}

/** The VPSieNode, parsed; undefined when it does not exist. An unparsable object is a terminal error. */
export async function readVPSieNode(api: KubeApis, ref: ObjectRef): Promise<VPSieNode | undefined> {
  let raw: unknown;
  try {
    raw = await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ref.namespace, plural: VPSIENODE_PLURAL, name: ref.name });
  } catch (e) {
    if (apiStatus(e) === 404) return undefined;
    throw e;
  }
  const r = safeParseVPSieNode(raw);
  if (!r.ok) throw ApplicationFailure.nonRetryable(r.error.message, 'InvalidConfiguration');
  return r.value;
}

export async function readNodeGroup(api: KubeApis, ref: ObjectRef): Promise<NodeGroup | undefined> {
  let raw: unknown;
  try {
    raw = await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ref.namespace, plural: NODEGROUP_PLURAL, name: ref.name });
  } catch (e) {
    if (apiStatus(e) === 404) return undefined;
    throw e;
  }
  const r = safeParseNodeGroup(raw);
  if (!r.ok) throw ApplicationFailure.nonRetryable(r.error.message, 'InvalidConfiguration');
  return r.value;
}

export async function mergePatchVPSieNode(api: KubeApis, ref: ObjectRef, body: object): Promise<void> {
  await api.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace: ref.namespace, plural: VPSIENODE_PLURAL, name: ref.name, body },
    merge,
  );
}

/**
 * Sets spec fields that the CRD lets be set once (hostname, vpsieIdentifier, vpsID). A field
 * already set to the same value is left; one set to another value is a terminal conflict (two
 * machines for one VPSieNode must never happen silently).
 */
export async function setSpecOnce(api: KubeApis, ref: ObjectRef, fields: { hostname?: string; vpsieIdentifier?: string; vpsID?: number }): Promise<VPSieNode> {
  const vn = await readVPSieNode(api, ref);
  if (!vn) throw ApplicationFailure.nonRetryable(`VPSieNode ${ref.namespace}/${ref.name} is gone`, 'VPSieNodeGone');
  const patch: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(fields) as [keyof typeof fields, string | number | undefined][]) {
    if (v === undefined) continue;
    const cur = vn.spec[k];
    if (cur === undefined) patch[k] = v;
    else if (cur !== v)
      throw ApplicationFailure.nonRetryable(
        `VPSieNode ${ref.namespace}/${ref.name}: spec.${k} is ${String(cur)}, refusing to set ${String(v)}`,
        'VPSCreateFailed',
      );
  }
  if (Object.keys(patch).length === 0) return vn;
  // resourceVersion makes the patch fail (409) if someone changed the object since the read.
  await mergePatchVPSieNode(api, ref, { metadata: { resourceVersion: vn.metadata.resourceVersion }, spec: patch });
  return (await readVPSieNode(api, ref)) ?? vn;
}

function nodeView(n: k8s.V1Node): NodeView {
  return {
    name: n.metadata?.name ?? '',
    providerID: n.spec?.providerID,
    addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    labels: n.metadata?.labels ?? {},
  };
}

// ---- activity types ------------------------------------------------------------------------

/** Timeouts and intervals of the lifecycle; the workflow reads them once (recorded in history). */
export interface LifecycleSettings {
  provisionTimeoutSeconds: number;
  joinTimeoutSeconds: number;
  failedNodeTtlSeconds: number;
  /** Interval of polls for the machine and its Node. */
  pollIntervalSeconds: number;
  /** Whole drain budget before the drain gives up (uncordons) and the node fails with DrainFailed. */
  drainTimeoutSeconds: number;
  /** Upper bound of a pod's terminationGracePeriodSeconds during a drain; absent (the default): each pod's own. */
  maxPodGracePeriodSeconds?: number;
}

export function lifecycleSettingsFrom(config: Config): LifecycleSettings {
  return {
    provisionTimeoutSeconds: config.PROVISION_TIMEOUT_SECONDS,
    joinTimeoutSeconds: config.JOIN_TIMEOUT_SECONDS,
    failedNodeTtlSeconds: config.FAILED_NODE_TTL_SECONDS,
    pollIntervalSeconds: 2,
    drainTimeoutSeconds: 300,
  };
}

/**
 * A VPSieNode refused at the start of its lifecycle: it is not owned by an existing NodeGroup
 * (decision/nodes/lifecycle/ownership.ts). Nothing was provisioned for it and nothing will be.
 */
export interface VPSieNodeRefusal {
  reason: 'NotOwnedByNodeGroup';
  problem: OwnershipProblem;
  message: string;
}

/** What the workflow needs to know about its VPSieNode. */
export interface VPSieNodeObservation {
  /**
   * False when the object does not exist — and also when it is `refused`, so that a lifecycle
   * that does not look at `refused` ends (as for a vanished object) without provisioning it,
   * adopting the machine its spec names or draining the Node its status names.
   */
  exists: boolean;
  /**
   * Set when the VPSieNode has no phase yet (its lifecycle has not started: no machine was ever
   * requested) and is not owned by an existing NodeGroup. The activity has then recorded a Warning
   * Event and the Error condition (reason NotOwnedByNodeGroup), and, when the object is being
   * deleted, released its finalizer (there is nothing to clean up). The lifecycle should end.
   */
  refused?: VPSieNodeRefusal;
  uid?: string;
  deleting: boolean;
  hasFinalizer: boolean;
  phase?: VPSieNodePhase;
  /** status.phaseTimes as epoch ms. */
  phaseTimes: Partial<Record<VPSieNodePhase, number>>;
  nodeName?: string;
  vpsieIdentifier?: string;
  hostname?: string;
  offeringID?: string;
  joinMethod?: Join['method'];
  lastError?: { reason: string; message: string };
}

export interface RecordTransitionInput extends TransitionRecord {
  vpsieNode: ObjectRef;
  nodeGroup: string;
  /** Duration metrics to observe with this transition. */
  provisioningSeconds?: number;
  joiningSeconds?: number;
}

export interface RecordTransitionResult {
  /** False when the status already showed this transition (a retried activity): nothing counted twice. */
  recorded: boolean;
}

export interface FoundNode {
  name: string;
  ready: boolean;
  providerID?: string;
  by: 'providerID' | 'hostname' | 'ip';
}

export interface VPSieNodeEventInput {
  vpsieNode: ObjectRef;
  type: 'Normal' | 'Warning';
  reason: VPSieNodeReason;
  message: string;
  dedupeKey?: string;
}

const PHASES_BY_KEY = Object.fromEntries(Object.entries(PHASE_TIME_KEYS).map(([p, k]) => [k, p])) as Record<string, VPSieNodePhase>;

export function createVPSieNodeActivities(deps: OrchestratorDeps) {
  const api = kubeApis(deps.kc);
  const metrics = autoscalerMetrics(deps.registry);
  const log = logger('vpsienode-activities');

  async function event(
    ref: ObjectRef,
    uid: string | undefined,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    dedupeKey?: string,
  ): Promise<void> {
    await recordEvent(deps.kc, {
      target: { apiVersion: API_VERSION, kind: VPSIENODE_KIND, name: ref.name, namespace: ref.namespace, ...(uid ? { uid } : {}) },
      type,
      reason,
      message,
      ...(dedupeKey ? { dedupeKey } : {}),
    });
  }

  /** Removes the lifecycle's finalizer (the object then goes away if its deletion began). Absent is success. */
  async function removeOurFinalizer(ref: ObjectRef): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const vn = await readVPSieNode(api, ref).catch((e: unknown) => {
        // A half-deleted object that no longer parses must still lose the finalizer.
        if (e instanceof ApplicationFailure) return undefined;
        throw e;
      });
      if (!vn) return;
      const fins = vn.metadata.finalizers ?? [];
      const i = fins.indexOf(VPSIENODE_FINALIZER);
      if (i < 0) return;
      try {
        await api.custom.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: ref.namespace,
            plural: VPSIENODE_PLURAL,
            name: ref.name,
            body: [
              { op: 'test', path: `/metadata/finalizers/${i}`, value: VPSIENODE_FINALIZER },
              { op: 'remove', path: `/metadata/finalizers/${i}` },
            ],
          },
          jsonPatch,
        );
        return;
      } catch (e) {
        const s = apiStatus(e);
        if (s === 404) return;
        if (s !== 409 && s !== 422) throw e; // a failed "test" is 422: re-read and retry
      }
    }
    throw ApplicationFailure.retryable(`could not remove the finalizer of ${ref.namespace}/${ref.name}`, 'Conflict');
  }

  /**
   * The ownership check at the start of a lifecycle (no phase yet): undefined when the VPSieNode
   * is owned by its existing NodeGroup; otherwise records the refusal (Event, Error condition),
   * releases the finalizer of a VPSieNode being deleted, and returns it. Idempotent.
   */
  async function refusalOf(ref: ObjectRef, vn: VPSieNode): Promise<VPSieNodeRefusal | undefined> {
    const ng = await readNodeGroup(api, { namespace: ref.namespace, name: vn.spec.nodeGroupName });
    const own = checkOwnership({
      vpsieNode: {
        namespace: ref.namespace,
        name: ref.name,
        nodeGroupName: vn.spec.nodeGroupName,
        ...(vn.metadata.ownerReferences ? { ownerReferences: vn.metadata.ownerReferences } : {}),
      },
      ...(ng ? { nodeGroup: { ...(ng.metadata.uid ? { uid: ng.metadata.uid } : {}), deleting: ng.metadata.deletionTimestamp !== undefined } } : {}),
    });
    if (own.owned) return undefined;
    const refusal: VPSieNodeRefusal = { reason: 'NotOwnedByNodeGroup', problem: own.problem, message: `refused, not provisioned: ${own.message}` };
    const cur = (vn.status?.conditions ?? []).find((c) => c.type === 'Error');
    if (!(cur?.status === 'True' && cur.reason === refusal.reason && cur.message === refusal.message)) {
      const conditions = mergeConditions(
        vn.status?.conditions,
        [{ type: 'Error', status: 'True', reason: refusal.reason, message: refusal.message }],
        new Date().toISOString(),
        vn.metadata.generation,
      );
      try {
        await api.custom.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace: ref.namespace, plural: VPSIENODE_PLURAL, name: ref.name, body: { status: { conditions } } },
          merge,
        );
      } catch (e) {
        if (apiStatus(e) !== 404) throw e;
      }
    }
    await event(ref, vn.metadata.uid, 'Warning', refusal.reason, refusal.message, `refused-${refusal.problem}`);
    log.warn('vpsienode refused', { vpsieNode: `${ref.namespace}/${ref.name}`, problem: own.problem, detail: own.message });
    // Nothing was ever provisioned for it (no phase): a deletion needs no cleanup, only the finalizer released.
    if (vn.metadata.deletionTimestamp !== undefined) await removeOurFinalizer(ref);
    return refusal;
  }

  return {
    /** The lifecycle's timeouts, from the orchestrator configuration. */
    async lifecycleSettings(): Promise<LifecycleSettings> {
      return lifecycleSettingsFrom(deps.config);
    },

    async observeVPSieNode(ref: ObjectRef): Promise<VPSieNodeObservation> {
      const vn = await readVPSieNode(api, ref);
      if (!vn) return { exists: false, deleting: false, hasFinalizer: false, phaseTimes: {} };
      // Before its first phase no machine exists: only a VPSieNode its NodeGroup owns gets one.
      if (vn.status?.phase === undefined) {
        const refused = await refusalOf(ref, vn);
        if (refused)
          return {
            exists: false,
            refused,
            ...(vn.metadata.uid ? { uid: vn.metadata.uid } : {}),
            deleting: vn.metadata.deletionTimestamp !== undefined,
            hasFinalizer: false,
            phaseTimes: {},
          };
      }
      const phaseTimes: Partial<Record<VPSieNodePhase, number>> = {};
      for (const [k, v] of Object.entries(vn.status?.phaseTimes ?? {})) {
        const p = PHASES_BY_KEY[k];
        const t = v === undefined ? NaN : Date.parse(v);
        if (p && !Number.isNaN(t)) phaseTimes[p] = t;
      }
      return {
        exists: true,
        uid: vn.metadata.uid,
        deleting: vn.metadata.deletionTimestamp !== undefined,
        hasFinalizer: (vn.metadata.finalizers ?? []).includes(VPSIENODE_FINALIZER),
        ...(vn.status?.phase ? { phase: vn.status.phase } : {}),
        phaseTimes,
        ...(vn.status?.nodeName ? { nodeName: vn.status.nodeName } : {}),
        ...(vn.spec.vpsieIdentifier ? { vpsieIdentifier: vn.spec.vpsieIdentifier } : {}),
        ...(vn.spec.hostname ? { hostname: vn.spec.hostname } : {}),
        offeringID: vn.spec.offeringID,
        joinMethod: vn.spec.join.method,
        ...(vn.status?.lastError ? { lastError: { reason: vn.status.lastError.reason, message: vn.status.lastError.message } } : {}),
      };
    },

    /** Adds the finalizer (no-op when present or when the object is already being deleted). */
    async ensureFinalizer(ref: ObjectRef): Promise<boolean> {
      const vn = await readVPSieNode(api, ref);
      if (!vn) return false;
      const fins = vn.metadata.finalizers ?? [];
      if (fins.includes(VPSIENODE_FINALIZER)) return true;
      if (vn.metadata.deletionTimestamp !== undefined) return false; // the apiserver refuses new finalizers then
      await mergePatchVPSieNode(api, ref, { metadata: { resourceVersion: vn.metadata.resourceVersion, finalizers: [...fins, VPSIENODE_FINALIZER] } });
      return true;
    },

    /** Removes the finalizer (the object then goes away if its deletion began). Absent is success. */
    async removeFinalizer(ref: ObjectRef): Promise<void> {
      await removeOurFinalizer(ref);
    },

    /**
     * Writes a transition to the status subresource, records the Event and counts the metrics.
     * Idempotent: when the status already shows `to` at `at`, only the status is re-asserted.
     */
    async recordTransition(t: RecordTransitionInput): Promise<RecordTransitionResult> {
      const vn = await readVPSieNode(api, t.vpsieNode);
      if (!vn) return { recorded: false };
      const already = vn.status?.phase === t.to && vn.status.phaseTimes?.[PHASE_TIME_KEYS[t.to]] === t.at;
      const status = buildStatusPatch(vn.status, t, vn.metadata.generation);
      if (!already) {
        await api.custom.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace: t.vpsieNode.namespace, plural: VPSIENODE_PLURAL, name: t.vpsieNode.name, body: { status } },
          merge,
        );
        const nodegroup = nodeGroupLabel(t.vpsieNode.namespace, t.nodeGroup);
        metrics.phaseTransitions.inc({ nodegroup, phase: t.to, reason: t.reason });
        if (t.provisioningSeconds !== undefined) metrics.provisioningSeconds.observe({ nodegroup }, t.provisioningSeconds);
        if (t.joiningSeconds !== undefined) metrics.joiningSeconds.observe({ nodegroup }, t.joiningSeconds);
        log.info('vpsienode phase transition', {
          vpsieNode: `${t.vpsieNode.namespace}/${t.vpsieNode.name}`,
          from: t.from,
          to: t.to,
          reason: t.reason,
          detail: t.message,
        });
      }
      await event(t.vpsieNode, vn.metadata.uid, t.to === 'Failed' ? 'Warning' : 'Normal', t.reason, `${t.from} -> ${t.to}: ${t.message}`, `phase-${t.to}`);
      return { recorded: !already };
    },

    async recordVPSieNodeEvent(e: VPSieNodeEventInput): Promise<void> {
      const vn = await readVPSieNode(api, e.vpsieNode).catch(() => undefined);
      await event(e.vpsieNode, vn?.metadata.uid, e.type, e.reason, e.message, e.dedupeKey);
    },

    /** Counts a Failed VPSieNode cleaned up after its TTL. */
    async countTtlDeletion(nodeGroup: string): Promise<void> {
      // The namespace is the lifecycle's (its workflow id is vpsienode:<namespace>/<name>).
      let wf = '';
      try {
        wf = Context.current().info.workflowExecution?.workflowId ?? '';
      } catch {
        wf = '';
      }
      const ns = /^vpsienode:([^/]+)\//.exec(wf)?.[1];
      metrics.ttlDeletions.inc({ nodegroup: ns !== undefined ? nodeGroupLabel(ns, nodeGroup) : nodeGroup });
    },

    /** Finds the machine's Node by providerID, hostname or IP. */
    async findNode(q: { vpsieIdentifier?: string; hostname?: string; ips?: string[]; nodeName?: string }): Promise<FoundNode | undefined> {
      if (q.nodeName) {
        try {
          // The process's Node informer first (#12: no apiserver read per poll); a miss reads the apiserver.
          const n = deps.nodes?.get(q.nodeName) ?? (await api.core.readNode({ name: q.nodeName }));
          return { name: q.nodeName, ready: nodeReady(n), ...(n.spec?.providerID ? { providerID: n.spec.providerID } : {}), by: 'hostname' };
        } catch (e) {
          if (apiStatus(e) !== 404) throw e;
        }
      }
      const nodes = deps.nodes?.list() ?? (await api.core.listNode()).items;
      const m = matchNode(nodes.map(nodeView), q);
      if (!m) return undefined;
      const n = nodes.find((x) => x.metadata?.name === m.node.name)!;
      return { name: m.node.name, ready: nodeReady(n), ...(m.node.providerID ? { providerID: m.node.providerID } : {}), by: m.by };
    },

    /**
     * Puts the NodeGroup's labels (+ autoscaler.vpsie.com/nodegroup=<group>) and taints on the
     * Node. Existing labels and taints are kept; only missing or different ones are written.
     */
    async applyNodeGroupToNode(input: {
      nodeName: string;
      nodeGroup: ObjectRef;
    }): Promise<{ labels: Record<string, string>; taints: Taint[]; changed: boolean }> {
      const ng = await readNodeGroup(api, input.nodeGroup);
      const labels = ng
        ? nodeLabelsFor(ng)
        : nodeLabelsFor({ metadata: { name: input.nodeGroup.name }, spec: { labels: {} } } as Pick<NodeGroup, 'metadata' | 'spec'>);
      const taints = ng?.spec.taints ?? [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const node = await api.core.readNode({ name: input.nodeName });
        const addLabels = missingLabels(node.metadata?.labels ?? {}, labels);
        const newTaints = mergeTaints(node.spec?.taints ?? [], taints);
        if (Object.keys(addLabels).length === 0 && newTaints === undefined) return { labels, taints, changed: attempt > 0 };
        const body: Record<string, unknown> = { metadata: { resourceVersion: node.metadata?.resourceVersion, labels: addLabels } };
        if (newTaints) body.spec = { taints: newTaints };
        try {
          await api.core.patchNode({ name: input.nodeName, body }, merge);
        } catch (e) {
          if (apiStatus(e) !== 409) throw e;
        }
      }
      throw ApplicationFailure.retryable(`could not label node ${input.nodeName} (conflicts)`, 'Conflict');
    },

    /** Deletes the Node; true if it was there. */
    async deleteNode(name: string): Promise<boolean> {
      try {
        await api.core.deleteNode({ name });
        return true;
      } catch (e) {
        if (apiStatus(e) === 404) return false;
        throw e;
      }
    },

    /** Begins deletion of the VPSieNode object (the finalizer keeps it until removed). */
    async deleteVPSieNode(ref: ObjectRef): Promise<boolean> {
      try {
        await api.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ref.namespace, plural: VPSIENODE_PLURAL, name: ref.name });
        return true;
      } catch (e) {
        if (apiStatus(e) === 404) return false;
        throw e;
      }
    },
  };
}

export type VPSieNodeActivities = ReturnType<typeof createVPSieNodeActivities>;
