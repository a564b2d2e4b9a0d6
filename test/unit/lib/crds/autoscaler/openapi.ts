/**
 * Test tooling over a CRD's openAPIV3Schema: a structural comparison with a zod JSON schema, an
 * apiserver-like defaulter and validator (everything but CEL), and a CEL rule index.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CelRule, OpenAPISchema } from '../../../../../lib/crds/autoscaler/manifests';

export type JsonSchema = { [keyword: string]: unknown };

const SAFE_INT = Number.MAX_SAFE_INTEGER;
/** Keywords with no meaning for agreement: documentation, and CEL (checked through samples). */
const IGNORED = new Set(['description', 'x-kubernetes-validations', '$schema']);
const FORMATS_WITH_IMPLIED_PATTERN = new Set(['date-time', 'ipv4', 'ipv6']);

function asSchema(v: unknown): JsonSchema | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonSchema) : undefined;
}

/** Normalizes a zod JSON schema node to what an OpenAPI node of the CRD would say. */
function normalizeZod(z: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...z };
  if ('const' in out) {
    out.enum = [out.const];
    delete out.const;
  }
  if (out.type === 'integer') {
    if (out.minimum === -SAFE_INT) delete out.minimum;
    if (out.maximum === SAFE_INT) delete out.maximum;
  }
  if (typeof out.format === 'string' && FORMATS_WITH_IMPLIED_PATTERN.has(out.format)) delete out.pattern;
  // RegExp#source escapes '/', which means the same in RE2 without the escape.
  if (typeof out.pattern === 'string') out.pattern = out.pattern.replaceAll('\\/', '/');
  if (out.additionalProperties === false) delete out.additionalProperties;
  const pn = asSchema(out.propertyNames);
  if (pn && Object.keys(pn).length === 1 && pn.type === 'string') delete out.propertyNames;
  if (out['x-kubernetes-int-or-string'] === true) {
    const types = (Array.isArray(out.anyOf) ? out.anyOf : []).map((b) => asSchema(b)?.type).sort();
    if (isDeepStrictEqual(types, ['integer', 'string'])) delete out.anyOf;
  }
  return out;
}

function normalizeCrd(c: OpenAPISchema): JsonSchema {
  const out: JsonSchema = { ...c };
  if (out.type === 'integer' && (out.format === 'int32' || out.format === 'int64')) delete out.format;
  return out;
}

/**
 * Every difference between a CRD schema node and a zod JSON schema node, recursively: property
 * names, required lists, types, enums, defaults, bounds, patterns, formats, list and map
 * semantics. Descriptions and CEL rules are not compared.
 */
export function compareSchemas(crdNode: OpenAPISchema, zodNode: JsonSchema, path = '<root>'): string[] {
  const crd = normalizeCrd(crdNode);
  const zod = normalizeZod(zodNode);
  const diffs: string[] = [];
  const keys = new Set([...Object.keys(crd), ...Object.keys(zod)]);
  for (const key of keys) {
    if (IGNORED.has(key)) continue;
    const a = crd[key];
    const b = zod[key];
    if (key === 'properties') {
      const pa = (asSchema(a) ?? {}) as Record<string, OpenAPISchema>;
      const pb = (asSchema(b) ?? {}) as Record<string, JsonSchema>;
      for (const name of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
        const child = `${path === '<root>' ? '' : `${path}.`}${name}`;
        if (!(name in pa)) diffs.push(`${child}: in zod, not in the CRD`);
        else if (!(name in pb)) diffs.push(`${child}: in the CRD, not in zod`);
        else diffs.push(...compareSchemas(pa[name]!, pb[name]!, child));
      }
    } else if (key === 'required') {
      const ra = [...((a as string[] | undefined) ?? [])].sort();
      const rb = [...((b as string[] | undefined) ?? [])].sort();
      if (!isDeepStrictEqual(ra, rb)) diffs.push(`${path}: required differs: CRD ${JSON.stringify(ra)}, zod ${JSON.stringify(rb)}`);
    } else if (key === 'items' || key === 'additionalProperties') {
      const sa = asSchema(a);
      const sb = asSchema(b);
      if (!sa || !sb) diffs.push(`${path}: ${key} only in ${sa ? 'the CRD' : 'zod'}`);
      else diffs.push(...compareSchemas(sa as OpenAPISchema, sb, `${path}${key === 'items' ? '[*]' : '.*'}`));
    } else if (key === 'enum') {
      const ea = [...((a as unknown[] | undefined) ?? [])].map(String).sort();
      const eb = [...((b as unknown[] | undefined) ?? [])].map(String).sort();
      if (!isDeepStrictEqual(ea, eb)) diffs.push(`${path}: enum differs: CRD ${JSON.stringify(ea)}, zod ${JSON.stringify(eb)}`);
    } else if (!isDeepStrictEqual(a, b)) {
      diffs.push(`${path}: ${key} differs: CRD ${JSON.stringify(a)}, zod ${JSON.stringify(b)}`);
    }
  }
  return diffs;
}

// ---- defaulting and validation, as the apiserver does before CEL -----------------------------

type Value = unknown;

function isObject(v: Value): v is Record<string, Value> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A deep copy of `value` with the schema's defaults filled in, recursively (defaults are defaulted too). */
export function applyDefaults(schema: OpenAPISchema, value: Value): Value {
  if (Array.isArray(value)) return schema.items ? value.map((v) => applyDefaults(schema.items!, v)) : structuredClone(value);
  if (!isObject(value)) return value;
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties?.[k] ?? (isObject(schema.additionalProperties) ? (schema.additionalProperties as OpenAPISchema) : undefined);
    out[k] = sub ? applyDefaults(sub, v) : structuredClone(v);
  }
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (!(k in out) && sub.default !== undefined) out[k] = applyDefaults(sub, structuredClone(sub.default));
  }
  return out;
}

