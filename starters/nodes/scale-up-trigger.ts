/**
 * The scale-up trigger (thin): FailedScheduling Events, pending pods the scheduler marked
 * Unschedulable (PodScheduled=False) and node pressure conditions become signals → the pure batcher
 * (decision/nodes/batching) → one `scaleUpWorkflow` run per closed batch, with the id
 * `scaleup:<first-signal time>-<hash>` and the first-signal time as input (for the latency
 * histogram). It decides nothing about capacity.
 *
 * Bookkeeping that keeps it from asking twice:
 * - pods of a batch whose run is still open are not batched again;
 * - pods the run reported as never hostable (PERMANENT_REASONS) are not batched again for
 *   SCALE_UP_UNPLACEABLE_BACKOFF_SECONDS (they got their NotTriggerScaleUp Event), unless a
 *   NodeGroup appears or changes meanwhile (it may host them: they are planned at once);
 *
 * Every SCALE_UP_RESCAN_SECONDS, and SCALE_UP_RESCAN_AFTER_READY_MS after a Node turns Ready, the
 * pods still unschedulable and not in a run are signalled again (`Rescan`): a pod planned onto a
 * node that then did not take it (the scheduler placed other pods there) must not wait for the
 * scheduler's next report, which can be minutes away.
 */
import * as k8s from '@kubernetes/client-node';
import { Batcher, type Batch, type PodSignal, type ScaleUpSignal } from '../../decision/nodes/batching/batcher';
import { parseSchedulerReasons } from '../../decision/nodes/batching/reasons';
import { PERMANENT_REASONS, type ScaleUpRecord } from '../../decision/nodes/scale-up/record';
import { isUnschedulablePending } from '../../decision/nodes/scale-up/snapshot';
import { GROUP, NODEGROUP_PLURAL, VERSION } from '../../lib/crds/autoscaler/constants';
import { keepWatching } from '../../lib/kube/keep-watching';
import { logger } from '../../lib/log';
import { autoscalerMetrics } from '../../lib/metrics';
import type { OrchestratorDeps } from '../../workers/deps';
import { scaleUpWorkflow, type ScaleUpWorkflowInput } from '../../workflows/nodes/scale-up';
import { watchFailedScheduling } from './failed-scheduling';

export const PRESSURE_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure'] as const;

export interface ScaleUpTriggerOptions {
  /** Task queue of the scale-up workflow (default config.TASK_QUEUE). */
  taskQueue?: string;
  /** Only pods of these namespaces are signals (tests); default: all. */
  namespaces?: readonly string[];
  /** Watch node pressure (default true). */
  nodePressure?: boolean;
  /** Called for every started run (tests, benchmarks). */
  onBatch?: (batch: Batch, workflowId: string) => void;
  /** Called with every finished run's record. */
  onRecord?: (record: ScaleUpRecord) => void;
}

