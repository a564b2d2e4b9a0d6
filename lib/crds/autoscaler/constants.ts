/**
 * Names of the autoscaler's custom resources and their closed vocabularies (phases, condition
 * types, reasons). The CRD manifests in k8s/crds/ are the source of truth; these constants are
 * checked against them by test/unit/lib/crds/autoscaler/agreement.test.ts.
 */

export const GROUP = 'autoscaler.vpsie.com';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const NODEGROUP_KIND = 'NodeGroup';
export const NODEGROUP_PLURAL = 'nodegroups';
export const NODEGROUP_SINGULAR = 'nodegroup';
export const NODEGROUP_SHORT_NAME = 'ng';
export const NODEGROUP_CRD_NAME = `${NODEGROUP_PLURAL}.${GROUP}` as const;

export const VPSIENODE_KIND = 'VPSieNode';
export const VPSIENODE_PLURAL = 'vpsienodes';
export const VPSIENODE_SINGULAR = 'vpsienode';
export const VPSIENODE_SHORT_NAME = 'vn';
export const VPSIENODE_CRD_NAME = `${VPSIENODE_PLURAL}.${GROUP}` as const;

/** On every Node and VPSieNode of a group; the value is the NodeGroup's name. */
export const NODEGROUP_LABEL = `${GROUP}/nodegroup` as const;
/** Finalizer the orchestrator puts on a VPSieNode until its VPSie machine is gone. */
export const VPSIENODE_FINALIZER = `${GROUP}/vpsie-machine` as const;
/** The namespace the product documents put NodeGroups in. */
export const DEFAULT_NODEGROUP_NAMESPACE = 'kube-system';

export const JOIN_METHODS = ['ManagedKubernetes', 'UserData'] as const;
export type JoinMethod = (typeof JOIN_METHODS)[number];

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/** What a scale-down judges a node's utilisation from (scaleDownPolicy.utilizationSource). */
export const UTILIZATION_SOURCES = ['requests', 'usage', 'both'] as const;
export type UtilizationSource = (typeof UTILIZATION_SOURCES)[number];

/** The VPSieNode state machine. Any phase may go to Failed; Deleted is final. */
export const VPSIENODE_PHASES = ['Pending', 'Provisioning', 'Provisioned', 'Joining', 'Ready', 'Terminating', 'Deleting', 'Deleted', 'Failed'] as const;
export type VPSieNodePhase = (typeof VPSIENODE_PHASES)[number];

/** Key of `status.phaseTimes` for each phase. */
export const PHASE_TIME_KEYS = {
  Pending: 'pending',
  Provisioning: 'provisioning',
  Provisioned: 'provisioned',
  Joining: 'joining',
  Ready: 'ready',
  Terminating: 'terminating',
  Deleting: 'deleting',
  Deleted: 'deleted',
  Failed: 'failed',
} as const satisfies Record<VPSieNodePhase, string>;
export type PhaseTimeKey = (typeof PHASE_TIME_KEYS)[VPSieNodePhase];

// ---- NodeGroup conditions ------------------------------------------------------------------

export const NODEGROUP_CONDITION_TYPES = ['Ready', 'Scaling', 'AtMinCapacity', 'AtMaxCapacity', 'Error'] as const;
export type NodeGroupConditionType = (typeof NODEGROUP_CONDITION_TYPES)[number];

/** Which reasons each NodeGroup condition type uses. Error reasons are shared with Events. */
export const NODEGROUP_REASONS_BY_CONDITION = {
  Ready: ['AllNodesReady', 'NodesNotReady', 'BelowMinNodes'],
  Scaling: ['ScalingUp', 'ScalingDown', 'NotScaling', 'CooldownActive', 'DryRun'],
  AtMinCapacity: ['AtMinNodes', 'AboveMinNodes'],
  AtMaxCapacity: ['AtMaxNodes', 'BelowMaxNodes'],
  Error: [
    'NoError',
    'InvalidConfiguration',
    'DatacenterNotFound',
    'OfferingNotFound',
    'ImageNotFound',
    'ProvisioningFailed',
    'JoinFailed',
    'DrainFailed',
    'QuotaExceeded',
    'VPSieAPIError',
  ],
} as const satisfies Record<NodeGroupConditionType, readonly string[]>;

export const NODEGROUP_REASONS = [
  ...NODEGROUP_REASONS_BY_CONDITION.Ready,
  ...NODEGROUP_REASONS_BY_CONDITION.Scaling,
  ...NODEGROUP_REASONS_BY_CONDITION.AtMinCapacity,
  ...NODEGROUP_REASONS_BY_CONDITION.AtMaxCapacity,
  ...NODEGROUP_REASONS_BY_CONDITION.Error,
] as const;
export type NodeGroupReason = (typeof NODEGROUP_REASONS)[number];
export type NodeGroupReasonFor<T extends NodeGroupConditionType> = (typeof NODEGROUP_REASONS_BY_CONDITION)[T][number];

