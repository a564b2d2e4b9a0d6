/** The VPANAPCoordination CRD of k8s/crds/ as data, and its zod schemas as OpenAPI-comparable JSON schemas. */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { crdVersion, type CrdManifest, type OpenAPISchema } from '../../../../../lib/crds/autoscaler/manifests';
import { PLATFORM_VERSION } from '../../../../../lib/crds/platform';
import type { JsonSchema } from '../autoscaler/openapi';

export const COORDINATION_CRD_FILE = path.resolve(__dirname, '..', '..', '..', '..', '..', 'k8s', 'crds', 'platform.io_vpanapcoordinations.yaml');

export function loadCoordinationCrd(): CrdManifest {
  return YAML.parse(fs.readFileSync(COORDINATION_CRD_FILE, 'utf8')) as CrdManifest;
}

export function coordinationSchema(): OpenAPISchema {
  return crdVersion(loadCoordinationCrd(), PLATFORM_VERSION).schema.openAPIV3Schema;
}

/** Follows a dotted path (`spec.circuitBreaker`, `status.napEvents[*].event`) in an OpenAPI schema. */
export function node(root: OpenAPISchema, dotted: string): OpenAPISchema {
  let cur = root;
  for (const part of dotted.split('.')) {
    const name = part.replace(/\[\*\]$/, '');
    const next = cur.properties?.[name];
    if (!next) throw new Error(`no ${dotted} in the CRD schema (stuck at ${part})`);
    cur = part.endsWith('[*]') ? next.items! : next;
  }
  return cur;
}

/**
 * A zod schema as JSON schema, with zod's spelling of a nullable field (anyOf [X, {type: null}])
 * turned into OpenAPI's (X with nullable: true).
 */
export function jsonSchema(s: z.ZodType): JsonSchema {
  const fix = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(fix);
    if (v === null || typeof v !== 'object') return v;
    const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x)])) as JsonSchema;
    const any = o.anyOf;
    if (Array.isArray(any) && any.length === 2) {
      const nonNull = any.filter((b) => (b as JsonSchema).type !== 'null');
      if (nonNull.length === 1) {
        const rest = { ...o };
        delete rest.anyOf;
        return { ...rest, ...(nonNull[0] as JsonSchema), nullable: true };
      }
    }
    return o;
  };
  return fix(z.toJSONSchema(s, { io: 'input' })) as JsonSchema;
}

/** A copy of `value` without the null values of fields whose schema is nullable (what the apiserver accepts as null). */
export function dropNullables(schema: OpenAPISchema, value: unknown): unknown {
  if (Array.isArray(value)) return schema.items ? value.map((v) => dropNullables(schema.items!, v)) : value;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties?.[k];
    if (v === null && sub?.nullable === true) continue;
    out[k] = sub ? dropNullables(sub, v) : v;
  }
  return out;
}
