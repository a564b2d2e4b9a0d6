/**
 * Incremental scheduling state: nodes with their pods, and counters that make the inter-pod
 * predicates (InterPodAffinity, PodTopologySpread) O(terms) per check instead of O(pods).
 *
 * Semantics are those of the reference implementations in `predicates.ts` (tests compare both).
 */
import { canonicalJson } from './canonical';
import { matchesLabelSelector } from './labels';
import type { DomainHints, FilterFailure } from './predicates';
import { hardSpreadConstraints, hostPortConflict, passesNodeAffinity, podMatchesTerm, resourcesFit, staticFailure } from './predicates';
import type { HostPort, PodAffinityTerm, Resources, SimNode, SimPod, TopologySpreadConstraint } from './types';
import { combineExtended, FRESH_DOMAIN, LABEL_HOSTNAME } from './types';

export interface StateNode {
  readonly index: number;
  readonly node: SimNode;
  /** Sum of requests on the node, including `extraRequested` (mutable, updated by `place`). */
  readonly requested: Resources;
  readonly pods: SimPod[];
}

/** Node-like shape for checks against nodes that do not exist yet (a fresh node from a template). */
export interface CandidateNode {
  readonly node: SimNode;
  readonly requested: Resources;
}

function pairKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

/** Counts pods matching a predicate per (topologyKey, value) over (optionally filtered) nodes. */
class PodCounter {
  readonly counts = new Map<string, number>();
  /** Domain values (per key) of nodes passing the node filter (only maintained when `trackDomains`). */
  readonly domains = new Map<string, Set<string>>();
  private readonly matchMemo = new Map<string, boolean>();
  private readonly nodeMemo: boolean[] = [];

  constructor(
    readonly keys: readonly string[],
    private readonly matcher: (pod: SimPod) => boolean,
    private readonly nodeFilter: ((node: SimNode) => boolean) | undefined,
    readonly trackDomains: boolean,
  ) {
    for (const k of keys) this.domains.set(k, new Set());
  }

  matches(pod: SimPod, labelSig: string): boolean {
    let m = this.matchMemo.get(labelSig);
    if (m === undefined) {
      m = this.matcher(pod);
      this.matchMemo.set(labelSig, m);
    }
    return m;
  }

  nodeEligible(n: StateNode): boolean {
    if (!this.nodeFilter) return true;
    let e = this.nodeMemo[n.index];
    if (e === undefined) {
      e = this.nodeFilter(n.node);
      this.nodeMemo[n.index] = e;
    }
    return e;
  }

  onNode(n: StateNode): void {
    if (!this.trackDomains || !this.nodeEligible(n)) return;
    for (const k of this.keys) {
      const v = n.node.labels[k];
      if (v !== undefined) this.domains.get(k)?.add(v);
    }
  }

  onPod(pod: SimPod, labelSig: string, n: StateNode): void {
    if (!this.nodeEligible(n) || !this.matches(pod, labelSig)) return;
    for (const k of this.keys) {
      const v = n.node.labels[k];
      if (v === undefined) continue;
      const pk = pairKey(k, v);
      this.counts.set(pk, (this.counts.get(pk) ?? 0) + 1);
    }
  }

  count(key: string, value: string): number {
    return this.counts.get(pairKey(key, value)) ?? 0;
  }
}

/** Anti-affinity terms carried by placed pods (symmetric anti-affinity). */
class AntiCarrier {
  readonly counts = new Map<string, number>();
  private readonly matchMemo = new Map<string, boolean>();
  constructor(
    readonly term: PodAffinityTerm,
    readonly ownerNamespace: string,
  ) {}

  matches(pod: SimPod, labelSig: string): boolean {
    let m = this.matchMemo.get(labelSig);
    if (m === undefined) {
      m = podMatchesTerm(this.term, this.ownerNamespace, pod);
      this.matchMemo.set(labelSig, m);
    }
    return m;
  }
}

