/**
 * Pure pieces of the VPSieNode lifecycle (workflows/nodes/lifecycle/workflow.ts and its activities):
 * the phase transition table, the conditions each transition sets, the status patch builder,
 * Node ↔ VPSieNode matching and the mapping of activity failures to typed error reasons.
 * No I/O and no clock: safe in workflow code.
 */
import {
  PHASE_TIME_KEYS,
  VPSIENODE_ERROR_REASONS,
  VPSIENODE_REASONS_BY_CONDITION,
  type ConditionStatus,
  type VPSieNodeConditionType,
  type VPSieNodeErrorReason,
  type VPSieNodePhase,
  type VPSieNodeReason,
} from '../../../lib/crds/autoscaler/constants';
import type { Taint } from '../../../lib/crds/autoscaler/nodegroup';
import type { VPSieNodeCondition, VPSieNodeStatus } from '../../../lib/crds/autoscaler/vpsienode';

// ---- transition table --------------------------------------------------------------------

/**
 * Allowed transitions. Any phase but Deleted may go to Failed; deletion of the VPSieNode object
 * moves every live phase to Terminating (a Failed node is cleaned up directly: Failed → Deleted).
 */
export const PHASE_TRANSITIONS: Readonly<Record<VPSieNodePhase, readonly VPSieNodePhase[]>> = {
  Pending: ['Provisioning', 'Terminating', 'Failed'],
  Provisioning: ['Provisioned', 'Terminating', 'Failed'],
  Provisioned: ['Joining', 'Terminating', 'Failed'],
  Joining: ['Ready', 'Terminating', 'Failed'],
  Ready: ['Terminating', 'Failed'],
  Terminating: ['Deleting', 'Deleted', 'Failed'],
  Deleting: ['Deleted', 'Failed'],
  Failed: ['Deleted'],
  Deleted: [],
};

export function canTransition(from: VPSieNodePhase, to: VPSieNodePhase): boolean {
  return PHASE_TRANSITIONS[from].includes(to);
}

/** The reason each ordinary (non-failure) transition carries. */
export const TRANSITION_REASON: Readonly<Record<Exclude<VPSieNodePhase, 'Failed'>, VPSieNodeReason>> = {
  Pending: 'VPSRequested',
  Provisioning: 'VPSCreating',
  Provisioned: 'VPSRunning',
  Joining: 'AwaitingNode',
  Ready: 'NodeReady',
  Terminating: 'DrainInProgress',
  Deleting: 'VPSDeleting',
  Deleted: 'VPSDeleted',
};

// ---- conditions ---------------------------------------------------------------------------

export interface ConditionChange {
  type: VPSieNodeConditionType;
  status: ConditionStatus;
  reason: VPSieNodeReason;
  message: string;
}

/** Conditions set by entering `to` with `reason` (the Error condition included). */
export function conditionsFor(to: VPSieNodePhase, reason: VPSieNodeReason, message: string): ConditionChange[] {
  const noError: ConditionChange = { type: 'Error', status: 'False', reason: 'NoError', message: '' };
  switch (to) {
    case 'Pending':
      return [{ type: 'VPSRunning', status: 'False', reason: 'VPSRequested', message }, noError];
    case 'Provisioning':
      return [{ type: 'VPSRunning', status: 'False', reason: 'VPSCreating', message }, noError];
    case 'Provisioned':
      return [{ type: 'VPSRunning', status: 'True', reason: 'VPSRunning', message }, noError];
    case 'Joining':
      return [{ type: 'NodeRegistered', status: 'False', reason: 'AwaitingNode', message }, noError];
    case 'Ready':
      return [
        { type: 'NodeRegistered', status: 'True', reason: 'NodeRegistered', message },
        { type: 'Ready', status: 'True', reason: 'NodeReady', message },
        noError,
      ];
    case 'Terminating':
      return [{ type: 'Draining', status: 'True', reason: reason === 'DrainInProgress' ? 'DrainInProgress' : 'NotDraining', message }];
    case 'Deleting':
      return [{ type: 'VPSRunning', status: 'False', reason: 'VPSDeleting', message }];
    case 'Deleted':
      return [
        { type: 'VPSRunning', status: 'False', reason: 'VPSDeleted', message },
        { type: 'Ready', status: 'False', reason: 'NodeNotReady', message },
      ];
    case 'Failed': {
      const errorReason: VPSieNodeReason = (VPSIENODE_REASONS_BY_CONDITION.Error as readonly string[]).includes(reason) ? reason : 'VPSieAPIError';
      const out: ConditionChange[] = [{ type: 'Error', status: 'True', reason: errorReason, message }];
      if (reason === 'VPSCreateTimeout' || reason === 'VPSCreateFailed' || reason === 'VPSNotFound')
        out.push({ type: 'VPSRunning', status: 'False', reason, message });
      if (reason === 'JoinTimeout') out.push({ type: 'NodeRegistered', status: 'False', reason: 'JoinTimeout', message });
      if (reason === 'DrainFailed') out.push({ type: 'Draining', status: 'False', reason: 'DrainFailed', message });
      return out;
    }
  }
}

