/**
 * OptimizationPolicy (optipod.io/v1alpha1) as zod schemas. Mirrors
 * k8s/crds/optipod.io_optimizationpolicies.yaml (the source of truth); the refinements below are
 * the CEL rules of that file, with the same field paths and messages that name the field.
 */
import { z } from 'zod';
import {
  DNS_SUBDOMAIN_PATTERN,
  LABEL_VALUE_PATTERN,
  ObjectMetaSchema,
  QUALIFIED_NAME_PATTERN,
  boundedRecord,
  conditionSchema,
  dateTime,
  int32,
  mapList,
  setList,
} from '../autoscaler/common';
import {
  APPLY_METHODS,
  CAPPED_BY,
  METRICS_PROVIDERS,
  OPTIMIZATIONPOLICY_KIND,
  OPTIPOD_API_VERSION,
  PERCENTILES,
  POLICY_CONDITION_TYPES,
  POLICY_DEFAULTS,
  POLICY_MODES,
  POLICY_READY_REASONS,
  RECOMMENDATION_REASONS,
  SELECTOR_OPERATORS,
  SKIP_REASONS,
  STATUS_MAX_CONTAINERS,
  STATUS_MAX_MESSAGE,
  STATUS_MAX_WORKLOADS,
  WORKLOAD_KINDS,
  WORKLOAD_OUTCOMES,
} from './constants';
import { DURATION_PATTERN, QUANTITY_PATTERN, parseDuration, parseQuantity } from './quantity';

/** DNS label: namespace names. */
export const DNS_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const quantity = () => z.string().max(32).regex(QUANTITY_PATTERN);
/** A duration between `min` and `max` (Go syntax); `field` names it in the message, like the CEL rule. */
const duration = (field: string, min: string, max: string, what: string) =>
  z
    .string()
    .max(32)
    .regex(DURATION_PATTERN)
    .superRefine((d, ctx) => {
      const ms = parseDuration(d);
      if (ms !== undefined && (ms < parseDuration(min)! || ms > parseDuration(max)!))
        ctx.addIssue({ code: 'custom', message: `${field} must be ${what} (got ${d})` });
    });

const labelSelector = (field: string) =>
  z.strictObject({
    matchLabels: boundedRecord(z.string().max(63).regex(LABEL_VALUE_PATTERN), 64).optional(),
    matchExpressions: z
      .array(
        z
          .strictObject({
            key: z.string().min(1).max(317).regex(QUALIFIED_NAME_PATTERN),
            operator: z.enum(SELECTOR_OPERATORS),
            values: z.array(z.string().max(63).regex(LABEL_VALUE_PATTERN)).max(64).optional(),
          })
          .superRefine((e, ctx) => {
            const n = e.values?.length ?? 0;
            const ok = e.operator === 'In' || e.operator === 'NotIn' ? n > 0 : n === 0;
            if (!ok)
              ctx.addIssue({
                code: 'custom',
                path: ['values'],
                message: `spec.selector.${field}.matchExpressions[].values must be non-empty for In and NotIn and empty for Exists and DoesNotExist`,
              });
          }),
      )
      .max(16)
      .optional(),
  });
export const LabelSelectorSchema = labelSelector('workloadSelector');
export type LabelSelector = z.output<typeof LabelSelectorSchema>;

const namespaceList = () => setList(z.string().min(1).max(63).regex(DNS_LABEL_PATTERN), 256);
const kindList = () => setList(z.enum(WORKLOAD_KINDS), 3);

export const PolicySelectorSchema = z
  .strictObject({
    namespaceSelector: labelSelector('namespaceSelector').optional(),
    workloadSelector: labelSelector('workloadSelector').optional(),
    namespaces: z.strictObject({ allow: namespaceList().optional(), deny: namespaceList().optional() }).optional(),
    workloadTypes: z.strictObject({ include: kindList().optional(), exclude: kindList().optional() }).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.namespaceSelector === undefined && s.workloadSelector === undefined && (s.namespaces?.allow?.length ?? 0) === 0)
      ctx.addIssue({ code: 'custom', message: 'spec.selector must set at least one of namespaceSelector, workloadSelector or namespaces.allow' });
  });
