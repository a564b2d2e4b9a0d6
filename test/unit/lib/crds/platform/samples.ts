/**
 * Sample VPANAPCoordinations, valid and invalid, shared by the unit tests (zod and the CRD's
 * OpenAPI schema must agree on each) and the apiserver test
 * (test/integration/k8s/crds/vpanapcoordination.test.ts: the real apiserver must agree too). Every
 * invalid sample names the field a refusal must name.
 */
import type { InvalidSample, JsonObject, Sample } from '../../../../support/crd-samples';

/**
 * Where a refusal comes from:
 *   schema     the OpenAPI schema (types, required, enums, bounds, patterns)
 *   status     the OpenAPI schema of status (written through the status subresource)
 *   admission  the ValidatingAdmissionPolicy of k8s/admission/vpanapcoordination-namespace.yaml
 */
export interface CoordinationInvalidSample extends Omit<InvalidSample, 'by'> {
  by: 'schema' | 'status' | 'admission';
}

export const EXAMPLE_NAMESPACE = 'tenant-std-app1';

/** Document 000's example object, exactly as the document writes it. */
export function exampleCoordination(): JsonObject {
  return {
    apiVersion: 'platform.io/v1',
    kind: 'VPANAPCoordination',
    metadata: { name: 'example-vpa', namespace: EXAMPLE_NAMESPACE },
    spec: {
      vpaName: 'example-vpa',
      namespace: EXAMPLE_NAMESPACE,
      coordinationStrategy: 'coordinated',
      enabled: true,
      conflictPrevention: { maxResourceChangePercent: 50, cooldownPeriodMinutes: 30, maxConflictsPerHour: 3 },
      circuitBreaker: { enabled: true, nodeChurnThreshold: 5, evictionThreshold: 20, oscillationThreshold: 30, cooldownMinutes: 30 },
    },
    status: {
      phase: 'Active',
      lastUpdate: '2024-01-01T12:00:00Z',
      conflictsDetected: 0,
      lastConflictTime: '2024-01-01T11:30:00Z',
      napEvents: [{ timestamp: '2024-01-01T12:00:00Z', event: 'NodeScaleUp', nodeCount: 5 }],
      vpaEvents: [{ timestamp: '2024-01-01T12:01:00Z', event: 'RecommendationUpdate', recommendation: { cpu: '500m', memory: '1Gi' } }],
      circuitBreakerTriggered: false,
      cooldownUntil: null,
    },
  };
}

/** A copy of the example in `namespace` (metadata and spec), changed by `mutate`. */
export function coordination(name: string, mutate: (o: JsonObject) => void = () => undefined, namespace = EXAMPLE_NAMESPACE): JsonObject {
  const o = exampleCoordination();
  Object.assign(o.metadata as JsonObject, { name, namespace });
  (o.spec as JsonObject).namespace = namespace;
  mutate(o);
  return o;
}
const spec = (o: JsonObject): JsonObject => o.spec as JsonObject;
const status = (o: JsonObject): JsonObject => o.status as JsonObject;
const breaker = (o: JsonObject): JsonObject => spec(o).circuitBreaker as JsonObject;
const prevention = (o: JsonObject): JsonObject => spec(o).conflictPrevention as JsonObject;

const T = '2026-01-15T10:05:00Z';

export const VALID_COORDINATIONS: Sample[] = [
  { name: 'the product document example', object: exampleCoordination() },
  {
    name: 'only vpaName and namespace (strategy and enabled defaulted, no thresholds)',
    object: coordination('minimal', (o) => {
      o.spec = { vpaName: 'web', namespace: EXAMPLE_NAMESPACE };
      delete o.status;
    }),
  },
  {
    name: 'a circuit breaker with only enabled: false, the isolated strategy, a dotted VPA name',
    object: coordination('isolated', (o) => {
      o.spec = { vpaName: 'web.v2', namespace: EXAMPLE_NAMESPACE, coordinationStrategy: 'isolated', enabled: false, circuitBreaker: { enabled: false } };
    }),
  },
  {
    name: 'every bound at its limits',
    object: coordination('bounds', (o) => {
      spec(o).conflictPrevention = { maxResourceChangePercent: 0, cooldownPeriodMinutes: 1440, maxConflictsPerHour: 1000 };
      spec(o).circuitBreaker = { nodeChurnThreshold: 1000, evictionThreshold: 10000, oscillationThreshold: 1000, cooldownMinutes: 1 };
    }),
  },
  {
    name: 'a tripped breaker with twenty events of each kind, conditions, and a null lastConflictTime',
    object: coordination('tripped', (o) => {
      o.status = {
        phase: 'CircuitBreaker',
        lastUpdate: T,
        observedGeneration: 3,
        conflictsDetected: 7,
        lastConflictTime: null,
        lastConflictType: 'EvictionScaleUp',
        napEvents: Array.from({ length: 20 }, (_, i) => ({ timestamp: T, event: i % 2 ? 'NodeScaleDown' : 'NodeScaleUp', nodeCount: 1, node: `node-${i}` })),
        vpaEvents: Array.from({ length: 20 }, (_, i) => ({ timestamp: T, event: 'Eviction', target: `Pod/${EXAMPLE_NAMESPACE}/web-${i}` })),
        circuitBreakerTriggered: true,
        cooldownUntil: '2026-01-15T10:35:00Z',
        circuitBreakerReason: 'NodeChurn',
        circuitBreakerMessage: '7 node changes in 5 min > nodeChurnThreshold 5',
        tenantTier: 'standard',
        conditions: [{ type: 'Ready', status: 'True', reason: 'Coordinating', message: '', lastTransitionTime: T, observedGeneration: 3 }],
      };
    }),
  },
];

