/**
 * Turning objects read from the API (or from YAML) into typed values, with errors that name the
 * field: `NodeGroup kube-system/web is invalid: spec.minNodes: ...`.
 */
import type { z } from 'zod';
import { NODEGROUP_KIND, VPSIENODE_KIND } from './constants';
import { NodeGroupSchema, type NodeGroup } from './nodegroup';
import { VPSieNodeSchema, type VPSieNode } from './vpsienode';

export interface FieldIssue {
  /** `spec.taints[0].effect` */
  path: string;
  message: string;
}

export class CrdValidationError extends Error {
  constructor(
    readonly kind: string,
    /** `namespace/name`, `name`, or `<unnamed>` */
    readonly objectRef: string,
    readonly issues: readonly FieldIssue[],
  ) {
    super(`${kind} ${objectRef} is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'CrdValidationError';
  }

  /** The paths refused, for tests and conditions. */
  get paths(): string[] {
    return this.issues.map((i) => i.path);
  }
}

/** `['spec', 'taints', 0, 'effect']` → `spec.taints[0].effect` (map keys that are not identifiers are quoted). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s)) out += out === '' ? s : `.${s}`;
      else out += `[${JSON.stringify(s)}]`;
    }
  }
  return out === '' ? '<root>' : out;
}

/** One FieldIssue per bad field; an unknown key is reported at its own path (`spec.minNode`). */
export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: formatPath([...i.path, k]), message: 'unknown field' }))
      : [{ path: formatPath(i.path), message: i.message }],
  );
}

function objectRefOf(obj: unknown): string {
  if (obj === null || typeof obj !== 'object') return '<unnamed>';
  const meta = (obj as { metadata?: unknown }).metadata;
  if (meta === null || typeof meta !== 'object') return '<unnamed>';
  const { name, namespace } = meta as { name?: unknown; namespace?: unknown };
  const n = typeof name === 'string' ? name : '<unnamed>';
  return typeof namespace === 'string' ? `${namespace}/${n}` : n;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: CrdValidationError };

/** Parse with any schema; defaults are filled in; failures name every bad field. */
export function safeParseResource<S extends z.ZodType>(schema: S, kind: string, obj: unknown): ParseResult<z.output<S>> {
  const r = schema.safeParse(obj);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, error: new CrdValidationError(kind, objectRefOf(obj), issuesOf(r.error)) };
}

export function parseResource<S extends z.ZodType>(schema: S, kind: string, obj: unknown): z.output<S> {
  const r = safeParseResource(schema, kind, obj);
  if (!r.ok) throw r.error;
  return r.value;
}

export const safeParseNodeGroup = (obj: unknown): ParseResult<NodeGroup> => safeParseResource(NodeGroupSchema, NODEGROUP_KIND, obj);
/** Throws CrdValidationError naming the bad fields. */
export const parseNodeGroup = (obj: unknown): NodeGroup => parseResource(NodeGroupSchema, NODEGROUP_KIND, obj);
export const safeParseVPSieNode = (obj: unknown): ParseResult<VPSieNode> => safeParseResource(VPSieNodeSchema, VPSIENODE_KIND, obj);
/** Throws CrdValidationError naming the bad fields. */
export const parseVPSieNode = (obj: unknown): VPSieNode => parseResource(VPSieNodeSchema, VPSIENODE_KIND, obj);
