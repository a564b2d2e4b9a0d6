/**
 * This cluster's identity (#12): CLUSTER_ID when set, else the uid of the `kube-system` namespace
 * (stable for the life of the cluster, distinct between clusters). Read once per KubeConfig and
 * cached; a failed read is not cached, so the next call tries again. Stamped into every machine's
 * notes and tags at creation (activities/nodes/lifecycle/machines.ts) and required by garbage
 * collection (activities/nodes/garbage-collection.ts) before it collects a machine.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { CLUSTER_ID_PATTERN } from '../../decision/nodes/garbage-collection/garbage';
import { apiStatus } from '../../lib/kube/api';
import type { OrchestratorDeps } from '../../workers/deps';

const cache = new WeakMap<k8s.KubeConfig, Promise<string>>();

export async function clusterIdentity(deps: Pick<OrchestratorDeps, 'kc' | 'config'>): Promise<string> {
  if (deps.config.CLUSTER_ID) return deps.config.CLUSTER_ID;
  let p = cache.get(deps.kc);
  if (!p) {
    p = (async () => {
      try {
        const ns = await deps.kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name: 'kube-system' });
        const uid = ns.metadata?.uid;
        if (!uid || !CLUSTER_ID_PATTERN.test(uid))
          throw ApplicationFailure.nonRetryable(`namespace kube-system has no usable uid (${uid ?? 'none'}); set CLUSTER_ID`, 'InvalidConfiguration');
        return uid;
      } catch (e) {
        const code = apiStatus(e);
        if (code === 401 || code === 403 || code === 404)
          throw ApplicationFailure.nonRetryable(
            `cannot read namespace kube-system for the cluster identity (HTTP ${code}); grant get on namespaces or set CLUSTER_ID`,
            'InvalidConfiguration',
          );
        throw e;
      }
    })();
    cache.set(deps.kc, p);
    p.catch(() => cache.delete(deps.kc));
  }
  return p;
}
