/**
 * One VPSie API call, end to end: circuit breaker → token bucket → access token → HTTP exchange
 * (with timeout) → envelope and zod validation → typed error → retry with backoff and jitter
 * (honouring Retry-After). Non-idempotent calls are retried only when the request provably was
 * not processed (429, 401, connection refused); otherwise the caller's idempotent wrapper decides.
 */
import type { z } from 'zod';
import type { Logger } from '../../lib/log';
import { TokenManager } from './auth';
import { backoffDelay, parseRetryAfter, type BackoffOptions } from './backoff';
import type { VPSieApiBreaker } from './api-breaker';
import { abortable, type Clock } from './clock';
import { classifyError, VPSieError, type VPSieErrorType } from './errors';
import type { VPSieClientMetrics } from './metrics';
import { ErrorEnvelopeSchema, FlexNumber } from './schemas';
import { RateLimitWaitTooLong, type TokenBucket } from './token-bucket';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface CallSpec<T> {
  /** Client operation name: metric label and error context. */
  operation: string;
  method: HttpMethod;
  /** Absolute path (`/apps/v2/...`, `/api/v2/...`), resolved against the host URL. */
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  /** Safe to repeat after an ambiguous failure (GET, look-ups, deletes by identifier). */
  idempotent: boolean;
  /** Send the access token (all but login). Default true. */
  auth?: boolean;
  /** Schema of the envelope's `data`; or, with `whole: true`, of the entire body. */
  schema: z.ZodType<T>;
  whole?: boolean;
  /**
   * A read (no side effect): a `schema_mismatch` answer is retried (within `maxAttempts`, at most
   * `maxSchemaRetries` times). Defaults to `method === 'GET'`; POST look-ups set it explicitly.
   * Writes are never retried on a schema mismatch: VPSie did act on them.
   */
  read?: boolean;
  /** The caller's cancellation (the activity's): aborts fetch, the rate-limit wait and backoff. */
  signal?: AbortSignal;
  /** Epoch ms the caller must be done by (its activity's deadline): a longer rate-limit wait fails at once. */
  deadline?: number;
}

export interface CallResult<T> {
  data: T;
  total: number | undefined;
}

export interface TransportDeps {
  baseUrl: string;
  clock: Clock;
  random: () => number;
  bucket: TokenBucket | undefined;
  apiBreaker: VPSieApiBreaker;
  metrics: VPSieClientMetrics;
  backoff: BackoffOptions;
  maxAttempts: number;
  /** How many times a read answered with a schema mismatch is tried again (default 2). */
  maxSchemaRetries?: number;
  timeoutMs: number;
  userAgent: string;
  log: Logger;
  fetch: typeof fetch;
}

/** Failures that say the service is unhealthy (count against the breaker). */
const UNHEALTHY: ReadonlySet<VPSieErrorType> = new Set<VPSieErrorType>(['server_error', 'invalid_response', 'network', 'timeout']);

export class Transport {
  tokens: TokenManager | undefined;

  constructor(private readonly d: TransportDeps) {}

