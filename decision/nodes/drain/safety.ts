/**
 * The safety rules every drain re-checks after its cordon (scale-down's drains and the VPSieNode
 * lifecycle's alike): the same static rules the scale-down decision applies to a node and its pods
 * (decision/nodes/scale-down/rules.ts: opt-out annotations on the node or a pod, safe-to-evict
 * "false", local storage, kube-system pods without a PodDisruptionBudget, pods without a
 * controller). Checked on the pods that are on the node once nothing new can land there, so a pod
 * that arrived or changed between the decision and the cordon is seen. A drain refused by a rule
 * evicts nothing and uncordons the node.
 */
import { sortBlockers, type Blocker } from '../scale-down/reasons';
import { staticRules } from '../scale-down/rules';
import type { PdbInfo, ScaleDownNode } from '../scale-down/types';

export interface DrainRefusal {
  reason: Blocker['reason'];
  message: string;
  pod?: string;
}

/** The failing rules, in the decision's evaluation order (empty: the drain may go on). */
export function drainRefusals(node: ScaleDownNode, pdbs: readonly PdbInfo[]): DrainRefusal[] {
  return sortBlockers(staticRules(node, node.pods, pdbs)).map((b) => ({
    reason: b.reason,
    message: b.message,
    ...(b.pod !== undefined ? { pod: b.pod } : {}),
  }));
}
