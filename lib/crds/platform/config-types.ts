/**
 * The coordination configuration as typed values: the global configuration of document 000
 * (k8s/config/coordinator-config.yaml) and the tenant tiers of documents 000 and 002
 * (k8s/config/tenant-tier-config.yaml), with percentages, quantities and durations already turned
 * into numbers. Pure: lib/coordination-config.ts reads and validates the files; decision code
 * (decision/coordination/tiers.ts) computes with these.
 */
import { VPA_UPDATE_MODES, type CoordinationStrategy, type TenantTier, type VpaUpdateMode } from './constants';

export interface CoordinatorConfig {
  circuitBreaker: {
    /** Node changes in 5 minutes above this trip the breaker. */
    nodeChurnThreshold: number;
    /** Evictions in 10 minutes above this trip the breaker. */
    evictionThreshold: number;
    /** Percent: a recommendation oscillating by more than this trips the breaker. */
    resourceOscillationPercent: number;
    cooldownMinutes: number;
  };
  delays: {
    /** coordinated: after a node action, rightsizing waits this long (document: vpaUpdateDelay). */
    vpaUpdateDelayMs: number;
    /** coordinated: after a rightsizing update, node scale-down waits this long (napActionDelay). */
    napActionDelayMs: number;
  };
  rateLimiting: {
    /** Rightsizing updates per hour, cluster-wide. */
    maxVPAUpdatesPerHour: number;
    /** Rightsizing updates per hour in one namespace. */
    maxVPAUpdatesPerNamespace: number;
  };
  monitoring: { metricsIntervalMs: number; healthCheckIntervalMs: number; conflictCheckIntervalMs: number };
}

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export interface TenantTierSettings {
  vpa: {
    /** The most disruptive update mode the tier allows (see allowedUpdateModes). */
    updateMode: VpaUpdateMode;
    /** Largest change of a request in one update, percent (document: maxResourceChange "200%"). */
    maxResourceChangePercent: number;
    /** Minimum time between two updates of one workload, and the half-open period after a trip. */
    cooldownMinutes: number;
    /** Document 002's strategy for the tier. */
    coordinationStrategy: CoordinationStrategy;
  };
  resources: {
    /** As written ("2", "4Gi"), for messages and the admission parameters. */
    maxCPU: string;
    maxMemory: string;
    maxCpuMilli: number;
    maxMemoryBytes: number;
  };
  monitoring: { alertSeverity: AlertSeverity };
  /** Document 002's node pool for the tier's workloads (the `node-pool` label). */
  nodePool: string;
  /** Document 002's tenant-specific breaker thresholds. */
  circuitBreaker: { nodeChurnPerHour: number; evictionRatePerMinute: number; cooldownMinutes: number };
}

export type TenantTierConfig = Record<TenantTier, TenantTierSettings>;

export interface CoordinationConfig {
  coordinator: CoordinatorConfig;
  tiers: TenantTierConfig;
}

/**
 * How disruptive each VPA update mode is: Off changes nothing, Initial sizes new pods only, the
 * others change running pods. A tier allows its own mode and every less disruptive one.
 */
export const UPDATE_MODE_RANK: Record<VpaUpdateMode, number> = { Off: 0, Initial: 1, Recreate: 2, InPlaceOrRecreate: 2, InPlace: 2, Auto: 2 };

/** The update modes a tier whose most disruptive mode is `tierMode` allows, in VPA_UPDATE_MODES order. */
export function allowedUpdateModes(tierMode: VpaUpdateMode): VpaUpdateMode[] {
  return VPA_UPDATE_MODES.filter((m) => UPDATE_MODE_RANK[m] <= UPDATE_MODE_RANK[tierMode]);
}

/** OptimizationPolicy Auto (in-place or recreate) is allowed where the tier lets updates touch pods at all. */
export function optimizationAutoAllowed(tierMode: VpaUpdateMode): boolean {
  return UPDATE_MODE_RANK[tierMode] > 0;
}

/** Settings no configuration file names (document 000's example object uses them). */
export const COORDINATION_FALLBACKS = {
  /** conflictPrevention.maxResourceChangePercent outside any tier. */
  maxResourceChangePercent: 50,
  /** conflictPrevention.maxConflictsPerHour when the object does not set it. */
  maxConflictsPerHour: 3,
} as const;

/**
 * What admission holds a tier's objects to (k8s/admission/tenant-tiers.yaml reads these from the
 * generated ConfigMap; the Kyverno policies state the same numbers):
 *   - VPA container policies: minAllowed/maxAllowed cpu and memory at most maxCPU/maxMemory; the
 *     update mode one of updateModes;
 *   - OptimizationPolicy: resource bounds at most maxCPU/maxMemory; mode Auto only when allowed;
 *   - VPANAPCoordination: never looser than the tier — nodeChurnThreshold (per 5 min) at most the
 *     tier's node changes per hour, evictionThreshold (per 10 min) at most ten minutes of the tier's
 *     eviction rate, the breaker's cooldown at least the tier's, the half-open period at least the
 *     tier's update cooldown, maxResourceChangePercent at most the tier's maxResourceChange.
 */
export interface TierAdmissionLimits {
  maxCPU: string;
  maxMemory: string;
  updateMode: VpaUpdateMode;
  updateModes: VpaUpdateMode[];
  optimizationPolicyAuto: boolean;
  maxResourceChangePercent: number;
  maxNodeChurnThreshold: number;
  maxEvictionThreshold: number;
  minBreakerCooldownMinutes: number;
  minCooldownPeriodMinutes: number;
}

export function tierAdmissionLimits(t: TenantTierSettings): TierAdmissionLimits {
  return {
    maxCPU: t.resources.maxCPU,
    maxMemory: t.resources.maxMemory,
    updateMode: t.vpa.updateMode,
    updateModes: allowedUpdateModes(t.vpa.updateMode),
    optimizationPolicyAuto: optimizationAutoAllowed(t.vpa.updateMode),
    maxResourceChangePercent: t.vpa.maxResourceChangePercent,
    maxNodeChurnThreshold: t.circuitBreaker.nodeChurnPerHour,
    maxEvictionThreshold: t.circuitBreaker.evictionRatePerMinute * 10,
    minBreakerCooldownMinutes: t.circuitBreaker.cooldownMinutes,
    minCooldownPeriodMinutes: t.vpa.cooldownMinutes,
  };
}
