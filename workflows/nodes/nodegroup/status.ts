/** The NodeGroup's status, written from the entity. */
import { acts, type NodeGroupEntity } from './state';

export async function writeStatus(e: NodeGroupEntity): Promise<void> {
  e.dirty = false;
  const g = e.group;
  if (!g) return;
  await acts.writeNodeGroupStatus({
    ...e.ref,
    status: {
      generation: e.generation,
      minNodes: g.minNodes,
      maxNodes: g.maxNodes,
      desired: e.desired,
      nodes: [...e.nodes.values()].map(({ confirmedEpoch: _c, ...n }) => n),
      dryRun: g.dryRun,
      ...(e.lastScaleUpTime ? { lastScaleUpTime: e.lastScaleUpTime } : {}),
      ...(e.lastScaleDownTime ? { lastScaleDownTime: e.lastScaleDownTime } : {}),
      ...(e.groupError ? { error: e.groupError } : {}),
    },
  });
}
