/** How a VPSieNode and its Node point back to their NodeGroup. */
import { API_VERSION, NODEGROUP_KIND, NODEGROUP_LABEL } from './constants';
import type { NodeGroup } from './nodegroup';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/** The controller owner reference every VPSieNode of `group` carries (garbage-collected with it). */
export function nodeGroupOwnerReference(group: Pick<NodeGroup, 'metadata'>): OwnerReference {
  const uid = group.metadata.uid;
  if (uid === undefined || uid === '') throw new Error(`NodeGroup ${group.metadata.name} has no metadata.uid; read it from the API first`);
  return { apiVersion: API_VERSION, kind: NODEGROUP_KIND, name: group.metadata.name, uid, controller: true, blockOwnerDeletion: true };
}

/** Labels of a group's VPSieNodes and the label the orchestrator sets on its Nodes (besides spec.labels). */
export function nodeGroupMemberLabels(groupName: string): Record<typeof NODEGROUP_LABEL, string> {
  return { [NODEGROUP_LABEL]: groupName };
}

/** The labels a Node of the group ends up with: the group's spec.labels plus the group label. */
export function nodeLabelsFor(group: Pick<NodeGroup, 'metadata' | 'spec'>): Record<string, string> {
  return { ...(group.spec.labels ?? {}), ...nodeGroupMemberLabels(group.metadata.name) };
}

/** The Kubernetes providerID of a VPSie machine (as the VPSie cloud-controller-manager sets it). */
export function providerIDFor(vpsieIdentifier: string): string {
  return `vpsie://${vpsieIdentifier}`;
}
