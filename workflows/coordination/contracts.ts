/**
 * The messages of the coordination capability: workflow ids, signals, queries and updates with
 * their payloads. One file, so the coordination workflows, the watcher, the REST API, the
 * rightsizing gate and the node scale-down agree on them (a capability reaches another only
 * through these).
 *
 * Shape:
 * - One entity workflow per VPANAPCoordination object (`coordinationWorkflowId`), started and
 *   signalled by the coordination watcher: it receives the rightsizing events of the workloads it
 *   governs (`vpaEventsSignal`), the node events near them (`napEventsSignal`, forwarded by the
 *   hub), and operator commands (`tripSignal` / `resetSignal`, or `circuitBreakerUpdate` which
 *   answers with the new state). `stateQuery` returns the object as the REST API shows it.
 * - One hub workflow for the cluster (`COORDINATION_HUB_WORKFLOW_ID`): the node events (from the
 *   Node watcher, batched), the cluster-wide and per-namespace update budgets, the objects'
 *   breaker states and the recent conflicts. The rightsizing gate asks it once per cycle
 *   (`admissionFactsQuery`) and reserves its updates (`reserveUpdatesUpdate`); the scale-down loop
 *   asks `scaleDownHoldQuery`.
 * Workflow-safe: no I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { lazily } from '../nodes/contracts';
import type { ConflictType, CoordinationPhase, CoordinationStrategy, NapEventKind, TripReason, VpaEventKind } from '../../lib/crds/platform/constants';
import type { VPANAPCoordinationSpec, VPANAPCoordinationStatus } from '../../lib/crds/platform/types';

// ---- ids ----------------------------------------------------------------------------------

export function coordinationWorkflowId(namespace: string, name: string): string {
  return `vpa-nap-coordination:${namespace}/${name}`;
}
/** The hub of a scope: the whole cluster (''), or one namespace for an orchestrator watching only it (WATCH_NAMESPACE). */
export function coordinationHubWorkflowId(scope = ''): string {
  return scope ? `vpa-nap-coordination-hub:${scope}` : 'vpa-nap-coordination-hub';
}
export const COORDINATION_HUB_WORKFLOW_ID = coordinationHubWorkflowId('');

// ---- observations -------------------------------------------------------------------------

/** A node added or removed (from the Node watch), enriched by the scale-up/scale-down decision records when one names it. */
export interface NapObservation {
  /** Epoch ms. */
  at: number;
  kind: NapEventKind;
  node: string;
  /** The node's pool (label node-pool) or NodeGroup, when known. */
  pool?: string;
  /** Namespaces of the pending pods the scale-up was for (from the scale-up record), when known. */
  forNamespaces?: string[];
  /** The decision record that explains it (e.g. scale-up run id, scale-down reason). */
  decision?: string;
}

/** A rightsizing event of a governed workload: an eviction/resize by the VPA updater or an OptimizationPolicy, or a new recommendation. */
export interface VpaObservation {
  at: number;
  kind: VpaEventKind;
  /** Who made it. */
  source: 'VPA' | 'OptimizationPolicy';
  /** Kind/namespace/name of the workload. */
  workload: string;
  /** The pod evicted or resized. */
  pod?: string;
  /** A recommendation's target (sum over containers): millicores / bytes. */
  recommendation?: { cpu?: number; memory?: number };
  /** Requests grew (an upsizing can need a node); false for a downsizing. */
  increase?: boolean;
}

// ---- per-object workflow ------------------------------------------------------------------

export interface CoordinationWorkflowInput {
  namespace: string;
  name: string;
  /** The hub's workflow id (default the cluster's). */
  hub?: string;
  /** Carried across continue-as-new (the compact decision state). */
  carried?: unknown;
}

/** The object changed (or was deleted): re-read it. A hint; the workflow acts on what it reads. */
export const coordinationChangedSignal = defineSignal<[{ generation?: number; deleted?: boolean }]>('coordinationChanged');
export const vpaEventsSignal = defineSignal<[VpaObservation[]]>('vpaEvents');
export const napEventsSignal = defineSignal<[NapObservation[]]>('napEvents');

// Schemas made on first use (lazily, workflows/nodes/contracts.ts): the bundle's modules are shared, frozen, by every workflow.
export const operatorCommandSchema = lazily(() =>
  z.strictObject({
    reason: z.string().min(1, 'reason must not be empty').max(256, 'reason must be at most 256 characters'),
    by: z.string().max(256).optional(),
  }),
);
export type OperatorCommand = z.infer<ReturnType<typeof operatorCommandSchema>>;
/** `temporal workflow signal --name trip --input '{"reason":"…"}'` */
export const tripSignal = defineSignal<[OperatorCommand]>('trip');
/** `temporal workflow signal --name reset --input '{"reason":"…"}'` */
export const resetSignal = defineSignal<[OperatorCommand]>('reset');

