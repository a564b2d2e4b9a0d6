/**
 * Plain scheduling types for the pure decision code.
 *
 * These are deliberately NOT the @kubernetes/client-node types: decision code runs inside the Temporal
 * workflow sandbox and must stay free of I/O libraries. `from-k8s.ts` converts V1Pod / V1Node JSON
 * into these shapes.
 */

/** Well-known node labels used as topology keys and on simulated new nodes. */
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_ZONE_LEGACY = 'failure-domain.beta.kubernetes.io/zone';
export const LABEL_INSTANCE_TYPE = 'node.kubernetes.io/instance-type';
/** Label carried by every node a NodeGroup creates (used on simulated new nodes). */
export const LABEL_NODE_GROUP = 'autoscaler.vpsie.com/nodegroup';
/**
 * Topology-domain hint value meaning "a brand-new node could be created here" (used for hostname-like
 * keys): a domain that no node ever carries, so its count stays 0. Node names must never equal it.
 */
export const FRESH_DOMAIN = '\u0000fresh-node';
/** Taint key kube-scheduler's NodeUnschedulable plugin uses for cordoned nodes. */
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
/** Node pressure conditions and the NoSchedule taints the node lifecycle controller adds for them (TaintNodesByCondition). */
export const PRESSURE_TAINTS: Readonly<Record<NodePressure, string>> = {
  MemoryPressure: 'node.kubernetes.io/memory-pressure',
  DiskPressure: 'node.kubernetes.io/disk-pressure',
  PIDPressure: 'node.kubernetes.io/pid-pressure',
};
export type NodePressure = 'MemoryPressure' | 'DiskPressure' | 'PIDPressure';
export const NODE_PRESSURES: readonly NodePressure[] = ['MemoryPressure', 'DiskPressure', 'PIDPressure'];

export type LabelMap = Readonly<Record<string, string>>;

/** Resource amounts in integral base units. */
export interface Resources {
  cpuMilli: number;
  memoryBytes: number;
  /** Pod slots: 1 for a pod's request, the kubelet's max-pods for a node's allocatable. */
  pods: number;
  ephemeralStorageBytes: number;
  /**
   * Extended and other scalar resources (nvidia.com/gpu, hugepages-2Mi, ...) in their base unit, by
   * resource name. Absent or missing name: 0 (a node without the resource offers none of it).
   */
  extended?: Readonly<Record<string, number>>;
}

export const ZERO_RESOURCES: Readonly<Resources> = Object.freeze({
  cpuMilli: 0,
  memoryBytes: 0,
  pods: 0,
  ephemeralStorageBytes: 0,
});

export type NodeSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

export interface NodeSelectorRequirement {
  key: string;
  operator: NodeSelectorOperator;
  values?: readonly string[];
}

/** One term of required node affinity: all expressions AND-ed. Terms are OR-ed. */
export interface NodeSelectorTerm {
  matchExpressions?: readonly NodeSelectorRequirement[];
  /** Only `metadata.name` is meaningful (as in Kubernetes); matched against the node name. */
  matchFields?: readonly NodeSelectorRequirement[];
}

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: readonly string[];
}

