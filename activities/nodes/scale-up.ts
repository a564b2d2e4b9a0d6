/**
 * Activities of the scale-up workflow (workflows/nodes/scale-up.ts):
 * - `scaleUpSnapshot`: reads the cluster (pods, nodes, NodeGroups, VPSieNodes, DaemonSets) and the
 *   VPSie plan catalogue and turns them into the planner's input (`toPlannerInput`, pure, tested).
 * - `requestGroupScaleUp`: sends one group's share of the decision to its NodeGroup entity workflow
 *   as the `nodeGroupScaleUp` update (updates cannot be sent from workflow code). The request id is
 *   derived from the scale-up workflow id and the group, so a retried activity is applied once.
 * - `recordScaleUpOutcome`: Events on each pod (`TriggeredScaleUp` / `NotTriggerScaleUp` + reason +
 *   numbers) and on each NodeGroup (the summary: the NodeGroup CRD has no status field for a
 *   decision record), and the scale-up metrics.
 * - `observePendingToCreate`: waits (bounded, heartbeating) for the first created VPSieNode to reach
 *   Provisioning (its lifecycle called VPSie's create) and records first-signal → create latency.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Plan } from '../../clients/vpsie/schemas';
import { offeringAllocatable, templateLabels } from '../../decision/planner/templates';
import type { ClusterNode, NodeGroup as PlannerGroup, Offering, PlannerInput } from '../../decision/planner/types';
import { nodeFromK8s, podFromK8s } from '../../decision/scheduling/from-k8s';
import type { SimPod } from '../../decision/scheduling/types';
import { LABEL_HOSTNAME, podKey } from '../../decision/scheduling/types';
import type { PodOutcome, ScaleUpRecord } from '../../decision/nodes/scale-up/record';
import {
  GROUP,
  NODEGROUP_KIND,
  NODEGROUP_LABEL,
  NODEGROUP_PLURAL,
  API_VERSION,
  VERSION,
  VPSIENODE_PLURAL,
  safeParseNodeGroup,
  safeParseVPSieNode,
  type NodeGroup,
  type VPSieNode,
  type VPSieNodePhase,
} from '../../lib/crds/autoscaler';
import { recordEvent } from '../../lib/kube/events';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';
import { autoscalerMetrics } from '../../lib/metrics';
import type { OrchestratorDeps } from '../../workers/deps';
import { nodeGroupScaleUpUpdate, nodeGroupWorkflowId, type ScaleUpRequest, type ScaleUpResult } from '../../workflows/nodes/contracts';
import { untilActivityCancelled } from '../../lib/temporal/activity';
import { HELD_PODS_ANNOTATION, TRIGGERED_PODS_ANNOTATION } from './nodegroup';

const MiB = 1024 * 1024;
/** kubelet's default hard eviction threshold (memory.available<100Mi) comes off allocatable. */
export const KUBELET_MEMORY_RESERVE_BYTES = 100 * MiB;
/** kubelet's default nodefs.available<10%: 90% of the disk is allocatable ephemeral storage. */
export const EPHEMERAL_ALLOCATABLE_SHARE = 0.9;
export const MAX_PODS_PER_NODE = 110;

export { HELD_PODS_ANNOTATION, TRIGGERED_PODS_ANNOTATION };

/** VPSieNode phases whose machine is still coming (capacity in flight). */
const IN_FLIGHT_PHASES: ReadonlySet<VPSieNodePhase> = new Set(['Pending', 'Provisioning', 'Provisioned', 'Joining']);
/** Phases that no longer count against a group's size for planning. */
const GONE_PHASES: ReadonlySet<VPSieNodePhase> = new Set(['Deleted', 'Failed']);

// ---- the snapshot and its conversion (pure) ------------------------------------------------------

/** What the snapshot activity read, already parsed (NodeGroups/VPSieNodes with lib/crds). */
export interface RawSnapshot {
  pods: k8s.V1Pod[];
  nodes: k8s.V1Node[];
  nodeGroups: NodeGroup[];
  vpsieNodes: VPSieNode[];
  daemonSets: k8s.V1DaemonSet[];
  /** VPSie plans per datacenter reference (as written in the NodeGroup or the default). */
  plans: Record<string, Plan[]>;
}

