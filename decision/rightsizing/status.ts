/**
 * Building an OptimizationPolicy's status from one cycle's results, bounded in size: at most
 * STATUS_MAX_WORKLOADS workloads and STATUS_MAX_CONTAINERS containers each, and at most `maxBytes`
 * of JSON, with counts of what was left out — so a policy over 1,000 (or 100,000) workloads never
 * comes near the object size limit. The counts cover every workload. Pure: `now` is an argument.
 */
import {
  STATUS_MAX_CONTAINERS,
  STATUS_MAX_MESSAGE,
  STATUS_MAX_WORKLOADS,
  type ApplyMethod,
  type PolicyReadyReason,
  type SkipReason,
  type WorkloadKind,
  type WorkloadOutcome,
} from '../../lib/crds/optipod/constants';
import type { ContainerStatus, Explanation, OptimizationPolicyStatus, PolicyCondition, ResourceValues, WorkloadStatus } from '../../lib/crds/optipod/policy';
import { QUANTITY_PATTERN, formatCpu, formatMemory } from '../../lib/crds/optipod/quantity';
import type { ContainerRecommendation, ResourceRecommendation } from './recommendation';

export interface CurrentResources {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

export interface ContainerResult extends CurrentResources {
  name: string;
  recommendation?: ContainerRecommendation;
}

export interface WorkloadResult {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** The governing policy (namespace/name): this one, or the one that won. */
  policy: string;
  outcome: WorkloadOutcome;
  method?: ApplyMethod;
  skipReason?: SkipReason;
  message?: string;
  /** Epoch ms. */
  lastRecommendationTime?: number;
  lastAppliedTime?: number;
  containers: ContainerResult[];
}

export interface StatusInput {
  results: readonly WorkloadResult[];
  now: number;
  observedGeneration?: number;
  dryRun?: boolean;
  ready: { status: 'True' | 'False' | 'Unknown'; reason: PolicyReadyReason; message: string };
  /** The previous status, whose Ready transition time is kept while the status does not change. */
  previous?: OptimizationPolicyStatus;
}

export interface StatusLimits {
  maxWorkloads: number;
  maxContainers: number;
  /** JSON bytes of status.workloads at most. */
  maxBytes: number;
}

/** 256 KiB of workload entries: far below etcd's 1.5 MiB request limit, whatever the names. */
export const DEFAULT_STATUS_LIMITS: StatusLimits = { maxWorkloads: STATUS_MAX_WORKLOADS, maxContainers: STATUS_MAX_CONTAINERS, maxBytes: 256 * 1024 };

/** UTF-8 length of a string (what the apiserver and etcd count). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const q = (s: string | undefined): string | undefined => (s !== undefined && QUANTITY_PATTERN.test(s) ? s : undefined);

function values(cpu: string | undefined, memory: string | undefined): ResourceValues | undefined {
  const v: ResourceValues = {};
  if (cpu !== undefined) v.cpu = cpu;
  if (memory !== undefined) v.memory = memory;
  return cpu === undefined && memory === undefined ? undefined : v;
}

function explanation(r: ResourceRecommendation, format: (n: number) => string): Explanation {
  return { reason: r.reason, percentile: r.percentile, percentileValue: format(r.percentileValue), safetyFactor: r.safetyFactor, cappedBy: r.cappedBy };
}

export function containerStatus(c: ContainerResult): ContainerStatus {
  const s: ContainerStatus = { name: c.name };
  const req = values(q(c.requests?.cpu), q(c.requests?.memory));
  const lim = values(q(c.limits?.cpu), q(c.limits?.memory));
  if (req) s.requests = req;
  if (lim) s.limits = lim;
  const r = c.recommendation;
  if (r === undefined) return s;
  s.sampleCount = r.sampleCount;
  if (!r.ok) return s;
  s.target = { cpu: formatCpu(r.cpu.target), memory: formatMemory(r.memory.target) };
  s.lowerBound = { cpu: formatCpu(r.cpu.lowerBound), memory: formatMemory(r.memory.lowerBound) };
  s.upperBound = { cpu: formatCpu(r.cpu.upperBound), memory: formatMemory(r.memory.upperBound) };
  s.uncappedTarget = { cpu: formatCpu(r.cpu.uncappedTarget), memory: formatMemory(r.memory.uncappedTarget) };
  s.cpu = explanation(r.cpu, formatCpu);
  s.memory = explanation(r.memory, formatMemory);
  s.confidence = Math.round(r.confidence * 1000) / 1000;
  return s;
}

export function workloadStatus(w: WorkloadResult, maxContainers: number): WorkloadStatus {
  const s: WorkloadStatus = { kind: w.kind, namespace: w.namespace, name: w.name, policy: w.policy, outcome: w.outcome };
  if (w.method !== undefined) s.method = w.method;
  if (w.skipReason !== undefined) s.skipReason = w.skipReason;
  if (w.message !== undefined) s.message = w.message.length > STATUS_MAX_MESSAGE ? `${w.message.slice(0, STATUS_MAX_MESSAGE - 1)}…` : w.message;
  if (w.lastRecommendationTime !== undefined) s.lastRecommendationTime = iso(w.lastRecommendationTime);
  if (w.lastAppliedTime !== undefined) s.lastAppliedTime = iso(w.lastAppliedTime);
  const containers = [...w.containers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const seen = new Set<string>();
  const unique = containers.filter((c) => !seen.has(c.name) && (seen.add(c.name), true));
  s.containers = unique.slice(0, maxContainers).map(containerStatus);
  if (unique.length > maxContainers) s.containersOmitted = unique.length - maxContainers;
  return s;
}

/** Listing order: what needs attention first (failed, skipped), then by kind/namespace/name; losers last. */
function rank(w: WorkloadResult): number {
  if (w.outcome === 'Failed') return 0;
  if (w.outcome === 'Skipped') return w.skipReason === 'OverriddenByPolicy' ? 3 : 1;
  return 2;
}
const key = (w: WorkloadResult): string => `${w.kind}/${w.namespace}/${w.name}`;

/** Counts over every result: the printer columns tell the story even when the list is capped. */
export function countsOf(results: readonly WorkloadResult[]): Required<NonNullable<OptimizationPolicyStatus['counts']>> {
  const governed = results.filter((r) => r.skipReason !== 'OverriddenByPolicy');
  return {
    discovered: governed.length,
    monitored: governed.filter((r) => r.skipReason !== 'Forbidden' && r.skipReason !== 'PolicyDisabled' && r.skipReason !== 'WorkloadNotFound').length,
    recommended: governed.filter((r) => r.containers.some((c) => c.recommendation?.ok === true)).length,
    applied: governed.filter((r) => r.outcome === 'Applied').length,
    skipped: governed.filter((r) => r.outcome === 'Skipped').length,
  };
}

export function readyCondition(input: StatusInput): PolicyCondition {
  const prev = input.previous?.conditions?.find((c) => c.type === 'Ready');
  const c: PolicyCondition = {
    type: 'Ready',
    status: input.ready.status,
    lastTransitionTime: prev !== undefined && prev.status === input.ready.status ? prev.lastTransitionTime : iso(input.now),
    reason: input.ready.reason,
    message: input.ready.message.slice(0, 32768),
  };
  if (input.observedGeneration !== undefined) c.observedGeneration = input.observedGeneration;
  return c;
}

export function buildStatus(input: StatusInput, limits: StatusLimits = DEFAULT_STATUS_LIMITS): OptimizationPolicyStatus {
  const seen = new Set<string>();
  const results = [...input.results]
    .sort((a, b) => rank(a) - rank(b) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .filter((r) => !seen.has(key(r)) && (seen.add(key(r)), true));
  const workloads: WorkloadStatus[] = [];
  let bytes = 2;
  for (const r of results) {
    if (workloads.length >= limits.maxWorkloads) break;
    const w = workloadStatus(r, limits.maxContainers);
    const size = utf8Length(JSON.stringify(w)) + 1;
    if (bytes + size > limits.maxBytes) break;
    bytes += size;
    workloads.push(w);
  }
  const status: OptimizationPolicyStatus = {
    lastReconciliationTime: iso(input.now),
    conditions: [readyCondition(input)],
    counts: countsOf(results),
    workloadsOmitted: results.length - workloads.length,
    workloads,
  };
  if (input.observedGeneration !== undefined) status.observedGeneration = input.observedGeneration;
  if (input.dryRun !== undefined) status.dryRun = input.dryRun;
  return status;
}
