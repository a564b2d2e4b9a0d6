/**
 * Whether and how a workload's recommendation may be applied (document 003, "Application Engine"):
 *   1. only in Auto mode (Recommend and Disabled never patch);
 *   2. never under the global dry run;
 *   3. never when RBAC forbids it (reported, not retried);
 *   4. only with a recommendation for every container, and only when something changes enough;
 *   5. in place when the cluster supports it and the policy allows it, else by recreating pods
 *      when the policy allows that, else skipped;
 *   6. requests only, limits untouched, unless the policy sets limit multipliers with
 *      updateRequestsOnly false — and an in-place change never lowers a memory limit (that can
 *      OOM-kill a running container).
 * Pure: the caller supplies the facts (mode, dry run, RBAC, in-place support, current resources).
 */
import type { ApplyMethod, PolicyMode, SkipReason } from '../../lib/crds/optipod/constants';
import type { UpdateStrategy } from '../../lib/crds/optipod/policy';
import type { ContainerRecommendation } from './recommendation';

export interface ContainerResources {
  name: string;
  /** Current requests and limits: millicores and bytes (undefined when unset). */
  cpuRequest?: number;
  memoryRequest?: number;
  cpuLimit?: number;
  memoryLimit?: number;
  recommendation: ContainerRecommendation;
}

export interface ApplyContext {
  mode: PolicyMode;
  dryRun: boolean;
  /** RBAC allows patching the workload. */
  canUpdate: boolean;
  /** The cluster resizes pods in place (InPlacePodVerticalScaling). */
  inPlaceSupported: boolean;
  strategy: UpdateStrategy;
  /** Changes smaller than this fraction of the current request are not worth a patch. */
  minChangeFraction?: number;
}

export interface ContainerPatch {
  name: string;
  requests: { cpu: number; memory: number };
  /** Only when the policy changes limits. */
  limits?: { cpu?: number; memory?: number };
}

export type ApplyDecision =
  { apply: true; method: Exclude<ApplyMethod, 'None'>; patches: ContainerPatch[] } | { apply: false; method: 'None'; reason: SkipReason };

export const DEFAULT_MIN_CHANGE_FRACTION = 0.1;

const skip = (reason: SkipReason): ApplyDecision => ({ apply: false, method: 'None', reason });

function changed(current: number | undefined, target: number, fraction: number): boolean {
  if (current === undefined || current <= 0) return true;
  return Math.abs(target - current) / current >= fraction;
}

export function decideApply(containers: readonly ContainerResources[], ctx: ApplyContext): ApplyDecision {
  if (ctx.mode === 'Disabled') return skip('PolicyDisabled');
  if (ctx.mode === 'Recommend') return skip('RecommendMode');
  if (ctx.dryRun) return skip('DryRun');
  if (!ctx.canUpdate) return skip('Forbidden');
  if (containers.length === 0 || containers.some((c) => !c.recommendation.ok)) return skip('InsufficientData');
  const fraction = ctx.minChangeFraction ?? DEFAULT_MIN_CHANGE_FRACTION;
  const s = ctx.strategy;
  const patches: ContainerPatch[] = containers.map((c) => {
    const r = c.recommendation as Extract<ContainerRecommendation, { ok: true }>;
    const p: ContainerPatch = { name: c.name, requests: { cpu: r.cpu.target, memory: r.memory.target } };
    if (!s.updateRequestsOnly && (s.cpuLimitMultiplier !== undefined || s.memoryLimitMultiplier !== undefined)) {
      const limits: { cpu?: number; memory?: number } = {};
      if (s.cpuLimitMultiplier !== undefined) limits.cpu = r.cpu.target * s.cpuLimitMultiplier;
      if (s.memoryLimitMultiplier !== undefined) limits.memory = r.memory.target * s.memoryLimitMultiplier;
      p.limits = limits;
    }
    return p;
  });
  const anyChange = patches.some((p, i) => {
    const c = containers[i]!;
    return changed(c.cpuRequest, p.requests.cpu, fraction) || changed(c.memoryRequest, p.requests.memory, fraction);
  });
  if (!anyChange) return skip('NoChangeNeeded');
  // a request above the limit it keeps would be refused by the apiserver: only with new limits
  const requestAboveKeptLimit = patches.some((p, i) => {
    const c = containers[i]!;
    const memLimit = p.limits?.memory ?? c.memoryLimit;
    const cpuLimit = p.limits?.cpu ?? c.cpuLimit;
    return (memLimit !== undefined && p.requests.memory > memLimit) || (cpuLimit !== undefined && p.requests.cpu > cpuLimit);
  });
  if (requestAboveKeptLimit) return skip('AdmissionRejected');
  const lowersMemoryLimit = patches.some((p, i) => {
    const lim = containers[i]!.memoryLimit;
    return p.limits?.memory !== undefined && lim !== undefined && p.limits.memory < lim;
  });
  if (ctx.inPlaceSupported && s.allowInPlaceResize && !lowersMemoryLimit) return { apply: true, method: 'InPlace', patches };
  if (s.allowRecreate) return { apply: true, method: 'Recreate', patches };
  if (ctx.inPlaceSupported && s.allowInPlaceResize && lowersMemoryLimit) return skip('MemoryDecreaseUnsafe');
  return skip(ctx.inPlaceSupported ? 'RecreateNotAllowed' : 'InPlaceResizeUnavailable');
}