interface SpreadCheck {
  constraint: TopologySpreadConstraint;
  counter: PodCounter;
  selfMatch: number;
  hinted: readonly string[];
}

interface CompiledPod {
  labelSig: string;
  anti: { term: PodAffinityTerm; counter: PodCounter }[];
  affinity: { terms: readonly PodAffinityTerm[]; counter: PodCounter; selfMatch: boolean } | undefined;
  spread: SpreadCheck[];
  spreadKeys: readonly string[];
  /** True when all constraints only get harder as pods are added (see `isMonotone`). */
  monotone: boolean;
  /** Topology keys of the pod's own terms and constraints. */
  ownKeys: readonly string[];
}

export function labelSignature(pod: SimPod): string {
  return `${pod.namespace}\u0001${canonicalJson(pod.labels)}`;
}

export class SchedulingState {
  readonly nodes: StateNode[] = [];
  private readonly counters = new Map<string, PodCounter>();
  private readonly carriers = new Map<string, AntiCarrier>();
  private readonly carrierList: AntiCarrier[] = [];
  private readonly compiledBySig = new Map<string, CompiledPod>();
  private readonly compiledByPod = new WeakMap<SimPod, CompiledPod>();
  private readonly labelSigs = new WeakMap<SimPod, string>();
  /** Host ports in use per registered node name (NodePorts). */
  private readonly hostPorts = new Map<string, HostPort[]>();

  constructor(private readonly hints?: DomainHints) {}

  addNode(node: SimNode, pods: readonly SimPod[] = [], extraRequested?: Resources): StateNode {
    const n: StateNode = {
      index: this.nodes.length,
      node,
      requested: extraRequested
        ? { ...extraRequested, ...(extraRequested.extended ? { extended: { ...extraRequested.extended } } : {}) }
        : { cpuMilli: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0 },
      pods: [],
    };
    this.nodes.push(n);
    for (const c of this.counters.values()) c.onNode(n);
    for (const p of pods) this.place(p, n);
    return n;
  }

  labelSig(pod: SimPod): string {
    let s = this.labelSigs.get(pod);
    if (s === undefined) {
      s = labelSignature(pod);
      this.labelSigs.set(pod, s);
    }
    return s;
  }

  place(pod: SimPod, n: StateNode): void {
    const r = n.requested;
    r.cpuMilli += pod.requests.cpuMilli;
    r.memoryBytes += pod.requests.memoryBytes;
    r.pods += Math.max(1, pod.requests.pods);
    r.ephemeralStorageBytes += pod.requests.ephemeralStorageBytes;
    if (pod.requests.extended) (r as { extended?: Record<string, number> }).extended = combineExtended(r.extended, pod.requests.extended, 1);
    if (pod.hostPorts && pod.hostPorts.length > 0) this.hostPorts.set(n.node.name, [...(this.hostPorts.get(n.node.name) ?? []), ...pod.hostPorts]);
    n.pods.push(pod);
    const sig = this.labelSig(pod);
    for (const c of this.counters.values()) c.onPod(pod, sig, n);
    for (const term of pod.podAntiAffinity ?? []) {
      const v = n.node.labels[term.topologyKey];
      if (v === undefined) continue;
      const key = canonicalJson({ t: term, ns: pod.namespace });
      let carrier = this.carriers.get(key);
      if (!carrier) {
        carrier = new AntiCarrier(term, pod.namespace);
        this.carriers.set(key, carrier);
        this.carrierList.push(carrier);
      }
      carrier.counts.set(pairKey(term.topologyKey, v), (carrier.counts.get(pairKey(term.topologyKey, v)) ?? 0) + 1);
    }
  }

  private counter(
    sig: string,
    keys: readonly string[],
    matcher: (pod: SimPod) => boolean,
    nodeFilter: ((node: SimNode) => boolean) | undefined,
    trackDomains: boolean,
  ): PodCounter {
    let c = this.counters.get(sig);
    if (!c) {
      c = new PodCounter(keys, matcher, nodeFilter, trackDomains);
      for (const n of this.nodes) {
        c.onNode(n);
        for (const p of n.pods) c.onPod(p, this.labelSig(p), n);
      }
      this.counters.set(sig, c);
    }
    return c;
  }

