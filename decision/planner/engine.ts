/**
 * The packing engine shared by the cost-directed planner and the first-fit-decreasing baseline.
 *
 * Pods are grouped into equivalence classes (same namespace, labels, requests and constraints): static
 * predicates are evaluated once per class x template / existing node, and every class keeps a pointer
 * past the prefix of nodes that can never accept it again (static or resource misfit, or monotone
 * inter-pod constraints), so first-fit scans stay near-linear.
 */
import { canonicalJson } from '../scheduling/canonical';
import type { DomainHints, FilterFailure } from '../scheduling/predicates';
import { hardSpreadConstraints, resourcesFit, staticFailure } from '../scheduling/predicates';
import type { StateNode } from '../scheduling/state';
import { SchedulingState } from '../scheduling/state';
import type { Resources, SimPod } from '../scheduling/types';
import { compareStrings, LABEL_HOSTNAME, podKey } from '../scheduling/types';
import type { Template } from './templates';
import { buildTemplates, domainHintsFor, newNodeFor, startingClusterNodes } from './templates';
import type { GroupScaleUp, NodeGroup, Placement, PlannedNode, PlannerInput, ScaleUpDecision, UnplacedPod, UnplacedReason } from './types';

export const DEFAULT_HOURS_PER_MONTH = 730;

export type StrategyName = 'cost' | 'ffd';

interface PodClass {
  id: number;
  rep: SimPod;
  /** Static failure per template index (undefined = passes). */
  tmplStatic: (FilterFailure | undefined)[];
  /** Static result per existing-node index, computed lazily (hole = not computed yet). */
  existingStatic: (FilterFailure | 'ok')[];
  /** Largest share of the biggest offering (sort key). */
  size: number;
  hasAnti: boolean;
}

/** Input-derived data shared by every packing run. */
export interface Prepared {
  input: PlannerInput;
  templates: Template[];
  hints: DomainHints;
  /** Schedulable pending pods sorted by key, with their class. */
  pods: { pod: SimPod; key: string; cls: PodClass }[];
  classes: PodClass[];
  /** Pods never planned (DaemonSet pods). */
  skipped: UnplacedPod[];
  /** Label keys any pod's selectors, affinity or topology constraints read. */
  sensitiveKeys: string[];
  existingNames: Set<string>;
}

function zero(): Resources {
  return { cpuMilli: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0 };
}

function requestNumbers(r: Resources): Record<string, number> {
  return {
    cpuMilli: r.cpuMilli,
    memoryBytes: r.memoryBytes,
    ephemeralStorageBytes: r.ephemeralStorageBytes,
  };
}

function collectSensitiveKeys(pods: Iterable<SimPod>, out: Set<string>): void {
  for (const p of pods) {
    for (const k of Object.keys(p.nodeSelector ?? {})) out.add(k);
    for (const t of p.requiredNodeAffinity ?? []) for (const e of t.matchExpressions ?? []) out.add(e.key);
    for (const t of p.podAffinity ?? []) out.add(t.topologyKey);
    for (const t of p.podAntiAffinity ?? []) out.add(t.topologyKey);
    for (const c of p.topologySpreadConstraints ?? []) out.add(c.topologyKey);
  }
}