/**
 * Merges condition changes into existing conditions: lastTransitionTime moves only when the
 * status flips (metav1.Condition semantics); order of types is kept, new types appended.
 */
export function mergeConditions(
  existing: readonly VPSieNodeCondition[] | undefined,
  changes: readonly ConditionChange[],
  at: string,
  generation?: number,
): VPSieNodeCondition[] {
  const out = (existing ?? []).map((c) => ({ ...c }));
  for (const ch of changes) {
    const i = out.findIndex((c) => c.type === ch.type);
    const next: VPSieNodeCondition = {
      type: ch.type,
      status: ch.status,
      reason: ch.reason,
      message: ch.message.slice(0, 32768),
      lastTransitionTime: i >= 0 && out[i]!.status === ch.status ? out[i]!.lastTransitionTime : at,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (i >= 0) out[i] = next;
    else out.push(next);
  }
  return out;
}

// ---- status patch -------------------------------------------------------------------------

export function isErrorReason(r: string): r is VPSieNodeErrorReason {
  return (VPSIENODE_ERROR_REASONS as readonly string[]).includes(r);
}

export interface TransitionRecord {
  from: VPSieNodePhase;
  to: VPSieNodePhase;
  reason: VPSieNodeReason;
  message: string;
  /** RFC 3339 time of the transition (the workflow's clock). */
  at: string;
  nodeName?: string;
  vpsieStatus?: string;
  publicIPv4?: string;
  publicIPv6?: string;
  privateIPv4?: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The `status` object to write (merge-patched onto the status subresource) for a transition:
 * phase, phaseTimes[to] = at, conditions, lastError (set on Failed, kept otherwise), node name
 * and IPs when known. Fields not in the record are left alone.
 */
export function buildStatusPatch(current: VPSieNodeStatus | undefined, t: TransitionRecord, generation?: number): VPSieNodeStatus {
  const phaseTimes = { ...(current?.phaseTimes ?? {}), [PHASE_TIME_KEYS[t.to]]: t.at };
  const status: VPSieNodeStatus = {
    ...(current ?? {}),
    phase: t.to,
    phaseTimes,
    conditions: mergeConditions(current?.conditions, conditionsFor(t.to, t.reason, t.message), t.at, generation),
  };
  if (generation !== undefined) status.observedGeneration = generation;
  if (t.to === 'Failed') {
    const reason: VPSieNodeErrorReason = isErrorReason(t.reason) ? t.reason : 'VPSieAPIError';
    status.lastError = { reason, message: t.message.slice(0, 4096), phase: t.from, time: t.at };
  }
  if (t.nodeName !== undefined) status.nodeName = t.nodeName;
  if (t.vpsieStatus !== undefined) status.vpsieStatus = t.vpsieStatus.slice(0, 64);
  if (t.publicIPv4 !== undefined && IPV4.test(t.publicIPv4)) status.publicIPv4 = t.publicIPv4;
  if (t.privateIPv4 !== undefined && IPV4.test(t.privateIPv4)) status.privateIPv4 = t.privateIPv4;
  if (t.publicIPv6 !== undefined && t.publicIPv6.includes(':')) status.publicIPv6 = t.publicIPv6;
  return status;
}

// ---- Node matching ------------------------------------------------------------------------

/** The part of a Node the matcher reads. */
export interface NodeView {
  name: string;
  providerID?: string;
  addresses: { type: string; address: string }[];
  labels: Record<string, string>;
}

export interface MachineIdentity {
  vpsieIdentifier?: string;
  hostname?: string;
  ips?: string[];
}

export type NodeMatch = { node: NodeView; by: 'providerID' | 'hostname' | 'ip' } | undefined;

/**
 * The Node of a machine: by providerID `vpsie://<identifier>` first, then by name/hostname,
 * then by an InternalIP/ExternalIP. A Node whose providerID names ANOTHER vpsie machine is never
 * matched by hostname or IP (addresses get reused).
 */
export function matchNode(nodes: readonly NodeView[], m: MachineIdentity): NodeMatch {
  if (m.vpsieIdentifier) {
    const pid = `vpsie://${m.vpsieIdentifier}`;
    const n = nodes.find((x) => x.providerID === pid);
    if (n) return { node: n, by: 'providerID' };
  }
  const foreign = (n: NodeView) =>
    n.providerID !== undefined &&
    n.providerID !== '' &&
    (m.vpsieIdentifier === undefined || n.providerID !== `vpsie://${m.vpsieIdentifier}`) &&
    n.providerID.startsWith('vpsie://');
  const candidates = nodes.filter((n) => !foreign(n));
  if (m.hostname) {
    const h = m.hostname.toLowerCase();
    const n = candidates.find(
      (x) => x.name === h || x.labels['kubernetes.io/hostname'] === h || x.addresses.some((a) => a.type === 'Hostname' && a.address.toLowerCase() === h),
    );
    if (n) return { node: n, by: 'hostname' };
  }
  const ips = (m.ips ?? []).filter((ip) => ip !== '');
  if (ips.length > 0) {
    const n = candidates.find((x) => x.addresses.some((a) => (a.type === 'InternalIP' || a.type === 'ExternalIP') && ips.includes(a.address)));
    if (n) return { node: n, by: 'ip' };
  }
  return undefined;
}

/** A VPSieNode as the Node watcher sees it. */
export interface WaitingMachine extends MachineIdentity {
  namespace: string;
  name: string;
  phase?: string;
  nodeName?: string;
}

/** Phases in which a lifecycle is waiting for its Node (the Node watcher wakes it). */
const WAITING_FOR_NODE = new Set(['Pending', 'Provisioning', 'Provisioned', 'Joining']);

/**
 * The VPSieNodes waiting for `node`: not yet Ready, and `node` is theirs by the same rules as
 * `matchNode` (providerID, name/hostname, IP; never a Node of another vpsie machine), or by the
 * node name they recorded. Pure.
 */
export function machinesWaitingFor(node: NodeView, machines: readonly WaitingMachine[]): WaitingMachine[] {
  return machines.filter((m) => (m.phase === undefined || WAITING_FOR_NODE.has(m.phase)) && (m.nodeName === node.name || matchNode([node], m) !== undefined));
}

// ---- labels and taints for the Node ------------------------------------------------------

export interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
}

/**
 * The taints a Node should have: its own, with the group's added or replaced (matched by key and
 * effect). Returns undefined when nothing changes.
 */
export function mergeTaints(current: readonly NodeTaint[], wanted: readonly Taint[]): NodeTaint[] | undefined {
  const out = current.map((t) => ({ ...t }));
  let changed = false;
  for (const w of wanted) {
    const i = out.findIndex((t) => t.key === w.key && t.effect === w.effect);
    const next: NodeTaint = { key: w.key, effect: w.effect, ...(w.value !== undefined ? { value: w.value } : {}) };
    if (i < 0) {
      out.push(next);
      changed = true;
    } else if ((out[i]!.value ?? '') !== (w.value ?? '')) {
      out[i] = { ...out[i]!, ...next };
      changed = true;
    }
  }
  return changed ? out : undefined;
}

/** Labels to merge onto a Node: those missing or different. Empty when the Node already has them. */
export function missingLabels(current: Record<string, string>, wanted: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(wanted).filter(([k, v]) => current[k] !== v));
}

