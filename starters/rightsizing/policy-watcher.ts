/**
 * The thin OptimizationPolicy watcher: an informer that signal-with-starts each policy's
 * `optimizationPolicyWorkflow` and decides nothing itself.
 * - added, or spec changed (generation) → `policyChanged {generation}` (starting the workflow if needed);
 * - deleted → `policyChanged {deleted}` without a start (the workflow re-reads, sees it gone, completes);
 * - every `resyncSeconds` each cached policy is signalled again with its generation (a workflow
 *   terminated or lost is started again; a running one ignores a generation it has seen).
 * Status-only updates (the cycles' own writes) signal nothing. With `namespace` set, only that
 * namespace's policies (config.WATCH_NAMESPACE).
 */
import * as k8s from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { OPTIMIZATIONPOLICY_PLURAL, OPTIPOD_GROUP, OPTIPOD_VERSION } from '../../lib/crds/optipod/constants';
import { keepWatching } from '../../lib/kube/keep-watching';
import { logger } from '../../lib/log';
import { SA_OPTIMIZATION_POLICY } from '../../lib/temporal/search-attributes';
import {
  optimizationPolicyWorkflowId,
  policyChangedSignal,
  type OptimizationPolicyWorkflowInput,
  type PolicyChangedSignal,
} from '../../workflows/rightsizing/policy';

export const OPTIMIZATION_POLICY_WORKFLOW_TYPE = 'optimizationPolicyWorkflow';

export interface PolicyWatcherOptions {
  kc: k8s.KubeConfig;
  temporal: Client;
  taskQueue: string;
  /** '' = every namespace. */
  namespace: string;
  resyncSeconds?: number;
}

export interface PolicyWatcher {
  stop(): Promise<void>;
  synced(): boolean;
}

export async function startPolicyWatcher(o: PolicyWatcherOptions): Promise<PolicyWatcher> {
  const log = logger('policy-watcher', { namespace: o.namespace || '*', taskQueue: o.taskQueue });
  const custom = o.kc.makeApiClient(k8s.CustomObjectsApi);
  const g = { group: OPTIPOD_GROUP, version: OPTIPOD_VERSION, plural: OPTIMIZATIONPOLICY_PLURAL };
  const path = o.namespace
    ? `/apis/${OPTIPOD_GROUP}/${OPTIPOD_VERSION}/namespaces/${o.namespace}/${g.plural}`
    : `/apis/${OPTIPOD_GROUP}/${OPTIPOD_VERSION}/${g.plural}`;
  const list = async (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> =>
    (o.namespace
      ? await custom.listNamespacedCustomObject({ ...g, namespace: o.namespace })
      : await custom.listClusterCustomObject(g)) as k8s.KubernetesListObject<k8s.KubernetesObject>;
  let stopped = false;

  const signal = (obj: k8s.KubernetesObject, deleted: boolean): void => {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!namespace || !name) return;
    const workflowId = optimizationPolicyWorkflowId(namespace, name);
    const payload: PolicyChangedSignal = deleted ? { deleted: true } : obj.metadata?.generation !== undefined ? { generation: obj.metadata.generation } : {};
    void (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          if (deleted) {
            try {
              await o.temporal.workflow.getHandle(workflowId).signal(policyChangedSignal, payload);
            } catch (err) {
              if (!(err instanceof WorkflowNotFoundError)) throw err;
            }
          } else {
            const args: [OptimizationPolicyWorkflowInput] = [{ namespace, name }];
            await o.temporal.workflow.signalWithStart(OPTIMIZATION_POLICY_WORKFLOW_TYPE, {
              workflowId,
              taskQueue: o.taskQueue,
              args,
              signal: policyChangedSignal,
              signalArgs: [payload],
              typedSearchAttributes: [{ key: SA_OPTIMIZATION_POLICY, value: `${namespace}/${name}` }],
            });
          }
          return;
        } catch (err) {
          if (attempt >= 5 || stopped) {
            log.error(`signalling ${workflowId} failed; the next change or resync tries again`, { error: String(err) });
            return;
          }
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        }
      }
    })();
  };

  const seen = new Map<string, number | undefined>();
  const keyOf = (obj: k8s.KubernetesObject): string => `${obj.metadata?.namespace}/${obj.metadata?.name}/${obj.metadata?.uid}`;
  const informer = k8s.makeInformer<k8s.KubernetesObject>(o.kc, path, list);
  informer.on(k8s.ADD, (obj) => {
    seen.set(keyOf(obj), obj.metadata?.generation);
    signal(obj, false);
  });
  informer.on(k8s.UPDATE, (obj) => {
    const k = keyOf(obj);
    if (seen.get(k) === obj.metadata?.generation) return;
    seen.set(k, obj.metadata?.generation);
    signal(obj, false);
  });
  informer.on(k8s.DELETE, (obj) => {
    seen.delete(keyOf(obj));
    signal(obj, true);
  });
  keepWatching(informer, { what: 'OptimizationPolicy', log, stopped: () => stopped });
  let synced = false;
  await informer.start();
  synced = true;
  log.info('watching OptimizationPolicies');
  const resync = setInterval(
    () => {
      for (const p of informer.list()) signal(p, false);
    },
    (o.resyncSeconds ?? 300) * 1000,
  );
  resync.unref();
  return {
    synced: () => synced,
    async stop() {
      stopped = true;
      clearInterval(resync);
      await informer.stop();
    },
  };
}
