/**
 * The thin coordination watcher: it starts the hub, signal-with-starts each VPANAPCoordination's
 * workflow, and routes observations to them — deciding nothing itself.
 *   - VPANAPCoordination added / spec changed → `coordinationChanged {generation}` (start if
 *     needed); deleted → `coordinationChanged {deleted}`; every resync each object again.
 *   - Nodes (the process's Node informer): a node created in the last 10 minutes → NodeScaleUp,
 *     a node deleted → NodeScaleDown (NodeConsolidation when the orchestrator's consolidation
 *     cordoned it) → the hub, batched.
 *   - Events: the VPA updater's `EvictedByVPA` / `InPlaceResizedByVPA` on a pod → the objects of
 *     the VPA whose target owns the pod; this project's `RightsizingEvicted` → the objects of the
 *     pod's namespace (they govern its OptimizationPolicies). Batched per object.
 *   - VerticalPodAutoscalers: a changed recommendation → `RecommendationUpdate` to its objects
 *     (and vpa_recommendations_total).
 * The routing tables are caches of the informers; a missed event costs a correlation, never a
 * decision the workflow cannot make again from the next one.
 */
import * as k8s from '@kubernetes/client-node';
import { WorkflowIdConflictPolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { coordinationMetrics } from '../../lib/coordination-metrics';
import { ANNOTATION_CORDONED_BY } from '../../workflows/nodes/contracts';
import {
  COORDINATION_PLURAL,
  EVENT_INCREASE_ANNOTATION,
  EVENT_WORKLOAD_ANNOTATION,
  NODE_POOL_LABEL,
  PLATFORM_GROUP,
  PLATFORM_VERSION,
  RIGHTSIZING_EVICTED_REASON,
  VPA_EVICTED_REASON,
  VPA_GROUP,
  VPA_IN_PLACE_RESIZED_REASON,
  VPA_PLURAL,
  VPA_VERSION,
} from '../../lib/crds/platform/constants';
import { cpuMillis, memoryBytes } from '../../lib/crds/optipod/quantity';
import { keepWatching } from '../../lib/kube/keep-watching';
import type { NodeCache } from '../../lib/kube/node-cache';
import { logger } from '../../lib/log';
import { SA_COORDINATION } from '../../lib/temporal/search-attributes';
import {
  coordinationHubWorkflowId,
  coordinationChangedSignal,
  coordinationWorkflowId,
  hubNapEventsSignal,
  vpaEventsSignal,
  type CoordinationWorkflowInput,
  type NapObservation,
  type VpaObservation,
} from '../../workflows/coordination/contracts';
import type { HubWorkflowInput } from '../../workflows/coordination/hub';

export const COORDINATION_WORKFLOW_TYPE = 'coordinationWorkflow';
export const COORDINATION_HUB_WORKFLOW_TYPE = 'coordinationHubWorkflow';
/** A node created this recently when first seen is a scale-up (older ones are the cluster as it was). */
export const NEW_NODE_MS = 10 * 60_000;

export interface CoordinationWatcherOptions {
  kc: k8s.KubeConfig;
  temporal: Client;
  taskQueue: string;
  /** '' = every namespace. */
  namespace: string;
  nodes: NodeCache;
  registry: Registry;
  hubSettings: HubWorkflowInput['settings'];
  resyncSeconds?: number;
  /** Observations are sent at most this often per destination. */
  batchMs?: number;
}

export interface CoordinationWatcher {
  stop(): Promise<void>;
  synced(): boolean;
}

interface Obj {
  namespace: string;
  name: string;
  vpaName: string;
  vpaNamespace: string;
}

interface EventLike extends k8s.KubernetesObject {
  reason?: string;
  count?: number;
  lastTimestamp?: Date | string;
  eventTime?: Date | string;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
}

const ms = (t: Date | string | undefined): number | undefined => (t === undefined ? undefined : new Date(t).getTime());

export async function startCoordinationWatcher(o: CoordinationWatcherOptions): Promise<CoordinationWatcher> {
  const log = logger('coordination-watcher', { namespace: o.namespace || '*', taskQueue: o.taskQueue });
  const metrics = coordinationMetrics(o.registry);
  const custom = o.kc.makeApiClient(k8s.CustomObjectsApi);
  const core = o.kc.makeApiClient(k8s.CoreV1Api);
  let stopped = false;
  const hubId = coordinationHubWorkflowId(o.namespace);
  const stoppers: (() => Promise<void> | void)[] = [];

  // ---- the hub ----
  const ensureHub = async (): Promise<void> => {
    await o.temporal.workflow.start(COORDINATION_HUB_WORKFLOW_TYPE, {
      workflowId: hubId,
      taskQueue: o.taskQueue,
      args: [{ ...(o.hubSettings ? { settings: o.hubSettings } : {}) } satisfies HubWorkflowInput],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  };
  await ensureHub();

  // ---- routing tables ----
  const objects = new Map<string, Obj>();
  const byVpa = new Map<string, Set<string>>();
  const byNamespace = new Map<string, Set<string>>();
  const vpaTargets = new Map<string, string>(); // ns/vpaName → target name
  const add = (m: Map<string, Set<string>>, k: string, v: string): void => void m.set(k, (m.get(k) ?? new Set()).add(v));
  const index = (): void => {
    byVpa.clear();
    byNamespace.clear();
    for (const [key, ob] of objects) {
      add(byVpa, `${ob.vpaNamespace}/${ob.vpaName}`, key);
      add(byNamespace, ob.vpaNamespace, key);
    }
  };

  // ---- batching ----
  const batchMs = o.batchMs ?? 500;
  const hubQueue: NapObservation[] = [];
  const objectQueues = new Map<string, VpaObservation[]>();
  const withRetry = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        if (attempt >= 5 || stopped) {
          log.error(`${what} failed; the next change or resync tries again`, { error: String(err) });
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  };
  const startObject = (ns: string, name: string, generation?: number): Promise<void> =>
    withRetry(`signalling ${coordinationWorkflowId(ns, name)}`, () =>
      o.temporal.workflow.signalWithStart(COORDINATION_WORKFLOW_TYPE, {
        workflowId: coordinationWorkflowId(ns, name),
        taskQueue: o.taskQueue,
        args: [{ namespace: ns, name, hub: hubId } satisfies CoordinationWorkflowInput],
        signal: coordinationChangedSignal,
        signalArgs: [generation !== undefined ? { generation } : {}],
        typedSearchAttributes: [{ key: SA_COORDINATION, value: `${ns}/${name}` }],
      }),
    );
  const flush = async (): Promise<void> => {
    if (hubQueue.length > 0) {
      const batch = hubQueue.splice(0, hubQueue.length);
      await withRetry('sending node events to the hub', async () => {
        try {
          await o.temporal.workflow.getHandle(hubId).signal(hubNapEventsSignal, batch);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          await ensureHub();
          await o.temporal.workflow.getHandle(hubId).signal(hubNapEventsSignal, batch);
        }
      });
    }
    const queues = [...objectQueues.entries()];
    objectQueues.clear();
    await Promise.all(
      queues.map(([key, evs]) => {
        const ob = objects.get(key);
        if (ob === undefined) return Promise.resolve();
        return withRetry(`sending rightsizing events to ${key}`, () =>
          o.temporal.workflow.signalWithStart(COORDINATION_WORKFLOW_TYPE, {
            workflowId: coordinationWorkflowId(ob.namespace, ob.name),
            taskQueue: o.taskQueue,
            args: [{ namespace: ob.namespace, name: ob.name, hub: hubId } satisfies CoordinationWorkflowInput],
            signal: vpaEventsSignal,
            signalArgs: [evs],
            typedSearchAttributes: [{ key: SA_COORDINATION, value: key }],
          }),
        );
      }),
    );
  };
  let flushing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    flushing = flushing.then(flush).catch((err: unknown) => {
      log.warn('flush failed', { error: String(err) });
    });
  }, batchMs);
  timer.unref();
  stoppers.push(() => clearInterval(timer));
  const toObjects = (keys: Iterable<string> | undefined, e: VpaObservation): void => {
    for (const k of keys ?? []) objectQueues.set(k, [...(objectQueues.get(k) ?? []), e]);
  };

  // ---- VPANAPCoordination objects ----
  const g = { group: PLATFORM_GROUP, version: PLATFORM_VERSION, plural: COORDINATION_PLURAL };
  const path = o.namespace ? `/apis/${g.group}/${g.version}/namespaces/${o.namespace}/${g.plural}` : `/apis/${g.group}/${g.version}/${g.plural}`;
  const list = async (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> =>
    (o.namespace
      ? await custom.listNamespacedCustomObject({ ...g, namespace: o.namespace })
      : await custom.listClusterCustomObject(g)) as k8s.KubernetesListObject<k8s.KubernetesObject>;
  type CoordObj = k8s.KubernetesObject & { spec?: { vpaName?: string; namespace?: string } };
  const informer = k8s.makeInformer<CoordObj>(o.kc, path, list as () => Promise<k8s.KubernetesListObject<CoordObj>>);
  const seen = new Map<string, number | undefined>();
  const remember = (obj: CoordObj): string | undefined => {
    const ns = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!ns || !name) return undefined;
    objects.set(`${ns}/${name}`, { namespace: ns, name, vpaName: obj.spec?.vpaName ?? name, vpaNamespace: obj.spec?.namespace ?? ns });
    index();
    return `${ns}/${name}`;
  };
  informer.on(k8s.ADD, (obj) => {
    const k = remember(obj);
    if (k === undefined) return;
    seen.set(k, obj.metadata?.generation);
    void startObject(obj.metadata!.namespace!, obj.metadata!.name!, obj.metadata?.generation);
  });
  informer.on(k8s.UPDATE, (obj) => {
    const k = remember(obj);
    if (k === undefined || seen.get(k) === obj.metadata?.generation) return;
    seen.set(k, obj.metadata?.generation);
    void startObject(obj.metadata!.namespace!, obj.metadata!.name!, obj.metadata?.generation);
  });
  informer.on(k8s.DELETE, (obj) => {
    const ns = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!ns || !name) return;
    objects.delete(`${ns}/${name}`);
    seen.delete(`${ns}/${name}`);
    index();
    void withRetry(`signalling the deletion of ${ns}/${name}`, async () => {
      try {
        await o.temporal.workflow.getHandle(coordinationWorkflowId(ns, name)).signal(coordinationChangedSignal, { deleted: true });
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    });
  });
  keepWatching(informer, { what: 'VPANAPCoordination', log, stopped: () => stopped });
  await informer.start();
  stoppers.push(() => informer.stop());
  const resync = setInterval(
    () => {
      for (const obj of informer.list())
        if (obj.metadata?.namespace && obj.metadata.name) void startObject(obj.metadata.namespace, obj.metadata.name, obj.metadata.generation);
    },
    (o.resyncSeconds ?? 300) * 1000,
  );
  resync.unref();
  stoppers.push(() => clearInterval(resync));

  // ---- nodes ----
  const consolidation = (n: k8s.V1Node): boolean => /consolidat/i.test(n.metadata?.annotations?.[ANNOTATION_CORDONED_BY] ?? '');
  const nodeObs = (n: k8s.V1Node, kind: NapObservation['kind'], at: number): NapObservation => {
    const pool = n.metadata?.labels?.[NODE_POOL_LABEL] ?? n.metadata?.labels?.['autoscaler.vpsie.com/nodegroup'];
    const by = n.metadata?.annotations?.[ANNOTATION_CORDONED_BY];
    return { at, kind, node: n.metadata?.name ?? '', ...(pool ? { pool } : {}), ...(by && kind !== 'NodeScaleUp' ? { decision: by } : {}) };
  };
  stoppers.push(
    o.nodes.onChange((n, kind) => {
      if (kind === 'add') {
        const created = ms(n.metadata?.creationTimestamp) ?? 0;
        if (Date.now() - created <= NEW_NODE_MS) hubQueue.push(nodeObs(n, 'NodeScaleUp', created));
      } else if (kind === 'delete') hubQueue.push(nodeObs(n, consolidation(n) ? 'NodeConsolidation' : 'NodeScaleDown', Date.now()));
    }),
  );

  // ---- Events: pod evictions and resizes ----
  const counts = new Map<string, number>();
  const onEvent = (ev: EventLike): void => {
    const ns = ev.involvedObject?.namespace ?? ev.metadata?.namespace;
    const pod = ev.involvedObject?.name;
    if (!ns || !pod || ev.involvedObject?.kind !== 'Pod') return;
    const key = `${ns}/${ev.metadata?.name}`;
    const count = ev.count ?? 1;
    if ((counts.get(key) ?? 0) >= count) return;
    counts.set(key, count);
    if (counts.size > 20_000) counts.clear();
    const at = ms(ev.lastTimestamp) ?? ms(ev.eventTime) ?? ms(ev.metadata?.creationTimestamp) ?? Date.now();
    if (ev.reason === RIGHTSIZING_EVICTED_REASON) {
      const workload = ev.metadata?.annotations?.[EVENT_WORKLOAD_ANNOTATION] ?? `Pod/${ns}/${pod}`;
      const inc = ev.metadata?.annotations?.[EVENT_INCREASE_ANNOTATION];
      toObjects(byNamespace.get(ns), {
        at,
        kind: 'Eviction',
        source: 'OptimizationPolicy',
        workload,
        pod,
        ...(inc !== undefined ? { increase: inc === 'true' } : {}),
      });
      return;
    }
    // the VPA whose target owns the pod (pods are named <target>-…)
    for (const [vk, target] of vpaTargets) {
      const [vns, vname] = vk.split('/') as [string, string];
      if (vns !== ns || !pod.startsWith(`${target}-`)) continue;
      toObjects(byVpa.get(vk), {
        at,
        kind: ev.reason === VPA_EVICTED_REASON ? 'Eviction' : 'InPlaceResize',
        source: 'VPA',
        workload: `${vname}:${target}`,
        pod,
      });
    }
  };
  for (const reason of [VPA_EVICTED_REASON, VPA_IN_PLACE_RESIZED_REASON, RIGHTSIZING_EVICTED_REASON]) {
    const epath = o.namespace ? `/api/v1/namespaces/${o.namespace}/events` : '/api/v1/events';
    const elist = async (): Promise<k8s.KubernetesListObject<EventLike>> =>
      (o.namespace
        ? await core.listNamespacedEvent({ namespace: o.namespace, fieldSelector: `reason=${reason}` })
        : await core.listEventForAllNamespaces({ fieldSelector: `reason=${reason}` })) as k8s.KubernetesListObject<EventLike>;
    // the watch takes the field selector in its path (the informer passes no field selector)
    const ei = k8s.makeInformer<EventLike>(o.kc, `${epath}?fieldSelector=${encodeURIComponent(`reason=${reason}`)}`, elist);
    ei.on(k8s.ADD, onEvent);
    ei.on(k8s.UPDATE, onEvent);
    keepWatching(ei, { what: `Event ${reason}`, log, stopped: () => stopped });
    await ei.start();
    stoppers.push(() => ei.stop());
  }

  // ---- VerticalPodAutoscalers (when the CRD is installed) ----
  type VpaObj = k8s.KubernetesObject & {
    spec?: { targetRef?: { name?: string } };
    status?: { recommendation?: { containerRecommendations?: { containerName?: string; target?: Record<string, string> }[] } };
  };
  const lastRec = new Map<string, string>();
  const onVpa = (v: VpaObj): void => {
    const ns = v.metadata?.namespace;
    const name = v.metadata?.name;
    if (!ns || !name) return;
    const vk = `${ns}/${name}`;
    if (v.spec?.targetRef?.name) vpaTargets.set(vk, v.spec.targetRef.name);
    const recs = v.status?.recommendation?.containerRecommendations ?? [];
    if (recs.length === 0) return;
    const fp = JSON.stringify(recs.map((r) => [r.containerName, r.target]));
    const before = lastRec.get(vk);
    lastRec.set(vk, fp);
    if (before === fp) return;
    let cpu = 0;
    let memory = 0;
    for (const r of recs) {
      cpu += cpuMillis(r.target?.cpu ?? '0') ?? 0;
      memory += memoryBytes(r.target?.memory ?? '0') ?? 0;
      if (before !== undefined) metrics.recommendations.inc({ namespace: ns, vpa_name: name, container: r.containerName ?? '' });
    }
    if (before === undefined) return; // the first sight after a start is the cluster as it was
    toObjects(byVpa.get(vk), {
      at: Date.now(),
      kind: 'RecommendationUpdate',
      source: 'VPA',
      workload: `${name}:${v.spec?.targetRef?.name ?? ''}`,
      recommendation: { cpu, memory },
    });
  };
  let vpaStarted = false;
  const startVpa = async (): Promise<void> => {
    if (vpaStarted || stopped) return;
    const vg = { group: VPA_GROUP, version: VPA_VERSION, plural: VPA_PLURAL };
    const vlist = async (): Promise<k8s.KubernetesListObject<VpaObj>> =>
      (o.namespace
        ? await custom.listNamespacedCustomObject({ ...vg, namespace: o.namespace })
        : await custom.listClusterCustomObject(vg)) as k8s.KubernetesListObject<VpaObj>;
    try {
      await vlist();
    } catch {
      return; // not installed (yet): asked again at the next resync
    }
    vpaStarted = true;
    const vpath = o.namespace ? `/apis/${VPA_GROUP}/${VPA_VERSION}/namespaces/${o.namespace}/${VPA_PLURAL}` : `/apis/${VPA_GROUP}/${VPA_VERSION}/${VPA_PLURAL}`;
    const vi = k8s.makeInformer<VpaObj>(o.kc, vpath, vlist);
    vi.on(k8s.ADD, onVpa);
    vi.on(k8s.UPDATE, onVpa);
    vi.on(k8s.DELETE, (v) => {
      const vk = `${v.metadata?.namespace}/${v.metadata?.name}`;
      vpaTargets.delete(vk);
      lastRec.delete(vk);
    });
    keepWatching(vi, { what: 'VerticalPodAutoscaler', log, stopped: () => stopped });
    await vi.start();
    stoppers.push(() => vi.stop());
  };
  await startVpa();
  const vpaRetry = setInterval(() => void startVpa(), 60_000);
  vpaRetry.unref();
  stoppers.push(() => clearInterval(vpaRetry));

  log.info('watching VPANAPCoordinations, Nodes, rightsizing Events and VPAs', { objects: objects.size, vpa: vpaStarted });
  return {
    synced: () => true,
    async stop() {
      stopped = true;
      for (const s of stoppers.reverse()) await s();
      await flushing.catch(() => undefined);
    },
  };
}
