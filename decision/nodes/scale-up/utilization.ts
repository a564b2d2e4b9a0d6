/**
 * Utilisation-driven scale-up (document 001 §2.2.1 scaleUpPolicy.cpuThreshold / memoryThreshold,
 * §2.4.1 "metrics-based: every 60 seconds for utilization-based scaling"), pure and JSON-only so the
 * scale-down loop keeps its state in workflow state (one loop, one sampling of the cluster).
 *
 * What "utilisation" is: the group's used share of allocatable, summed over its Ready nodes
 * (Σ usage / Σ allocatable, per resource) from metrics-server's NodeMetrics. A weighted group
 * average, like the HPA's average utilisation over pods: a group is hot when its capacity as a
 * whole is used above the threshold, not when one node is (one hot node is a placement matter,
 * which one more node does not fix). Requests are not utilisation here: pods that do not fit are
 * the pending-pod scale-up's, which this never delays.
 *
 * The window: the group must be above the threshold (cpu OR memory, strictly) at every evaluation
 * for `scaleUpPolicy.stabilizationWindowSeconds`, as written (no cap), before ONE node is asked for.
 * A below-threshold evaluation, an evaluation where some Ready node's usage is unknown (not scraped
 * yet), or a gap longer than `maxGapSeconds` between evaluations restarts it. Any scale-up of the
 * group (this one or pending pods') starts a new window: no second node before the next full window
 * after the group changed. maxNodes, a scale-up still in flight and `scaleUpPolicy.cooldownSeconds`
 * hold the node back (the window keeps running); the NodeGroup's admission enforces them again.
 */
import type { ScaleDownGroup, ScaleDownNode } from '../scale-down/types';
import { countsForUtilization } from '../scale-down/pods';
import { plannerGroup } from '../scale-down/methods/consolidation';
import { planScaleUp } from '../../planner/planner';
import type { SimPod } from '../../scheduling/types';

/** What the scale-down loop's observation reports per NodeGroup (one evaluation). */
export interface GroupUsageSample {
  /** `<namespace>/<name>` */
  group: string;
  namespace: string;
  name: string;
  enabled: boolean;
  deleting: boolean;
  /** Percent. */
  cpuThreshold: number;
  memoryThreshold: number;
  windowSeconds: number;
  cooldownSeconds: number;
  currentNodes: number;
  maxNodes: number;
  /** A node of the group is being provisioned or the group's desired count is above its nodes. */
  scaleUpInProgress: boolean;
  /** status.lastScaleUpTime (epoch ms). */
  lastScaleUpAt?: number;
  readyNodes: number;
  /** Ready nodes whose usage metrics-server reported. */
  usageNodes: number;
  /** Σ usage / Σ allocatable over the Ready nodes (0..1+), when every Ready node's usage is known. */
  cpu?: number;
  memory?: number;
}

export interface GroupWindow {
  /** Start of the current run of above-threshold evaluations (epoch ms); absent when the last one was not above. */
  aboveSince?: number;
  /** Time of the last evaluation. */
  lastAt: number;
  /** Time this loop last asked for a node for the group. */
  lastRequestAt?: number;
}

export interface ScaleUpWindows {
  version: 1;
  maxGapSeconds: number;
  groups: Record<string, GroupWindow>;
}

export function createScaleUpWindows(maxGapSeconds = 300): ScaleUpWindows {
  return { version: 1, maxGapSeconds, groups: {} };
}

/** Strictly above a threshold, cpu OR memory; undefined when usage is unknown. */
export function aboveThreshold(s: Pick<GroupUsageSample, 'cpu' | 'memory' | 'cpuThreshold' | 'memoryThreshold' | 'readyNodes'>): boolean | undefined {
  if (s.cpu === undefined || s.memory === undefined || s.readyNodes === 0) return undefined;
  return s.cpu * 100 > s.cpuThreshold || s.memory * 100 > s.memoryThreshold;
}

