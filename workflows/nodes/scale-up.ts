/**
 * scaleUpWorkflow: one run per batch of unschedulable pods (started by starters/nodes/scale-up-trigger.ts
 * with the id `scaleup:<first-signal time>-<hash of the batch>`, so a batch is planned once).
 *
 *   snapshot and planScaleUp (pure; in the activity `scaleUpPlan` since the
 *   `scale-up-plans-in-activity` patch, in the workflow before it) → per NodeGroup the
 *   `nodeGroupScaleUp` update on its entity workflow (sent by an activity; request id =
 *   `<workflow id>/<namespace>/<group>/r<round>`, so retries apply once) → the decision record
 *   (this workflow's result, in history) → Events on every pod and group, metrics → the
 *   first-signal → VPSie-create latency.
 *
 * Max/min nodes, cooldown (`scaleUpPolicy.cooldownSeconds`) and disabled groups are enforced by the
 * NodeGroup workflow, which serialises every scale request of a group; its refusals are reported per
 * pod. No scale-up is deferred (patch `scale-up-follow-ups-not-deferred`): follow-up demand of a
 * burst is planned at once against the room in flight. `scaleUpPolicy.stabilizationWindowSeconds`
 * is how long the pods a new node was made for stay nominated to it after it turns Ready (the
 * snapshot; at least the scheduler's longest back-off), unless its bound pods show the room is gone.
 * No second scale-up for the same pods: in-flight VPSieNodes count as capacity in the snapshot, with
 * the pending pods each was created for (annotated at creation, from `podUidsByNode`) or found room
 * on (`holdPodsOnInFlightNodes`, after each round) taking that room in every later snapshot; and the
 * trigger does not batch pods again while their run is open.
 */
import { patched, proxyActivities, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA_DECISION_REASON, SA_NODEGROUP } from '../../lib/temporal/search-attributes';
import type { ScaleUpActivities } from '../../activities/nodes/scale-up';
import { planScaleUp } from '../../decision/planner/planner';
import { compareStrings } from '../../lib/compare';
import type { GroupScaleUp, ScaleUpDecision } from '../../decision/planner/types';
import type { ScaleUpSnapshot } from '../../decision/nodes/scale-up/snapshot';
import {
  groupKey,
  groupOutcome,
  groupSummary,
  plannedNodesInRequestOrder,
  podOutcomes,
  requestedNodes,
  scaleUpRequestId,
  SCALE_UP_START_DEADLINE_MS,
  stabilizationDelayMs,
  type GroupExecution,
  type GroupOutcome,
  type PodOutcome,
  type ScaleUpRecord,
  runSearchAttributes,
} from '../../decision/nodes/scale-up/record';
import { SCALE_UP_FAST, NODEGROUP_UPDATE_SCALE_UP, SCALE_UP_OUTCOME } from '../../lib/temporal/retry-profiles';

export interface ScaleUpWorkflowInput {
  /** ISO time of the batch's first signal (FailedScheduling / pending pod / node pressure). */
  firstSignalAt: string;
  /** Pods of the batch (uids); absent or empty with node pressure: every unschedulable pending pod. */
  podUids?: string[];
  /** Nodes under pressure that triggered the batch. */
  pressure?: { node: string; conditions: string[] }[];
  /** Global dry run (config DRY_RUN): plan and report, change nothing. */
  dryRun?: boolean;
  /** Wait for the first create call and record its latency (default true). */
  observeLatency?: boolean;
}

const MAX_ROUNDS = 3;
/** Patch (issue #17): a finished run upserts its NodeGroup and DecisionReason search attributes. */
export const PATCH_SEARCH_ATTRIBUTES = 'scale-up-search-attributes';

const acts = proxyActivities<ScaleUpActivities>({
  startToCloseTimeout: '60s',
  retry: SCALE_UP_FAST,
});
const groupActs = proxyActivities<ScaleUpActivities>({
  startToCloseTimeout: '60s',
  retry: NODEGROUP_UPDATE_SCALE_UP,
});
const slowActs = proxyActivities<ScaleUpActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: SCALE_UP_OUTCOME,
});

