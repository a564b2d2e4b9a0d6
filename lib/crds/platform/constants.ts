/**
 * Names of the coordination custom resource (platform.io/v1 VPANAPCoordination, document 000) and
 * its closed vocabularies: phases, strategies, conflict types, trip and reset reasons, event
 * kinds. k8s/crds/platform.io_vpanapcoordinations.yaml is the source of truth for the resource;
 * these constants are checked against it by the CRD agreement tests.
 */

export const PLATFORM_GROUP = 'platform.io';
export const PLATFORM_VERSION = 'v1';
export const PLATFORM_API_VERSION = `${PLATFORM_GROUP}/${PLATFORM_VERSION}` as const;

export const COORDINATION_KIND = 'VPANAPCoordination';
export const COORDINATION_PLURAL = 'vpanapcoordinations';
export const COORDINATION_SINGULAR = 'vpanapcoordination';
export const COORDINATION_SHORT_NAME = 'vnc';
export const COORDINATION_CRD_NAME = `${COORDINATION_PLURAL}.${PLATFORM_GROUP}` as const;

/** The upstream Kubernetes VPA the coordinator governs. */
export const VPA_GROUP = 'autoscaling.k8s.io';
export const VPA_VERSION = 'v1';
export const VPA_PLURAL = 'verticalpodautoscalers';
export const VPA_CHECKPOINT_PLURAL = 'verticalpodautoscalercheckpoints';
/** The updateMode enum of the VPA v1.8.1 CRD (unset means Recreate). */
export const VPA_UPDATE_MODES = ['Off', 'Initial', 'Recreate', 'InPlaceOrRecreate', 'InPlace', 'Auto'] as const;
/** What the VPA does when spec.updatePolicy.updateMode is unset. */
export const VPA_DEFAULT_UPDATE_MODE = 'Recreate';
export type VpaUpdateMode = (typeof VPA_UPDATE_MODES)[number];
/** Kept on a paused VPA: the updateMode to restore (so a restarted coordinator restores it too). */
export const PAUSED_UPDATE_MODE_ANNOTATION = 'platform.io/paused-update-mode';
/** Kept on a paused VPA: why, and since when (RFC 3339). */
export const PAUSED_REASON_ANNOTATION = 'platform.io/paused-reason';

export const COORDINATION_STRATEGIES = ['isolated', 'coordinated', 'disabled'] as const;
export type CoordinationStrategy = (typeof COORDINATION_STRATEGIES)[number];

export const COORDINATION_PHASES = ['Active', 'CircuitBreaker', 'Cooldown', 'Error'] as const;
export type CoordinationPhase = (typeof COORDINATION_PHASES)[number];

/**
 * Conflicts between rightsizing and node scaling (a closed set, shared by status, Events,
 * vpa_nap_conflicts_total{conflict_type} and logs):
 *   EvictionScaleUp      an eviction or upsizing of a governed workload, then a node added within the window
 *   ScaleDownEviction    a node removed, then an eviction of a governed workload within the window
 *   Oscillation          a recommendation that reverses direction by more than oscillationThreshold %
 *   DualGovernance       a workload governed by both a VPA and an OptimizationPolicy
 *   OutsideDedicatedPool (isolated) a governed pod running outside its dedicated node pool
 */
export const CONFLICT_TYPES = ['EvictionScaleUp', 'ScaleDownEviction', 'Oscillation', 'DualGovernance', 'OutsideDedicatedPool'] as const;
export type ConflictType = (typeof CONFLICT_TYPES)[number];

/**
 * Why the circuit breaker opened (status, Events, vpa_nap_circuit_breaker_triggered_total{reason}):
 *   NodeChurn        node changes in 5 min above nodeChurnThreshold (or the tier's nodeChurnPerHour in 1 h)
 *   EvictionStorm    evictions in 10 min above evictionThreshold (or the tier's evictionRatePerMinute in 1 min)
 *   Oscillation      a recommendation oscillating by more than oscillationThreshold %
 *   ConflictRate     more than maxConflictsPerHour conflicts in the last hour
 *   HalfOpenConflict a new conflict during the half-open Cooldown
 *   Manual           an operator (REST API or `temporal workflow signal`)
 */
export const TRIP_REASONS = ['NodeChurn', 'EvictionStorm', 'Oscillation', 'ConflictRate', 'HalfOpenConflict', 'Manual'] as const;
export type TripReason = (typeof TRIP_REASONS)[number];

/** Why the breaker closed or went half-open. */
export const RESET_REASONS = ['CooldownElapsed', 'QuietPeriodElapsed', 'Manual', 'BreakerDisabled'] as const;
export type ResetReason = (typeof RESET_REASONS)[number];

/** Node events (status.napEvents[].event). */
export const NAP_EVENT_KINDS = ['NodeScaleUp', 'NodeScaleDown', 'NodeConsolidation'] as const;
export type NapEventKind = (typeof NAP_EVENT_KINDS)[number];

/** Rightsizing events (status.vpaEvents[].event), from the upstream VPA or an OptimizationPolicy. */
export const VPA_EVENT_KINDS = ['Eviction', 'InPlaceResize', 'RecommendationUpdate'] as const;
export type VpaEventKind = (typeof VPA_EVENT_KINDS)[number];

/** status.napEvents and status.vpaEvents keep at most this many entries (newest last). */
export const STATUS_EVENTS_CAP = 20;

export const TENANT_TIERS = ['dev', 'standard', 'premium'] as const;
export type TenantTier = (typeof TENANT_TIERS)[number];
/** A tier named on the object or its namespace; else taken from the namespace name's prefix. */
export const TENANT_TIER_LABEL = 'tenant-tier';
export const TENANT_TIER_NAMESPACE_PREFIXES: Record<TenantTier, string> = {
  dev: 'tenant-dev-',
  standard: 'tenant-std-',
  premium: 'tenant-premium-',
};

/** Document 002's isolated strategy: dedicated pools and their taint. */
export const NODE_POOL_LABEL = 'node-pool';
export const VPA_MANAGED_TAINT = 'vpa-managed';

/**
 * The parameters of the tier admission policies (k8s/admission/tenant-tiers.yaml): one ConfigMap
 * generated from k8s/config/tenant-tier-config.yaml (lib/coordination-config.ts).
 */
export const TIER_LIMITS_NAMESPACE = 'platform-system';
export const TIER_LIMITS_CONFIGMAP = 'tenant-tier-limits';
/** A label value accepted for the standard tier besides `standard` (the namespace prefix's spelling). */
export const TENANT_TIER_ALIASES: Record<string, TenantTier> = { std: 'standard' };

/** Event reasons the coordination watcher counts as rightsizing updates of a pod. */
export const VPA_EVICTED_REASON = 'EvictedByVPA';
export const VPA_IN_PLACE_RESIZED_REASON = 'InPlaceResizedByVPA';
export const RIGHTSIZING_EVICTED_REASON = 'RightsizingEvicted';
/** On those Events of this project: the workload (Kind/namespace/name) and whether its requests grew. */
export const EVENT_WORKLOAD_ANNOTATION = 'platform.io/workload';
export const EVENT_INCREASE_ANNOTATION = 'platform.io/increase';
