/**
 * NodeGroup (autoscaler.vpsie.com/v1alpha1) as zod schemas. Mirrors
 * k8s/crds/autoscaler.vpsie.com_nodegroups.yaml (the source of truth); the refinements below are
 * the CEL rules of that file, with the same field paths.
 */
import { z } from 'zod';
import {
  API_VERSION,
  JOIN_METHODS,
  NODEGROUP_CONDITION_TYPES,
  NODEGROUP_KIND,
  NODEGROUP_LABEL,
  NODEGROUP_REASONS,
  TAINT_EFFECTS,
  UTILIZATION_SOURCES,
  VPSIENODE_PHASES,
  WEEKDAYS,
} from './constants';
import {
  CLOCK_PATTERN,
  KUBERNETES_VERSION_PATTERN,
  LABEL_VALUE_PATTERN,
  NODEGROUP_NAME_PATTERN,
  ObjectMetaSchema,
  QUALIFIED_NAME_PATTERN,
  TIME_ZONE_PATTERN,
  JoinSchema,
  boundedRecord,
  conditionSchema,
  countOrPercent,
  dateTime,
  identifier,
  int32,
  mapList,
  setList,
} from './common';

export const TaintSchema = z.strictObject({
  key: z.string().min(1).max(317).regex(QUALIFIED_NAME_PATTERN),
  value: z.string().max(63).regex(LABEL_VALUE_PATTERN).optional(),
  effect: z.enum(TAINT_EFFECTS),
});
export type Taint = z.output<typeof TaintSchema>;

export const NodeLabelsSchema = boundedRecord(z.string().max(63).regex(LABEL_VALUE_PATTERN), 64).superRefine((labels, ctx) => {
  const bad = Object.keys(labels).filter((k) => !QUALIFIED_NAME_PATTERN.test(k));
  if (bad.length > 0)
    ctx.addIssue({ code: 'custom', message: `keys must be qualified names ([prefix/]name): ${bad.map((k) => JSON.stringify(k)).join(', ')}` });
  if (NODEGROUP_LABEL in labels) ctx.addIssue({ code: 'custom', message: `must not set ${NODEGROUP_LABEL}; the orchestrator sets it to the group name` });
});

export const ScaleUpPolicySchema = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * How long the pods a new node was made for stay nominated to it after it turns Ready (at least
   * 10 s, kube-scheduler's longest back-off) before they may be planned again — unless the node's
   * bound pods show their room is gone. Scale-ups are never deferred by it (#13).
   */
  stabilizationWindowSeconds: int32(0, 86400).default(60),
  cooldownSeconds: int32(0, 86400).default(0),
  cpuThreshold: int32(1, 100).default(80),
  memoryThreshold: int32(1, 100).default(80),
});
export type ScaleUpPolicy = z.output<typeof ScaleUpPolicySchema>;

export const ScaleDownPolicySchema = z.strictObject({
  enabled: z.boolean().default(true),
  stabilizationWindowSeconds: int32(0, 86400).default(600),
  cooldownSeconds: int32(0, 86400).default(600),
  cpuThreshold: int32(0, 99).default(50),
  memoryThreshold: int32(0, 99).default(50),
  utilizationThreshold: int32(1, 99).optional(),
  utilizationSource: z.enum(UTILIZATION_SOURCES).default('both'),
});
export type ScaleDownPolicy = z.output<typeof ScaleDownPolicySchema>;

export const DisruptionWindowSchema = z
  .strictObject({
    days: setList(z.enum(WEEKDAYS), 7).optional(),
    start: z.string().max(5).regex(CLOCK_PATTERN),
    end: z.string().max(5).regex(CLOCK_PATTERN),
    timeZone: z.string().min(1).max(64).regex(TIME_ZONE_PATTERN).default('UTC'),
  })
  .superRefine((w, ctx) => {
    if (w.start === w.end) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must differ from start' });
  });
export type DisruptionWindow = z.output<typeof DisruptionWindowSchema>;

export const DisruptionBudgetSchema = z.strictObject({
  maxUnavailable: countOrPercent().default(1),
  windows: z.array(DisruptionWindowSchema).max(16).optional(),
});
export type DisruptionBudget = z.output<typeof DisruptionBudgetSchema>;

export const ConsolidationSchema = z.strictObject({
  enabled: z.boolean().default(false),
  savingsThresholdPercent: int32(1, 100).default(20),
});
export type Consolidation = z.output<typeof ConsolidationSchema>;

