/**
 * Document 000's coordination metrics, registered once per registry (asking again returns the
 * registered metric), each emitted by a real code path:
 *   vpa_nap_coordinator_healthy                           the worker polls and the watchers run (workers/)
 *   vpa_nap_conflicts_total{namespace,vpa_name,conflict_type}   recordConflicts
 *   vpa_nap_circuit_breaker_triggered_total{namespace,reason}   recordBreaker (a trip)
 *   vpa_nap_circuit_breaker_active / _status{namespace,vpa_name} recordBreaker (1 open, 0.5 half open, 0 closed)
 *   vpa_nap_coordination_duration_seconds{operation}      event → decision, gate checks, API calls, pause/resume
 *   vpa_recommendations_total{namespace,vpa_name,container}     the watcher saw a VPA recommendation change
 *   vpa_recommendation_drift_percent{namespace,vpa_name,resource}  target vs. the pods' requests (inspection)
 *   vpa_active{tenant_tier}                               coordinated VPAs by tier (inspection)
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

function get<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function coordinationDurationHistogram(registry: Registry): Histogram<'operation'> {
  return get(
    registry,
    'vpa_nap_coordination_duration_seconds',
    () =>
      new Histogram({
        name: 'vpa_nap_coordination_duration_seconds',
        help: 'Time taken for coordination decisions and operations, by operation.',
        labelNames: ['operation'] as const,
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  );
}

export function coordinationMetrics(registry: Registry) {
  const registers = [registry];
  return {
    healthy: get(
      registry,
      'vpa_nap_coordinator_healthy',
      () => new Gauge({ name: 'vpa_nap_coordinator_healthy', help: 'Coordinator health status (1 healthy).', registers }),
    ),
    conflicts: get(
      registry,
      'vpa_nap_conflicts_total',
      () =>
        new Counter({
          name: 'vpa_nap_conflicts_total',
          help: 'Total number of VPA-NAP conflicts detected.',
          labelNames: ['namespace', 'vpa_name', 'conflict_type'] as const,
          registers,
        }),
    ),
    trips: get(
      registry,
      'vpa_nap_circuit_breaker_triggered_total',
      () =>
        new Counter({
          name: 'vpa_nap_circuit_breaker_triggered_total',
          help: 'Circuit breaker trigger count.',
          labelNames: ['namespace', 'reason'] as const,
          registers,
        }),
    ),
    active: get(
      registry,
      'vpa_nap_circuit_breaker_active',
      () =>
        new Gauge({
          name: 'vpa_nap_circuit_breaker_active',
          help: 'Circuit breaker open (1) or not (0), per coordination object.',
          labelNames: ['namespace', 'vpa_name'] as const,
          registers,
        }),
    ),
    status: get(
      registry,
      'vpa_nap_circuit_breaker_status',
      () =>
        new Gauge({
          name: 'vpa_nap_circuit_breaker_status',
          help: 'Circuit breaker state per coordination object: 0 closed, 0.5 half open (Cooldown), 1 open.',
          labelNames: ['namespace', 'vpa_name', 'phase'] as const,
          registers,
        }),
    ),
    duration: coordinationDurationHistogram(registry),
    recommendations: get(
      registry,
      'vpa_recommendations_total',
      () =>
        new Counter({
          name: 'vpa_recommendations_total',
          help: 'VPA recommendation updates.',
          labelNames: ['namespace', 'vpa_name', 'container'] as const,
          registers,
        }),
    ),
    drift: get(
      registry,
      'vpa_recommendation_drift_percent',
      () =>
        new Gauge({
          name: 'vpa_recommendation_drift_percent',
          help: "Drift between a VPA's recommendation target and its pods' requests, percent.",
          labelNames: ['namespace', 'vpa_name', 'resource'] as const,
          registers,
        }),
    ),
    vpaActive: get(
      registry,
      'vpa_active',
      () =>
        new Gauge({ name: 'vpa_active', help: 'Coordinated VPAs by tenant tier.', labelNames: ['tenant_tier', 'namespace', 'vpa_name'] as const, registers }),
    ),
  };
}