export function prepare(input: PlannerInput): Prepared {
  const templates = buildTemplates(input);
  const hints = domainHintsFor(input, templates);
  let maxCpu = 1;
  let maxMem = 1;
  for (const t of templates) {
    maxCpu = Math.max(maxCpu, t.allocatable.cpuMilli - t.overhead.cpuMilli);
    maxMem = Math.max(maxMem, t.allocatable.memoryBytes - t.overhead.memoryBytes);
  }
  const skipped: UnplacedPod[] = [];
  const sorted = [...input.pendingPods].map((pod) => ({ pod, key: podKey(pod) })).sort((a, b) => compareStrings(a.key, b.key));
  const classByKey = new Map<string, PodClass>();
  const classes: PodClass[] = [];
  const pods: Prepared['pods'] = [];
  for (const { pod, key } of sorted) {
    if (pod.ownerKind === 'DaemonSet') {
      skipped.push({
        pod: key,
        reason: 'DaemonSetPod',
        message: 'DaemonSet pods follow nodes; their overhead is applied to new nodes instead',
        numbers: requestNumbers(pod.requests),
      });
      continue;
    }
    const ck = canonicalJson({
      ns: pod.namespace,
      l: pod.labels,
      r: pod.requests,
      s: pod.nodeSelector ?? {},
      a: pod.requiredNodeAffinity ?? null,
      t: pod.tolerations ?? [],
      pa: pod.podAffinity ?? [],
      paa: pod.podAntiAffinity ?? [],
      ts: hardSpreadConstraints(pod),
      pv: pod.persistentVolumes ?? [],
      hp: pod.hostPorts ?? [],
    });
    let cls = classByKey.get(ck);
    if (!cls) {
      cls = {
        id: classes.length,
        rep: pod,
        tmplStatic: templates.map((t) => staticFailure(pod, t.probe)),
        existingStatic: [],
        size: Math.max(pod.requests.cpuMilli / maxCpu, pod.requests.memoryBytes / maxMem),
        hasAnti: (pod.podAntiAffinity ?? []).length > 0,
      };
      classByKey.set(ck, cls);
      classes.push(cls);
    }
    pods.push({ pod, key, cls });
  }
  const sensitive = new Set<string>([LABEL_HOSTNAME]);
  collectSensitiveKeys(input.pendingPods, sensitive);
  collectSensitiveKeys(input.daemonSetPods, sensitive);
  for (const n of [...input.existingNodes, ...input.inFlightNodes]) collectSensitiveKeys(n.pods, sensitive);
  const existingNames = new Set<string>();
  for (const n of [...input.existingNodes, ...input.inFlightNodes]) existingNames.add(n.node.name);
  return {
    input,
    templates,
    hints,
    pods,
    classes,
    skipped,
    sensitiveKeys: [...sensitive].sort(compareStrings),
    existingNames,
  };
}

interface ExistingEntry {
  sn: StateNode;
  target: 'existing' | 'inFlight';
}

interface NewNode {
  sn: StateNode;
  template: Template;
  forMinNodes: boolean;
}

interface GroupRuntime {
  group: NodeGroup;
  newCount: number;
  seq: number;
  locked: string | undefined;
  /** Locked by the group's existing nodes (allowMixedInstances=false): right-sizing keeps it. */
  lockedByExisting: boolean;
}

/**
 * The offering id an allowMixedInstances=false group is held to by its existing nodes: the most
 * common offering among them (ties: the lowest reference) that the group still offers.
 */
export function existingLock(group: NodeGroup): string | undefined {
  if (group.allowMixedInstances) return undefined;
  const counts = Object.entries(group.existingOfferings ?? {}).filter(([, n]) => n > 0);
  counts.sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0]));
  for (const [ref] of counts) {
    const o = group.offerings.find((x) => x.id === ref || x.nickname === ref);
    if (o) return o.id;
  }
  return undefined;
}

/** Options of one packing run. */
export interface RunOptions {
  /** Groups whose preferred offering is taken whenever it can host the pod (and kept by right-sizing). */
  preferGroups?: ReadonlySet<NodeGroup>;
}

function fitsEmpty(req: Resources, t: Template): boolean {
  return resourcesFit(req, t.allocatable, t.overhead);
}

/** One packing run with one strategy. */
class Run {
  readonly state: SchedulingState;
  readonly existing: ExistingEntry[] = [];
  readonly newNodes: NewNode[] = [];
  readonly groups: GroupRuntime[];
  private readonly groupByRef = new Map<NodeGroup, GroupRuntime>();
  readonly placements: Placement[] = [];
  clusterNodes: number;
  private readonly ptrExisting: number[];
  private readonly ptrNew: number[];
  /** Remaining demand (cpu, memory, pods) of unplaced pods, for the cost score. */
  private demand = [0, 0, 0];
  private readonly usedNames: Set<string>;