  /** Compiles (once per distinct constraint set) the counters a pod's checks need. */
  compile(pod: SimPod): CompiledPod {
    const cached = this.compiledByPod.get(pod);
    if (cached) return cached;
    const labelSig = this.labelSig(pod);
    const spreadConstraints = hardSpreadConstraints(pod);
    const sig = canonicalJson({
      l: labelSig,
      a: pod.podAffinity ?? [],
      aa: pod.podAntiAffinity ?? [],
      s: spreadConstraints,
      ns: pod.nodeSelector ?? {},
      na: pod.requiredNodeAffinity ?? null,
      t: pod.tolerations ?? [],
    });
    let compiled = this.compiledBySig.get(sig);
    if (!compiled) {
      compiled = this.compileUncached(pod, labelSig, spreadConstraints);
      this.compiledBySig.set(sig, compiled);
    }
    this.compiledByPod.set(pod, compiled);
    return compiled;
  }

  private compileUncached(pod: SimPod, labelSig: string, spreadConstraints: TopologySpreadConstraint[]): CompiledPod {
    const ns = pod.namespace;
    const anti = (pod.podAntiAffinity ?? []).map((term) => ({
      term,
      counter: this.counter(canonicalJson({ k: 'anti', term, ns }), [term.topologyKey], (p) => podMatchesTerm(term, ns, p), undefined, false),
    }));
    const terms = pod.podAffinity ?? [];
    const affinity =
      terms.length === 0
        ? undefined
        : {
            terms,
            counter: this.counter(
              canonicalJson({ k: 'aff', terms, ns }),
              [...new Set(terms.map((t) => t.topologyKey))],
              (p) => terms.every((t) => podMatchesTerm(t, ns, p)),
              undefined,
              false,
            ),
            selfMatch: terms.every((t) => podMatchesTerm(t, ns, pod)),
          };
    const spreadKeys = [...new Set(spreadConstraints.map((c) => c.topologyKey))];
    const hintMap = spreadConstraints.length > 0 ? this.hints?.(pod) : undefined;
    const affinitySig = canonicalJson({ s: pod.nodeSelector ?? {}, a: pod.requiredNodeAffinity ?? null });
    const nodeFilter = (node: SimNode): boolean => passesNodeAffinity(pod, node) && spreadKeys.every((k) => node.labels[k] !== undefined);
    const spread = spreadConstraints.map((constraint) => ({
      constraint,
      counter: this.counter(
        canonicalJson({ k: 'spread', sel: constraint.labelSelector ?? null, key: constraint.topologyKey, ns, affinitySig, spreadKeys }),
        [constraint.topologyKey],
        (p) => p.namespace === ns && matchesLabelSelector(p.labels, constraint.labelSelector),
        nodeFilter,
        true,
      ),
      selfMatch: matchesLabelSelector(pod.labels, constraint.labelSelector) ? 1 : 0,
      hinted: [...(hintMap?.get(constraint.topologyKey) ?? [])],
    }));
    const ownKeys = [...new Set([...anti.map((a) => a.term.topologyKey), ...(affinity?.terms ?? []).map((t) => t.topologyKey), ...spreadKeys])];
    return {
      labelSig,
      ownKeys,
      anti,
      affinity,
      spread,
      spreadKeys,
      monotone: affinity === undefined && spread.every((s) => s.constraint.minDomains === undefined && s.hinted.includes(FRESH_DOMAIN)),
    };
  }

  /**
   * True when, for this pod, a node that fails the checks now can never pass them later in the same
   * simulation: no pod affinity, and topology spread only with the FRESH_DOMAIN hint (global minimum
   * stays 0), so every constraint only gets harder as pods are added.
   */
  isMonotone(pod: SimPod): boolean {
    return this.compile(pod).monotone;
  }

