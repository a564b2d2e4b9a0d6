/**
 * The per-node and per-pod safety rules that do not depend on the rest of the decision: each a named
 * function returning the blockers it finds (empty = passes).
 */
import { podKey } from '../../scheduling/types';
import { countsForUtilization, doNotDisrupt, isMovable, KUBE_SYSTEM, markedSafeToEvict, notSafeToEvict, scaleDownDisabled, unsafeLocalVolumes } from './pods';
import { pdbMatches } from './pdb';
import type { Blocker } from './reasons';
import type { PdbInfo, ScaleDownNode, ScaleDownPod } from './types';

/** Node annotations: autoscaler / cluster-autoscaler scale-down-disabled, karpenter do-not-disrupt. */
export function nodeAnnotationRule(n: ScaleDownNode): Blocker[] {
  const out: Blocker[] = [];
  if (scaleDownDisabled(n.annotations)) {
    out.push({ reason: 'ScaleDownDisabledAnnotation', message: `node ${n.node.name} is annotated scale-down-disabled`, numbers: {} });
  }
  if (doNotDisrupt(n.annotations)) {
    out.push({ reason: 'DoNotDisruptAnnotation', message: `node ${n.node.name} is annotated karpenter.sh/do-not-disrupt`, numbers: {} });
  }
  return out;
}

/** Pod annotations on movable pods: scale-down-disabled, do-not-disrupt, safe-to-evict "false". */
export function podAnnotationRule(pod: ScaleDownPod): Blocker[] {
  const key = podKey(pod);
  const out: Blocker[] = [];
  if (scaleDownDisabled(pod.annotations)) {
    out.push({ reason: 'ScaleDownDisabledAnnotation', pod: key, message: `pod ${key} is annotated scale-down-disabled`, numbers: {} });
  }
  if (doNotDisrupt(pod.annotations)) {
    out.push({ reason: 'DoNotDisruptAnnotation', pod: key, message: `pod ${key} is annotated karpenter.sh/do-not-disrupt`, numbers: {} });
  }
  if (notSafeToEvict(pod)) {
    out.push({
      reason: 'NotSafeToEvictAnnotation',
      pod: key,
      message: `pod ${key} is annotated cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`,
      numbers: {},
    });
  }
  return out;
}

/** Local storage (emptyDir on disk, hostPath) unless the pod or the volumes are declared safe to evict. */
export function localStorageRule(pod: ScaleDownPod): Blocker[] {
  if (markedSafeToEvict(pod)) return [];
  const vols = unsafeLocalVolumes(pod);
  if (vols.length === 0) return [];
  const key = podKey(pod);
  return [{ reason: 'LocalStorage', pod: key, message: `pod ${key} has local storage (${vols.join(', ')})`, numbers: { volumes: vols.length } }];
}

/** A kube-system pod that no PDB covers, unless marked safe to evict. */
export function kubeSystemRule(pod: ScaleDownPod, pdbs: readonly PdbInfo[]): Blocker[] {
  if (pod.namespace !== KUBE_SYSTEM || markedSafeToEvict(pod)) return [];
  if (pdbs.some((p) => pdbMatches(p, pod))) return [];
  const key = podKey(pod);
  return [{ reason: 'KubeSystemPodWithoutPDB', pod: key, message: `kube-system pod ${key} has no PodDisruptionBudget`, numbers: {} }];
}

/** A pod without a controller would be deleted for good, unless marked safe to evict. */
export function unreplicatedRule(pod: ScaleDownPod): Blocker[] {
  if (pod.ownerKind !== undefined || markedSafeToEvict(pod)) return [];
  const key = podKey(pod);
  return [{ reason: 'UnreplicatedPod', pod: key, message: `pod ${key} has no controller; it would not be recreated`, numbers: {} }];
}

/** Every rule that looks only at the node and its pods. */
export function staticRules(n: ScaleDownNode, pods: readonly ScaleDownPod[], pdbs: readonly PdbInfo[]): Blocker[] {
  const out = nodeAnnotationRule(n);
  for (const pod of pods) {
    // Opt-out annotations count on every live pod (a DaemonSet pod dies with the node too).
    if (countsForUtilization(pod)) out.push(...podAnnotationRule(pod));
    if (!isMovable(pod)) continue;
    out.push(...localStorageRule(pod), ...kubeSystemRule(pod, pdbs), ...unreplicatedRule(pod));
  }
  return out;
}
