/**
 * VPSieNode (autoscaler.vpsie.com/v1alpha1) as zod schemas. Mirrors
 * k8s/crds/autoscaler.vpsie.com_vpsienodes.yaml (the source of truth). The CRD's transition
 * rules (fields that are immutable or set once) need the old object; `checkVPSieNodeSpecUpdate`
 * applies them in code.
 */
import { z } from 'zod';
import { API_VERSION, VPSIENODE_CONDITION_TYPES, VPSIENODE_ERROR_REASONS, VPSIENODE_KIND, VPSIENODE_PHASES, VPSIENODE_REASONS } from './constants';
import { DNS_SUBDOMAIN_PATTERN, JoinSchema, ObjectMetaSchema, conditionSchema, dateTime, identifier, mapList } from './common';
import { compareStrings } from '../../compare';

export const VPSieNodeSpecSchema = z.strictObject({
  nodeGroupName: z.string().min(1).max(63),
  offeringID: identifier(),
  datacenterID: identifier(),
  osImageID: identifier().optional(),
  join: JoinSchema,
  hostname: z.string().min(1).max(253).regex(DNS_SUBDOMAIN_PATTERN).optional(),
  vpsieIdentifier: identifier().optional(),
  vpsID: z.number().int().min(0).optional(),
});
export type VPSieNodeSpec = z.output<typeof VPSieNodeSpecSchema>;
export type VPSieNodeSpecInput = z.input<typeof VPSieNodeSpecSchema>;

export const PhaseTimesSchema = z.strictObject({
  pending: dateTime().optional(),
  provisioning: dateTime().optional(),
  provisioned: dateTime().optional(),
  joining: dateTime().optional(),
  ready: dateTime().optional(),
  terminating: dateTime().optional(),
  deleting: dateTime().optional(),
  deleted: dateTime().optional(),
  failed: dateTime().optional(),
});
export type PhaseTimes = z.output<typeof PhaseTimesSchema>;

export const VPSieNodeErrorSchema = z.strictObject({
  reason: z.enum(VPSIENODE_ERROR_REASONS),
  message: z.string().max(4096),
  phase: z.enum(VPSIENODE_PHASES).optional(),
  time: dateTime(),
});
export type VPSieNodeError = z.output<typeof VPSieNodeErrorSchema>;

export const VPSieNodeConditionSchema = conditionSchema(VPSIENODE_CONDITION_TYPES, VPSIENODE_REASONS);
export type VPSieNodeCondition = z.output<typeof VPSieNodeConditionSchema>;

export const VPSieNodeStatusSchema = z
  .strictObject({
    observedGeneration: z.number().int().min(0).optional(),
    phase: z.enum(VPSIENODE_PHASES).optional(),
    phaseTimes: PhaseTimesSchema.optional(),
    nodeName: z.string().max(253).optional(),
    vpsieStatus: z.string().max(64).optional(),
    publicIPv4: z.ipv4().optional(),
    publicIPv6: z.ipv6().optional(),
    privateIPv4: z.ipv4().optional(),
    lastError: VPSieNodeErrorSchema.optional(),
    conditions: mapList(VPSieNodeConditionSchema, ['type'], 16).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.phase === 'Failed' && s.lastError === undefined)
      ctx.addIssue({ code: 'custom', path: ['lastError'], message: 'status.lastError is required when status.phase is Failed' });
  });
export type VPSieNodeStatus = z.output<typeof VPSieNodeStatusSchema>;

export const VPSieNodeSchema = z.looseObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(VPSIENODE_KIND),
  metadata: ObjectMetaSchema,
  spec: VPSieNodeSpecSchema,
  status: VPSieNodeStatusSchema.optional(),
});
export type VPSieNode = z.output<typeof VPSieNodeSchema>;
export type VPSieNodeInput = z.input<typeof VPSieNodeSchema>;

/** One refusal of an update, as the apiserver's transition rules would refuse it. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * The CRD's transition rules on VPSieNode.spec: nodeGroupName, offeringID, datacenterID and join
 * never change; hostname, vpsieIdentifier and vpsID are set once. Returns the refusals (empty when
 * the update is allowed).
 */
export function checkVPSieNodeSpecUpdate(oldSpec: VPSieNodeSpec, newSpec: VPSieNodeSpec): FieldError[] {
  const errors: FieldError[] = [];
  for (const f of ['nodeGroupName', 'offeringID', 'datacenterID'] as const) {
    if (oldSpec[f] !== newSpec[f]) errors.push({ path: `spec.${f}`, message: `spec.${f} is immutable` });
  }
  if (JSON.stringify(canonical(oldSpec.join)) !== JSON.stringify(canonical(newSpec.join)))
    errors.push({ path: 'spec.join', message: 'spec.join is immutable' });
  for (const f of ['hostname', 'vpsieIdentifier', 'vpsID'] as const) {
    if (oldSpec[f] !== undefined && oldSpec[f] !== newSpec[f]) errors.push({ path: `spec.${f}`, message: `spec.${f} cannot be changed or removed once set` });
  }
  return errors;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}