export type PolicySelector = z.output<typeof PolicySelectorSchema>;

export const MetricsConfigSchema = z.strictObject({
  provider: z.enum(METRICS_PROVIDERS).optional(),
  rollingWindow: duration('spec.metricsConfig.rollingWindow', '1h', '720h', 'a duration from 1h to 720h').default(POLICY_DEFAULTS.rollingWindow),
  percentile: z.enum(PERCENTILES).default(POLICY_DEFAULTS.percentile),
  safetyFactor: z.number().min(1).max(10).default(POLICY_DEFAULTS.safetyFactor),
});
export type MetricsConfig = z.output<typeof MetricsConfigSchema>;

const bounds = (res: 'cpu' | 'memory') =>
  z.strictObject({ min: quantity().optional(), max: quantity().optional() }).superRefine((b, ctx) => {
    if (b.min === undefined || b.max === undefined) return;
    const lo = parseQuantity(b.min);
    const hi = parseQuantity(b.max);
    if (lo !== undefined && hi !== undefined && lo > hi)
      ctx.addIssue({
        code: 'custom',
        path: ['min'],
        message: `spec.resourceBounds.${res}.min (${b.min}) must be less than or equal to spec.resourceBounds.${res}.max (${b.max})`,
      });
  });

export const ResourceBoundsSchema = z.strictObject({ cpu: bounds('cpu').optional(), memory: bounds('memory').optional() });
export type ResourceBounds = z.output<typeof ResourceBoundsSchema>;

export const UpdateStrategySchema = z
  .strictObject({
    allowInPlaceResize: z.boolean().default(POLICY_DEFAULTS.allowInPlaceResize),
    allowRecreate: z.boolean().default(POLICY_DEFAULTS.allowRecreate),
    updateRequestsOnly: z.boolean().default(POLICY_DEFAULTS.updateRequestsOnly),
    cpuLimitMultiplier: z.number().min(1).max(100).optional(),
    memoryLimitMultiplier: z.number().min(1).max(100).optional(),
    changeThresholdPercent: int32(0, 100).default(POLICY_DEFAULTS.changeThresholdPercent),
    maxChangePercent: int32(1, 1000).default(POLICY_DEFAULTS.maxChangePercent),
    cooldown: duration('spec.updateStrategy.cooldown', '0s', '168h', 'a duration from 0s to 168h').default(POLICY_DEFAULTS.cooldown),
    memoryMarginPercent: int32(0, 100).default(POLICY_DEFAULTS.memoryMarginPercent),
    minReplicasForRecreate: int32(1, 10000).default(POLICY_DEFAULTS.minReplicasForRecreate),
    allowSingleReplicaRecreate: z.boolean().default(POLICY_DEFAULTS.allowSingleReplicaRecreate),
    resizeDeferredTimeout: duration('spec.updateStrategy.resizeDeferredTimeout', '1s', '1h', 'a duration from 1s to 1h').default(
      POLICY_DEFAULTS.resizeDeferredTimeout,
    ),
  })
  .superRefine((u, ctx) => {
    for (const k of ['cpuLimitMultiplier', 'memoryLimitMultiplier'] as const)
      if (u[k] !== undefined && u.updateRequestsOnly)
        ctx.addIssue({ code: 'custom', path: [k], message: `spec.updateStrategy.${k} is allowed only when updateRequestsOnly is false` });
  });
export type UpdateStrategy = z.output<typeof UpdateStrategySchema>;

export const OptimizationPolicySpecSchema = z.strictObject({
  mode: z.enum(POLICY_MODES).default(POLICY_DEFAULTS.mode),
  selector: PolicySelectorSchema,
  weight: int32(1, 1000).default(POLICY_DEFAULTS.weight),
  metricsConfig: MetricsConfigSchema.prefault({}),
  resourceBounds: ResourceBoundsSchema.optional(),
  updateStrategy: UpdateStrategySchema.prefault({}),
  reconciliationInterval: duration('spec.reconciliationInterval', '1m', '24h', 'a duration of at least 1m and at most 24h').default(
    POLICY_DEFAULTS.reconciliationInterval,
  ),
});
export type OptimizationPolicySpec = z.output<typeof OptimizationPolicySpecSchema>;
export type OptimizationPolicySpecInput = z.input<typeof OptimizationPolicySpecSchema>;

