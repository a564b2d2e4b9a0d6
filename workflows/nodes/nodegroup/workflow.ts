/**
 * The NodeGroup entity workflow (one per NodeGroup, id `nodeGroupWorkflowId(ns, name)`): it holds
 * the group's desired count and keeps the group's VPSieNode objects at that count within
 * [minNodes, maxNodes]. It starts nothing itself: it creates and deletes VPSieNode objects
 * through activities, and the VPSieNode watcher starts each node's lifecycle.
 *
 * - Scale-up and scale-down arrive as updates (`nodeGroupScaleUpUpdate`,
 *   `nodeGroupScaleDownUpdate`). Each handler decides synchronously (no await between reading and
 *   reserving the count), so concurrent requests never push the group past max or below min;
 *   request ids are remembered (across continue-as-new, last 1000) and a repeated request gets
 *   the first answer.
 * - `nodeGroupSyncSignal` (from the NodeGroup watcher) re-reads the spec: raising min creates
 *   nodes, lowering max removes the extras (not-Ready first, then newest); deletion removes every
 *   VPSieNode, waits until each is Deleted or gone, then drops the group's finalizer and ends.
 * - `nodeGroupNodePhaseSignal` (from lifecycles) tracks each node's phase; Failed nodes stop
 *   counting and are replaced, with exponential back-off while failures repeat.
 * - Status, Events and gauges are written by activities after each change.
 * All I/O is in the main loop; handlers only change state and wait for the loop to carry it out.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { NodeGroupActivities, GroupView, ObservedNode } from '../../../activities/nodes/nodegroup';
import { isCounted, reconcile, type GroupNode, type GroupStatusInput } from '../../../decision/nodes/nodegroup';
import { admitScaleDown, admitScaleUp } from '../../../decision/nodes/nodegroup/admission';
import type { NodeGroupReasonFor, VPSieNodePhase } from '../../../lib/crds/autoscaler/constants';
import { PHASE_ORDER } from '../../../decision/nodes/lifecycle/phases';
import { NODEGROUP_SEARCH_ATTRIBUTE } from '../../../lib/temporal/search-attributes';
import {
  nodeGroupNodePhaseSignal,
  nodeGroupScaleDownUpdate,
  nodeGroupScaleUpUpdate,
  nodeGroupStateQuery,
  nodeGroupSyncSignal,
  type NodeGroupNodePhase,
  type NodeGroupState,
  type NodeGroupWorkflowInput,
  type ScaleDownRequest,
  type ScaleDownResult,
  type ScaleUpRequest,
  type ScaleUpResult,
} from '../contracts';
import { NODEGROUP_KUBERNETES } from '../../../lib/temporal/retry-profiles';

const acts = proxyActivities<NodeGroupActivities>({
  // Kubernetes calls only: short, so a crashed worker's attempt is retried soon.
  startToCloseTimeout: '20s',
  retry: NODEGROUP_KUBERNETES,
});

/** State carried across continue-as-new (in `NodeGroupWorkflowInput.carried`). */
export interface NodeGroupCarried {
  desired: number;
  nodes: GroupNode[];
  seq: number;
  /** Answers of the last request ids (oldest first). */
  requests: RequestRecord[];
  lastScaleUpTime?: string;
  lastScaleDownTime?: string;
  consecutiveFailures: number;
  /** Continue-as-new after this many history events (default 4000, or when the server suggests). */
  maxHistoryEvents?: number;
}

interface RequestRecord {
  id: string;
  up?: ScaleUpResult;
  down?: ScaleDownResult;
}

const MAX_REMEMBERED_REQUESTS = 1000;
const RESYNC_INTERVAL = '5m';
const DELETE_POLL = '5s';

interface CreateWork {
  kind: 'create';
  id: string;
  nodes: { name: string; offeringID: string; podUids?: string[] }[];
  reason: string;
  message: string;
}
interface DeleteWork {
  kind: 'delete';
  id: string;
  names: string[];
  reason: string;
  message: string;
}
type Work = CreateWork | DeleteWork;

function isCarried(v: unknown): v is NodeGroupCarried {
  return typeof v === 'object' && v !== null && Array.isArray((v as NodeGroupCarried).nodes) && typeof (v as NodeGroupCarried).desired === 'number';
}

