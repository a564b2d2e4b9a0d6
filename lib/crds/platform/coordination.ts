/**
 * VPANAPCoordination (platform.io/v1) as zod schemas. Mirrors
 * k8s/crds/platform.io_vpanapcoordinations.yaml (the source of truth): the same fields, bounds,
 * enums and defaults (checked by test/unit/lib/crds/platform/agreement.test.ts), and refinements
 * for the rules the apiserver checks beyond the OpenAPI schema, with the same messages that name
 * the field:
 *   - spec.namespace must equal metadata.namespace (CRD rules cannot read metadata.namespace, so a
 *     ValidatingAdmissionPolicy checks it: k8s/admission/vpanapcoordination-namespace.yaml);
 *   - spec.vpaName is immutable (a CEL transition rule; see `vpaNameChangeIssue`).
 */
import { z } from 'zod';
import { DNS_SUBDOMAIN_PATTERN, ObjectMetaSchema, dateTime, int32, mapList } from '../autoscaler/common';
import { safeParseResource, parseResource, type ParseResult } from '../autoscaler/parse';
import { QUANTITY_PATTERN } from '../optipod/quantity';
import {
  CONFLICT_TYPES,
  COORDINATION_KIND,
  COORDINATION_PHASES,
  COORDINATION_STRATEGIES,
  NAP_EVENT_KINDS,
  PLATFORM_API_VERSION,
  STATUS_EVENTS_CAP,
  TENANT_TIERS,
  TRIP_REASONS,
  VPA_EVENT_KINDS,
} from './constants';
import type { VPANAPCoordinationSpec, VPANAPCoordinationStatus } from './types';

/** DNS label (namespace names). */
export const NAMESPACE_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** metav1.Condition's type and reason grammars. */
export const CONDITION_TYPE_PATTERN = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
export const CONDITION_REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** The schema's defaults (the thresholds have none: they come from the tier or the global configuration). */
export const COORDINATION_DEFAULTS = { coordinationStrategy: 'coordinated', enabled: true, circuitBreakerEnabled: true } as const;
/** The schema's bounds, inclusive (also the ranges the tier configuration is held to). */
export const COORDINATION_BOUNDS = {
  maxResourceChangePercent: [0, 1000],
  cooldownPeriodMinutes: [1, 1440],
  maxConflictsPerHour: [1, 1000],
  nodeChurnThreshold: [1, 1000],
  evictionThreshold: [1, 10000],
  oscillationThreshold: [1, 1000],
  cooldownMinutes: [1, 1440],
} as const satisfies Record<string, readonly [number, number]>;
const bounded = (k: keyof typeof COORDINATION_BOUNDS) => int32(COORDINATION_BOUNDS[k][0], COORDINATION_BOUNDS[k][1]);

export const NAMESPACE_MISMATCH_MESSAGE = 'spec.namespace must equal metadata.namespace (a VPANAPCoordination coordinates a VPA of its own namespace)';
export const VPA_NAME_IMMUTABLE_MESSAGE = 'spec.vpaName is immutable (create another VPANAPCoordination for another VPA)';

export const ConflictPreventionSchema = z.strictObject({
  maxResourceChangePercent: bounded('maxResourceChangePercent').optional(),
  cooldownPeriodMinutes: bounded('cooldownPeriodMinutes').optional(),
  maxConflictsPerHour: bounded('maxConflictsPerHour').optional(),
});

export const CircuitBreakerSpecSchema = z.strictObject({
  enabled: z.boolean().default(COORDINATION_DEFAULTS.circuitBreakerEnabled),
  nodeChurnThreshold: bounded('nodeChurnThreshold').optional(),
  evictionThreshold: bounded('evictionThreshold').optional(),
  oscillationThreshold: bounded('oscillationThreshold').optional(),
  cooldownMinutes: bounded('cooldownMinutes').optional(),
});

export const VPANAPCoordinationSpecSchema = z.strictObject({
  vpaName: z.string().min(1).max(253).regex(DNS_SUBDOMAIN_PATTERN),
  namespace: z.string().min(1).max(63).regex(NAMESPACE_NAME_PATTERN),
  coordinationStrategy: z.enum(COORDINATION_STRATEGIES).default(COORDINATION_DEFAULTS.coordinationStrategy),
  enabled: z.boolean().default(COORDINATION_DEFAULTS.enabled),
  conflictPrevention: ConflictPreventionSchema.optional(),
  circuitBreaker: CircuitBreakerSpecSchema.optional(),
});
export type VPANAPCoordinationSpecParsed = z.output<typeof VPANAPCoordinationSpecSchema>;
export type VPANAPCoordinationSpecInput = z.input<typeof VPANAPCoordinationSpecSchema>;

