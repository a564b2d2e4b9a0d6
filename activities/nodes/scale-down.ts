/**
 * Activities of the scale-down loop (workflows/nodes/scale-down/loop.ts):
 *
 * - `scaleDownSnapshot`: reads Nodes, Pods, PDBs, NodeGroups and VPSieNodes (and, for groups with
 *   consolidation, the VPSie plan catalogue) and returns the pure decision's input plus one
 *   utilisation sample per node. NodeGroups are those of WATCH_NAMESPACE (all when empty); every
 *   Node is a possible destination of moved pods.
 * - `recordScaleDownDecision`: writes what the workflow decided: Events on Nodes, metrics, and the
 *   NodeGroup `Scaling` condition (only that condition, and only while the group's own workflow
 *   does not report an active scale: see `mergeScalingCondition`).
 * - `requestNodeGroupScaleDown` / `requestReplacementNodes`: updates on the NodeGroup entity
 *   workflow (workflows cannot send updates to other workflows), idempotent by request id.
 * - `vpsieNodePhases`, `recordRemovalOutcome`.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Plan } from '../../clients/vpsie/schemas';
import { pdbFromK8s, scaleDownNodesFromK8s } from '../../decision/nodes/scale-down/from-k8s';
import { volumeLookup } from '../../decision/scheduling/from-k8s';
import {
  decideLoop,
  observation,
  type LoopDecideRequest,
  type LoopDecision,
  type LoopObservation,
  type LoopSnapshot,
} from '../../decision/nodes/scale-down/loop-decision';
import {
  type InFlightRemoval,
  type NodeEventRecord,
  type PdbInfo,
  type ScaleDownGroup,
  type ScaleDownNode,
  type ScalingCondition,
  type UtilizationSample,
} from '../../decision/nodes/scale-down';
import type { Offering } from '../../decision/planner/types';
import {
  GROUP,
  NODEGROUP_PLURAL,
  VERSION,
  VPSIENODE_PLURAL,
  safeParseNodeGroup,
  safeParseVPSieNode,
  type NodeGroup,
  type NodeGroupCondition,
  type VPSieNode,
  type VPSieNodePhase,
} from '../../lib/crds/autoscaler';
import { recordEvent } from '../../lib/kube/events';
import { apiStatus } from '../../lib/kube/api';
import { audit } from '../../lib/audit';
import { logger } from '../../lib/log';
import { autoscalerMetrics, OnceKeys } from '../../lib/metrics';
import { writeLastDecision } from './decision-status';
import {
  nodeGroupScaleDownUpdate,
  nodeGroupScaleUpUpdate,
  nodeGroupWorkflowId,
  type ScaleDownRequest,
  type ScaleDownResult,
  type ScaleUpRequest,
  type ScaleUpResult,
} from '../../workflows/nodes/contracts';
import type { OrchestratorDeps } from '../../workers/deps';
import { coordinationHubWorkflowId, scaleDownHoldQuery, type ScaleDownHold } from '../../workflows/coordination/contracts';
import { findPlan, planOffering } from '../../decision/planner/vpsie-plans';
import { GONE_PHASES, IN_FLIGHT_PHASES } from '../../decision/nodes/lifecycle/phases';
import { mergeScalingCondition } from '../../decision/nodes/scale-down/loop-records';
import { untilActivityCancelled } from '../../lib/temporal/activity';
import { nodeSample } from '../../decision/nodes/scale-down/utilization';
import { groupUsageSamples, utilizationOffering, type GroupUsageSample, type UtilizationVerdict } from '../../decision/nodes/scale-up/utilization';
import { API_VERSION, NODEGROUP_KIND } from '../../lib/crds/autoscaler';
import { createNodeUsageReader } from './usage';

const PATCH_MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const PLAN_CACHE_MS = 5 * 60_000;
const OBSERVED_MAX_AGE_MS = 2 * 60_000;

/** Settings the workflow reads once per run (recorded in its history). */
export interface ScaleDownSettings {
  sampleSeconds: number;
  drainTimeoutSeconds: number;
  /** Cap of the grace period of evictions; absent: each pod's own. */
  maxGracePeriodSeconds?: number;
  replacementTimeoutSeconds: number;
  /** Global DRY_RUN: every group is treated as spec.dryRun. */
  dryRun: boolean;
}