/** Records one evaluation of every group at `now`; groups not sampled are forgotten. Returns a new state. */
export function observeGroups(state: ScaleUpWindows, samples: readonly GroupUsageSample[], now: number): ScaleUpWindows {
  const groups: Record<string, GroupWindow> = {};
  for (const s of [...samples].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0))) {
    const prev = state.groups[s.group];
    const gap = prev !== undefined && (now - prev.lastAt > state.maxGapSeconds * 1000 || now < prev.lastAt);
    const w: GroupWindow = { lastAt: now };
    if (prev?.lastRequestAt !== undefined) w.lastRequestAt = prev.lastRequestAt;
    if (aboveThreshold(s) === true) w.aboveSince = prev?.aboveSince !== undefined && !gap ? prev.aboveSince : now;
    groups[s.group] = w;
  }
  return { ...state, groups };
}

/** The loop asked for a node at `now`: a new window starts. */
export function requested(state: ScaleUpWindows, group: string, now: number): ScaleUpWindows {
  const prev = state.groups[group];
  if (!prev) return state;
  return { ...state, groups: { ...state.groups, [group]: { ...prev, lastRequestAt: now } } };
}

/** Typed outcome of one evaluation of a group (closed set). */
export const UTILIZATION_SCALE_UP_REASONS = [
  /** Above a threshold for the whole window: one node is asked for. */
  'UtilizationAboveThreshold',
  /** Above a threshold, not yet for the whole window. */
  'StabilizationWindowPending',
  /** Not above either threshold. */
  'BelowThreshold',
  /** Some Ready node's usage is unknown (metrics-server has not scraped it, or the metrics API is unavailable). */
  'UsageUnknown',
  'ScaleUpDisabled',
  'NodeGroupDeleting',
  'MaxNodesReached',
  /** A node of the group is still being provisioned: its capacity is coming. */
  'ScaleUpInProgress',
  /** Less than scaleUpPolicy.cooldownSeconds since the group's last scale-up. */
  'ScaleUpCooldown',
] as const;
export type UtilizationScaleUpReason = (typeof UTILIZATION_SCALE_UP_REASONS)[number];

export interface UtilizationVerdict {
  group: string;
  /** True: ask the group for one node now. */
  scaleUp: boolean;
  reason: UtilizationScaleUpReason;
  message: string;
  numbers: Record<string, number>;
}

function pct(x: number | undefined): number {
  return x === undefined ? -1 : Math.round(x * 10000) / 100;
}

/**
 * The verdict of one group at `now` from its sample and window (after `observeGroups` at `now`).
 * The window counts from the latest of: the start of the above-threshold run, the group's last
 * scale-up, this loop's last request.
 */
