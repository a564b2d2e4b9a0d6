/**
 * Node utilisation over an observation window, as a pure, JSON-serialisable, bounded data structure
 * that can live in workflow state (carried across continue-as-new).
 *
 * Each node keeps at most `maxBuckets` buckets `[firstAt, lastAt, maxCpu, maxMemory]` (ascending
 * time). A sample opens a new bucket; when there are too many, the two adjacent buckets whose merge
 * loses least resolution relative to their age are merged (max of maxima), so recent history stays
 * fine-grained and old history coarse. Maxima only ever grow by merging, so evaluating a window
 * is conservative: a node counts as under the threshold only if every sample that may lie in the
 * window was under it.
 *
 * Observation restarts (`since` = the new sample's time) when a node was not sampled for longer
 * than `maxGapSeconds`: nothing is known about the gap.
 *
 * Two quantities are tracked per node: the requested share (pods' requests over allocatable) and,
 * when metrics-server gave it, the used share (NodeMetrics usage over allocatable). Usage has its own
 * continuous observation (`usageSince`): a sample without usage ends it, so a window counts as
 * "usage known" only if every sample in it had usage (scaleDownPolicy.utilizationSource, issue #17).
 */
import type { Resources } from '../../scheduling/types';
import { countsForUtilization } from './pods';
import type { ScaleDownPod } from './types';

/**
 * [firstAt, lastAt, maxCpu, maxMemory, maxUsageCpu?, maxUsageMemory?]: requested shares, then used
 * shares (absent when no sample of the bucket had usage).
 */
export type UtilizationBucket = [number, number, number, number, number?, number?];

export interface NodeHistory {
  /** Start of the current continuous observation (epoch ms). */
  since: number;
  /** Start of the current continuous observation of usage (absent: the last sample had none). */
  usageSince?: number;
  buckets: UtilizationBucket[];
}

export interface UtilizationTracker {
  version: 1;
  maxBuckets: number;
  maxGapSeconds: number;
  /** History older than this is dropped (the largest stabilisation window of any group). */
  retentionSeconds: number;
  nodes: Record<string, NodeHistory>;
}

export interface UtilizationSample {
  node: string;
  /** Requested shares of allocatable (0..1+). */
  cpu: number;
  memory: number;
  /** Used shares of allocatable (metrics-server), when known. */
  usage?: { cpu: number; memory: number };
}

export const DEFAULT_MAX_BUCKETS = 24;
export const DEFAULT_MAX_GAP_SECONDS = 300;
export const DEFAULT_RETENTION_SECONDS = 3600;