export const INVALID_COORDINATIONS: CoordinationInvalidSample[] = [
  {
    name: 'an unknown strategy',
    field: 'spec.coordinationStrategy',
    by: 'schema',
    object: coordination('bad-strategy', (o) => (spec(o).coordinationStrategy = 'chaos')),
  },
  { name: 'no vpaName', field: 'spec.vpaName', by: 'schema', object: coordination('no-vpa', (o) => delete spec(o).vpaName) },
  { name: 'a vpaName that is no DNS subdomain', field: 'spec.vpaName', by: 'schema', object: coordination('bad-vpa', (o) => (spec(o).vpaName = 'Web_App')) },
  { name: 'no namespace', field: 'spec.namespace', by: 'schema', object: coordination('no-ns', (o) => delete spec(o).namespace) },
  { name: 'enabled that is no boolean', field: 'spec.enabled', by: 'schema', object: coordination('bad-enabled', (o) => (spec(o).enabled = 'yes')) },
  { name: 'an unknown spec field', field: 'spec.maxConflicts', by: 'schema', object: coordination('unknown', (o) => (spec(o).maxConflicts = 3)) },
  {
    name: 'maxResourceChangePercent above 1000',
    field: 'spec.conflictPrevention.maxResourceChangePercent',
    by: 'schema',
    object: coordination('pct-high', (o) => (prevention(o).maxResourceChangePercent = 1001)),
  },
  {
    name: 'a negative maxResourceChangePercent',
    field: 'spec.conflictPrevention.maxResourceChangePercent',
    by: 'schema',
    object: coordination('pct-low', (o) => (prevention(o).maxResourceChangePercent = -1)),
  },
  {
    name: 'a cooldownPeriodMinutes of 0',
    field: 'spec.conflictPrevention.cooldownPeriodMinutes',
    by: 'schema',
    object: coordination('cp-zero', (o) => (prevention(o).cooldownPeriodMinutes = 0)),
  },
  {
    name: 'maxConflictsPerHour above 1000',
    field: 'spec.conflictPrevention.maxConflictsPerHour',
    by: 'schema',
    object: coordination('conflicts', (o) => (prevention(o).maxConflictsPerHour = 1001)),
  },
  {
    name: 'a nodeChurnThreshold of 0',
    field: 'spec.circuitBreaker.nodeChurnThreshold',
    by: 'schema',
    object: coordination('churn', (o) => (breaker(o).nodeChurnThreshold = 0)),
  },
  {
    name: 'an evictionThreshold above 10000',
    field: 'spec.circuitBreaker.evictionThreshold',
    by: 'schema',
    object: coordination('evictions', (o) => (breaker(o).evictionThreshold = 10001)),
  },
  {
    name: 'an oscillationThreshold above 1000 percent',
    field: 'spec.circuitBreaker.oscillationThreshold',
    by: 'schema',
    object: coordination('oscillation', (o) => (breaker(o).oscillationThreshold = 1001)),
  },
  {
    name: 'a fractional oscillationThreshold',
    field: 'spec.circuitBreaker.oscillationThreshold',
    by: 'schema',
    object: coordination('oscillation-frac', (o) => (breaker(o).oscillationThreshold = 12.5)),
  },
  {
    name: 'a breaker cooldown above a day',
    field: 'spec.circuitBreaker.cooldownMinutes',
    by: 'schema',
    object: coordination('cooldown', (o) => (breaker(o).cooldownMinutes = 1441)),
  },
  {
    name: 'spec.namespace naming another namespace',
    field: 'spec.namespace',
    by: 'admission',
    object: coordination('other-ns', (o) => (spec(o).namespace = 'tenant-std-other')),
  },
  { name: 'an unknown phase', field: 'status.phase', by: 'status', object: coordination('bad-phase', (o) => (status(o).phase = 'Broken')) },
  {
    name: 'twenty-one node events',
    field: 'status.napEvents',
    by: 'status',
    object: coordination('too-many', (o) => (status(o).napEvents = Array.from({ length: 21 }, () => ({ timestamp: T, event: 'NodeScaleUp', nodeCount: 1 })))),
  },
  {
    name: 'a node event of an unknown kind',
    field: 'status.napEvents[0].event',
    by: 'status',
    object: coordination('bad-event', (o) => (status(o).napEvents = [{ timestamp: T, event: 'NodeExploded', nodeCount: 1 }])),
  },
  {
    name: 'a recommendation that is no quantity',
    field: 'status.vpaEvents[0].recommendation.cpu',
    by: 'status',
    object: coordination('bad-rec', (o) => (status(o).vpaEvents = [{ timestamp: T, event: 'RecommendationUpdate', recommendation: { cpu: 'lots' } }])),
  },
  {
    name: 'a cooldownUntil that is no time',
    field: 'status.cooldownUntil',
    by: 'status',
    object: coordination('bad-time', (o) => (status(o).cooldownUntil = 'tomorrow')),
  },
  {
    name: 'an unknown trip reason',
    field: 'status.circuitBreakerReason',
    by: 'status',
    object: coordination('bad-reason', (o) => (status(o).circuitBreakerReason = 'Gremlins')),
  },
  { name: 'an unknown tenant tier', field: 'status.tenantTier', by: 'status', object: coordination('bad-tier', (o) => (status(o).tenantTier = 'gold')) },
];
