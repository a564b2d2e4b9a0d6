/**
 * Mutable working state of one scale-down decision: the simulated cluster, PDB allowances left,
 * per-group counts. Everything cumulative across the nodes approved in one decision lives here.
 */
import type { Resources } from '../../scheduling/types';
import { compareStrings, podKey } from '../../scheduling/types';
import { budgetCount, insideAnyWindow } from './budget';
import { scaleDownGates } from './cooldown';
import { countsForUtilization } from './pods';
import { allowedDisruptions, pdbKey, pdbMatches } from './pdb';
import type { Blocker } from './reasons';
import { ClusterSim } from './simulate';
import type { GroupVerdict, PodMove, ScaleDownGroup, ScaleDownInput, ScaleDownNode, ScaleDownPod } from './types';
import { SCALE_UP_COOLDOWN_REASON } from '../nodegroup/refusals';

export interface GroupCtx {
  group: ScaleDownGroup;
  gates: Blocker[];
  budget: number;
  inFlight: number;
  approved: number;
  verdict: GroupVerdict;
}

function zero(): Resources {
  return { cpuMilli: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0 };
}

/** Input lists in canonical order, so reordered input gives the same decision. */
export function canonicalInput(input: ScaleDownInput): ScaleDownInput {
  const byName = <T extends { name: string; namespace: string }>(a: T, b: T) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name);
  return {
    ...input,
    nodes: [...input.nodes]
      .map((n) => ({ ...n, pods: [...n.pods].sort((a, b) => compareStrings(podKey(a), podKey(b))) }))
      .sort((a, b) => compareStrings(a.node.name, b.node.name)),
    pdbs: [...input.pdbs].sort(byName),
    groups: [...input.groups].sort(byName),
    inFlightRemovals: [...input.inFlightRemovals].sort(
      (a, b) =>
        compareStrings(a.nodeGroup, b.nodeGroup) || compareStrings(a.nodeName ?? '', b.nodeName ?? '') || compareStrings(a.vpsieNode ?? '', b.vpsieNode ?? ''),
    ),
  };
}

export class DecisionContext {
  readonly input: ScaleDownInput;
  readonly sim: ClusterSim;
  readonly groups = new Map<string, GroupCtx>();
  readonly nodes = new Map<string, ScaleDownNode>();
  readonly removing = new Set<string>();
  readonly pdbInitial = new Map<string, number>();
  readonly pdbLeft = new Map<string, number>();
  /** Every pod of the snapshot by key. */
  readonly podsByKey = new Map<string, ScaleDownPod>();
  /** Node name -> group name, for nodes and planned replacements. */
  readonly nodeGroupOf = new Map<string, string>();

  constructor(input: ScaleDownInput) {
    this.input = input;
    for (const n of input.nodes) {
      this.nodes.set(n.node.name, n);
      if (n.nodeGroup !== undefined) this.nodeGroupOf.set(n.node.name, n.nodeGroup);
      for (const p of n.pods) this.podsByKey.set(podKey(p), p);
    }
    for (const r of input.inFlightRemovals) if (r.nodeName !== undefined) this.removing.add(r.nodeName);
    for (const p of input.pdbs) {
      const allowed = allowedDisruptions(p);
      this.pdbInitial.set(pdbKey(p), allowed);
      this.pdbLeft.set(pdbKey(p), allowed);
    }
    for (const g of input.groups) {
      if (this.groups.has(g.name)) continue; // node labels carry only the name: the first namespace wins
      const inFlight = input.inFlightRemovals.filter((r) => r.nodeGroup === g.name).length;
      const budget = budgetCount(g.spec.disruptionBudget.maxUnavailable, g.currentNodes);
      this.groups.set(g.name, {
        group: g,
        gates: groupGates(g, input.now),
        budget,
        inFlight,
        approved: 0,
        verdict: {
          nodeGroup: g.name,
          namespace: g.namespace,
          blockers: [],
          currentNodes: g.currentNodes,
          minNodes: g.spec.minNodes,
          inFlightRemovals: inFlight,
          budget,
          approved: 0,
          dryRun: g.spec.dryRun,
          utilization: { cpu: 0, memory: 0 },
        },
      });
    }
    this.sim = new ClusterSim(input.nodes);
    // Removals under way: their nodes are no destination; their pods are assumed to land first.
    for (const name of [...this.removing].sort(compareStrings)) {
      if (!this.nodes.has(name)) continue;
      const pods = this.sim.movablePods(name);
      const r = this.sim.tryMove(new Set([name]), pods);
      // Their evictions are accounted by the eviction API as they happen (PDB status), not here.
      this.sim.apply([name], r.moves, this.podsByKey);
    }
  }

