/**
 * Document 003's metrics emitted by the metrics providers, registered once per registry (the same
 * names may be asked for again by other rightsizing code: the registered metric is returned).
 */
import { Counter, Histogram, type Metric, type Registry } from 'prom-client';

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
