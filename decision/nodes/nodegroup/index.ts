/**
 * Pure decisions of the NodeGroup entity workflow: the desired-count arithmetic (min/max, grants
 * of scale-up requests, removals on scale-down), which nodes to remove when the group must shrink,
 * and the status/conditions a group reports. No I/O, no clock: time is an argument. Used by
 * workflows/nodes/nodegroup/workflow.ts (deterministic) and activities/nodes/nodegroup.ts (status builder).
 */
import type { NodeGroupCondition, NodeGroupStatus } from '../../../lib/crds/autoscaler/nodegroup';
import type { NodeGroupConditionType, NodeGroupReasonFor, VPSieNodePhase } from '../../../lib/crds/autoscaler/constants';
import { COUNTED_PHASES, READINESS_ORDER } from '../lifecycle/phases';

/** One VPSieNode of a group as the group workflow knows it. */
export interface GroupNode {
  name: string;
  phase: VPSieNodePhase;
  offeringID: string;
  nodeName?: string;
  /** ISO time the group workflow decided to create it (or first saw it). */
  createdAt: string;
  /** Creation order within the group (higher = newer); ties broken by name. */
  seq: number;
  /** The group asked for its deletion (the VPSieNode object is being deleted). */
  removing?: boolean;
  /** Typed reason of the last reported transition (from the lifecycle). */
  reason?: string;
  message?: string;
}

/** A node counts towards the group's size while it is on its way to Ready or Ready, and not being removed. */
export function isCounted(n: Pick<GroupNode, 'phase' | 'removing'>): boolean {
  return !n.removing && COUNTED_PHASES.includes(n.phase);
}

export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

export interface ScaleUpGrant {
  granted: number;
  /** How many of the asked nodes are refused because max would be exceeded. */
  refused: number;
  desired: number;
}

/**
 * A scale-up request for `asked` nodes against a group holding `desired` with `max`: grants as
 * many as fit under max. `desired` never exceeds max, whatever the order of concurrent requests.
 */
export function grantScaleUp(desired: number, asked: number, max: number, existingMachines?: number): ScaleUpGrant {
  // maxNodes bounds the machines that exist, not only the counted ones: a Failed node, one being
  // terminated or deleted still has its machine until it is gone.
  const room = Math.max(0, Math.min(max - desired, existingMachines === undefined ? Infinity : max - existingMachines));
  const granted = Math.max(0, Math.min(asked, room));
  return { granted, refused: Math.max(0, asked) - granted, desired: desired + granted };
}

export interface ScaleDownGrant {
  /** Names whose removal is allowed, in request order. */
  allowed: string[];
  /** Names refused because min would be broken. */
  belowMin: string[];
  /** Names that are not counted members of the group. */
  notInGroup: string[];
  desired: number;
}

/** A scale-down request naming nodes: removes those that are members while desired stays >= min. */
export function grantScaleDown(desired: number, min: number, names: readonly string[], nodes: readonly GroupNode[]): ScaleDownGrant {
  const counted = new Set(nodes.filter(isCounted).map((n) => n.name));
  const allowed: string[] = [];
  const belowMin: string[] = [];
  const notInGroup: string[] = [];
  let d = desired;
  for (const name of [...new Set(names)]) {
    if (!counted.has(name)) notInGroup.push(name);
    else if (d - 1 < min) belowMin.push(name);
    else {
      allowed.push(name);
      d -= 1;
    }
  }
  return { allowed, belowMin, notInGroup, desired: d };
}

/**
 * Which `count` counted nodes to remove when the group must shrink: not-Ready ones first (the
 * least advanced first), then the newest. Deterministic.
 */
