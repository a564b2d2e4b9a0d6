/**
 * Metrics of the coordination capability (document 000, "Monitoring and Metrics"), registered
 * once per registry like lib/metrics.ts.
 */
import { Histogram, type Registry } from 'prom-client';

export const COORDINATION_DURATION_METRIC = 'vpa_nap_coordination_duration_seconds';

/**
 * `vpa_nap_coordination_duration_seconds{operation}`: how long a coordination operation took.
 * The REST API records `api_get`, `api_circuit_breaker` and `api_conflicts` (from the request's
 * arrival to its answer, for callers that were authenticated and authorised); other parts of the
 * capability add their own operations.
 */
export function coordinationDurationHistogram(registry: Registry): Histogram<'operation'> {
  const existing = registry.getSingleMetric(COORDINATION_DURATION_METRIC) as Histogram<'operation'> | undefined;
  return (
    existing ??
    new Histogram({
      name: COORDINATION_DURATION_METRIC,
      help: 'Time taken for coordination decisions and operations (REST API calls, gate checks, decisions), by operation.',
      labelNames: ['operation'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
  );
}