  private readonly preferGroups: ReadonlySet<NodeGroup>;

  constructor(
    private readonly prep: Prepared,
    private readonly strategy: StrategyName,
    options: RunOptions = {},
  ) {
    this.preferGroups = options.preferGroups ?? new Set();
    const input = prep.input;
    this.state = new SchedulingState(prep.hints);
    const sortNodes = <T extends { node: { name: string } }>(l: readonly T[]) => [...l].sort((a, b) => compareStrings(a.node.name, b.node.name));
    for (const n of sortNodes(input.existingNodes)) {
      this.existing.push({ sn: this.state.addNode(n.node, n.pods), target: 'existing' });
    }
    for (const n of sortNodes(input.inFlightNodes)) {
      this.existing.push({ sn: this.state.addNode(n.node, n.pods), target: 'inFlight' });
    }
    this.clusterNodes = startingClusterNodes(input);
    this.groups = input.nodeGroups.map((group) => {
      const locked = existingLock(group);
      return { group, newCount: 0, seq: 0, locked, lockedByExisting: locked !== undefined };
    });
    for (const g of this.groups) this.groupByRef.set(g.group, g);
    this.ptrExisting = prep.classes.map(() => 0);
    this.ptrNew = prep.classes.map(() => 0);
    this.usedNames = new Set(prep.existingNames);
    for (const { pod } of prep.pods) {
      this.demand[0] += pod.requests.cpuMilli;
      this.demand[1] += pod.requests.memoryBytes;
      this.demand[2] += Math.max(1, pod.requests.pods);
    }
  }

  private runtime(t: Template): GroupRuntime {
    return this.groupByRef.get(t.group) as GroupRuntime;
  }

  private groupHasRoom(g: GroupRuntime): boolean {
    return g.group.currentNodes + g.newCount < g.group.maxNodes;
  }

  private nextName(g: GroupRuntime): string {
    let name: string;
    do {
      g.seq++;
      name = `${g.group.name}-new-${g.seq}`;
    } while (this.usedNames.has(name));
    return name;
  }

  private peekName(g: GroupRuntime): string {
    let seq = g.seq;
    let name: string;
    do {
      seq++;
      name = `${g.group.name}-new-${seq}`;
    } while (this.usedNames.has(name));
    return name;
  }

  private openNode(t: Template, forMinNodes: boolean): NewNode {
    const g = this.runtime(t);
    const name = this.nextName(g);
    this.usedNames.add(name);
    g.newCount++;
    if (!g.group.allowMixedInstances) g.locked = t.offering.id;
    this.clusterNodes++;
    const sn = this.state.addNode(newNodeFor(t, name), [], t.overhead);
    const nn: NewNode = { sn, template: t, forMinNodes };
    this.newNodes.push(nn);
    return nn;
  }

  private place(pod: SimPod, key: string, sn: StateNode, target: Placement['target']): void {
    this.state.place(pod, sn);
    this.placements.push({ pod: key, node: sn.node.name, target });
    this.demand[0] -= pod.requests.cpuMilli;
    this.demand[1] -= pod.requests.memoryBytes;
    this.demand[2] -= Math.max(1, pod.requests.pods);
  }