  groupOf(n: ScaleDownNode): GroupCtx | undefined {
    return n.nodeGroup === undefined ? undefined : this.groups.get(n.nodeGroup);
  }

  /** Nodes of the group left after in-flight and already approved removals. */
  remainingNodes(g: GroupCtx): number {
    return g.group.currentNodes - g.inFlight - g.approved;
  }

  /** PodDisruptionBudget rule for evicting `pods`, counted against what earlier approvals used. */
  pdbRule(pods: readonly ScaleDownPod[]): { blockers: Blocker[]; usage: Map<string, number> } {
    const blockers: Blocker[] = [];
    const usage = new Map<string, number>();
    for (const pod of pods) {
      const matching = this.input.pdbs.filter((p) => pdbMatches(p, pod));
      if (matching.length > 1) {
        const key = podKey(pod);
        blockers.push({
          reason: 'PodDisruptionBudget',
          pod: key,
          message: `pod ${key} is covered by ${matching.length} PodDisruptionBudgets (${matching.map(pdbKey).join(', ')}); the eviction API refuses it`,
          numbers: { pdbs: matching.length },
        });
      }
      for (const p of matching) usage.set(pdbKey(p), (usage.get(pdbKey(p)) ?? 0) + 1);
    }
    for (const [key, needed] of [...usage.entries()].sort((a, b) => compareStrings(a[0], b[0]))) {
      const left = this.pdbLeft.get(key) ?? 0;
      if (needed > left) {
        const allowed = this.pdbInitial.get(key) ?? 0;
        blockers.push({
          reason: 'PodDisruptionBudget',
          pdb: key,
          message: `PodDisruptionBudget ${key} allows ${left} more eviction(s) (${allowed} allowed, ${allowed - left} used by this decision), ${needed} needed`,
          numbers: { disruptionsAllowed: allowed, usedByDecision: allowed - left, needed },
        });
      }
    }
    return { blockers, usage };
  }

  consumePdbs(usage: ReadonlyMap<string, number>): void {
    for (const [key, n] of usage) this.pdbLeft.set(key, (this.pdbLeft.get(key) ?? 0) - n);
  }

  /** minNodes and disruption budget for removing `count` more nodes and adding `adding`. */
  groupArithmetic(g: GroupCtx, count: number, adding = 0): Blocker[] {
    const out: Blocker[] = [];
    const remaining = this.remainingNodes(g);
    if (remaining - count + adding < g.group.spec.minNodes) {
      out.push({
        reason: 'MinNodesReached',
        message: `group ${g.group.name} would have ${remaining - count + adding} node(s), minNodes is ${g.group.spec.minNodes}`,
        numbers: {
          currentNodes: g.group.currentNodes,
          inFlightRemovals: g.inFlight,
          approved: g.approved,
          removing: count,
          adding,
          minNodes: g.group.spec.minNodes,
        },
      });
    }
    if (g.inFlight + g.approved + count > g.budget) {
      out.push({
        reason: 'DisruptionBudgetExhausted',
        message: `disruption budget of group ${g.group.name} is ${g.budget} node(s) (maxUnavailable ${String(g.group.spec.disruptionBudget.maxUnavailable)}); ${g.inFlight} in flight, ${g.approved} approved, ${count} more asked`,
        numbers: { budget: g.budget, inFlightRemovals: g.inFlight, approved: g.approved, removing: count },
      });
    }
    return out;
  }