export const circuitBreakerActionSchema = lazily(() =>
  z.strictObject({
    action: z.enum(['trigger', 'reset'], { message: 'action must be "trigger" or "reset"' }),
    reason: z.string().min(1, 'reason must not be empty').max(256, 'reason must be at most 256 characters'),
    by: z.string().max(256).optional(),
  }),
);
export type CircuitBreakerAction = z.infer<ReturnType<typeof circuitBreakerActionSchema>>;

export interface ConflictRecord {
  at: number;
  type: ConflictType;
  /** The coordination object, namespace/name. */
  object: string;
  namespace: string;
  vpaName: string;
  message: string;
  numbers?: Record<string, number>;
}

export interface BreakerView {
  state: 'Closed' | 'Open' | 'HalfOpen';
  triggered: boolean;
  reason?: TripReason;
  message?: string;
  numbers?: Record<string, number>;
  trippedAt?: number;
  cooldownUntil?: number;
  halfOpenUntil?: number;
}

/** What `stateQuery` and the REST API return: the object with its live status. */
export interface CoordinationView {
  apiVersion: 'platform.io/v1';
  kind: 'VPANAPCoordination';
  metadata: { namespace: string; name: string; generation?: number };
  spec?: VPANAPCoordinationSpec;
  status: VPANAPCoordinationStatus;
  breaker: BreakerView;
  /** The VPA's paused state as the coordinator keeps it. */
  vpa?: { paused: boolean; restoreMode?: string };
  recentConflicts: ConflictRecord[];
}

export const stateQuery = defineQuery<CoordinationView>('state');
/** The REST API's POST: the same handler as the signals, answering with the new state. */
export const circuitBreakerUpdate = defineUpdate<CoordinationView, [CircuitBreakerAction]>('circuitBreaker');

// ---- hub ----------------------------------------------------------------------------------

export interface HubInput {
  carried?: unknown;
}

export const hubNapEventsSignal = defineSignal<[NapObservation[]]>('hubNapEvents');

/** An object reports its state to the hub: on start, on a spec change, on a phase change, and on rightsizing activity. */
export interface ObjectReport {
  object: string;
  namespace: string;
  vpaName: string;
  strategy: CoordinationStrategy;
  enabled: boolean;
  phase: CoordinationPhase;
  /** Updates are paused (breaker open). */
  paused: boolean;
  pauseReason?: TripReason;
  pausedUntil?: number;
  /** Forward node events to this object until then (it saw rightsizing activity). */
  interestUntil?: number;
  /** Epoch ms of its last rightsizing update (eviction or resize), for napActionDelay. */
  lastUpdateAt?: number;
  /** Settings the hub uses on its behalf. */
  vpaUpdateDelayMs: number;
  napActionDelayMs: number;
  /** The breaker's node-churn limits: node events are forwarded to it once the hub counts more (5 min / 1 h). */
  nodeChurnThreshold?: number;
  nodeChurnPerHour?: number;
  deleted?: boolean;
}
export const objectReportSignal = defineSignal<[ObjectReport]>('objectReport');
export const conflictReportSignal = defineSignal<[ConflictRecord[]]>('conflictReport');

export type AdmissionFacts = {
  namespace: string;
  /** Epoch ms the facts were read at (the hub's clock). */
  at: number;
  /** Objects governing the namespace: paused ones deny. */
  objects: Pick<ObjectReport, 'object' | 'strategy' | 'enabled' | 'phase' | 'paused' | 'pauseReason' | 'pausedUntil' | 'vpaUpdateDelayMs'>[];
  /** Last node added/removed (coordinated: rightsizing waits vpaUpdateDelay after it). */
  lastNodeActionAt?: number;
  /** Updates left in the current hour. */
  clusterBudget: number;
  namespaceBudget: number;
};
export const admissionFactsQuery = defineQuery<AdmissionFacts, [string]>('admissionFacts');

export const reserveUpdatesSchema = lazily(() =>
  z.strictObject({
    namespace: z.string().min(1).max(63),
    /** Updates the caller wants to make now. */
    count: z.number().int().min(1).max(10_000),
    /** Idempotency: a retried reservation with the same key returns the first answer. */
    key: z.string().min(1).max(256),
  }),
);
export type ReserveUpdates = z.infer<ReturnType<typeof reserveUpdatesSchema>>;
export interface Reservation {
  granted: number;
  clusterBudget: number;
  namespaceBudget: number;
}
export const reserveUpdatesUpdate = defineUpdate<Reservation, [ReserveUpdates]>('reserveUpdates');

/** Scale-down and consolidation wait napActionDelay after a rightsizing update of a coordinated object. */
export interface ScaleDownHold {
  holdUntil?: number;
  reason?: 'RightsizingUpdate';
  object?: string;
}
export const scaleDownHoldQuery = defineQuery<ScaleDownHold>('scaleDownHold');
export const recentConflictsQuery = defineQuery<ConflictRecord[]>('recentConflicts');

export interface HubView {
  objects: number;
  nodeEvents5m: number;
  lastNodeActionAt?: number;
  updatesLastHour: number;
  openBreakers: string[];
}
export const hubStateQuery = defineQuery<HubView>('hubState');
