/**
 * The rightsizing gate: every application of a recommendation passes through `gate()`, and only
 * through it. Its verdict is typed: allowed (the method, each container's new values and what
 * clamped them, what to do when the in-place resize fails) or skipped (a reason of the policy
 * status's closed set, a message with the numbers). Later admission rules (the coordination's
 * circuit breaker, delays, rate limits) belong here and nowhere else.
 *
 * The rules, in order (document 003 "Application Engine"; issue #15):
 *   1. only in Auto mode (Recommend and Disabled never patch), never under the global dry run,
 *      never when RBAC forbids updating the workload, only with a recommendation for every
 *      container;
 *   2. a request changes only when it lies outside the recommendation's lower–upper bounds or
 *      differs from the target by more than `changeThresholdPercent`;
 *   3. one step moves a request by at most `maxChangePercent` of its current value (a decrease by
 *      at most 90 %), so a bad recommendation cannot halve a workload at once;
 *   4. a memory request is never lowered below the observed peak plus `memoryMarginPercent`, nor
 *      below the memory used at the last OOM kill;
 *   5. requests only unless the policy sets limit multipliers (with updateRequestsOnly false); a
 *      request never exceeds its limit (the kept one, or the new one);
 *   6. at most one application per workload per `cooldown`;
 *   7. in place first (the cluster resizes pods and the policy allows it, the pod's QoS class
 *      stays the same — the apiserver refuses a resize that changes it — and no memory limit is
 *      lowered under a running container); else recreate, when the policy allows it and the
 *      workload has `minReplicasForRecreate` replicas (or allowSingleReplicaRecreate); else
 *      skipped with the reason. With no replica running, the new size is applied at admission
 *      only.
 * Init containers never reach the gate; native sidecars (restartPolicy Always) are containers.
 * Pure: the caller supplies every fact, the clock included.
 */
import type { ApplyMethod, PolicyMode, SkipReason } from '../../lib/crds/optipod/constants';
import type { UpdateStrategy } from '../../lib/crds/optipod/policy';
import { parseDuration } from '../../lib/crds/optipod/quantity';
import type { ContainerRecommendation, ResourceRecommendation } from './recommendation';

/** Current values: millicores and bytes, undefined when unset. */
export interface ResourceValuesNum {
  cpuRequest?: number;
  memoryRequest?: number;
  cpuLimit?: number;
  memoryLimit?: number;
}

export interface GateContainer extends ResourceValuesNum {
  name: string;
  /** A native sidecar (an init container with restartPolicy Always). */
  sidecar?: boolean;
  recommendation: ContainerRecommendation;
  /** The highest memory seen in the rolling window (bytes). */
  memoryPeak?: number;
  /** Memory used at the last OOM kill (bytes). */
  oomUsage?: number;
}

export interface GateInput {
  mode: PolicyMode;
  dryRun: boolean;
  /** RBAC allows resizing, evicting and writing the workload's pod sizing. */
  canUpdate: boolean;
  /** The cluster serves pods/resize (InPlacePodVerticalScaling). */
  inPlaceSupported: boolean;
  strategy: UpdateStrategy;
  now: number;
  /** Epoch ms of the workload's last application (the policy status). */
  lastAppliedTime?: number;
  /** Desired replicas (a DaemonSet: the pods it should run). */
  replicas: number;
  containers: readonly GateContainer[];
}

export type ClampedBy = 'MaxChange' | 'MemoryFloor' | 'Limit';

export interface ResourceChange {
  from?: number;
  to: number;
  clampedBy?: ClampedBy;
}

export interface ContainerChange {
  name: string;
  sidecar?: boolean;
  /** The requests the pods get (unchanged resources keep their current value). */
  requests: { cpu?: number; memory?: number };
  /** Only when the policy changes limits. */
  limits?: { cpu?: number; memory?: number };
  /** The resources that change, from → to. */
  changes: Partial<Record<'cpu' | 'memory' | 'cpuLimit' | 'memoryLimit', ResourceChange>>;
}

export type InPlaceFallback = { method: 'Recreate' } | { reason: Extract<SkipReason, 'RecreateNotAllowed' | 'TooFewReplicas'> };