  async call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    let refreshedAfter401 = false;
    let schemaRetries = 0;
    const isRead = spec.read ?? spec.method === 'GET';
    let lastError: VPSieError | undefined;
    for (let attempt = 0; attempt < this.d.maxAttempts; attempt++) {
      let err: VPSieError;
      try {
        throwIfCancelled(spec);
        return await this.once(spec);
      } catch (e) {
        err = asVPSieError(e, spec.operation);
      }
      lastError = err;
      if (err.type === 'auth_failed' && err.status === 401 && spec.auth !== false && !refreshedAfter401 && this.tokens) {
        // Once per call: drop the token and log in again (picks up rotated credentials too).
        refreshedAfter401 = true;
        attempt -= 1;
        this.d.metrics.retries.inc({ method: spec.operation, reason: 'token_refresh' });
        continue;
      }
      if (err.type === 'cancelled' || err.type === 'circuit_open') throw err;
      const schemaRetry = err.type === 'schema_mismatch' && isRead && schemaRetries < (this.d.maxSchemaRetries ?? 2);
      if (schemaRetry) schemaRetries += 1;
      else if (!err.retryable) throw err;
      if (err.ambiguous && !spec.idempotent) throw err;
      if (attempt + 1 >= this.d.maxAttempts) break;
      const delay = backoffDelay(attempt, this.d.backoff, this.d.random, err.retryAfterMs);
      // A 429 from VPSie: the account's budget is spent for every caller, not only this one.
      if (err.type === 'rate_limited' && err.status === 429) this.d.bucket?.penalize(delay);
      this.d.metrics.retries.inc({ method: spec.operation, reason: err.type });
      this.d.log.warn('vpsie call failed, retrying', {
        operation: spec.operation,
        errorType: err.type,
        status: err.status,
        attempt: attempt + 1,
        delayMs: delay,
      });
      await sleepUnlessCancelled(this.d.clock, delay, spec);
    }
    throw lastError ?? new VPSieError({ type: 'server_error', operation: spec.operation, message: 'no attempt made' });
  }

  private async once<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    const { apiBreaker, metrics } = this.d;
    if (!apiBreaker.tryAcquire()) {
      metrics.requests.inc({ method: spec.operation, status: 'circuit_open' });
      throw new VPSieError({
        type: 'circuit_open',
        operation: spec.operation,
        message: `circuit breaker open, retry in ${apiBreaker.retryInMs()} ms`,
        retryAfterMs: apiBreaker.retryInMs(),
      });
    }
    let healthy = true;
    let token: string | undefined;
    try {
      if (this.d.bucket) {
        const maxWait = spec.deadline === undefined ? undefined : spec.deadline - this.d.clock.now();
        await this.d.bucket.acquire(this.d.clock, spec.signal, maxWait).catch((e: unknown) => {
          if (e instanceof RateLimitWaitTooLong)
            throw new VPSieError({
              type: 'rate_limited',
              operation: spec.operation,
              message: `${e.message} (VPSie request budget)`,
              retryAfterMs: e.waitMs,
              retryable: false,
            });
          throwIfCancelled(spec);
        });
      }
      throwIfCancelled(spec);
      if (spec.auth !== false && this.tokens) token = await this.tokens.token();
      return await this.exchange(spec, token);
    } catch (e) {
      const err = asVPSieError(e, spec.operation);
      if (UNHEALTHY.has(err.type)) healthy = false;
      if (token !== undefined && err.type === 'auth_failed' && err.status === 401) this.tokens?.invalidate(token);
      throw err;
    } finally {
      apiBreaker.record(healthy);
    }
  }

  /** One HTTP exchange without breaker, bucket or retry (used directly by login). */
  async exchange<T>(spec: CallSpec<T>, token: string | undefined): Promise<CallResult<T>> {
    const { metrics, clock } = this.d;
    const url = new URL(spec.path, this.d.baseUrl);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.d.userAgent };
    let body: string | undefined;
    if (spec.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(spec.form).toString();
    } else if (spec.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(spec.json);
    }
    if (token !== undefined) headers['Vpsie-Auth'] = token;

    const started = performance.now();
    const end = (status: string) => {
      metrics.requests.inc({ method: spec.operation, status });
      metrics.latency.observe({ method: spec.operation }, (performance.now() - started) / 1000);
    };
    let res: Response;
    let text: string;
    try {
      res = await this.d.fetch(url, {
        method: spec.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: spec.signal ? AbortSignal.any([spec.signal, AbortSignal.timeout(this.d.timeoutMs)]) : AbortSignal.timeout(this.d.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      if (spec.signal?.aborted) {
        end('cancelled');
        // The request may have reached VPSie: ambiguous, like a timeout.
        throw new VPSieError({ type: 'cancelled', operation: spec.operation, message: 'cancelled by the caller during the request', ambiguous: true });
      }
      const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
      const code = networkCode(e);
      end(timeout ? 'timeout' : 'network_error');
      throw new VPSieError({
        type: timeout ? 'timeout' : 'network',
        operation: spec.operation,
        message: timeout ? `no answer within ${this.d.timeoutMs} ms` : `connection failed (${code ?? 'unknown'})`,
        // A refused connection never reached VPSie; anything else may have been processed.
        ambiguous: code !== 'ECONNREFUSED',
      });
    }
    end(String(res.status));
    const status = res.status;
    const fail = (type: VPSieErrorType, message: string, extra: { retryAfterMs?: number; ambiguous?: boolean } = {}) =>
      new VPSieError({ type, operation: spec.operation, status, message, ...extra });

    if (status === 429) {
      throw fail('rate_limited', 'rate limited (429)', {
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), clock.now()) ?? 1000,
      });
    }
    if (status === 204 || (text.trim() === '' && status >= 200 && status < 300)) {
      return { data: this.parseData(spec, true, status), total: undefined };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      const ct = res.headers.get('content-type') ?? 'unknown content type';
      throw fail(status >= 500 ? 'server_error' : 'invalid_response', `HTTP ${status} answer is not JSON (${ct.split(';')[0]}, ${text.length} bytes)`, {
        ambiguous: true,
      });
    }
    const env = ErrorEnvelopeSchema.safeParse(json);
    const isError = (env.success && env.data.error) || status >= 300;
    if (isError) {
      const message = env.success && env.data.message ? env.data.message : `HTTP ${status}`;
      const code = env.success ? env.data.code : undefined;
      const type = classifyError({ status: status >= 300 ? status : undefined, code, message });
      throw fail(type, message, { ambiguous: type === 'server_error' });
    }
    if (spec.whole) return { data: this.parseData(spec, json, status), total: undefined };
    if (!env.success || typeof json !== 'object' || json === null || !('data' in json)) {
      throw fail('invalid_response', 'answer has no {error, data} envelope', { ambiguous: true });
    }
    const record = json as { data: unknown; total?: unknown; 'total '?: unknown };
    const totalRaw = record.total ?? record['total '];
    const total = FlexNumber.safeParse(Array.isArray(totalRaw) ? (totalRaw[0] as { count?: unknown } | undefined)?.count : totalRaw);
    return { data: this.parseData(spec, record.data, status), total: total.success ? total.data : undefined };
  }

  private parseData<T>(spec: CallSpec<T>, data: unknown, status: number): T {
    const parsed = spec.schema.safeParse(data);
    if (parsed.success) return parsed.data;
    const first = parsed.error.issues[0];
    const where = first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid';
    throw new VPSieError({
      type: 'schema_mismatch',
      operation: spec.operation,
      status,
      message: `answer does not match the expected schema (${parsed.error.issues.length} issue(s); first at ${where})`,
    });
  }
}

/** Throws a `cancelled` VPSieError when the caller's signal has fired. */
export function throwIfCancelled(spec: Pick<CallSpec<unknown>, 'operation' | 'signal'>): void {
  if (spec.signal?.aborted) throw new VPSieError({ type: 'cancelled', operation: spec.operation, message: 'cancelled by the caller' });
}

/** Sleeps through the clock, ending early (with `cancelled`) when the caller's signal fires. */
async function sleepUnlessCancelled(clock: Clock, ms: number, spec: Pick<CallSpec<unknown>, 'operation' | 'signal'>): Promise<void> {
  await abortable(clock.sleep(ms), spec.signal);
  throwIfCancelled(spec);
}

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && typeof cur === 'object' && cur !== null; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Anything thrown inside a call becomes a VPSieError (never an untyped crash). */
export function asVPSieError(e: unknown, operation: string): VPSieError {
  if (e instanceof VPSieError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new VPSieError({ type: 'network', operation, message: `unexpected failure: ${message}`, ambiguous: true, cause: e });
}
