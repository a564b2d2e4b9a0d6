/** The numbers of an OptimizationPolicy spec the recommender needs (quantities and durations parsed). */
import { cpuMillis, memoryBytes, parseDuration } from '../../lib/crds/optipod/quantity';
import type { OptimizationPolicySpec } from '../../lib/crds/optipod/policy';
import { DEFAULT_MIN_SAMPLES, type Range, type RecommenderPolicy } from './recommendation';

function range(b: { min?: string | undefined; max?: string | undefined } | undefined, parse: (q: string) => number | undefined): Range {
  const r: Range = {};
  const min = b?.min === undefined ? undefined : parse(b.min);
  const max = b?.max === undefined ? undefined : parse(b.max);
  if (min !== undefined) r.min = min;
  if (max !== undefined) r.max = max;
  return r;
}

export interface RecommenderPolicyOptions {
  /** Nominal time between samples (1 min for metrics-server; the Prometheus step). */
  sampleIntervalMs?: number;
  minSamples?: number;
}

export function recommenderPolicy(
  spec: Pick<OptimizationPolicySpec, 'metricsConfig' | 'resourceBounds'>,
  opts: RecommenderPolicyOptions = {},
): RecommenderPolicy {
  return {
    percentile: spec.metricsConfig.percentile,
    safetyFactor: spec.metricsConfig.safetyFactor,
    cpu: range(spec.resourceBounds?.cpu, cpuMillis),
    memory: range(spec.resourceBounds?.memory, memoryBytes),
    rollingWindowMs: parseDuration(spec.metricsConfig.rollingWindow) ?? 24 * 3_600_000,
    minSamples: opts.minSamples ?? DEFAULT_MIN_SAMPLES,
    sampleIntervalMs: opts.sampleIntervalMs ?? 60_000,
  };
}