export function evaluateGroup(state: ScaleUpWindows, s: GroupUsageSample, now: number): UtilizationVerdict {
  const w = state.groups[s.group];
  const numbers: Record<string, number> = {
    cpuPercent: pct(s.cpu),
    memoryPercent: pct(s.memory),
    cpuThreshold: s.cpuThreshold,
    memoryThreshold: s.memoryThreshold,
    windowSeconds: s.windowSeconds,
    readyNodes: s.readyNodes,
  };
  const verdict = (reason: UtilizationScaleUpReason, message: string, scaleUp = false): UtilizationVerdict => ({
    group: s.group,
    scaleUp,
    reason,
    message,
    numbers,
  });
  const usage = `${numbers.cpuPercent}% cpu / ${numbers.memoryPercent}% memory used over ${s.readyNodes} Ready node(s), thresholds ${s.cpuThreshold}% / ${s.memoryThreshold}%`;
  if (s.deleting) return verdict('NodeGroupDeleting', `NodeGroup ${s.group} is being deleted`);
  if (!s.enabled) return verdict('ScaleUpDisabled', 'spec.scaleUpPolicy.enabled is false');
  const above = aboveThreshold(s);
  if (above === undefined) {
    return verdict(
      'UsageUnknown',
      s.readyNodes === 0
        ? 'no Ready node to measure'
        : `usage known for ${s.usageNodes} of ${s.readyNodes} Ready node(s) (metrics-server has not reported the others): the window restarts`,
    );
  }
  if (!above || !w || w.aboveSince === undefined) return verdict('BelowThreshold', usage);
  const start = Math.max(w.aboveSince, s.lastScaleUpAt ?? -Infinity, w.lastRequestAt ?? -Infinity);
  const observed = Math.max(0, Math.floor((now - start) / 1000));
  numbers.observedSeconds = observed;
  if (observed < s.windowSeconds) return verdict('StabilizationWindowPending', `${usage}; above for ${observed}s of the ${s.windowSeconds}s window`);
  if (s.currentNodes >= s.maxNodes)
    return verdict('MaxNodesReached', `${usage} for ${observed}s, but the group has ${s.currentNodes} node(s), maxNodes ${s.maxNodes}`);
  if (s.scaleUpInProgress) return verdict('ScaleUpInProgress', `${usage} for ${observed}s; a node of the group is still being provisioned`);
  if (s.cooldownSeconds > 0 && s.lastScaleUpAt !== undefined && now < s.lastScaleUpAt + s.cooldownSeconds * 1000) {
    numbers.cooldownRemainingSeconds = Math.ceil((s.lastScaleUpAt + s.cooldownSeconds * 1000 - now) / 1000);
    return verdict('ScaleUpCooldown', `${usage} for ${observed}s; scale-up cooldown ${s.cooldownSeconds}s (${numbers.cooldownRemainingSeconds}s left)`);
  }
  return verdict('UtilizationAboveThreshold', `${usage} for ${observed}s (window ${s.windowSeconds}s): one more node`, true);
}

/** Every group's verdict at `now`, sorted by group. */
export function evaluateGroups(state: ScaleUpWindows, samples: readonly GroupUsageSample[], now: number): UtilizationVerdict[] {
  return [...samples].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)).map((s) => evaluateGroup(state, s, now));
}

/** A node's part of a group sample: allocatable, Ready, usage (base units) when known. */
export interface NodeUsageInput {
  ready: boolean;
  allocatable: { cpuMilli: number; memoryBytes: number };
  usage?: { cpuMilli: number; memoryBytes: number };
}

/** Σ usage / Σ allocatable over the Ready nodes; shares absent when a Ready node's usage is unknown. */
export function groupUsage(nodes: readonly NodeUsageInput[]): Pick<GroupUsageSample, 'readyNodes' | 'usageNodes' | 'cpu' | 'memory'> {
  let readyNodes = 0;
  let usageNodes = 0;
  let allocCpu = 0;
  let allocMem = 0;
  let useCpu = 0;
  let useMem = 0;
  for (const n of nodes) {
    if (!n.ready) continue;
    readyNodes++;
    allocCpu += n.allocatable.cpuMilli;
    allocMem += n.allocatable.memoryBytes;
    if (!n.usage) continue;
    usageNodes++;
    useCpu += n.usage.cpuMilli;
    useMem += n.usage.memoryBytes;
  }
  const out: Pick<GroupUsageSample, 'readyNodes' | 'usageNodes' | 'cpu' | 'memory'> = { readyNodes, usageNodes };
  if (readyNodes > 0 && usageNodes === readyNodes) {
    out.cpu = allocCpu > 0 ? Math.round((useCpu / allocCpu) * 1e6) / 1e6 : 0;
    out.memory = allocMem > 0 ? Math.round((useMem / allocMem) * 1e6) / 1e6 : 0;
  }
  return out;
}