function errorMessage(err: unknown): string {
  const cause = (err as { cause?: { message?: string } }).cause;
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}

export async function scaleUpWorkflow(input: ScaleUpWorkflowInput): Promise<ScaleUpRecord> {
  const workflowId = workflowInfo().workflowId;
  const pods: PodOutcome[] = [];
  const groups: GroupOutcome[] = [];
  let gone: string[] = [];
  let podUids = input.podUids && input.podUids.length > 0 ? input.podUids : undefined;
  let last: ScaleUpDecision | undefined;
  let rounds = 0;
  let newNodes = 0;
  let monthlyPrice = 0;
  let hourlyPrice = 0;

  // Planning a burst of thousands of pods is seconds of CPU: in workflow code it holds up every
  // workflow on the worker's workflow thread (NodeGroup tasks timed out at 2,000 pods). The plan is
  // now made in the activity, and the history records the decision, not the planner input.
  const planInActivity = patched('scale-up-plans-in-activity');
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    rounds = round;
    let snap: Omit<ScaleUpSnapshot, 'input'>;
    let decision: ScaleUpDecision;
    if (planInActivity) {
      const planned = await acts.scaleUpPlan({ workflowId, ...(podUids ? { podUids } : {}) });
      snap = planned;
      decision = planned.decision;
    } else {
      const full = await acts.scaleUpSnapshot({ workflowId, ...(podUids ? { podUids } : {}) });
      snap = full;
      decision = planScaleUp(full.input);
    }
    if (round === 1) gone = snap.gone;
    last = decision;
    const meta = new Map(snap.groups.map((g) => [`${g.namespace}/${g.name}`, g]));

    // Stabilization: before the `scale-up-follow-ups-not-deferred` patch, groups that scaled up
    // within their window were deferred (up to 25 s after the first signal). Each deferred run
    // woke on its own and planned only its own pods, so nothing was merged: the deferral was pure
    // latency (a 200-pod burst arrives in several batches, each waiting 25 s). Follow-up demand is
    // now planned at once; the snapshot counts in-flight room exactly, so it gets only what it lacks.
    const now = Date.now();
    const deferred = new Map<string, number>();
    if (round < MAX_ROUNDS && !patched('scale-up-follow-ups-not-deferred')) {
      for (const g of decision.groups) {
        const m = meta.get(groupKey(g));
        const wait = m
          ? stabilizationDelayMs(m.lastScaleUpTime, m.stabilizationWindowSeconds, now, {
              firstSignalMs: Date.parse(input.firstSignalAt),
              withinMs: SCALE_UP_START_DEADLINE_MS,
            })
          : 0;
        if (wait > 0) deferred.set(groupKey(g), wait);
      }
    }

    const executions = new Map<string, GroupExecution>();
    const run = decision.groups.filter((g) => !deferred.has(groupKey(g)));
    await Promise.all(
      run.map(async (g: GroupScaleUp) => {
        const key = groupKey(g);
        const requestId = scaleUpRequestId(workflowId, key, round);
        const m = meta.get(key);
        if (input.dryRun || m?.dryRun) {
          executions.set(key, { requestId, created: [], dryRun: true });
          return;
        }
        const podsOfGroup = g.nodes.flatMap((n) => n.pods).sort();
        try {
          const res = await groupActs.requestGroupScaleUp({
            namespace: g.namespace,
            name: g.group,
            request: {
              requestId,
              nodes: requestedNodes(g),
              reason: 'PendingPods',
              message: `${groupSummary(g)}; strategy ${decision.strategy}; batch ${workflowId}`,
              pods: podsOfGroup,
              podUidsByNode: plannedNodesInRequestOrder(g).map((n) =>
                n.pods.map((p) => snap.podUids[p]).filter((u): u is string => u !== undefined && u !== ''),
              ),
            },
          });
          const ex: GroupExecution = { requestId, created: res.created };
          if (res.refused) ex.refused = res.refused;
          executions.set(key, ex);
        } catch (err) {
          executions.set(key, { requestId, created: [], error: errorMessage(err) });
        }
      }),
    );
    // Pods placed in the spare room of nodes in flight: held there, so later runs (and the next
    // round) do not give that room away too.
    if (!input.dryRun && patched('scale-up-hold-in-flight-room')) {
      const holds = new Map<string, string[]>();
      for (const f of decision.fitsExisting) {
        const vn = f.target === 'inFlight' ? snap.inFlightVpsieNodes[f.node] : undefined;
        const uid = snap.podUids[f.pod];
        if (vn === undefined || !uid) continue;
        holds.set(vn, [...(holds.get(vn) ?? []), uid]);
      }
      if (holds.size > 0) await acts.holdPodsOnInFlightNodes({ holds: [...holds].map(([vpsieNode, podUids]) => ({ vpsieNode, podUids })) });
    }
    for (const g of run) groups.push(groupOutcome(g, executions.get(groupKey(g))!));
    for (const g of run) {
      newNodes += g.newNodes;
      monthlyPrice += g.monthlyPrice;
      hourlyPrice += g.hourlyPrice;
    }
    const deferredKeys = new Set(deferred.keys());
    const outcomes = podOutcomes(decision, executions, deferredKeys, snap.podUids);
    for (const a of snap.assigned) {
      const uid = snap.podUids[a.pod];
      outcomes.push({
        pod: a.pod,
        ...(uid ? { uid } : {}),
        outcome: 'FitsExisting',
        reason: 'FitsInFlightNode',
        node: a.node,
        message: `already expected on node ${a.node}, which was created for it and is being provisioned`,
        numbers: {},
      });
    }
    // Pods already decided in an earlier round keep that outcome.
    const decided = new Set(pods.map((p) => p.pod));
    for (const p of outcomes) if (!decided.has(p.pod)) pods.push(p);

    if (deferred.size === 0) break;
    const deferredPods = decision.groups.filter((g) => deferredKeys.has(groupKey(g))).flatMap((g) => g.nodes.flatMap((n) => n.pods));
    const uids = deferredPods.map((p) => snap.podUids[p]).filter((u): u is string => u !== undefined);
    if (uids.length === 0) break;
    podUids = uids;
    await sleep(Math.min(...deferred.values()));
  }

  pods.sort((a, b) => compareStrings(a.pod, b.pod));
  const record: ScaleUpRecord = {
    workflowId,
    firstSignalAt: input.firstSignalAt,
    rounds,
    strategy: last?.strategy ?? 'cost',
    newNodes,
    created: groups.reduce((n, g) => n + g.created.length, 0),
    monthlyPrice: Math.round(monthlyPrice * 100) / 100,
    hourlyPrice: Math.round(hourlyPrice * 10000) / 10000,
    groups,
    pods,
    gone,
  };
  await slowActs.recordScaleUpOutcome(record);
  if (patched(PATCH_SEARCH_ATTRIBUTES)) {
    // The Web UI filters scale-up runs by group and by why (issue #17).
    const sa = runSearchAttributes(record);
    upsertSearchAttributes([
      { key: SA_DECISION_REASON, value: sa.reason },
      ...(sa.nodeGroup !== undefined ? [{ key: SA_NODEGROUP, value: sa.nodeGroup }] : []),
    ]);
  }
  if (input.observeLatency !== false) {
    const created = groups.flatMap((g) => g.created.map((name) => ({ namespace: g.group.split('/')[0]!, name })));
    if (created.length > 0) {
      await slowActs
        .observePendingToCreate({ workflowId, firstSignalAt: input.firstSignalAt, vpsieNodes: created, timeoutSeconds: 120 })
        .catch(() => undefined);
    }
  }
  return record;
}
