/**
 * The shape of VPANAPCoordination (platform.io/v1) as TypeScript types, as in document 000. The zod
 * schemas of ./coordination.ts parse into these (checked at compile time there); the CRD YAML is
 * the source of truth.
 */
import type { ConflictType, CoordinationPhase, CoordinationStrategy, NapEventKind, TripReason, VpaEventKind } from './constants';

export interface ConflictPrevention {
  /** Largest change of a request in one update, percent. */
  maxResourceChangePercent?: number;
  /** The half-open Cooldown's length after the breaker's cooldown: a new conflict re-trips. */
  cooldownPeriodMinutes?: number;
  /** More conflicts than this in the last hour trip the breaker (ConflictRate). */
  maxConflictsPerHour?: number;
}

export interface CircuitBreakerSpec {
  enabled?: boolean;
  /** Node changes in 5 minutes above this trip the breaker. */
  nodeChurnThreshold?: number;
  /** Evictions in 10 minutes above this trip the breaker. */
  evictionThreshold?: number;
  /** A recommendation reversing direction by more than this percent trips the breaker. */
  oscillationThreshold?: number;
  /** How long updates stay paused once tripped. */
  cooldownMinutes?: number;
}

export interface VPANAPCoordinationSpec {
  vpaName: string;
  namespace: string;
  coordinationStrategy: CoordinationStrategy;
  enabled: boolean;
  conflictPrevention?: ConflictPrevention;
  circuitBreaker?: CircuitBreakerSpec;
}

export interface NapEventStatus {
  timestamp: string;
  event: NapEventKind;
  /** Nodes added or removed by this event. */
  nodeCount: number;
  node?: string;
}

export interface VpaEventStatus {
  timestamp: string;
  event: VpaEventKind;
  /** Kind/namespace/name of the workload, or the pod for an eviction. */
  target?: string;
  recommendation?: { cpu?: string; memory?: string };
}

export interface CoordinationCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface VPANAPCoordinationStatus {
  phase?: CoordinationPhase;
  lastUpdate?: string;
  observedGeneration?: number;
  conflictsDetected?: number;
  lastConflictTime?: string | null;
  lastConflictType?: ConflictType;
  napEvents?: NapEventStatus[];
  vpaEvents?: VpaEventStatus[];
  circuitBreakerTriggered?: boolean;
  cooldownUntil?: string | null;
  /** Why the breaker last opened, with the numbers. */
  circuitBreakerReason?: TripReason;
  circuitBreakerMessage?: string;
  /** The tier the object's settings come from, when any. */
  tenantTier?: string;
  conditions?: CoordinationCondition[];
}

/** Coordination's answer to the rightsizing gate for one namespace (decision/coordination/gate.ts). */
export type CoordinationSkipReason = 'CircuitBreakerOpen' | 'CoordinationDelay' | 'RateLimited';

export type CoordinationVerdict =
  { allowed: true; budget: number } | { allowed: false; reason: CoordinationSkipReason; message: string; numbers: Record<string, number>; retryAt?: number };

/** What the rightsizing cycle asks coordination (implemented over the hub's contracts by activities/coordination/advisor.ts). */
export interface CoordinationAdvisor {
  /** The namespace's verdict now; undefined when nothing coordinates it. */
  verdict(namespace: string, now: number): Promise<CoordinationVerdict | undefined>;
  /** Reserve `count` updates; the number granted (all when not coordinated). */
  reserve(namespace: string, count: number, key: string): Promise<number>;
}
