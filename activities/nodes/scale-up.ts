/**
 * Activities of the scale-up workflow (workflows/nodes/scale-up.ts):
 * - `scaleUpSnapshot`: reads the cluster (pods, nodes, NodeGroups, VPSieNodes, DaemonSets) and the
 *   VPSie plan catalogue; decision/nodes/scale-up/snapshot.ts (`toPlannerInput`, pure) turns them
 *   into the planner's input. `scaleUpPlan`: the same snapshot and the plan made from it here
 *   (the workflow's path since the `scale-up-plans-in-activity` patch), returned without the
 *   planner input.
 * - `requestGroupScaleUp`: sends one group's share of the decision to its NodeGroup entity workflow
 *   as the `nodeGroupScaleUp` update (updates cannot be sent from workflow code). The request id is
 *   derived from the scale-up workflow id and the group, so a retried activity is applied once.
 *   With SCALE_UP_EARLY_CREATE it then sends the new VPSieNodes' VM creates itself
 *   (`createMachinesEarly`, lifecycle/machines.ts; best effort within 1.5 s), so VPSie is asked
 *   without waiting for each lifecycle to start — and without holding up the NodeGroup workflow.
 * - `recordScaleUpOutcome`: Events on each pod (`TriggeredScaleUp` / `NotTriggerScaleUp` + reason +
 *   numbers) and on each NodeGroup (the summary: the NodeGroup CRD has no status field for a
 *   decision record), and the scale-up metrics.
 * - `observePendingToCreate`: waits (bounded, heartbeating) for the first created VPSieNode to reach
 *   Provisioning (its lifecycle called VPSie's create) and records first-signal → create latency.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Plan } from '../../clients/vpsie/schemas';
import { planScaleUp } from '../../decision/planner/planner';
import type { ScaleUpDecision } from '../../decision/planner/types';
import { groupOutcomeOf, schedulingConstraintCounts, type PodOutcome, type ScaleUpRecord } from '../../decision/nodes/scale-up/record';
import { toPlannerInput, uidList, type ScaleUpSnapshot } from '../../decision/nodes/scale-up/snapshot';
import {
  GROUP,
  HELD_PODS_ANNOTATION,
  NODEGROUP_KIND,
  NODEGROUP_PLURAL,
  API_VERSION,
  VERSION,
  VPSIENODE_PLURAL,
  safeParseNodeGroup,
  safeParseVPSieNode,
  type NodeGroup,
  type VPSieNode,
} from '../../lib/crds/autoscaler';
import { recordEvent } from '../../lib/kube/events';
import { LIVE_POD_SELECTOR } from '../../lib/kube/pod-cache';
import { apiStatus } from '../../lib/kube/api';
import { audit } from '../../lib/audit';
import { logger } from '../../lib/log';
import { autoscalerMetrics, OnceKeys } from '../../lib/metrics';
import { writeLastDecision } from './decision-status';
import type { OrchestratorDeps } from '../../workers/deps';
import { nodeGroupScaleUpUpdate, nodeGroupWorkflowId, type ScaleUpRequest, type ScaleUpResult } from '../../workflows/nodes/contracts';
import { untilActivityCancelled } from '../../lib/temporal/activity';
import { CREATE_SENT_ANNOTATION, createVPSieMachineActivities } from './lifecycle/machines';

// ---- activities ------------------------------------------------------------------------------

/** What the scale-up workflow needs of a snapshot and its plan (the planner input stays in the activity). */
export type PlannedScaleUp = Omit<ScaleUpSnapshot, 'input'> & { decision: ScaleUpDecision };

export interface SnapshotRequest {
  workflowId: string;
  podUids?: string[];
}

export interface GroupScaleUpRequest {
  namespace: string;
  name: string;
  /** With `podUidsByNode`: the pods each new VPSieNode is created annotated with. */
  request: ScaleUpRequest;
}

export interface HoldPodsRequest {
  /** Per in-flight VPSieNode (`namespace/name`): uids of pending pods a run found room for on it. */
  holds: { vpsieNode: string; podUids: string[] }[];
}

