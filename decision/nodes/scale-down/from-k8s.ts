/**
 * Converters from @kubernetes/client-node JSON shapes to the scale-down snapshot types.
 * Type-only imports: nothing from the client library is loaded at runtime.
 */
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';

import { NODEGROUP_LABEL } from '../../../lib/crds/autoscaler/constants';
import { labelSelectorFromK8s, nodeFromK8s, podFromK8s, type VolumeLookup } from '../../scheduling/from-k8s';
import { DECISION_NODE_ANNOTATIONS, DECISION_POD_ANNOTATIONS, pickAnnotations } from './pods';
import type { PdbInfo, PodVolume, ScaleDownNode, ScaleDownPod } from './types';
import { nodeSample, type UtilizationSample } from './utilization';

const PHASES: ReadonlySet<string> = new Set(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']);

/**
 * `full` keeps every annotation (what the snapshot carried before it was slimmed, for tests that
 * compare); by default only the annotations the decision reads are kept (DECISION_*_ANNOTATIONS).
 */
export interface FromK8sOptions {
  full?: boolean;
  /** Bound PersistentVolumes of the pods (claims resolved to PVs): where a moved pod can reach its data. */
  volumes?: VolumeLookup;
}

export function scaleDownPodFromK8s(pod: V1Pod, opts: FromK8sOptions = {}): ScaleDownPod {
  const out: ScaleDownPod = podFromK8s(pod, opts.volumes);
  const meta = pod.metadata ?? {};
  // Only a controller owner makes a pod replicated (podFromK8s also takes a non-controller owner).
  const controller = (meta.ownerReferences ?? []).find((o) => o.controller);
  if (controller) out.ownerKind = controller.kind;
  else delete out.ownerKind;
  const annotations = opts.full ? meta.annotations : pickAnnotations(meta.annotations, DECISION_POD_ANNOTATIONS);
  if (annotations && Object.keys(annotations).length > 0) out.annotations = { ...annotations };
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
  opts: FromK8sOptions = {},
): ScaleDownNode {
  const out: ScaleDownNode = { node: nodeFromK8s(node), pods: pods.map((p) => scaleDownPodFromK8s(p, opts)), ...extra };
  const annotations = opts.full ? node.metadata?.annotations : pickAnnotations(node.metadata?.annotations, DECISION_NODE_ANNOTATIONS);
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

/**
 * Every Node with its pods (pods grouped by spec.nodeName; unbound pods are left out) and one
 * utilisation sample per node: the node part of the scale-down snapshot.
 */
export function scaleDownNodesFromK8s(
  nodes: readonly V1Node[],
  pods: readonly V1Pod[],
  extraOf: (nodeName: string) => Partial<Pick<ScaleDownNode, 'vpsieNode' | 'offeringId'>> = () => ({}),
  opts: FromK8sOptions = {},
): { nodes: ScaleDownNode[]; samples: UtilizationSample[] } {
  const podsByNode = new Map<string, V1Pod[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    const l = podsByNode.get(n);
    if (l) l.push(p);
    else podsByNode.set(n, [p]);
  }
  const out: ScaleDownNode[] = [];
  const samples: UtilizationSample[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name ?? '';
    const sn = scaleDownNodeFromK8s(n, podsByNode.get(name) ?? [], extraOf(name), opts);
    out.push(sn);
    samples.push(nodeSample(name, sn.node.allocatable, sn.pods));
  }
  return { nodes: out, samples };
}
