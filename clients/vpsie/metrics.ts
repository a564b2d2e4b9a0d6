import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { API_BREAKER_STATE_VALUE, type ApiBreakerState } from './api-breaker';

export interface VPSieClientMetrics {
  requests: Counter<'method' | 'status'>;
  latency: Histogram<'method'>;
  apiBreaker: Gauge;
  retries: Counter<'method' | 'reason'>;
  /** List items skipped because they did not match the schema. */
  malformedItems: Counter<'method'>;
  /** Shared VM listings (`vmSnapshot`): `read` (a new listing), `joined` (waited for one under way), `hit` (a fresh one reused). */
  sharedListings: Counter<'outcome'>;
  setApiBreaker(s: ApiBreakerState): void;
}

function existing<T extends Metric>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/**
 * The client's Prometheus metrics, registered once per registry (several clients sharing one
 * registry share the series). `method` is the client operation (e.g. `vm.create`), `status` the
 * HTTP status or a transport outcome (`network_error`, `timeout`, `circuit_open`).
 */
export function vpsieClientMetrics(registry: Registry): VPSieClientMetrics {
  const requests =
    existing<Counter<'method' | 'status'>>(registry, 'vpsie_autoscaler_vpsie_api_requests_total') ??
    new Counter({
      name: 'vpsie_autoscaler_vpsie_api_requests_total',
      help: 'VPSie API requests by client operation and HTTP status (or transport outcome).',
      labelNames: ['method', 'status'] as const,
      registers: [registry],
    });
  const latency =
    existing<Histogram<'method'>>(registry, 'vpsie_autoscaler_vpsie_api_latency_seconds') ??
    new Histogram({
      name: 'vpsie_autoscaler_vpsie_api_latency_seconds',
      help: 'VPSie API request latency by client operation (one HTTP exchange, retries counted separately).',
      labelNames: ['method'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  const apiBreaker =
    existing<Gauge>(registry, 'vpsie_autoscaler_vpsie_api_circuit_breaker_state') ??
    new Gauge({
      name: 'vpsie_autoscaler_vpsie_api_circuit_breaker_state',
      help: 'VPSie API circuit breaker state: 0 closed, 1 half-open, 2 open.',
      registers: [registry],
    });
  const retries =
    existing<Counter<'method' | 'reason'>>(registry, 'vpsie_autoscaler_vpsie_api_retries_total') ??
    new Counter({
      name: 'vpsie_autoscaler_vpsie_api_retries_total',
      help: 'VPSie API retries by client operation and error type.',
      labelNames: ['method', 'reason'] as const,
      registers: [registry],
    });
  const malformedItems =
    existing<Counter<'method'>>(registry, 'vpsie_autoscaler_vpsie_api_malformed_items_total') ??
    new Counter({
      name: 'vpsie_autoscaler_vpsie_api_malformed_items_total',
      help: 'VPSie list items skipped because they did not match the schema, by client operation.',
      labelNames: ['method'] as const,
      registers: [registry],
    });
  const sharedListings =
    existing<Counter<'outcome'>>(registry, 'vpsie_autoscaler_vpsie_shared_listings_total') ??
    new Counter({
      name: 'vpsie_autoscaler_vpsie_shared_listings_total',
      help: 'Uses of the shared VM listing by provisioning polls: read (a new listing), joined (one under way), hit (a fresh one reused).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
  return { requests, latency, apiBreaker, retries, malformedItems, sharedListings, setApiBreaker: (s) => apiBreaker.set(API_BREAKER_STATE_VALUE[s]) };
}