export function createTracker(opts: Partial<Pick<UtilizationTracker, 'maxBuckets' | 'maxGapSeconds' | 'retentionSeconds'>> = {}): UtilizationTracker {
  return {
    version: 1,
    maxBuckets: Math.max(2, opts.maxBuckets ?? DEFAULT_MAX_BUCKETS),
    maxGapSeconds: opts.maxGapSeconds ?? DEFAULT_MAX_GAP_SECONDS,
    retentionSeconds: opts.retentionSeconds ?? DEFAULT_RETENTION_SECONDS,
    nodes: {},
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Stored shares are rounded UP to 1e-4 (compact JSON, never below the true value). */
function ceil4(x: number): number {
  const y = Math.ceil(x * 1e4) / 1e4;
  return y >= x ? y : y + 1e-4;
}

function share(used: number, allocatable: number): number {
  if (allocatable <= 0) return used > 0 ? 1 : 0;
  return round6(used / allocatable);
}

/** Requested share of a node: pods that count (not terminating / completed), DaemonSet pods included. */
export function requestShare(allocatable: Resources, pods: readonly ScaleDownPod[]): { cpu: number; memory: number } {
  let cpu = 0;
  let mem = 0;
  for (const p of pods) {
    if (!countsForUtilization(p)) continue;
    cpu += p.requests.cpuMilli;
    mem += p.requests.memoryBytes;
  }
  return { cpu: share(cpu, allocatable.cpuMilli), memory: share(mem, allocatable.memoryBytes) };
}

/** Used share of allocatable from a usage in base units (metrics-server NodeMetrics). */
export function usageShare(allocatable: Resources, usage: { cpuMilli: number; memoryBytes: number }): { cpu: number; memory: number } {
  return { cpu: share(usage.cpuMilli, allocatable.cpuMilli), memory: share(usage.memoryBytes, allocatable.memoryBytes) };
}

/** Sample of one node: its requested share and, when usage (metrics-server, in base units) is known, its used share. */
export function nodeSample(
  name: string,
  allocatable: Resources,
  pods: readonly ScaleDownPod[],
  usage?: { cpuMilli: number; memoryBytes: number },
): UtilizationSample {
  const r = requestShare(allocatable, pods);
  if (!usage) return { node: name, ...r };
  return { node: name, ...r, usage: usageShare(allocatable, usage) };
}

function maxOpt(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

function merged(a: UtilizationBucket, b: UtilizationBucket): UtilizationBucket {
  const out: UtilizationBucket = [a[0], b[1], Math.max(a[2], b[2]), Math.max(a[3], b[3])];
  const uc = maxOpt(a[4], b[4]);
  const um = maxOpt(a[5], b[5]);
  if (uc !== undefined && um !== undefined) out.push(uc, um);
  return out;
}

function mergeCost(a: UtilizationBucket, b: UtilizationBucket, now: number): number {
  const span = b[1] - a[0];
  const age = Math.max(1, now - b[1]);
  return span / age;
}

function compact(buckets: UtilizationBucket[], maxBuckets: number, now: number): void {
  while (buckets.length > maxBuckets) {
    let best = 0;
    let bestCost = Infinity;
    for (let i = 0; i + 1 < buckets.length; i++) {
      const c = mergeCost(buckets[i] as UtilizationBucket, buckets[i + 1] as UtilizationBucket, now);
      if (c < bestCost) {
        bestCost = c;
        best = i;
      }
    }
    const a = buckets[best] as UtilizationBucket;
    const b = buckets[best + 1] as UtilizationBucket;
    buckets.splice(best, 2, merged(a, b));
  }
}

/**
 * Records samples taken at `now` and returns a new tracker (the input is not modified). Nodes not in
 * `liveNodes` (when given) are forgotten; history older than the retention is dropped.
 */
export function observe(tracker: UtilizationTracker, samples: readonly UtilizationSample[], now: number, liveNodes?: readonly string[]): UtilizationTracker {
  const nodes: Record<string, NodeHistory> = {};
  const live = liveNodes ? new Set(liveNodes) : undefined;
  const cutoff = now - tracker.retentionSeconds * 1000;
  for (const name of Object.keys(tracker.nodes).sort()) {
    if (live && !live.has(name)) continue;
    const h = tracker.nodes[name] as NodeHistory;
    const buckets = h.buckets.filter((b) => b[1] >= cutoff).map((b) => [...b] as UtilizationBucket);
    if (buckets.length === 0) continue;
    nodes[name] = h.usageSince === undefined ? { since: h.since, buckets } : { since: h.since, usageSince: h.usageSince, buckets };
  }
  const sorted = [...samples].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  for (const s of sorted) {
    if (live && !live.has(s.node)) continue;
    let h = nodes[s.node];
    const last = h?.buckets[h.buckets.length - 1];
    if (!h || !last || now - last[1] > tracker.maxGapSeconds * 1000 || now < last[1]) {
      h = { since: now, buckets: [] };
      nodes[s.node] = h;
    }
    const prev = h.buckets[h.buckets.length - 1];
    const fresh: UtilizationBucket = [now, now, ceil4(s.cpu), ceil4(s.memory)];
    if (s.usage) {
      fresh.push(ceil4(s.usage.cpu), ceil4(s.usage.memory));
      h.usageSince ??= now;
    } else delete h.usageSince;
    if (prev && prev[1] === now) h.buckets[h.buckets.length - 1] = merged(prev, fresh);
    else h.buckets.push(fresh);
    compact(h.buckets, tracker.maxBuckets, now);
  }
  return { ...tracker, nodes };
}

export interface WindowView {
  /** Seconds of continuous observation up to `now` (0 when never observed or the gap is too long). */
  observedSeconds: number;
  /** Peak requested shares over the window. */
  maxCpu: number;
  maxMemory: number;
  /**
   * Usage, when some sample in the window had it: the peak used shares over the window (of the
   * samples that had usage) and the seconds of continuous usage observation up to now (0 when the
   * last sample had none).
   */
  usage?: { observedSeconds: number; maxCpu: number; maxMemory: number };
}

/** The maxima over the last `windowSeconds` (conservatively: every bucket that may overlap it). */
export function windowView(tracker: UtilizationTracker | undefined, node: string, windowSeconds: number, now: number): WindowView {
  const h = tracker?.nodes[node];
  if (!tracker || !h || h.buckets.length === 0) return { observedSeconds: 0, maxCpu: 0, maxMemory: 0 };
  const last = h.buckets[h.buckets.length - 1] as UtilizationBucket;
  if (now - last[1] > tracker.maxGapSeconds * 1000) return { observedSeconds: 0, maxCpu: 0, maxMemory: 0 };
  const from = now - windowSeconds * 1000;
  let maxCpu = 0;
  let maxMemory = 0;
  let maxUsageCpu = 0;
  let maxUsageMemory = 0;
  let usageSeen = false;
  for (const b of h.buckets) {
    if (b[1] < from) continue;
    maxCpu = Math.max(maxCpu, b[2]);
    maxMemory = Math.max(maxMemory, b[3]);
    if (b[4] !== undefined && b[5] !== undefined) {
      usageSeen = true;
      maxUsageCpu = Math.max(maxUsageCpu, b[4]);
      maxUsageMemory = Math.max(maxUsageMemory, b[5]);
    }
  }
  // What is known starts at the later of the observation start and the oldest bucket kept.
  const oldest = (h.buckets[0] as UtilizationBucket)[0];
  const known = Math.max(h.since, oldest);
  const view: WindowView = { observedSeconds: Math.max(0, Math.floor((now - known) / 1000)), maxCpu, maxMemory };
  if (usageSeen) {
    const observed = h.usageSince === undefined ? 0 : Math.max(0, Math.floor((now - Math.max(h.usageSince, known)) / 1000));
    view.usage = { observedSeconds: observed, maxCpu: maxUsageCpu, maxMemory: maxUsageMemory };
  }
  return view;
}

/**
 * What the decision reads of a tracker, precomputed: per node, the view of each window (keyed by
 * the window in seconds). A workflow that keeps the tracker sends these (a few numbers per node)
 * to the activity that decides, instead of the whole tracker.
 */
export type WindowViews = Record<string, Record<string, WindowView>>;

/** The views of every tracked node for each of `windows` (seconds) at `now`. */
export function windowViews(tracker: UtilizationTracker, windows: readonly number[], now: number): WindowViews {
  const out: WindowViews = {};
  const distinct = [...new Set(windows)].sort((a, b) => a - b);
  for (const node of Object.keys(tracker.nodes).sort()) {
    const views: Record<string, WindowView> = {};
    for (const w of distinct) views[String(w)] = windowView(tracker, node, w, now);
    out[node] = views;
  }
  return out;
}

const UNOBSERVED: WindowView = { observedSeconds: 0, maxCpu: 0, maxMemory: 0 };

/** The view of `node` over `windowSeconds`: from the tracker when given, else from precomputed views. */
export function viewOf(tracker: UtilizationTracker | undefined, views: WindowViews | undefined, node: string, windowSeconds: number, now: number): WindowView {
  if (tracker || !views) return windowView(tracker, node, windowSeconds, now);
  return views[node]?.[String(windowSeconds)] ?? UNOBSERVED;
}

/** Effective thresholds in percent: utilizationThreshold replaces both when set. */
export function thresholds(policy: { cpuThreshold: number; memoryThreshold: number; utilizationThreshold?: number | undefined }): {
  cpu: number;
  memory: number;
} {
  if (policy.utilizationThreshold !== undefined) return { cpu: policy.utilizationThreshold, memory: policy.utilizationThreshold };
  return { cpu: policy.cpuThreshold, memory: policy.memoryThreshold };
}