  /** Opens empty nodes for groups below minNodes (preferred offering, else cheapest). */
  topUpMinNodes(): void {
    const byGroup = new Map<NodeGroup, Template[]>();
    for (const t of this.prep.templates) {
      const l = byGroup.get(t.group) ?? [];
      l.push(t);
      byGroup.set(t.group, l);
    }
    for (const [group, all] of byGroup) {
      const locked = this.groupByRef.get(group)?.locked;
      const templates = locked === undefined ? all : all.filter((t) => t.offering.id === locked);
      const choice = [...templates].sort(
        (a, b) =>
          Number(b.preferred) - Number(a.preferred) || a.offering.monthlyPrice - b.offering.monthlyPrice || compareStrings(a.offering.id, b.offering.id),
      )[0];
      if (!choice) continue;
      let missing = group.minNodes - group.currentNodes;
      while (missing-- > 0 && this.clusterNodes < this.prep.input.maxClusterNodes) this.openNode(choice, true);
    }
  }

  /** Tries existing/in-flight nodes, then open new nodes, then a fresh node. */
  placeOne(pod: SimPod, key: string, cls: PodClass): boolean {
    const monotone = this.state.isMonotone(pod);
    const req = pod.requests;
    // Inter-pod verdicts only depend on the node's values for a few label keys until we place: memoise.
    const keys = this.state.relevantKeys(pod);
    const memo = new Map<string, FilterFailure | 'ok'>();
    const interPod = (sn: StateNode): FilterFailure | undefined => {
      if (keys.length === 0) return undefined;
      let sig = '';
      for (const k of keys) sig += `${sn.node.labels[k] ?? '\u0002'}\u0001`;
      let r = memo.get(sig);
      if (r === undefined) {
        r = this.state.interPodFailure(pod, sn) ?? 'ok';
        memo.set(sig, r);
      }
      return r === 'ok' ? undefined : r;
    };

    // 1. Existing and in-flight nodes (first fit by name).
    {
      let prefixDead = true;
      for (let i = this.ptrExisting[cls.id] as number; i < this.existing.length; i++) {
        const e = this.existing[i] as ExistingEntry;
        let st = cls.existingStatic[i];
        if (st === undefined) {
          st = staticFailure(cls.rep, e.sn.node) ?? 'ok';
          cls.existingStatic[i] = st;
        }
        let permanent: boolean;
        if (st !== 'ok') permanent = true;
        else if (!resourcesFit(req, e.sn.node.allocatable, e.sn.requested)) permanent = true;
        else if (interPod(e.sn) === undefined) {
          this.place(pod, key, e.sn, e.target);
          return true;
        } else permanent = monotone;
        if (!permanent) prefixDead = false;
        if (prefixDead) this.ptrExisting[cls.id] = i + 1;
      }
    }

    // 2. New nodes opened so far (first fit in opening order).
    {
      let prefixDead = true;
      for (let i = this.ptrNew[cls.id] as number; i < this.newNodes.length; i++) {
        const nn = this.newNodes[i] as NewNode;
        let permanent: boolean;
        if (cls.tmplStatic[nn.template.index] !== undefined) permanent = true;
        else if (!resourcesFit(req, nn.sn.node.allocatable, nn.sn.requested)) permanent = true;
        else if (interPod(nn.sn) === undefined) {
          this.place(pod, key, nn.sn, 'new');
          return true;
        } else permanent = monotone;
        if (!permanent) prefixDead = false;
        if (prefixDead) this.ptrNew[cls.id] = i + 1;
      }
    }

    // 3. A fresh node.
    const t = this.chooseTemplate(pod, cls);
    if (!t) return false;
    const nn = this.openNode(t, false);
    this.place(pod, key, nn.sn, 'new');
    return true;
  }

  private freshCheck(pod: SimPod, t: Template, g: GroupRuntime): FilterFailure | undefined {
    const node = newNodeFor(t, this.peekName(g));
    return this.state.interPodFailure(pod, { node });
  }

