/**
 * The effective settings one coordination object decides with (the object's spec over its tenant
 * tier over the global configuration, settled by the caller). Durations in ms. Pure data.
 */
import type { CoordinationStrategy } from '../../lib/crds/platform/constants';

export interface BreakerSettings {
  enabled: boolean;
  /** Node changes in NODE_CHURN_WINDOW_MS above this trip the breaker. */
  nodeChurnThreshold: number;
  /** Evictions in EVICTION_WINDOW_MS above this trip the breaker. */
  evictionThreshold: number;
  /** Percent: a recommendation reversing direction by more than this trips the breaker. */
  oscillationThreshold: number;
  /** Open (updates paused) for this long after a trip. */
  cooldownMs: number;
  /** The tier's extra limits (document 002): node changes in one hour, evictions in one minute. */
  nodeChurnPerHour?: number;
  evictionRatePerMinute?: number;
}

export interface CoordinationSettings {
  strategy: CoordinationStrategy;
  enabled: boolean;
  breaker: BreakerSettings;
  /** The half-open Cooldown after the breaker's cooldown: a new conflict re-trips. */
  halfOpenMs: number;
  maxConflictsPerHour: number;
  maxResourceChangePercent: number;
  /** coordinated: rightsizing waits this long after a node action. */
  vpaUpdateDelayMs: number;
  /** coordinated: scale-down and consolidation wait this long after a rightsizing update. */
  napActionDelayMs: number;
}

export const NODE_CHURN_WINDOW_MS = 5 * 60_000;
export const EVICTION_WINDOW_MS = 10 * 60_000;
export const HOUR_MS = 60 * 60_000;
export const MINUTE_MS = 60_000;
/** An eviction or upsizing followed by a node added within this is an EvictionScaleUp. */
export const EVICTION_SCALE_UP_WINDOW_MS = 5 * 60_000;
/** A node removed followed by an eviction within this is a ScaleDownEviction. */
export const SCALE_DOWN_EVICTION_WINDOW_MS = 10 * 60_000;

/** Document 000's global defaults (coordinator-config.yaml), used when no configuration is given. */
export const DEFAULT_SETTINGS: CoordinationSettings = {
  strategy: 'coordinated',
  enabled: true,
  breaker: { enabled: true, nodeChurnThreshold: 5, evictionThreshold: 20, oscillationThreshold: 30, cooldownMs: 30 * MINUTE_MS },
  halfOpenMs: 30 * MINUTE_MS,
  maxConflictsPerHour: 3,
  maxResourceChangePercent: 50,
  vpaUpdateDelayMs: 5 * MINUTE_MS,
  napActionDelayMs: 10 * MINUTE_MS,
};

/** The decision's settings from the settled ones (decision/coordination/tiers.ts settingsFor). */
export function fromEffective(e: {
  strategy: CoordinationStrategy;
  enabled: boolean;
  breaker: Omit<BreakerSettings, 'cooldownMs'> & { cooldownMinutes: number };
  conflictPrevention: { maxResourceChangePercent: number; cooldownPeriodMinutes: number; maxConflictsPerHour: number };
  delays: { vpaUpdateDelayMs: number; napActionDelayMs: number };
}): CoordinationSettings {
  const { cooldownMinutes, ...b } = e.breaker;
  return {
    strategy: e.strategy,
    enabled: e.enabled,
    breaker: { ...b, cooldownMs: cooldownMinutes * MINUTE_MS },
    halfOpenMs: e.conflictPrevention.cooldownPeriodMinutes * MINUTE_MS,
    maxConflictsPerHour: e.conflictPrevention.maxConflictsPerHour,
    maxResourceChangePercent: e.conflictPrevention.maxResourceChangePercent,
    vpaUpdateDelayMs: e.delays.vpaUpdateDelayMs,
    napActionDelayMs: e.delays.napActionDelayMs,
  };
}
