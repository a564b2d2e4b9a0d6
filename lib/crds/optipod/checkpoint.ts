/**
 * OptimizationCheckpoint (optipod.io/v1alpha1): one workload's stored usage models, shape as in
 * k8s/crds/optipod.io_optimizationcheckpoints.yaml. The model itself stays `unknown` here: it is
 * checked by the recommender's own `isModelState`, and a bad one is rebuilt.
 */
import { z } from 'zod';
import { WORKLOAD_KINDS, type WorkloadKind } from './constants';

export const OPTIMIZATIONCHECKPOINT_KIND = 'OptimizationCheckpoint';
export const OPTIMIZATIONCHECKPOINT_PLURAL = 'optimizationcheckpoints';
/** Label naming the workload (`<kind>.<name>`, hashed when long) for selection by kubectl. */
export const CHECKPOINT_WORKLOAD_LABEL = 'optipod.io/workload';

export const OptimizationCheckpointSpecSchema = z.object({
  workload: z.object({ kind: z.enum(WORKLOAD_KINDS), name: z.string().min(1).max(253) }),
  policy: z.string().max(507).optional(),
  lastUpdateTime: z.string().optional(),
  containers: z.array(z.object({ name: z.string().min(1).max(253), model: z.unknown() })).max(64),
});
export type OptimizationCheckpointSpec = z.output<typeof OptimizationCheckpointSpecSchema>;

export const OptimizationCheckpointSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional(), resourceVersion: z.string().optional() }),
  spec: OptimizationCheckpointSpecSchema,
});
export type OptimizationCheckpoint = z.output<typeof OptimizationCheckpointSchema>;

/** FNV-1a, 32 bits, hex: a short stable suffix for names that must be shortened. */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The checkpoint's name for a workload: `<kind>-<name>`, lower case, at most 253 characters. */
export function checkpointName(kind: WorkloadKind, name: string): string {
  const full = `${kind.toLowerCase()}-${name}`;
  return full.length <= 253 ? full : `${full.slice(0, 244)}-${shortHash(full)}`;
}
