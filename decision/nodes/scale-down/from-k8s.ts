/**
 * Converters from @kubernetes/client-node JSON shapes to the scale-down snapshot types.
 * Type-only imports: nothing from the client library is loaded at runtime.
 */
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';

import { NODEGROUP_LABEL } from '../../../lib/crds/autoscaler/constants';
import { labelSelectorFromK8s, nodeFromK8s, podFromK8s } from '../../scheduling/from-k8s';
import type { PdbInfo, PodVolume, ScaleDownNode, ScaleDownPod } from './types';

const PHASES: ReadonlySet<string> = new Set(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']);

export function scaleDownPodFromK8s(pod: V1Pod): ScaleDownPod {
  const out: ScaleDownPod = podFromK8s(pod);
  const meta = pod.metadata ?? {};
  // Only a controller owner makes a pod replicated (podFromK8s also takes a non-controller owner).
  const controller = (meta.ownerReferences ?? []).find((o) => o.controller);
  if (controller) out.ownerKind = controller.kind;
  else delete out.ownerKind;
  if (meta.annotations && Object.keys(meta.annotations).length > 0) out.annotations = { ...meta.annotations };
  const volumes: PodVolume[] = (pod.spec?.volumes ?? []).map((v) => {
    if (v.emptyDir) return { name: v.name, kind: 'emptyDir', medium: v.emptyDir.medium ?? '' };
    if (v.hostPath) return { name: v.name, kind: 'hostPath' };
    return { name: v.name, kind: 'other' };
  });
  if (volumes.length > 0) out.volumes = volumes;
  if (meta.deletionTimestamp) out.terminating = true;
  const phase = pod.status?.phase;
  if (phase && PHASES.has(phase)) out.phase = phase as NonNullable<ScaleDownPod['phase']>;
  if (pod.spec?.terminationGracePeriodSeconds !== undefined) out.terminationGracePeriodSeconds = pod.spec.terminationGracePeriodSeconds;
  return out;
}

/** V1Node + its pods -> ScaleDownNode (group from the autoscaler.vpsie.com/nodegroup label). */
export function scaleDownNodeFromK8s(
  node: V1Node,
  pods: readonly V1Pod[],
  extra: Partial<Pick<ScaleDownNode, 'vpsieNode' | 'offeringId'>> = {},
): ScaleDownNode {
  const out: ScaleDownNode = { node: nodeFromK8s(node), pods: pods.map(scaleDownPodFromK8s), ...extra };
  const annotations = node.metadata?.annotations;
  if (annotations && Object.keys(annotations).length > 0) out.annotations = { ...annotations };
  const group = node.metadata?.labels?.[NODEGROUP_LABEL];
  if (group !== undefined) out.nodeGroup = group;
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  out.ready = ready?.status === 'True';
  return out;
}

function intOrString(v: unknown): number | string | undefined {
  return typeof v === 'number' || typeof v === 'string' ? v : undefined;
}

export function pdbFromK8s(pdb: V1PodDisruptionBudget): PdbInfo {
  const out: PdbInfo = { name: pdb.metadata?.name ?? '', namespace: pdb.metadata?.namespace ?? 'default' };
  const sel = labelSelectorFromK8s(pdb.spec?.selector);
  if (sel) out.selector = sel;
  const status = pdb.status;
  // disruptionsAllowed is only meaningful once the controller observed this generation.
  if (status && (status.observedGeneration ?? -1) >= (pdb.metadata?.generation ?? 0)) {
    out.disruptionsAllowed = status.disruptionsAllowed;
  }
  const minAvailable = intOrString(pdb.spec?.minAvailable);
  if (minAvailable !== undefined) out.minAvailable = minAvailable;
  const maxUnavailable = intOrString(pdb.spec?.maxUnavailable);
  if (maxUnavailable !== undefined) out.maxUnavailable = maxUnavailable;
  if (status?.currentHealthy !== undefined) out.currentHealthy = status.currentHealthy;
  if (status?.expectedPods !== undefined) out.expectedPods = status.expectedPods;
  return out;
}
