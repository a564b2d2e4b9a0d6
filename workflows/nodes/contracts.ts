/**
 * The messages between the node-autoscaling workflows and their starters: workflow ids, signals,
 * queries and updates, with their payload types. One file so that the NodeGroup workflow, the
 * VPSieNode lifecycle, the scale-up/scale-down workflows and the watchers agree on them.
 *
 * Shape of the system:
 * - A NodeGroup's entity workflow (`nodeGroupWorkflowId`) owns the group's size. It is the only
 *   place that creates VPSieNode objects (activity) and the only place that asks for one to go
 *   (by deleting the VPSieNode object, which has a finalizer). Scale-up and scale-down decisions
 *   reach it as updates, so concurrent requests are serialised and max/min hold.
 * - Each VPSieNode has a lifecycle workflow (`vpsieNodeWorkflowId`), started by the VPSieNode
 *   watcher with signal-with-start (`vpsieNodeSyncSignal`), so a second start is a no-op. It
 *   carries the machine through its phases and reports each phase to its group
 *   (`nodeGroupNodePhaseSignal`). Termination is always "the VPSieNode object is being deleted".
 * - The NodeGroup watcher signal-with-starts the group workflow on every change
 *   (`nodeGroupSyncSignal`), including deletion (deletionTimestamp set).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { VPSieNodePhase } from '../../lib/crds/autoscaler/constants';
import type { ScaleDownRefusal, ScaleUpRefusal } from '../../decision/nodes/nodegroup/refusals';

// ---- ids ----------------------------------------------------------------------------------

export function nodeGroupWorkflowId(namespace: string, name: string): string {
  return `nodegroup:${namespace}/${name}`;
}

export function vpsieNodeWorkflowId(namespace: string, name: string): string {
  return `vpsienode:${namespace}/${name}`;
}

export interface ObjectRef {
  namespace: string;
  name: string;
}

// ---- NodeGroup entity workflow --------------------------------------------------------------

export interface NodeGroupWorkflowInput extends ObjectRef {
  /** Carried across continue-as-new; absent on the first run. */
  carried?: unknown;
}

/**
 * The NodeGroup object changed (or is being deleted): re-read it and reconcile. The payload is a
 * hint for logs only: the workflow acts on the object it reads, never on the signal's `deleting`.
 */
export const nodeGroupSyncSignal = defineSignal<[{ generation?: number; deleting?: boolean }]>('nodeGroupSync');

export interface NodeGroupNodePhase {
  /** VPSieNode name. */
  name: string;
  phase: VPSieNodePhase;
  offeringID?: string;
  nodeName?: string;
  /** Typed reason of the transition (a VPSieNode condition or error reason). */
  reason?: string;
  message?: string;
  /** ISO time of the transition (from the lifecycle workflow's clock). */
  at: string;
}
export const nodeGroupNodePhaseSignal = defineSignal<[NodeGroupNodePhase]>('nodeGroupNodePhase');

export interface ScaleUpRequest {
  /** Idempotency key: the same request id is applied at most once. */
  requestId: string;
  /** How many new nodes of which offering (an id or nickname from spec.offeringIDs). */
  nodes: { offeringID: string; count: number }[];
  /** Typed reason and the numbers behind it, recorded in status, Events and history. */
  reason: string;
  message?: string;
  /** Pods this scale-up is for (namespace/name), for the decision record. */
  pods?: string[];
  /**
   * Uids of the pending pods each new node is planned for, in request order (`nodes` expanded
   * entry by entry). Written on the VPSieNode when it is created, so no snapshot ever sees the new
   * node without the pods it was made for.
   */
  podUidsByNode?: string[][];
}
export interface ScaleUpResult {
  requestId: string;
  /** VPSieNode names created for this request (empty when refused). */
  created: string[];
  /** Why fewer nodes than asked were created, if so. */
  refused?: { reason: ScaleUpRefusal; count: number; message: string };
}
export const nodeGroupScaleUpUpdate = defineUpdate<ScaleUpResult, [ScaleUpRequest]>('nodeGroupScaleUp');

// ---- update input validation (the NodeGroup workflow's update validators) ------------------