// ---- VPSieNode conditions and errors -------------------------------------------------------

/** Every VPSieNode condition reason, each once, in the CRD's order. */
export const VPSIENODE_REASONS = [
  'VPSRequested',
  'VPSCreating',
  'VPSRunning',
  'VPSStopped',
  'VPSDeleting',
  'VPSDeleted',
  'AwaitingNode',
  'NodeRegistered',
  'NodeReady',
  'NodeNotReady',
  'NotDraining',
  'DrainInProgress',
  'DrainComplete',
  'NoError',
  'InvalidConfiguration',
  'DatacenterNotFound',
  'OfferingNotFound',
  'ImageNotFound',
  'VPSCreateFailed',
  'VPSCreateTimeout',
  'VPSNotFound',
  'QuotaExceeded',
  'VPSieAPIError',
  'JoinTimeout',
  'DrainFailed',
  'VPSDeleteFailed',
  'NotOwnedByNodeGroup',
] as const;
export type VPSieNodeReason = (typeof VPSIENODE_REASONS)[number];
/** Why a VPSieNode failed (status.lastError.reason); also the Error condition's reasons. */
export const VPSIENODE_ERROR_REASONS = [
  'InvalidConfiguration',
  'DatacenterNotFound',
  'OfferingNotFound',
  'ImageNotFound',
  'VPSCreateFailed',
  'VPSCreateTimeout',
  'VPSNotFound',
  'QuotaExceeded',
  'VPSieAPIError',
  'JoinTimeout',
  'NodeNotReady',
  'DrainFailed',
  'VPSDeleteFailed',
] as const satisfies readonly VPSieNodeReason[];
export type VPSieNodeErrorReason = (typeof VPSIENODE_ERROR_REASONS)[number];

export const VPSIENODE_CONDITION_TYPES = ['VPSRunning', 'NodeRegistered', 'Ready', 'Draining', 'Error'] as const;
export type VPSieNodeConditionType = (typeof VPSIENODE_CONDITION_TYPES)[number];

export const VPSIENODE_REASONS_BY_CONDITION = {
  VPSRunning: ['VPSRequested', 'VPSCreating', 'VPSRunning', 'VPSStopped', 'VPSDeleting', 'VPSDeleted', 'VPSCreateFailed', 'VPSCreateTimeout', 'VPSNotFound'],
  NodeRegistered: ['AwaitingNode', 'NodeRegistered', 'JoinTimeout'],
  Ready: ['NodeReady', 'NodeNotReady'],
  Draining: ['NotDraining', 'DrainInProgress', 'DrainComplete', 'DrainFailed'],
  Error: [
    'NoError',
    'InvalidConfiguration',
    'DatacenterNotFound',
    'OfferingNotFound',
    'ImageNotFound',
    'VPSCreateFailed',
    'VPSCreateTimeout',
    'VPSNotFound',
    'QuotaExceeded',
    'VPSieAPIError',
    'JoinTimeout',
    'DrainFailed',
    'VPSDeleteFailed',
    // Refused at the start of its lifecycle: not owned by an existing NodeGroup (no phase, no machine).
    'NotOwnedByNodeGroup',
  ],
} as const satisfies Record<VPSieNodeConditionType, readonly VPSieNodeReason[]>;

export type VPSieNodeReasonFor<T extends VPSieNodeConditionType> = (typeof VPSIENODE_REASONS_BY_CONDITION)[T][number];

/** Annotation on a VPSieNode: the scale-up request (or reconcile step) that created it. */
export const REQUEST_ID_ANNOTATION = `${GROUP}/request-id` as const;
/** Annotation on a VPSieNode: the typed reason it was created for. */
export const CREATE_REASON_ANNOTATION = `${GROUP}/create-reason` as const;
/**
 * Annotation on a VPSieNode created by a scale-up: the uids of the pending pods it was planned for
 * (JSON array), set in the same create call. A later snapshot counts those pods on the in-flight
 * node, so they never cause a second scale-up and their room is not handed to other pods.
 */
export const TRIGGERED_PODS_ANNOTATION = `${GROUP}/scale-up-pods` as const;
/**
 * Annotation on a VPSieNode still in flight: uids of pending pods a scale-up found room for on it
 * (JSON array), so later snapshots do not hand that room to other pods as well.
 */
export const HELD_PODS_ANNOTATION = `${GROUP}/held-pods` as const;