/** The per-group samples of one observation: each group's nodes (by the NodeGroup label) and scale-up policy. */
export function groupUsageSamples(nodes: readonly ScaleDownNode[], groups: readonly ScaleDownGroup[]): GroupUsageSample[] {
  const byGroup = new Map<string, ScaleDownNode[]>();
  for (const n of nodes) {
    if (n.nodeGroup === undefined) continue;
    const l = byGroup.get(n.nodeGroup);
    if (l) l.push(n);
    else byGroup.set(n.nodeGroup, [n]);
  }
  const seen = new Set<string>();
  const out: GroupUsageSample[] = [];
  for (const g of groups) {
    if (seen.has(g.name)) continue; // node labels carry only the name: the first namespace wins (as in the decision)
    seen.add(g.name);
    const up = g.spec.scaleUpPolicy;
    const u = groupUsage(
      (byGroup.get(g.name) ?? []).map((n) => ({
        ready: n.ready ?? true,
        allocatable: n.node.allocatable,
        ...(n.usage ? { usage: n.usage } : {}),
      })),
    );
    const s: GroupUsageSample = {
      group: `${g.namespace}/${g.name}`,
      namespace: g.namespace,
      name: g.name,
      enabled: up.enabled,
      deleting: g.deleting === true,
      cpuThreshold: up.cpuThreshold,
      memoryThreshold: up.memoryThreshold,
      windowSeconds: up.stabilizationWindowSeconds,
      cooldownSeconds: up.cooldownSeconds,
      currentNodes: g.currentNodes,
      maxNodes: g.spec.maxNodes,
      scaleUpInProgress: g.scaleUpInProgress === true,
      ...u,
    };
    if (g.lastScaleUpAt !== undefined && Number.isFinite(g.lastScaleUpAt)) s.lastScaleUpAt = g.lastScaleUpAt;
    out.push(s);
  }
  return out;
}

/**
 * The offering of a utilisation-driven node: the planner's choice for the group (its priced
 * offerings, preferred type, mixed-instances policy) for one probe pod as large as the group's
 * largest pod (cpu and memory separately), with the DaemonSet pods of the group's node that runs most
 * of them: the cheapest offering on which any of the group's pods can run. Without pods, or when no
 * offering holds the probe: the cheapest offering.
 */
export function utilizationOffering(nodes: readonly ScaleDownNode[], g: ScaleDownGroup): { offeringID?: string; message: string } {
  let cpu = 0;
  let mem = 0;
  let daemonSetPods: SimPod[] = [];
  for (const n of nodes) {
    if (n.nodeGroup !== g.name) continue;
    const ds = n.pods.filter((p) => p.ownerKind === 'DaemonSet' && countsForUtilization(p));
    if (ds.length > daemonSetPods.length)
      daemonSetPods = ds.map((p) => {
        const { nodeName: _n, ...rest } = p;
        return rest;
      });
    for (const p of n.pods) {
      if (p.ownerKind === 'DaemonSet' || !countsForUtilization(p)) continue;
      cpu = Math.max(cpu, p.requests.cpuMilli);
      mem = Math.max(mem, p.requests.memoryBytes);
    }
  }
  const probe = (c: number, m: number): SimPod => ({
    name: 'utilization-probe',
    namespace: g.namespace,
    uid: 'utilization-probe',
    labels: {},
    requests: { cpuMilli: c, memoryBytes: m, pods: 1, ephemeralStorageBytes: 0 },
    tolerations: [{ operator: 'Exists' }],
  });
  const pg = plannerGroup(g);
  const plan = (p: SimPod) =>
    planScaleUp({
      pendingPods: [p],
      existingNodes: [],
      inFlightNodes: [],
      // maxNodes is the NodeGroup admission's to enforce: here only the offering is chosen.
      nodeGroups: [{ ...pg, currentNodes: 0, maxNodes: Math.max(1, pg.maxNodes) }],
      daemonSetPods,
      maxClusterNodes: 1_000_000,
      enforceMinNodes: false,
    });
  const mi = (b: number): number => Math.round(b / 1048576);
  let d = plan(probe(cpu, mem));
  let note = `largest pod of the group ${cpu}m cpu / ${mi(mem)}Mi memory`;
  if (d.groups.length === 0) {
    d = plan(probe(0, 0));
    note = `no offering holds the group's largest pod (${cpu}m / ${mi(mem)}Mi): the cheapest offering`;
  }
  const o = d.groups[0]?.offerings[0];
  if (!o) return { message: `no offering of the group can be planned (${(g.offerings ?? []).length} priced)` };
  return { offeringID: o.offeringId, message: `offering ${o.nickname} (${o.monthlyPrice}/month; ${note})` };
}