// The schemas are made on first use, not when the module loads: the workflow bundle's modules are
// loaded once and shared (frozen) by every workflow of the worker (workers/bundle-options.ts),
// and a zod schema cannot be frozen — made lazily, one instance serves every workflow.

const describe = (v: unknown): string => (v === null ? 'null (a NaN is sent as null)' : v === undefined ? 'nothing' : JSON.stringify(v));

// zod configures itself (its locale, its memoizer) in its own module state when the first schema
// is made. Made here, while the modules load, that happens before the SDK freezes them.
void z.object({ warmUp: z.array(z.string()) }).safeParse({ warmUp: [] });

/** `make()` once, on the first call; the same value after. */
export function lazily<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

const count = lazily(() =>
  z.custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0, {
    error: (i) => `expected a non-negative integer, got ${describe(i.input)}`,
  }),
);
const text = lazily(() => z.string().min(1, { error: 'expected a non-empty string' }));

export const scaleUpRequestSchema = lazily(() =>
  z.object({
    requestId: text(),
    nodes: z.array(
      z.object({
        offeringID: text(),
        count: count(),
      }),
    ),
    reason: text(),
    message: z.string().optional(),
    pods: z.array(z.string()).optional(),
    podUidsByNode: z.array(z.array(z.string())).optional(),
  }),
);

export const scaleDownRequestSchema = lazily(() =>
  z.object({
    requestId: text(),
    vpsieNodes: z.array(text()),
    reason: text(),
    message: z.string().optional(),
    dryRun: z.boolean().optional(),
  }),
);

/** `nodes[0].count` for the path ['nodes', 0, 'count']. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '') || '(request)';
}

/**
 * An update validator: throws (so the update is refused before it is accepted, nothing written to
 * history) with every invalid field named, e.g. `nodeGroupScaleUp: nodes[0].count: expected a non-negative integer, got -2`.
 */
export function validator<T>(what: string, schema: () => z.ZodType<T>): (input: unknown) => void {
  return (input: unknown): void => {
    const r = schema().safeParse(input);
    if (r.success) return;
    throw new TypeError(`${what}: ${r.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`).join('; ')}`);
  };
}

export interface ScaleDownRequest {
  requestId: string;
  /** The VPSieNodes to remove. */
  vpsieNodes: string[];
  reason: string;
  message?: string;
  dryRun?: boolean;
}
export interface ScaleDownResult {
  requestId: string;
  /** VPSieNodes whose deletion was started. */
  removing: string[];
  refused?: { reason: ScaleDownRefusal; count: number; message: string };
}
export const nodeGroupScaleDownUpdate = defineUpdate<ScaleDownResult, [ScaleDownRequest]>('nodeGroupScaleDown');

export interface NodeGroupState extends ObjectRef {
  generation: number;
  minNodes: number;
  maxNodes: number;
  desiredNodes: number;
  deleting: boolean;
  nodes: NodeGroupNodePhase[];
  lastScaleUpTime?: string;
  lastScaleDownTime?: string;
}
export const nodeGroupStateQuery = defineQuery<NodeGroupState>('nodeGroupState');

// ---- VPSieNode lifecycle workflow ----------------------------------------------------------

export interface VPSieNodeWorkflowInput extends ObjectRef {
  /** The NodeGroup the VPSieNode belongs to (same namespace). */
  nodeGroup: string;
}

/** The VPSieNode object changed (for example its deletion began): re-read it. */
export const vpsieNodeSyncSignal = defineSignal<[{ deleting?: boolean }]>('vpsieNodeSync');

export interface VPSieNodeLifecycleState extends ObjectRef {
  phase: VPSieNodePhase;
  nodeName?: string;
  vpsieIdentifier?: string;
  lastError?: { reason: string; message: string };
}
export const vpsieNodeStateQuery = defineQuery<VPSieNodeLifecycleState>('vpsieNodeState');

/** The orchestrator's cordon mark on a Node (the removal's workflow id): other capabilities read node removals by it. */
export { ANNOTATION_CORDONED_BY } from '../../decision/nodes/drain/annotations';
