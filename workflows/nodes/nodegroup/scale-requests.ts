/**
 * The NodeGroup's scale requests (the bodies of its two update handlers). Each decides
 * synchronously — no await between reading the count and reserving it — so concurrent requests
 * never push the group past max or below min; then it waits for the loop to carry the work out.
 */
import { condition } from '@temporalio/workflow';
import type { GroupView } from '../../../activities/nodes/nodegroup';
import { admitScaleDown, admitScaleUp } from '../../../decision/nodes/nodegroup/admission';
import { existingMachines } from '../../../decision/nodes/nodegroup';
import type { ScaleDownRequest, ScaleDownResult, ScaleUpRequest, ScaleUpResult } from '../contracts';
import { counted, now, plan, remember, type NodeGroupEntity } from './state';

/** A scale-up request: admitted (count reserved, nodes planned) or refused, in one synchronous step. */
export async function scaleUpRequest(e: NodeGroupEntity, req: ScaleUpRequest, g: GroupView): Promise<ScaleUpResult> {
  const refuse = (refused: NonNullable<ScaleUpResult['refused']>): ScaleUpResult => {
    const r: ScaleUpResult = { requestId: req.requestId, created: [], refused };
    remember(e, { id: req.requestId, up: r });
    e.doneWork.add(req.requestId);
    return r;
  };
  // Decide and reserve with no await in between: concurrent requests see each other's count.
  const a = admitScaleUp({
    group: g,
    groupName: `${e.ref.namespace}/${e.ref.name}`,
    deleting: e.deleting,
    ask: req,
    desired: e.desired,
    counted: counted(e),
    ...(e.maxCountsMachines ? { existing: existingMachines([...e.nodes.values()]) } : {}),
    lastScaleUpTime: e.lastScaleUpTime,
    now: Date.now(),
  });
  if (a.kind === 'refused') return refuse(a.refused);
  if (a.kind === 'dryRun') {
    e.queue.push({ kind: 'create', id: `event:${req.requestId}`, nodes: [], reason: 'DryRun', message: a.event });
    return refuse(a.refused);
  }
  const { asked, grant } = a;
  const created: { name: string; offeringID: string; podUids?: string[] }[] = [];
  let left = grant.granted;
  let index = 0; // position of the entry's first node in the request's expansion (podUidsByNode)
  for (const n of req.nodes) {
    const count = Math.max(0, n.count);
    const take = Math.min(left, count);
    left -= take;
    plan(e, take, n.offeringID, req.reason).forEach((c, i) => {
      const uids = req.podUidsByNode?.[index + i];
      created.push(uids && uids.length > 0 ? { ...c, podUids: uids } : c);
    });
    index += count;
  }
  e.desired = grant.desired;
  const result: ScaleUpResult = { requestId: req.requestId, created: created.map((c) => c.name) };
  if (a.refused) result.refused = a.refused;
  remember(e, { id: req.requestId, up: result });
  if (created.length === 0) {
    e.doneWork.add(req.requestId);
    e.queue.push({ kind: 'create', id: `event:${req.requestId}`, nodes: [], reason: 'MaxNodesReached', message: result.refused?.message ?? '' });
    return result;
  }
  e.lastScaleUpTime = now();
  e.queue.push({
    kind: 'create',
    id: req.requestId,
    nodes: created,
    reason: 'ScalingUp',
    message: `${req.reason}${req.message ? `: ${req.message}` : ''} (asked ${asked}, granted ${grant.granted}, e.desired ${e.desired}, max ${g.maxNodes})`,
  });
  e.dirty = true;
  await condition(() => e.doneWork.has(req.requestId));
  return result;
}

/** A scale-down request: the named nodes admitted for removal (within minNodes) or refused. */
export async function scaleDownRequest(e: NodeGroupEntity, req: ScaleDownRequest, g: GroupView): Promise<ScaleDownResult> {
  const finish = (r: ScaleDownResult): ScaleDownResult => {
    e.doneWork.add(req.requestId);
    return r;
  };
  const a = admitScaleDown({
    group: g,
    groupName: `${e.ref.namespace}/${e.ref.name}`,
    deleting: e.deleting,
    vpsieNodes: req.vpsieNodes,
    dryRun: req.dryRun === true,
    desired: e.desired,
    nodes: [...e.nodes.values()],
  });
  if (a.kind === 'refused') {
    const r: ScaleDownResult = { requestId: req.requestId, removing: [], refused: a.refused };
    remember(e, { id: req.requestId, down: r });
    return finish(r);
  }
  const { grant } = a;
  e.desired = grant.desired;
  for (const name of grant.allowed) {
    const n = e.nodes.get(name);
    if (n) n.removing = true;
  }
  const result: ScaleDownResult = { requestId: req.requestId, removing: grant.allowed, ...(a.refused ? { refused: a.refused } : {}) };
  remember(e, { id: req.requestId, down: result });
  if (grant.allowed.length === 0) return finish(result);
  e.lastScaleDownTime = now();
  e.queue.push({
    kind: 'delete',
    id: req.requestId,
    names: grant.allowed,
    reason: 'ScalingDown',
    message: `${req.reason}${req.message ? `: ${req.message}` : ''} (e.desired ${e.desired}, min ${g.minNodes})`,
  });
  e.dirty = true;
  await condition(() => e.doneWork.has(req.requestId));
  return result;
}
