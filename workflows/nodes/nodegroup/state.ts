/**
 * The NodeGroup entity's state and the small helpers every phase uses. The workflow
 * (`workflow.ts`) holds one `NodeGroupEntity`; handlers (`handlers.ts`) change it and wait, the
 * loop carries the work out: `sync.ts` (read the spec and the VPSieNodes), `work.ts` (reconcile
 * to the desired count, create and delete VPSieNodes), `status.ts`, `deletion.ts`.
 */
import { patched, proxyActivities, uuid4, workflowInfo } from '@temporalio/workflow';
import type { NodeGroupActivities, GroupView } from '../../../activities/nodes/nodegroup';
import { isCounted, type GroupNode, type GroupStatusInput } from '../../../decision/nodes/nodegroup';
import type { VPSieNodePhase } from '../../../lib/crds/autoscaler/constants';
import { PHASE_ORDER } from '../../../decision/nodes/lifecycle/phases';
import { NODEGROUP_KUBERNETES } from '../../../lib/temporal/retry-profiles';
import type { NodeGroupWorkflowInput, ScaleDownResult, ScaleUpResult } from '../contracts';

export const acts = proxyActivities<NodeGroupActivities>({
  // Kubernetes calls only: short, so a crashed worker's attempt is retried soon.
  startToCloseTimeout: '20s',
  retry: NODEGROUP_KUBERNETES,
});

/** State carried across continue-as-new (in `NodeGroupWorkflowInput.carried`). */
export interface NodeGroupCarried {
  desired: number;
  nodes: GroupNode[];
  seq: number;
  /** Answers of the last request ids (oldest first). */
  requests: RequestRecord[];
  lastScaleUpTime?: string;
  lastScaleDownTime?: string;
  consecutiveFailures: number;
  /** Continue-as-new after this many history events (default 4000, or when the server suggests). */
  maxHistoryEvents?: number;
}

export interface RequestRecord {
  id: string;
  up?: ScaleUpResult;
  down?: ScaleDownResult;
}

export const MAX_REMEMBERED_REQUESTS = 1000;
export const RESYNC_INTERVAL = '5m';
export const DELETE_POLL = '5s';

export interface CreateWork {
  kind: 'create';
  id: string;
  nodes: { name: string; offeringID: string; podUids?: string[] }[];
  reason: string;
  message: string;
}
export interface DeleteWork {
  kind: 'delete';
  id: string;
  names: string[];
  reason: string;
  message: string;
}
export type Work = CreateWork | DeleteWork;

/**
 * Patches of the NodeGroup workflow (each read once, at the start of a run, before any command):
 * - SIGNALS_ARE_HINTS: a sync signal only asks for a re-read; `deleting` comes from the object.
 * - FRESH_RUN_FROM_CLUSTER: a run without carried state starts its desired count from the
 *   cluster (status.desiredNodes, counted VPSieNodes), newest-first order from creation times.
 */
export const PATCH_SIGNALS_ARE_HINTS = 'nodegroup-sync-signal-is-a-hint';
export const PATCH_FRESH_RUN_FROM_CLUSTER = 'nodegroup-fresh-run-from-cluster';
/** PATCH_BOUNDED_DELETION: the deletion loop (polling until every VPSieNode is gone) continues as new after a bounded history. */
export const PATCH_BOUNDED_DELETION = 'nodegroup-deletion-continue-as-new';
/** PATCH_MAX_COUNTS_MACHINES: maxNodes bounds every machine that still exists (Failed, Terminating, removed), in scale-up admission and reconcile. */
export const PATCH_MAX_COUNTS_MACHINES = 'nodegroup-max-counts-every-machine';

export function isCarried(v: unknown): v is NodeGroupCarried {
  return typeof v === 'object' && v !== null && Array.isArray((v as NodeGroupCarried).nodes) && typeof (v as NodeGroupCarried).desired === 'number';
}

export type EntityNode = GroupNode & { confirmedEpoch: number };

export interface NodeGroupEntity {
  ref: { namespace: string; name: string };
  groupLabel: string;
  carried: NodeGroupCarried;
  maxHistory: number;
  nodes: Map<string, EntityNode>;
  requests: Map<string, RequestRecord>;
  doneWork: Set<string>;
  queue: Work[];
  desired: number;
  seq: number;
  lastScaleUpTime: string | undefined;
  lastScaleDownTime: string | undefined;
  consecutiveFailures: number;
  replaceNotBefore: number;
  group: GroupView | undefined;
  generation: number;
  deleting: boolean;
  syncRequested: boolean;
  dirty: boolean;
  epoch: number;
  groupError: GroupStatusInput['error'];
  /** PATCH_SIGNALS_ARE_HINTS is in effect. */
  signalsAreHints: boolean;
  /** The run carries no state and PATCH_FRESH_RUN_FROM_CLUSTER is in effect: the first sync seeds desired from the cluster. */
  seedFromCluster: boolean;
  /** PATCH_FRESH_RUN_FROM_CLUSTER is in effect (relists order new nodes by creation time). */
  orderByCreation: boolean;
  /** PATCH_BOUNDED_DELETION is in effect. */
  boundedDeletion: boolean;
  /** PATCH_MAX_COUNTS_MACHINES is in effect. */
  maxCountsMachines: boolean;
}

