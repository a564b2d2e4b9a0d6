/**
 * kube-scheduler filter predicates, as plain functions.
 *
 * The static predicates (NodeUnschedulable, NodeAffinity, TaintToleration, NodeResourcesFit) are cheap
 * and used directly by the planner. The inter-pod predicates (InterPodAffinity, PodTopologySpread) here
 * are the straightforward *reference* implementations that scan the whole snapshot; the planner uses the
 * incremental equivalent in `state.ts`, and tests check one against the other.
 */
import { matchesLabelSelector, matchesNodeSelector, matchesNodeSelectorTerms, taintTolerated } from './labels';
import type { HostPort, PodAffinityTerm, Resources, SimNode, SimPod, Taint, TopologySpreadConstraint, VolumeConstraint } from './types';
import { combineExtended, LABEL_ZONE, LABEL_ZONE_LEGACY, TAINT_UNSCHEDULABLE } from './types';

/** Why a node was filtered out for a pod (closed set, kube-scheduler plugin order). */
export type FilterFailure =
  | 'NodeUnschedulable'
  | 'NodeAffinityMismatch'
  | 'TaintNotTolerated'
  | 'VolumeNodeAffinityConflict'
  | 'HostPortConflict'
  | 'InsufficientResources'
  | 'PodAffinityUnsatisfied'
  | 'PodAntiAffinityViolated'
  | 'ExistingPodAntiAffinityViolated'
  | 'TopologySpreadViolated';

/** A node plus the pods bound (or planned) on it. */
export interface NodeSnapshot {
  node: SimNode;
  pods: readonly SimPod[];
  /** Requests of pods on the node that are not in `pods` (e.g. DaemonSet overhead on a planned node). */
  extraRequested?: Resources;
}

/**
 * Extra topology domains assumed to exist (with zero matching pods) when evaluating topology spread,
 * per topology key: e.g. the zones of node groups that can still create nodes, or a fresh-hostname
 * sentinel when a new node could be created. Returned per pod because eligibility depends on the pod.
 */
export type DomainHints = (pod: SimPod) => ReadonlyMap<string, ReadonlySet<string>> | undefined;

// ---------------------------------------------------------------------------------------------------
// Static predicates
// ---------------------------------------------------------------------------------------------------

/** NodeUnschedulable: cordoned nodes only accept pods tolerating node.kubernetes.io/unschedulable:NoSchedule. */
export function passesNodeUnschedulable(pod: SimPod, node: SimNode): boolean {
  if (!node.unschedulable) return true;
  return taintTolerated(pod.tolerations, { key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
}

/** NodeAffinity: pod.spec.nodeSelector AND required node affinity. */
export function passesNodeAffinity(pod: SimPod, node: Pick<SimNode, 'name' | 'labels'>): boolean {
  return matchesNodeSelector(node.labels, pod.nodeSelector) && matchesNodeSelectorTerms(node, pod.requiredNodeAffinity);
}

/** The first NoSchedule/NoExecute taint the pod does not tolerate, if any. */
export function firstUntoleratedTaint(pod: SimPod, taints: readonly Taint[] | undefined): Taint | undefined {
  for (const taint of taints ?? []) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!taintTolerated(pod.tolerations, taint)) return taint;
  }
  return undefined;
}

/** TaintToleration filter: NoSchedule and NoExecute taints are hard. */
export function passesTaintToleration(pod: SimPod, node: Pick<SimNode, 'taints'>): boolean {
  return firstUntoleratedTaint(pod, node.taints) === undefined;
}

/** TaintToleration score input: number of PreferNoSchedule taints the pod does not tolerate (soft). */
export function countIntolerablePreferNoSchedule(pod: SimPod, node: Pick<SimNode, 'taints'>): number {
  let n = 0;
  for (const taint of node.taints ?? []) {
    if (taint.effect === 'PreferNoSchedule' && !taintTolerated(pod.tolerations, taint)) n++;
  }
  return n;
}

/**
 * NodeResourcesFit: requested + pod <= allocatable for every resource the pod requests
 * (zero requests are not checked, like kube-scheduler), and always for the pod count.
 */
export function resourcesFit(podRequests: Resources, allocatable: Resources, requested: Resources): boolean {
  if (requested.pods + Math.max(1, podRequests.pods) > allocatable.pods) return false;
  if (podRequests.cpuMilli > 0 && requested.cpuMilli + podRequests.cpuMilli > allocatable.cpuMilli) return false;
  if (podRequests.memoryBytes > 0 && requested.memoryBytes + podRequests.memoryBytes > allocatable.memoryBytes) {
    return false;
  }
  if (podRequests.ephemeralStorageBytes > 0 && requested.ephemeralStorageBytes + podRequests.ephemeralStorageBytes > allocatable.ephemeralStorageBytes) {
    return false;
  }
  return missingExtended(podRequests, allocatable, requested).length === 0;
}

/**
 * NodeResourcesFit for extended / scalar resources (nvidia.com/gpu, hugepages-*): the names of the
 * resources the pod requests (> 0) that the node does not have free. A node that does not list a
 * resource has none of it.
 */