  /**
   * WouldTriggerScaleUp: the group's requested share over its surviving nodes after `leaving` go and
   * `moves` land must stay under the scale-up thresholds, or the group would grow right back.
   */
  scaleUpRule(
    g: GroupCtx,
    leaving: ReadonlySet<string>,
    moves: readonly PodMove[],
    extra: readonly { allocatable: Resources; requested: Resources }[] = [],
  ): Blocker[] {
    const policy = g.group.spec.scaleUpPolicy;
    if (!policy.enabled) return [];
    const alloc = zero();
    const req = zero();
    const byNode = new Map<string, ScaleDownPod[]>();
    for (const m of moves) {
      const p = this.podsByKey.get(m.pod);
      if (p) byNode.set(m.node, [...(byNode.get(m.node) ?? []), p]);
    }
    for (const e of this.sim.liveEntries()) {
      if (leaving.has(e.node.name) || this.nodeGroupOf.get(e.node.name) !== g.group.name) continue;
      if (this.removing.has(e.node.name)) continue;
      alloc.cpuMilli += e.node.allocatable.cpuMilli;
      alloc.memoryBytes += e.node.allocatable.memoryBytes;
      for (const p of [...e.pods, ...(byNode.get(e.node.name) ?? [])]) {
        if (!countsForUtilization(p)) continue;
        req.cpuMilli += p.requests.cpuMilli;
        req.memoryBytes += p.requests.memoryBytes;
      }
      if (e.extraRequested) {
        req.cpuMilli += e.extraRequested.cpuMilli;
        req.memoryBytes += e.extraRequested.memoryBytes;
      }
    }
    for (const x of extra) {
      alloc.cpuMilli += x.allocatable.cpuMilli;
      alloc.memoryBytes += x.allocatable.memoryBytes;
      req.cpuMilli += x.requested.cpuMilli;
      req.memoryBytes += x.requested.memoryBytes;
    }
    if (alloc.cpuMilli <= 0 && alloc.memoryBytes <= 0) return [];
    const source = g.group.spec.scaleDownPolicy.utilizationSource ?? 'requests';
    const out: Blocker[] = [];
    if (source !== 'usage') {
      const cpu = alloc.cpuMilli > 0 ? req.cpuMilli / alloc.cpuMilli : 0;
      const mem = alloc.memoryBytes > 0 ? req.memoryBytes / alloc.memoryBytes : 0;
      if (cpu * 100 >= policy.cpuThreshold || mem * 100 >= policy.memoryThreshold)
        out.push({
          reason: 'WouldTriggerScaleUp',
          message: `after the removal group ${g.group.name} would request ${pct(cpu)}% cpu / ${pct(mem)}% memory of its nodes, scale-up thresholds are ${policy.cpuThreshold}% / ${policy.memoryThreshold}%`,
          numbers: { cpuPercent: pct(cpu), memoryPercent: pct(mem), cpuThreshold: policy.cpuThreshold, memoryThreshold: policy.memoryThreshold },
        });
    }
    if (source !== 'requests') {
      // The usage-driven scale-up (issue #17) would add a node back if the group's used share over
      // its surviving nodes reached the thresholds. What the leaving nodes use is assumed to land
      // on the group (conservative). Skipped when a node's usage is unknown (it is then no candidate).
      const used = this.groupUsageAfter(g, leaving);
      if (used) {
        const cpu = alloc.cpuMilli > 0 ? used.cpuMilli / alloc.cpuMilli : 0;
        const mem = alloc.memoryBytes > 0 ? used.memoryBytes / alloc.memoryBytes : 0;
        if (cpu * 100 > policy.cpuThreshold || mem * 100 > policy.memoryThreshold)
          out.push({
            reason: 'WouldTriggerScaleUp',
            message: `after the removal group ${g.group.name} would use (metrics-server) ${pct(cpu)}% cpu / ${pct(mem)}% memory of its nodes, scale-up thresholds are ${policy.cpuThreshold}% / ${policy.memoryThreshold}%`,
            numbers: { cpuPercent: pct(cpu), memoryPercent: pct(mem), cpuThreshold: policy.cpuThreshold, memoryThreshold: policy.memoryThreshold, usage: 1 },
          });
      }
    }
    return out;
  }