export interface SnapshotOptions {
  /** Pods of the batch (uids). Undefined: every unschedulable pending pod (node-pressure batches). */
  podUids?: readonly string[];
  maxClusterNodes: number;
  defaultDatacenter: string;
  defaultOfferings: readonly string[];
  /**
   * Now (ms). With it, pending pods a VPSieNode was created for still count on that node for
   * `NOMINATION_GRACE_MS` after its Node turned Ready — the scheduler may not have bound them yet
   * (its back-off for unschedulable pods), and planning them again would scale up twice.
   */
  nowMs?: number;
}

/** How long pods stay nominated to the just-Ready node created for them. */
export const NOMINATION_GRACE_MS = 60_000;

/** What the workflow needs of each NodeGroup besides the planner's view. */
export interface ScaleUpGroupMeta {
  namespace: string;
  name: string;
  dryRun: boolean;
  scaleUpEnabled: boolean;
  deleting: boolean;
  stabilizationWindowSeconds: number;
  cooldownSeconds: number;
  lastScaleUpTime?: string;
  /** Offerings of spec.offeringIDs (or the defaults) the VPSie catalogue does not know. */
  unknownOfferings: string[];
  /** Planned with (false: left out of planning; see `excludedBecause`). */
  planned: boolean;
  excludedBecause?: 'ScaleUpDisabled' | 'NodeGroupDeleting' | 'NoKnownOffering';
}

export interface ScaleUpSnapshot {
  input: PlannerInput;
  groups: ScaleUpGroupMeta[];
  /** uid of every pending pod in the input, by `namespace/name`. */
  podUids: Record<string, string>;
  /** Batch pods that are no longer pending and unbound (scheduled, deleted, finished). */
  gone: string[];
  /** Pending pods already counted on an in-flight node that was created for them. */
  assigned: { pod: string; node: string }[];
  /** In-flight node name → its VPSieNode (`namespace/name`), to hold pods placed on it. */
  inFlightVpsieNodes: Record<string, string>;
}