export function missingExtended(podRequests: Resources, allocatable: Resources, requested: Resources): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(podRequests.extended ?? {})) {
    if (want <= 0) continue;
    if ((requested.extended?.[name] ?? 0) + want > (allocatable.extended?.[name] ?? 0)) out.push(name);
  }
  return out.sort();
}

/** Node label keys VolumeZone looks at. */
export const VOLUME_TOPOLOGY_KEYS: readonly string[] = [
  LABEL_ZONE,
  'topology.kubernetes.io/region',
  LABEL_ZONE_LEGACY,
  'failure-domain.beta.kubernetes.io/region',
];

/**
 * VolumeBinding (bound PVs' required node affinity) and VolumeZone (the PV's zone/region labels; a
 * node with none of those labels is not constrained, as in kube-scheduler): the first volume that
 * does not allow the node.
 */
export function volumeConflict(volumes: readonly VolumeConstraint[] | undefined, node: Pick<SimNode, 'name' | 'labels'>): VolumeConstraint | undefined {
  if (!volumes || volumes.length === 0) return undefined;
  const zoned = VOLUME_TOPOLOGY_KEYS.some((k) => node.labels[k] !== undefined);
  for (const v of volumes) {
    if (v.nodeAffinity && !matchesNodeSelectorTerms(node, v.nodeAffinity)) return v;
    if (!zoned) continue;
    for (const [key, values] of Object.entries(v.topology ?? {})) {
      const nv = node.labels[key];
      if (nv === undefined || !values.includes(nv)) return v;
    }
  }
  return undefined;
}

function normalIP(ip: string): string {
  return ip === '' ? '0.0.0.0' : ip;
}

/**
 * NodePorts: two host ports conflict when port and protocol are equal and the host IPs are equal or
 * either is the wildcard (0.0.0.0 / empty).
 */
export function hostPortsConflict(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.protocol !== b.protocol) return false;
  const ia = normalIP(a.hostIP);
  const ib = normalIP(b.hostIP);
  return ia === ib || ia === '0.0.0.0' || ib === '0.0.0.0';
}

/** The first of the pod's host ports already used by a pod in `used`, if any. */
export function hostPortConflict(pod: Pick<SimPod, 'hostPorts'>, used: readonly HostPort[]): HostPort | undefined {
  for (const want of pod.hostPorts ?? []) {
    for (const u of used) if (hostPortsConflict(want, u)) return want;
  }
  return undefined;
}

export function usedHostPorts(pods: readonly SimPod[]): HostPort[] {
  const out: HostPort[] = [];
  for (const p of pods) for (const hp of p.hostPorts ?? []) out.push(hp);
  return out;
}