export interface ScaleDownVPSieNode {
  namespace: string;
  name: string;
  nodeGroup: string;
  phase: VPSieNodePhase;
  nodeName?: string;
  deleting: boolean;
}

export interface ScaleDownSnapshot {
  nodes: ScaleDownNode[];
  pdbs: PdbInfo[];
  groups: ScaleDownGroup[];
  /** VPSieNodes whose deletion has begun (the lifecycle drains and terminates them). */
  inFlightRemovals: InFlightRemoval[];
  samples: UtilizationSample[];
  vpsieNodes: ScaleDownVPSieNode[];
  /** Per group: used share over its Ready nodes and its scale-up policy. */
  groupUsage?: GroupUsageSample[];
}

/** A utilisation-driven scale-up the loop asks for (one node; the window's numbers in `verdict`). */
export interface UtilizationScaleUpInput {
  scope: string;
  namespace: string;
  name: string;
  /** Idempotency key of the NodeGroup update. */
  requestId: string;
  verdict: UtilizationVerdict;
}

export interface UtilizationScaleUpResult {
  requestId: string;
  /** The offering the planner chose (cheapest that holds the group's largest pod), when one did. */
  offeringID?: string;
  created: string[];
  refused?: { reason: string; count: number; message: string };
  message: string;
}

export interface SnapshotRequest {
  /** Namespace of the NodeGroups this loop manages ('' = every namespace). */
  scope: string;
}

export interface ConditionRecord {
  namespace: string;
  name: string;
  condition: ScalingCondition;
}

export interface DecisionRecordInput {
  scope: string;
  events: NodeEventRecord[];
  /** safety_check_failures_total{nodegroup,reason} increments (`nodegroup` = `<ns>/<name>`; absent in runs before the per-transition count). */
  safetyCheckFailures: { nodegroup?: string; reason: string; count: number }[];
  /** vpsie_autoscaler_node_utilization{nodegroup=<ns>/<name>,resource}. */
  utilization: { nodegroup: string; resource: 'cpu' | 'memory'; value: number }[];
  conditions: ConditionRecord[];
}

export interface RemovalOutcomeInput {
  namespace: string;
  nodeGroup: string;
  nodes: string[];
  outcome: 'Removed' | 'DrainFailed' | 'Refused' | 'ReplacementFailed' | 'DryRun';
  reason: string;
  message: string;
  /** The scale-down decision the removal carries out (typed reason, message with the numbers). */
  decision?: { reason: string; message: string; at?: string };
}

