/**
 * Activities of the NodeGroup entity workflow (workflows/nodes/nodegroup/workflow.ts): read the NodeGroup and
 * its VPSieNodes, create and delete VPSieNode objects, write the group's status, its finalizer,
 * Events and metrics. Every one is idempotent: creating a VPSieNode that exists (409) or deleting
 * one that is gone (404) counts as done.
 */
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  buildNodeGroupStatus,
  phaseCounts,
  vpsieGroupIDOf,
  type GroupMachineFacts,
  type GroupStatusInput,
  type ReconcilePlan,
} from '../../decision/nodes/nodegroup';
import { WORKER_INTENT_ANNOTATION } from './lifecycle/machines';
import {
  API_VERSION,
  CREATE_REASON_ANNOTATION,
  GROUP,
  NODEGROUP_KIND,
  NODEGROUP_LABEL,
  NODEGROUP_PLURAL,
  REQUEST_ID_ANNOTATION,
  TRIGGERED_PODS_ANNOTATION,
  VERSION,
  VPSIENODE_FINALIZER,
  VPSIENODE_KIND,
  VPSIENODE_PHASES,
  VPSIENODE_PLURAL,
  nodeGroupOwnerReference,
  safeParseNodeGroup,
  type Join,
  type NodeGroup,
  type NodeGroupCondition,
  type VPSieNodePhase,
  type VPSieNodeSpecInput,
} from '../../lib/crds/autoscaler';
import { audit, type AuditAction } from '../../lib/audit';
import { errorEventReason, recordEvent } from '../../lib/kube/events';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';
import { autoscalerMetrics, nodeGroupLabel, OnceKeys } from '../../lib/metrics';
import type { OrchestratorDeps } from '../../workers/deps';

/** Finalizer on a NodeGroup: its deletion waits until every VPSieNode of the group is gone. */
export const NODEGROUP_FINALIZER = `${GROUP}/nodegroup-nodes` as const;

export interface GroupRef {
  namespace: string;
  name: string;
}

/** What the group workflow needs of its NodeGroup object. */
export interface GroupView {
  uid: string;
  generation: number;
  deleting: boolean;
  hasFinalizer: boolean;
  minNodes: number;
  maxNodes: number;
  /** Offerings the group may use (spec.offeringIDs, else the configured defaults). */
  offerings: string[];
  /** Offering for nodes the group creates on its own (min, replacements). */
  defaultOffering: string;
  dryRun: boolean;
  scaleUpEnabled: boolean;
  scaleDownEnabled: boolean;
  scaleUpCooldownSeconds: number;
  scaleDownCooldownSeconds: number;
  /** Set when the object does not parse (the group then holds still). */
  invalid?: string;
  /**
   * What the last run of the group workflow wrote in status (desiredNodes, last scale times): a
   * run that carries no state starts from these (decision/nodes/nodegroup/restart.ts).
   */
  statusDesiredNodes?: number;
  statusLastScaleUpTime?: string;
  statusLastScaleDownTime?: string;
}

/** The status fields a fresh group workflow run starts from (absent ones are left out). */
function statusHints(raw: Record<string, unknown>): Pick<GroupView, 'statusDesiredNodes' | 'statusLastScaleUpTime' | 'statusLastScaleDownTime'> {
  const status = (raw.status ?? {}) as Record<string, unknown>;
  const d = status.desiredNodes;
  const time = (v: unknown): string | undefined => (typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : undefined);
  const up = time(status.lastScaleUpTime);
  const down = time(status.lastScaleDownTime);
  return {
    ...(typeof d === 'number' && Number.isInteger(d) && d >= 0 ? { statusDesiredNodes: d } : {}),
    ...(up ? { statusLastScaleUpTime: up } : {}),
    ...(down ? { statusLastScaleDownTime: down } : {}),
  };
}

export interface ObservedNode {
  name: string;
  phase: VPSieNodePhase;
  offeringID: string;
  nodeName?: string;
  createdAt?: string;
  deleting: boolean;
  reason?: string;
  message?: string;
}

