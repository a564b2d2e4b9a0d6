/**
 * The scale-up snapshot: what the snapshot activity read of the cluster (pods, nodes, NodeGroups,
 * VPSieNodes, DaemonSets) and of the VPSie catalogue, turned into the planner's input — which pods
 * are in the batch, which nodes (existing, in flight, just Ready) they may land on, which groups may
 * grow with which offerings, and why a group is left out. Pure: `nowMs` is an argument.
 */
import type * as k8s from '@kubernetes/client-node';
import { findPlan, planOffering, type VPSiePlanFigures } from '../../planner/vpsie-plans';
import { offeringAllocatable, templateLabels } from '../../planner/templates';
import type { ClusterNode, NodeGroup as PlannerGroup, Offering, PlannerInput } from '../../planner/types';
import { nodeFromK8s, nodeReady, podFromK8s, volumeLookup, type VolumeLookup } from '../../scheduling/from-k8s';
import { hostPortConflict, resourcesFit, sumRequests, usedHostPorts } from '../../scheduling/predicates';
import type { SimPod } from '../../scheduling/types';
import { compareStrings, LABEL_HOSTNAME, podKey } from '../../scheduling/types';
import { HELD_PODS_ANNOTATION, NODEGROUP_LABEL, TRIGGERED_PODS_ANNOTATION } from '../../../lib/crds/autoscaler/constants';
import type { NodeGroup } from '../../../lib/crds/autoscaler/nodegroup';
import type { VPSieNode } from '../../../lib/crds/autoscaler/vpsienode';
import { GONE_PHASES, IN_FLIGHT_PHASES } from '../lifecycle/phases';

/** What the snapshot activity read, already parsed (NodeGroups/VPSieNodes with lib/crds). */
export interface RawSnapshot {
  pods: k8s.V1Pod[];
  nodes: k8s.V1Node[];
  nodeGroups: NodeGroup[];
  vpsieNodes: VPSieNode[];
  daemonSets: k8s.V1DaemonSet[];
  /** VPSie plans per datacenter reference (as written in the NodeGroup or the default). */
  plans: Record<string, VPSiePlanFigures[]>;
  /** PersistentVolumeClaims and PersistentVolumes: a pod's bound PVs constrain where it can go. */
  persistentVolumeClaims?: k8s.V1PersistentVolumeClaim[];
  persistentVolumes?: k8s.V1PersistentVolume[];
}

export interface SnapshotOptions {
  /** Pods of the batch (uids). Undefined: every unschedulable pending pod (node-pressure batches). */
  podUids?: readonly string[];
  maxClusterNodes: number;
  defaultDatacenter: string;
  defaultOfferings: readonly string[];
  /**
   * Now (ms). With it, pending pods a VPSieNode was created for still count on that node for a
   * while after its Node turned Ready (`nominationGraceMs`) — the scheduler may not have bound them
   * yet (its back-off for unschedulable pods), and planning them again would scale up twice.
   */
  nowMs?: number;
}

/** How long pods stay nominated to the just-Ready node created for them, when the group does not say. */
export const NOMINATION_GRACE_MS = 60_000;
/** The shortest nomination: kube-scheduler's longest back-off for an unschedulable pod (podMaxBackoffSeconds). */
export const MIN_NOMINATION_GRACE_MS = 10_000;

/**
 * The nomination grace of a group: its `scaleUpPolicy.stabilizationWindowSeconds` (the time it
 * waits for the scheduler before it scales up again for the same pods), at least the scheduler's
 * longest back-off.
 */
export function nominationGraceMs(g: NodeGroup | undefined): number {
  if (g === undefined) return NOMINATION_GRACE_MS;
  return Math.max(MIN_NOMINATION_GRACE_MS, g.spec.scaleUpPolicy.stabilizationWindowSeconds * 1000);
}

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
  /**
   * Pending pods (of the batch or not) whose claim on a node was released because the node's bound
   * pods left no room for them: planned again (those of the batch) instead of waiting on the node.
   */
  released: { pod: string; node: string }[];
  /** In-flight node name → its VPSieNode (`namespace/name`), to hold pods placed on it. */
  inFlightVpsieNodes: Record<string, string>;
  /**
   * Ready nodes under MemoryPressure / DiskPressure / PIDPressure: counted with the NoSchedule taint
   * the node lifecycle controller gives them, so they are no room for pending pods that do not
   * tolerate it (sorted by node).
   */
  pressure: { node: string; conditions: string[] }[];
}

