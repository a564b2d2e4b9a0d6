/**
 * The entity's handlers. Signals and updates only change the entity and wait for the loop to
 * carry the work out; the query answers from it. The update handlers are idempotent by request id.
 */
import { condition, patched, setHandler } from '@temporalio/workflow';
import type { GroupView } from '../../../activities/nodes/nodegroup';
import {
  nodeGroupNodePhaseSignal,
  nodeGroupScaleDownUpdate,
  nodeGroupScaleUpUpdate,
  nodeGroupStateQuery,
  nodeGroupSyncSignal,
  type NodeGroupNodePhase,
  type NodeGroupState,
  type ScaleDownRequest,
  type ScaleDownResult,
  type ScaleUpRequest,
  type ScaleUpResult,
  scaleDownRequestSchema,
  scaleUpRequestSchema,
  validator,
} from '../contracts';
import { scaleDownRequest, scaleUpRequest } from './scale-requests';
import { mergePhase, noteFailure, type NodeGroupEntity } from './state';
import { PATCH_APPLY_NODE_CONFIG } from './sync';

/** Patch (issue #17): a Deleting phase signal of a node the entity does not know is ignored like Terminating and Deleted. */
export const PATCH_UNKNOWN_DELETING_IGNORED = 'nodegroup-unknown-deleting-ignored';

export function installHandlers(e: NodeGroupEntity): void {
  // A hint to re-read the NodeGroup, never state: `deleting` is what the object says (sync.ts).
  setHandler(nodeGroupSyncSignal, (s) => {
    e.syncRequested = true;
    if (s.deleting && !e.signalsAreHints) e.deleting = true;
  });

  setHandler(nodeGroupNodePhaseSignal, (p: NodeGroupNodePhase) => {
    let n = e.nodes.get(p.name);
    if (!n) {
      // A node being removed that the entity no longer knows is not added back (Deleting: the VPS delete in flight, issue #17).
      if (p.phase === 'Deleted' || p.phase === 'Terminating' || (p.phase === 'Deleting' && patched(PATCH_UNKNOWN_DELETING_IGNORED))) return;
      e.seq += 1;
      n = { name: p.name, phase: p.phase, offeringID: p.offeringID ?? '', createdAt: p.at, seq: e.seq, confirmedEpoch: 0 };
      e.nodes.set(p.name, n);
    }
    const before = n.phase;
    mergePhase(n, p.phase);
    if (p.nodeName) n.nodeName = p.nodeName;
    if (p.reason) n.reason = p.reason;
    if (p.message !== undefined) n.message = p.message;
    if (n.phase === 'Failed' && before !== 'Failed') noteFailure(e);
    if (n.phase === 'Ready' && before !== 'Ready') e.consecutiveFailures = 0;
    // A node that just joined may have joined with labels/taints of an older spec: sync, which applies the current ones.
    if (n.phase === 'Ready' && before !== 'Ready' && n.nodeName && patched(PATCH_APPLY_NODE_CONFIG)) e.syncRequested = true;
    if (n.phase === 'Deleted') e.nodes.delete(p.name);
    e.dirty = true;
  });

  setHandler(nodeGroupStateQuery, (): NodeGroupState => ({
    ...e.ref,
    generation: e.generation,
    minNodes: e.group?.minNodes ?? 0,
    maxNodes: e.group?.maxNodes ?? 0,
    desiredNodes: e.desired,
    deleting: e.deleting,
    nodes: [...e.nodes.values()].map((n) => ({
      name: n.name,
      phase: n.removing && n.phase !== 'Failed' && n.phase !== 'Deleted' && n.phase !== 'Deleting' ? 'Terminating' : n.phase,
      offeringID: n.offeringID,
      ...(n.nodeName ? { nodeName: n.nodeName } : {}),
      ...(n.reason ? { reason: n.reason } : {}),
      at: n.createdAt,
    })),
    ...(e.lastScaleUpTime ? { lastScaleUpTime: e.lastScaleUpTime } : {}),
    ...(e.lastScaleDownTime ? { lastScaleDownTime: e.lastScaleDownTime } : {}),
  }));

  /**
   * The update handlers are idempotent by request id: a repeated request waits for the first one's
   * work and gets its answer; a new one waits until the group has been read, then `decide` answers.
   */
  const idempotentUpdate =
    <Req extends { requestId: string }, Res>(kind: 'up' | 'down', decide: (req: Req, g: GroupView) => Promise<Res>) =>
    async (req: Req): Promise<Res> => {
      const seen = e.requests.get(req.requestId)?.[kind] as Res | undefined;
      if (seen) {
        await condition(() => e.doneWork.has(req.requestId) || e.deleting);
        return seen;
      }
      await condition(() => e.group !== undefined);
      return decide(req, e.group as GroupView);
    };

  setHandler(
    nodeGroupScaleUpUpdate,
    idempotentUpdate<ScaleUpRequest, ScaleUpResult>('up', (req, g) => scaleUpRequest(e, req, g)),
    // Refused before acceptance (nothing in history) with the invalid fields named.
    { validator: validator('nodeGroupScaleUp', scaleUpRequestSchema) },
  );

  setHandler(
    nodeGroupScaleDownUpdate,
    idempotentUpdate<ScaleDownRequest, ScaleDownResult>('down', (req, g) => scaleDownRequest(e, req, g)),
    { validator: validator('nodeGroupScaleDown', scaleDownRequestSchema) },
  );
}