  /** Candidate templates of the highest priority that can host the pod on a fresh node. */
  private candidates(pod: SimPod, cls: PodClass): Template[] {
    if (this.clusterNodes >= this.prep.input.maxClusterNodes) return [];
    const out: Template[] = [];
    let priority: number | undefined;
    for (const t of this.prep.templates) {
      if (priority !== undefined && t.priority < priority) break;
      if (cls.tmplStatic[t.index] !== undefined) continue;
      if (!fitsEmpty(pod.requests, t)) continue;
      const g = this.runtime(t);
      if (g.locked !== undefined && g.locked !== t.offering.id) continue;
      if (!this.groupHasRoom(g)) continue;
      if (this.freshCheck(pod, t, g) !== undefined) continue;
      out.push(t);
      priority = t.priority;
    }
    if (this.preferGroups.size === 0) return out;
    // A group told to prefer its offering offers only that one for a pod the offering can host.
    const preferredHosts = new Set<NodeGroup>();
    for (const t of out) if (t.preferred && this.preferGroups.has(t.group)) preferredHosts.add(t.group);
    return out.filter((t) => t.preferred || !preferredHosts.has(t.group));
  }

  private costScore(t: Template): number {
    const capCpu = t.allocatable.cpuMilli - t.overhead.cpuMilli;
    const capMem = t.allocatable.memoryBytes - t.overhead.memoryBytes;
    const capPods = t.allocatable.pods - t.overhead.pods;
    const [dc, dm, dp] = this.demand as [number, number, number];
    let share = 0;
    if (dc > 0) share = Math.max(share, dc / Math.max(1, capCpu));
    if (dm > 0) share = Math.max(share, dm / Math.max(1, capMem));
    if (dp > 0) share = Math.max(share, dp / Math.max(1, capPods));
    if (share === 0) return t.offering.monthlyPrice;
    return t.offering.monthlyPrice * share;
  }

  private chooseTemplate(pod: SimPod, cls: PodClass): Template | undefined {
    const cands = this.candidates(pod, cls);
    if (cands.length === 0) return undefined;
    if (this.strategy === 'ffd') {
      return cands.sort((a, b) => a.offering.monthlyPrice - b.offering.monthlyPrice || Number(b.preferred) - Number(a.preferred) || a.index - b.index)[0];
    }
    const scored = cands.map((t) => ({ t, s: this.costScore(t) }));
    scored.sort(
      (a, b) =>
        relCompare(a.s, b.s) ||
        Number(b.t.preferred) - Number(a.t.preferred) ||
        b.t.allocatable.cpuMilli - a.t.allocatable.cpuMilli ||
        a.t.offering.monthlyPrice - b.t.offering.monthlyPrice ||
        a.t.index - b.t.index,
    );
    return scored[0]?.t;
  }

