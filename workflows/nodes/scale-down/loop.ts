/**
 * The scale-down loop: ONE long-running workflow per orchestrator scope (the NodeGroups of
 * WATCH_NAMESPACE, or of the whole cluster), id `scaleDownWorkflowId(scope)`. Per scope rather than
 * per NodeGroup because the decision is cluster-wide: pods of a removed node may move to nodes of
 * other groups, PDB allowances are shared, and one decision cordons every node it removes.
 *
 * Every `sampleSeconds` (SCALE_DOWN_SAMPLE_SECONDS):
 *  1. `scaleDownObserve` (activity) reads the cluster: nodes with pods, PDBs, NodeGroups (spec,
 *     last scale-up, scale-up in progress), VPSieNodes (removals under way); it returns one
 *     utilisation sample per node and the groups' windows, and keeps the snapshot in the worker.
 *  2. The pure utilisation tracker (workflow state, carried across continue-as-new) records the
 *     samples; `scaleDownDecide` (activity) decides on the snapshot with the tracker's window views,
 *     the failed-drain times and the removals in flight (decision/nodes/scale-down/loop-decision.ts)
 *     and returns the decision record and the stray cordons, which the loop uncordons. The history
 *     holds samples, views and the record, never the cluster (issue #12: a large cluster's
 *     snapshot passed Temporal's 2 MB payload limit). Histories from before replay the old path
 *     (`scaleDownSnapshot`, then `decideScaleDown` in the workflow).
 *  3. `recordScaleDownDecision` (activity) writes Events on candidate nodes (when a node's verdict
 *     changes), metrics and the NodeGroup `Scaling` condition.
 *  4. Each approved removal runs as a child workflow `scaleDownRemovalWorkflow`:
 *       (consolidation) replacements requested from the NodeGroup workflow, waited for until Ready;
 *       cordon every node of the removal; drain each (`drainNodeWorkflow` child: safety re-check,
 *       Eviction API, PDB 429 retried with backoff until the deadline, uncordon on failure); any
 *       failure or cancellation uncordons every node not handed over (PATCH_REMOVAL_UNCORDON);
 *       only when every drain succeeded, `nodeGroupScaleDownUpdate` (sent by an activity) makes the
 *       NodeGroup delete the VPSieNodes; their lifecycles drain again (nothing left: immediate) and
 *       terminate the machines.
 *     So a drain that fails never leaves a deleted-but-stuck VPSieNode: nothing is deleted until
 *     the node is empty. A failed drain starts the group's failed-drain cooldown.
 *  Dry run (spec.dryRun or DRY_RUN): decisions and Events/conditions only; nothing is removed.
 *  5. (PATCH_UTILIZATION_SCALE_UP, issue #17) The same observation carries each group's used share
 *     of its Ready nodes (metrics-server); a second pure state (decision/nodes/scale-up/utilization.ts,
 *     carried too) tracks how long each group has been above its scaleUpPolicy thresholds. A group
 *     above them for its whole stabilization window gets ONE node through `requestUtilizationScaleUp`
 *     (the planner's offering, the NodeGroup's `nodeGroupScaleUp` update, reason
 *     UtilizationAboveThreshold), and a new window starts. The group's removals of that tick are not
 *     started. Pending pods never wait for this: they have their own scale-up workflow.
 *
 * Continue-as-new when Temporal suggests it (or after `maxHistoryEvents`), once no removal is in
 * flight and every handler finished, carrying the tracker, the failed-drain times and the
 * per-node Event keys.
 */