export type GateVerdict =
  | {
      allowed: true;
      method: Exclude<ApplyMethod, 'None'>;
      containers: ContainerChange[];
      /** When the in-place resize is Infeasible or Deferred past the timeout. */
      onInPlaceFailure?: InPlaceFallback;
      message: string;
    }
  | { allowed: false; reason: SkipReason; message: string; numbers?: Record<string, number> };

/** The largest decrease one step may make, whatever maxChangePercent says. */
export const MAX_DECREASE_FRACTION = 0.9;

const skip = (reason: SkipReason, message: string, numbers?: Record<string, number>): GateVerdict =>
  numbers === undefined ? { allowed: false, reason, message } : { allowed: false, reason, message, numbers };

const fmt = (res: 'cpu' | 'memory', v: number | undefined): string =>
  v === undefined ? 'unset' : res === 'cpu' ? `${Math.round(v)}m` : `${(v / 2 ** 20).toFixed(1)}Mi`;

type Qos = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** The pod's QoS class from its containers' requests and limits (a request unset with a limit set defaults to the limit). */
export function qosClass(containers: readonly ResourceValuesNum[]): Qos {
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const cpuReq = c.cpuRequest ?? c.cpuLimit;
    const memReq = c.memoryRequest ?? c.memoryLimit;
    if (cpuReq !== undefined || memReq !== undefined || c.cpuLimit !== undefined || c.memoryLimit !== undefined) any = true;
    if (c.cpuLimit === undefined || c.memoryLimit === undefined || cpuReq !== c.cpuLimit || memReq !== c.memoryLimit) guaranteed = false;
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

interface Planned {
  to: number | undefined;
  clampedBy?: ClampedBy;
  /** The change was wanted but the memory floor left nothing to do. */
  floorBlocked?: { target: number; floor: number; peak: number; oom: number };
}

function planRequest(
  res: 'cpu' | 'memory',
  current: number | undefined,
  rec: ResourceRecommendation,
  s: UpdateStrategy,
  floor: { peak: number; oom: number } | undefined,
): Planned {
  const target = rec.target;
  if (current !== undefined && current > 0) {
    const outside = current < rec.lowerBound || current > rec.upperBound;
    const far = Math.abs(target - current) / current > s.changeThresholdPercent / 100;
    if (!outside && !far) return { to: current };
  }
  let to = target;
  let clampedBy: ClampedBy | undefined;
  if (current !== undefined && current > 0) {
    const up = current * (1 + s.maxChangePercent / 100);
    const down = current * (1 - Math.min(s.maxChangePercent / 100, MAX_DECREASE_FRACTION));
    if (to > up) ((to = up), (clampedBy = 'MaxChange'));
    if (to < down) ((to = down), (clampedBy = 'MaxChange'));
  }
  if (res === 'memory' && floor !== undefined && current !== undefined && to < current) {
    const min = Math.max(floor.peak * (1 + s.memoryMarginPercent / 100), floor.oom);
    if (to < min) {
      const floored = Math.min(current, min);
      if (floored >= current) return { to: current, floorBlocked: { target, floor: min, peak: floor.peak, oom: floor.oom } };
      to = floored;
      clampedBy = 'MemoryFloor';
    }
  }
  to = Math.max(1, Math.round(to));
  return clampedBy === undefined ? { to } : { to, clampedBy };
}

export function gate(input: GateInput): GateVerdict {
  if (input.mode === 'Disabled') return skip('PolicyDisabled', 'mode Disabled: nothing is applied');
  if (input.mode === 'Recommend') return skip('RecommendMode', 'mode Recommend: recommendations are stored, never applied');
  if (input.dryRun) return skip('DryRun', 'global dry run: recommendations are stored, never applied');
  if (!input.canUpdate) return skip('Forbidden', 'RBAC forbids resizing or recreating the workload’s pods');
  if (input.containers.length === 0 || input.containers.some((c) => !c.recommendation.ok))
    return skip('InsufficientData', 'not every container has a recommendation');
  const s = input.strategy;
  const changeLimits = !s.updateRequestsOnly && (s.cpuLimitMultiplier !== undefined || s.memoryLimitMultiplier !== undefined);

  const planned: ContainerChange[] = [];
  const after: ResourceValuesNum[] = [];
  let floorBlocked: { name: string; target: number; floor: number; peak: number; oom: number } | undefined;
  let lowersMemoryLimit = false;
  for (const c of input.containers) {
    const r = c.recommendation as Extract<ContainerRecommendation, { ok: true }>;
    const floor = c.memoryPeak !== undefined || c.oomUsage !== undefined ? { peak: c.memoryPeak ?? 0, oom: c.oomUsage ?? 0 } : undefined;
    const cpu = planRequest('cpu', c.cpuRequest, r.cpu, s, undefined);
    const mem = planRequest('memory', c.memoryRequest, r.memory, s, floor);
    if (mem.floorBlocked !== undefined && floorBlocked === undefined) floorBlocked = { name: c.name, ...mem.floorBlocked };
    const change: ContainerChange = { name: c.name, requests: {}, changes: {} };
    if (c.sidecar === true) change.sidecar = true;
    let cpuTo = cpu.to;
    let memTo = mem.to;
    let cpuLimit = c.cpuLimit;
    let memLimit = c.memoryLimit;
    if (changeLimits) {
      if (s.cpuLimitMultiplier !== undefined && cpuTo !== undefined) cpuLimit = Math.round(cpuTo * s.cpuLimitMultiplier);
      if (s.memoryLimitMultiplier !== undefined && memTo !== undefined) memLimit = Math.round(memTo * s.memoryLimitMultiplier);
    }
    // a request never exceeds its limit
    let cpuClamp = cpu.clampedBy;
    let memClamp = mem.clampedBy;
    if (cpuTo !== undefined && cpuLimit !== undefined && cpuTo > cpuLimit) ((cpuTo = cpuLimit), (cpuClamp = 'Limit'));
    if (memTo !== undefined && memLimit !== undefined && memTo > memLimit) ((memTo = memLimit), (memClamp = 'Limit'));
    if (cpuTo !== undefined) change.requests.cpu = cpuTo;
    if (memTo !== undefined) change.requests.memory = memTo;
    if (cpuTo !== undefined && cpuTo !== c.cpuRequest)
      change.changes.cpu = { ...(c.cpuRequest !== undefined ? { from: c.cpuRequest } : {}), to: cpuTo, ...(cpuClamp ? { clampedBy: cpuClamp } : {}) };
    if (memTo !== undefined && memTo !== c.memoryRequest)
      change.changes.memory = { ...(c.memoryRequest !== undefined ? { from: c.memoryRequest } : {}), to: memTo, ...(memClamp ? { clampedBy: memClamp } : {}) };
    if (changeLimits) {
      const limits: { cpu?: number; memory?: number } = {};
      if (cpuLimit !== undefined) limits.cpu = cpuLimit;
      if (memLimit !== undefined) limits.memory = memLimit;
      change.limits = limits;
      if (cpuLimit !== c.cpuLimit && cpuLimit !== undefined)
        change.changes.cpuLimit = { ...(c.cpuLimit !== undefined ? { from: c.cpuLimit } : {}), to: cpuLimit };
      if (memLimit !== c.memoryLimit && memLimit !== undefined)
        change.changes.memoryLimit = { ...(c.memoryLimit !== undefined ? { from: c.memoryLimit } : {}), to: memLimit };
      if (c.memoryLimit !== undefined && memLimit !== undefined && memLimit < c.memoryLimit) lowersMemoryLimit = true;
    }
    planned.push(change);
    const a: ResourceValuesNum = {};
    if (cpuTo !== undefined) a.cpuRequest = cpuTo;
    if (memTo !== undefined) a.memoryRequest = memTo;
    if (cpuLimit !== undefined) a.cpuLimit = cpuLimit;
    if (memLimit !== undefined) a.memoryLimit = memLimit;
    after.push(a);
  }

  // only changes of requests count (a limit follows its request)
  const changing = planned.filter((p) => p.changes.cpu !== undefined || p.changes.memory !== undefined);
  if (changing.length === 0) {
    if (floorBlocked !== undefined)
      return skip(
        'MemoryDecreaseUnsafe',
        `${floorBlocked.name}: memory target ${fmt('memory', floorBlocked.target)} is below the floor ${fmt('memory', floorBlocked.floor)} (peak ${fmt('memory', floorBlocked.peak)} + ${s.memoryMarginPercent}%, last OOM ${fmt('memory', floorBlocked.oom)})`,
        { memoryTarget: floorBlocked.target, memoryFloor: floorBlocked.floor, memoryPeak: floorBlocked.peak, oomUsage: floorBlocked.oom },
      );
    return skip('NoChangeNeeded', `every request is within the recommendation's bounds and ${s.changeThresholdPercent}% of its target`);
  }

  const cooldownMs = parseDuration(s.cooldown) ?? 0;
  if (input.lastAppliedTime !== undefined && input.now - input.lastAppliedTime < cooldownMs) {
    const remaining = Math.ceil((cooldownMs - (input.now - input.lastAppliedTime)) / 1000);
    return skip('Cooldown', `last applied ${Math.round((input.now - input.lastAppliedTime) / 1000)} s ago; the cooldown ${s.cooldown} ends in ${remaining} s`, {
      remainingSeconds: remaining,
    });
  }

  const summary = changing
    .map((p) =>
      (['cpu', 'memory'] as const)
        .filter((r) => p.changes[r] !== undefined)
        .map((r) => `${p.name} ${r} ${fmt(r, p.changes[r]!.from)}→${fmt(r, p.changes[r]!.to)}${p.changes[r]!.clampedBy ? ` (${p.changes[r]!.clampedBy})` : ''}`)
        .join(', '),
    )
    .join('; ');

  if (input.replicas <= 0)
    return { allowed: true, method: 'Admission', containers: planned, message: `${summary}; no replica runs: new pods are sized at admission` };

  const before = input.containers.map((c) => {
    const v: ResourceValuesNum = {};
    if (c.cpuRequest !== undefined) v.cpuRequest = c.cpuRequest;
    if (c.memoryRequest !== undefined) v.memoryRequest = c.memoryRequest;
    if (c.cpuLimit !== undefined) v.cpuLimit = c.cpuLimit;
    if (c.memoryLimit !== undefined) v.memoryLimit = c.memoryLimit;
    return v;
  });
  const qosFrom = qosClass(before);
  const qosTo = qosClass(after);
  const enoughReplicas = input.replicas >= s.minReplicasForRecreate || s.allowSingleReplicaRecreate;
  const recreate = s.allowRecreate && enoughReplicas;
  const inPlace = input.inPlaceSupported && s.allowInPlaceResize && qosFrom === qosTo && !lowersMemoryLimit;
  if (inPlace) {
    const onInPlaceFailure: InPlaceFallback = recreate ? { method: 'Recreate' } : { reason: s.allowRecreate ? 'TooFewReplicas' : 'RecreateNotAllowed' };
    return { allowed: true, method: 'InPlace', containers: planned, onInPlaceFailure, message: summary };
  }
  const why =
    !input.inPlaceSupported || !s.allowInPlaceResize
      ? !input.inPlaceSupported
        ? 'the cluster does not resize pods in place'
        : 'the policy does not allow in-place resize'
      : qosFrom !== qosTo
        ? `the QoS class would change from ${qosFrom} to ${qosTo}`
        : 'a memory limit would be lowered under running containers';
  if (recreate) return { allowed: true, method: 'Recreate', containers: planned, message: `${summary}; recreated because ${why}` };
  if (s.allowRecreate)
    return skip('TooFewReplicas', `${why}, and ${input.replicas} replica(s) is fewer than minReplicasForRecreate ${s.minReplicasForRecreate}`, {
      replicas: input.replicas,
      minReplicasForRecreate: s.minReplicasForRecreate,
    });
  if (input.inPlaceSupported && s.allowInPlaceResize)
    return qosFrom !== qosTo ? skip('QoSClassChange', `${why}; recreate is not allowed`) : skip('MemoryDecreaseUnsafe', `${why}; recreate is not allowed`);
  return skip(input.inPlaceSupported ? 'RecreateNotAllowed' : 'InPlaceResizeUnavailable', `${why}; recreate is not allowed`);
}