export function pickRemovals(nodes: readonly GroupNode[], count: number): string[] {
  if (count <= 0) return [];
  return nodes
    .filter(isCounted)
    .slice()
    .sort((a, b) => {
      const ra = a.phase === 'Ready' ? 1 : 0;
      const rb = b.phase === 'Ready' ? 1 : 0;
      if (ra !== rb) return ra - rb;
      if (READINESS_ORDER[a.phase] !== READINESS_ORDER[b.phase]) return READINESS_ORDER[a.phase] - READINESS_ORDER[b.phase];
      if (a.seq !== b.seq) return b.seq - a.seq;
      return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
    })
    .slice(0, count)
    .map((n) => n.name);
}

export interface ReconcilePlan {
  /** The group's desired count after applying min/max. */
  desired: number;
  /** How many new VPSieNodes to create. */
  create: number;
  /** VPSieNodes to delete (over max or over desired). */
  remove: string[];
  reason: 'BelowMinNodes' | 'AboveMaxNodes' | 'BelowDesired' | 'AboveDesired' | 'InSync';
  /** Creations held back because machines that still exist (Failed, Terminating, removed) fill maxNodes. */
  heldByMaxNodes?: number;
}

/** Nodes whose machine may still exist: every phase but Deleted (Failed, Terminating and removed ones included). */
export function existingMachines(nodes: readonly GroupNode[]): number {
  return nodes.filter((n) => n.phase !== 'Deleted').length;
}

/**
 * What the group does to match its spec: desired is clamped into [min, max]; counted nodes below
 * desired are created, counted nodes above desired are removed (not-Ready first, then newest).
 */
export function reconcile(
  spec: { minNodes: number; maxNodes: number },
  desired: number,
  nodes: readonly GroupNode[],
  opts: { capByExistingMachines?: boolean } = {},
): ReconcilePlan {
  const d = clamp(desired, spec.minNodes, spec.maxNodes);
  const counted = nodes.filter(isCounted).length;
  if (counted < d) {
    const reason = desired < spec.minNodes ? 'BelowMinNodes' : 'BelowDesired';
    if (!opts.capByExistingMachines) return { desired: d, create: d - counted, remove: [], reason };
    // Creations wait while machines of Failed or removed nodes still exist at maxNodes.
    const room = Math.max(0, spec.maxNodes - existingMachines(nodes));
    const create = Math.min(d - counted, room);
    const plan: ReconcilePlan = { desired: d, create, remove: [], reason };
    if (create < d - counted) plan.heldByMaxNodes = d - counted - create;
    return plan;
  }
  if (counted > d)
    return { desired: d, create: 0, remove: pickRemovals(nodes, counted - d), reason: desired > spec.maxNodes ? 'AboveMaxNodes' : 'AboveDesired' };
  return { desired: d, create: 0, remove: [], reason: 'InSync' };
}

export function phaseCounts(nodes: readonly GroupNode[]): Record<VPSieNodePhase, number> {
  const c: Record<VPSieNodePhase, number> = {
    Pending: 0,
    Provisioning: 0,
    Provisioned: 0,
    Joining: 0,
    Ready: 0,
    Terminating: 0,
    Deleting: 0,
    Deleted: 0,
    Failed: 0,
  };
  for (const n of nodes) c[n.removing && n.phase !== 'Deleted' && n.phase !== 'Failed' && n.phase !== 'Deleting' ? 'Terminating' : n.phase] += 1;
  return c;
}

// ---- status ---------------------------------------------------------------------------------

export interface GroupStatusInput {
  generation: number;
  minNodes: number;
  maxNodes: number;
  desired: number;
  nodes: readonly GroupNode[];
  dryRun: boolean;
  lastScaleUpTime?: string;
  lastScaleDownTime?: string;
  /** A group-level error (bad configuration) that is not a node's failure. */
  error?: { reason: NodeGroupReasonFor<'Error'>; message: string };
}

