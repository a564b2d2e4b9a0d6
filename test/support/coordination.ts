/** VPANAPCoordination and VPA objects for the coordination tests. */
import * as k8s from '@kubernetes/client-node';
import type { VPANAPCoordinationStatus } from '../../lib/crds/platform/types';
import type { TestSandbox } from './sandbox';

export const COORD = { group: 'platform.io', version: 'v1', plural: 'vpanapcoordinations' };
export const VPA = { group: 'autoscaling.k8s.io', version: 'v1', plural: 'verticalpodautoscalers' };

export async function createVpa(sb: TestSandbox, namespace: string, name: string, target: string, updateMode: string): Promise<void> {
  await sb.kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...VPA,
    namespace,
    body: {
      apiVersion: 'autoscaling.k8s.io/v1',
      kind: 'VerticalPodAutoscaler',
      metadata: { name, namespace },
      spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, updatePolicy: { updateMode } },
    },
  });
}

export async function vpaOf(sb: TestSandbox, namespace: string, name: string): Promise<{ mode?: string; annotations: Record<string, string> }> {
  const v = (await sb.kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ ...VPA, namespace, name })) as {
    metadata?: { annotations?: Record<string, string> };
    spec?: { updatePolicy?: { updateMode?: string } };
  };
  return { ...(v.spec?.updatePolicy?.updateMode ? { mode: v.spec.updatePolicy.updateMode } : {}), annotations: v.metadata?.annotations ?? {} };
}

export async function createCoordination(sb: TestSandbox, namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await sb.kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...COORD,
    namespace,
    body: { apiVersion: 'platform.io/v1', kind: 'VPANAPCoordination', metadata: { name, namespace }, spec: { vpaName: name, namespace, ...spec } },
  });
}

export async function coordinationStatus(sb: TestSandbox, namespace: string, name: string): Promise<VPANAPCoordinationStatus> {
  const o = (await sb.kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ ...COORD, namespace, name })) as { status?: VPANAPCoordinationStatus };
  return o.status ?? {};
}
