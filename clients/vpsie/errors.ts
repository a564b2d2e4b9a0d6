/**
 * Typed errors of the VPSie client. Every failure the client reports is a `VPSieError` with a
 * stable `type` and a `retryable` flag saying whether trying again can help. Messages carry the
 * server's message and the operation name only: never a request body, header or credential.
 */
import { ApplicationFailure } from '@temporalio/common';

export const VPSIE_ERROR_TYPES = [
  /** Credentials rejected (login refused, or 401 after a fresh login). */
  'auth_failed',
  /** No usable credentials in the credentials source. */
  'credentials_missing',
  'not_found',
  /** The request itself is invalid (4xx validation). */
  'bad_request',
  /** Account quota or balance refusal. */
  'quota_exceeded',
  /** "Group … has same selected Size, please select another size". */
  'same_size_group',
  /** "Worker nodes count exceeds the allowed limit". */
  'worker_cap',
  /** 429, still limited after the client's own retries. */
  'rate_limited',
  /** 5xx JSON answer, or an error envelope with no recognised message. */
  'server_error',
  /** Non-JSON answer (HTML gateway page, truncated body). */
  'invalid_response',
  /** JSON answer whose shape does not match the schema. */
  'schema_mismatch',
  /** Connection refused/reset, socket closed before an answer. */
  'network',
  'timeout',
  /** The circuit breaker is open; the call was not attempted. */
  'circuit_open',
  /** Idempotent creation could not settle (the machine neither appeared nor was refused). */
  'not_settled',
  /**
   * A look-up could not decide: an item that may be the one asked for did not parse. Never read
   * as "absent" (which would create a second machine); retry later.
   */
  'unknown_state',
  /** The caller's AbortSignal fired (activity cancelled); the call stopped without retrying. */
  'cancelled',
] as const;
export type VPSieErrorType = (typeof VPSIE_ERROR_TYPES)[number];

const TERMINAL: ReadonlySet<VPSieErrorType> = new Set<VPSieErrorType>([
  'auth_failed',
  'credentials_missing',
  'not_found',
  'bad_request',
  'quota_exceeded',
  'same_size_group',
  'worker_cap',
  'schema_mismatch',
]);

export function isRetryableType(type: VPSieErrorType): boolean {
  return !TERMINAL.has(type);
}

export interface VPSieErrorInit {
  type: VPSieErrorType;
  message: string;
  /** Client operation, e.g. `vm.create`. */
  operation: string;
  status?: number;
  /** For 429: how long the server asked to wait. */
  retryAfterMs?: number;
  /**
   * True when the request may have been processed by VPSie although no answer arrived (5xx,
   * dropped connection, timeout). Non-idempotent calls are never retried blindly in that case.
   */
  ambiguous?: boolean;
  /** Overrides the type's retryability (a budget wait past the caller's deadline is not retried within the call). */
  retryable?: boolean;
  cause?: unknown;
}

export class VPSieError extends Error {
  readonly type: VPSieErrorType;
  readonly retryable: boolean;
  readonly operation: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly ambiguous: boolean;

  constructor(init: VPSieErrorInit) {
    super(`VPSie ${init.operation}: ${init.message}`, init.cause === undefined ? undefined : { cause: init.cause });
    // The wire name (ApplicationFailure types 'VpsieError.<type>' in histories and retry policies) stays as it was.
    this.name = 'VpsieError';
    this.type = init.type;
    this.retryable = init.retryable ?? isRetryableType(init.type);
    this.operation = init.operation;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.ambiguous = init.ambiguous ?? false;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      type: this.type,
      retryable: this.retryable,
      operation: this.operation,
      status: this.status,
      message: this.message,
    };
  }
}

export function isVPSieError(e: unknown): e is VPSieError {
  return e instanceof VPSieError;
}

/**
 * Fallback classifier from the message text alone. Used only when the answer carries neither a
 * non-2xx HTTP status nor a numeric/symbolic error `code` (an HTTP 200 `error:true` without code),
 * and, within a 4xx refusal, to tell VPSie's code-less refusals apart (same-size group, worker
 * cap, quota): VPSie documents no code for those. Prefer `classifyError`.
 */