/** Starts the watchers; resolves to a stop function. */
export async function startScaleUpTrigger(deps: OrchestratorDeps, opts: ScaleUpTriggerOptions = {}): Promise<() => Promise<void>> {
  const { config, kc, temporal } = deps;
  const log = logger('scale-up-trigger', { taskQueue: opts.taskQueue ?? config.TASK_QUEUE });
  const metrics = autoscalerMetrics(deps.registry);
  const batcher = new Batcher({ idleMs: config.SCALE_UP_BATCH_IDLE_MS, maxMs: config.SCALE_UP_BATCH_MAX_MS, maxPods: config.SCALE_UP_BATCH_MAX_PODS });
  const nsFilter = opts.namespaces ? new Set(opts.namespaces) : undefined;
  const inRun = new Map<string, string>(); // pod uid → workflow id
  const backoff = new Map<string, number>(); // pod uid → until (ms)
  const pendingPods = new Map<string, { namespace: string; name: string; reasons: PodSignal['reasons'] }>(); // unschedulable pending pods by uid
  const pressured = new Set<string>(); // node name (under some pressure)
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // A rescan shortly after a Node turns Ready (debounced; see below).
  let soon: NodeJS.Timeout | undefined;
  let rescanNow: () => void = () => undefined;
  const rescanSoon = (): void => {
    if (stopped || soon || config.SCALE_UP_RESCAN_AFTER_READY_MS === 0) return;
    soon = setTimeout(() => {
      soon = undefined;
      rescanNow();
    }, config.SCALE_UP_RESCAN_AFTER_READY_MS);
    soon.unref();
  };

  const accept = (uid: string, namespace: string): boolean => {
    if (stopped || (nsFilter && !nsFilter.has(namespace))) return false;
    if (inRun.has(uid)) return false;
    const until = backoff.get(uid);
    if (until !== undefined) {
      if (Date.now() < until) return false;
      backoff.delete(uid);
    }
    return true;
  };

  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const d = batcher.nextDeadline();
    if (d === undefined || stopped) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        const b = batcher.poll(Date.now());
        if (b) launch(b);
        arm();
      },
      Math.max(0, d - Date.now()),
    );
  };

  const signal = (s: ScaleUpSignal): void => {
    for (const b of batcher.add(s, Date.now())) launch(b);
    arm();
  };

  const launch = (batch: Batch): void => {
    if (stopped) return;
    for (const p of batch.pods) inRun.set(p.uid, batch.id);
    const input: ScaleUpWorkflowInput = {
      firstSignalAt: new Date(batch.firstSignalAt).toISOString(),
      podUids: batch.pods.map((p) => p.uid),
      ...(batch.pressure.length > 0 ? { pressure: batch.pressure } : {}),
      ...(config.DRY_RUN ? { dryRun: true } : {}),
    };
    const p = (async () => {
      try {
        const handle = await temporal.workflow.start(scaleUpWorkflow, {
          taskQueue: opts.taskQueue ?? config.TASK_QUEUE,
          workflowId: batch.id,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        log.info('scale-up started', {
          workflowId: batch.id,
          pods: batch.pods.length,
          pressure: batch.pressure.length,
          closedBy: batch.closedBy,
          batchMs: batch.closedAt - batch.firstSignalAt,
          signals: batch.signals,
        });
        opts.onBatch?.(batch, batch.id);
        const record = await handle.result();
        const until = Date.now() + config.SCALE_UP_UNPLACEABLE_BACKOFF_SECONDS * 1000;
        for (const o of record.pods) {
          if (o.outcome === 'NotTriggerScaleUp' && PERMANENT_REASONS.has(o.reason) && o.uid !== undefined) backoff.set(o.uid, until);
        }
        opts.onRecord?.(record);
      } catch (err) {
        log.error('scale-up run failed', { workflowId: batch.id, error: String(err) });
      } finally {
        for (const pod of batch.pods) if (inRun.get(pod.uid) === batch.id) inRun.delete(pod.uid);
      }
    })();
    running.add(p);
    void p.finally(() => running.delete(p));
  };

  // ---- FailedScheduling Events ----
  const stopEvents = await watchFailedScheduling(kc, (e) => {
    if (!e.podUid || !accept(e.podUid, e.namespace)) return;
    signal({ kind: 'pod', source: 'FailedScheduling', uid: e.podUid, namespace: e.namespace, name: e.podName, reasons: e.reasons, at: Date.now() });
  });

  // ---- pending pods (PodScheduled=False, reason Unschedulable) ----
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const podSelector = 'status.phase=Pending,spec.nodeName=';
  const pods = new k8s.ListWatch<k8s.V1Pod>(
    '/api/v1/pods',
    new k8s.Watch(kc),
    () => core.listPodForAllNamespaces({ fieldSelector: podSelector }),
    false,
    undefined,
    podSelector,
  );
  const onPod = (p: k8s.V1Pod): void => {
    const uid = p.metadata?.uid;
    const ns = p.metadata?.namespace;
    if (!uid || !ns) return;
    if (!isUnschedulablePending(p)) {
      if (pendingPods.delete(uid)) metrics.pendingPods.set(pendingPods.size);
      return;
    }
    if (nsFilter && !nsFilter.has(ns)) return;
    const cond = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    const reasons = parseSchedulerReasons(cond?.message ?? '');
    const known = pendingPods.has(uid);
    pendingPods.set(uid, { namespace: ns, name: p.metadata?.name ?? '', reasons });
    if (!known) metrics.pendingPods.set(pendingPods.size);
    if (!accept(uid, ns)) return;
    signal({ kind: 'pod', source: 'PendingPod', uid, namespace: ns, name: p.metadata?.name ?? '', reasons, at: Date.now() });
  };
  pods.on(k8s.ADD, onPod);
  pods.on(k8s.UPDATE, onPod);
  pods.on(k8s.DELETE, (p: k8s.V1Pod) => {
    const uid = p.metadata?.uid;
    if (uid && pendingPods.delete(uid)) metrics.pendingPods.set(pendingPods.size);
    if (uid) backoff.delete(uid);
  });
  keepWatching(pods, { what: 'pending pod', log, stopped: () => stopped });
  await pods.start();

  // ---- node pressure ----
  let nodes: k8s.ListWatch<k8s.V1Node> | undefined;
  let stopNodeChanges: (() => void) | undefined;
  if (opts.nodePressure !== false) {
    const onNode = (n: k8s.V1Node): void => {
      const name = n.metadata?.name;
      if (!name) return;
      const under = (n.status?.conditions ?? [])
        .filter((c) => c.status === 'True' && (PRESSURE_CONDITIONS as readonly string[]).includes(c.type))
        .map((c) => c.type);
      if (under.length === 0) {
        pressured.delete(name);
        return;
      }
      if (pressured.has(name) || stopped) return;
      pressured.add(name);
      signal({ kind: 'node', source: 'NodePressure', node: name, conditions: under, at: Date.now() });
    };
    const shared = deps.nodes?.list();
    if (deps.nodes && shared) {
      // The process's Node informer (lib/kube/node-cache.ts), rather than a second copy of every Node.
      stopNodeChanges = deps.nodes.onChange((n, kind) => (kind === 'delete' ? void pressured.delete(n.metadata?.name ?? '') : onNode(n)));
      for (const n of shared) onNode(n);
    } else {
      nodes = new k8s.ListWatch<k8s.V1Node>('/api/v1/nodes', new k8s.Watch(kc), () => core.listNode(), false);
      nodes.on(k8s.ADD, onNode);
      nodes.on(k8s.UPDATE, onNode);
      nodes.on(k8s.DELETE, (n: k8s.V1Node) => void pressured.delete(n.metadata?.name ?? ''));
      keepWatching(nodes, { what: 'node pressure', log, stopped: () => stopped });
      await nodes.start();
    }
  }
  // ---- NodeGroups: a new or changed group can host what no group could ----
  // A pod reported NoNodeGroups, NoGroupMatchesSelector, TaintNotTolerated, TooLargeForAnyOffering
  // or AffinityUnsatisfiable is backed off for SCALE_UP_UNPLACEABLE_BACKOFF_SECONDS; when a group
  // appears or its spec changes (a new generation), the back-off ends and those pods are planned at once.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const watchNs = config.WATCH_NAMESPACE;
  const groupGenerations = new Map<string, number | undefined>();
  const groups = new k8s.ListWatch<k8s.KubernetesObject>(
    watchNs ? `/apis/${GROUP}/${VERSION}/namespaces/${watchNs}/${NODEGROUP_PLURAL}` : `/apis/${GROUP}/${VERSION}/${NODEGROUP_PLURAL}`,
    new k8s.Watch(kc),
    async () =>
      (watchNs
        ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: watchNs, plural: NODEGROUP_PLURAL })
        : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: NODEGROUP_PLURAL })) as k8s.KubernetesListObject<k8s.KubernetesObject>,
    false,
  );
  const onGroup = (g: k8s.KubernetesObject): void => {
    const key = `${g.metadata?.namespace}/${g.metadata?.name}`;
    const generation = g.metadata?.generation;
    if (groupGenerations.has(key) && groupGenerations.get(key) === generation) return;
    groupGenerations.set(key, generation);
    if (backoff.size === 0 || stopped) return;
    const released = [...backoff.keys()];
    backoff.clear();
    log.info('a NodeGroup appeared or changed: pods backed off as unplaceable are planned again', { nodegroup: key, generation, pods: released.length });
    const now = Date.now();
    for (const uid of released) {
      const p = pendingPods.get(uid);
      if (p && accept(uid, p.namespace)) signal({ kind: 'pod', source: 'Rescan', uid, namespace: p.namespace, name: p.name, reasons: p.reasons, at: now });
    }
  };
  groups.on(k8s.ADD, onGroup);
  groups.on(k8s.UPDATE, onGroup);
  groups.on(k8s.DELETE, (g: k8s.KubernetesObject) => void groupGenerations.delete(`${g.metadata?.namespace}/${g.metadata?.name}`));
  keepWatching(groups, { what: 'NodeGroup', log, stopped: () => stopped });
  await groups.start();

  // ---- rescan ----
  rescanNow = (): void => {
    const now = Date.now();
    for (const [uid, p] of pendingPods)
      if (accept(uid, p.namespace)) signal({ kind: 'pod', source: 'Rescan', uid, namespace: p.namespace, name: p.name, reasons: p.reasons, at: now });
  };
  const rescan = config.SCALE_UP_RESCAN_SECONDS > 0 ? setInterval(rescanNow, config.SCALE_UP_RESCAN_SECONDS * 1000) : undefined;
  rescan?.unref();
  // A Node that turns Ready is where the scheduler binds pods next — not always those the node was
  // made for: pods still unschedulable shortly after are planned then (the snapshot releases a
  // claim whose room is gone), not at the next periodic rescan (#13). Not after every run: pods
  // waiting for machines still being provisioned would start an empty run every few seconds.
  const ready = new Map<string, boolean>();
  const offReady = deps.nodes?.onChange((n, kind) => {
    const name = n.metadata?.name;
    if (!name) return;
    if (kind === 'delete') {
      ready.delete(name);
      return;
    }
    const now = (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    const was = ready.get(name);
    ready.set(name, now);
    // A Node first seen Ready counts as turning Ready (the nodes listed at start are recorded below).
    if (!now || was === true) return;
    rescanSoon();
  });
  for (const n of deps.nodes?.list() ?? []) {
    const name = n.metadata?.name;
    if (name)
      ready.set(
        name,
        (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      );
  }
  log.info('scale-up trigger running', {
    idleMs: config.SCALE_UP_BATCH_IDLE_MS,
    maxMs: config.SCALE_UP_BATCH_MAX_MS,
    rescanSeconds: config.SCALE_UP_RESCAN_SECONDS,
    namespaces: opts.namespaces ?? 'all',
  });

  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (rescan) clearInterval(rescan);
    if (soon) clearTimeout(soon);
    offReady?.();
    await stopEvents();
    await pods.stop();
    stopNodeChanges?.();
    await nodes?.stop();
    // No longer watched here (leadership lost, or stopping): a stale count would keep
    // PodsPendingTooLong firing from this replica.
    pendingPods.clear();
    metrics.pendingPods.set(0);
    await groups.stop();
  };
}