export async function nodeGroupWorkflow(input: NodeGroupWorkflowInput): Promise<void> {
  const ref = { namespace: input.namespace, name: input.name };
  const carried: NodeGroupCarried = isCarried(input.carried)
    ? input.carried
    : {
        desired: 0,
        nodes: [],
        seq: 0,
        requests: [],
        consecutiveFailures: 0,
        ...(typeof input.carried === 'object' && input.carried !== null ? (input.carried as Partial<NodeGroupCarried>) : {}),
      };
  const maxHistory = carried.maxHistoryEvents ?? 4000;
  const nodes = new Map<string, GroupNode & { confirmedEpoch: number }>(carried.nodes.map((n) => [n.name, { ...n, confirmedEpoch: 0 }]));
  const requests = new Map<string, RequestRecord>(carried.requests.map((r) => [r.id, r]));
  // Requests carried over were complete when the previous run continued as new.
  const doneWork = new Set<string>(carried.requests.map((r) => r.id));
  let desired = carried.desired;
  let seq = carried.seq;
  let lastScaleUpTime = carried.lastScaleUpTime;
  let lastScaleDownTime = carried.lastScaleDownTime;
  let consecutiveFailures = carried.consecutiveFailures;
  let replaceNotBefore = 0;
  let group: GroupView | undefined;
  let generation = 0;
  let deleting = false;
  let syncRequested = true;
  let dirty = true;
  let epoch = 1;
  let groupError: GroupStatusInput['error'];
  const queue: Work[] = [];

  upsertSearchAttributes({ [NODEGROUP_SEARCH_ATTRIBUTE]: [`${ref.namespace}/${ref.name}`] });

  const now = () => new Date(Date.now()).toISOString();
  const counted = () => [...nodes.values()].filter(isCounted).length;
  const remember = (r: RequestRecord) => {
    requests.set(r.id, r);
    while (requests.size > MAX_REMEMBERED_REQUESTS) {
      const first = requests.keys().next().value;
      if (first === undefined) break;
      requests.delete(first);
    }
  };
  const newName = (): string => {
    for (;;) {
      const n = `${ref.name}-${uuid4().slice(0, 8)}`;
      if (!nodes.has(n)) return n;
    }
  };
  const plan = (count: number, offeringID: string, reason: string): { name: string; offeringID: string }[] => {
    const out: { name: string; offeringID: string }[] = [];
    for (let i = 0; i < count; i++) {
      const name = newName();
      seq += 1;
      // Not confirmed until the create activity returns: a listing cannot drop it before then.
      nodes.set(name, { name, phase: 'Pending', offeringID, createdAt: now(), seq, reason, confirmedEpoch: Number.MAX_SAFE_INTEGER });
      out.push({ name, offeringID });
    }
    return out;
  };
  /**
   * Replacements of failed nodes back off exponentially (5 s doubling to 10 min). Failures that
   * arrive while a back-off is already running (a batch failing together) do not escalate it.
   */
  const noteFailure = (): void => {
    if (Date.now() < replaceNotBefore) return;
    consecutiveFailures += 1;
    replaceNotBefore = Date.now() + Math.min(600, 5 * 2 ** (consecutiveFailures - 1)) * 1000;
  };
  const mergePhase = (n: GroupNode, phase: VPSieNodePhase): void => {
    if (PHASE_ORDER[phase] > PHASE_ORDER[n.phase]) n.phase = phase;
  };

  // ---- handlers ----------------------------------------------------------------------------

  setHandler(nodeGroupSyncSignal, (s) => {
    syncRequested = true;
    if (s.deleting) deleting = true;
  });

  setHandler(nodeGroupNodePhaseSignal, (p: NodeGroupNodePhase) => {
    let n = nodes.get(p.name);
    if (!n) {
      if (p.phase === 'Deleted' || p.phase === 'Terminating') return;
      seq += 1;
      n = { name: p.name, phase: p.phase, offeringID: p.offeringID ?? '', createdAt: p.at, seq, confirmedEpoch: 0 };
      nodes.set(p.name, n);
    }
    const before = n.phase;
    mergePhase(n, p.phase);
    if (p.nodeName) n.nodeName = p.nodeName;
    if (p.reason) n.reason = p.reason;
    if (p.message !== undefined) n.message = p.message;
    if (n.phase === 'Failed' && before !== 'Failed') noteFailure();
    if (n.phase === 'Ready' && before !== 'Ready') consecutiveFailures = 0;
    if (n.phase === 'Deleted') nodes.delete(p.name);
    dirty = true;
  });

  setHandler(nodeGroupStateQuery, (): NodeGroupState => ({
    ...ref,
    generation,
    minNodes: group?.minNodes ?? 0,
    maxNodes: group?.maxNodes ?? 0,
    desiredNodes: desired,
    deleting,
    nodes: [...nodes.values()].map((n) => ({
      name: n.name,
      phase: n.removing && n.phase !== 'Failed' && n.phase !== 'Deleted' ? 'Terminating' : n.phase,
      offeringID: n.offeringID,
      ...(n.nodeName ? { nodeName: n.nodeName } : {}),
      ...(n.reason ? { reason: n.reason } : {}),
      at: n.createdAt,
    })),
    ...(lastScaleUpTime ? { lastScaleUpTime } : {}),
    ...(lastScaleDownTime ? { lastScaleDownTime } : {}),
  }));

  /**
   * The update handlers are idempotent by request id: a repeated request waits for the first one's
   * work and gets its answer; a new one waits until the group has been read, then `decide` answers.
   */
  const idempotentUpdate =
    <Req extends { requestId: string }, Res>(kind: 'up' | 'down', decide: (req: Req, g: GroupView) => Promise<Res>) =>
    async (req: Req): Promise<Res> => {
      const seen = requests.get(req.requestId)?.[kind] as Res | undefined;
      if (seen) {
        await condition(() => doneWork.has(req.requestId) || deleting);
        return seen;
      }
      await condition(() => group !== undefined);
      return decide(req, group as GroupView);
    };

  setHandler(
    nodeGroupScaleUpUpdate,
    idempotentUpdate('up', async (req: ScaleUpRequest, g): Promise<ScaleUpResult> => {
      const refuse = (refused: NonNullable<ScaleUpResult['refused']>): ScaleUpResult => {
        const r: ScaleUpResult = { requestId: req.requestId, created: [], refused };
        remember({ id: req.requestId, up: r });
        doneWork.add(req.requestId);
        return r;
      };
      // Decide and reserve with no await in between: concurrent requests see each other's count.
      const a = admitScaleUp({
        group: g,
        groupName: `${ref.namespace}/${ref.name}`,
        deleting,
        ask: req,
        desired,
        counted: counted(),
        lastScaleUpTime,
        now: Date.now(),
      });
      if (a.kind === 'refused') return refuse(a.refused);
      if (a.kind === 'dryRun') {
        queue.push({ kind: 'create', id: `event:${req.requestId}`, nodes: [], reason: 'DryRun', message: a.event });
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
        plan(take, n.offeringID, req.reason).forEach((c, i) => {
          const uids = req.podUidsByNode?.[index + i];
          created.push(uids && uids.length > 0 ? { ...c, podUids: uids } : c);
        });
        index += count;
      }
      desired = grant.desired;
      const result: ScaleUpResult = { requestId: req.requestId, created: created.map((c) => c.name) };
      if (a.refused) result.refused = a.refused;
      remember({ id: req.requestId, up: result });
      if (created.length === 0) {
        doneWork.add(req.requestId);
        queue.push({ kind: 'create', id: `event:${req.requestId}`, nodes: [], reason: 'MaxNodesReached', message: result.refused?.message ?? '' });
        return result;
      }
      lastScaleUpTime = now();
      queue.push({
        kind: 'create',
        id: req.requestId,
        nodes: created,
        reason: 'ScalingUp',
        message: `${req.reason}${req.message ? `: ${req.message}` : ''} (asked ${asked}, granted ${grant.granted}, desired ${desired}, max ${g.maxNodes})`,
      });
      dirty = true;
      await condition(() => doneWork.has(req.requestId));
      return result;
    }),
  );

  setHandler(
    nodeGroupScaleDownUpdate,
    idempotentUpdate('down', async (req: ScaleDownRequest, g): Promise<ScaleDownResult> => {
      const finish = (r: ScaleDownResult): ScaleDownResult => {
        doneWork.add(req.requestId);
        return r;
      };
      const a = admitScaleDown({
        group: g,
        groupName: `${ref.namespace}/${ref.name}`,
        deleting,
        vpsieNodes: req.vpsieNodes,
        dryRun: req.dryRun === true,
        desired,
        nodes: [...nodes.values()],
      });
      if (a.kind === 'refused') {
        const r: ScaleDownResult = { requestId: req.requestId, removing: [], refused: a.refused };
        remember({ id: req.requestId, down: r });
        return finish(r);
      }
      const { grant } = a;
      desired = grant.desired;
      for (const name of grant.allowed) {
        const n = nodes.get(name);
        if (n) n.removing = true;
      }
      const result: ScaleDownResult = { requestId: req.requestId, removing: grant.allowed, ...(a.refused ? { refused: a.refused } : {}) };
      remember({ id: req.requestId, down: result });
      if (grant.allowed.length === 0) return finish(result);
      lastScaleDownTime = now();
      queue.push({
        kind: 'delete',
        id: req.requestId,
        names: grant.allowed,
        reason: 'ScalingDown',
        message: `${req.reason}${req.message ? `: ${req.message}` : ''} (desired ${desired}, min ${g.minNodes})`,
      });
      dirty = true;
      await condition(() => doneWork.has(req.requestId));
      return result;
    }),
  );

  // ---- the loop ----------------------------------------------------------------------------

  const groupLabel = `${ref.namespace}/${ref.name}`;

  async function sync(): Promise<boolean> {
    syncRequested = false;
    const view = await acts.readNodeGroup(ref);
    if (view === null) return false;
    group = view;
    generation = view.generation;
    if (view.deleting) deleting = true;
    groupError = view.invalid ? { reason: 'InvalidConfiguration', message: view.invalid.slice(0, 4000) } : undefined;
    if (!view.deleting && !view.hasFinalizer) await acts.setNodeGroupFinalizer({ ...ref, present: true });
    await relist();
    dirty = true;
    return true;
  }

  /** Merges the VPSieNode objects in the cluster into the known nodes. */
  async function relist(): Promise<void> {
    const startEpoch = epoch;
    const observed: ObservedNode[] = await acts.listGroupVPSieNodes(ref);
    const seen = new Set<string>();
    for (const o of observed) {
      seen.add(o.name);
      let n = nodes.get(o.name);
      if (!n) {
        seq += 1;
        n = { name: o.name, phase: o.phase, offeringID: o.offeringID, createdAt: o.createdAt ?? now(), seq, confirmedEpoch: 0 };
        nodes.set(o.name, n);
      }
      mergePhase(n, o.phase);
      if (o.deleting) n.removing = true;
      if (o.nodeName && !n.nodeName) n.nodeName = o.nodeName;
      if (o.reason && !n.reason) n.reason = o.reason;
      if (o.message && !n.message) n.message = o.message;
      if (n.phase === 'Deleted') nodes.delete(o.name);
    }
    for (const [name, n] of nodes) if (!seen.has(name) && n.confirmedEpoch < startEpoch) nodes.delete(name);
  }

  async function carryOut(w: Work): Promise<void> {
    try {
      if (w.kind === 'create') {
        if (w.nodes.length === 0) {
          await acts.recordNodeGroupEvent({ ...ref, type: 'Warning', reason: w.reason, message: w.message });
          return;
        }
        const created = await acts.createVPSieNodes({ ...ref, nodes: w.nodes, requestId: w.id, reason: w.reason, message: w.message });
        const ok = new Set(created);
        for (const p of w.nodes) {
          const n = nodes.get(p.name);
          if (!n) continue;
          if (ok.has(p.name)) n.confirmedEpoch = epoch;
          else nodes.delete(p.name); // the group is gone or being deleted
        }
        epoch += 1; // a listing started from now on sees these nodes
        if (created.length > 0) await acts.countScaleOperation({ ...ref, direction: 'up', nodes: created.length });
      } else {
        await acts.deleteVPSieNodes({ ...ref, names: w.names, reason: w.reason, message: w.message });
        await acts.countScaleOperation({ ...ref, direction: 'down', nodes: w.names.length });
      }
    } catch (err) {
      // Non-retryable refusals (bad configuration): the planned nodes are dropped and the group
      // shows the error; replacements wait for the back-off.
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const message = cause instanceof Error ? cause.message : String(cause);
      const reason: NodeGroupReasonFor<'Error'> =
        cause instanceof ApplicationFailure && cause.type === 'InvalidConfiguration' ? 'InvalidConfiguration' : 'VPSieAPIError';
      groupError = { reason, message: message.slice(0, 4000) };
      if (w.kind === 'create') for (const p of w.nodes) nodes.delete(p.name);
      noteFailure();
      log.warn('node group work failed', { nodegroup: groupLabel, work: w.kind, error: message });
    } finally {
      doneWork.add(w.id);
      dirty = true;
    }
  }

  /** Plans creations/removals so the group matches its spec and desired count. */
  function planReconcile(): void {
    const g = group;
    if (!g || deleting || g.invalid !== undefined) return;
    const p = reconcile(g, desired, [...nodes.values()]);
    const wasDesired = desired;
    desired = p.desired;
    if (desired !== wasDesired) dirty = true;
    if (g.dryRun) return;
    if (p.create > 0 && Date.now() >= replaceNotBefore) {
      const offering = g.defaultOffering;
      const planned = plan(p.create, offering, p.reason);
      lastScaleUpTime = now();
      queue.push({
        kind: 'create',
        id: `reconcile:${uuid4()}`,
        nodes: planned,
        reason: 'ScalingUp',
        message: `${p.reason}: ${p.create} nodes to reach desired ${desired} (min ${g.minNodes}, max ${g.maxNodes})`,
      });
    }
    if (p.remove.length > 0) {
      for (const name of p.remove) {
        const n = nodes.get(name);
        if (n) n.removing = true;
      }
      lastScaleDownTime = now();
      queue.push({
        kind: 'delete',
        id: `reconcile:${uuid4()}`,
        names: p.remove,
        reason: 'ScalingDown',
        message: `${p.reason}: removing ${p.remove.length} to reach desired ${desired} (min ${g.minNodes}, max ${g.maxNodes})`,
      });
    }
  }

  async function writeStatus(): Promise<void> {
    dirty = false;
    const g = group;
    if (!g) return;
    await acts.writeNodeGroupStatus({
      ...ref,
      status: {
        generation,
        minNodes: g.minNodes,
        maxNodes: g.maxNodes,
        desired,
        nodes: [...nodes.values()].map(({ confirmedEpoch: _c, ...n }) => n),
        dryRun: g.dryRun,
        ...(lastScaleUpTime ? { lastScaleUpTime } : {}),
        ...(lastScaleDownTime ? { lastScaleDownTime } : {}),
        ...(groupError ? { error: groupError } : {}),
      },
    });
  }

  async function finishDeletion(): Promise<void> {
    // Every VPSieNode goes; the lifecycles remove the machines and report Deleted.
    await acts.recordNodeGroupEvent({ ...ref, type: 'Normal', reason: 'ScalingDown', message: `NodeGroup deleted: removing all ${nodes.size} VPSieNodes` });
    for (;;) {
      await relist();
      const left = [...nodes.values()].filter((n) => !n.removing && n.phase !== 'Deleted').map((n) => n.name);
      if (left.length > 0) {
        for (const name of left) {
          const n = nodes.get(name);
          if (n) n.removing = true;
        }
        await acts.deleteVPSieNodes({ ...ref, names: left, reason: 'ScalingDown', message: 'NodeGroup deleted' });
      }
      desired = 0;
      await writeStatus();
      if (nodes.size === 0) break;
      await condition(() => nodes.size === 0, DELETE_POLL);
    }
    await acts.setNodeGroupFinalizer({ ...ref, present: false });
    await acts.clearNodeGroupMetrics(ref);
  }

  for (;;) {
    if (syncRequested) {
      const exists = await sync();
      if (!exists) {
        await acts.clearNodeGroupMetrics(ref);
        await condition(allHandlersFinished);
        return;
      }
    }
    if (deleting) {
      await finishDeletion();
      await condition(allHandlersFinished);
      return;
    }
    planReconcile();
    while (queue.length > 0) {
      const w = queue.shift() as Work;
      await carryOut(w);
    }
    if (dirty) await writeStatus();

    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > maxHistory) && queue.length === 0) {
      await condition(() => allHandlersFinished() || queue.length > 0 || syncRequested);
      if (allHandlersFinished() && queue.length === 0 && !syncRequested) {
        const next: NodeGroupCarried = {
          desired,
          nodes: [...nodes.values()].map(({ confirmedEpoch: _c, ...n }) => n),
          seq,
          requests: [...requests.values()],
          consecutiveFailures,
          ...(lastScaleUpTime ? { lastScaleUpTime } : {}),
          ...(lastScaleDownTime ? { lastScaleDownTime } : {}),
          ...(carried.maxHistoryEvents !== undefined ? { maxHistoryEvents: carried.maxHistoryEvents } : {}),
        };
        await continueAsNew<typeof nodeGroupWorkflow>({ ...ref, carried: next });
      }
      continue;
    }

    const waitForReplace = replaceNotBefore > Date.now() && group !== undefined && counted() < desired;
    const woke = await condition(
      () => syncRequested || queue.length > 0 || dirty || deleting,
      waitForReplace ? replaceNotBefore - Date.now() : RESYNC_INTERVAL,
    );
    if (!woke)
      syncRequested = true; // periodic resync, or the replacement back-off ended
    else if (dirty && !syncRequested && queue.length === 0 && !deleting) {
      // Debounce status writes while phase signals arrive in bursts.
      await condition(() => syncRequested || queue.length > 0 || deleting, '1s');
    }
  }
}
