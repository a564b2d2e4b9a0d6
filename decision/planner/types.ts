/**
 * Scale-up planner input and decision record. Plain data only (JSON-serialisable), so the decision
 * can be returned from a Temporal workflow / activity and logged as one record.
 */
import type { LabelMap, Resources, SimNode, SimPod, Taint } from '../scheduling/types';

/** A VPSie plan a NodeGroup may create nodes from. Capacities are the node's allocatable. */
export interface Offering {
  id: string;
  nickname: string;
  category?: string;
  cpuMilli: number;
  memoryBytes: number;
  pods: number;
  ephemeralStorageBytes: number;
  monthlyPrice: number;
  /** Zone label value for nodes of this offering; defaults to the group's zone. */
  zone?: string;
  datacenter?: string;
}

export interface NodeGroup {
  name: string;
  namespace: string;
  minNodes: number;
  maxNodes: number;
  /** Nodes of the group that exist or are being provisioned (in-flight included). */
  currentNodes: number;
  offerings: readonly Offering[];
  /**
   * Offering id (or nickname) preferred: chosen over cheaper offerings while the plan's monthly
   * price with it stays within `preferredTolerancePercent` of the cheapest plan; the tie-break on
   * equal prices otherwise.
   */
  preferredInstanceType?: string;
  /** How much dearer (percent of the cheapest plan's monthly price) the plan with the preferred offering may be. Default 10. */
  preferredTolerancePercent?: number;
  /**
   * false: every new node of the group uses one offering — the offering of the group's existing
   * nodes when it has any (see `existingOfferings`), else one chosen for the whole decision.
   */
  allowMixedInstances: boolean;
  /**
   * Offering references (id or nickname) of the group's live nodes, with their counts. With
   * allowMixedInstances=false the group is locked to the most common one (ties: the lowest
   * reference) when the group still offers it; an offering no longer offered does not lock.
   */
  existingOfferings?: Readonly<Record<string, number>>;
  /** Higher first; price decides within a priority. Default 0. */
  priority?: number;
  labels?: LabelMap;
  taints?: readonly Taint[];
  zone?: string;
}

/** An existing or in-flight node with the pods bound (or nominated) to it. */
export interface ClusterNode {
  node: SimNode;
  pods: readonly SimPod[];
  nodeGroup?: string;
}

export interface PlannerInput {
  pendingPods: readonly SimPod[];
  existingNodes: readonly ClusterNode[];
  /** Nodes being provisioned, with their expected allocatable, labels and taints. */
  inFlightNodes: readonly ClusterNode[];
  nodeGroups: readonly NodeGroup[];
  /** DaemonSet pod templates; each adds its requests to every new node it would schedule onto. */
  daemonSetPods: readonly SimPod[];
  /** Cluster-wide node limit (existing + in-flight + new). */
  maxClusterNodes: number;
  /** Hours used to convert monthly to hourly prices. Default 730. */
  hoursPerMonth?: number;
  /** Open empty nodes so groups below minNodes reach it (pending pods fill them first). Default true. */
  enforceMinNodes?: boolean;
}

/** Why a pending pod is not placed (closed set). */
export type UnplacedReason =
  | 'DaemonSetPod'
  | 'NoNodeGroups'
  | 'NoGroupMatchesSelector'
  | 'TaintNotTolerated'
  | 'TooLargeForAnyOffering'
  | 'ExtendedResourceNotOffered'
  | 'MixedInstancesPolicy'
  | 'MaxNodesReached'
  | 'ClusterLimitReached'
  | 'AffinityUnsatisfiable'
  | 'AntiAffinityUnsatisfiable'
  | 'TopologySpreadUnsatisfiable';

export const UNPLACED_REASONS: readonly UnplacedReason[] = [
  'DaemonSetPod',
  'NoNodeGroups',
  'NoGroupMatchesSelector',
  'TaintNotTolerated',
  'TooLargeForAnyOffering',
  'ExtendedResourceNotOffered',
  'MixedInstancesPolicy',
  'MaxNodesReached',
  'ClusterLimitReached',
  'AffinityUnsatisfiable',
  'AntiAffinityUnsatisfiable',
  'TopologySpreadUnsatisfiable',
];

export interface UnplacedPod {
  pod: string;
  reason: UnplacedReason;
  message: string;
  /** The numbers behind the reason (requests, largest capacity, limits...). */
  numbers: Readonly<Record<string, number>>;
}

export interface PlannedNode {
  name: string;
  group: string;
  offeringId: string;
  nickname: string;
  zone: string | undefined;
  monthlyPrice: number;
  /** Offering allocatable. */
  allocatable: Resources;
  daemonSetOverhead: Resources;
  /** Sum of the assigned pods' requests plus DaemonSet overhead. */
  requested: Resources;
  /** Pod keys (`namespace/name`) in placement order. */
  pods: string[];
  /** True for empty nodes opened only to reach the group's minNodes. */
  forMinNodes: boolean;
  /** Labels the node is expected to carry (group labels, zone, instance type, hostname, group). */
  labels: LabelMap;
}

export interface GroupScaleUp {
  group: string;
  namespace: string;
  priority: number;
  currentNodes: number;
  maxNodes: number;
  /** New node count per offering, sorted by offering id. */
  offerings: { offeringId: string; nickname: string; count: number; monthlyPrice: number }[];
  newNodes: number;
  monthlyPrice: number;
  hourlyPrice: number;
  nodes: PlannedNode[];
}

export interface Placement {
  pod: string;
  node: string;
  /** Where the node comes from. */
  target: 'existing' | 'inFlight' | 'new';
}

/** How a group's preferredInstanceType weighed against the cheapest plan. */
export interface PreferenceChoice {
  group: string;
  namespace: string;
  preferred: string;
  tolerancePercent: number;
  /** Monthly price of the cheapest plan (the planner without the preference). */
  cheapestMonthlyPrice: number;
  /** Monthly price of the plan that uses the preferred offering for the group. */
  preferredMonthlyPrice: number;
  /** Which plan the decision took. */
  chosen: 'preferred' | 'cheapest';
  message: string;
}

export interface ScaleUpDecision {
  /** Groups that get new nodes, sorted by name. */
  groups: GroupScaleUp[];
  newNodes: number;
  monthlyPrice: number;
  hourlyPrice: number;
  /** Pods that fit on existing or in-flight nodes (no scale-up needed for them). */
  fitsExisting: Placement[];
  unplaced: UnplacedPod[];
  /** Every placement in decision order (replaying them in order re-verifies the plan). */
  placements: Placement[];
  /** Which packing produced the record: the cost-directed planner or the first-fit-decreasing baseline. */
  strategy: 'cost' | 'ffd';
  /** Groups whose preferredInstanceType changed (or could have changed) the plan: the prices compared and the choice. */
  preferences?: PreferenceChoice[];
  stats: { pendingPods: number; podClasses: number; placed: number; unplaced: number };
}
