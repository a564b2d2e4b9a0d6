/** The loop's reads: the NodeGroup spec and the group's VPSieNode objects, merged into the entity. */
import { log, patched, proxyActivities } from '@temporalio/workflow';
import type { NodeConfigActivities } from '../../../activities/nodes/node-config';
import type { ObservedNode } from '../../../activities/nodes/nodegroup';
import { startingDesired } from '../../../decision/nodes/nodegroup/restart';
import { NODEGROUP_KUBERNETES } from '../../../lib/temporal/retry-profiles';
import { acts, counted, mergePhase, now, type NodeGroupEntity } from './state';

/** The group's spec.labels / spec.taints are applied to its existing Nodes when they (or its Nodes) change. */
export const PATCH_APPLY_NODE_CONFIG = 'nodegroup-applies-node-config';

const configActs = proxyActivities<NodeConfigActivities>({
  // One read and at most one patch per Node.
  startToCloseTimeout: '2m',
  retry: { ...NODEGROUP_KUBERNETES, maximumAttempts: 5 },
});

/** The generation and Node names last applied (not carried: a new run applies once more, which is idempotent). */
const appliedConfig = new WeakMap<NodeGroupEntity, string>();

/** Applies the group's labels and taints to its Nodes when the spec generation or the set of its Nodes changed. */
async function applyNodeConfig(e: NodeGroupEntity): Promise<void> {
  const view = e.group;
  if (!view || view.deleting || view.invalid !== undefined) return;
  const nodeNames = [...e.nodes.values()].flatMap((n) => (n.nodeName && !n.removing ? [n.nodeName] : [])).sort();
  if (nodeNames.length === 0) return;
  const key = `${view.generation}|${nodeNames.join(',')}`;
  if (appliedConfig.get(e) === key) return;
  if (!patched(PATCH_APPLY_NODE_CONFIG)) return;
  try {
    const r = await configActs.applyNodeGroupNodeConfig({ ...e.ref, nodeNames });
    appliedConfig.set(e, key);
    if (r.changed.length > 0) log.info('NodeGroup labels/taints applied to its Nodes', { nodegroup: e.groupLabel, changed: r.changed, unchanged: r.unchanged });
  } catch (err) {
    // Tried again at the next sync.
    log.warn('could not apply the NodeGroup labels/taints to its Nodes', { nodegroup: e.groupLabel, error: err instanceof Error ? err.message : String(err) });
  }
}

/** Re-reads the NodeGroup (false when it is gone), sets the finalizer, then relists its VPSieNodes. */
export async function sync(e: NodeGroupEntity): Promise<boolean> {
  e.syncRequested = false;
  const view = await acts.readNodeGroup(e.ref);
  if (view === null) return false;
  e.group = view;
  e.generation = view.generation;
  // The object says whether the group is being deleted (a deletion, once begun, is not undone).
  if (view.deleting) e.deleting = true;
  e.groupError = view.invalid ? { reason: 'InvalidConfiguration', message: view.invalid.slice(0, 4000) } : undefined;
  if (!view.deleting && !view.hasFinalizer) await acts.setNodeGroupFinalizer({ ...e.ref, present: true });
  await relist(e);
  if (e.seedFromCluster) await seedFromCluster(e);
  await applyNodeConfig(e);
  e.dirty = true;
  return true;
}

/** The first sync of a run without carried state: desired (and the last scale times) from the cluster, never zero. */
async function seedFromCluster(e: NodeGroupEntity): Promise<void> {
  e.seedFromCluster = false;
  const view = e.group;
  if (!view) return;
  const s = startingDesired({ statusDesired: view.statusDesiredNodes, counted: counted(e) });
  e.desired = s.desired;
  e.lastScaleUpTime ??= view.statusLastScaleUpTime;
  e.lastScaleDownTime ??= view.statusLastScaleDownTime;
  log.info('NodeGroup run without carried state: starting from the cluster', {
    nodegroup: e.groupLabel,
    reason: s.reason,
    desired: s.desired,
    counted: s.counted,
  });
  if (s.reason !== 'Empty') await acts.recordNodeGroupEvent({ ...e.ref, type: 'Normal', reason: 'StartedFromCluster', message: `${s.message} [${s.reason}]` });
}

/** Merges the VPSieNode objects in the cluster into the known nodes. */
export async function relist(e: NodeGroupEntity): Promise<void> {
  const startEpoch = e.epoch;
  const listed: ObservedNode[] = await acts.listGroupVPSieNodes(e.ref);
  // New nodes get creation-ordered seq numbers (newest = highest), so "the newest first" holds for a fresh run too.
  const observed = e.orderByCreation
    ? listed.slice().sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    : listed;
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