export const NodeGroupSpecSchema = z
  .strictObject({
    minNodes: int32(0, 500),
    maxNodes: int32(1, 500),
    datacenterID: identifier().optional(),
    offeringIDs: setList(identifier(), 32).min(1).optional(),
    osImageID: identifier().optional(),
    kubernetesVersion: z.string().max(32).regex(KUBERNETES_VERSION_PATTERN).optional(),
    preferredInstanceType: identifier().optional(),
    preferredInstanceTolerancePercent: int32(0, 1000).default(10),
    allowMixedInstances: z.boolean().default(true),
    priority: int32(0, 1000).default(0),
    dryRun: z.boolean().default(false),
    labels: NodeLabelsSchema.optional(),
    taints: mapList(TaintSchema, ['key', 'effect'], 32).optional(),
    join: JoinSchema.optional(),
    scaleUpPolicy: ScaleUpPolicySchema.prefault({}),
    scaleDownPolicy: ScaleDownPolicySchema.prefault({}),
    disruptionBudget: DisruptionBudgetSchema.prefault({}),
    consolidation: ConsolidationSchema.prefault({}),
  })
  .superRefine((s, ctx) => {
    if (s.minNodes > s.maxNodes)
      ctx.addIssue({
        code: 'custom',
        path: ['minNodes'],
        message: `spec.minNodes (${s.minNodes}) must be less than or equal to spec.maxNodes (${s.maxNodes})`,
      });
    if (s.preferredInstanceType !== undefined && s.offeringIDs !== undefined && !s.offeringIDs.includes(s.preferredInstanceType))
      ctx.addIssue({
        code: 'custom',
        path: ['preferredInstanceType'],
        message: `spec.preferredInstanceType (${s.preferredInstanceType}) must be one of spec.offeringIDs`,
      });
    if (s.scaleDownPolicy.cpuThreshold >= s.scaleUpPolicy.cpuThreshold)
      ctx.addIssue({
        code: 'custom',
        path: ['scaleDownPolicy', 'cpuThreshold'],
        message: `spec.scaleDownPolicy.cpuThreshold (${s.scaleDownPolicy.cpuThreshold}) must be lower than spec.scaleUpPolicy.cpuThreshold (${s.scaleUpPolicy.cpuThreshold})`,
      });
    if (s.scaleDownPolicy.memoryThreshold >= s.scaleUpPolicy.memoryThreshold)
      ctx.addIssue({
        code: 'custom',
        path: ['scaleDownPolicy', 'memoryThreshold'],
        message: `spec.scaleDownPolicy.memoryThreshold (${s.scaleDownPolicy.memoryThreshold}) must be lower than spec.scaleUpPolicy.memoryThreshold (${s.scaleUpPolicy.memoryThreshold})`,
      });
  });
export type NodeGroupSpec = z.output<typeof NodeGroupSpecSchema>;
export type NodeGroupSpecInput = z.input<typeof NodeGroupSpecSchema>;

export const NodeGroupConditionSchema = conditionSchema(NODEGROUP_CONDITION_TYPES, NODEGROUP_REASONS);
export type NodeGroupCondition = z.output<typeof NodeGroupConditionSchema>;

export const NodeGroupNodeSchema = z.strictObject({
  vpsieNodeName: z.string().min(1).max(253),
  nodeName: z.string().max(253).optional(),
  vpsID: z.number().int().min(0).optional(),
  vpsieIdentifier: z.string().max(128).optional(),
  instanceType: z.string().max(128).optional(),
  status: z.enum(VPSIENODE_PHASES),
  createdAt: dateTime().optional(),
});
export type NodeGroupNode = z.output<typeof NodeGroupNodeSchema>;

export const NodeGroupDecisionSchema = z.strictObject({
  time: dateTime(),
  reason: z.string().max(64),
  message: z.string().max(2048),
  workflowId: z.string().max(512).optional(),
  nodes: z.array(z.string().max(253)).max(64).optional(),
});
export type NodeGroupDecision = z.output<typeof NodeGroupDecisionSchema>;

export const NodeGroupStatusSchema = z.strictObject({
  observedGeneration: z.number().int().min(0).optional(),
  currentNodes: int32(0).optional(),
  desiredNodes: int32(0).optional(),
  readyNodes: int32(0).optional(),
  joinMethod: z.enum(JOIN_METHODS).optional(),
  vpsieGroupID: z.string().min(1).max(128).optional(),
  lastScaleUpTime: dateTime().optional(),
  lastScaleDownTime: dateTime().optional(),
  lastScaleUpDecision: NodeGroupDecisionSchema.optional(),
  lastScaleDownDecision: NodeGroupDecisionSchema.optional(),
  nodeList: mapList(NodeGroupNodeSchema, ['vpsieNodeName'], 1000).optional(),
  conditions: mapList(NodeGroupConditionSchema, ['type'], 16).optional(),
});
export type NodeGroupStatus = z.output<typeof NodeGroupStatusSchema>;

export const NodeGroupSchema = z.looseObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(NODEGROUP_KIND),
  metadata: ObjectMetaSchema.extend({
    name: z.string().regex(NODEGROUP_NAME_PATTERN, {
      message: "metadata.name must be a DNS label of at most 50 characters (lower-case letters, digits and '-')",
    }),
  }),
  spec: NodeGroupSpecSchema,
  status: NodeGroupStatusSchema.optional(),
});
export type NodeGroup = z.output<typeof NodeGroupSchema>;
/** A NodeGroup as written by a user: defaulted fields may be left out. */
export type NodeGroupInput = z.input<typeof NodeGroupSchema>;