// ---- failures -----------------------------------------------------------------------------

/**
 * Typed error reason of an activity failure, from the ApplicationFailure type the activities
 * raise (`VPSieError.<type>` from toApplicationFailure with details `{operation}`, or a reason
 * name used directly as the type, e.g. `InvalidConfiguration`).
 */
export function errorReasonOf(failureType: string | undefined, operation?: string): VPSieNodeErrorReason {
  if (failureType === undefined) return 'VPSieAPIError';
  if (isErrorReason(failureType)) return failureType;
  const t = failureType.startsWith('VpsieError.') ? failureType.slice('VpsieError.'.length) : failureType;
  switch (t) {
    case 'not_found':
      if (operation === 'datacenter.resolve') return 'DatacenterNotFound';
      if (operation === 'plan.resolve') return 'OfferingNotFound';
      if (operation === 'image.resolve') return 'ImageNotFound';
      if (operation?.startsWith('vm.') || operation?.startsWith('k8s.')) return 'VPSNotFound';
      return 'VPSieAPIError';
    case 'quota_exceeded':
    case 'worker_cap':
      return 'QuotaExceeded';
    case 'bad_request':
    case 'same_size_group':
      return 'VPSCreateFailed';
    default:
      return 'VPSieAPIError';
  }
}

/** ISO string → epoch ms (undefined when absent or unparsable). */
export function isoToMs(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}
