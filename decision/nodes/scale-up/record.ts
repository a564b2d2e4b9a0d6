/**
 * The scale-up decision record: which pods, which groups and offerings, the price, what each group
 * created or refused, and for every pod its outcome with a typed reason and the numbers behind it.
 * Built from the planner's decision and the NodeGroup workflows' answers. Pure (workflow-safe).
 */
import { UNPLACED_REASONS, type GroupScaleUp, type ScaleUpDecision, type UnplacedReason } from '../../planner/types';
import { SCALE_UP_COOLDOWN_REASON, type ScaleUpRefusal } from '../nodegroup/refusals';

/** Why a pod did not trigger a scale-up (closed set): the planner's reasons, the group's refusals, and execution. */
export const NOT_TRIGGERED_REASONS = [
  ...UNPLACED_REASONS,
  'NodeGroupDeleting',
  'ScaleUpDisabled',
  SCALE_UP_COOLDOWN_REASON,
  'UnknownOffering',
  'ScaleUpFailed',
  'DryRun',
] as const;
export type NotTriggeredReason = (typeof NOT_TRIGGERED_REASONS)[number];

/**
 * Reasons that stay true until the NodeGroups (or the pod) change: the trigger backs off from
 * these pods instead of planning them again on every FailedScheduling event.
 */
export const PERMANENT_REASONS: ReadonlySet<NotTriggeredReason> = new Set<NotTriggeredReason>([
  'DaemonSetPod',
  'NoNodeGroups',
  'NoGroupMatchesSelector',
  'TaintNotTolerated',
  'TooLargeForAnyOffering',
  'AffinityUnsatisfiable',
]);

/** What happened to one pod of the batch. */
export type PodOutcome =
  | {
      pod: string;
      uid?: string;
      outcome: 'TriggeredScaleUp';
      reason: 'ScaleUpTriggered';
      group: string;
      offering: string;
      plannedNode: string;
      vpsieNode?: string;
      message: string;
      numbers: Record<string, number>;
    }
  | { pod: string; uid?: string; outcome: 'NotTriggerScaleUp'; reason: NotTriggeredReason; group?: string; message: string; numbers: Record<string, number> }
  | {
      pod: string;
      uid?: string;
      outcome: 'FitsExisting';
      reason: 'FitsExistingNode' | 'FitsInFlightNode';
      node: string;
      message: string;
      numbers: Record<string, number>;
    };

export type RefusalReason = ScaleUpRefusal;

/** The NodeGroup workflow's answer to one group's request (or the execution error). */
export interface GroupExecution {
  requestId: string;
  created: string[];
  refused?: { reason: RefusalReason; count: number; message: string };
  /** The update could not be delivered/applied (after retries). */
  error?: string;
  dryRun?: boolean;
}

export interface GroupOutcome {
  /** `namespace/name` */
  group: string;
  requestId: string;
  priority: number;
  currentNodes: number;
  maxNodes: number;
  offerings: { offeringID: string; nickname: string; count: number; monthlyPrice: number }[];
  newNodes: number;
  monthlyPrice: number;
  created: string[];
  refused?: GroupExecution['refused'];
  error?: string;
  dryRun: boolean;
  pods: string[];
}

export interface ScaleUpRecord {
  workflowId: string;
  firstSignalAt: string;
  /** Planning rounds (more than one when a group's stabilization window deferred it). */
  rounds: number;
  strategy: ScaleUpDecision['strategy'];
  newNodes: number;
  created: number;
  monthlyPrice: number;
  hourlyPrice: number;
  groups: GroupOutcome[];
  /** One entry per pod of the batch, sorted by pod. */
  pods: PodOutcome[];
  /** Batch pods that were bound or deleted before planning. */
  gone: string[];
}

export function groupKey(g: Pick<GroupScaleUp, 'namespace' | 'group'>): string {
  return `${g.namespace}/${g.group}`;
}

/** Idempotency key of one group's request: the same workflow run and group always send the same id. */
export function scaleUpRequestId(workflowId: string, group: string, round: number): string {
  return `${workflowId}/${group}/r${round}`;
}

/** The ScaleUpRequest node list of a planned group (by offering, sorted). */
export function requestedNodes(g: GroupScaleUp): { offeringID: string; count: number }[] {
  return g.offerings.map((o) => ({ offeringID: o.offeringId, count: o.count }));
}

