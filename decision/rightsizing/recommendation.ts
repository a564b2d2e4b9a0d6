/**
 * The recommendation for one container, from its usage model and its policy, explained.
 *
 *   target     = percentile(policy percentile) × safetyFactor      (memory: at least the OOM bump)
 *   lowerBound = percentile(min(P50, policy))  × safetyFactor × (1 + 0.001/h)^-2
 *   upperBound = percentile(max(P95, policy))  × safetyFactor × (1 + 1/h)
 *
 * where h is the history in days (the smaller of its time span and its sample count over the
 * samples a day holds), so a young workload gets wide bounds that narrow as history grows (VPA's
 * confidence multipliers, pkg/recommender/logic/estimator.go). Then the policy's resourceBounds
 * clamp all three; each resource says which percentile, factor and confidence it came from and
 * which bound capped it. Pure: `now` is an argument.
 */
import { PERCENTILE_QUANTILE, type CappedBy, type Percentile, type RecommendationReason } from '../../lib/crds/optipod/constants';
import { DAY_MS } from './histogram';
import { oomBump, type ContainerUsageModel } from './model';

export interface Range {
  min?: number;
  max?: number;
}

/** What the recommender needs of a policy, in numbers (see policy.ts for the conversion from the CRD). */
export interface RecommenderPolicy {
  percentile: Percentile;
  safetyFactor: number;
  /** CPU bounds in millicores. */
  cpu: Range;
  /** Memory bounds in bytes. */
  memory: Range;
  /** An OOM kill keeps raising memory for this long (the policy's rolling window). */
  rollingWindowMs: number;
  /** Below this many samples a container has InsufficientData. */
  minSamples: number;
  /** Nominal time between two samples (the confidence's sample count is measured against it). */
  sampleIntervalMs: number;
}

export const DEFAULT_MIN_SAMPLES = 10;
/** The upper bound's widening never exceeds this factor (VPA lets it go to infinity). */
export const MAX_UPPER_WIDENING = 25;

export type ResourceName = 'cpu' | 'memory';

export interface ResourceRecommendation {
  resource: ResourceName;
  reason: RecommendationReason;
  percentile: Percentile;
  /** The policy percentile of usage (millicores / bytes), before the factor. */
  percentileValue: number;
  safetyFactor: number;
  /** 0..1, grows with history length and sample count. */
  confidence: number;
  target: number;
  lowerBound: number;
  upperBound: number;
  /** The target before resourceBounds. */
  uncappedTarget: number;
  cappedBy: CappedBy;
  /** Set when an OOM kill raised the target: the usage at the kill and the bumped value. */
  oom?: { at: number; usage: number; bumped: number };
}

export type ContainerRecommendation =
  | { ok: true; cpu: ResourceRecommendation; memory: ResourceRecommendation; sampleCount: number; historyDays: number; confidence: number }
  | { ok: false; reason: 'InsufficientData'; sampleCount: number; minSamples: number };

/** History length in days as the confidence sees it: the smaller of time span and sample-count days. */
export function historyDays(model: ContainerUsageModel, sampleIntervalMs: number): number {
  if (model.sampleCount === 0) return 0;
  const spanDays = (model.lastSample - model.firstSample) / DAY_MS;
  const countDays = (model.sampleCount * sampleIntervalMs) / DAY_MS;
  return Math.max(0, Math.min(spanDays, countDays));
}

/** h / (1 + h): 0 with no history, 0.5 after a day, about 0.9 after ten. */
export function confidenceOf(days: number): number {
  return days <= 0 ? 0 : days / (1 + days);
}

function clamp(v: number, r: Range): { value: number; cappedBy: CappedBy } {
  if (r.max !== undefined && v > r.max) return { value: r.max, cappedBy: 'Max' };
  if (r.min !== undefined && v < r.min) return { value: r.min, cappedBy: 'Min' };
  return { value: v, cappedBy: 'None' };
}

/** Clamp without naming a cap (bounds that are not the target). */
const within = (v: number, r: Range): number => clamp(v, r).value;

function resource(
  name: ResourceName,
  pcts: readonly number[],
  policy: RecommenderPolicy,
  days: number,
  floor: { value: number; oom: { at: number; usage: number } } | undefined,
): ResourceRecommendation {
  const [lowP, targetP, highP] = pcts as [number, number, number];
  const f = policy.safetyFactor;
  let uncapped = targetP * f;
  let reason: RecommendationReason = 'Percentile';
  if (floor !== undefined && floor.value > uncapped) {
    uncapped = floor.value;
    reason = 'OOMBump';
  }
  const lowWiden = days > 0 ? (1 + 0.001 / days) ** -2 : 0;
  const highWiden = days > 0 ? Math.min(1 + 1 / days, MAX_UPPER_WIDENING) : MAX_UPPER_WIDENING;
  const range = policy[name];
  const target = clamp(uncapped, range);
  const lower = Math.min(lowP * f * lowWiden, uncapped);
  const upper = Math.max(highP * f * highWiden, uncapped);
  const rec: ResourceRecommendation = {
    resource: name,
    reason,
    percentile: policy.percentile,
    percentileValue: targetP,
    safetyFactor: f,
    confidence: confidenceOf(days),
    target: target.value,
    lowerBound: Math.min(within(lower, range), target.value),
    upperBound: Math.max(within(upper, range), target.value),
    uncappedTarget: uncapped,
    cappedBy: target.cappedBy,
  };
  if (floor !== undefined && reason === 'OOMBump') rec.oom = { ...floor.oom, bumped: floor.value };
  return rec;
}

/** The recommendation for one container at `now`, or InsufficientData. */
export function recommend(model: ContainerUsageModel, policy: RecommenderPolicy, now: number): ContainerRecommendation {
  if (model.sampleCount < policy.minSamples || model.cpu.isEmpty() || model.memory.isEmpty())
    return { ok: false, reason: 'InsufficientData', sampleCount: model.sampleCount, minSamples: policy.minSamples };
  const q = PERCENTILE_QUANTILE[policy.percentile];
  const qs = [Math.min(0.5, q), q, Math.max(0.95, q)];
  const days = historyDays(model, policy.sampleIntervalMs);
  const oom = model.lastOom;
  const floor = oom !== undefined && now - oom.at <= policy.rollingWindowMs && oom.at <= now ? { value: oomBump(oom.usage), oom } : undefined;
  return {
    ok: true,
    cpu: resource('cpu', model.cpu.percentiles(qs), policy, days, undefined),
    memory: resource('memory', model.memory.percentiles(qs), policy, days, floor),
    sampleCount: model.sampleCount,
    historyDays: days,
    confidence: confidenceOf(days),
  };
}
