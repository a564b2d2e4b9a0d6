/**
 * Tenant tiers (documents 000 and 002), pure:
 *   - `tierOf`: which tier an object is in — the `tenant-tier` label of the object, else of its
 *     namespace (dev, standard — `std` accepted —, premium; any other value is ignored), else the
 *     namespace name's prefix tenant-dev-, tenant-std-, tenant-premium-; else none. The admission
 *     policies of k8s/admission/tenant-tiers.yaml apply the same rule in CEL.
 *   - `settingsFor`: the settings one coordination object works with, each field from the
 *     object's spec, else its tier, else the global configuration (else a documented fallback).
 */
import {
  TENANT_TIERS,
  TENANT_TIER_ALIASES,
  TENANT_TIER_LABEL,
  TENANT_TIER_NAMESPACE_PREFIXES,
  type CoordinationStrategy,
  type TenantTier,
  type VpaUpdateMode,
} from '../../lib/crds/platform/constants';
import { COORDINATION_FALLBACKS, type CoordinationConfig } from '../../lib/crds/platform/config-types';
import type { VPANAPCoordinationSpec } from '../../lib/crds/platform/types';

const MINUTE_MS = 60_000;

export interface TierInput {
  objectLabels?: Readonly<Record<string, string>>;
  namespaceLabels?: Readonly<Record<string, string>>;
  namespace: string;
}

/** A label value as a tier (`std` is standard); undefined when it names none. */
export function tierFromLabel(value: string | undefined): TenantTier | undefined {
  if (value === undefined) return undefined;
  if ((TENANT_TIERS as readonly string[]).includes(value)) return value as TenantTier;
  return TENANT_TIER_ALIASES[value];
}

/** The namespace name's tier prefix, if any. */
export function tierFromNamespaceName(namespace: string): TenantTier | undefined {
  return TENANT_TIERS.find((t) => namespace.startsWith(TENANT_TIER_NAMESPACE_PREFIXES[t]));
}

export function tierOf(input: TierInput): TenantTier | undefined {
  return (
    tierFromLabel(input.objectLabels?.[TENANT_TIER_LABEL]) ??
    tierFromLabel(input.namespaceLabels?.[TENANT_TIER_LABEL]) ??
    tierFromNamespaceName(input.namespace)
  );
}

/** The part of a VPANAPCoordination spec the settings read (none: a workload without an object). */
export type SettingsSpec = Partial<Pick<VPANAPCoordinationSpec, 'coordinationStrategy' | 'enabled' | 'conflictPrevention' | 'circuitBreaker'>>;

export interface EffectiveBreaker {
  enabled: boolean;
  /** Node changes in 5 minutes above this trip the breaker. */
  nodeChurnThreshold: number;
  /** Evictions in 10 minutes above this trip the breaker. */
  evictionThreshold: number;
  /** Percent. */
  oscillationThreshold: number;
  cooldownMinutes: number;
  /** The tier's (document 002): node changes in one hour above this trip the breaker. */
  nodeChurnPerHour?: number;
  /** The tier's (document 002): evictions in one minute above this trip the breaker. */
  evictionRatePerMinute?: number;
}

export interface TierLimits {
  /** The most disruptive update mode the tier allows. */
  updateMode: VpaUpdateMode;
  maxChangePercent: number;
  /** Minimum time between two updates of one workload. */
  cooldownMs: number;
  maxCpuMilli: number;
  maxMemoryBytes: number;
  nodePool: string;
}

export interface EffectiveSettings {
  tier: TenantTier | undefined;
  strategy: CoordinationStrategy;
  enabled: boolean;
  breaker: EffectiveBreaker;
  conflictPrevention: {
    maxResourceChangePercent: number;
    /** The half-open period after the breaker's cooldown. */
    cooldownPeriodMinutes: number;
    maxConflictsPerHour: number;
  };
  delays: { vpaUpdateDelayMs: number; napActionDelayMs: number };
  rateLimits: { maxUpdatesPerHour: number; maxUpdatesPerNamespacePerHour: number };
  /** The tier's limits on rightsizing (undefined outside any tier). */
  tierLimits: TierLimits | undefined;
}

