/**
 * The NodeGroup's record of its last scaling decisions (`status.lastScaleUpDecision`,
 * `status.lastScaleDownDecision`): the typed reason and the message with the numbers, written by
 * the activities that record a decision.
 */
import * as k8s from '@kubernetes/client-node';
import { GROUP, NODEGROUP_PLURAL, VERSION } from '../../lib/crds/autoscaler';
import type { NodeGroupDecision } from '../../lib/crds/autoscaler/nodegroup';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';

export type DecisionField = 'lastScaleUpDecision' | 'lastScaleDownDecision';

/** Merge-patches one decision field of the NodeGroup status; a missing group is no error. */
export async function writeLastDecision(
  custom: k8s.CustomObjectsApi,
  ref: { namespace: string; name: string },
  field: DecisionField,
  decision: NodeGroupDecision,
): Promise<void> {
  const body = { status: { [field]: { ...decision, message: decision.message.slice(0, 2048), reason: decision.reason.slice(0, 64) } } };
  try {
    await custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: ref.namespace, plural: NODEGROUP_PLURAL, name: ref.name, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  } catch (err) {
    if (apiStatus(err) === 404) return;
    logger('decision-status').warn('could not write the NodeGroup decision record', { nodegroup: `${ref.namespace}/${ref.name}`, field, error: String(err) });
  }
}
