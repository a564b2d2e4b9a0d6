/**
 * The NodeGroup was deleted: every VPSieNode goes, then the finalizer. Returns false (not
 * finished) when the polling's history grew long: the workflow then continues as new and the new
 * run goes on with the deletion (PATCH_BOUNDED_DELETION).
 */
import { condition } from '@temporalio/workflow';
import { acts, DELETE_POLL, historyFull, type NodeGroupEntity } from './state';
import { writeStatus } from './status';
import { relist } from './sync';

export async function finishDeletion(e: NodeGroupEntity): Promise<boolean> {
  // Every VPSieNode goes; the lifecycles remove the machines and report Deleted.
  await acts.recordNodeGroupEvent({ ...e.ref, type: 'Normal', reason: 'ScalingDown', message: `NodeGroup deleted: removing all ${e.nodes.size} VPSieNodes` });
  for (;;) {
    await relist(e);
    const left = [...e.nodes.values()].filter((n) => !n.removing && n.phase !== 'Deleted').map((n) => n.name);
    if (left.length > 0) {
      for (const name of left) {
        const n = e.nodes.get(name);
        if (n) n.removing = true;
      }
      await acts.deleteVPSieNodes({ ...e.ref, names: left, reason: 'ScalingDown', message: 'NodeGroup deleted' });
    }
    e.desired = 0;
    await writeStatus(e);
    if (e.nodes.size === 0) break;
    await condition(() => e.nodes.size === 0, DELETE_POLL);
    if (e.boundedDeletion && e.nodes.size > 0 && historyFull(e)) return false;
  }
  await acts.setNodeGroupFinalizer({ ...e.ref, present: false });
  await acts.clearNodeGroupMetrics(e.ref);
  return true;
}