  /** Why no node can take the pod (called after packing, for pods left over). */
  diagnose(pod: SimPod, cls: PodClass): { reason: UnplacedReason; message: string; numbers: Record<string, number> } {
    const input = this.prep.input;
    const numbers = requestNumbers(pod.requests);
    const templates = this.prep.templates;
    if (templates.length === 0) {
      return { reason: 'NoNodeGroups', message: 'no NodeGroup offers any node', numbers };
    }
    const staticOk = templates.filter((t) => cls.tmplStatic[t.index] === undefined);
    if (staticOk.length === 0) {
      const tainted = templates.some((t) => cls.tmplStatic[t.index] === 'TaintNotTolerated');
      return tainted
        ? {
            reason: 'TaintNotTolerated',
            message: 'every NodeGroup matching the pod has a NoSchedule/NoExecute taint the pod does not tolerate',
            numbers,
          }
        : { reason: 'NoGroupMatchesSelector', message: 'no NodeGroup matches the nodeSelector / node affinity', numbers };
    }
    const fitting = staticOk.filter((t) => fitsEmpty(pod.requests, t));
    const notOffered = Object.keys(pod.requests.extended ?? {}).filter(
      (r) => (pod.requests.extended?.[r] ?? 0) > 0 && staticOk.every((t) => (t.allocatable.extended?.[r] ?? 0) < (pod.requests.extended?.[r] ?? 0)),
    );
    if (fitting.length === 0 && notOffered.length > 0) {
      const numbers: Record<string, number> = { ...requestNumbers(pod.requests) };
      for (const r of notOffered.sort()) {
        numbers[`requested:${r}`] = pod.requests.extended?.[r] ?? 0;
        numbers[`largestOffered:${r}`] = Math.max(0, ...staticOk.map((t) => t.allocatable.extended?.[r] ?? 0));
      }
      return {
        reason: 'ExtendedResourceNotOffered',
        message: `no matching offering provides ${notOffered.sort().join(', ')} in the amount requested`,
        numbers,
      };
    }
    if (fitting.length === 0) {
      let maxCpu = 0;
      let maxMem = 0;
      for (const t of staticOk) {
        maxCpu = Math.max(maxCpu, t.allocatable.cpuMilli - t.overhead.cpuMilli);
        maxMem = Math.max(maxMem, t.allocatable.memoryBytes - t.overhead.memoryBytes);
      }
      return {
        reason: 'TooLargeForAnyOffering',
        message: 'the pod does not fit an empty node of any matching offering (after DaemonSet overhead)',
        numbers: { ...numbers, largestCpuMilli: maxCpu, largestMemoryBytes: maxMem },
      };
    }
    const unlocked = fitting.filter((t) => {
      const g = this.runtime(t);
      return g.locked === undefined || g.locked === t.offering.id;
    });
    if (unlocked.length === 0) {
      return {
        reason: 'MixedInstancesPolicy',
        message:
          "only offerings other than the one held by a group with allowMixedInstances=false (its existing nodes' offering, or the one this decision chose) fit",
        numbers,
      };
    }
    const roomy = unlocked.filter((t) => this.groupHasRoom(this.runtime(t)));
    if (roomy.length === 0) {
      const g = this.runtime(unlocked[0] as Template);
      return {
        reason: 'MaxNodesReached',
        message: `every matching NodeGroup is at maxNodes (e.g. ${g.group.name})`,
        numbers: { ...numbers, maxNodes: g.group.maxNodes, currentNodes: g.group.currentNodes, newNodes: g.newCount },
      };
    }
    if (this.clusterNodes >= input.maxClusterNodes) {
      return {
        reason: 'ClusterLimitReached',
        message: 'the cluster-wide node limit is reached',
        numbers: { ...numbers, clusterNodes: this.clusterNodes, maxClusterNodes: input.maxClusterNodes },
      };
    }
    const failure = this.freshCheck(pod, roomy[0] as Template, this.runtime(roomy[0] as Template));
    for (const t of roomy) {
      const f = this.freshCheck(pod, t, this.runtime(t));
      if (f === 'PodAffinityUnsatisfied') {
        return { reason: 'AffinityUnsatisfiable', message: 'required pod affinity cannot be met on any node', numbers };
      }
    }
    if (failure === 'PodAntiAffinityViolated' || failure === 'ExistingPodAntiAffinityViolated') {
      return { reason: 'AntiAffinityUnsatisfiable', message: 'required pod anti-affinity excludes every candidate node', numbers };
    }
    if (failure === 'PodAffinityUnsatisfied') {
      return { reason: 'AffinityUnsatisfiable', message: 'required pod affinity cannot be met on any node', numbers };
    }
    return {
      reason: 'TopologySpreadUnsatisfiable',
      message: 'a DoNotSchedule topology spread constraint would exceed maxSkew on every candidate node',
      numbers,
    };
  }

