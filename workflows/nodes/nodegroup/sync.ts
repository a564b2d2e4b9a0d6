/** The loop's reads: the NodeGroup spec and the group's VPSieNode objects, merged into the entity. */
import type { ObservedNode } from '../../../activities/nodes/nodegroup';
import { acts, mergePhase, now, type NodeGroupEntity } from './state';

/** Re-reads the NodeGroup (false when it is gone), sets the finalizer, then relists its VPSieNodes. */
export async function sync(e: NodeGroupEntity): Promise<boolean> {
  e.syncRequested = false;
  const view = await acts.readNodeGroup(e.ref);
  if (view === null) return false;
  e.group = view;
  e.generation = view.generation;
  if (view.deleting) e.deleting = true;
  e.groupError = view.invalid ? { reason: 'InvalidConfiguration', message: view.invalid.slice(0, 4000) } : undefined;
  if (!view.deleting && !view.hasFinalizer) await acts.setNodeGroupFinalizer({ ...e.ref, present: true });
  await relist(e);
  e.dirty = true;
  return true;
}

/** Merges the VPSieNode objects in the cluster into the known nodes. */
export async function relist(e: NodeGroupEntity): Promise<void> {
  const startEpoch = e.epoch;
  const observed: ObservedNode[] = await acts.listGroupVPSieNodes(e.ref);
  const seen = new Set<string>();
  for (const o of observed) {
    seen.add(o.name);
    let n = e.nodes.get(o.name);
    if (!n) {
      e.seq += 1;
      n = { name: o.name, phase: o.phase, offeringID: o.offeringID, createdAt: o.createdAt ?? now(), seq: e.seq, confirmedEpoch: 0 };
      e.nodes.set(o.name, n);
    }
    mergePhase(n, o.phase);
    if (o.deleting) n.removing = true;
    if (o.nodeName && !n.nodeName) n.nodeName = o.nodeName;
    if (o.reason && !n.reason) n.reason = o.reason;
    if (o.message && !n.message) n.message = o.message;
    if (n.phase === 'Deleted') e.nodes.delete(o.name);
  }
  for (const [name, n] of e.nodes) if (!seen.has(name) && n.confirmedEpoch < startEpoch) e.nodes.delete(name);
}