/** The NodeGroup Error reason for a VPSieNode's failure reason. */
export function groupErrorReason(nodeReason: string | undefined): NodeGroupReasonFor<'Error'> {
  switch (nodeReason) {
    case 'InvalidConfiguration':
    case 'DatacenterNotFound':
    case 'OfferingNotFound':
    case 'ImageNotFound':
    case 'QuotaExceeded':
    case 'VPSieAPIError':
    case 'DrainFailed':
      return nodeReason;
    case 'JoinTimeout':
    case 'NodeNotReady':
      return 'JoinFailed';
    default:
      return 'ProvisioningFailed';
  }
}

type Cond<T extends NodeGroupConditionType> = { type: T; status: 'True' | 'False' | 'Unknown'; reason: NodeGroupReasonFor<T>; message: string };

/** The five conditions of a group, without times. */
export function groupConditions(s: GroupStatusInput): [Cond<'Ready'>, Cond<'Scaling'>, Cond<'AtMinCapacity'>, Cond<'AtMaxCapacity'>, Cond<'Error'>] {
  const counts = phaseCounts(s.nodes);
  const counted = s.nodes.filter(isCounted).length;
  const ready = counts.Ready;
  const removing = s.nodes.filter(
    (n) => (n.removing || n.phase === 'Terminating' || n.phase === 'Deleting') && n.phase !== 'Deleted' && n.phase !== 'Failed',
  ).length;
  const nums = `desired ${s.desired}, ready ${ready}, counted ${counted}, min ${s.minNodes}, max ${s.maxNodes}`;
  const readyCond: Cond<'Ready'> =
    ready < s.minNodes
      ? { type: 'Ready', status: 'False', reason: 'BelowMinNodes', message: `${ready} Ready nodes, fewer than minNodes ${s.minNodes} (${nums})` }
      : ready >= s.desired && ready === counted
        ? { type: 'Ready', status: 'True', reason: 'AllNodesReady', message: `all ${ready} nodes Ready (${nums})` }
        : { type: 'Ready', status: 'False', reason: 'NodesNotReady', message: `${counted - ready} of ${counted} nodes not Ready (${nums})` };
  const scaling: Cond<'Scaling'> = s.dryRun
    ? { type: 'Scaling', status: 'False', reason: 'DryRun', message: `spec.dryRun: decisions are recorded, not carried out (${nums})` }
    : counted - ready > 0 || counted < s.desired
      ? {
          type: 'Scaling',
          status: 'True',
          reason: 'ScalingUp',
          message: `${Math.max(counted - ready, s.desired - ready)} nodes on their way to Ready (${nums})`,
        }
      : removing > 0
        ? { type: 'Scaling', status: 'True', reason: 'ScalingDown', message: `${removing} nodes being removed (${nums})` }
        : { type: 'Scaling', status: 'False', reason: 'NotScaling', message: `stable at ${counted} nodes (${nums})` };
  const atMin: Cond<'AtMinCapacity'> =
    s.desired <= s.minNodes
      ? { type: 'AtMinCapacity', status: 'True', reason: 'AtMinNodes', message: `desired ${s.desired} at minNodes ${s.minNodes}` }
      : { type: 'AtMinCapacity', status: 'False', reason: 'AboveMinNodes', message: `desired ${s.desired} above minNodes ${s.minNodes}` };
  const atMax: Cond<'AtMaxCapacity'> =
    s.desired >= s.maxNodes
      ? { type: 'AtMaxCapacity', status: 'True', reason: 'AtMaxNodes', message: `desired ${s.desired} at maxNodes ${s.maxNodes}` }
      : { type: 'AtMaxCapacity', status: 'False', reason: 'BelowMaxNodes', message: `desired ${s.desired} below maxNodes ${s.maxNodes}` };
  const failed = s.nodes.filter((n) => n.phase === 'Failed').sort((a, b) => b.seq - a.seq);
  const error: Cond<'Error'> = s.error
    ? { type: 'Error', status: 'True', reason: s.error.reason, message: s.error.message }
    : failed.length > 0
      ? {
          type: 'Error',
          status: 'True',
          reason: groupErrorReason(failed[0]?.reason),
          message:
            `${failed.length} nodes Failed; latest ${failed[0]?.name}: ${failed[0]?.reason ?? 'unknown'}${failed[0]?.message ? `: ${failed[0].message}` : ''}`.slice(
              0,
              4000,
            ),
        }
      : { type: 'Error', status: 'False', reason: 'NoError', message: 'no node failed' };
  return [readyCond, scaling, atMin, atMax, error];
}