  /** Cost strategy: move each new node to the cheapest offering of its group that still holds its pods. */
  rightSize(): void {
    const byGroup = new Map<NodeGroup, NewNode[]>();
    for (const nn of this.newNodes) {
      const l = byGroup.get(nn.template.group) ?? [];
      l.push(nn);
      byGroup.set(nn.template.group, l);
    }
    const groupTemplates = new Map<NodeGroup, Template[]>();
    for (const t of this.prep.templates) {
      const l = groupTemplates.get(t.group) ?? [];
      l.push(t);
      groupTemplates.set(t.group, l);
    }
    for (const [group, nodes] of byGroup) {
      const templates = groupTemplates.get(group) ?? [];
      const prefer = this.preferGroups.has(group);
      if (group.allowMixedInstances) {
        for (const nn of nodes) {
          if (prefer && nn.template.preferred) continue;
          const best = this.cheapestHolding([nn], templates, nn.template);
          if (best) nn.template = best;
        }
      } else {
        const current = nodes[0]?.template;
        if (!current) continue;
        if (this.groupByRef.get(group)?.lockedByExisting) continue;
        if (prefer && current.preferred) continue;
        const best = this.cheapestHolding(nodes, templates, current);
        if (best) for (const nn of nodes) nn.template = best;
      }
    }
  }

  private cheapestHolding(nodes: NewNode[], templates: Template[], current: Template): Template | undefined {
    let best: Template | undefined;
    for (const t of templates) {
      if (!this.sameSensitiveLabels(t, current)) continue;
      if (t.offering.monthlyPrice > current.offering.monthlyPrice) continue;
      if (!nodes.every((nn) => this.holds(nn, t))) continue;
      if (
        !best ||
        t.offering.monthlyPrice < best.offering.monthlyPrice ||
        (t.offering.monthlyPrice === best.offering.monthlyPrice &&
          (Number(t.preferred) - Number(best.preferred) > 0 ||
            (t.preferred === best.preferred && (t === current || (best !== current && t.index < best.index)))))
      ) {
        best = t;
      }
    }
    return best;
  }

  private sameSensitiveLabels(a: Template, b: Template): boolean {
    if (a === b) return true;
    for (const k of this.prep.sensitiveKeys) {
      if (a.labels[k] !== b.labels[k]) return false;
    }
    return true;
  }

  private holds(nn: NewNode, t: Template): boolean {
    const used = zero();
    for (const p of nn.sn.pods) {
      if (staticFailure(p, t.probe) !== undefined) return false;
      used.cpuMilli += p.requests.cpuMilli;
      used.memoryBytes += p.requests.memoryBytes;
      used.pods += Math.max(1, p.requests.pods);
      used.ephemeralStorageBytes += p.requests.ephemeralStorageBytes;
    }
    const total = {
      cpuMilli: used.cpuMilli + t.overhead.cpuMilli,
      memoryBytes: used.memoryBytes + t.overhead.memoryBytes,
      pods: used.pods + t.overhead.pods,
      ephemeralStorageBytes: used.ephemeralStorageBytes + t.overhead.ephemeralStorageBytes,
    };
    return (
      total.cpuMilli <= t.allocatable.cpuMilli &&
      total.memoryBytes <= t.allocatable.memoryBytes &&
      total.pods <= t.allocatable.pods &&
      total.ephemeralStorageBytes <= t.allocatable.ephemeralStorageBytes
    );
  }
}

function relCompare(a: number, b: number): number {
  // Treat scores within 1e-9 relative as equal so tie-breakers decide (floating-point noise).
  const d = a - b;
  if (Math.abs(d) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))) return 0;
  return d;
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs one strategy over prepared input and builds its decision record. */
export function runStrategy(prep: Prepared, strategy: StrategyName, options: RunOptions = {}): ScaleUpDecision {
  const input = prep.input;
  const run = new Run(prep, strategy, options);
  if (input.enforceMinNodes ?? true) run.topUpMinNodes();

  const order = [...prep.pods];
  if (strategy === 'ffd') {
    order.sort((a, b) => b.cls.size - a.cls.size || compareStrings(a.key, b.key));
  } else {
    order.sort((a, b) => Number(b.cls.hasAnti) - Number(a.cls.hasAnti) || b.cls.size - a.cls.size || compareStrings(a.key, b.key));
  }

  let queue = order;
  for (let round = 0; round < 16 && queue.length > 0; round++) {
    const failed: typeof queue = [];
    for (const e of queue) if (!run.placeOne(e.pod, e.key, e.cls)) failed.push(e);
    if (failed.length === queue.length) {
      queue = failed;
      break;
    }
    queue = failed;
  }
  const unplaced: UnplacedPod[] = [...prep.skipped];
  for (const e of queue) {
    const d = run.diagnose(e.pod, e.cls);
    unplaced.push({ pod: e.key, ...d });
  }
  unplaced.sort((a, b) => compareStrings(a.pod, b.pod));

  if (strategy === 'cost') run.rightSize();

  return buildDecision(prep, run, unplaced, strategy);
}