export function createScaleDownActivities(deps: OrchestratorDeps) {
  /** Coordination's hold on scale-down (the hub's answer; none when coordination does not run). */
  async function coordinationHold(): Promise<ScaleDownHold> {
    if (!deps.config.COORDINATION_ENABLED) return {};
    try {
      return await deps.temporal.workflow.getHandle(coordinationHubWorkflowId(deps.config.WATCH_NAMESPACE)).query(scaleDownHoldQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) && !/not found|completed/i.test(String(err)))
        logger('scale-down').warn('coordination hold not read; scale-down proceeds without it', { error: String(err) });
      return {};
    }
  }
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const policy = deps.kc.makeApiClient(k8s.PolicyV1Api);
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  /** Removals already counted, by the removal workflow's id. */
  const countedRemovals = new OnceKeys();
  /** Utilisation scale-up requests already counted (a retried request answers with the same nodes). */
  const countedUtilizationScaleUps = new OnceKeys();
  const removalKey = (): string => {
    try {
      return Context.current().info.workflowExecution?.workflowId ?? `no-workflow-${Date.now()}`;
    } catch {
      return `outside-an-activity-${Date.now()}`;
    }
  };
  const log = logger('scale-down-activities');
  const planCache = new Map<string, { at: number; plans: Plan[] }>();
  /** scope -> the snapshot `scaleDownObserve` read, for the `scaleDownDecide` that follows it (never recorded). */
  const observed = new Map<string, { at: number; snap: LoopSnapshot }>();
  /** scope -> the last snapshot read, for a utilisation scale-up's offering (pods of the group). */
  const lastRead = new Map<string, { at: number; snap: ScaleDownSnapshot }>();
  const readUsage = createNodeUsageReader(deps.kc);

  async function listCustom(plural: string, scope: string): Promise<unknown[]> {
    const list = (
      scope
        ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: scope, plural })
        : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
    ) as { items?: unknown[] };
    return list.items ?? [];
  }

  async function plansOf(dc: string): Promise<Plan[]> {
    const c = planCache.get(dc);
    if (c && Date.now() - c.at < PLAN_CACHE_MS) return c.plans;
    let plans: Plan[] = [];
    try {
      plans = await deps.vpsie.listAllPlans(dc);
    } catch (err) {
      if ((err as { type?: string }).type !== 'not_found') throw err;
    }
    planCache.set(dc, { at: Date.now(), plans });
    return plans;
  }

  async function offeringsOf(g: NodeGroup): Promise<Offering[]> {
    const dc = g.spec.datacenterID ?? deps.config.DEFAULT_DATACENTER;
    const plans = await plansOf(dc);
    const out: Offering[] = [];
    for (const ref of g.spec.offeringIDs ?? deps.config.DEFAULT_OFFERINGS) {
      const plan = findPlan(plans, ref);
      if (plan) out.push(planOffering(ref, plan, dc));
    }
    return out;
  }

  async function groupUpdate<R>(namespace: string, name: string, run: (h: ReturnType<typeof deps.temporal.workflow.getHandle>) => Promise<R>): Promise<R> {
    const id = nodeGroupWorkflowId(namespace, name);
    try {
      return await untilActivityCancelled(deps.temporal, () => run(deps.temporal.workflow.getHandle(id)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw ApplicationFailure.retryable(`NodeGroup workflow ${id} is not running`, 'NodeGroupWorkflowNotRunning');
      throw err;
    }
  }

  async function readSnapshot(req: SnapshotRequest): Promise<ScaleDownSnapshot> {
    const [nodeList, podList, pdbList, ngRaw, vnRaw, usage] = await Promise.all([
      core.listNode(),
      core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
      policy.listPodDisruptionBudgetForAllNamespaces(),
      listCustom(NODEGROUP_PLURAL, req.scope),
      listCustom(VPSIENODE_PLURAL, req.scope),
      readUsage(),
    ]);
    const vns: VPSieNode[] = [];
    for (const o of vnRaw) {
      const r = safeParseVPSieNode(o);
      if (r.ok) vns.push(r.value);
    }
    const vpsieNodes: ScaleDownVPSieNode[] = vns.map((v) => ({
      namespace: v.metadata.namespace ?? req.scope,
      name: v.metadata.name,
      nodeGroup: v.spec.nodeGroupName,
      phase: v.status?.phase ?? 'Pending',
      ...(v.status?.nodeName ? { nodeName: v.status.nodeName } : {}),
      deleting: v.metadata.deletionTimestamp !== undefined,
    }));
    const vnByNode = new Map<string, VPSieNode>();
    for (const v of vns) if (v.status?.nodeName && !v.metadata.deletionTimestamp) vnByNode.set(v.status.nodeName, v);

    const hold = await coordinationHold();
    const groups: ScaleDownGroup[] = [];
    for (const o of ngRaw) {
      const r = safeParseNodeGroup(o);
      if (!r.ok) continue;
      const g = r.value;
      const ns = g.metadata.namespace ?? req.scope;
      const mine = vns.filter((v) => v.spec.nodeGroupName === g.metadata.name && (v.metadata.namespace ?? req.scope) === ns);
      const live = mine.filter((v) => !GONE_PHASES.has(v.status?.phase ?? 'Pending'));
      const coming = live.filter((v) => !v.metadata.deletionTimestamp && IN_FLIGHT_PHASES.has(v.status?.phase ?? 'Pending'));
      const notDeleting = live.filter((v) => !v.metadata.deletionTimestamp).length;
      const desired = g.status?.desiredNodes;
      const spec = deps.config.DRY_RUN ? { ...g.spec, dryRun: true } : g.spec;
      const sg: ScaleDownGroup = {
        name: g.metadata.name,
        namespace: ns,
        spec,
        currentNodes: live.length,
        deleting: g.metadata.deletionTimestamp !== undefined,
        scaleUpInProgress: coming.length > 0 || (desired !== undefined && desired > notDeleting),
      };
      if (g.status?.lastScaleUpTime) sg.lastScaleUpAt = Date.parse(g.status.lastScaleUpTime);
      if (hold.holdUntil !== undefined) {
        sg.coordinationHoldUntil = hold.holdUntil;
        if (hold.object !== undefined) sg.coordinationHoldBy = hold.object;
      }
      if (g.spec.consolidation.enabled) sg.offerings = await offeringsOf(g);
      groups.push(sg);
    }

    // Only what the decision reads (annotations filtered): the snapshot stays in the worker.
    // Bound PersistentVolumes: a pod whose PV allows no other node cannot move (safety check 4).
    const [pvcList, pvList] = await Promise.all([core.listPersistentVolumeClaimForAllNamespaces(), core.listPersistentVolume()]);
    const { nodes } = scaleDownNodesFromK8s(
      nodeList.items,
      podList.items,
      (name) => {
        const vn = vnByNode.get(name);
        return vn ? { vpsieNode: vn.metadata.name, offeringId: vn.spec.offeringID } : {};
      },
      { volumes: volumeLookup(pvcList.items, pvList.items) },
    );
    // metrics-server's usage per node (issue #17): on the node (the anti-flap rule) and in its sample
    // (requested and used shares, tracked separately by the workflow's tracker).
    for (const n of nodes) {
      const u = usage.usage.get(n.node.name);
      if (u) n.usage = u;
    }
    const samples = nodes.map((n) => nodeSample(n.node.name, n.node.allocatable, n.pods, n.usage));
    const inFlightRemovals: InFlightRemoval[] = vpsieNodes
      .filter((v) => v.deleting && v.phase !== 'Deleted')
      .map((v) => ({ nodeGroup: v.nodeGroup, vpsieNode: v.name, ...(v.nodeName ? { nodeName: v.nodeName } : {}) }));
    const groupUsage = groupUsageSamples(nodes, groups);
    for (const g of groupUsage) {
      if (g.cpu === undefined || g.memory === undefined) continue;
      metrics.nodeGroupUsage.set({ nodegroup: g.group, resource: 'cpu' }, g.cpu);
      metrics.nodeGroupUsage.set({ nodegroup: g.group, resource: 'memory' }, g.memory);
    }
    const snap: ScaleDownSnapshot = { nodes, pdbs: pdbList.items.map(pdbFromK8s), groups, inFlightRemovals, samples, vpsieNodes, groupUsage };
    lastRead.set(req.scope, { at: Date.now(), snap });
    return snap;
  }

  return {
    async scaleDownSettings(): Promise<ScaleDownSettings> {
      const c = deps.config;
      return {
        sampleSeconds: c.SCALE_DOWN_SAMPLE_SECONDS,
        drainTimeoutSeconds: c.SCALE_DOWN_DRAIN_TIMEOUT_SECONDS,
        ...(c.SCALE_DOWN_MAX_GRACE_SECONDS !== undefined ? { maxGracePeriodSeconds: c.SCALE_DOWN_MAX_GRACE_SECONDS } : {}),
        replacementTimeoutSeconds: c.SCALE_DOWN_REPLACEMENT_TIMEOUT_SECONDS,
        dryRun: c.DRY_RUN,
      };
    },

    /** The whole decision input (before issue #12 the loop's activity result; kept for histories that still call it). */
    async scaleDownSnapshot(req: SnapshotRequest): Promise<ScaleDownSnapshot> {
      return readSnapshot(req);
    },

    /**
     * Reads the cluster and returns only what the workflow's utilisation tracker needs (a sample per
     * node, the groups' windows); the snapshot waits in this worker for `scaleDownDecide`.
     */
    async scaleDownObserve(req: SnapshotRequest): Promise<LoopObservation> {
      // (since issue #17 the observation carries each node's used share and each group's usage)
      const snap = await readSnapshot(req);
      observed.set(req.scope, { at: Date.now(), snap });
      return observation(snap);
    },

    /**
     * Decides on the snapshot `scaleDownObserve` read (read again when it is not here or older than
     * two minutes: another worker, a retry) with the workflow's window views, and returns the
     * decision record: the workflow history never holds the cluster.
     */
    async scaleDownDecide(req: SnapshotRequest & LoopDecideRequest): Promise<LoopDecision> {
      const c = observed.get(req.scope);
      observed.delete(req.scope);
      const snap = c && Date.now() - c.at < OBSERVED_MAX_AGE_MS ? c.snap : await readSnapshot(req);
      return decideLoop(snap, req);
    },

    async recordScaleDownDecision(input: DecisionRecordInput): Promise<void> {
      for (const s of input.safetyCheckFailures) metrics.safetyCheckFailures.inc({ nodegroup: s.nodegroup ?? input.scope, reason: s.reason }, s.count);
      for (const u of input.utilization) metrics.nodeUtilization.set({ nodegroup: u.nodegroup, resource: u.resource }, u.value);
      await Promise.all(
        input.events.map((e) =>
          recordEvent(deps.kc, {
            target: { apiVersion: 'v1', kind: 'Node', name: e.node },
            type: e.type,
            reason: e.reason,
            message: e.message,
            dedupeKey: e.dedupeKey,
          }),
        ),
      );
      for (const c of input.conditions) {
        for (let attempt = 0; attempt < 4; attempt++) {
          let raw: { metadata?: { resourceVersion?: string; generation?: number }; status?: { conditions?: NodeGroupCondition[] } };
          try {
            raw = (await custom.getNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: c.namespace,
              plural: NODEGROUP_PLURAL,
              name: c.name,
            })) as typeof raw;
          } catch (err) {
            if (apiStatus(err) === 404) break;
            throw err;
          }
          const next = mergeScalingCondition(raw.status?.conditions ?? [], c.condition, raw.metadata?.generation ?? 0, new Date().toISOString());
          if (!next) break;
          try {
            await custom.patchNamespacedCustomObjectStatus(
              {
                group: GROUP,
                version: VERSION,
                namespace: c.namespace,
                plural: NODEGROUP_PLURAL,
                name: c.name,
                body: { metadata: { resourceVersion: raw.metadata?.resourceVersion }, status: { conditions: next } },
              },
              PATCH_MERGE,
            );
            break;
          } catch (err) {
            const code = apiStatus(err);
            if (code === 404) break;
            if (code !== 409) throw err;
          }
        }
      }
    },

    /**
     * One more node for a group whose usage stayed above scaleUpPolicy's thresholds for its window
     * (decision/nodes/scale-up/utilization.ts): the offering from the planner, the `nodeGroupScaleUp`
     * update (reason UtilizationAboveThreshold, the numbers in its message; the NodeGroup admits it
     * against maxNodes, cooldown, dry run), then an Event on the NodeGroup, its
     * status.lastScaleUpDecision and the metric.
     */
    async requestUtilizationScaleUp(input: UtilizationScaleUpInput): Promise<UtilizationScaleUpResult> {
      const key = `${input.namespace}/${input.name}`;
      const cached = lastRead.get(input.scope);
      const snap = cached && Date.now() - cached.at < OBSERVED_MAX_AGE_MS ? cached.snap : await readSnapshot({ scope: input.scope });
      const found = snap.groups.find((g) => g.namespace === input.namespace && g.name === input.name);
      if (!found) return { requestId: input.requestId, created: [], message: `NodeGroup ${key} not found` };
      const raw = (await custom
        .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: input.namespace, plural: NODEGROUP_PLURAL, name: input.name })
        .catch((err: unknown) => {
          if (apiStatus(err) === 404) return undefined;
          throw err;
        })) as unknown;
      const parsed = raw === undefined ? undefined : safeParseNodeGroup(raw);
      if (!parsed?.ok) return { requestId: input.requestId, created: [], message: `NodeGroup ${key} not found` };
      const ng = parsed.value;
      const group: ScaleDownGroup = { ...found, offerings: found.offerings ?? (await offeringsOf(ng)) };
      const choice = utilizationOffering(snap.nodes, group);
      const numbers = Object.keys(input.verdict.numbers)
        .sort()
        .map((k) => `${k}=${input.verdict.numbers[k]}`)
        .join(' ');
      const why = `${input.verdict.message} [${numbers}]`;
      const target = { apiVersion: API_VERSION, kind: NODEGROUP_KIND, namespace: input.namespace, name: input.name, uid: ng.metadata.uid };
      const auditScaleUp = (outcome: string, created: string[], detail: string): void => {
        audit({
          action: 'UtilizationScaleUp',
          decision: input.requestId,
          object: { kind: NODEGROUP_KIND, namespace: input.namespace, name: input.name, ...(ng.metadata.uid ? { uid: ng.metadata.uid } : {}) },
          reason: input.verdict.reason,
          outcome,
          numbers: { ...input.verdict.numbers, created: created.length },
          nodegroup: key,
          nodes: created,
          detail,
        });
      };
      if (!choice.offeringID) {
        auditScaleUp('NoOffering', [], `${why}; ${choice.message}`);
        await recordEvent(deps.kc, { target, type: 'Warning', reason: 'ScaleUpFailed', message: `UtilizationAboveThreshold: ${why}; ${choice.message}` });
        return { requestId: input.requestId, created: [], message: choice.message };
      }
      const r = await groupUpdate(input.namespace, input.name, (h) =>
        h.executeUpdate(nodeGroupScaleUpUpdate, {
          args: [
            {
              requestId: input.requestId,
              nodes: [{ offeringID: choice.offeringID as string, count: 1 }],
              reason: 'UtilizationAboveThreshold',
              message: `${why}; ${choice.message}`,
            },
          ],
          updateId: input.requestId,
        }),
      );
      const outcome =
        r.created.length > 0
          ? `created ${r.created.join(', ')}`
          : `refused: ${r.refused?.reason ?? 'nothing created'}${r.refused?.message ? ` (${r.refused.message})` : ''}`;
      const message = `${why}; ${choice.message}; ${outcome}`;
      if (r.created.length > 0 && countedUtilizationScaleUps.first(input.requestId)) metrics.utilizationScaleUps.inc({ nodegroup: key });
      auditScaleUp(r.created.length > 0 ? 'Created' : 'Refused', r.created, message);
      await recordEvent(deps.kc, {
        target,
        type: 'Normal',
        reason: 'UtilizationAboveThreshold',
        message: message.slice(0, 1000),
        dedupeKey: `utilization-scaleup-${input.requestId.split('/').pop() ?? ''}`,
      });
      if (r.created.length > 0) {
        await custom
          .patchNamespacedCustomObjectStatus(
            {
              group: GROUP,
              version: VERSION,
              namespace: input.namespace,
              plural: NODEGROUP_PLURAL,
              name: input.name,
              body: {
                status: {
                  lastScaleUpDecision: {
                    time: new Date().toISOString(),
                    reason: 'UtilizationAboveThreshold',
                    message: message.slice(0, 2048),
                    workflowId: input.requestId.slice(0, 512),
                    nodes: r.created.slice(0, 64),
                  },
                },
              },
            },
            PATCH_MERGE,
          )
          .catch((err: unknown) => {
            if (apiStatus(err) !== 404) throw err;
          });
      }
      log.info('utilisation scale-up', {
        nodegroup: key,
        requestId: input.requestId,
        offering: choice.offeringID,
        created: r.created,
        refused: r.refused?.reason,
        why,
      });
      return {
        requestId: input.requestId,
        offeringID: choice.offeringID,
        created: r.created,
        ...(r.refused ? { refused: r.refused } : {}),
        message,
      };
    },

    /** Asks the NodeGroup workflow to remove VPSieNodes (their lifecycles then terminate the machines). */
    async requestNodeGroupScaleDown(input: { namespace: string; name: string; request: ScaleDownRequest }): Promise<ScaleDownResult> {
      const r = await groupUpdate(input.namespace, input.name, (h) =>
        h.executeUpdate(nodeGroupScaleDownUpdate, { args: [input.request], updateId: input.request.requestId }),
      );
      log.info('scale-down request applied', {
        nodegroup: `${input.namespace}/${input.name}`,
        requestId: input.request.requestId,
        removing: r.removing,
        refused: r.refused?.reason,
      });
      return r;
    },

    /** Asks the NodeGroup workflow for consolidation replacements. */
    async requestReplacementNodes(input: { namespace: string; name: string; request: ScaleUpRequest }): Promise<ScaleUpResult> {
      const r = await groupUpdate(input.namespace, input.name, (h) =>
        h.executeUpdate(nodeGroupScaleUpUpdate, { args: [input.request], updateId: input.request.requestId }),
      );
      log.info('consolidation replacements requested', {
        nodegroup: `${input.namespace}/${input.name}`,
        requestId: input.request.requestId,
        created: r.created,
        refused: r.refused?.reason,
      });
      return r;
    },

    /** Phase of each named VPSieNode ('Deleted' when it is gone). */
    async vpsieNodePhases(input: { namespace: string; names: string[] }): Promise<Record<string, VPSieNodePhase>> {
      const out: Record<string, VPSieNodePhase> = {};
      for (const name of input.names) {
        try {
          const o = await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: input.namespace, plural: VPSIENODE_PLURAL, name });
          const r = safeParseVPSieNode(o);
          out[name] = r.ok ? (r.value.status?.phase ?? 'Pending') : 'Pending';
        } catch (err) {
          if (apiStatus(err) !== 404) throw err;
          out[name] = 'Deleted';
        }
      }
      return out;
    },

    /** Event on each node, failure metric, log line. */
    async recordRemovalOutcome(input: RemovalOutcomeInput): Promise<void> {
      const failed = input.outcome !== 'Removed' && input.outcome !== 'DryRun';
      const nodegroup = `${input.namespace}/${input.nodeGroup}`;
      // Once per removal (its workflow id), whatever retries this activity.
      if (countedRemovals.first(removalKey())) {
        metrics.scaleDownOperations.inc({ nodegroup, outcome: input.outcome });
        if (failed) metrics.scaleDownFailures.inc({ nodegroup });
      }
      // The audit line of the removal, once per removal workflow (a dry run marked dryRun).
      audit({
        action: 'ScaleDown',
        decision: removalKey(),
        object: { kind: NODEGROUP_KIND, namespace: input.namespace, name: input.nodeGroup },
        reason: input.decision?.reason ?? input.reason,
        outcome: input.outcome,
        numbers: { nodes: input.nodes.length },
        nodegroup,
        nodes: input.nodes,
        ...(input.outcome === 'DryRun' ? { dryRun: true } : {}),
        detail: `${input.decision ? `${input.decision.message}; ` : ''}outcome ${input.outcome} (${input.reason}): ${input.message}`,
      });
      await writeLastDecision(custom, { namespace: input.namespace, name: input.nodeGroup }, 'lastScaleDownDecision', {
        time: input.decision?.at ?? new Date().toISOString(),
        reason: input.decision?.reason ?? input.reason,
        message: `${input.decision ? `${input.decision.message}; ` : ''}outcome ${input.outcome} (${input.reason}): ${input.message}`,
        workflowId: removalKey(),
        nodes: input.nodes.slice(0, 64),
      });
      await recordEvent(deps.kc, {
        target: { apiVersion: API_VERSION, kind: NODEGROUP_KIND, namespace: input.namespace, name: input.nodeGroup },
        type: failed ? 'Warning' : 'Normal',
        reason: input.outcome === 'DryRun' ? 'ScaleDownDryRun' : failed ? 'ScaleDownFailed' : 'ScaleDownCompleted',
        message: `${input.nodes.join(', ')}: ${input.outcome} (${input.reason}): ${input.message}`,
        dedupeKey: `scaledown-${removalKey()}`,
      });
      await Promise.all(
        input.nodes.map((node) =>
          recordEvent(deps.kc, {
            target: { apiVersion: 'v1', kind: 'Node', name: node },
            type: failed ? 'Warning' : 'Normal',
            reason: input.reason,
            message: input.message,
            dedupeKey: `scaledown-outcome-${input.reason}`,
          }),
        ),
      );
      const fields = {
        nodegroup: `${input.namespace}/${input.nodeGroup}`,
        nodes: input.nodes,
        outcome: input.outcome,
        reason: input.reason,
        message: input.message,
      };
      if (failed) log.warn('scale-down removal failed', fields);
      else log.info('scale-down removal finished', fields);
    },
  };
}

export type ScaleDownActivities = ReturnType<typeof createScaleDownActivities>;
