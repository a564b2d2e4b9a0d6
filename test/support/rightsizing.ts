/**
 * What the rightsizing integration tests share: the OptimizationPolicy API coordinates, creating a
 * policy, reading its status, a workload's live pods, and waiting for metrics-server to have
 * samples of a namespace's pods.
 */
import * as k8s from '@kubernetes/client-node';
import type { OptimizationPolicyStatus } from '../../lib/crds/optipod';
import { eventually } from './eventually';
import type { TestSandbox } from './sandbox';

export const POLICY_API = { group: 'optipod.io', version: 'v1alpha1', plural: 'optimizationpolicies' };
export const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export async function createPolicy(sb: TestSandbox, namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await sb.kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...POLICY_API,
    namespace,
    body: { apiVersion: 'optipod.io/v1alpha1', kind: 'OptimizationPolicy', metadata: { name, namespace }, spec },
  });
}

export async function policyStatus(sb: TestSandbox, namespace: string, name: string): Promise<OptimizationPolicyStatus> {
  const o = (await sb.kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ ...POLICY_API, namespace, name })) as {
    status?: OptimizationPolicyStatus;
  };
  return o.status ?? {};
}

/** The pods labelled app=<app> that are not being deleted. */
export async function livePods(sb: TestSandbox, namespace: string, app: string): Promise<k8s.V1Pod[]> {
  return (await sb.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** Waits until metrics-server has samples of at least `pods` pods of `namespace` (it needs two scrapes of a pod). */
export async function podMetricsOf(sb: TestSandbox, namespace: string, pods: number, timeoutMs = 180_000): Promise<void> {
  const custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
  await eventually(
    `PodMetrics of ${pods} pods in ${namespace}`,
    async () => {
      const pm = (await custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace, plural: 'pods' })) as {
        items: { containers: unknown[] }[];
      };
      return pm.items.filter((i) => i.containers.length > 0).length >= pods ? true : undefined;
    },
    timeoutMs,
  );
}