/** At most this many uids are kept per VPSieNode (newest last); older ones are bound or gone. */
export const MAX_HELD_PODS = 512;

export interface ObserveLatencyRequest {
  workflowId: string;
  firstSignalAt: string;
  vpsieNodes: { namespace: string; name: string }[];
  /** Give up after this long (the lifecycle may be slow or failing; the histogram is not a gate). */
  timeoutSeconds?: number;
}

/** Pod-event reasons (closed set). */
export const POD_EVENT_REASONS = ['TriggeredScaleUp', 'NotTriggerScaleUp'] as const;
/** NodeGroup-event reasons of the scale-up (closed set). */
export const NODEGROUP_SCALEUP_EVENT_REASONS = ['TriggeredScaleUp', 'ScaleUpRefused', 'ScaleUpFailed', 'ScaleUpDryRun'] as const;

/** How long a snapshot waits for the batch's pods to reach the pod cache before it lists instead. */
export const POD_CACHE_WAIT_MS = 500;

export function createScaleUpActivities(deps: OrchestratorDeps) {
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const apps = deps.kc.makeApiClient(k8s.AppsV1Api);
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  /** Scale-up requests already counted (a retried recordScaleUpOutcome counts nothing twice). */
  const countedRequests = new OnceKeys();
  const log = logger('scale-up-activities');
  const watchNs = deps.config.WATCH_NAMESPACE;
  // New VPSieNodes get their VM creates from `requestGroupScaleUp` itself (SCALE_UP_EARLY_CREATE).
  const machines = deps.config.SCALE_UP_EARLY_CREATE ? createVPSieMachineActivities(deps) : undefined;

  async function listCustom(plural: string): Promise<unknown[]> {
    const list = (
      watchNs
        ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: watchNs, plural })
        : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
    ) as { items?: unknown[] };
    return list.items ?? [];
  }

  /**
   * Pods and Nodes from the process's informers when they are synced (#13: no list of every pod
   * per batch), waiting briefly for the batch's own pods to reach the pod cache (they were seen by
   * another watch); otherwise — no cache, or a batch pod still missing — from the apiserver.
   * NodeGroups and VPSieNodes are always listed: the in-flight room must include the VPSieNodes
   * an earlier run has just had made, which a watch may not have delivered yet.
   */
  async function podsAndNodes(uids: readonly string[]): Promise<{ pods: k8s.V1Pod[]; nodes: k8s.V1Node[]; from: 'cache' | 'apiserver' }> {
    const cache = deps.config.SCALE_UP_SNAPSHOT_FROM_CACHE ? deps.pods : undefined;
    if (cache?.list()) {
      const deadline = Date.now() + POD_CACHE_WAIT_MS;
      while (!cache.hasAll(uids) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const pods = cache.list();
      const nodes = deps.nodes?.list();
      if (pods && cache.hasAll(uids)) return { pods: [...pods], nodes: nodes ? [...nodes] : (await core.listNode()).items, from: 'cache' };
    }
    const [pods, nodes] = await Promise.all([core.listPodForAllNamespaces({ fieldSelector: LIVE_POD_SELECTOR }), core.listNode()]);
    return { pods: pods.items, nodes: nodes.items, from: 'apiserver' };
  }

  async function snapshot(req: SnapshotRequest): Promise<ScaleUpSnapshot> {
    const [live, ngRaw, vnRaw, dss, pvcs, pvs] = await Promise.all([
      podsAndNodes(req.podUids ?? []),
      listCustom(NODEGROUP_PLURAL),
      listCustom(VPSIENODE_PLURAL),
      apps.listDaemonSetForAllNamespaces(),
      core.listPersistentVolumeClaimForAllNamespaces(),
      core.listPersistentVolume(),
    ]);
    metrics.scaleUpSnapshotReads.inc({ source: live.from });
    const nodeGroups: NodeGroup[] = [];
    for (const o of ngRaw) {
      const r = safeParseNodeGroup(o);
      if (r.ok) nodeGroups.push(r.value);
      else log.warn('skipping an invalid NodeGroup', { workflowId: req.workflowId, error: r.error.message });
    }
    const vpsieNodes: VPSieNode[] = [];
    for (const o of vnRaw) {
      const r = safeParseVPSieNode(o);
      if (r.ok) vpsieNodes.push(r.value);
    }
    const dcs = new Set<string>([deps.config.DEFAULT_DATACENTER]);
    for (const g of nodeGroups) if (g.spec.datacenterID) dcs.add(g.spec.datacenterID);
    for (const v of vpsieNodes) dcs.add(v.spec.datacenterID);
    const plans: Record<string, Plan[]> = {};
    for (const dc of dcs) {
      try {
        plans[dc] = await deps.vpsie.listAllPlans(dc);
      } catch (err) {
        // An unknown datacenter leaves its groups without offerings (reported); other errors retry.
        if ((err as { type?: string }).type === 'not_found') plans[dc] = [];
        else throw err;
      }
    }
    const snap = toPlannerInput(
      {
        pods: live.pods,
        nodes: live.nodes,
        nodeGroups,
        vpsieNodes,
        daemonSets: dss.items,
        plans,
        persistentVolumeClaims: pvcs.items,
        persistentVolumes: pvs.items,
      },
      {
        ...(req.podUids ? { podUids: req.podUids } : {}),
        maxClusterNodes: deps.config.MAX_CLUSTER_NODES,
        defaultDatacenter: deps.config.DEFAULT_DATACENTER,
        defaultOfferings: deps.config.DEFAULT_OFFERINGS,
        nowMs: Date.now(),
      },
    );
    log.info('scale-up snapshot', {
      workflowId: req.workflowId,
      pendingPods: snap.input.pendingPods.length,
      podsFrom: live.from,
      gone: snap.gone.length,
      existingNodes: snap.input.existingNodes.length,
      inFlightNodes: snap.input.inFlightNodes.length,
      nodeGroups: snap.input.nodeGroups.length,
      assigned: snap.assigned.length,
      released: snap.released.length,
      ...(snap.pressure.length > 0 ? { pressure: snap.pressure } : {}),
      ...(snap.released.length > 0 ? { releasedPods: snap.released.slice(0, 20) } : {}),
    });
    const releasedOfBatch = snap.released.filter((r) => snap.podUids[r.pod] !== undefined).length;
    if (releasedOfBatch > 0) metrics.claimsReleased.inc(releasedOfBatch);
    return snap;
  }

  return {
    /** Reads the cluster and the VPSie catalogue; returns the planner input for the batch. */
    scaleUpSnapshot: snapshot,

    /**
     * The snapshot and the plan, decided here (#13): planning a burst of thousands of pods is
     * seconds of CPU, which in workflow code holds up every workflow sharing the worker's
     * workflow thread (NodeGroup workflow tasks then time out); and the history records the
     * decision, not the whole planner input.
     */
    async scaleUpPlan(req: SnapshotRequest): Promise<PlannedScaleUp> {
      const snap = await snapshot(req);
      const started = Date.now();
      const decision = planScaleUp(snap.input);
      log.info('scale-up planned', {
        workflowId: req.workflowId,
        pods: snap.input.pendingPods.length,
        groups: decision.groups.length,
        ms: Date.now() - started,
      });
      const { input: _input, ...rest } = snap;
      return { ...rest, decision };
    },

    /** One group's share of the decision, as an update on its NodeGroup workflow (idempotent by request id). */
    async requestGroupScaleUp(req: GroupScaleUpRequest): Promise<ScaleUpResult> {
      const id = nodeGroupWorkflowId(req.namespace, req.name);
      try {
        const handle = deps.temporal.workflow.getHandle(id);
        const result = await untilActivityCancelled(deps.temporal, () =>
          handle.executeUpdate(nodeGroupScaleUpUpdate, { args: [req.request], updateId: req.request.requestId }),
        );
        log.info('scale-up request applied', {
          nodegroup: `${req.namespace}/${req.name}`,
          requestId: req.request.requestId,
          created: result.created.length,
          refused: result.refused?.reason,
        });
        // The VM creates at once, ahead of the lifecycles (#13); best effort, the lifecycles send what is not sent here.
        if (machines && result.created.length > 0)
          await machines
            .createMachinesEarly({ vpsieNodes: result.created.map((name) => ({ namespace: req.namespace, name })), nodeGroup: req.name })
            .catch((err: unknown) =>
              log.warn('early VM creates failed; the lifecycles create the machines', { nodegroup: `${req.namespace}/${req.name}`, error: String(err) }),
            );
        return result;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          // The NodeGroup watcher starts the entity workflow; until it runs, retry.
          throw ApplicationFailure.retryable(`NodeGroup workflow ${id} is not running`, 'NodeGroupWorkflowNotRunning');
        }
        throw err;
      }
    },

    /**
     * Remembers on each in-flight VPSieNode the pending pods a run placed in its spare room (no new
     * node for them), so a later run does not place other pods in the same room. Read-modify-write
     * with the object's resourceVersion; a conflict is read again. Idempotent (a set union).
     */
    async holdPodsOnInFlightNodes(req: HoldPodsRequest): Promise<number> {
      let held = 0;
      for (const h of req.holds) {
        const [namespace, name] = h.vpsieNode.split('/') as [string, string];
        for (let attempt = 0; ; attempt++) {
          let obj: { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } };
          try {
            obj = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: VPSIENODE_PLURAL, name })) as typeof obj;
          } catch (err) {
            if (apiStatus(err) === 404) break;
            throw err;
          }
          const before = uidList(obj.metadata?.annotations?.[HELD_PODS_ANNOTATION]);
          const merged = [...before.filter((u) => !h.podUids.includes(u)), ...h.podUids].slice(-MAX_HELD_PODS);
          if (merged.length === before.length && merged.every((u, i) => u === before[i])) break;
          try {
            await custom.patchNamespacedCustomObject(
              {
                group: GROUP,
                version: VERSION,
                namespace,
                plural: VPSIENODE_PLURAL,
                name,
                body: { metadata: { resourceVersion: obj.metadata?.resourceVersion, annotations: { [HELD_PODS_ANNOTATION]: JSON.stringify(merged) } } },
              },
              k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
            );
            held += h.podUids.length;
            break;
          } catch (err) {
            const code = apiStatus(err);
            if (code === 404) break;
            if (code === 409 && attempt < 10) continue;
            throw err;
          }
        }
      }
      if (held > 0) log.info('pods held on in-flight nodes', { pods: held, vpsieNodes: req.holds.map((x) => x.vpsieNode) });
      return held;
    },

    /** Events on pods and NodeGroups, and the scale-up metrics, from the decision record. */
    async recordScaleUpOutcome(record: ScaleUpRecord): Promise<void> {
      const started = Date.now();
      const byGroup = new Map<string, number>();
      let none = 0;
      for (const p of record.pods) {
        if (p.outcome === 'NotTriggerScaleUp') {
          const label = p.group ?? 'none';
          if (label === 'none') none++;
          else byGroup.set(label, (byGroup.get(label) ?? 0) + 1);
        }
      }
      for (const [g, n] of byGroup) metrics.unschedulablePods.set({ nodegroup: g }, n);
      metrics.unschedulablePods.set({ nodegroup: 'none' }, none);
      metrics.schedulingConstraints.reset();
      for (const c of schedulingConstraintCounts(record)) metrics.schedulingConstraints.set({ nodegroup: c.nodegroup, reason: c.reason }, c.count);
      for (const g of record.groups) {
        // Once per request: a retry of this activity does not count the same decision again.
        if (countedRequests.first(g.requestId)) {
          metrics.scaleUpOperations.inc({ nodegroup: g.group, outcome: groupOutcomeOf(g) });
          if (!g.dryRun && (g.error !== undefined || (g.refused && g.created.length === 0))) metrics.scaleUpFailures.inc({ nodegroup: g.group });
        }
        if (g.dryRun) continue;
        if (!record.groups.some((x) => x.group === g.group && x !== g)) {
          if (!byGroup.has(g.group)) metrics.unschedulablePods.set({ nodegroup: g.group }, 0);
        }
      }
      // NodeGroup Events: the summary of the group's part of the decision.
      for (const g of record.groups) {
        const [namespace, name] = g.group.split('/') as [string, string];
        const offerings = g.offerings.map((o) => `${o.count}x ${o.nickname}`).join(', ');
        let reason: (typeof NODEGROUP_SCALEUP_EVENT_REASONS)[number];
        let message: string;
        if (g.dryRun) {
          reason = 'ScaleUpDryRun';
          message = `dry run: would add ${g.newNodes} node(s) (${offerings}, $${g.monthlyPrice}/month) for ${g.pods.length} pod(s)`;
        } else if (g.error !== undefined) {
          reason = 'ScaleUpFailed';
          message = `scale-up of ${g.newNodes} node(s) (${offerings}) failed: ${g.error}`;
        } else if (g.created.length === 0) {
          reason = 'ScaleUpRefused';
          message = `refused ${g.refused?.count ?? g.newNodes} node(s): ${g.refused?.reason ?? 'unknown'}: ${g.refused?.message ?? ''}`;
        } else {
          reason = 'TriggeredScaleUp';
          message = `added ${g.created.length}/${g.newNodes} node(s) (${offerings}, $${g.monthlyPrice}/month) for ${g.pods.length} pod(s); group ${g.currentNodes}->${g.currentNodes + g.created.length} of max ${g.maxNodes}${g.refused ? `; refused ${g.refused.count}: ${g.refused.reason}` : ''}; request ${g.requestId}`;
        }
        // The audit line of the group's decision, once per request (a dry run marked dryRun).
        audit({
          action: 'ScaleUp',
          decision: g.requestId,
          object: { kind: NODEGROUP_KIND, namespace, name },
          reason: 'PendingPods',
          outcome: groupOutcomeOf(g),
          numbers: {
            newNodes: g.newNodes,
            created: g.created.length,
            pods: g.pods.length,
            monthlyPrice: g.monthlyPrice,
            currentNodes: g.currentNodes,
            maxNodes: g.maxNodes,
            ...(g.refused ? { refused: g.refused.count } : {}),
          },
          nodegroup: g.group,
          nodes: g.created,
          ...(g.dryRun ? { dryRun: true } : {}),
          detail: message,
        });
        await recordEvent(deps.kc, {
          target: { apiVersion: API_VERSION, kind: NODEGROUP_KIND, name, namespace },
          type: reason === 'TriggeredScaleUp' || reason === 'ScaleUpDryRun' ? 'Normal' : 'Warning',
          reason,
          message,
          dedupeKey: `scaleup-${g.requestId}`,
        });
        await writeLastDecision(custom, { namespace, name }, 'lastScaleUpDecision', {
          time: new Date().toISOString(),
          reason,
          message: message.slice(0, 2048),
          workflowId: record.workflowId,
          ...(g.created.length > 0 ? { nodes: g.created.slice(0, 64) } : {}),
        });
      }
      // Pod Events (bounded concurrency).
      const events = record.pods.filter((p): p is Exclude<PodOutcome, { outcome: 'FitsExisting' }> => p.outcome !== 'FitsExisting');
      const queue = [...events];
      const worker = async () => {
        for (let p = queue.shift(); p; p = queue.shift()) {
          const [namespace, name] = p.pod.split('/') as [string, string];
          const numbers = Object.entries(p.numbers)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ');
          await recordEvent(deps.kc, {
            target: { apiVersion: 'v1', kind: 'Pod', name, namespace, ...(p.uid ? { uid: p.uid } : {}) },
            type: p.outcome === 'TriggeredScaleUp' ? 'Normal' : 'Warning',
            reason: p.outcome,
            message:
              p.outcome === 'TriggeredScaleUp'
                ? `${p.message} [${record.workflowId}]${numbers ? ` (${numbers})` : ''}`
                : `pod didn't trigger scale-up: ${p.reason}: ${p.message}${numbers ? ` (${numbers})` : ''} [${record.workflowId}]`,
            dedupeKey: `${p.outcome}-${p.reason}`,
          });
          Context.current().heartbeat();
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      log.info('scale-up decision recorded', {
        workflowId: record.workflowId,
        pods: record.pods.length,
        triggered: record.pods.filter((p) => p.outcome === 'TriggeredScaleUp').length,
        notTriggered: events.length - record.pods.filter((p) => p.outcome === 'TriggeredScaleUp').length,
        groups: record.groups.map((g) => ({ group: g.group, newNodes: g.newNodes, created: g.created.length, refused: g.refused?.reason, error: g.error })),
        monthlyPrice: record.monthlyPrice,
        ms: Date.now() - started,
      });
    },

    /**
     * Waits until the first of the created VPSieNodes is Provisioning (its lifecycle asked VPSie
     * for the machine) and observes first signal → that time. Returns the seconds, or undefined
     * when no node got there in time.
     */
    async observePendingToCreate(req: ObserveLatencyRequest): Promise<number | undefined> {
      const first = Date.parse(req.firstSignalAt);
      const wanted = new Set(req.vpsieNodes.map((r) => `${r.namespace}/${r.name}`));
      const earliest = (objs: Iterable<k8s.KubernetesObject>): number | undefined => {
        let t: number | undefined;
        for (const o of objs) {
          if (!wanted.has(`${o.metadata?.namespace}/${o.metadata?.name}`)) continue;
          const r = safeParseVPSieNode(o);
          // The create was sent when the lifecycle went Provisioning, or earlier by the NodeGroup (the create-sent mark).
          const times = r.ok ? [r.value.status?.phaseTimes?.provisioning, r.value.metadata.annotations?.[CREATE_SENT_ANNOTATION]] : [];
          for (const at of times) if (at !== undefined && Number.isFinite(Date.parse(at))) t = Math.min(t ?? Infinity, Date.parse(at));
        }
        return t;
      };
      // A watch of the nodes' namespaces (#12: no read of every node every 100 ms), until the first
      // is Provisioning, the timeout, or the activity's cancellation.
      let signal: AbortSignal | undefined;
      try {
        signal = Context.current().cancellationSignal;
      } catch {
        signal = undefined;
      }
      const namespaces = [...new Set(req.vpsieNodes.map((r) => r.namespace))];
      const informers = namespaces.map((namespace) =>
        k8s.makeInformer<k8s.KubernetesObject>(
          deps.kc,
          `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${VPSIENODE_PLURAL}`,
          async () =>
            (await custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace,
              plural: VPSIENODE_PLURAL,
            })) as k8s.KubernetesListObject<k8s.KubernetesObject>,
        ),
      );
      let timer: NodeJS.Timeout | undefined;
      let beat: NodeJS.Timeout | undefined;
      let done = false;
      try {
        const at = await new Promise<number | undefined>((resolve) => {
          const check = (): void => {
            const t = earliest(informers.flatMap((i) => i.list()));
            if (t !== undefined) resolve(t);
          };
          for (const i of informers) {
            i.on(k8s.ADD, check);
            i.on(k8s.UPDATE, check);
            i.on(k8s.ERROR, () => {
              if (!done) setTimeout(() => void (done ? undefined : i.start().catch(() => undefined)), 1000).unref();
            });
          }
          timer = setTimeout(() => resolve(undefined), (req.timeoutSeconds ?? 120) * 1000);
          beat = setInterval(() => {
            try {
              heartbeat();
            } catch {
              // outside an activity
            }
          }, 2000);
          signal?.addEventListener('abort', () => resolve(undefined), { once: true });
          void Promise.all(informers.map((i) => i.start())).then(check, () => undefined);
        });
        if (at === undefined) return undefined;
        const seconds = Math.max(0, (at - first) / 1000);
        metrics.pendingToCreateSeconds.observe(seconds);
        log.info('first signal to VPSie create', { workflowId: req.workflowId, seconds });
        return seconds;
      } finally {
        done = true;
        if (timer) clearTimeout(timer);
        if (beat) clearInterval(beat);
        await Promise.all(informers.map((i) => i.stop().catch(() => undefined)));
      }
    },
  };
}

export type ScaleUpActivities = ReturnType<typeof createScaleUpActivities>;