/** Planned nodes in the order the group will create them (offering order, then name). */
export function plannedNodesInRequestOrder(g: GroupScaleUp): GroupScaleUp['nodes'] {
  const order = new Map(g.offerings.map((o, i) => [o.offeringId, i]));
  return [...g.nodes].sort((a, b) => (order.get(a.offeringId) ?? 0) - (order.get(b.offeringId) ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function groupSummary(g: GroupScaleUp): string {
  const parts = g.offerings.map((o) => `${o.count}x ${o.nickname}`).join(', ');
  return `+${g.newNodes} node(s) (${parts}) for ${g.nodes.reduce((n, x) => n + x.pods.length, 0)} pod(s), $${round2(g.monthlyPrice)}/month; group at ${g.currentNodes}/${g.maxNodes}`;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * Per-pod outcomes of one planning round: pods on existing/in-flight nodes, pods left out by the
 * planner, and pods on new nodes of executed groups (created or refused, matched to the planned
 * nodes in request order). Pods of `deferred` groups are omitted (planned again next round).
 */
export function podOutcomes(
  decision: ScaleUpDecision,
  executions: ReadonlyMap<string, GroupExecution>,
  deferred: ReadonlySet<string>,
  uids: Readonly<Record<string, string>>,
): PodOutcome[] {
  const out: PodOutcome[] = [];
  const uidOf = (pod: string) => (uids[pod] !== undefined ? { uid: uids[pod] } : {});
  for (const p of decision.fitsExisting) {
    out.push({
      pod: p.pod,
      ...uidOf(p.pod),
      outcome: 'FitsExisting',
      reason: p.target === 'inFlight' ? 'FitsInFlightNode' : 'FitsExistingNode',
      node: p.node,
      message: p.target === 'inFlight' ? `fits on node ${p.node}, which is being provisioned` : `fits on existing node ${p.node}`,
      numbers: {},
    });
  }
  for (const u of decision.unplaced) {
    out.push({
      pod: u.pod,
      ...uidOf(u.pod),
      outcome: 'NotTriggerScaleUp',
      reason: u.reason satisfies UnplacedReason,
      message: u.message,
      numbers: { ...u.numbers },
    });
  }
  for (const g of decision.groups) {
    const key = groupKey(g);
    if (deferred.has(key)) continue;
    const ex = executions.get(key);
    const nodes = plannedNodesInRequestOrder(g);
    nodes.forEach((n, i) => {
      for (const pod of n.pods) {
        const numbers = {
          groupNewNodes: g.newNodes,
          groupMonthlyPrice: round2(g.monthlyPrice),
          nodeCpuMilli: n.requested.cpuMilli,
          nodeMemoryBytes: n.requested.memoryBytes,
          nodeAllocatableCpuMilli: n.allocatable.cpuMilli,
          nodeAllocatableMemoryBytes: n.allocatable.memoryBytes,
        };
        if (!ex || ex.error !== undefined) {
          out.push({
            pod,
            ...uidOf(pod),
            outcome: 'NotTriggerScaleUp',
            reason: 'ScaleUpFailed',
            group: key,
            message: `scale-up of ${key} failed: ${ex?.error ?? 'not executed'}`,
            numbers,
          });
        } else if (ex.dryRun) {
          out.push({
            pod,
            ...uidOf(pod),
            outcome: 'NotTriggerScaleUp',
            reason: 'DryRun',
            group: key,
            message: `dry run: would add ${n.nickname} node to ${key} (${groupSummary(g)})`,
            numbers,
          });
        } else if (i < ex.created.length) {
          out.push({
            pod,
            ...uidOf(pod),
            outcome: 'TriggeredScaleUp',
            reason: 'ScaleUpTriggered',
            group: key,
            offering: n.offeringId,
            plannedNode: n.name,
            vpsieNode: ex.created[i]!,
            message: `pod triggered scale-up of ${key}: ${groupSummary(g)}; this pod goes to a new ${n.nickname} node (VPSieNode ${ex.created[i]!})`,
            numbers,
          });
        } else {
          const r = ex.refused;
          out.push({
            pod,
            ...uidOf(pod),
            outcome: 'NotTriggerScaleUp',
            reason: r?.reason ?? 'ScaleUpFailed',
            group: key,
            message: r ? `${key} refused ${r.count} of ${g.newNodes} node(s): ${r.message}` : `${key} created ${ex.created.length} of ${g.newNodes} node(s)`,
            numbers: { ...numbers, created: ex.created.length, ...(r ? { refused: r.count } : {}) },
          });
        }
      }
    });
  }
  return out.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
}

export function groupOutcome(g: GroupScaleUp, ex: GroupExecution): GroupOutcome {
  const o: GroupOutcome = {
    group: groupKey(g),
    requestId: ex.requestId,
    priority: g.priority,
    currentNodes: g.currentNodes,
    maxNodes: g.maxNodes,
    offerings: g.offerings.map((x) => ({ offeringID: x.offeringId, nickname: x.nickname, count: x.count, monthlyPrice: x.monthlyPrice })),
    newNodes: g.newNodes,
    monthlyPrice: round2(g.monthlyPrice),
    created: [...ex.created],
    dryRun: ex.dryRun === true,
    pods: g.nodes.flatMap((n) => n.pods).sort(),
  };
  if (ex.refused) o.refused = ex.refused;
  if (ex.error !== undefined) o.error = ex.error;
  return o;
}

/**
 * Stabilization (decided here, documented in workflows/nodes/scale-up.ts): a group that scaled up less
 * than `stabilizationWindowSeconds` ago is deferred until the window ends, then planned again
 * together with whatever else arrived, against the nodes then in flight. A group that has not
 * scaled up within its window scales up at once. Returns the ms to wait, 0 when not deferred.
 */
export function stabilizationDelayMs(
  lastScaleUpTime: string | undefined,
  windowSeconds: number,
  nowMs: number,
  startDeadline?: { firstSignalMs: number; withinMs: number },
): number {
  if (lastScaleUpTime === undefined || windowSeconds <= 0) return 0;
  const last = Date.parse(lastScaleUpTime);
  if (Number.isNaN(last)) return 0;
  const wait = Math.max(0, last + windowSeconds * 1000 - nowMs);
  // Provisioning must start within a bound of the first signal, whatever the window says.
  if (startDeadline === undefined || Number.isNaN(startDeadline.firstSignalMs)) return wait;
  return Math.min(wait, Math.max(0, startDeadline.firstSignalMs + startDeadline.withinMs - nowMs));
}

/**
 * The bound on deferral: provisioning must start within 30 s of the first signal (the product's
 * requirement), so a stabilization window defers a scale-up at most until 25 s after it, leaving
 * the rest for planning and the create call.
 */
export const SCALE_UP_START_DEADLINE_MS = 25_000;

/** The outcome of one group's part of a scale-up decision (the `outcome` label of scale_up_operations_total). */
export function groupOutcomeOf(g: Pick<GroupOutcome, 'dryRun' | 'error' | 'created' | 'refused'>): 'DryRun' | 'Failed' | 'Refused' | 'Created' {
  if (g.dryRun) return 'DryRun';
  if (g.error !== undefined) return 'Failed';
  if (g.created.length === 0) return 'Refused';
  return 'Created';
}

/**
 * The scheduling constraints that kept pods of the record from a scale-up (the pods that did not
 * trigger one, by the group they were closest to, or "none", and the typed reason), sorted.
 */
export function schedulingConstraintCounts(record: Pick<ScaleUpRecord, 'pods'>): { nodegroup: string; reason: NotTriggeredReason; count: number }[] {
  const counts = new Map<string, { nodegroup: string; reason: NotTriggeredReason; count: number }>();
  for (const p of record.pods) {
    if (p.outcome !== 'NotTriggerScaleUp') continue;
    const nodegroup = p.group ?? 'none';
    const k = `${nodegroup}|${p.reason}`;
    const c = counts.get(k) ?? { nodegroup, reason: p.reason, count: 0 };
    c.count += 1;
    counts.set(k, c);
  }
  return [...counts.values()].sort((a, b) => (a.nodegroup < b.nodegroup ? -1 : a.nodegroup > b.nodegroup ? 1 : a.reason < b.reason ? -1 : 1));
}

const GROUP_DECISION_REASONS = { Created: 'TriggeredScaleUp', Refused: 'ScaleUpRefused', Failed: 'ScaleUpFailed', DryRun: 'ScaleUpDryRun' } as const;

/**
 * The search attributes of a finished scale-up run: the NodeGroup it acted on (the one that got
 * the most new nodes, else the first planned) and the typed reason of its decision
 * (TriggeredScaleUp, ScaleUpRefused, ScaleUpFailed, ScaleUpDryRun; without a group, the most
 * frequent reason its pods did not trigger one, or FitsExistingNode).
 */
export function runSearchAttributes(record: Pick<ScaleUpRecord, 'groups' | 'pods'>): { nodeGroup?: string; reason: string } {
  const groups = [...record.groups].sort((a, b) => b.created.length - a.created.length);
  const g = groups[0];
  if (g) return { nodeGroup: g.group, reason: GROUP_DECISION_REASONS[groupOutcomeOf(g)] };
  const counts = new Map<string, number>();
  for (const p of record.pods) if (p.outcome === 'NotTriggerScaleUp') counts.set(p.reason, (counts.get(p.reason) ?? 0) + 1);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  return { reason: top ? top[0] : 'FitsExistingNode' };
}
