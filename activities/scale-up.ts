/**
 * Activities of the scale-up workflow (workflows/scale-up.ts):
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
import type { Plan } from '../clients/vpsie/schemas';
import { offeringAllocatable, templateLabels } from '../decision/planner/templates';
import type { ClusterNode, NodeGroup as PlannerGroup, Offering, PlannerInput } from '../decision/planner/types';
import { nodeFromK8s, podFromK8s } from '../decision/scheduling/from-k8s';
import type { SimPod } from '../decision/scheduling/types';
import { LABEL_HOSTNAME, podKey } from '../decision/scheduling/types';
import type { PodOutcome, ScaleUpRecord } from '../decision/scaleup/record';
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
} from '../lib/crds';
import { recordEvent } from '../lib/events';
import { logger } from '../lib/log';
import { autoscalerMetrics } from '../lib/metrics';
import type { OrchestratorDeps } from '../workers/deps';
import { nodeGroupScaleUpUpdate, nodeGroupWorkflowId, type ScaleUpRequest, type ScaleUpResult } from '../workflows/contracts';
import { untilActivityCancelled } from '../lib/temporal';

const MiB = 1024 * 1024;
/** kubelet's default hard eviction threshold (memory.available<100Mi) comes off allocatable. */
export const KUBELET_MEMORY_RESERVE_BYTES = 100 * MiB;
/** kubelet's default nodefs.available<10%: 90% of the disk is allocatable ephemeral storage. */
export const EPHEMERAL_ALLOCATABLE_SHARE = 0.9;
export const MAX_PODS_PER_NODE = 110;

/**
 * On a VPSieNode created by a scale-up: the uids of the pending pods it was planned for (JSON array).
 * A later snapshot counts those pods on the in-flight node, so they never cause a second scale-up
 * and their room is not handed to other pods.
 */