/** Static predicates in plugin order (no resources, no inter-pod, no host ports). */
export function staticFailure(pod: SimPod, node: SimNode): FilterFailure | undefined {
  if (!passesNodeUnschedulable(pod, node)) return 'NodeUnschedulable';
  if (!passesNodeAffinity(pod, node)) return 'NodeAffinityMismatch';
  if (!passesTaintToleration(pod, node)) return 'TaintNotTolerated';
  if (volumeConflict(pod.persistentVolumes, node) !== undefined) return 'VolumeNodeAffinityConflict';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Inter-pod predicates (reference implementations)
// ---------------------------------------------------------------------------------------------------

/** Does `target` match the term owned by a pod in namespace `ownerNamespace`? */
export function podMatchesTerm(term: PodAffinityTerm, ownerNamespace: string, target: SimPod): boolean {
  if (!term.allNamespaces) {
    const namespaces = term.namespaces && term.namespaces.length > 0 ? term.namespaces : [ownerNamespace];
    if (!namespaces.includes(target.namespace)) return false;
  }
  return matchesLabelSelector(target.labels, term.labelSelector);
}

export function hardSpreadConstraints(pod: SimPod): TopologySpreadConstraint[] {
  return (pod.topologySpreadConstraints ?? []).filter((c) => c.whenUnsatisfiable === 'DoNotSchedule');
}

function withCandidate(candidate: NodeSnapshot, cluster: readonly NodeSnapshot[]): readonly NodeSnapshot[] {
  for (const n of cluster) if (n.node.name === candidate.node.name) return cluster;
  return [...cluster, candidate];
}

function pairKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

/**
 * InterPodAffinity filter (required terms only): the incoming pod's affinity and anti-affinity, and
 * the anti-affinity of pods already in the cluster (symmetry).
 */
export function interPodAffinityFailure(pod: SimPod, candidate: NodeSnapshot, cluster: readonly NodeSnapshot[]): FilterFailure | undefined {
  const all = withCandidate(candidate, cluster);
  const labels = candidate.node.labels;

  // Existing pods' anti-affinity against the incoming pod.
  for (const n of all) {
    for (const existing of n.pods) {
      for (const term of existing.podAntiAffinity ?? []) {
        const v = n.node.labels[term.topologyKey];
        if (v === undefined || labels[term.topologyKey] !== v) continue;
        if (podMatchesTerm(term, existing.namespace, pod)) return 'ExistingPodAntiAffinityViolated';
      }
    }
  }

  // Incoming pod's anti-affinity.
  for (const term of pod.podAntiAffinity ?? []) {
    const cv = labels[term.topologyKey];
    if (cv === undefined) continue;
    for (const n of all) {
      if (n.node.labels[term.topologyKey] !== cv) continue;
      for (const existing of n.pods) {
        if (podMatchesTerm(term, pod.namespace, existing)) return 'PodAntiAffinityViolated';
      }
    }
  }

  // Incoming pod's affinity.
  const terms = pod.podAffinity ?? [];
  if (terms.length > 0) {
    for (const term of terms) if (labels[term.topologyKey] === undefined) return 'PodAffinityUnsatisfied';
    const counts = new Map<string, number>();
    for (const n of all) {
      for (const existing of n.pods) {
        if (!terms.every((t) => podMatchesTerm(t, pod.namespace, existing))) continue;
        for (const t of terms) {
          const v = n.node.labels[t.topologyKey];
          if (v === undefined) continue;
          const k = pairKey(t.topologyKey, v);
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
      }
    }
    let podsExist = true;
    for (const t of terms) {
      if ((counts.get(pairKey(t.topologyKey, labels[t.topologyKey] ?? '')) ?? 0) <= 0) podsExist = false;
    }
    if (!podsExist) {
      const selfMatch = terms.every((t) => podMatchesTerm(t, pod.namespace, pod));
      if (!(counts.size === 0 && selfMatch)) return 'PodAffinityUnsatisfied';
    }
  }
  return undefined;
}

/**
 * PodTopologySpread filter for DoNotSchedule constraints (NodeAffinityPolicy=Honor,
 * NodeTaintsPolicy=Ignore, the Kubernetes defaults). Domains are the values of eligible nodes
 * (matching the pod's node affinity and carrying every constraint's key) plus `hints`.
 */
export function topologySpreadFailure(
  pod: SimPod,
  candidate: NodeSnapshot,
  cluster: readonly NodeSnapshot[],
  hints?: ReadonlyMap<string, ReadonlySet<string>>,
): FilterFailure | undefined {
  const constraints = hardSpreadConstraints(pod);
  if (constraints.length === 0) return undefined;
  const labels = candidate.node.labels;
  for (const c of constraints) if (labels[c.topologyKey] === undefined) return 'TopologySpreadViolated';
  const all = withCandidate(candidate, cluster);
  const eligible = all.filter((n) => passesNodeAffinity(pod, n.node) && constraints.every((c) => n.node.labels[c.topologyKey] !== undefined));
  for (const c of constraints) {
    const counts = new Map<string, number>();
    for (const v of hints?.get(c.topologyKey) ?? []) counts.set(v, 0);
    for (const n of eligible) {
      const v = n.node.labels[c.topologyKey] as string;
      let k = counts.get(v) ?? 0;
      for (const p of n.pods) {
        if (p.namespace === pod.namespace && matchesLabelSelector(p.labels, c.labelSelector)) k++;
      }
      counts.set(v, k);
    }
    const cv = labels[c.topologyKey] as string;
    if (!counts.has(cv)) counts.set(cv, 0);
    let min = Infinity;
    for (const k of counts.values()) min = Math.min(min, k);
    if (c.minDomains !== undefined && counts.size < c.minDomains) min = 0;
    const self = matchesLabelSelector(pod.labels, c.labelSelector) ? 1 : 0;
    if ((counts.get(cv) ?? 0) + self - min > c.maxSkew) return 'TopologySpreadViolated';
  }
  return undefined;
}

export function sumRequests(pods: readonly SimPod[], extra?: Resources): Resources {
  const r: Resources = extra ? { ...extra } : { cpuMilli: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0 };
  for (const p of pods) {
    r.cpuMilli += p.requests.cpuMilli;
    r.memoryBytes += p.requests.memoryBytes;
    r.pods += Math.max(1, p.requests.pods);
    r.ephemeralStorageBytes += p.requests.ephemeralStorageBytes;
    if (p.requests.extended) r.extended = combineExtended(r.extended, p.requests.extended, 1);
  }
  return r;
}

/**
 * All filters in kube-scheduler order, reference implementation. `candidate` may or may not be one of
 * `cluster`'s nodes (a node that would be created).
 */
export function filterNode(
  pod: SimPod,
  candidate: NodeSnapshot,
  cluster: readonly NodeSnapshot[],
  hints?: ReadonlyMap<string, ReadonlySet<string>>,
): FilterFailure | undefined {
  const s = staticFailure(pod, candidate.node);
  if (s) return s;
  if (hostPortConflict(pod, usedHostPorts(candidate.pods))) return 'HostPortConflict';
  if (!resourcesFit(pod.requests, candidate.node.allocatable, sumRequests(candidate.pods, candidate.extraRequested))) {
    return 'InsufficientResources';
  }
  return interPodAffinityFailure(pod, candidate, cluster) ?? topologySpreadFailure(pod, candidate, cluster, hints);
}