export interface CreateNodesInput extends GroupRef {
  /** `podUids`: the pending pods a scale-up planned on the node (TRIGGERED_PODS_ANNOTATION). */
  nodes: { name: string; offeringID: string; podUids?: string[] }[];
  requestId: string;
  reason: string;
  message: string;
}

export interface DeleteNodesInput extends GroupRef {
  names: string[];
  reason: string;
  message: string;
}

export interface GroupEventInput extends GroupRef {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const PATCH_MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The VPSieNode spec a group gives a new node: the group's fields, else the configured defaults. */
export function vpsieNodeSpecFor(group: NodeGroup, offeringID: string, name: string, deps: Pick<OrchestratorDeps, 'config'>): VPSieNodeSpecInput {
  const c = deps.config;
  let join: Join = group.spec.join ?? { method: c.DEFAULT_JOIN_METHOD };
  if (join.method === 'ManagedKubernetes' && join.clusterIdentifier === undefined && c.VPSIE_CLUSTER_IDENTIFIER)
    join = { ...join, clusterIdentifier: c.VPSIE_CLUSTER_IDENTIFIER };
  return {
    nodeGroupName: group.metadata.name,
    offeringID,
    datacenterID: group.spec.datacenterID ?? c.DEFAULT_DATACENTER,
    osImageID: group.spec.osImageID ?? c.DEFAULT_OS_IMAGE,
    join,
    // A ManagedKubernetes worker's hostname is VPSie's (recorded when the worker is claimed).
    ...(join.method === 'UserData' ? { hostname: name } : {}),
  };
}

export function groupViewOf(group: NodeGroup, deps: Pick<OrchestratorDeps, 'config'>): GroupView {
  const offerings = group.spec.offeringIDs ?? deps.config.DEFAULT_OFFERINGS;
  return {
    uid: group.metadata.uid ?? '',
    generation: group.metadata.generation ?? 0,
    deleting: group.metadata.deletionTimestamp !== undefined,
    hasFinalizer: (group.metadata.finalizers ?? []).includes(NODEGROUP_FINALIZER),
    minNodes: group.spec.minNodes,
    maxNodes: group.spec.maxNodes,
    offerings,
    defaultOffering: group.spec.preferredInstanceType ?? offerings[0] ?? deps.config.DEFAULT_OFFERINGS[0] ?? 'small-2cpu-4gb',
    dryRun: group.spec.dryRun,
    scaleUpEnabled: group.spec.scaleUpPolicy.enabled,
    scaleDownEnabled: group.spec.scaleDownPolicy.enabled,
    scaleUpCooldownSeconds: group.spec.scaleUpPolicy.cooldownSeconds,
    scaleDownCooldownSeconds: group.spec.scaleDownPolicy.cooldownSeconds,
  };
}

/** The identity of the running activity (stable over its retries); outside an activity, the call itself. */
function operationKey(input: GroupRef & { direction: string }): string {
  try {
    const info = Context.current().info;
    return `${info.workflowExecution?.workflowId ?? ''}/${info.workflowExecution?.runId ?? ''}/${info.activityId}`;
  } catch {
    return `${input.namespace}/${input.name}/${input.direction}/${randomUUID()}`;
  }
}

type ReconcileReason = Exclude<ReconcilePlan['reason'], 'InSync'>;
/** The audit action of each reconcile reason, by what the work does (decision/nodes/nodegroup reconcile). */
const RECONCILE_ACTIONS: { create: Partial<Record<ReconcileReason, AuditAction>>; delete: Partial<Record<ReconcileReason, AuditAction>> } = {
  create: { BelowMinNodes: 'NodeGroupMinEnforced', BelowDesired: 'NodeGroupDesiredEnforced' },
  delete: { AboveMaxNodes: 'NodeGroupMaxEnforced', AboveDesired: 'NodeGroupDesiredEnforced' },
};
/** The message of the NodeGroup workflow's deletion of its VPSieNodes (workflows/nodes/nodegroup/deletion.ts). */
const NODEGROUP_DELETED_MESSAGE = 'NodeGroup deleted';

/**
 * The audit action of a creation or removal the NodeGroup decided itself: its reconcile
 * (workflows/nodes/nodegroup/work.ts: message `<ReconcilePlan reason>: …`, creations with work id
 * `reconcile:…`) or its deletion. Undefined for the VPSieNodes another decision asked for (a
 * scale-up, a utilisation scale-up, a scale-down, a consolidation), which that decision audits.
 */
export function groupAudit(kind: 'create' | 'delete', input: { message: string; requestId?: string }): { action: AuditAction; reason: string } | undefined {
  if (kind === 'delete' && input.message === NODEGROUP_DELETED_MESSAGE) return { action: 'NodeGroupDeleted', reason: 'NodeGroupDeleted' };
  if (kind === 'create' && !input.requestId?.startsWith('reconcile:')) return undefined;
  const reason = /^([A-Za-z]+): /.exec(input.message)?.[1];
  const action = reason === undefined ? undefined : RECONCILE_ACTIONS[kind][reason as ReconcileReason];
  return action === undefined || reason === undefined ? undefined : { action, reason };
}

export function createNodeGroupActivities(deps: Pick<OrchestratorDeps, 'config' | 'kc' | 'registry'>) {
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  /** Scale operations already counted, by the activity's identity (its retries share it). */
  const countedOperations = new OnceKeys();
  const log = logger('nodegroup-activities');

  async function readRaw(ref: GroupRef): Promise<Record<string, unknown> | undefined> {
    try {
      return (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ref.namespace,
        plural: NODEGROUP_PLURAL,
        name: ref.name,
      })) as Record<string, unknown>;
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async function readGroup(ref: GroupRef): Promise<NodeGroup | undefined> {
    const raw = await readRaw(ref);
    if (!raw) return undefined;
    const r = safeParseNodeGroup(raw);
    if (!r.ok) throw ApplicationFailure.nonRetryable(r.error.message, 'InvalidConfiguration');
    return r.value;
  }

  /** The VPS ids of the group's VPSieNodes (their spec) and the VPSie group their workers come from (ManagedKubernetes). */
  async function machineFacts(ref: GroupRef): Promise<GroupMachineFacts> {
    const list = (await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ref.namespace,
      plural: VPSIENODE_PLURAL,
      labelSelector: `${NODEGROUP_LABEL}=${ref.name}`,
    })) as { items?: Record<string, unknown>[] };
    const machines = new Map<string, { vpsID?: number; vpsieIdentifier?: string }>();
    const intents: { createdAt?: string; deleting?: boolean; workerIntent?: string }[] = [];
    for (const o of list.items ?? []) {
      const meta = (o.metadata ?? {}) as Record<string, unknown>;
      const spec = (o.spec ?? {}) as Record<string, unknown>;
      const name = str(meta.name);
      if (!name) continue;
      const vpsID = typeof spec.vpsID === 'number' && Number.isInteger(spec.vpsID) && spec.vpsID >= 0 ? spec.vpsID : undefined;
      const vpsieIdentifier = str(spec.vpsieIdentifier);
      machines.set(name, { ...(vpsID !== undefined ? { vpsID } : {}), ...(vpsieIdentifier ? { vpsieIdentifier } : {}) });
      const annotations = (meta.annotations ?? {}) as Record<string, unknown>;
      const createdAt = str(meta.creationTimestamp) ?? (meta.creationTimestamp instanceof Date ? meta.creationTimestamp.toISOString() : undefined);
      const workerIntent = str(annotations[WORKER_INTENT_ANNOTATION]);
      intents.push({ ...(createdAt ? { createdAt } : {}), deleting: meta.deletionTimestamp !== undefined, ...(workerIntent ? { workerIntent } : {}) });
    }
    const vpsieGroupID = vpsieGroupIDOf(intents);
    return { machines, ...(vpsieGroupID ? { vpsieGroupID } : {}) };
  }

  const groupTarget = (ref: GroupRef, uid?: string) => ({ apiVersion: API_VERSION, kind: NODEGROUP_KIND, namespace: ref.namespace, name: ref.name, uid });

  return {
    /** The NodeGroup as the workflow needs it; null when it does not exist. */
    async readNodeGroup(ref: GroupRef): Promise<GroupView | null> {
      const raw = await readRaw(ref);
      if (!raw) return null;
      const r = safeParseNodeGroup(raw);
      if (r.ok) return { ...groupViewOf(r.value, deps), ...statusHints(raw) };
      // Held still with an Error condition; the apiserver's validation makes this rare.
      const meta = (raw.metadata ?? {}) as Record<string, unknown>;
      const spec = (raw.spec ?? {}) as Record<string, unknown>;
      const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
      return {
        uid: str(meta.uid) ?? '',
        generation: num(meta.generation, 0),
        deleting: meta.deletionTimestamp !== undefined,
        hasFinalizer: Array.isArray(meta.finalizers) && meta.finalizers.includes(NODEGROUP_FINALIZER),
        minNodes: num(spec.minNodes, 0),
        maxNodes: num(spec.maxNodes, 0),
        offerings: deps.config.DEFAULT_OFFERINGS,
        defaultOffering: deps.config.DEFAULT_OFFERINGS[0] ?? 'small-2cpu-4gb',
        dryRun: true,
        scaleUpEnabled: false,
        scaleDownEnabled: false,
        scaleUpCooldownSeconds: 0,
        scaleDownCooldownSeconds: 0,
        invalid: r.error.message,
        ...statusHints(raw),
      };
    },

    /** Every VPSieNode labelled as the group's, with its phase. */
    async listGroupVPSieNodes(ref: GroupRef): Promise<ObservedNode[]> {
      const list = (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ref.namespace,
        plural: VPSIENODE_PLURAL,
        labelSelector: `${NODEGROUP_LABEL}=${ref.name}`,
      })) as { items?: Record<string, unknown>[] };
      return (list.items ?? []).map((o) => {
        const meta = (o.metadata ?? {}) as Record<string, unknown>;
        const spec = (o.spec ?? {}) as Record<string, unknown>;
        const status = (o.status ?? {}) as Record<string, unknown>;
        const phase = str(status.phase);
        const lastError = (status.lastError ?? {}) as Record<string, unknown>;
        const n: ObservedNode = {
          name: str(meta.name) ?? '',
          phase: phase !== undefined && (VPSIENODE_PHASES as readonly string[]).includes(phase) ? (phase as VPSieNodePhase) : 'Pending',
          offeringID: str(spec.offeringID) ?? '',
          deleting: meta.deletionTimestamp !== undefined,
        };
        const nodeName = str(status.nodeName);
        if (nodeName) n.nodeName = nodeName;
        const createdAt = str(meta.creationTimestamp) ?? (meta.creationTimestamp instanceof Date ? meta.creationTimestamp.toISOString() : undefined);
        if (createdAt) n.createdAt = createdAt;
        if (str(lastError.reason)) n.reason = str(lastError.reason);
        if (str(lastError.message)) n.message = str(lastError.message);
        return n;
      });
    },

    /**
     * Creates the named VPSieNodes (owned by the group, labelled, with the machine finalizer). One
     * that already exists counts as created; a group that is gone or being deleted gets none.
     */
    async createVPSieNodes(input: CreateNodesInput): Promise<string[]> {
      const group = await readGroup(input);
      if (!group || group.metadata.deletionTimestamp !== undefined) return [];
      const created: string[] = [];
      // Up to 8 creates at once (a burst's nodes do not wait on each other's apiserver round trips).
      const create = async (n: (typeof input.nodes)[number]): Promise<void> => {
        const body = {
          apiVersion: API_VERSION,
          kind: VPSIENODE_KIND,
          metadata: {
            name: n.name,
            namespace: input.namespace,
            labels: { [NODEGROUP_LABEL]: input.name },
            annotations: {
              [REQUEST_ID_ANNOTATION]: input.requestId.slice(0, 253),
              [CREATE_REASON_ANNOTATION]: input.reason,
              ...(n.podUids && n.podUids.length > 0 ? { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(n.podUids) } : {}),
            },
            finalizers: [VPSIENODE_FINALIZER],
            ownerReferences: [nodeGroupOwnerReference(group)],
          },
          spec: vpsieNodeSpecFor(group, n.offeringID, n.name, deps),
        };
        try {
          await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: input.namespace, plural: VPSIENODE_PLURAL, body });
          log.info('created VPSieNode', {
            nodegroup: `${input.namespace}/${input.name}`,
            vpsieNode: n.name,
            offering: n.offeringID,
            reason: input.reason,
            requestId: input.requestId,
          });
        } catch (err) {
          const code = apiStatus(err);
          if (code === 409) {
            created.push(n.name);
            return;
          }
          if (code !== undefined && code >= 400 && code < 500 && code !== 429)
            throw ApplicationFailure.nonRetryable(
              `creating VPSieNode ${input.namespace}/${n.name} refused (${code}): ${String(err).slice(0, 500)}`,
              'InvalidConfiguration',
            );
          throw err;
        }
        created.push(n.name);
      };
      const queue = [...input.nodes];
      await Promise.all(
        Array.from({ length: Math.min(8, queue.length) }, async () => {
          for (let n = queue.shift(); n; n = queue.shift()) await create(n);
        }),
      );
      // In the order asked for (the workflow and the Event name them so).
      const order = new Map(input.nodes.map((n, i) => [n.name, i]));
      created.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
      const own = created.length > 0 ? groupAudit('create', input) : undefined;
      if (own)
        audit({
          ...own,
          decision: input.requestId,
          object: { kind: NODEGROUP_KIND, namespace: input.namespace, name: input.name, ...(group.metadata.uid ? { uid: group.metadata.uid } : {}) },
          outcome: 'Created',
          numbers: { nodes: created.length, minNodes: group.spec.minNodes, maxNodes: group.spec.maxNodes },
          nodegroup: nodeGroupLabel(input.namespace, input.name),
          nodes: created,
          detail: input.message,
        });
      if (created.length > 0) {
        await recordEvent(deps.kc, {
          target: groupTarget(input, group.metadata.uid),
          type: 'Normal',
          reason: input.reason,
          message: `created ${created.length} VPSieNodes (${created.join(', ')}): ${input.message}`,
          dedupeKey: `create-${input.requestId}`,
        });
      }
      return created;
    },

    /** Starts the deletion of the named VPSieNodes (their lifecycles then remove the machines). */
    async deleteVPSieNodes(input: DeleteNodesInput): Promise<string[]> {
      const done: string[] = [];
      for (const name of input.names) {
        try {
          await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: input.namespace, plural: VPSIENODE_PLURAL, name });
          log.info('deleting VPSieNode', { nodegroup: `${input.namespace}/${input.name}`, vpsieNode: name, reason: input.reason });
        } catch (err) {
          if (apiStatus(err) !== 404) throw err;
        }
        done.push(name);
      }
      const own = done.length > 0 ? groupAudit('delete', input) : undefined;
      if (own)
        audit({
          ...own,
          decision: operationKey({ ...input, direction: 'down' }),
          object: { kind: NODEGROUP_KIND, namespace: input.namespace, name: input.name },
          outcome: 'Removed',
          numbers: { nodes: done.length },
          nodegroup: nodeGroupLabel(input.namespace, input.name),
          nodes: done,
          detail: input.message,
        });
      if (done.length > 0) {
        await recordEvent(deps.kc, {
          target: groupTarget(input),
          type: 'Normal',
          reason: input.reason,
          message: `removing ${done.length} VPSieNodes (${done.join(', ')}): ${input.message}`,
          dedupeKey: `delete-${input.reason}-${done[0] ?? ''}`,
        });
      }
      return done;
    },

    /** Adds or removes the group's finalizer; true when the object now has the wanted state. */
    async setNodeGroupFinalizer(input: GroupRef & { present: boolean }): Promise<boolean> {
      for (let attempt = 0; attempt < 5; attempt++) {
        const raw = await readRaw(input);
        if (!raw) return !input.present;
        const meta = (raw.metadata ?? {}) as { finalizers?: string[]; resourceVersion?: string; deletionTimestamp?: string };
        const fins = meta.finalizers ?? [];
        const has = fins.includes(NODEGROUP_FINALIZER);
        if (has === input.present) return true;
        // A finalizer cannot be added to an object whose deletion has begun.
        if (input.present && meta.deletionTimestamp !== undefined) return false;
        const finalizers = input.present ? [...fins, NODEGROUP_FINALIZER] : fins.filter((f) => f !== NODEGROUP_FINALIZER);
        try {
          await custom.patchNamespacedCustomObject(
            {
              group: GROUP,
              version: VERSION,
              namespace: input.namespace,
              plural: NODEGROUP_PLURAL,
              name: input.name,
              body: { metadata: { finalizers, resourceVersion: meta.resourceVersion } },
            },
            PATCH_MERGE,
          );
          return true;
        } catch (err) {
          const code = apiStatus(err);
          if (code === 404) return !input.present;
          if (code !== 409) throw err;
        }
      }
      throw new Error(`NodeGroup ${input.namespace}/${input.name}: finalizer update kept conflicting`);
    },

    /** Writes the group's status subresource and its gauges. */
    async writeNodeGroupStatus(input: GroupRef & { status: GroupStatusInput }): Promise<void> {
      const raw = await readRaw(input);
      const label = nodeGroupLabel(input.namespace, input.name);
      const counts = phaseCounts(input.status.nodes);
      for (const [state, n] of Object.entries(counts)) metrics.nodeGroupNodes.set({ nodegroup: label, state }, n);
      metrics.nodeGroupDesired.set({ nodegroup: label }, input.status.desired);
      metrics.nodeGroupSize.set({ nodegroup: label }, input.status.nodes.length);
      if (!raw) return;
      const prev = ((raw.status ?? {}) as { conditions?: NodeGroupCondition[] }).conditions;
      const status = buildNodeGroupStatus(input.status, prev, new Date().toISOString(), await machineFacts(input));
      // Document 001 §2.5.3: a configuration error or a VPSie API error is an Event on the NodeGroup, once per new error.
      const before = (prev ?? []).find((c) => c.type === 'Error');
      const after = (status.conditions ?? []).find((c) => c.type === 'Error');
      if (after && after.status === 'True' && (before?.status !== 'True' || before.reason !== after.reason)) {
        await recordEvent(deps.kc, {
          // With the object's uid, or `kubectl describe nodegroup` (which selects Events by uid) does not show it.
          target: groupTarget(input, str((raw.metadata as { uid?: unknown } | undefined)?.uid)),
          type: 'Warning',
          reason: errorEventReason(after.reason),
          message: `${after.reason}: ${after.message}`,
          dedupeKey: `error-${after.reason}`,
        });
      }
      try {
        await custom.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace: input.namespace, plural: NODEGROUP_PLURAL, name: input.name, body: { status } },
          PATCH_MERGE,
        );
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
    },

    async recordNodeGroupEvent(input: GroupEventInput): Promise<void> {
      await recordEvent(deps.kc, { target: groupTarget(input), type: input.type, reason: input.reason, message: input.message });
    },

    /** Drops the group's gauges (the group is gone). */
    async clearNodeGroupMetrics(ref: GroupRef): Promise<void> {
      const label = nodeGroupLabel(ref.namespace, ref.name);
      for (const state of VPSIENODE_PHASES) metrics.nodeGroupNodes.remove({ nodegroup: label, state });
      metrics.nodeGroupDesired.remove({ nodegroup: label });
      metrics.nodeGroupSize.remove({ nodegroup: label });
    },

    /** Counts a scale operation the group carried out (scale_up_total / scale_down_total, nodes_removed_total). */
    async countScaleOperation(input: GroupRef & { direction: 'up' | 'down'; nodes: number }): Promise<void> {
      const label = nodeGroupLabel(input.namespace, input.name);
      // Once per operation: a retry of this activity (same workflow run and activity id) counts nothing again.
      if (!countedOperations.first(operationKey(input))) return;
      if (input.direction === 'up') {
        metrics.scaleUpTotal.inc({ nodegroup: label });
      } else {
        metrics.scaleDownTotal.inc({ nodegroup: label });
        metrics.nodesRemoved.inc({ nodegroup: label }, input.nodes);
      }
    },
  };
}

export type NodeGroupActivities = ReturnType<typeof createNodeGroupActivities>;