export const TRIGGERED_PODS_ANNOTATION = `${GROUP}/scale-up-pods` as const;
/** On a VPSieNode created by a scale-up: the scale-up workflow run (decision record) that asked for it. */
export const TRIGGERED_BY_ANNOTATION = `${GROUP}/scale-up-run` as const;

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
  // Pending pods a VPSieNode in flight was created for (annotation) ride on that node.
  const expectedOn = new Map<string, string>(); // pod uid → VPSieNode key
  for (const vn of raw.vpsieNodes) {
    const a = vn.metadata.annotations?.[TRIGGERED_PODS_ANNOTATION];
    if (!a) continue;
    try {
      const uids: unknown = JSON.parse(a);
      if (Array.isArray(uids)) for (const u of uids) if (typeof u === 'string') expectedOn.set(u, `${vn.metadata.namespace ?? ''}/${vn.metadata.name}`);
    } catch {
      // not ours / damaged: ignore
    }
  }
  const riding = new Map<string, SimPod[]>(); // VPSieNode key → pending pods expected on it
  const ridingUid = new Map<string, string>(); // pod key → uid
  const batch = o.podUids ? new Set(o.podUids) : undefined;
  const pending: SimPod[] = [];
  const podUids: Record<string, string> = {};
  const seen = new Set<string>();
  for (const p of live) {
    const uid = p.metadata?.uid ?? '';
    if (batch && !batch.has(uid)) continue;
    const unbound = !p.spec?.nodeName && p.status?.phase === 'Pending' && !p.metadata?.deletionTimestamp;
    if (!(batch ? unbound : isUnschedulablePending(p))) continue;
    seen.add(uid);
    const sp = podFromK8s(p);
    const on = expectedOn.get(uid);
    if (on !== undefined) {
      const l = riding.get(on) ?? [];
      l.push(sp);
      riding.set(on, l);
      ridingUid.set(podKey(sp), uid);
      continue;
    }
    pending.push(sp);
    podUids[podKey(sp)] = uid;
  }
  const assigned: { pod: string; node: string }[] = [];
  const gone = batch ? [...batch].filter((u) => !seen.has(u)).sort() : [];

  // Existing nodes: Ready ones with their pods.
  const existingNodes: ClusterNode[] = [];
  const readyNames = new Set<string>();
  for (const n of raw.nodes) {
    if (!nodeIsReady(n) || n.metadata?.deletionTimestamp) continue;
    const sn = nodeFromK8s(n);
    readyNames.add(sn.name);
    const cn: ClusterNode = { node: sn, pods: boundByNode.get(sn.name) ?? [] };
    const g = n.metadata?.labels?.[NODEGROUP_LABEL];
    if (g !== undefined) cn.nodeGroup = g;
    existingNodes.push(cn);
  }

  // In flight: VPSieNodes whose Node is not Ready yet, with the capacity their offering will bring.
  const inFlightNodes: ClusterNode[] = [];
  for (const vn of raw.vpsieNodes) {
    if (vn.metadata.deletionTimestamp) continue;
    const phase = vn.status?.phase ?? 'Pending';
    const nodeName = vn.status?.nodeName ?? vn.spec.hostname ?? vn.metadata.name;
    if (!(IN_FLIGHT_PHASES.has(phase) || (phase === 'Ready' && !readyNames.has(nodeName)))) continue;
    if (readyNames.has(nodeName)) continue;
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
    const expected = riding.get(`${vn.metadata.namespace ?? ''}/${vn.metadata.name}`) ?? [];
    riding.delete(`${vn.metadata.namespace ?? ''}/${vn.metadata.name}`);
    for (const sp of expected) {
      assigned.push({ pod: podKey(sp), node: nodeName });
      podUids[podKey(sp)] = ridingUid.get(podKey(sp)) ?? '';
    }
    inFlightNodes.push({
      node: {
        name: nodeName,
        labels: { ...templateLabels(pg, offering), [LABEL_HOSTNAME]: nodeName },
        taints: pg.taints ?? [],
        allocatable: offeringAllocatable(offering),
      },
      pods: [...(boundByNode.get(nodeName) ?? []), ...expected.map((sp) => ({ ...sp, nodeName }))],
      nodeGroup: vn.spec.nodeGroupName,
    });
  }
  // Pods whose node has just turned Ready still count on it (nominated) until the scheduler binds
  // them; the grace period keeps a pod that cannot land there from waiting forever.
  if (o.nowMs !== undefined) {
    const existingByName = new Map(existingNodes.map((n) => [n.node.name, n]));
    for (const vn of raw.vpsieNodes) {
      const key = `${vn.metadata.namespace ?? ''}/${vn.metadata.name}`;
      const expected = riding.get(key);
      if (!expected || vn.metadata.deletionTimestamp || vn.status?.phase !== 'Ready') continue;
      const readyAt = Date.parse(vn.status.phaseTimes?.ready ?? '');
      const node = existingByName.get(vn.status.nodeName ?? vn.spec.hostname ?? vn.metadata.name);
      if (!node || Number.isNaN(readyAt) || o.nowMs - readyAt > NOMINATION_GRACE_MS) continue;
      riding.delete(key);
      for (const sp of expected) {
        assigned.push({ pod: podKey(sp), node: node.node.name });
        podUids[podKey(sp)] = ridingUid.get(podKey(sp)) ?? '';
        node.pods = [...node.pods, { ...sp, nodeName: node.node.name }];
      }
    }
  }
  // Pods whose node is no longer in flight (Ready for a while, failed, gone) are planned like any other.
  for (const l of riding.values()) {
    for (const sp of l) {
      pending.push(sp);
      podUids[podKey(sp)] = ridingUid.get(podKey(sp)) ?? '';
    }
  }
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
  return { input, groups, podUids, gone, assigned };
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
  request: ScaleUpRequest;
  /** Pod uids per planned node, in the order the group creates them (annotated on the VPSieNodes). */
  podUidsByNode?: string[][];
}

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
    const list = (watchNs
      ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: watchNs, plural })
      : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as { items?: unknown[] };
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
        const result = await untilActivityCancelled(deps.temporal, () => handle.executeUpdate(nodeGroupScaleUpUpdate, { args: [req.request], updateId: req.request.requestId }));
        // Remember which pods each new VPSieNode is for (idempotent merge patch).
        await Promise.all(
          result.created.map(async (name, i) => {
            const uids = req.podUidsByNode?.[i];
            if (!uids || uids.length === 0) return;
            try {
              await custom.patchNamespacedCustomObject(
                { group: GROUP, version: VERSION, namespace: req.namespace, plural: VPSIENODE_PLURAL, name, body: { metadata: { annotations: { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(uids), [TRIGGERED_BY_ANNOTATION]: req.request.requestId.slice(0, 253) } } } },
                k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
              );
            } catch (err) {
              log.warn('could not annotate a VPSieNode with its pods', { vpsieNode: `${req.namespace}/${name}`, error: String(err) });
            }
          }),
        );
        log.info('scale-up request applied', { nodegroup: `${req.namespace}/${req.name}`, requestId: req.request.requestId, created: result.created.length, refused: result.refused?.reason, annotated: result.created.filter((_, i) => (req.podUidsByNode?.[i]?.length ?? 0) > 0).length });
        return result;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          // The NodeGroup watcher starts the entity workflow; until it runs, retry.
          throw ApplicationFailure.retryable(`NodeGroup workflow ${id} is not running`, 'NodeGroupWorkflowNotRunning');
        }
        throw err;
      }
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
          const numbers = Object.entries(p.numbers).map(([k, v]) => `${k}=${v}`).join(' ');
          await recordEvent(deps.kc, {
            target: { apiVersion: 'v1', kind: 'Pod', name, namespace, ...(p.uid ? { uid: p.uid } : {}) },
            type: p.outcome === 'TriggeredScaleUp' ? 'Normal' : 'Warning',
            reason: p.outcome,
            message: p.outcome === 'TriggeredScaleUp' ? `${p.message} [${record.workflowId}]${numbers ? ` (${numbers})` : ''}` : `pod didn't trigger scale-up: ${p.reason}: ${p.message}${numbers ? ` (${numbers})` : ''} [${record.workflowId}]`,
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
            const o = await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ref.namespace, plural: VPSIENODE_PLURAL, name: ref.name });
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