import {
  allHandlersFinished,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  defineQuery,
  executeChild,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { SA_DECISION_REASON, SA_NODEGROUP, SA_VPSIENODE } from '../../../lib/temporal/search-attributes';
import type { DrainActivities } from '../../../activities/nodes/drain';
import type { ScaleDownActivities, ScaleDownSettings, ScaleDownSnapshot } from '../../../activities/nodes/scale-down';
import {
  createTracker,
  decideScaleDown,
  metricSamples,
  observe,
  type InFlightRemoval,
  type ReplacementNode,
  type ScaleDownDecision,
  type ScaleDownReason,
  type UtilizationTracker,
  windowViews,
} from '../../../decision/nodes/scale-down';
import type { StrayCordon } from '../../../decision/nodes/drain/cordon-sweep';
import type { VPSieNodePhase } from '../../../lib/crds/autoscaler/constants';
import { drainNodeWorkflow, type DrainNodeResult } from '../drain';
import {
  changedEvents,
  conditionsToWrite,
  removalDecision,
  removalDecisionReason,
  removalsOf,
  safetyFailureTransitions,
} from '../../../decision/nodes/scale-down/loop-records';
import { KUBERNETES_WRITE, NODEGROUP_UPDATE_SCALE_DOWN, KUBERNETES_DRAIN } from '../../../lib/temporal/retry-profiles';
import {
  createScaleUpWindows,
  evaluateGroups,
  observeGroups,
  requested,
  type ScaleUpWindows,
  type UtilizationVerdict,
} from '../../../decision/nodes/scale-up/utilization';

const acts = proxyActivities<ScaleDownActivities>({
  startToCloseTimeout: '60s',
  retry: KUBERNETES_WRITE,
});
const groupActs = proxyActivities<ScaleDownActivities>({
  // Updates on the NodeGroup workflow wait for its work (Kubernetes calls): bounded, retried.
  startToCloseTimeout: '2m',
  retry: NODEGROUP_UPDATE_SCALE_DOWN,
});
const decideActs = proxyActivities<ScaleDownActivities>({
  // The decision runs in the activity (CPU: seconds on a large cluster): generous, no heartbeat.
  startToCloseTimeout: '10m',
  retry: KUBERNETES_WRITE,
});
const drainActs = proxyActivities<DrainActivities>({
  startToCloseTimeout: '30s',
  retry: KUBERNETES_DRAIN,
});

/**
 * Patches of the loop (issue #12). DECIDE_IN_ACTIVITY: the activity that read the cluster decides
 * and returns the decision record (the snapshot is never recorded), and the loop uncordons the
 * stray cordons the decision found.
 */
export const PATCH_DECIDE_IN_ACTIVITY = 'scale-down-decide-in-activity';
/** Patch of the removal (issue #12): uncordon what it cordoned on any failure, cancellation included. */
export const PATCH_REMOVAL_UNCORDON = 'scale-down-removal-uncordon-on-failure';
/** Patch of the loop (issue #17): the utilisation-driven scale-up (scaleUpPolicy thresholds over its window). */
export const PATCH_UTILIZATION_SCALE_UP = 'scale-down-loop-utilization-scale-up';
/**
 * Patch of the loop (issue #17, observability): a safety check is counted when it starts failing
 * for a node (not on every tick), per NodeGroup; each removal starts with the NodeGroup, VPSieNode
 * and DecisionReason search attributes and carries its decision (typed reason + numbers), which
 * lands in the NodeGroup's status.lastScaleDownDecision; the loop upserts DecisionReason.
 */
export const PATCH_OBSERVABILITY = 'scale-down-loop-observability';
/** Patch of the removal (issue #17): a consolidation replacement in Deleting counts as failed, like Terminating. */
export const PATCH_REPLACEMENT_DELETING = 'scale-down-replacement-deleting-is-failed';

export function scaleDownWorkflowId(scope: string): string {
  return `scale-down:${scope || '*'}`;
}

/** Typed reasons of a removal's outcome (Events on nodes, the removal result). Closed set. */
export const REMOVAL_REASONS = ['NodeRemovalRequested', 'DrainFailed', 'ScaleDownRefused', 'ReplacementRefused', 'ReplacementNotReady', 'NoVPSieNode'] as const;
export type RemovalReason = (typeof REMOVAL_REASONS)[number];

export interface ScaleDownCarried {
  tracker: UtilizationTracker;
  /** `<ns>/<group>` -> epoch ms of the last failed drain. */
  failedDrainAt: Record<string, number>;
  /** node -> key of the last Event written (reason/outcome), so unchanged verdicts are not re-sent. */
  eventKeys: Record<string, string>;
  iterations: number;
  /** The utilisation scale-up's windows (issue #17). */
  scaleUpWindows?: ScaleUpWindows;
}

export interface ScaleDownWorkflowInput {
  /** Namespace of the NodeGroups this loop manages ('' = all). */
  scope: string;
  /** Overrides of the configured settings (tests). */
  settings?: Partial<ScaleDownSettings>;
  /** Continue-as-new after this many history events (default 4000, or when the server suggests). */
  maxHistoryEvents?: number;
  carried?: ScaleDownCarried;
}

export interface RemovalSummary {
  id: string;
  nodeGroup: string;
  namespace: string;
  nodes: string[];
  kind: 'delete' | 'consolidate';
  outcome?: ScaleDownRemovalResult['outcome'];
  reason?: RemovalReason;
  message?: string;
}

export interface ScaleDownLoopState {
  scope: string;
  iterations: number;
  lastDecisionAt?: number;
  lastStats?: ScaleDownDecision['stats'];
  /** Per node of the last decision: outcome and first reason (candidates only). */
  lastVerdicts: { node: string; nodeGroup?: string; outcome: string; reason?: ScaleDownReason; blockers: ScaleDownReason[] }[];
  inFlight: RemovalSummary[];
  /** Last 50 finished removals, newest last. */
  finished: RemovalSummary[];
  failedDrainAt: Record<string, number>;
  /** The utilisation scale-up (issue #17): each group's verdict at the last tick, and the last 50 nodes asked for. */
  utilization?: { verdicts: UtilizationVerdict[]; scaleUps: UtilizationScaleUpSummary[] };
}

export interface UtilizationScaleUpSummary {
  group: string;
  /** Epoch ms of the tick that asked. */
  at: number;
  requestId: string;
  verdict: UtilizationVerdict;
  offeringID?: string;
  created: string[];
  refused?: string;
  error?: string;
}
export const scaleDownStateQuery = defineQuery<ScaleDownLoopState>('scaleDownState');

// ---- the removal child workflow -------------------------------------------------------------

export interface ScaleDownRemovalInput {
  namespace: string;
  nodeGroup: string;
  kind: 'delete' | 'consolidate';
  nodes: { node: string; vpsieNode?: string }[];
  replacements?: ReplacementNode[];
  /** Idempotency key of the NodeGroup updates. */
  requestId: string;
  reason: string;
  message: string;
  /** The scale-down decision this removal carries out (typed reason, the numbers; PATCH_OBSERVABILITY). */
  decision?: { reason: string; message: string; at: string };
  drainTimeoutSeconds: number;
  /** Cap of the grace period of evictions; absent: each pod's own terminationGracePeriodSeconds. */
  maxGracePeriodSeconds?: number;
  replacementTimeoutSeconds: number;
  /** Between polls of replacement phases (default 2). */
  pollSeconds?: number;
}

export interface ScaleDownRemovalResult {
  outcome: 'Removed' | 'DrainFailed' | 'Refused' | 'ReplacementFailed';
  reason: RemovalReason;
  message: string;
  drains: DrainNodeResult[];
  /** VPSieNodes whose deletion the NodeGroup started. */
  removing: string[];
  replacements: string[];
}

export async function scaleDownRemovalWorkflow(input: ScaleDownRemovalInput): Promise<ScaleDownRemovalResult> {
  const ref = { namespace: input.namespace, name: input.nodeGroup };
  const nodeNames = input.nodes.map((n) => n.node);
  const drains: DrainNodeResult[] = [];
  let replacements: string[] = [];
  const finish = async (
    outcome: ScaleDownRemovalResult['outcome'],
    reason: RemovalReason,
    message: string,
    removing: string[] = [],
  ): Promise<ScaleDownRemovalResult> => {
    await acts.recordRemovalOutcome({
      namespace: input.namespace,
      nodeGroup: input.nodeGroup,
      nodes: nodeNames,
      outcome,
      reason,
      message,
      ...(input.decision ? { decision: input.decision } : {}),
    });
    return { outcome, reason, message, drains, removing, replacements };
  };
  const giveBack = async (names: string[], why: string): Promise<void> => {
    if (names.length === 0) return;
    await groupActs.requestNodeGroupScaleDown({
      ...ref,
      request: { requestId: `${input.requestId}/giveback`, vpsieNodes: names, reason: 'ConsolidationAbandoned', message: why },
    });
  };

  const missing = input.nodes.filter((n) => n.vpsieNode === undefined).map((n) => n.node);
  if (missing.length > 0) return finish('Refused', 'NoVPSieNode', `no VPSieNode stands for ${missing.join(', ')}; nothing was drained`);

  // Consolidation: the replacements first, Ready before anything is drained.
  if (input.kind === 'consolidate' && (input.replacements?.length ?? 0) > 0) {
    const byOffering = new Map<string, number>();
    for (const r of input.replacements ?? []) byOffering.set(r.offeringId, (byOffering.get(r.offeringId) ?? 0) + 1);
    const up = await groupActs.requestReplacementNodes({
      ...ref,
      request: {
        requestId: `${input.requestId}/replacements`,
        nodes: [...byOffering.entries()].map(([offeringID, count]) => ({ offeringID, count })),
        reason: 'Consolidation',
        message: input.message,
      },
    });
    replacements = up.created;
    const wanted = input.replacements?.length ?? 0;
    if (up.created.length < wanted) {
      await giveBack(up.created, 'consolidation replacements refused');
      return finish(
        'ReplacementFailed',
        'ReplacementRefused',
        `NodeGroup created ${up.created.length} of ${wanted} replacements: ${up.refused?.reason ?? ''} ${up.refused?.message ?? ''}`.trim(),
      );
    }
    const deadline = Date.now() + input.replacementTimeoutSeconds * 1000;
    let phases: Record<string, VPSieNodePhase> = {};
    for (;;) {
      phases = await acts.vpsieNodePhases({ namespace: input.namespace, names: up.created });
      const vals = up.created.map((n) => phases[n]);
      if (vals.every((p) => p === 'Ready')) break;
      const bad = up.created.filter(
        (n) =>
          phases[n] === 'Failed' ||
          phases[n] === 'Deleted' ||
          phases[n] === 'Terminating' ||
          // A replacement whose VPS is being deleted will not become Ready (issue #17).
          (phases[n] === 'Deleting' && patched(PATCH_REPLACEMENT_DELETING)),
      );
      if (bad.length > 0 || Date.now() >= deadline) {
        await giveBack(up.created, 'consolidation replacements not Ready');
        const why =
          bad.length > 0
            ? `replacements ${bad.map((b) => `${b}=${phases[b]}`).join(', ')}`
            : `replacements not Ready after ${input.replacementTimeoutSeconds}s (${up.created.map((n) => `${n}=${phases[n]}`).join(', ')})`;
        return finish('ReplacementFailed', 'ReplacementNotReady', `${why}; nothing was drained`);
      }
      await sleep(Math.max(1, input.pollSeconds ?? 2) * 1000);
    }
  }

  // Cordon, drain, hand over. Since issue #12 (PATCH_REMOVAL_UNCORDON) any failure on the way
  // (an activity out of retries, a cancelled or failed child, this workflow cancelled) uncordons
  // every node it cordoned that the NodeGroup did not take for removal.
  const cordoned = new Set<string>();
  const handedOver = new Set<string>();
  const drainAndRemove = async (): Promise<ScaleDownRemovalResult> => {
    // Cordon every node of the removal first, so evicted pods do not land on a node leaving too.
    for (const n of nodeNames) {
      cordoned.add(n);
      await drainActs.cordonNode(n);
    }
    const results = await Promise.all(
      input.nodes.map(async (n) => {
        try {
          return await executeChild(drainNodeWorkflow, {
            workflowId: `${workflowInfo().workflowId}/drain/${n.node}`,
            args: [
              {
                nodeName: n.node,
                timeoutSeconds: input.drainTimeoutSeconds,
                ...(input.maxGracePeriodSeconds !== undefined ? { maxPodGracePeriodSeconds: input.maxGracePeriodSeconds } : {}),
                ...(n.vpsieNode ? { vpsieNode: { namespace: input.namespace, name: n.vpsieNode } } : {}),
              },
            ],
          });
        } catch (e) {
          if (!(e instanceof ChildWorkflowFailure)) throw e;
          await drainActs.uncordonNode(n.node).catch(() => false);
          const r: DrainNodeResult = {
            nodeName: n.node,
            outcome: 'Failed',
            reason: 'DrainFailed',
            message: `drain workflow failed: ${e.cause?.message ?? e.message}`,
            evicted: 0,
            skipped: [],
            remaining: [],
            blockedByPdb: [],
            uncordoned: true,
            seconds: 0,
          };
          return r;
        }
      }),
    );
    drains.push(...results);
    const failed = results.filter((r) => r.outcome === 'Timeout' || r.outcome === 'Failed');
    if (failed.length > 0) {
      // Nodes that did drain get their capacity back: the removal is all or nothing.
      for (const r of results) if (!failed.includes(r)) await drainActs.uncordonNode(r.nodeName).catch(() => false);
      await giveBack(replacements, 'consolidation drain failed');
      return finish('DrainFailed', 'DrainFailed', failed.map((r) => `${r.nodeName}: ${r.outcome}: ${r.message}`).join('; '));
    }

    const vpsieNodes = input.nodes.map((n) => n.vpsieNode as string);
    const down = await groupActs.requestNodeGroupScaleDown({
      ...ref,
      request: { requestId: input.requestId, vpsieNodes, reason: input.reason, message: input.message },
    });
    for (const n of input.nodes) if (down.removing.includes(n.vpsieNode as string)) handedOver.add(n.node);
    const kept = input.nodes.filter((n) => !down.removing.includes(n.vpsieNode as string));
    if (kept.length > 0) {
      for (const n of kept) await drainActs.uncordonNode(n.node).catch(() => false);
      const why = `NodeGroup kept ${kept.map((n) => n.vpsieNode).join(', ')}: ${down.refused?.reason ?? 'refused'} ${down.refused?.message ?? ''}`.trim();
      if (down.removing.length === 0) return finish('Refused', 'ScaleDownRefused', why);
      return finish('Removed', 'NodeRemovalRequested', `removing ${down.removing.join(', ')}; ${why}`, down.removing);
    }
    const evicted = results.reduce((s, r) => s + r.evicted, 0);
    return finish(
      'Removed',
      'NodeRemovalRequested',
      `drained ${nodeNames.join(', ')} (${evicted} pod(s) evicted${replacements.length > 0 ? `, replacements ${replacements.join(', ')} Ready` : ''}); NodeGroup removing ${down.removing.join(', ')}: ${input.message}`,
      down.removing,
    );
  };
  if (!patched(PATCH_REMOVAL_UNCORDON)) return drainAndRemove();
  try {
    return await drainAndRemove();
  } catch (e) {
    await CancellationScope.nonCancellable(async () => {
      for (const n of cordoned) if (!handedOver.has(n)) await drainActs.uncordonNode(n).catch(() => false);
    });
    throw e;
  }
}

function groupKeyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

// ---- the loop ----------------------------------------------------------------------------------

export async function scaleDownWorkflow(input: ScaleDownWorkflowInput): Promise<void> {
  const scope = input.scope;
  const settings: ScaleDownSettings = { ...(await acts.scaleDownSettings()), ...(input.settings ?? {}) };
  const carried = input.carried;
  let tracker: UtilizationTracker = carried?.tracker ?? createTracker({ retentionSeconds: 3600, maxGapSeconds: Math.max(300, settings.sampleSeconds * 3) });
  const failedDrainAt: Record<string, number> = { ...(carried?.failedDrainAt ?? {}) };
  let eventKeys: Record<string, string> = { ...(carried?.eventKeys ?? {}) };
  let iterations = carried?.iterations ?? 0;
  const maxHistory = input.maxHistoryEvents ?? 4000;
  const inFlight = new Map<string, RemovalSummary & { vpsieNodes: string[] }>();
  const finished: RemovalSummary[] = [];
  let lastDecision: ScaleDownDecision | undefined;
  /** The DecisionReason search attribute last upserted (PATCH_OBSERVABILITY). */
  let decisionReason: string | undefined;
  let wake = false;
  let scaleUpWindows: ScaleUpWindows = carried?.scaleUpWindows ?? createScaleUpWindows(Math.max(300, settings.sampleSeconds * 3));
  let utilVerdicts: UtilizationVerdict[] = [];
  const utilScaleUps: UtilizationScaleUpSummary[] = [];
  let utilizationUsed = false;

  setHandler(scaleDownStateQuery, (): ScaleDownLoopState => ({
    scope,
    iterations,
    ...(lastDecision ? { lastDecisionAt: lastDecision.now, lastStats: lastDecision.stats } : {}),
    lastVerdicts: (lastDecision?.nodes ?? [])
      .filter((v) => v.outcome !== 'notCandidate')
      .map((v) => ({
        node: v.node,
        ...(v.nodeGroup ? { nodeGroup: v.nodeGroup } : {}),
        outcome: v.outcome,
        ...(v.reason ? { reason: v.reason } : {}),
        blockers: [...new Set(v.blockers.map((b) => b.reason))],
      })),
    inFlight: [...inFlight.values()].map(({ vpsieNodes: _v, ...r }) => r),
    finished: [...finished],
    failedDrainAt: { ...failedDrainAt },
    ...(utilizationUsed ? { utilization: { verdicts: [...utilVerdicts], scaleUps: [...utilScaleUps] } } : {}),
  }));

  const startRemoval = (r: ReturnType<typeof removalsOf>[number], namespace: string, decisionAt: number): void => {
    const id = `${workflowInfo().workflowId}/remove/${r.nodeGroup}/${r.nodes.map((n) => n.node).join('+')}/${iterations}`;
    const summary: RemovalSummary & { vpsieNodes: string[] } = {
      id,
      nodeGroup: r.nodeGroup,
      namespace,
      nodes: r.nodes.map((n) => n.node),
      kind: r.kind,
      vpsieNodes: r.nodes.map((n) => n.vpsieNode).filter((x): x is string => x !== undefined),
    };
    inFlight.set(id, summary);
    const args: ScaleDownRemovalInput = {
      namespace,
      nodeGroup: r.nodeGroup,
      kind: r.kind,
      nodes: r.nodes,
      ...(r.replacements ? { replacements: r.replacements } : {}),
      requestId: id,
      reason: r.kind === 'consolidate' ? 'Consolidation' : 'Underutilized',
      message: `${r.kind === 'consolidate' ? 'consolidation' : 'underutilised node'} approved by the scale-down decision of ${new Date(decisionAt).toISOString()}`,
      drainTimeoutSeconds: settings.drainTimeoutSeconds,
      ...(settings.maxGracePeriodSeconds !== undefined ? { maxGracePeriodSeconds: settings.maxGracePeriodSeconds } : {}),
      replacementTimeoutSeconds: settings.replacementTimeoutSeconds,
    };
    const observed = patched(PATCH_OBSERVABILITY);
    if (observed && lastDecision) args.decision = removalDecision(lastDecision, r, new Date(decisionAt).toISOString());
    const done = (res: { outcome: ScaleDownRemovalResult['outcome']; reason: RemovalReason; message: string }): void => {
      inFlight.delete(id);
      if (res.outcome === 'DrainFailed' || res.outcome === 'ReplacementFailed') failedDrainAt[groupKeyOf(namespace, r.nodeGroup)] = Date.now();
      finished.push({
        id,
        nodeGroup: r.nodeGroup,
        namespace,
        nodes: summary.nodes,
        kind: r.kind,
        outcome: res.outcome,
        reason: res.reason,
        message: res.message,
      });
      while (finished.length > 50) finished.shift();
      wake = true;
    };
    void (async () => {
      try {
        const vn = summary.vpsieNodes.length === 1 ? summary.vpsieNodes[0] : undefined;
        const child = await startChild(scaleDownRemovalWorkflow, {
          workflowId: id,
          args: [args],
          ...(observed
            ? {
                typedSearchAttributes: [
                  { key: SA_NODEGROUP, value: groupKeyOf(namespace, r.nodeGroup) },
                  { key: SA_DECISION_REASON, value: args.reason },
                  ...(vn !== undefined ? [{ key: SA_VPSIENODE, value: `${namespace}/${vn}` }] : []),
                ],
              }
            : {}),
        });
        done(await child.result());
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        log.warn('scale-down removal workflow failed', { id, error: message });
        done({ outcome: 'DrainFailed', reason: 'DrainFailed', message: `removal workflow failed: ${message}` });
      }
    })();
  };

  for (;;) {
    let d: ScaleDownDecision;
    let nsOf: Map<string, string>;
    let now: number;
    let stray: StrayCordon[] = [];
    let scaleUpNow: UtilizationVerdict[] = [];
    if (patched(PATCH_DECIDE_IN_ACTIVITY)) {
      // The workflow records samples, views and the decision record, never the cluster.
      const obs = await acts.scaleDownObserve({ scope });
      now = Date.now();
      iterations += 1;
      tracker = { ...tracker, retentionSeconds: Math.max(60, ...obs.windows) + settings.sampleSeconds * 2 };
      tracker = observe(
        tracker,
        obs.samples,
        now,
        obs.samples.map((x) => x.node),
      );
      const mine: InFlightRemoval[] = [];
      for (const r of inFlight.values()) {
        r.nodes.forEach((node, i) => {
          const vn = r.vpsieNodes[i];
          mine.push({ nodeGroup: r.nodeGroup, nodeName: node, ...(vn !== undefined ? { vpsieNode: vn } : {}) });
        });
      }
      const res = await decideActs.scaleDownDecide({
        scope,
        now,
        views: windowViews(tracker, obs.windows, now),
        failedDrainAt: { ...failedDrainAt },
        inFlight: mine,
      });
      d = res.decision;
      nsOf = new Map(Object.entries(res.namespaces));
      stray = res.strayCordons;
      if (obs.groupUsage && patched(PATCH_UTILIZATION_SCALE_UP)) {
        utilizationUsed = true;
        scaleUpWindows = observeGroups(scaleUpWindows, obs.groupUsage, now);
        utilVerdicts = evaluateGroups(scaleUpWindows, obs.groupUsage, now);
        scaleUpNow = utilVerdicts.filter((v) => v.scaleUp);
      }
    } else {
      const snap: ScaleDownSnapshot = await acts.scaleDownSnapshot({ scope });
      now = Date.now();
      iterations += 1;
      const windows = snap.groups.map((g) => g.spec.scaleDownPolicy.stabilizationWindowSeconds);
      tracker = { ...tracker, retentionSeconds: Math.max(60, ...windows) + settings.sampleSeconds * 2 };
      tracker = observe(
        tracker,
        snap.samples,
        now,
        snap.nodes.map((n) => n.node.name),
      );

      nsOf = new Map(snap.groups.map((g) => [g.name, g.namespace]));
      const groups = snap.groups.map((g) => {
        const at = failedDrainAt[groupKeyOf(g.namespace, g.name)];
        return at === undefined ? g : { ...g, lastFailedDrainAt: at };
      });
      const known = new Set(snap.inFlightRemovals.map((r) => r.nodeName ?? `vn:${r.vpsieNode ?? ''}`));
      const inFlightRemovals: InFlightRemoval[] = [...snap.inFlightRemovals];
      for (const r of inFlight.values()) {
        r.nodes.forEach((node, i) => {
          if (known.has(node)) return;
          const vn = r.vpsieNodes[i];
          inFlightRemovals.push({ nodeGroup: r.nodeGroup, nodeName: node, ...(vn !== undefined ? { vpsieNode: vn } : {}) });
        });
      }
      d = decideScaleDown({ now, nodes: snap.nodes, pdbs: snap.pdbs, groups, inFlightRemovals, utilization: tracker });
    }
    lastDecision = d;
    for (const c of stray) {
      // Cordoned by a drain or removal that no longer runs: give the capacity back.
      log.warn('uncordoning a stray cordon', { scope, node: c.node, cordonedBy: c.cordonedBy, ageSeconds: c.ageSeconds });
      await drainActs.uncordonNode(c.node).catch(() => false);
    }

    const keysBefore = eventKeys;
    const ev = changedEvents(d, eventKeys);
    eventKeys = ev.keys;
    const m = metricSamples(d);
    const observed = patched(PATCH_OBSERVABILITY);
    const safety = observed
      ? safetyFailureTransitions(d, keysBefore).map((x) => ({
          nodegroup: groupKeyOf(nsOf.get(x.nodeGroup) ?? scope, x.nodeGroup),
          reason: x.reason,
          count: x.count,
        }))
      : m.safetyCheckFailures;
    await acts.recordScaleDownDecision({
      scope,
      events: ev.events,
      safetyCheckFailures: safety,
      utilization: m.utilization.map((u) => ({ ...u, nodegroup: groupKeyOf(nsOf.get(u.nodegroup) ?? scope, u.nodegroup) })),
      conditions: conditionsToWrite(d),
    });
    if (d.stats.candidates > 0 || d.removals.length > 0 || d.dryRunRemovals.length > 0) {
      log.info('scale-down decision', {
        scope,
        stats: d.stats,
        removals: d.removals.map((r) => `${r.nodeGroup}/${r.node}:${r.kind}`),
        dryRun: d.dryRunRemovals.map((r) => `${r.nodeGroup}/${r.node}`),
      });
    }

    // Utilisation-driven scale-up (issue #17): one node per group whose window completed.
    const scalingUp = new Set<string>();
    for (const v of scaleUpNow) {
      const [namespace, name] = [v.group.slice(0, v.group.indexOf('/')), v.group.slice(v.group.indexOf('/') + 1)];
      const requestId = `${workflowInfo().workflowId}/utilization/${v.group}/${iterations}`;
      scalingUp.add(name);
      const summary: UtilizationScaleUpSummary = { group: v.group, at: now, requestId, verdict: v, created: [] };
      try {
        const r = await groupActs.requestUtilizationScaleUp({ scope, namespace, name, requestId, verdict: v });
        summary.created = r.created;
        if (r.offeringID !== undefined) summary.offeringID = r.offeringID;
        if (r.refused) summary.refused = `${r.refused.reason}: ${r.refused.message}`;
        else if (r.created.length === 0) summary.refused = r.message;
      } catch (e) {
        summary.error = e instanceof Error ? e.message : String(e);
        log.warn('utilisation scale-up request failed', { group: v.group, requestId, error: summary.error });
      }
      // A new window starts whatever the answer (at most one request per window).
      scaleUpWindows = requested(scaleUpWindows, v.group, now);
      utilScaleUps.push(summary);
      while (utilScaleUps.length > 50) utilScaleUps.shift();
    }

    const info = workflowInfo();
    const wantsNew = info.continueAsNewSuggested || info.historyLength > maxHistory;
    if (!wantsNew) {
      const removals = removalsOf(d).filter((r) => !scalingUp.has(r.nodeGroup));
      for (const r of removals) startRemoval(r, nsOf.get(r.nodeGroup) ?? scope, now);
      const last = removals[removals.length - 1];
      const why = last ? removalDecisionReason(last.kind) : undefined;
      if (observed && why !== undefined && why !== decisionReason) {
        decisionReason = why;
        upsertSearchAttributes([{ key: SA_DECISION_REASON, value: why }]);
      }
    }

    if (wantsNew && inFlight.size === 0) {
      await condition(allHandlersFinished);
      const next: ScaleDownCarried = { tracker, failedDrainAt, eventKeys, iterations, ...(utilizationUsed ? { scaleUpWindows } : {}) };
      await continueAsNew<typeof scaleDownWorkflow>({ ...input, carried: next });
    }
    wake = false;
    await condition(() => wake, settings.sampleSeconds * 1000);
  }
}