export function classifyMessage(message: string, status: number | undefined): VPSieErrorType {
  const m = message.toLowerCase();
  if (m.includes('same selected size')) return 'same_size_group';
  if (m.includes('worker nodes count exceeds')) return 'worker_cap';
  if (/quota|insufficient (balance|funds|credit)|limit reached|maximum number of/.test(m)) return 'quota_exceeded';
  if (m.includes('please authenticate') || status === 401) return 'auth_failed';
  if (m === 'not found' || m.includes('not found') || status === 404) return 'not_found';
  if (status === 429 || m.includes('too many requests')) return 'rate_limited';
  if (status !== undefined && status >= 500) return 'server_error';
  if (status !== undefined && status >= 400) return 'bad_request';
  // HTTP 200 with error:true and an unknown message: VPSie refused; treat as a request problem
  // only when it reads like one, otherwise assume a transient server-side failure.
  if (/invalid|required|must|not allowed|not valid/.test(m)) return 'bad_request';
  return 'server_error';
}

/** Symbolic error codes (a string `code`) mapped to types; numeric codes are HTTP-like statuses. */
const SYMBOLIC_CODES: Readonly<Record<string, VPSieErrorType>> = {
  not_found: 'not_found',
  notfound: 'not_found',
  quota_exceeded: 'quota_exceeded',
  limit_reached: 'quota_exceeded',
  insufficient_balance: 'quota_exceeded',
  rate_limited: 'rate_limited',
  too_many_requests: 'rate_limited',
  unauthorized: 'auth_failed',
  unauthenticated: 'auth_failed',
};

/** Refusals VPSie signals by message only (no documented code): allowed to refine a 4xx. */
function refineRefusal(message: string): VPSieErrorType | undefined {
  const t = classifyMessage(message, undefined);
  return t === 'same_size_group' || t === 'worker_cap' || t === 'quota_exceeded' ? t : undefined;
}

function classifyStatus(status: number, message: string): VPSieErrorType | undefined {
  if (status === 401) return 'auth_failed';
  if (status === 402) return 'quota_exceeded';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return refineRefusal(message) ?? 'bad_request';
  return undefined;
}

/**
 * Classifies a VPSie error answer by what the API states, not by words in its message:
 * 1. a non-2xx HTTP status decides (401 auth, 402 quota, 404/410 not found, 429 rate limited,
 *    5xx server error, other 4xx a refusal);
 * 2. for an HTTP 200 `error:true`, the envelope's `code` decides the same way (numeric codes are
 *    HTTP-like, as govpsie's `ErrorRsp.code`; a few symbolic codes are recognised);
 * 3. only a 4xx refusal is refined by its message (same-size group, worker cap, quota: VPSie
 *    gives these no code), so a 429 "rate limit reached" stays retryable and a 500 "… not found"
 *    is a server error, never "absent";
 * 4. documented fallback: an answer with neither status nor code is classified by its message
 *    (`classifyMessage`).
 */
export function classifyError(e: { status: number | undefined; code: number | string | undefined; message: string }): VPSieErrorType {
  if (e.status !== undefined && e.status >= 300) return classifyStatus(e.status, e.message) ?? 'server_error';
  const code = typeof e.code === 'string' && /^\d+$/.test(e.code.trim()) ? Number(e.code) : e.code;
  if (typeof code === 'number' && code >= 400 && code <= 599) return classifyStatus(code, e.message) ?? 'server_error';
  if (typeof code === 'string') {
    const t = SYMBOLIC_CODES[code.trim().toLowerCase()];
    if (t) return t;
  }
  return classifyMessage(e.message, undefined);
}

/**
 * Converts any error into a Temporal ApplicationFailure: non-retryable for terminal VPSie errors,
 * retryable otherwise, with the stable `type` as the failure type so retry policies can match it.
 */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof VPSieError) {
    return ApplicationFailure.create({
      message: err.message,
      type: `VpsieError.${err.type}`, // wire name, kept
      nonRetryable: !err.retryable,
      details: [{ type: err.type, operation: err.operation, status: err.status ?? null }],
      ...(err.retryAfterMs !== undefined && err.retryable ? { nextRetryDelay: err.retryAfterMs } : {}),
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.retryable(message, 'VpsieError.unknown');
}
