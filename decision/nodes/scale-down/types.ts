/**
 * Input snapshot and decision record of the scale-down decision. Plain JSON data only, so the
 * snapshot can be an activity result and the decision a workflow value / history entry.
 *
 * Times are epoch milliseconds (the workflow passes `Date.now()` from its deterministic clock).
 */
import type { UtilizationSource } from '../../../lib/crds/autoscaler/constants';
import type { NodeGroupSpec } from '../../../lib/crds/autoscaler/nodegroup';
import type { Offering } from '../../planner/types';
import type { LabelMap, LabelSelector, SimNode, SimPod } from '../../scheduling/types';
import type { Blocker, ScaleDownReason } from './reasons';
import type { DrainSkipReason } from '../drain/reasons';
import type { UtilizationTracker, WindowViews } from './utilization';

/** A pod volume, reduced to what the local-storage rule needs. */
export interface PodVolume {
  name: string;
  /** emptyDir (with its medium), hostPath, or anything else (PVC, configMap, secret, projected...). */
  kind: 'emptyDir' | 'hostPath' | 'other';
  /** emptyDir medium: 'Memory' (tmpfs, not local disk) or '' (node disk). */
  medium?: string;
}

/** A pod as the scale-down decision sees it: the scheduling shape plus what the safety rules read. */
export interface ScaleDownPod extends SimPod {
  annotations?: LabelMap;
  volumes?: readonly PodVolume[];
  /** metadata.deletionTimestamp is set. */
  terminating?: boolean;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  /** spec.terminationGracePeriodSeconds (Kubernetes default 30). */
  terminationGracePeriodSeconds?: number;
}

export interface ScaleDownNode {
  node: SimNode;
  annotations?: LabelMap;
  /** Name of the NodeGroup (label autoscaler.vpsie.com/nodegroup); absent for unmanaged nodes. */
  nodeGroup?: string;
  /** The VPSieNode object standing for this node, for the scale-down request. */
  vpsieNode?: string;
  /** Offering id or nickname the node was created from (prices consolidation). */
  offeringId?: string;
  /** Default true. A NotReady node is never a destination of moved pods. */
  ready?: boolean;
  /** Current usage from metrics-server (NodeMetrics), when known. */
  usage?: { cpuMilli: number; memoryBytes: number };
  pods: readonly ScaleDownPod[];
}

/** A PodDisruptionBudget: selector plus either the controller's `disruptionsAllowed` or the spec and counts. */
export interface PdbInfo {
  name: string;
  namespace: string;
  /** Absent selector matches no pod; an empty selector matches every pod of the namespace (policy/v1). */
  selector?: LabelSelector;
  /** status.disruptionsAllowed, when the disruption controller has observed the PDB. */
  disruptionsAllowed?: number;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  /** status.currentHealthy */
  currentHealthy?: number;
  /** status.expectedPods */
  expectedPods?: number;
}

/** The parts of a NodeGroup spec the scale-down decision reads (the zod output type of the CRD). */
export type ScaleDownSpec = Pick<
  NodeGroupSpec,
  'minNodes' | 'maxNodes' | 'dryRun' | 'scaleDownPolicy' | 'scaleUpPolicy' | 'disruptionBudget' | 'consolidation'
> &
  Partial<Pick<NodeGroupSpec, 'labels' | 'taints' | 'allowMixedInstances' | 'preferredInstanceType' | 'priority'>>;

export interface ScaleDownGroup {
  name: string;
  namespace: string;
  spec: ScaleDownSpec;
  /** Nodes of the group that exist or are being provisioned (status.currentNodes). */
  currentNodes: number;
  /** The offerings the group can create (with prices): consolidation replacements and node prices. */
  offerings?: readonly Offering[];
  zone?: string;
  deleting?: boolean;
  scaleUpInProgress?: boolean;
  lastScaleUpAt?: number;
  lastFailedDrainAt?: number;
  /** Coordination (issue #16): a coordinated rightsizing update was made; scale-down and consolidation wait until then (napActionDelay). */
  coordinationHoldUntil?: number;
  /** The VPANAPCoordination (namespace/name) whose update holds it. */
  coordinationHoldBy?: string;
}

export interface InFlightRemoval {
  nodeGroup: string;
  /** Kubernetes node name (may be absent when the node is already gone). */
  nodeName?: string;
  vpsieNode?: string;
}

