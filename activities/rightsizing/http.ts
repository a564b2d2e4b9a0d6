/**
 * One HTTP(S) GET with a per-request timeout, the caller's cancellation, TLS options and a size
 * cap, answering a typed result instead of throwing for what a metrics backend can do wrong
 * (refuse the connection, hang, answer an error status). Only the caller's abort throws.
 */
import http from 'node:http';
import https from 'node:https';
import type { ProviderFailure } from './provider';

export interface GetOptions {
  headers?: Record<string, string>;
  /** PEM CA bundle for https. */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  timeoutMs: number;
  /** The largest body accepted (bytes). */
  maxBytes?: number;
  signal?: AbortSignal;
}

export type GetResult =
  { ok: true; status: number; body: string } | { ok: false; failure: Extract<ProviderFailure, 'Unreachable' | 'Timeout' | 'InvalidResponse'>; message: string };

const DEFAULT_MAX_BYTES = 64 * 2 ** 20;

/** Throws the caller's abort reason when its signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('cancelled');
}

export function httpGet(url: string, o: GetOptions): Promise<GetResult> {
  throwIfAborted(o.signal);
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise<GetResult>((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve({ ok: false, failure: 'Unreachable', message: `not a URL: ${url}` });
      return;
    }
    const settle = (r: GetResult): void => {
      if (o.signal?.aborted) reject(o.signal.reason instanceof Error ? o.signal.reason : new Error('cancelled'));
      else if (timeout.aborted && !r.ok) resolve({ ok: false, failure: 'Timeout', message: `GET ${u.origin}${u.pathname} timed out after ${o.timeoutMs} ms` });
      else resolve(r);
    };
    const common = { method: 'GET', headers: { accept: 'application/json', ...o.headers }, signal };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          res.destroy();
          settle({ ok: false, failure: 'InvalidResponse', message: `response larger than ${maxBytes} bytes` });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => settle({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => settle({ ok: false, failure: 'Unreachable', message: `reading the response: ${err.message}` }));
      // a connection closed before the end (aborted, reset): the first settlement wins
      res.on('close', () => settle({ ok: false, failure: 'Unreachable', message: 'the connection closed before the response ended' }));
    };
    const req =
      u.protocol === 'https:'
        ? https.request(u, { ...common, ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.rejectUnauthorized ?? true }, onResponse)
        : u.protocol === 'http:'
          ? http.request(u, common, onResponse)
          : undefined;
    if (req === undefined) {
      resolve({ ok: false, failure: 'Unreachable', message: `unsupported protocol ${u.protocol}` });
      return;
    }
    req.on('error', (err: NodeJS.ErrnoException) =>
      settle({ ok: false, failure: 'Unreachable', message: `GET ${u.origin}${u.pathname}: ${err.code ?? ''} ${err.message}`.trim() }),
    );
    req.end();
  });
}

/** Runs at most `limit` tasks at once (per instance: shared by every caller of one provider). */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`concurrency must be at least 1, got ${limit}`);
  }
  get inFlight(): number {
    return this.active;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
