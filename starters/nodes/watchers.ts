/**
 * The thin watchers: informers on NodeGroups and VPSieNodes that signal-with-start workflows and
 * decide nothing themselves.
 * - NodeGroup added, spec changed (generation) or deletion begun → `nodeGroupWorkflow`
 *   (`nodeGroupWorkflowId`) with `nodeGroupSyncSignal`; gone → the same signal, without a start.
 * - VPSieNode added, spec changed or deletion begun → `vpsieNodeLifecycleWorkflow`
 *   (`vpsieNodeWorkflowId`) with `vpsieNodeSyncSignal`.
 * Status-only updates (the workflows' own writes) signal nothing. Every `resyncSeconds` each
 * cached object is signalled again, so a signal lost while Temporal was unreachable is made up.
 * Every `groupLivenessSeconds` each cached NodeGroup's workflow is described, and one that is not
 * running (terminated from the CLI, reset, timed out, a new Temporal cluster) is started again at
 * once rather than at the next resync: a group without its workflow takes no scale request. The
 * new run carries no state and starts from the cluster (status.desiredNodes, its VPSieNodes).
 * With `nodes` (the process's Node informer), a Node that appears or turns Ready signals the
 * lifecycles of the VPSieNodes waiting for it (`machinesWaitingFor`), so a join is seen at once
 * instead of at the lifecycle's next 2 s poll (#12/#13: watches, not polling).
 * Both workflows carry the search attribute `NodeGroup` = `<namespace>/<group>`.
 * With `namespace` set only that namespace is watched (config.WATCH_NAMESPACE).
 */
import * as k8s from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { GROUP, NODEGROUP_LABEL, NODEGROUP_PLURAL, VERSION, VPSIENODE_PLURAL } from '../../lib/crds/autoscaler/constants';
import { keepWatching } from '../../lib/kube/keep-watching';
import { logger } from '../../lib/log';
import {
  nodeGroupSyncSignal,
  nodeGroupWorkflowId,
  vpsieNodeSyncSignal,
  vpsieNodeWorkflowId,
  type NodeGroupWorkflowInput,
  type VPSieNodeWorkflowInput,
} from '../../workflows/nodes/contracts';
import { SA_NODEGROUP } from '../../lib/temporal/search-attributes';
import type { NodeCache } from '../../lib/kube/node-cache';
import { machinesWaitingFor, type WaitingMachine } from '../../decision/nodes/lifecycle/vpsienode';

export const NODEGROUP_WORKFLOW_TYPE = 'nodeGroupWorkflow';
export const VPSIENODE_WORKFLOW_TYPE = 'vpsieNodeLifecycleWorkflow';

export interface WatcherOptions {
  kc: k8s.KubeConfig;
  temporal: Client;
  taskQueue: string;
  /** '' = every namespace. */
  namespace: string;
  resyncSeconds?: number;
  /** How often the NodeGroup workflows are checked to be running (default 30 s); 0 turns it off. */
  groupLivenessSeconds?: number;
  /** The process's Node informer: Node arrivals and Ready changes wake the waiting lifecycles. */
  nodes?: NodeCache;
}

export interface Watchers {
  stop(): Promise<void>;
  /** Both informers have listed once. */
  synced(): boolean;
}

