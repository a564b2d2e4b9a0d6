/**
 * Document 003's metrics emitted by the metrics providers, registered once per registry (the same
 * names may be asked for again by other rightsizing code: the registered metric is returned).
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

function get<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function providerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    collectionSeconds: get(
      registry,
      'optipod_metrics_collection_duration_seconds',
      () =>
        new Histogram({
          name: 'optipod_metrics_collection_duration_seconds',
          help: 'Duration of one usage-metrics collection (one namespace), by provider.',
          labelNames: ['provider'] as const,
          buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
          registers,
        }),
    ),
    errors: get(
      registry,
      'optipod_reconciliation_errors_total',
      () =>
        new Counter({
          name: 'optipod_reconciliation_errors_total',
          help: 'Errors of rightsizing cycles by policy and typed error (provider failures: Unreachable, Timeout, HttpError, QueryError, InvalidResponse, KubernetesError).',
          labelNames: ['policy', 'error_type'] as const,
          registers,
        }),
    ),
  };
}

export type ProviderMetrics = ReturnType<typeof providerMetrics>;

/** Document 003's cycle metrics: gauges per (namespace, policy), the cycle's duration, recommendations and applications. */
export function cycleMetrics(registry: Registry) {
  const registers = [registry];
  return {
    ...providerMetrics(registry),
    monitored: get(
      registry,
      'optipod_workloads_monitored',
      () =>
        new Gauge({
          name: 'optipod_workloads_monitored',
          help: 'Workloads a policy governs and reads usage of, by workload namespace and policy (last cycle).',
          labelNames: ['namespace', 'policy'] as const,
          registers,
        }),
    ),
    updated: get(
      registry,
      'optipod_workloads_updated',
      () =>
        new Gauge({
          name: 'optipod_workloads_updated',
          help: 'Workloads whose recommendation was applied in the last cycle, by workload namespace and policy.',
          labelNames: ['namespace', 'policy'] as const,
          registers,
        }),
    ),
    skipped: get(
      registry,
      'optipod_workloads_skipped',
      () =>
        new Gauge({
          name: 'optipod_workloads_skipped',
          help: 'Workloads skipped in the last cycle, by workload namespace, policy and typed reason.',
          labelNames: ['namespace', 'policy', 'reason'] as const,
          registers,
        }),
    ),
    duration: get(
      registry,
      'optipod_reconciliation_duration_seconds',
      () =>
        new Histogram({
          name: 'optipod_reconciliation_duration_seconds',
          help: 'Duration of one rightsizing cycle of one policy.',
          labelNames: ['policy'] as const,
          buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
          registers,
        }),
    ),
    recommendations: get(
      registry,
      'optipod_recommendations_total',
      () =>
        new Counter({
          name: 'optipod_recommendations_total',
          help: 'Container recommendations computed, by policy.',
          labelNames: ['policy'] as const,
          registers,
        }),
    ),
    applications: get(
      registry,
      'optipod_applications_total',
      () =>
        new Counter({
          name: 'optipod_applications_total',
          help: 'Recommendations applied to workloads, by policy and method (InPlace, Recreate).',
          labelNames: ['policy', 'method'] as const,
          registers,
        }),
    ),
  };
}

export type CycleMetrics = ReturnType<typeof cycleMetrics>;