  /**
   * The node label keys `interPodFailure(pod, node)` depends on right now: the pod's own topology keys
   * plus those of anti-affinity terms carried by placed pods that match the pod. Until the next
   * `place`, nodes with equal values for these keys get the same inter-pod verdict.
   */
  relevantKeys(pod: SimPod): string[] {
    const c = this.compile(pod);
    const keys = new Set(c.ownKeys);
    // Host ports are per node: the verdict depends on the node itself.
    if (pod.hostPorts && pod.hostPorts.length > 0) keys.add(LABEL_HOSTNAME);
    for (const carrier of this.carrierList) {
      if (carrier.matches(pod, c.labelSig)) keys.add(carrier.term.topologyKey);
    }
    return [...keys].sort();
  }

  /**
   * NodePorts + InterPodAffinity + PodTopologySpread for `pod` on `candidate` (registered or not; a
   * node not registered has no host ports in use).
   */
  interPodFailure(pod: SimPod, candidate: Pick<CandidateNode, 'node'>): FilterFailure | undefined {
    if (pod.hostPorts && pod.hostPorts.length > 0 && hostPortConflict(pod, this.hostPorts.get(candidate.node.name) ?? [])) return 'HostPortConflict';
    const c = this.compile(pod);
    const labels = candidate.node.labels;
    for (const carrier of this.carrierList) {
      const v = labels[carrier.term.topologyKey];
      if (v === undefined) continue;
      if ((carrier.counts.get(pairKey(carrier.term.topologyKey, v)) ?? 0) > 0 && carrier.matches(pod, c.labelSig)) {
        return 'ExistingPodAntiAffinityViolated';
      }
    }
    for (const a of c.anti) {
      const v = labels[a.term.topologyKey];
      if (v !== undefined && a.counter.count(a.term.topologyKey, v) > 0) return 'PodAntiAffinityViolated';
    }
    if (c.affinity) {
      let podsExist = true;
      for (const t of c.affinity.terms) {
        const v = labels[t.topologyKey];
        if (v === undefined) return 'PodAffinityUnsatisfied';
        if (c.affinity.counter.count(t.topologyKey, v) <= 0) podsExist = false;
      }
      if (!podsExist && !(c.affinity.counter.counts.size === 0 && c.affinity.selfMatch)) return 'PodAffinityUnsatisfied';
    }
    for (const s of c.spread) {
      const key = s.constraint.topologyKey;
      for (const k of c.spreadKeys) if (labels[k] === undefined) return 'TopologySpreadViolated';
      const cv = labels[key] as string;
      const own = s.counter.count(key, cv);
      let min = own;
      let domainCount = 0;
      const domains = s.counter.domains.get(key) as Set<string>;
      for (const v of s.hinted) {
        if (min === 0 && s.constraint.minDomains === undefined) break;
        if (!domains.has(v)) domainCount++;
        min = Math.min(min, s.counter.count(key, v));
      }
      if (min > 0 || s.constraint.minDomains !== undefined) {
        for (const v of domains) {
          min = Math.min(min, s.counter.count(key, v));
          if (min === 0 && s.constraint.minDomains === undefined) break;
        }
      }
      if (s.constraint.minDomains !== undefined) {
        domainCount += domains.size + (domains.has(cv) || s.hinted.includes(cv) ? 0 : 1);
        if (domainCount < s.constraint.minDomains) min = 0;
      }
      if (own + s.selfMatch - min > s.constraint.maxSkew) return 'TopologySpreadViolated';
    }
    return undefined;
  }

  /** All filters for a registered node or a candidate. */
  check(pod: SimPod, candidate: CandidateNode, skipStatic = false): FilterFailure | undefined {
    if (!skipStatic) {
      const s = staticFailure(pod, candidate.node);
      if (s) return s;
    }
    if (!resourcesFit(pod.requests, candidate.node.allocatable, candidate.requested)) return 'InsufficientResources';
    return this.interPodFailure(pod, candidate);
  }
}
