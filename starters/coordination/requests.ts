/**
 * What the coordination REST API accepts, checked before anything else is asked: the path's
 * namespace and name, the `?namespace=` filter and the circuit-breaker body. Each refusal names
 * the field (`field: message`).
 */
import type { z } from 'zod';
import { circuitBreakerActionSchema, type CircuitBreakerAction } from '../../workflows/coordination/contracts';

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string; field?: string };

/** The most a circuit-breaker body may weigh (it holds an action and a reason of at most 256 characters). */
export const MAX_BODY_BYTES = 16 * 1024;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A namespace name (RFC 1123 label, at most 63 characters). */
export function checkNamespace(value: string, field = 'namespace'): Checked<string> {
  if (value.length === 0 || value.length > 63 || !DNS_LABEL.test(value))
    return { ok: false, field, message: `${field}: "${printable(value)}" is not a namespace name (lower-case letters, digits and '-', at most 63 characters)` };
  return { ok: true, value };
}

/** A VPANAPCoordination name (RFC 1123 subdomain, at most 253 characters). */
export function checkObjectName(value: string, field = 'name'): Checked<string> {
  if (value.length === 0 || value.length > 253 || !DNS_SUBDOMAIN.test(value))
    return {
      ok: false,
      field,
      message: `${field}: "${printable(value)}" is not a VPANAPCoordination name (lower-case letters, digits, '-' and '.', at most 253 characters)`,
    };
  return { ok: true, value };
}

function printable(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  return cut.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'");
}

const BODY_FIELDS = Object.keys(circuitBreakerActionSchema().shape).filter((k) => k !== 'by');

function issueText(issue: z.core.$ZodIssue, body: Record<string, unknown>): { field: string; message: string } {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    return { field: keys[0], message: `${keys.join(', ')}: unknown field${keys.length > 1 ? 's' : ''} (the body has only ${BODY_FIELDS.join(' and ')})` };
  }
  const field = issue.path.map(String).join('.') || 'body';
  if (issue.code === 'invalid_type' && issue.path.length === 1 && !(String(issue.path[0]) in body)) return { field, message: `${field}: ${field} is required` };
  if (issue.code === 'invalid_type') return { field, message: `${field}: ${field} must be a ${issue.expected}` };
  return { field, message: `${field}: ${issue.message}` };
}

/**
 * The body of `POST …/circuit-breaker`: JSON `{"action": "trigger" | "reset", "reason": "…"}`.
 * `by` is not the caller's to give: the API sets it to the authenticated user.
 */
export function parseCircuitBreakerBody(raw: string | undefined): Checked<Omit<CircuitBreakerAction, 'by'>> {
  const example = 'a JSON object {"action": "trigger" | "reset", "reason": "…"} is required';
  if (raw === undefined || raw.trim() === '') return { ok: false, field: 'body', message: `body: ${example}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    return { ok: false, field: 'body', message: `body: malformed JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, field: 'body', message: `body: ${example}` };
  const body = parsed as Record<string, unknown>;
  if ('by' in body) return { ok: false, field: 'by', message: "by: not accepted; the caller's authenticated identity is recorded" };
  const r = circuitBreakerActionSchema().safeParse(body);
  if (!r.success) {
    const texts = r.error.issues.map((i) => issueText(i, body));
    return { ok: false, field: texts[0].field, message: texts.map((t) => t.message).join('; ') };
  }
  return { ok: true, value: { action: r.data.action, reason: r.data.reason } };
}
