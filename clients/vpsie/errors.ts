/**
 * Typed errors of the VPSie client. Every failure the client reports is a `VpsieError` with a
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
] as const;
export type VpsieErrorType = (typeof VPSIE_ERROR_TYPES)[number];

const TERMINAL: ReadonlySet<VpsieErrorType> = new Set<VpsieErrorType>([
  'auth_failed',
  'credentials_missing',
  'not_found',
  'bad_request',
  'quota_exceeded',
  'same_size_group',
  'worker_cap',
  'schema_mismatch',
]);

export function isRetryableType(type: VpsieErrorType): boolean {
  return !TERMINAL.has(type);
}

export interface VpsieErrorInit {
  type: VpsieErrorType;
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
  cause?: unknown;
}

export class VpsieError extends Error {
  readonly type: VpsieErrorType;
  readonly retryable: boolean;
  readonly operation: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly ambiguous: boolean;

  constructor(init: VpsieErrorInit) {
    super(`VPSie ${init.operation}: ${init.message}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'VpsieError';
    this.type = init.type;
    this.retryable = isRetryableType(init.type);
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

export function isVpsieError(e: unknown): e is VpsieError {
  return e instanceof VpsieError;
}

/** Classifies a VPSie error message (from a non-2xx body or a 200 `error:true`) into a type. */
export function classifyMessage(message: string, status: number | undefined): VpsieErrorType {
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

/**
 * Converts any error into a Temporal ApplicationFailure: non-retryable for terminal VPSie errors,
 * retryable otherwise, with the stable `type` as the failure type so retry policies can match it.
 */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof VpsieError) {
    return ApplicationFailure.create({
      message: err.message,
      type: `VpsieError.${err.type}`,
      nonRetryable: !err.retryable,
      details: [{ type: err.type, operation: err.operation, status: err.status ?? null }],
      ...(err.retryAfterMs !== undefined && err.retryable ? { nextRetryDelay: err.retryAfterMs } : {}),
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.retryable(message, 'VpsieError.unknown');
}