interface CustomObject extends k8s.KubernetesObject {
  spec?: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What the Node matcher reads of a VPSieNode (spec identity, recorded IPs and node name, phase). */
function waitingMachine(vn: CustomObject): WaitingMachine {
  const status = (vn as { status?: Record<string, unknown> }).status ?? {};
  const ips = [status.publicIPv4, status.privateIPv4, status.publicIPv6].map(str).filter((x): x is string => x !== undefined);
  const vpsieIdentifier = str(vn.spec?.vpsieIdentifier);
  const hostname = str(vn.spec?.hostname);
  const phase = str(status.phase);
  const nodeName = str(status.nodeName);
  return {
    namespace: vn.metadata?.namespace ?? '',
    name: vn.metadata?.name ?? '',
    ...(vpsieIdentifier ? { vpsieIdentifier } : {}),
    ...(hostname ? { hostname } : {}),
    ...(ips.length > 0 ? { ips } : {}),
    ...(phase ? { phase } : {}),
    ...(nodeName ? { nodeName } : {}),
  };
}

function path(plural: string, namespace: string): string {
  return namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`;
}

export async function startWatchers(o: WatcherOptions): Promise<Watchers> {
  const log = logger('watchers', { namespace: o.namespace || '*', taskQueue: o.taskQueue });
  const custom = o.kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (plural: string) => async (): Promise<k8s.KubernetesListObject<CustomObject>> =>
    (o.namespace
      ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: o.namespace, plural })
      : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as k8s.KubernetesListObject<CustomObject>;

  const retrying = async (what: string, f: () => Promise<unknown>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await f();
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

  // ---- NodeGroups ----
  const signalGroup = (obj: CustomObject, start: boolean): void => {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!namespace || !name) return;
    const payload = {
      ...(obj.metadata?.generation !== undefined ? { generation: obj.metadata.generation } : {}),
      deleting: obj.metadata?.deletionTimestamp !== undefined,
    };
    const workflowId = nodeGroupWorkflowId(namespace, name);
    void retrying(`signalling ${workflowId}`, async () => {
      if (start) {
        const args: [NodeGroupWorkflowInput] = [{ namespace, name }];
        await o.temporal.workflow.signalWithStart(NODEGROUP_WORKFLOW_TYPE, {
          workflowId,
          taskQueue: o.taskQueue,
          args,
          signal: nodeGroupSyncSignal,
          signalArgs: [payload],
          typedSearchAttributes: [{ key: SA_NODEGROUP, value: `${namespace}/${name}` }],
        });
      } else {
        try {
          await o.temporal.workflow.getHandle(workflowId).signal(nodeGroupSyncSignal, payload);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
    });
  };

  // ---- VPSieNodes ----
  const signalNode = (obj: CustomObject): void => {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!namespace || !name) return;
    const group = (typeof obj.spec?.nodeGroupName === 'string' ? obj.spec.nodeGroupName : undefined) ?? obj.metadata?.labels?.[NODEGROUP_LABEL];
    if (!group) return;
    const workflowId = vpsieNodeWorkflowId(namespace, name);
    void retrying(`signalling ${workflowId}`, async () => {
      const args: [VPSieNodeWorkflowInput] = [{ namespace, name, nodeGroup: group }];
      await o.temporal.workflow.signalWithStart(VPSIENODE_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: o.taskQueue,
        args,
        signal: vpsieNodeSyncSignal,
        signalArgs: [{ deleting: obj.metadata?.deletionTimestamp !== undefined }],
        typedSearchAttributes: [{ key: SA_NODEGROUP, value: `${namespace}/${group}` }],
      });
    });
  };

  // Last seen generation and deletion state per object: only those changes signal.
  const seen = new Map<string, string>();
  const keyOf = (kind: string, obj: CustomObject) => `${kind}/${obj.metadata?.namespace}/${obj.metadata?.name}/${obj.metadata?.uid}`;
  const changed = (kind: string, obj: CustomObject): boolean => {
    const k = keyOf(kind, obj);
    const v = `${obj.metadata?.generation}|${obj.metadata?.deletionTimestamp !== undefined}`;
    if (seen.get(k) === v) return false;
    seen.set(k, v);
    return true;
  };

  let stopped = false;
  const groups = k8s.makeInformer<CustomObject>(o.kc, path(NODEGROUP_PLURAL, o.namespace), list(NODEGROUP_PLURAL));
  const nodes = k8s.makeInformer<CustomObject>(o.kc, path(VPSIENODE_PLURAL, o.namespace), list(VPSIENODE_PLURAL));
  groups.on(k8s.ADD, (obj) => {
    changed('ng', obj);
    signalGroup(obj, true);
  });
  groups.on(k8s.UPDATE, (obj) => {
    if (changed('ng', obj)) signalGroup(obj, true);
  });
  groups.on(k8s.DELETE, (obj) => {
    seen.delete(keyOf('ng', obj));
    signalGroup(obj, false);
  });
  nodes.on(k8s.ADD, (obj) => {
    changed('vn', obj);
    signalNode(obj);
  });
  nodes.on(k8s.UPDATE, (obj) => {
    if (changed('vn', obj)) signalNode(obj);
  });
  nodes.on(k8s.DELETE, (obj) => seen.delete(keyOf('vn', obj)));
  for (const [inf, what] of [
    [groups, 'NodeGroup'],
    [nodes, 'VPSieNode'],
  ] as const) {
    keepWatching(inf, { what, log, stopped: () => stopped });
  }
  // ---- Nodes: wake the lifecycles waiting for a Node that appeared or turned Ready ----
  const nodeReadyState = new Map<string, boolean>();
  const offNodes = o.nodes?.onChange((n, kind) => {
    const name = n.metadata?.name;
    if (!name) return;
    if (kind === 'delete') {
      nodeReadyState.delete(name);
      return;
    }
    const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    if (nodeReadyState.get(name) === ready) return;
    nodeReadyState.set(name, ready);
    const view = {
      name,
      ...(n.spec?.providerID ? { providerID: n.spec.providerID } : {}),
      addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
      labels: n.metadata?.labels ?? {},
    };
    const waiting = machinesWaitingFor(
      view,
      nodes.list().flatMap((vn) => (vn.metadata?.deletionTimestamp ? [] : [waitingMachine(vn)])),
    );
    for (const w of waiting) {
      const vn = nodes.get(w.name, w.namespace);
      if (vn) signalNode(vn);
    }
  });

  let groupsSynced = false;
  let nodesSynced = false;
  await Promise.all([groups.start().then(() => (groupsSynced = true)), nodes.start().then(() => (nodesSynced = true))]);
  log.info('watching NodeGroups and VPSieNodes');

  const resync = setInterval(
    () => {
      for (const g of groups.list()) signalGroup(g, true);
      for (const n of nodes.list()) signalNode(n);
    },
    (o.resyncSeconds ?? 300) * 1000,
  );
  resync.unref();

  // A NodeGroup whose workflow is not running (or was never started) is started again.
  let checking = false;
  const checkGroups = async (): Promise<void> => {
    if (checking || stopped) return;
    checking = true;
    try {
      for (const g of groups.list()) {
        if (stopped) return;
        const namespace = g.metadata?.namespace;
        const name = g.metadata?.name;
        if (!namespace || !name) continue;
        let running: boolean;
        try {
          running = (await o.temporal.workflow.getHandle(nodeGroupWorkflowId(namespace, name)).describe()).status.name === 'RUNNING';
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) {
            log.warn('describing a NodeGroup workflow failed; the next check tries again', { nodegroup: `${namespace}/${name}`, error: String(err) });
            continue;
          }
          running = false;
        }
        if (!running) {
          log.info('NodeGroup workflow not running: starting it again', { nodegroup: `${namespace}/${name}` });
          signalGroup(g, true);
        }
      }
    } finally {
      checking = false;
    }
  };
  const liveness = (o.groupLivenessSeconds ?? 30) > 0 ? setInterval(() => void checkGroups(), (o.groupLivenessSeconds ?? 30) * 1000) : undefined;
  liveness?.unref();

  return {
    synced: () => groupsSynced && nodesSynced,
    async stop() {
      stopped = true;
      offNodes?.();
      clearInterval(resync);
      if (liveness) clearInterval(liveness);
      await Promise.all([groups.stop(), nodes.stop()]);
    },
  };
}