// ---- status --------------------------------------------------------------------------------

const quantity = () => z.string().max(32).regex(QUANTITY_PATTERN);

export const NapEventStatusSchema = z.strictObject({
  timestamp: dateTime(),
  event: z.enum(NAP_EVENT_KINDS),
  nodeCount: int32(0),
  node: z.string().max(253).optional(),
});

export const VpaEventStatusSchema = z.strictObject({
  timestamp: dateTime(),
  event: z.enum(VPA_EVENT_KINDS),
  target: z.string().max(512).optional(),
  recommendation: z.strictObject({ cpu: quantity().optional(), memory: quantity().optional() }).optional(),
});

export const CoordinationConditionSchema = z.strictObject({
  type: z.string().min(1).max(316).regex(CONDITION_TYPE_PATTERN),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: dateTime(),
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON_PATTERN),
  message: z.string().max(32768),
});

export const VPANAPCoordinationStatusSchema = z.strictObject({
  phase: z.enum(COORDINATION_PHASES).optional(),
  lastUpdate: dateTime().optional(),
  observedGeneration: z.number().int().min(0).optional(),
  conflictsDetected: int32(0).optional(),
  lastConflictTime: dateTime().nullable().optional(),
  lastConflictType: z.enum(CONFLICT_TYPES).optional(),
  napEvents: z.array(NapEventStatusSchema).max(STATUS_EVENTS_CAP).optional(),
  vpaEvents: z.array(VpaEventStatusSchema).max(STATUS_EVENTS_CAP).optional(),
  circuitBreakerTriggered: z.boolean().optional(),
  cooldownUntil: dateTime().nullable().optional(),
  circuitBreakerReason: z.enum(TRIP_REASONS).optional(),
  circuitBreakerMessage: z.string().max(1024).optional(),
  tenantTier: z.enum(TENANT_TIERS).optional(),
  conditions: mapList(CoordinationConditionSchema, ['type'], 8).optional(),
});
export type VPANAPCoordinationStatusParsed = z.output<typeof VPANAPCoordinationStatusSchema>;

export const VPANAPCoordinationSchema = z
  .looseObject({
    apiVersion: z.literal(PLATFORM_API_VERSION),
    kind: z.literal(COORDINATION_KIND),
    metadata: ObjectMetaSchema.extend({ name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN_PATTERN) }),
    spec: VPANAPCoordinationSpecSchema,
    status: VPANAPCoordinationStatusSchema.optional(),
  })
  .superRefine((o, ctx) => {
    // As the admission policy: only once the object has a namespace (the apiserver sets it from the URL).
    if (o.metadata.namespace !== undefined && o.spec.namespace !== o.metadata.namespace)
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'namespace'],
        message: `${NAMESPACE_MISMATCH_MESSAGE} (got ${o.spec.namespace}, object in ${o.metadata.namespace})`,
      });
  });
export type VPANAPCoordination = z.output<typeof VPANAPCoordinationSchema>;
export type VPANAPCoordinationInput = z.input<typeof VPANAPCoordinationSchema>;

/** The CEL transition rule of spec.vpaName: the issue an update changing it gets, if any. */
export function vpaNameChangeIssue(oldSpec: Pick<VPANAPCoordinationSpec, 'vpaName'>, newSpec: Pick<VPANAPCoordinationSpec, 'vpaName'>) {
  return oldSpec.vpaName === newSpec.vpaName ? undefined : { path: 'spec.vpaName', message: VPA_NAME_IMMUTABLE_MESSAGE };
}

export const safeParseVPANAPCoordination = (obj: unknown): ParseResult<VPANAPCoordination> =>
  safeParseResource(VPANAPCoordinationSchema, COORDINATION_KIND, obj);
/** Throws CrdValidationError naming the bad fields. */
export const parseVPANAPCoordination = (obj: unknown): VPANAPCoordination => parseResource(VPANAPCoordinationSchema, COORDINATION_KIND, obj);

// ---- compile-time agreement with ./types.ts ------------------------------------------------

type Assert<T extends true> = T;
type Assignable<A, B> = [A] extends [B] ? true : false;
/** What zod parses is what the rest of the code reads (types.ts). */
export type SpecAgrees = Assert<Assignable<VPANAPCoordinationSpecParsed, VPANAPCoordinationSpec>>;
export type StatusAgrees = Assert<Assignable<VPANAPCoordinationStatusParsed, VPANAPCoordinationStatus>>;
/** And everything types.ts allows in a spec, zod accepts (no field of types.ts is missing here). */
export type SpecAgreesBack = Assert<Assignable<VPANAPCoordinationSpec, VPANAPCoordinationSpecInput>>;