function isTerminal(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

export function isUnschedulablePending(p: k8s.V1Pod): boolean {
  if (p.spec?.nodeName || p.metadata?.deletionTimestamp || p.status?.phase !== 'Pending') return false;
  return (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

/** When the Node's Ready condition last changed (ms), if it says. */
function readyTransition(n: k8s.V1Node): number | undefined {
  const t = (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.lastTransitionTime;
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isNaN(ms) ? undefined : ms;
}

/** A pod-uid annotation (JSON array of strings); anything else reads as empty. */
export function uidList(a: string | undefined): string[] {
  if (!a) return [];
  try {
    const v: unknown = JSON.parse(a);
    return Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : [];
  } catch {
    return [];
  }
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
  const offeringsByGroup = new Map<string, Record<string, number>>();
  for (const vn of raw.vpsieNodes) {
    if (GONE_PHASES.has(vn.status?.phase ?? 'Pending') || vn.metadata.deletionTimestamp) continue;
    const key = `${vn.metadata.namespace ?? ''}/${vn.spec.nodeGroupName}`;
    activeByGroup.set(key, (activeByGroup.get(key) ?? 0) + 1);
    const counts = offeringsByGroup.get(key) ?? {};
    counts[vn.spec.offeringID] = (counts[vn.spec.offeringID] ?? 0) + 1;
    offeringsByGroup.set(key, counts);
  }
  for (const g of [...raw.nodeGroups].sort((a, b) =>
    compareStrings(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`),
  )) {
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
    pg.preferredTolerancePercent = g.spec.preferredInstanceTolerancePercent;
    const existing = offeringsByGroup.get(key);
    if (existing) pg.existingOfferings = existing;
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
  const volumes: VolumeLookup | undefined =
    raw.persistentVolumeClaims && raw.persistentVolumes ? volumeLookup(raw.persistentVolumeClaims, raw.persistentVolumes) : undefined;
  const boundByNode = new Map<string, SimPod[]>();
  for (const p of live) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    const l = boundByNode.get(n) ?? [];
    l.push(podFromK8s(p, volumes));
    boundByNode.set(n, l);
  }

  // Existing nodes: Ready ones with their pods.
  const existingNodes: ClusterNode[] = [];
  const existingByName = new Map<string, ClusterNode>();
  const readySince = new Map<string, number>(); // node name → when it turned Ready (ms)
  const pressure: { node: string; conditions: string[] }[] = [];
  for (const n of raw.nodes) {
    if (!nodeReady(n) || n.metadata?.deletionTimestamp) continue;
    const sn = nodeFromK8s(n);
    if (sn.pressure) pressure.push({ node: sn.name, conditions: [...sn.pressure] });
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
  // the group's nomination grace ago — the scheduler may not have bound the pods made for them yet (its
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
      const grace = nominationGraceMs(groupByKey.get(`${vn.metadata.namespace ?? ''}/${vn.spec.nodeGroupName}`));
      if (o.nowMs !== undefined && !Number.isNaN(since) && o.nowMs - since <= grace) expecting.set(vnKey, { node: ready, inFlight: false });
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
  const byNewest = [...raw.vpsieNodes].sort((a, b) => compareStrings(b.metadata.creationTimestamp ?? '', a.metadata.creationTimestamp ?? ''));
  for (const vn of byNewest) {
    const vnKey = `${vn.metadata.namespace ?? ''}/${vn.metadata.name}`;
    for (const annotation of [TRIGGERED_PODS_ANNOTATION, HELD_PODS_ANNOTATION]) {
      for (const u of uidList(vn.metadata.annotations?.[annotation])) claims.set(u, [...(claims.get(u) ?? []), vnKey]);
    }
  }
  /**
   * Whether `node` (its bound pods and the claims counted so far) still has room for `pod`: its
   * resources, and its host ports (the scheduler may have bound a pod holding the same port there).
   */
  const roomFor = (node: ClusterNode, pod: SimPod): boolean =>
    resourcesFit(pod.requests, node.node.allocatable, sumRequests(node.pods)) &&
    (pod.hostPorts === undefined || hostPortConflict(pod, usedHostPorts(node.pods)) === undefined);
  /**
   * The node a pending pod is expected on: a claim in flight first, else a nominating one — the
   * first of them that still has room for it. `claimed` without `on`: every node that promised it
   * room has given that room away (the scheduler bound other pods there).
   */
  const expectedNode = (uid: string, pod: SimPod): { on?: ClusterNode; claimed?: ClusterNode } => {
    const keys = claims.get(uid) ?? [];
    const found = keys.map((k) => expecting.get(k)).filter((e): e is { node: ClusterNode; inFlight: boolean } => e !== undefined);
    const ordered = [...found.filter((e) => e.inFlight), ...found.filter((e) => !e.inFlight)];
    const on = ordered.find((e) => roomFor(e.node, pod))?.node;
    return { ...(on ? { on } : {}), ...(ordered[0] ? { claimed: ordered[0].node } : {}) };
  };

  const released: { pod: string; node: string }[] = [];

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
    const sp = podFromK8s(p, volumes);
    // The room promised to a pod is real only while the node still has it: the scheduler binds
    // whichever pending pods it likes to a node that turned Ready, so a node created for pod A may be
    // full of pods B and C. A claim whose room is gone is released at once (the pod is planned in
    // this run), instead of counting on the node until its nomination lapses.
    const { on, claimed } = expectedNode(uid, sp);
    if (claimed !== undefined && on === undefined) released.push({ pod: podKey(sp), node: claimed.node.name });
    // A pending pod of another batch takes the room of the node it is expected on, whether or not
    // this run decides anything about it.
    if (!inBatch) {
      if (on) on.pods = [...on.pods, { ...sp, nodeName: on.node.name }];
      continue;
    }
    seen.add(uid);
    podUids[podKey(sp)] = uid;
    if (on) {
      on.pods = [...on.pods, { ...sp, nodeName: on.node.name }];
      assigned.push({ pod: podKey(sp), node: on.node.name });
      continue;
    }
    pending.push(sp);
  }
  const gone = batch ? [...batch].filter((u) => !seen.has(u)).sort() : [];
  pending.sort((a, b) => compareStrings(podKey(a), podKey(b)));
  assigned.sort((a, b) => compareStrings(a.pod, b.pod));
  released.sort((a, b) => compareStrings(a.pod, b.pod));

  const input: PlannerInput = {
    pendingPods: pending,
    existingNodes,
    inFlightNodes,
    nodeGroups: groups.filter((m) => m.planned).map((m) => plannerGroups.get(`${m.namespace}/${m.name}`)!),
    daemonSetPods: raw.daemonSets.map(daemonSetPod),
    maxClusterNodes: o.maxClusterNodes,
    enforceMinNodes: false,
  };
  pressure.sort((a, b) => compareStrings(a.node, b.node));
  return { input, groups, podUids, gone, assigned, released, inFlightVpsieNodes, pressure };
}