/** The entity at the start of a run: from the state carried across continue-as-new, or empty. */
export function newEntity(input: NodeGroupWorkflowInput): NodeGroupEntity {
  const ref = { namespace: input.namespace, name: input.name };
  const signalsAreHints = patched(PATCH_SIGNALS_ARE_HINTS);
  const fromCluster = patched(PATCH_FRESH_RUN_FROM_CLUSTER);
  const boundedDeletion = patched(PATCH_BOUNDED_DELETION);
  const maxCountsMachines = patched(PATCH_MAX_COUNTS_MACHINES);
  const fresh = !isCarried(input.carried);
  const carried: NodeGroupCarried = isCarried(input.carried)
    ? input.carried
    : {
        desired: 0,
        nodes: [],
        seq: 0,
        requests: [],
        consecutiveFailures: 0,
        ...(typeof input.carried === 'object' && input.carried !== null ? (input.carried as Partial<NodeGroupCarried>) : {}),
      };
  return {
    ref,
    groupLabel: `${ref.namespace}/${ref.name}`,
    carried,
    maxHistory: carried.maxHistoryEvents ?? 4000,
    nodes: new Map<string, EntityNode>(carried.nodes.map((n) => [n.name, { ...n, confirmedEpoch: 0 }])),
    requests: new Map<string, RequestRecord>(carried.requests.map((r) => [r.id, r])),
    // Requests carried over were complete when the previous run continued as new.
    doneWork: new Set<string>(carried.requests.map((r) => r.id)),
    queue: [],
    desired: carried.desired,
    seq: carried.seq,
    lastScaleUpTime: carried.lastScaleUpTime,
    lastScaleDownTime: carried.lastScaleDownTime,
    consecutiveFailures: carried.consecutiveFailures,
    replaceNotBefore: 0,
    group: undefined,
    generation: 0,
    deleting: false,
    syncRequested: true,
    dirty: true,
    epoch: 1,
    groupError: undefined,
    signalsAreHints,
    seedFromCluster: fresh && fromCluster,
    orderByCreation: fromCluster,
    boundedDeletion,
    maxCountsMachines,
  };
}

export const now = (): string => new Date(Date.now()).toISOString();

/** The run's history is long enough to continue as new (the server suggests it, or past the entity's bound). */
export function historyFull(e: NodeGroupEntity): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > e.maxHistory;
}

/** The state a new run takes over (continue-as-new). */
export function carriedOf(e: NodeGroupEntity): NodeGroupCarried {
  return {
    desired: e.desired,
    nodes: [...e.nodes.values()].map(({ confirmedEpoch: _c, ...n }) => n),
    seq: e.seq,
    requests: [...e.requests.values()],
    consecutiveFailures: e.consecutiveFailures,
    ...(e.lastScaleUpTime ? { lastScaleUpTime: e.lastScaleUpTime } : {}),
    ...(e.lastScaleDownTime ? { lastScaleDownTime: e.lastScaleDownTime } : {}),
    ...(e.carried.maxHistoryEvents !== undefined ? { maxHistoryEvents: e.carried.maxHistoryEvents } : {}),
  };
}

export const counted = (e: NodeGroupEntity): number => [...e.nodes.values()].filter(isCounted).length;

export function remember(e: NodeGroupEntity, r: RequestRecord): void {
  e.requests.set(r.id, r);
  while (e.requests.size > MAX_REMEMBERED_REQUESTS) {
    const first = e.requests.keys().next().value;
    if (first === undefined) break;
    e.requests.delete(first);
  }
}

function newName(e: NodeGroupEntity): string {
  for (;;) {
    const n = `${e.ref.name}-${uuid4().slice(0, 8)}`;
    if (!e.nodes.has(n)) return n;
  }
}

/** Adds `count` Pending nodes of `offeringID` to the entity; they are created by the loop's work. */
export function plan(e: NodeGroupEntity, count: number, offeringID: string, reason: string): { name: string; offeringID: string }[] {
  const out: { name: string; offeringID: string }[] = [];
  for (let i = 0; i < count; i++) {
    const name = newName(e);
    e.seq += 1;
    // Not confirmed until the create activity returns: a listing cannot drop it before then.
    e.nodes.set(name, { name, phase: 'Pending', offeringID, createdAt: now(), seq: e.seq, reason, confirmedEpoch: Number.MAX_SAFE_INTEGER });
    out.push({ name, offeringID });
  }
  return out;
}

/**
 * Replacements of failed nodes back off exponentially (5 s doubling to 10 min). Failures that
 * arrive while a back-off is already running (a batch failing together) do not escalate it.
 */
export function noteFailure(e: NodeGroupEntity): void {
  if (Date.now() < e.replaceNotBefore) return;
  e.consecutiveFailures += 1;
  e.replaceNotBefore = Date.now() + Math.min(600, 5 * 2 ** (e.consecutiveFailures - 1)) * 1000;
}

export function mergePhase(n: GroupNode, phase: VPSieNodePhase): void {
  if (PHASE_ORDER[phase] > PHASE_ORDER[n.phase]) n.phase = phase;
}