function isTerminal(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

export function isUnschedulablePending(p: k8s.V1Pod): boolean {
  if (p.spec?.nodeName || p.metadata?.deletionTimestamp || p.status?.phase !== 'Pending') return false;
  return (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

function nodeIsReady(n: k8s.V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** When the Node's Ready condition last changed (ms), if it says. */
function readyTransition(n: k8s.V1Node): number | undefined {
  const t = (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastTransitionTime;
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isNaN(ms) ? undefined : ms;
}

/** A pod-uid annotation (JSON array of strings); anything else reads as empty. */
function uidList(a: string | undefined): string[] {
  if (!a) return [];
  try {
    const v: unknown = JSON.parse(a);
    return Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : [];
  } catch {
    return [];
  }
}

/** A VPSie plan as a planner offering (allocatable as the kubelet reports it with default eviction thresholds). */
export function planOffering(ref: string, plan: Plan, datacenter: string): Offering {
  const ramBytes = Number(plan.ram) * MiB;
  const diskKi = Number(plan.ssd) * 1024 * 1024;
  const o: Offering = {
    id: ref,
    nickname: plan.nickname,
    cpuMilli: Math.round(Number(plan.cpu) * 1000),
    memoryBytes: Math.max(0, ramBytes - KUBELET_MEMORY_RESERVE_BYTES),
    pods: MAX_PODS_PER_NODE,
    ephemeralStorageBytes: Math.floor(diskKi * EPHEMERAL_ALLOCATABLE_SHARE) * 1024,
    monthlyPrice: Number(plan.price),
    datacenter,
  };
  if (plan.category !== undefined) o.category = plan.category;
  return o;
}

function findPlan(plans: readonly Plan[] | undefined, ref: string): Plan | undefined {
  return plans?.find((p) => p.identifier === ref || p.nickname === ref || (p.id !== undefined && String(p.id) === ref));
}

function datacenterOf(g: NodeGroup, o: SnapshotOptions): string {
  return g.spec.datacenterID ?? o.defaultDatacenter;
}

function daemonSetPod(ds: k8s.V1DaemonSet): SimPod {
  const meta = ds.metadata ?? {};
  return podFromK8s({
    metadata: {
      name: `${meta.name ?? 'daemonset'}-template`,
      namespace: meta.namespace ?? 'default',
      uid: `ds-${meta.uid ?? meta.name ?? ''}`,
      labels: ds.spec?.template.metadata?.labels ?? {},
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: meta.name ?? '', uid: meta.uid ?? '', controller: true }],
    },
    spec: ds.spec?.template.spec ?? { containers: [] },
  });
}

/** Cluster snapshot → planner input (pure). */
export function toPlannerInput(raw: RawSnapshot, o: SnapshotOptions): ScaleUpSnapshot {
  const groups: ScaleUpGroupMeta[] = [];
  const plannerGroups = new Map<string, PlannerGroup>();
  const groupByKey = new Map<string, NodeGroup>();
  const activeByGroup = new Map<string, number>();
  for (const vn of raw.vpsieNodes) {
    if (GONE_PHASES.has(vn.status?.phase ?? 'Pending') || vn.metadata.deletionTimestamp) continue;
    const key = `${vn.metadata.namespace ?? ''}/${vn.spec.nodeGroupName}`;
    activeByGroup.set(key, (activeByGroup.get(key) ?? 0) + 1);
  }
  for (const g of [...raw.nodeGroups].sort((a, b) => cmp(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`))) {
    const namespace = g.metadata.namespace ?? 'default';
    const key = `${namespace}/${g.metadata.name}`;
    groupByKey.set(key, g);
    const dc = datacenterOf(g, o);
    const refs = g.spec.offeringIDs ?? o.defaultOfferings;
    const offerings: Offering[] = [];
    const unknown: string[] = [];
    for (const ref of refs) {
      const plan = findPlan(raw.plans[dc], ref);
      if (plan) offerings.push(planOffering(ref, plan, dc));
      else unknown.push(ref);
    }
    const pg: PlannerGroup = {
      name: g.metadata.name,
      namespace,
      minNodes: g.spec.minNodes,
      maxNodes: g.spec.maxNodes,
      currentNodes: activeByGroup.get(key) ?? 0,
      offerings,
      allowMixedInstances: g.spec.allowMixedInstances,
      priority: g.spec.priority,
      labels: { ...(g.spec.labels ?? {}) },
      taints: (g.spec.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
    };
    if (g.spec.preferredInstanceType !== undefined) pg.preferredInstanceType = g.spec.preferredInstanceType;
    plannerGroups.set(key, pg);
    const deleting = g.metadata.deletionTimestamp !== undefined;
    const meta: ScaleUpGroupMeta = {
      namespace,
      name: g.metadata.name,
      dryRun: g.spec.dryRun,
      scaleUpEnabled: g.spec.scaleUpPolicy.enabled,
      deleting,
      stabilizationWindowSeconds: g.spec.scaleUpPolicy.stabilizationWindowSeconds,
      cooldownSeconds: g.spec.scaleUpPolicy.cooldownSeconds,
      unknownOfferings: unknown,
      planned: false,
    };
    if (g.status?.lastScaleUpTime !== undefined) meta.lastScaleUpTime = g.status.lastScaleUpTime;
    if (deleting) meta.excludedBecause = 'NodeGroupDeleting';
    else if (!meta.scaleUpEnabled) meta.excludedBecause = 'ScaleUpDisabled';
    else if (offerings.length === 0) meta.excludedBecause = 'NoKnownOffering';
    else meta.planned = true;
    groups.push(meta);
  }

  // Pods: bound ones by node; pending unschedulable ones of the batch.
  const live = raw.pods.filter((p) => !isTerminal(p));
  const boundByNode = new Map<string, SimPod[]>();
  for (const p of live) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    const l = boundByNode.get(n) ?? [];
    l.push(podFromK8s(p));
    boundByNode.set(n, l);
  }

  // Existing nodes: Ready ones with their pods.
  const existingNodes: ClusterNode[] = [];
  const existingByName = new Map<string, ClusterNode>();
  const readySince = new Map<string, number>(); // node name → when it turned Ready (ms)
  for (const n of raw.nodes) {
    if (!nodeIsReady(n) || n.metadata?.deletionTimestamp) continue;
    const sn = nodeFromK8s(n);
    const cn: ClusterNode = { node: sn, pods: boundByNode.get(sn.name) ?? [] };
    const g = n.metadata?.labels?.[NODEGROUP_LABEL];
    if (g !== undefined) cn.nodeGroup = g;
    existingNodes.push(cn);
    existingByName.set(sn.name, cn);
    const since = readyTransition(n);
    if (since !== undefined) readySince.set(sn.name, since);
  }

  // Where pending pods are expected. In flight: VPSieNodes whose Node is not Ready yet, with the
  // capacity their offering will bring. Nominating: VPSieNodes whose Node turned Ready less than
  // NOMINATION_GRACE_MS ago — the scheduler may not have bound the pods made for them yet (its
  // back-off for unschedulable pods), and planning those again would scale up twice.
  const inFlightNodes: ClusterNode[] = [];
  const inFlightVpsieNodes: Record<string, string> = {};
  const expecting = new Map<string, { node: ClusterNode; inFlight: boolean }>(); // VPSieNode key → its node
  for (const vn of raw.vpsieNodes) {
    const phase = vn.status?.phase ?? 'Pending';
    if (vn.metadata.deletionTimestamp || GONE_PHASES.has(phase)) continue;
    const vnKey = `${vn.metadata.namespace ?? ''}/${vn.metadata.name}`;
    const nodeName = vn.status?.nodeName ?? vn.spec.hostname ?? vn.metadata.name;
    const ready = existingByName.get(nodeName);
    if (ready) {
      const since = readySince.get(nodeName) ?? Date.parse(vn.status?.phaseTimes?.ready ?? '');
      if (o.nowMs !== undefined && !Number.isNaN(since) && o.nowMs - since <= NOMINATION_GRACE_MS) expecting.set(vnKey, { node: ready, inFlight: false });
      continue;
    }
    if (!IN_FLIGHT_PHASES.has(phase) && phase !== 'Ready') continue;
    const key = `${vn.metadata.namespace ?? ''}/${vn.spec.nodeGroupName}`;
    const pg = plannerGroups.get(key);
    if (!pg) continue;
    const offering =
      pg.offerings.find((x) => x.id === vn.spec.offeringID || x.nickname === vn.spec.offeringID) ??
      (() => {
        const plan = findPlan(raw.plans[vn.spec.datacenterID], vn.spec.offeringID);
        return plan ? planOffering(vn.spec.offeringID, plan, vn.spec.datacenterID) : undefined;
      })();
    if (!offering) continue;
    const cn: ClusterNode = {
      node: {
        name: nodeName,
        labels: { ...templateLabels(pg, offering), [LABEL_HOSTNAME]: nodeName },
        taints: pg.taints ?? [],
        allocatable: offeringAllocatable(offering),
      },
      pods: [...(boundByNode.get(nodeName) ?? [])],
      nodeGroup: vn.spec.nodeGroupName,
    };
    inFlightNodes.push(cn);
    inFlightVpsieNodes[nodeName] = vnKey;
    expecting.set(vnKey, { node: cn, inFlight: true });
  }

  // Which VPSieNodes each pending pod was planned onto (created for it, or held for it when it fit
  // their room), most recent claim first.
  const claims = new Map<string, string[]>(); // pod uid → VPSieNode keys
  const byNewest = [...raw.vpsieNodes].sort((a, b) => cmp(b.metadata.creationTimestamp ?? '', a.metadata.creationTimestamp ?? ''));
  for (const vn of byNewest) {
    const vnKey = `${vn.metadata.namespace ?? ''}/${vn.metadata.name}`;
    for (const annotation of [TRIGGERED_PODS_ANNOTATION, HELD_PODS_ANNOTATION]) {
      for (const u of uidList(vn.metadata.annotations?.[annotation])) claims.set(u, [...(claims.get(u) ?? []), vnKey]);
    }
  }
  /** The node a pending pod is expected on: a claim in flight first, else a nominating one. */
  const expectedNode = (uid: string): ClusterNode | undefined => {
    const keys = claims.get(uid) ?? [];
    const found = keys.map((k) => expecting.get(k)).filter((e): e is { node: ClusterNode; inFlight: boolean } => e !== undefined);
    return (found.find((e) => e.inFlight) ?? found[0])?.node;
  };

  const batch = o.podUids ? new Set(o.podUids) : undefined;
  const pending: SimPod[] = [];
  const podUids: Record<string, string> = {};
  const assigned: { pod: string; node: string }[] = [];
  const seen = new Set<string>();
  for (const p of live) {
    const uid = p.metadata?.uid ?? '';
    const unbound = !p.spec?.nodeName && p.status?.phase === 'Pending' && !p.metadata?.deletionTimestamp;
    const inBatch = batch ? batch.has(uid) : isUnschedulablePending(p);
    if (inBatch && !(batch ? unbound : true)) continue;
    if (!inBatch && !unbound) continue;
    const on = expectedNode(uid);
    // A pending pod of another batch takes the room of the node it is expected on, whether or not
    // this run decides anything about it.
    if (!inBatch) {
      if (on) on.pods = [...on.pods, { ...podFromK8s(p), nodeName: on.node.name }];
      continue;
    }
    seen.add(uid);
    const sp = podFromK8s(p);
    podUids[podKey(sp)] = uid;
    if (on) {
      on.pods = [...on.pods, { ...sp, nodeName: on.node.name }];
      assigned.push({ pod: podKey(sp), node: on.node.name });
      continue;
    }
    pending.push(sp);
  }
  const gone = batch ? [...batch].filter((u) => !seen.has(u)).sort() : [];
  pending.sort((a, b) => cmp(podKey(a), podKey(b)));
  assigned.sort((a, b) => cmp(a.pod, b.pod));

  const input: PlannerInput = {
    pendingPods: pending,
    existingNodes,
    inFlightNodes,
    nodeGroups: groups.filter((m) => m.planned).map((m) => plannerGroups.get(`${m.namespace}/${m.name}`)!),
    daemonSetPods: raw.daemonSets.map(daemonSetPod),
    maxClusterNodes: o.maxClusterNodes,
    enforceMinNodes: false,
  };
  return { input, groups, podUids, gone, assigned, inFlightVpsieNodes };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- activities ------------------------------------------------------------------------------

export interface SnapshotRequest {
  workflowId: string;
  podUids?: string[];
}

export interface GroupScaleUpRequest {
  namespace: string;
  name: string;
  /** With `podUidsByNode`: the pods each new VPSieNode is created annotated with. */
  request: ScaleUpRequest;
}

export interface HoldPodsRequest {
  /** Per in-flight VPSieNode (`namespace/name`): uids of pending pods a run found room for on it. */
  holds: { vpsieNode: string; podUids: string[] }[];
}

/** At most this many uids are kept per VPSieNode (newest last); older ones are bound or gone. */
export const MAX_HELD_PODS = 512;

export interface ObserveLatencyRequest {
  workflowId: string;
  firstSignalAt: string;
  vpsieNodes: { namespace: string; name: string }[];
  /** Give up after this long (the lifecycle may be slow or failing; the histogram is not a gate). */
  timeoutSeconds?: number;
}

/** Pod-event reasons (closed set). */
export const POD_EVENT_REASONS = ['TriggeredScaleUp', 'NotTriggerScaleUp'] as const;
/** NodeGroup-event reasons of the scale-up (closed set). */
export const NODEGROUP_SCALEUP_EVENT_REASONS = ['TriggeredScaleUp', 'ScaleUpRefused', 'ScaleUpFailed', 'ScaleUpDryRun'] as const;

export function createScaleUpActivities(deps: OrchestratorDeps) {
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const apps = deps.kc.makeApiClient(k8s.AppsV1Api);
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  const log = logger('scale-up-activities');
  const watchNs = deps.config.WATCH_NAMESPACE;

  async function listCustom(plural: string): Promise<unknown[]> {
    const list = (
      watchNs
        ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: watchNs, plural })
        : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
    ) as { items?: unknown[] };
    return list.items ?? [];
  }

  return {
    /** Reads the cluster and the VPSie catalogue; returns the planner input for the batch. */
    async scaleUpSnapshot(req: SnapshotRequest): Promise<ScaleUpSnapshot> {
      const [pods, nodes, ngRaw, vnRaw, dss] = await Promise.all([
        core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
        core.listNode(),
        listCustom(NODEGROUP_PLURAL),
        listCustom(VPSIENODE_PLURAL),
        apps.listDaemonSetForAllNamespaces(),
      ]);
      const nodeGroups: NodeGroup[] = [];
      for (const o of ngRaw) {
        const r = safeParseNodeGroup(o);
        if (r.ok) nodeGroups.push(r.value);
        else log.warn('skipping an invalid NodeGroup', { workflowId: req.workflowId, error: r.error.message });
      }
      const vpsieNodes: VPSieNode[] = [];
      for (const o of vnRaw) {
        const r = safeParseVPSieNode(o);
        if (r.ok) vpsieNodes.push(r.value);
      }
      const dcs = new Set<string>([deps.config.DEFAULT_DATACENTER]);
      for (const g of nodeGroups) if (g.spec.datacenterID) dcs.add(g.spec.datacenterID);
      for (const v of vpsieNodes) dcs.add(v.spec.datacenterID);
      const plans: Record<string, Plan[]> = {};
      for (const dc of dcs) {
        try {
          plans[dc] = await deps.vpsie.listAllPlans(dc);
        } catch (err) {
          // An unknown datacenter leaves its groups without offerings (reported); other errors retry.
          if ((err as { type?: string }).type === 'not_found') plans[dc] = [];
          else throw err;
        }
      }
      const snap = toPlannerInput(
        { pods: pods.items, nodes: nodes.items, nodeGroups, vpsieNodes, daemonSets: dss.items, plans },
        {
          ...(req.podUids ? { podUids: req.podUids } : {}),
          maxClusterNodes: deps.config.MAX_CLUSTER_NODES,
          defaultDatacenter: deps.config.DEFAULT_DATACENTER,
          defaultOfferings: deps.config.DEFAULT_OFFERINGS,
          nowMs: Date.now(),
        },
      );
      log.info('scale-up snapshot', {
        workflowId: req.workflowId,
        pendingPods: snap.input.pendingPods.length,
        gone: snap.gone.length,
        existingNodes: snap.input.existingNodes.length,
        inFlightNodes: snap.input.inFlightNodes.length,
        nodeGroups: snap.input.nodeGroups.length,
      });
      return snap;
    },

    /** One group's share of the decision, as an update on its NodeGroup workflow (idempotent by request id). */
    async requestGroupScaleUp(req: GroupScaleUpRequest): Promise<ScaleUpResult> {
      const id = nodeGroupWorkflowId(req.namespace, req.name);
      try {
        const handle = deps.temporal.workflow.getHandle(id);
        const result = await untilActivityCancelled(deps.temporal, () =>
          handle.executeUpdate(nodeGroupScaleUpUpdate, { args: [req.request], updateId: req.request.requestId }),
        );
        log.info('scale-up request applied', {
          nodegroup: `${req.namespace}/${req.name}`,
          requestId: req.request.requestId,
          created: result.created.length,
          refused: result.refused?.reason,
        });
        return result;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          // The NodeGroup watcher starts the entity workflow; until it runs, retry.
          throw ApplicationFailure.retryable(`NodeGroup workflow ${id} is not running`, 'NodeGroupWorkflowNotRunning');
        }
        throw err;
      }
    },

    /**
     * Remembers on each in-flight VPSieNode the pending pods a run placed in its spare room (no new
     * node for them), so a later run does not place other pods in the same room. Read-modify-write
     * with the object's resourceVersion; a conflict is read again. Idempotent (a set union).
     */
    async holdPodsOnInFlightNodes(req: HoldPodsRequest): Promise<number> {
      let held = 0;
      for (const h of req.holds) {
        const [namespace, name] = h.vpsieNode.split('/') as [string, string];
        for (let attempt = 0; ; attempt++) {
          let obj: { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } };
          try {
            obj = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: VPSIENODE_PLURAL, name })) as typeof obj;
          } catch (err) {
            if (apiStatus(err) === 404) break;
            throw err;
          }
          const before = uidList(obj.metadata?.annotations?.[HELD_PODS_ANNOTATION]);
          const merged = [...before.filter((u) => !h.podUids.includes(u)), ...h.podUids].slice(-MAX_HELD_PODS);
          if (merged.length === before.length && merged.every((u, i) => u === before[i])) break;
          try {
            await custom.patchNamespacedCustomObject(
              {
                group: GROUP,
                version: VERSION,
                namespace,
                plural: VPSIENODE_PLURAL,
                name,
                body: { metadata: { resourceVersion: obj.metadata?.resourceVersion, annotations: { [HELD_PODS_ANNOTATION]: JSON.stringify(merged) } } },
              },
              k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
            );
            held += h.podUids.length;
            break;
          } catch (err) {
            const code = apiStatus(err);
            if (code === 404) break;
            if (code === 409 && attempt < 10) continue;
            throw err;
          }
        }
      }
      if (held > 0) log.info('pods held on in-flight nodes', { pods: held, vpsieNodes: req.holds.map((x) => x.vpsieNode) });
      return held;
    },

    /** Events on pods and NodeGroups, and the scale-up metrics, from the decision record. */
    async recordScaleUpOutcome(record: ScaleUpRecord): Promise<void> {
      const started = Date.now();
      const byGroup = new Map<string, number>();
      let none = 0;
      for (const p of record.pods) {
        if (p.outcome === 'NotTriggerScaleUp') {
          const label = p.group ?? 'none';
          if (label === 'none') none++;
          else byGroup.set(label, (byGroup.get(label) ?? 0) + 1);
        }
      }
      for (const [g, n] of byGroup) metrics.unschedulablePods.set({ nodegroup: g }, n);
      metrics.unschedulablePods.set({ nodegroup: 'none' }, none);
      for (const g of record.groups) {
        if (g.dryRun) continue;
        if (g.created.length > 0) {
          metrics.scaleUpTotal.inc({ nodegroup: g.group });
          metrics.nodesCreated.inc({ nodegroup: g.group }, g.created.length);
        }
        if (g.error !== undefined || (g.refused && g.created.length === 0)) metrics.scaleUpFailures.inc({ nodegroup: g.group });
        if (!record.groups.some((x) => x.group === g.group && x !== g)) {
          if (!byGroup.has(g.group)) metrics.unschedulablePods.set({ nodegroup: g.group }, 0);
        }
      }
      // NodeGroup Events: the summary of the group's part of the decision.
      for (const g of record.groups) {
        const [namespace, name] = g.group.split('/') as [string, string];
        const offerings = g.offerings.map((o) => `${o.count}x ${o.nickname}`).join(', ');
        let reason: (typeof NODEGROUP_SCALEUP_EVENT_REASONS)[number];
        let message: string;
        if (g.dryRun) {
          reason = 'ScaleUpDryRun';
          message = `dry run: would add ${g.newNodes} node(s) (${offerings}, $${g.monthlyPrice}/month) for ${g.pods.length} pod(s)`;
        } else if (g.error !== undefined) {
          reason = 'ScaleUpFailed';
          message = `scale-up of ${g.newNodes} node(s) (${offerings}) failed: ${g.error}`;
        } else if (g.created.length === 0) {
          reason = 'ScaleUpRefused';
          message = `refused ${g.refused?.count ?? g.newNodes} node(s): ${g.refused?.reason ?? 'unknown'}: ${g.refused?.message ?? ''}`;
        } else {
          reason = 'TriggeredScaleUp';
          message = `added ${g.created.length}/${g.newNodes} node(s) (${offerings}, $${g.monthlyPrice}/month) for ${g.pods.length} pod(s); group ${g.currentNodes}->${g.currentNodes + g.created.length} of max ${g.maxNodes}${g.refused ? `; refused ${g.refused.count}: ${g.refused.reason}` : ''}; request ${g.requestId}`;
        }
        await recordEvent(deps.kc, {
          target: { apiVersion: API_VERSION, kind: NODEGROUP_KIND, name, namespace },
          type: reason === 'TriggeredScaleUp' || reason === 'ScaleUpDryRun' ? 'Normal' : 'Warning',
          reason,
          message,
          dedupeKey: `scaleup-${g.requestId}`,
        });
      }
      // Pod Events (bounded concurrency).
      const events = record.pods.filter((p): p is Exclude<PodOutcome, { outcome: 'FitsExisting' }> => p.outcome !== 'FitsExisting');
      const queue = [...events];
      const worker = async () => {
        for (let p = queue.shift(); p; p = queue.shift()) {
          const [namespace, name] = p.pod.split('/') as [string, string];
          const numbers = Object.entries(p.numbers)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ');
          await recordEvent(deps.kc, {
            target: { apiVersion: 'v1', kind: 'Pod', name, namespace, ...(p.uid ? { uid: p.uid } : {}) },
            type: p.outcome === 'TriggeredScaleUp' ? 'Normal' : 'Warning',
            reason: p.outcome,
            message:
              p.outcome === 'TriggeredScaleUp'
                ? `${p.message} [${record.workflowId}]${numbers ? ` (${numbers})` : ''}`
                : `pod didn't trigger scale-up: ${p.reason}: ${p.message}${numbers ? ` (${numbers})` : ''} [${record.workflowId}]`,
            dedupeKey: `${p.outcome}-${p.reason}`,
          });
          Context.current().heartbeat();
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      log.info('scale-up decision recorded', {
        workflowId: record.workflowId,
        pods: record.pods.length,
        triggered: record.pods.filter((p) => p.outcome === 'TriggeredScaleUp').length,
        notTriggered: events.length - record.pods.filter((p) => p.outcome === 'TriggeredScaleUp').length,
        groups: record.groups.map((g) => ({ group: g.group, newNodes: g.newNodes, created: g.created.length, refused: g.refused?.reason, error: g.error })),
        monthlyPrice: record.monthlyPrice,
        ms: Date.now() - started,
      });
    },

    /**
     * Waits until the first of the created VPSieNodes is Provisioning (its lifecycle asked VPSie
     * for the machine) and observes first signal → that time. Returns the seconds, or undefined
     * when no node got there in time.
     */
    async observePendingToCreate(req: ObserveLatencyRequest): Promise<number | undefined> {
      const first = Date.parse(req.firstSignalAt);
      const deadline = Date.now() + (req.timeoutSeconds ?? 120) * 1000;
      while (Date.now() < deadline) {
        let earliest: number | undefined;
        for (const ref of req.vpsieNodes) {
          try {
            const o = await custom.getNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ref.namespace,
              plural: VPSIENODE_PLURAL,
              name: ref.name,
            });
            const r = safeParseVPSieNode(o);
            if (!r.ok) continue;
            const t = r.value.status?.phaseTimes?.provisioning;
            if (t !== undefined) earliest = Math.min(earliest ?? Infinity, Date.parse(t));
          } catch {
            // gone or unreadable: skip
          }
        }
        if (earliest !== undefined) {
          const seconds = Math.max(0, (earliest - first) / 1000);
          metrics.pendingToCreateSeconds.observe(seconds);
          log.info('first signal to VPSie create', { workflowId: req.workflowId, seconds });
          return seconds;
        }
        heartbeat();
        await new Promise((r) => setTimeout(r, 100));
      }
      return undefined;
    },
  };
}

export type ScaleUpActivities = ReturnType<typeof createScaleUpActivities>;