// ---- status --------------------------------------------------------------------------------

export const PolicyConditionSchema = conditionSchema(POLICY_CONDITION_TYPES, POLICY_READY_REASONS);
export type PolicyCondition = z.output<typeof PolicyConditionSchema>;

export const ResourceValuesSchema = z.strictObject({ cpu: quantity().optional(), memory: quantity().optional() });
export type ResourceValues = z.output<typeof ResourceValuesSchema>;

export const ExplanationSchema = z.strictObject({
  reason: z.enum(RECOMMENDATION_REASONS),
  percentile: z.enum(PERCENTILES),
  percentileValue: quantity().optional(),
  safetyFactor: z.number().min(1).max(10),
  cappedBy: z.enum(CAPPED_BY),
});
export type Explanation = z.output<typeof ExplanationSchema>;

export const ContainerStatusSchema = z.strictObject({
  name: z.string().min(1).max(63),
  requests: ResourceValuesSchema.optional(),
  limits: ResourceValuesSchema.optional(),
  target: ResourceValuesSchema.optional(),
  lowerBound: ResourceValuesSchema.optional(),
  upperBound: ResourceValuesSchema.optional(),
  uncappedTarget: ResourceValuesSchema.optional(),
  cpu: ExplanationSchema.optional(),
  memory: ExplanationSchema.optional(),
  sampleCount: z.number().int().min(0).optional(),
  confidence: z.number().min(0).max(1).optional(),
});
export type ContainerStatus = z.output<typeof ContainerStatusSchema>;

export const WorkloadStatusSchema = z.strictObject({
  kind: z.enum(WORKLOAD_KINDS),
  namespace: z.string().min(1).max(63),
  name: z.string().min(1).max(253),
  policy: z.string().min(3).max(317),
  outcome: z.enum(WORKLOAD_OUTCOMES),
  method: z.enum(APPLY_METHODS).optional(),
  skipReason: z.enum(SKIP_REASONS).optional(),
  message: z.string().max(STATUS_MAX_MESSAGE).optional(),
  lastRecommendationTime: dateTime().optional(),
  lastAppliedTime: dateTime().optional(),
  containersOmitted: int32(0).optional(),
  containers: mapList(ContainerStatusSchema, ['name'], STATUS_MAX_CONTAINERS).optional(),
});
export type WorkloadStatus = z.output<typeof WorkloadStatusSchema>;

export const PolicyCountsSchema = z.strictObject({
  discovered: int32(0).optional(),
  monitored: int32(0).optional(),
  recommended: int32(0).optional(),
  applied: int32(0).optional(),
  skipped: int32(0).optional(),
});
export type PolicyCounts = z.output<typeof PolicyCountsSchema>;

export const OptimizationPolicyStatusSchema = z.strictObject({
  observedGeneration: z.number().int().min(0).optional(),
  dryRun: z.boolean().optional(),
  lastReconciliationTime: dateTime().optional(),
  conditions: mapList(PolicyConditionSchema, ['type'], 8).optional(),
  counts: PolicyCountsSchema.optional(),
  workloadsOmitted: int32(0).optional(),
  workloads: mapList(WorkloadStatusSchema, ['kind', 'namespace', 'name'], STATUS_MAX_WORKLOADS).optional(),
});
export type OptimizationPolicyStatus = z.output<typeof OptimizationPolicyStatusSchema>;

export const OptimizationPolicySchema = z.looseObject({
  apiVersion: z.literal(OPTIPOD_API_VERSION),
  kind: z.literal(OPTIMIZATIONPOLICY_KIND),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN_PATTERN) }),
  spec: OptimizationPolicySpecSchema,
  status: OptimizationPolicyStatusSchema.optional(),
});
export type OptimizationPolicy = z.output<typeof OptimizationPolicySchema>;
export type OptimizationPolicyInput = z.input<typeof OptimizationPolicySchema>;