function buildDecision(prep: Prepared, run: Run, unplaced: UnplacedPod[], strategy: StrategyName): ScaleUpDecision {
  const hours = prep.input.hoursPerMonth ?? DEFAULT_HOURS_PER_MONTH;
  const byGroup = new Map<NodeGroup, PlannedNode[]>();
  for (const nn of run.newNodes) {
    const t = nn.template;
    const node = nn.sn.node;
    const requested = { ...t.overhead };
    for (const p of nn.sn.pods) {
      requested.cpuMilli += p.requests.cpuMilli;
      requested.memoryBytes += p.requests.memoryBytes;
      requested.pods += Math.max(1, p.requests.pods);
      requested.ephemeralStorageBytes += p.requests.ephemeralStorageBytes;
    }
    const planned: PlannedNode = {
      name: node.name,
      group: t.group.name,
      offeringId: t.offering.id,
      nickname: t.offering.nickname,
      zone: t.zone,
      monthlyPrice: t.offering.monthlyPrice,
      allocatable: { ...t.allocatable },
      daemonSetOverhead: { ...t.overhead },
      requested,
      pods: nn.sn.pods.map((p) => podKey(p)),
      forMinNodes: nn.forMinNodes,
      labels: newNodeFor(t, node.name).labels,
    };
    const l = byGroup.get(t.group) ?? [];
    l.push(planned);
    byGroup.set(t.group, l);
  }
  const groups: GroupScaleUp[] = [];
  for (const [group, nodes] of byGroup) {
    const counts = new Map<string, { offeringId: string; nickname: string; count: number; monthlyPrice: number }>();
    let monthly = 0;
    for (const n of nodes) {
      const c = counts.get(n.offeringId) ?? { offeringId: n.offeringId, nickname: n.nickname, count: 0, monthlyPrice: 0 };
      c.count++;
      c.monthlyPrice = round(c.monthlyPrice + n.monthlyPrice);
      counts.set(n.offeringId, c);
      monthly += n.monthlyPrice;
    }
    groups.push({
      group: group.name,
      namespace: group.namespace,
      priority: group.priority ?? 0,
      currentNodes: group.currentNodes,
      maxNodes: group.maxNodes,
      offerings: [...counts.values()].sort((a, b) => compareStrings(a.offeringId, b.offeringId)),
      newNodes: nodes.length,
      monthlyPrice: round(monthly),
      hourlyPrice: round(monthly / hours),
      nodes,
    });
  }
  groups.sort((a, b) => compareStrings(a.group, b.group) || compareStrings(a.namespace, b.namespace));
  const monthly = groups.reduce((s, g) => s + g.monthlyPrice, 0);
  const placed = run.placements.length;
  return {
    groups,
    newNodes: run.newNodes.length,
    monthlyPrice: round(monthly),
    hourlyPrice: round(monthly / hours),
    fitsExisting: run.placements.filter((p) => p.target !== 'new'),
    unplaced,
    placements: run.placements,
    strategy,
    stats: {
      pendingPods: prep.input.pendingPods.length,
      podClasses: prep.classes.length,
      placed,
      unplaced: unplaced.length,
    },
  };
}