export interface ScaleDownInput {
  now: number;
  nodes: readonly ScaleDownNode[];
  pdbs: readonly PdbInfo[];
  groups: readonly ScaleDownGroup[];
  /** Removals (drains / terminations) already under way; they count against budgets and minNodes. */
  inFlightRemovals: readonly InFlightRemoval[];
  /** Utilisation history (see utilization.ts). Absent: only the current requests are known. */
  utilization?: UtilizationTracker;
  /** Used when `utilization` is absent: the tracker's views, precomputed (utilization.ts `windowViews`). */
  windowViews?: WindowViews;
  /** Hours per month for prices (default 730). */
  hoursPerMonth?: number;
}

// ---- decision record ------------------------------------------------------------------------------

export interface NodeUtilization {
  /** Current requested share of allocatable (0..1+). */
  cpu: number;
  memory: number;
  /**
   * Highest share over the window that the decision judged: of requests, of usage, or the larger of
   * both (scaleDownPolicy.utilizationSource). Usage unknown counts as nothing here (the node is
   * then no candidate: UsageUnknown).
   */
  windowMaxCpu: number;
  windowMaxMemory: number;
  /** Seconds of continuous observation so far (of usage when the source is `usage`), and the window required. */
  observedSeconds: number;
  windowSeconds: number;
  /** Thresholds applied, in percent. */
  cpuThreshold: number;
  memoryThreshold: number;
  /** What underutilisation was judged from (absent in records from before issue #17: requests). */
  source?: UtilizationSource;
  /** Peak requested shares over the window (max of history and now), when the source is `usage` or `both`. */
  requests?: { windowMaxCpu: number; windowMaxMemory: number };
  /** Peak used shares over the window and seconds of continuous usage observation, when usage is known. */
  usage?: { windowMaxCpu: number; windowMaxMemory: number; observedSeconds: number };
}

export interface PodMove {
  pod: string;
  /** Destination node (an existing node, or a replacement node's planned name). */
  node: string;
}

export type NodeOutcome = 'notCandidate' | 'blocked' | 'approved' | 'dryRun';

export interface NodeVerdict {
  node: string;
  nodeGroup?: string;
  vpsieNode?: string;
  utilization: NodeUtilization;
  /** Underutilised over the whole window (a scale-down candidate). */
  candidate: boolean;
  outcome: NodeOutcome;
  /** First failing rule (blocked / notCandidate), 'DryRun' for dry-run approvals. */
  reason?: ScaleDownReason;
  /** Every failing rule, in evaluation order (in a decision record: at most two per reason). */
  blockers: Blocker[];
  /** In a decision record (decision-record.ts): how many further blockers were left out. */
  omittedBlockers?: number;
  /** approved / dryRun: how the node goes. */
  kind?: 'delete' | 'consolidate';
  /** approved / dryRun: where each evicted pod would go. */
  moves?: PodMove[];
  /** Pods that would be evicted (namespace/name). */
  evictions?: string[];
  /** Monthly price of the node, when known. */
  monthlyPrice?: number;
}

export interface ReplacementNode {
  name: string;
  offeringId: string;
  nickname: string;
  monthlyPrice: number;
}

export interface ConsolidationRecord {
  nodeGroup: string;
  nodes: string[];
  replacements: ReplacementNode[];
  removedMonthlyPrice: number;
  replacementMonthlyPrice: number;
  savingMonthly: number;
  savingPercent: number;
  thresholdPercent: number;
  outcome: 'approved' | 'dryRun' | 'belowThreshold' | 'blocked';
  reason?: ScaleDownReason;
  blockers: Blocker[];
  moves: PodMove[];
}

export interface GroupVerdict {
  nodeGroup: string;
  namespace: string;
  /** Group gates that block every node of the group. */
  blockers: Blocker[];
  currentNodes: number;
  minNodes: number;
  inFlightRemovals: number;
  /** maxUnavailable resolved to a count for currentNodes. */
  budget: number;
  approved: number;
  dryRun: boolean;
  /** Mean requested share over the group's nodes, for vpsie_autoscaler_node_utilization. */
  utilization: { cpu: number; memory: number };
  consolidation?: ConsolidationRecord;
}

export interface Removal {
  node: string;
  nodeGroup: string;
  vpsieNode?: string;
  kind: 'delete' | 'consolidate';
  /** For consolidation: replacements that must be Ready before the drain. */
  replacements?: ReplacementNode[];
  evictions: string[];
  moves: PodMove[];
}

export interface ScaleDownDecision {
  now: number;
  /** Every node, sorted by name. */
  nodes: NodeVerdict[];
  /** Every group, sorted by namespace/name. */
  groups: GroupVerdict[];
  /** Approved removals (not dry-run), in decision order. */
  removals: Removal[];
  /** What dry-run groups would remove. */
  dryRunRemovals: Removal[];
  stats: { nodes: number; candidates: number; blocked: number; approved: number; dryRun: number };
}

export type { DrainSkipReason };
