/**
 * The audit log: one structured line for every scaling, rightsizing and coordination action the
 * orchestrator takes, written once per event, so "who added / removed / resized this, and why?"
 * is one search of the logs (`audit: true`, and the object's name or the decision id).
 *
 * Every line is an `info` line through lib/log.ts (component `audit`, JSON by default, the same
 * redaction of secret-named keys), message `audit: <action>`, with these fields and no others:
 *
 *   audit      true
 *   action     what was done, one of AUDIT_ACTIONS (below)
 *   actor      { part, identity, workflowId?, workflowType? }: the part of the orchestrator that
 *              acted (`worker`: every action is an activity), the process identity (POD_NAME, else
 *              `<hostname>-<pid>`, as the worker's Temporal identity), and the workflow that
 *              decided (the activity's workflow, when the action runs in one)
 *   object     { kind, namespace?, name, uid? }: what the action changed (NodeGroup, Node,
 *              VPSieNode, VPS, Pod, VerticalPodAutoscaler, VPANAPCoordination, ...)
 *   reason     the decision's typed reason, from the deciding code's closed set (PendingPods,
 *              UtilizationAboveThreshold, Underutilized, Consolidation, BelowMinNodes, Leaked,
 *              OrphanNode, a breaker's trip reason, ...; rightsizing: the apply method, InPlace or
 *              Recreate)
 *   numbers    { name: number }: the numbers behind the decision; names carry their unit
 *              (`...Seconds`, `...Millicores`, `...Bytes`; `monthlyPrice` as the VPSie plan's)
 *   decision   the decision's stable id (scale-up request id, removal workflow id, activity id,
 *              the object's uid or identifier): with action and object, the once-per-event key
 *   outcome?   what became of the decision, from its closed set (Created, Refused, Removed,
 *              DrainFailed, ...), where the action can end more than one way
 *   nodegroup? `<namespace>/<name>` of the NodeGroup concerned (the metrics' label convention)
 *   nodes?     the VPSieNodes created or removed (scale-up, NodeGroup) or the Nodes removed
 *              (scale-down), at most 64
 *   policy?    `<namespace>/<name>` of the OptimizationPolicy (rightsizing)
 *   workload?  `<Kind>/<namespace>/<name>` of the workload whose pod was resized or recreated
 *   dryRun?    true: a dry-run decision, recorded, nothing changed (a scale-up group's share
 *              under spec.dryRun or DRY_RUN, a removal with outcome DryRun; the NodeGroup's own
 *              reconcile, a utilisation scale-up and the scale-down loop's dry-run verdicts never
 *              reach an action, so they have no line)
 *   detail?    the human sentence (the Event's message), at most 2048 characters
 *
 * Once per event: `audit()` writes a line for a key (action, decision, object) once per process,
 * whatever retries the activity that writes it (a bounded memory of recent keys, as the counters'
 * OnceKeys in lib/metrics.ts). An activity retried on another worker process may write the line
 * again there (so may the counters).
 *
 * No secrets: the entry is parsed against the closed shape above (unknown fields are dropped and
 * named, by key only, in a warning; numbers must be finite numbers), so no spec, user data or
 * credential can ride along; what remains goes through lib/log.ts's redaction like every line.
 * `audit()` never throws: an entry that does not parse is reported as a warning and not written.
 *
 * Audit lines are `info`: LOG_LEVEL=warn or error drops them with the other info lines.
 */
import os from 'node:os';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { logger } from './log';
import { OnceKeys } from './metrics';

