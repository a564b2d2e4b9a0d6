/**
 * Building blocks shared by the NodeGroup and VPSieNode zod schemas. Each mirrors a piece of the
 * OpenAPI schema in k8s/crds/; list and map semantics the apiserver enforces
 * (x-kubernetes-list-type, maxProperties, int-or-string) are declared with `.meta()` so that
 * `z.toJSONSchema` shows them, and enforced with refinements so that zod refuses what the
 * apiserver refuses.
 */
import { z } from 'zod';
import { CONDITION_STATUSES, JOIN_METHODS } from './constants';

/** VPSie identifier (UUID, numeric id) or nickname such as "us-east-1" or "small-2cpu-4gb". */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?$/;
/** Kubernetes qualified name: label keys and taint keys ([dns-subdomain/]name). */
export const QUALIFIED_NAME_PATTERN = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes label value (also taint values). */
export const LABEL_VALUE_PATTERN = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** DNS subdomain (object names, hostnames). */
export const DNS_SUBDOMAIN_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** NodeGroup names: DNS labels of at most 50 characters (room for a hostname suffix). */
export const NODEGROUP_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$/;
export const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;
export const CLOCK_PATTERN = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
export const PERCENT_PATTERN = /^(100|[1-9]?[0-9])%$/;
export const TIME_ZONE_PATTERN = /^[A-Za-z0-9_+/-]+$/;
export const KUBERNETES_VERSION_PATTERN = /^v?[0-9]+\.[0-9]+(\.[0-9]+)?$/;

export const identifier = () => z.string().min(1).max(128).regex(IDENTIFIER_PATTERN);
/** RFC 3339 time as Kubernetes writes it (metav1.Time). */
export const dateTime = () => z.iso.datetime({ offset: true });
export const int32 = (min: number, max?: number) => {
  const s = z.number().int().min(min);
  return max === undefined ? s : s.max(max);
};

/** An array with x-kubernetes-list-type: set (items unique). */
export function setList<T extends z.ZodType>(item: T, maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .meta({ 'x-kubernetes-list-type': 'set' })
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((v, i) => {
        const k = JSON.stringify(v);
        if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [i], message: `Duplicate value: ${k}` });
        seen.add(k);
      });
    });
}

/** An array with x-kubernetes-list-type: map keyed by `keys` (no two items share the keys). */
export function mapList<T extends z.ZodObject>(item: T, keys: readonly (keyof z.output<T> & string)[], maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [...keys] })
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((v, i) => {
        const rec = v as Record<string, unknown>;
        const k = JSON.stringify(keys.map((key) => rec[key]));
        if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [i], message: `Duplicate value: ${k}` });
        seen.add(k);
      });
    });
}

/** A string→V map with maxProperties. */
export function boundedRecord<V extends z.ZodType>(value: V, maxProperties: number) {
  return z
    .record(z.string(), value)
    .meta({ maxProperties })
    .superRefine((rec, ctx) => {
      const n = Object.keys(rec).length;
      if (n > maxProperties) ctx.addIssue({ code: 'custom', message: `must have at most ${maxProperties} entries, has ${n}` });
    });
}

/** x-kubernetes-int-or-string: a count or a percentage ("20%"). */
export const countOrPercent = () => z.union([z.number().int().min(0), z.string().regex(PERCENT_PATTERN)]).meta({ 'x-kubernetes-int-or-string': true });

export const SecretKeyRefSchema = z.strictObject({
  name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN_PATTERN),
  key: z.string().min(1).max(253).regex(SECRET_KEY_PATTERN).default('user-data'),
});

/** How machines join the cluster; the same shape in NodeGroup.spec.join and VPSieNode.spec.join. */
export const JoinSchema = z
  .strictObject({
    method: z.enum(JOIN_METHODS),
    clusterIdentifier: identifier().optional(),
    groupIdentifier: identifier().optional(),
    userDataSecretRef: SecretKeyRefSchema.optional(),
  })
  .superRefine((j, ctx) => {
    if (j.clusterIdentifier !== undefined && j.method !== 'ManagedKubernetes')
      ctx.addIssue({ code: 'custom', path: ['clusterIdentifier'], message: 'allowed only with method ManagedKubernetes' });
    if (j.groupIdentifier !== undefined && j.method !== 'ManagedKubernetes')
      ctx.addIssue({ code: 'custom', path: ['groupIdentifier'], message: 'allowed only with method ManagedKubernetes' });
    if (j.userDataSecretRef !== undefined && j.method !== 'UserData')
      ctx.addIssue({ code: 'custom', path: ['userDataSecretRef'], message: 'allowed only with method UserData' });
  });
export type Join = z.output<typeof JoinSchema>;

/** metav1.Condition with a closed set of types and reasons. */
export function conditionSchema<const T extends readonly [string, ...string[]], const R extends readonly [string, ...string[]]>(types: T, reasons: R) {
  return z.strictObject({
    type: z.enum(types),
    status: z.enum(CONDITION_STATUSES),
    observedGeneration: z.number().int().min(0).optional(),
    lastTransitionTime: dateTime(),
    reason: z.enum(reasons),
    message: z.string().max(32768),
  });
}

/** The part of ObjectMeta the orchestrator reads; everything else passes through. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63).optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.output<typeof ObjectMetaSchema>;
