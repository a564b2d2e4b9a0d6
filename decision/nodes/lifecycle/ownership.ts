/**
 * Is a VPSieNode owned by an existing NodeGroup? Checked at the start of its lifecycle, before any
 * machine exists (issue #12): a VPSieNode is provisioned only when its controller ownerReference is
 * the NodeGroup named by spec.nodeGroupName, with that NodeGroup's current uid, and that NodeGroup
 * exists and is not being deleted. Anything else — no owner, another owner, an owner that was
 * deleted and re-created under the same name, a missing group — is refused: provisioning it would
 * build a machine from defaults for a group that did not ask for it.
 */
import { GROUP, NODEGROUP_KIND } from '../../../lib/crds/autoscaler/constants';

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface OwnershipInput {
  vpsieNode: { namespace: string; name: string; nodeGroupName: string; ownerReferences?: readonly OwnerRef[] };
  /** The NodeGroup named by spec.nodeGroupName in the VPSieNode's namespace; undefined when it does not exist. */
  nodeGroup?: { uid?: string; deleting: boolean };
}

/** Why a VPSieNode is not owned by an existing NodeGroup. */
export type OwnershipProblem = 'NodeGroupNotFound' | 'NodeGroupDeleting' | 'NoControllerOwner' | 'OwnerIsNotItsNodeGroup' | 'OwnerUidMismatch';

export type Ownership = { owned: true } | { owned: false; problem: OwnershipProblem; message: string };

const isNodeGroupRef = (r: OwnerRef): boolean => r.kind === NODEGROUP_KIND && r.apiVersion.split('/')[0] === GROUP;

export function checkOwnership(i: OwnershipInput): Ownership {
  const vn = i.vpsieNode;
  const what = `VPSieNode ${vn.namespace}/${vn.name}`;
  const group = `NodeGroup ${vn.namespace}/${vn.nodeGroupName}`;
  const controller = (vn.ownerReferences ?? []).find((r) => r.controller === true);
  if (!controller)
    return {
      owned: false,
      problem: 'NoControllerOwner',
      message: `${what} has no controller ownerReference; only VPSieNodes that their NodeGroup created are provisioned`,
    };
  if (!isNodeGroupRef(controller) || controller.name !== vn.nodeGroupName)
    return {
      owned: false,
      problem: 'OwnerIsNotItsNodeGroup',
      message: `${what} is controlled by ${controller.kind} ${controller.name} (${controller.apiVersion}), not by ${group} (spec.nodeGroupName)`,
    };
  if (!i.nodeGroup) return { owned: false, problem: 'NodeGroupNotFound', message: `${what} names ${group}, which does not exist` };
  if (controller.uid !== i.nodeGroup.uid)
    return {
      owned: false,
      problem: 'OwnerUidMismatch',
      message: `${what} is owned by ${group} uid ${controller.uid}, but that NodeGroup now has uid ${i.nodeGroup.uid ?? '?'} (deleted and re-created)`,
    };
  if (i.nodeGroup.deleting) return { owned: false, problem: 'NodeGroupDeleting', message: `${what}: ${group} is being deleted` };
  return { owned: true };
}