/** metav1.LabelSelector. An empty selector ({}) matches everything; an absent one matches nothing. */
export interface LabelSelector {
  matchLabels?: LabelMap;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

export interface Toleration {
  /** Empty key with operator Exists tolerates every taint. */
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  /** Empty effect matches all effects. */
  effect?: TaintEffect;
}

/** A required (pod) affinity / anti-affinity term. */
export interface PodAffinityTerm {
  topologyKey: string;
  /** Absent selector matches no pod (Kubernetes semantics). */
  labelSelector?: LabelSelector;
  /** Namespaces the selector applies to; empty/absent means the namespace of the pod owning the term. */
  namespaces?: readonly string[];
  /** True when the term had an empty namespaceSelector ({}), i.e. all namespaces. */
  allNamespaces?: boolean;
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  /** Only DoNotSchedule constraints are hard; ScheduleAnyway ones are ignored by the simulation. */
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: LabelSelector;
  minDomains?: number;
}

/** A container port bound on the host (kube-scheduler NodePorts plugin). */
export interface HostPort {
  port: number;
  /** TCP (default), UDP or SCTP. */
  protocol: string;
  /** '' or 0.0.0.0 means every address of the node. */
  hostIP: string;
}

/**
 * A PersistentVolume a pod uses and where it can be reached: the PV's required node affinity terms
 * (OR-ed; absent = anywhere) and its zone/region labels (VolumeZone). Every volume must allow the node.
 */
export interface VolumeConstraint {
  /** `claim -> volume` name, for reasons. */
  name: string;
  nodeAffinity?: readonly NodeSelectorTerm[];
  /** Node label key → allowed values (topology.kubernetes.io/zone, region; `a__b` already split). */
  topology?: Readonly<Record<string, readonly string[]>>;
}

/** The minimal pod shape the simulation needs. */
export interface SimPod {
  name: string;
  namespace: string;
  uid: string;
  labels: LabelMap;
  /** Effective requests (max(sum containers, max init) + overhead); `pods` is 1. */
  requests: Resources;
  nodeSelector?: LabelMap;
  /** Required node affinity terms (OR-ed). Absent = no constraint. */
  requiredNodeAffinity?: readonly NodeSelectorTerm[];
  tolerations?: readonly Toleration[];
  podAffinity?: readonly PodAffinityTerm[];
  podAntiAffinity?: readonly PodAffinityTerm[];
  topologySpreadConstraints?: readonly TopologySpreadConstraint[];
  /** Host ports of the pod's containers (NodePorts). */
  hostPorts?: readonly HostPort[];
  /** Bound PersistentVolumes that constrain the node (VolumeBinding / VolumeZone). */
  persistentVolumes?: readonly VolumeConstraint[];
  /**
   * PersistentVolumeClaims the pod uses that could not be resolved to a bound PV (unbound claim
   * with WaitForFirstConsumer, or the claim is missing): not constraining, listed for reasons.
   */
  unresolvedClaims?: readonly string[];
  /** Kind of the controlling owner (ReplicaSet, StatefulSet, DaemonSet, Job, ...). */
  ownerKind?: string;
  /** Bound node, if any. */
  nodeName?: string;
}

/** The minimal node shape the simulation needs. */
export interface SimNode {
  name: string;
  labels: LabelMap;
  taints?: readonly Taint[];
  allocatable: Resources;
  unschedulable?: boolean;
  /** Pressure conditions that are True on the node (their taints are in `taints`). */
  pressure?: readonly NodePressure[];
}

/** Stable identity of a pod within one decision: `namespace/name`. */
export function podKey(pod: Pick<SimPod, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

/** a + sign * b over the extended resources (undefined when neither has any). */
export function combineExtended(
  a: Readonly<Record<string, number>> | undefined,
  b: Readonly<Record<string, number>> | undefined,
  sign: 1 | -1,
): Record<string, number> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, number> = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + sign * v;
  return out;
}

export function addResources(a: Resources, b: Resources): Resources {
  const r: Resources = {
    cpuMilli: a.cpuMilli + b.cpuMilli,
    memoryBytes: a.memoryBytes + b.memoryBytes,
    pods: a.pods + b.pods,
    ephemeralStorageBytes: a.ephemeralStorageBytes + b.ephemeralStorageBytes,
  };
  const e = combineExtended(a.extended, b.extended, 1);
  if (e) r.extended = e;
  return r;
}

export function subtractResources(a: Resources, b: Resources): Resources {
  const r: Resources = {
    cpuMilli: a.cpuMilli - b.cpuMilli,
    memoryBytes: a.memoryBytes - b.memoryBytes,
    pods: a.pods - b.pods,
    ephemeralStorageBytes: a.ephemeralStorageBytes - b.ephemeralStorageBytes,
  };
  const e = combineExtended(a.extended, b.extended, -1);
  if (e) r.extended = e;
  return r;
}

/** Plain ordinal string comparison: defined once in lib/compare.ts, re-exported for decision code. */
export { compareStrings } from '../../lib/compare';