/** What an audit line records (closed set). */
export const AUDIT_ACTIONS = [
  /** A scale-up decision's share for one NodeGroup (nodes for pending pods): activities/nodes/scale-up.ts. */
  'ScaleUp',
  /** One node for a NodeGroup whose usage stayed above its thresholds: activities/nodes/scale-down.ts. */
  'UtilizationScaleUp',
  /** A scale-down removal (drain and hand-over of nodes to their NodeGroup) and its outcome: activities/nodes/scale-down.ts. */
  'ScaleDown',
  /** The NodeGroup created VPSieNodes to reach minNodes: activities/nodes/nodegroup.ts. */
  'NodeGroupMinEnforced',
  /** The NodeGroup removed VPSieNodes above maxNodes: activities/nodes/nodegroup.ts. */
  'NodeGroupMaxEnforced',
  /** The NodeGroup created or removed VPSieNodes to match its desired count (a lost node replaced, a surplus removed). */
  'NodeGroupDesiredEnforced',
  /** The NodeGroup is deleted: its VPSieNodes are removed. */
  'NodeGroupDeleted',
  /** Garbage collection deleted a leaked or duplicate VPS: activities/nodes/garbage-collection.ts. */
  'LeakedVPSDeleted',
  /** Garbage collection deleted an orphan Node (and its VPS when it was this cluster's garbage). */
  'OrphanNodeDeleted',
  /** Garbage collection deleted a Ready VPSieNode whose VPS vanished (its NodeGroup replaces it). */
  'VanishedVPSieNodeDeleted',
  /** Garbage collection deleted a spare ManagedKubernetes worker. */
  'SpareWorkerDeleted',
  /** A running pod resized in place to a recommendation: activities/rightsizing/apply.ts. */
  'PodResized',
  /** A pod evicted so its replacement comes up at the recommended size. */
  'PodRecreated',
  /** A VPA's updateMode set to Off by coordination: activities/coordination/coordination.ts. */
  'VPAPaused',
  /** A paused VPA's updateMode restored. */
  'VPARestored',
  /** The coordination circuit breaker opened (updates paused). */
  'CircuitBreakerTripped',
  /** The breaker half-open after its cooldown (updates resume on probation). */
  'CircuitBreakerHalfOpen',
  /** The breaker closed. */
  'CircuitBreakerReset',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The parts of the orchestrator that act (every audited action is an activity of the worker). */
export const AUDIT_PARTS = ['worker'] as const;
export type AuditPart = (typeof AUDIT_PARTS)[number];

export const MAX_AUDIT_NODES = 64;
export const MAX_AUDIT_DETAIL = 2048;

const text = (max: number) =>
  z
    .string()
    .min(1)
    .transform((s) => s.slice(0, max));

const AuditEntrySchema = z.object({
  action: z.enum(AUDIT_ACTIONS),
  decision: text(512),
  object: z.object({ kind: text(64), namespace: text(253).optional(), name: text(512), uid: text(64).optional() }),
  reason: text(256),
  numbers: z.record(z.string().min(1).max(128), z.number()),
  outcome: text(64).optional(),
  nodegroup: text(512).optional(),
  nodes: z
    .array(text(253))
    .transform((a) => a.slice(0, MAX_AUDIT_NODES))
    .optional(),
  policy: text(512).optional(),
  workload: text(600).optional(),
  dryRun: z.boolean().optional(),
  detail: z
    .string()
    .transform((s) => s.slice(0, MAX_AUDIT_DETAIL))
    .optional(),
});

/** What a call site gives: the fields of the convention but `audit` and `actor` (filled here). */
export type AuditEntry = z.input<typeof AuditEntrySchema>;

export interface AuditActor {
  part: AuditPart;
  identity: string;
  workflowId?: string;
  workflowType?: string;
}

/** One audit line as written (after `message` and `component`, which lib/log.ts adds). */
export type AuditLine = z.output<typeof AuditEntrySchema> & { audit: true; actor: AuditActor };

const ENTRY_KEYS = new Set(Object.keys(AuditEntrySchema.shape));
const OBJECT_KEYS = new Set(Object.keys(AuditEntrySchema.shape.object.shape));

let identity: string | undefined;
/** The process identity, as workers/main.ts gives the worker (POD_NAME, else hostname-pid). */
export function auditIdentity(): string {
  identity ??= process.env.POD_NAME || `${os.hostname()}-${process.pid}`;
  return identity;
}

function actor(): AuditActor {
  const a: AuditActor = { part: 'worker', identity: auditIdentity() };
  try {
    const info = Context.current().info;
    if (info.workflowExecution?.workflowId) a.workflowId = info.workflowExecution.workflowId;
    if (info.workflowType) a.workflowType = info.workflowType;
  } catch {
    // not inside an activity (tests, scripts): the process alone
  }
  return a;
}

/**
 * The stable id of the running activity (workflow id, run id, activity id: its retries share it),
 * for actions whose decision has no id of its own; outside an activity, `fallback`.
 */
export function activityDecisionId(fallback: string): string {
  try {
    const info = Context.current().info;
    return `${info.workflowExecution?.workflowId ?? ''}/${info.workflowExecution?.runId ?? ''}/${info.activityId}`;
  } catch {
    return fallback;
  }
}

const log = logger('audit');
const written = new OnceKeys(10_000);

/** The once-per-event key of an entry. */
export function auditKey(e: Pick<AuditEntry, 'action' | 'decision' | 'object'>): string {
  return `${e.action}|${e.decision}|${e.object.kind}/${e.object.namespace ?? ''}/${e.object.name}`;
}

/** Keys of `value` outside `known` (the fields the convention has no place for). */
function unknownKeys(value: unknown, known: ReadonlySet<string>, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.keys(value)
    .filter((k) => !known.has(k))
    .map((k) => `${prefix}${k}`);
}

/**
 * Writes the audit line of one action, once per key (action, decision, object) in this process.
 * True when this call wrote it; false for a repeat or an entry that does not parse (warned).
 */
export function audit(entry: AuditEntry): boolean {
  const raw = entry as unknown as Record<string, unknown>;
  // numbers: only finite numbers (a NaN or a non-number is dropped, not the line)
  const numbers: Record<string, number> = {};
  const dropped = [...unknownKeys(raw, ENTRY_KEYS), ...unknownKeys(raw.object, OBJECT_KEYS, 'object.')];
  if (typeof raw.numbers === 'object' && raw.numbers !== null)
    for (const [k, v] of Object.entries(raw.numbers)) {
      if (typeof v === 'number' && Number.isFinite(v)) numbers[k] = v;
      else dropped.push(`numbers.${k}`);
    }
  const parsed = AuditEntrySchema.safeParse({ ...raw, numbers });
  if (!parsed.success) {
    log.warn('audit entry invalid; not written', {
      action: typeof raw.action === 'string' ? raw.action.slice(0, 64) : undefined,
      issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`),
    });
    return false;
  }
  const e = parsed.data;
  if (!written.first(auditKey(e))) return false;
  if (dropped.length > 0)
    log.warn('audit entry: fields dropped (outside the convention, or numbers not finite)', { action: e.action, fields: dropped.slice(0, 20) });
  const line: AuditLine = { audit: true, ...e, actor: actor() };
  log.info(`audit: ${e.action}`, line);
  return true;
}