  /** Current usage of the group's live nodes plus the leaving ones; undefined when a node's usage is unknown. */
  private groupUsageAfter(g: GroupCtx, leaving: ReadonlySet<string>): { cpuMilli: number; memoryBytes: number } | undefined {
    let cpuMilli = 0;
    let memoryBytes = 0;
    const live = new Set<string>();
    for (const e of this.sim.liveEntries()) {
      const name = e.node.name;
      live.add(name);
      if (this.nodeGroupOf.get(name) !== g.group.name || (this.removing.has(name) && !leaving.has(name))) continue;
      const u = this.nodes.get(name)?.usage;
      if (!u) return undefined;
      cpuMilli += u.cpuMilli;
      memoryBytes += u.memoryBytes;
    }
    for (const name of leaving) {
      if (live.has(name)) continue;
      const u = this.nodes.get(name)?.usage;
      if (!u) return undefined;
      cpuMilli += u.cpuMilli;
      memoryBytes += u.memoryBytes;
    }
    return { cpuMilli, memoryBytes };
  }
}

export function pct(share: number): number {
  return Math.round(share * 10000) / 100;
}

/** Gates that block every node of the group: deletion, policy, scale-up in progress, cooldowns, windows. */
export function groupGates(g: ScaleDownGroup, now: number): Blocker[] {
  const out: Blocker[] = [];
  if (g.deleting) out.push({ reason: 'NodeGroupDeleting', message: `group ${g.name} is being deleted`, numbers: {} });
  if (!g.spec.scaleDownPolicy.enabled) {
    out.push({ reason: 'ScaleDownDisabled', message: `spec.scaleDownPolicy.enabled is false for group ${g.name}`, numbers: {} });
  }
  const history: { scaleUpInProgress?: boolean; lastScaleUpAt?: number; lastFailedDrainAt?: number } = {};
  if (g.scaleUpInProgress !== undefined) history.scaleUpInProgress = g.scaleUpInProgress;
  if (g.lastScaleUpAt !== undefined) history.lastScaleUpAt = g.lastScaleUpAt;
  if (g.lastFailedDrainAt !== undefined) history.lastFailedDrainAt = g.lastFailedDrainAt;
  for (const b of scaleDownGates(history, g.spec.scaleDownPolicy, now)) {
    if (b.reason === SCALE_UP_COOLDOWN_REASON) continue; // a scale-up gate: scaleDownGates never returns it
    out.push({ reason: b.reason, message: b.message, numbers: b.numbers });
  }
  if (g.coordinationHoldUntil !== undefined && now < g.coordinationHoldUntil) {
    const left = Math.ceil((g.coordinationHoldUntil - now) / 1000);
    out.push({
      reason: 'RightsizingCoordinationDelay',
      message: `${g.coordinationHoldBy ?? 'a VPANAPCoordination'} made a rightsizing update: scale-down and consolidation wait napActionDelay (${left}s left)`,
      numbers: { remainingSeconds: left },
    });
  }
  if (!insideAnyWindow(g.spec.disruptionBudget.windows, now)) {
    out.push({
      reason: 'OutsideDisruptionWindow',
      message: `now is outside every disruption window of group ${g.name}`,
      numbers: { windows: g.spec.disruptionBudget.windows?.length ?? 0 },
    });
  }
  return out;
}