/** What the VPSieNode objects say of their machines (document 001's nodeList `vpsID`, document 004's `vpsieGroupID`). */
export interface GroupMachineFacts {
  /** By VPSieNode name: the VPS id and identifier from its spec. */
  machines?: ReadonlyMap<string, { vpsID?: number; vpsieIdentifier?: string }>;
  /** The VPSie managed-Kubernetes node group the group's workers join (ManagedKubernetes). */
  vpsieGroupID?: string;
}

/**
 * The VPSie group id in use: the id of the VPSie node group the group's live VPSieNodes were
 * given workers from (their worker-intent annotation), the newest first; undefined when none says.
 */
export function vpsieGroupIDOf(nodes: readonly { createdAt?: string; deleting?: boolean; workerIntent?: string }[]): string | undefined {
  const withIntent = nodes.filter((n) => n.workerIntent !== undefined && n.workerIntent !== '');
  const live = withIntent.filter((n) => !n.deleting);
  const pick = (live.length > 0 ? live : withIntent).slice().sort((a, b) => ((a.createdAt ?? '') < (b.createdAt ?? '') ? 1 : -1))[0];
  return pick?.workerIntent;
}

/**
 * The status subresource of a group. A condition's lastTransitionTime is kept from `previous`
 * when its status did not change, else it is `now`. `facts` add the VPS ids of the node list
 * and the VPSie group id.
 */
export function buildNodeGroupStatus(
  s: GroupStatusInput,
  previous: readonly NodeGroupCondition[] | undefined,
  now: string,
  facts: GroupMachineFacts = {},
): NodeGroupStatus {
  const prev = new Map((previous ?? []).map((c) => [c.type, c]));
  const conditions: NodeGroupCondition[] = groupConditions(s).map((c) => {
    const p = prev.get(c.type);
    return {
      type: c.type,
      status: c.status,
      observedGeneration: s.generation,
      lastTransitionTime: p && p.status === c.status ? p.lastTransitionTime : now,
      reason: c.reason,
      message: c.message,
    };
  });
  const visible = s.nodes.filter((n) => n.phase !== 'Deleted');
  const status: NodeGroupStatus = {
    observedGeneration: s.generation,
    currentNodes: visible.filter((n) => n.phase !== 'Failed').length,
    desiredNodes: s.desired,
    readyNodes: visible.filter((n) => n.phase === 'Ready' && !n.removing).length,
    nodeList: visible
      .slice()
      .sort((a, b) => a.seq - b.seq || (a.name < b.name ? -1 : 1))
      .slice(0, 1000)
      .map((n) => ({
        vpsieNodeName: n.name,
        ...(n.nodeName ? { nodeName: n.nodeName } : {}),
        ...(facts.machines?.get(n.name)?.vpsID !== undefined ? { vpsID: facts.machines.get(n.name)!.vpsID! } : {}),
        ...(facts.machines?.get(n.name)?.vpsieIdentifier ? { vpsieIdentifier: facts.machines.get(n.name)!.vpsieIdentifier! } : {}),
        instanceType: n.offeringID,
        status: n.removing && n.phase !== 'Failed' && n.phase !== 'Deleting' ? 'Terminating' : n.phase,
        createdAt: n.createdAt,
      })),
    conditions,
  };
  if (facts.vpsieGroupID) status.vpsieGroupID = facts.vpsieGroupID;
  if (s.lastScaleUpTime) status.lastScaleUpTime = s.lastScaleUpTime;
  if (s.lastScaleDownTime) status.lastScaleDownTime = s.lastScaleDownTime;
  return status;
}