export interface Refusal {
  path: string;
  message: string;
}

const FORMAT_CHECKS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
  ipv4: (s) => /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s),
  ipv6: (s) => s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s),
};

/** What the apiserver's OpenAPI validation (strict field validation, no CEL) refuses, by path. */
export function validateOpenAPI(schema: OpenAPISchema, value: Value, path = ''): Refusal[] {
  const out: Refusal[] = [];
  const refuse = (message: string, at = path) => out.push({ path: at === '' ? '<root>' : at, message });
  const child = (k: string | number) => (typeof k === 'number' ? `${path}[${k}]` : path === '' ? k : `${path}.${k}`);

  if (schema['x-kubernetes-int-or-string'] === true) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) refuse('must be an integer or a string');
    return out;
  }
  switch (schema.type) {
    case 'object': {
      if (!isObject(value)) return (refuse('must be an object'), out);
      for (const r of schema.required ?? []) if (!(r in value)) refuse('Required value', child(r));
      const mp = schema.maxProperties;
      if (typeof mp === 'number' && Object.keys(value).length > mp) refuse(`must have at most ${mp} properties`);
      const open = schema.properties === undefined && schema.additionalProperties === undefined;
      for (const [k, v] of Object.entries(value)) {
        const sub = schema.properties?.[k] ?? (isObject(schema.additionalProperties) ? (schema.additionalProperties as OpenAPISchema) : undefined);
        if (sub) out.push(...validateOpenAPI(sub, v, child(k)));
        else if (!open) refuse('unknown field', child(k));
      }
      break;
    }
    case 'array': {
      if (!Array.isArray(value)) return (refuse('must be an array'), out);
      if (typeof schema.minItems === 'number' && value.length < schema.minItems) refuse(`must have at least ${schema.minItems} items`);
      if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) refuse(`must have at most ${schema.maxItems} items`);
      value.forEach((v, i) => schema.items && out.push(...validateOpenAPI(schema.items, v, child(i))));
      const listType = schema['x-kubernetes-list-type'];
      const mapKeys = schema['x-kubernetes-list-map-keys'] as string[] | undefined;
      if (listType === 'set' || listType === 'map') {
        const seen = new Set<string>();
        value.forEach((v, i) => {
          const key = JSON.stringify(listType === 'map' && isObject(v) ? (mapKeys ?? []).map((k) => v[k]) : v);
          if (seen.has(key)) refuse('Duplicate value', child(i));
          seen.add(key);
        });
      }
      break;
    }
    case 'string': {
      if (typeof value !== 'string') return (refuse('must be a string'), out);
      if (typeof schema.minLength === 'number' && value.length < schema.minLength) refuse(`must be at least ${schema.minLength} characters`);
      if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) refuse(`must be at most ${schema.maxLength} characters`);
      if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) refuse(`must match ${schema.pattern}`);
      const check = typeof schema.format === 'string' ? FORMAT_CHECKS[schema.format] : undefined;
      if (check && !check(value)) refuse(`must be a ${schema.format}`);
      break;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value))) return (refuse(`must be an ${schema.type}`), out);
      if (typeof schema.minimum === 'number' && value < schema.minimum) refuse(`must be at least ${schema.minimum}`);
      if (typeof schema.maximum === 'number' && value > schema.maximum) refuse(`must be at most ${schema.maximum}`);
      break;
    }
    case 'boolean':
      if (typeof value !== 'boolean') refuse('must be a boolean');
      break;
  }
  if (schema.enum && !schema.enum.some((e) => isDeepStrictEqual(e, value))) refuse(`Unsupported value: ${JSON.stringify(value)}`);
  return out;
}

// ---- CEL rules -----------------------------------------------------------------------------

export interface IndexedRule extends CelRule {
  /** Where the rule sits: `spec`, `spec.taints[*]`, `<root>`. */
  location: string;
  /** location + fieldPath: the field the rule refuses. */
  target: string;
  /** The field the message names (its first word, `[]` read as `[*]`). */
  named: string;
  /** Uses oldSelf: only checked on update. */
  transition: boolean;
}

export function normalizeFieldPath(p: string): string {
  return p.replace(/\[\d*\]/g, '[*]');
}

export function indexCelRules(schema: OpenAPISchema, location = '<root>'): IndexedRule[] {
  const join = (a: string, b: string) => (a === '<root>' ? b.replace(/^\./, '') : `${a}${b.startsWith('.') || b.startsWith('[') ? '' : '.'}${b}`);
  const out: IndexedRule[] = [];
  for (const r of schema['x-kubernetes-validations'] ?? []) {
    const text = (r.message ?? r.messageExpression ?? '').trim().replace(/^'/, '');
    out.push({
      ...r,
      location,
      target: r.fieldPath ? join(location, r.fieldPath) : location,
      named: normalizeFieldPath(text.split(/\s/)[0] ?? ''),
      transition: r.rule.includes('oldSelf'),
    });
  }
  for (const [k, sub] of Object.entries(schema.properties ?? {})) out.push(...indexCelRules(sub, join(location, `.${k}`)));
  if (schema.items) out.push(...indexCelRules(schema.items, `${location}[*]`));
  if (isObject(schema.additionalProperties)) out.push(...indexCelRules(schema.additionalProperties as OpenAPISchema, `${location}.*`));
  return out;
}