/**
 * Each field from the spec, else the tier, else the global configuration:
 *   strategy            spec.coordinationStrategy > tier vpa.coordinationStrategy > coordinated
 *   breaker.enabled     spec.circuitBreaker.enabled > true
 *   nodeChurnThreshold, evictionThreshold, oscillationThreshold
 *                       spec.circuitBreaker.* > global circuitBreaker (tiers have none)
 *   breaker.cooldownMinutes
 *                       spec.circuitBreaker.cooldownMinutes > tier circuitBreaker.cooldownMinutes > global
 *   nodeChurnPerHour, evictionRatePerMinute
 *                       the tier's only
 *   maxResourceChangePercent
 *                       spec.conflictPrevention > tier vpa.maxResourceChange > 50
 *   cooldownPeriodMinutes
 *                       spec.conflictPrevention > tier vpa.cooldownMinutes > global circuitBreaker.cooldownMinutes
 *   maxConflictsPerHour spec.conflictPrevention > 3
 *   delays, rate limits the global configuration's
 * A spec looser than its tier is refused at admission; an older one is taken as it is.
 */
export function settingsFor(spec: SettingsSpec | undefined, tier: TenantTier | undefined, config: CoordinationConfig): EffectiveSettings {
  const g = config.coordinator;
  const t = tier === undefined ? undefined : config.tiers[tier];
  const cb = spec?.circuitBreaker;
  const cp = spec?.conflictPrevention;
  const breaker: EffectiveBreaker = {
    enabled: cb?.enabled ?? true,
    nodeChurnThreshold: cb?.nodeChurnThreshold ?? g.circuitBreaker.nodeChurnThreshold,
    evictionThreshold: cb?.evictionThreshold ?? g.circuitBreaker.evictionThreshold,
    oscillationThreshold: cb?.oscillationThreshold ?? g.circuitBreaker.resourceOscillationPercent,
    cooldownMinutes: cb?.cooldownMinutes ?? t?.circuitBreaker.cooldownMinutes ?? g.circuitBreaker.cooldownMinutes,
  };
  if (t !== undefined) {
    breaker.nodeChurnPerHour = t.circuitBreaker.nodeChurnPerHour;
    breaker.evictionRatePerMinute = t.circuitBreaker.evictionRatePerMinute;
  }
  return {
    tier,
    strategy: spec?.coordinationStrategy ?? t?.vpa.coordinationStrategy ?? 'coordinated',
    enabled: spec?.enabled ?? true,
    breaker,
    conflictPrevention: {
      maxResourceChangePercent: cp?.maxResourceChangePercent ?? t?.vpa.maxResourceChangePercent ?? COORDINATION_FALLBACKS.maxResourceChangePercent,
      cooldownPeriodMinutes: cp?.cooldownPeriodMinutes ?? t?.vpa.cooldownMinutes ?? g.circuitBreaker.cooldownMinutes,
      maxConflictsPerHour: cp?.maxConflictsPerHour ?? COORDINATION_FALLBACKS.maxConflictsPerHour,
    },
    delays: { vpaUpdateDelayMs: g.delays.vpaUpdateDelayMs, napActionDelayMs: g.delays.napActionDelayMs },
    rateLimits: { maxUpdatesPerHour: g.rateLimiting.maxVPAUpdatesPerHour, maxUpdatesPerNamespacePerHour: g.rateLimiting.maxVPAUpdatesPerNamespace },
    tierLimits:
      t === undefined
        ? undefined
        : {
            updateMode: t.vpa.updateMode,
            maxChangePercent: t.vpa.maxResourceChangePercent,
            cooldownMs: t.vpa.cooldownMinutes * MINUTE_MS,
            maxCpuMilli: t.resources.maxCpuMilli,
            maxMemoryBytes: t.resources.maxMemoryBytes,
            nodePool: t.nodePool,
          },
  };
}
