/**
 * Names of OptiPod's custom resource (optipod.io/v1alpha1 OptimizationPolicy) and its closed
 * vocabularies. k8s/crds/optipod.io_optimizationpolicies.yaml is the source of truth; these
 * constants are checked against it by test/unit/crds/agreement.test.ts.
 */

export const OPTIPOD_GROUP = 'optipod.io';
export const OPTIPOD_VERSION = 'v1alpha1';
export const OPTIPOD_API_VERSION = `${OPTIPOD_GROUP}/${OPTIPOD_VERSION}` as const;

export const OPTIMIZATIONPOLICY_KIND = 'OptimizationPolicy';
export const OPTIMIZATIONPOLICY_PLURAL = 'optimizationpolicies';
export const OPTIMIZATIONPOLICY_SINGULAR = 'optimizationpolicy';
export const OPTIMIZATIONPOLICY_SHORT_NAME = 'optpol';
export const OPTIMIZATIONPOLICY_CRD_NAME = `${OPTIMIZATIONPOLICY_PLURAL}.${OPTIPOD_GROUP}` as const;

export const POLICY_MODES = ['Auto', 'Recommend', 'Disabled'] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export const METRICS_PROVIDERS = ['metrics-server', 'prometheus'] as const;
export type MetricsProviderName = (typeof METRICS_PROVIDERS)[number];

export const PERCENTILES = ['P50', 'P90', 'P99'] as const;
export type Percentile = (typeof PERCENTILES)[number];
/** The quantile each percentile name stands for. */
export const PERCENTILE_QUANTILE = { P50: 0.5, P90: 0.9, P99: 0.99 } as const satisfies Record<Percentile, number>;

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

/** Defaults of the CRD (document 003's example policy and global configuration). */
export const POLICY_DEFAULTS = {
  mode: 'Recommend',
  weight: 100,
  rollingWindow: '24h',
  percentile: 'P90',
  safetyFactor: 1.2,
  allowInPlaceResize: true,
  allowRecreate: false,
  updateRequestsOnly: true,
  changeThresholdPercent: 10,
  maxChangePercent: 50,
  cooldown: '1h',
  memoryMarginPercent: 10,
  minReplicasForRecreate: 2,
  allowSingleReplicaRecreate: false,
  resizeDeferredTimeout: '5m',
  reconciliationInterval: '5m',
} as const;

export const POLICY_CONDITION_TYPES = ['Ready'] as const;
export type PolicyConditionType = (typeof POLICY_CONDITION_TYPES)[number];

/** Reasons of the Ready condition (a closed set, shared with Events and logs). */
export const POLICY_READY_REASONS = ['PolicyValid', 'PolicyInvalid', 'PolicyDisabled', 'MetricsUnavailable', 'NoMatchingWorkloads', 'Reconciling'] as const;
export type PolicyReadyReason = (typeof POLICY_READY_REASONS)[number];

export const WORKLOAD_OUTCOMES = ['Recommended', 'Applied', 'Skipped', 'Failed'] as const;
export type WorkloadOutcome = (typeof WORKLOAD_OUTCOMES)[number];

/** InPlace: pods/resize; Admission: no pod to resize, new pods are sized at admission; Recreate: evicted one at a time. */
export const APPLY_METHODS = ['InPlace', 'Admission', 'Recreate', 'None'] as const;
export type ApplyMethod = (typeof APPLY_METHODS)[number];

/** Why a workload's recommendation was not applied (status, Events, optipod_workloads_skipped{reason}). */
export const SKIP_REASONS = [
  'MetricsUnavailable',
  'InsufficientData',
  'Forbidden',
  'RecommendMode',
  'DryRun',
  'PolicyDisabled',
  'OverriddenByPolicy',
  'InPlaceResizeUnavailable',
  'RecreateNotAllowed',
  'MemoryDecreaseUnsafe',
  'NoChangeNeeded',
  'WorkloadNotFound',
  'Conflict',
  'AdmissionRejected',
  'QuotaExceeded',
  'Cooldown',
  'TooFewReplicas',
  'QoSClassChange',
  'ResizeInfeasible',
  'ResizeDeferred',
  'ResizeFailed',
  'EvictionBlocked',
  'RecreateTimedOut',
  // coordination (decision/coordination/gate.ts)
  'CircuitBreakerOpen',
  'CoordinationDelay',
  'RateLimited',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** How a target was obtained. */
export const RECOMMENDATION_REASONS = ['Percentile', 'OOMBump'] as const;
export type RecommendationReason = (typeof RECOMMENDATION_REASONS)[number];

/** Which of spec.resourceBounds changed a target. */
export const CAPPED_BY = ['None', 'Min', 'Max'] as const;
export type CappedBy = (typeof CAPPED_BY)[number];

/** Caps of status lists (also maxItems in the CRD): a policy over any number of workloads stays small. */
export const STATUS_MAX_WORKLOADS = 100;
export const STATUS_MAX_CONTAINERS = 8;
export const STATUS_MAX_MESSAGE = 256;
