/**
 * HTTP front of the simulator: prefixes (`/apps/v2`, `/api/v2`, `/v2`), body parsing (JSON or
 * form), authentication (`Vpsie-Auth` / `Authorization: Bearer`), per-account rate limit, fault
 * injection, the admin endpoint (`/admin/...`) and answers in VPSie's envelope. Never crashes on
 * bad input: every failure becomes a typed error envelope.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { logger } from '../../lib/log';
import { mergeConfig, QueuedFaultSchema, type QueuedFault } from './config';
import { ApiError, type SimResponse, type Simulator } from './sim';
import { mulberry32 } from '../../lib/prng';

const log = logger('vpsie-sim');
const MAX_BODY = 1024 * 1024;

const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const HTML_503 =
  '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

interface Parsed {
  body: Record<string, unknown>;
  error?: string;
}

function parseBody(raw: string, contentType: string | undefined): Parsed {
  if (raw.trim() === '') return { body: {} };
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('application/x-www-form-urlencoded')) return { body: Object.fromEntries(new URLSearchParams(raw)) };
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { body: {}, error: 'Request body must be a JSON object' };
    return { body: v as Record<string, unknown> };
  } catch {
    if (!ct.includes('json') && /^[^{[]*=/.test(raw)) return { body: Object.fromEntries(new URLSearchParams(raw)) };
    return { body: {}, error: 'Invalid JSON body' };
  }
}

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SimServer {
  server: http.Server;
  url: string;
  adminUrl: string;
  close(): Promise<void>;
}

interface Traffic {
  since: number;
  accepted: number[];
  rejected: number;
  byOperation: Record<string, number>;
}

const newTraffic = (): Traffic => ({ since: Date.now(), accepted: [], rejected: 0, byOperation: {} });

export interface TrafficReport {
  since: string;
  /** API requests answered (not 429), logins included. */
  accepted: number;
  /** Requests refused with 429 by the rate limit. */
  rejected: number;
  windowMs: number;
  /** The most requests accepted within any `windowMs`. */
  peakPerWindow: number;
  /** The configured limit per window (null = off). */
  limit: number | null;
  /** Requests by "METHOD /path shape" (429s included). */
  byOperation: Record<string, number>;
}

export class SimHttp {
  private queue: (QueuedFault & { left: number })[] = [];
  private window: number[] = [];
  /** API traffic since the last reset (GET|DELETE /admin/traffic): what a rate-limit test reads. */
  private traffic: Traffic = newTraffic();
  private random: () => number;
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly sim: Simulator) {
    this.random = mulberry32(sim.config.faults.seed);
  }

  async listen(port: number, host: string): Promise<SimServer> {
    const server = http.createServer((req, res) => {
      this.serve(req, res).catch((e: unknown) => {
        log.error('simulator request failed', { error: e instanceof Error ? e.message : String(e) });
        if (!res.headersSent) this.send(res, { status: 500, body: { error: true, code: 500, message: 'Internal server error' } });
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${h}:${addr.port}`;
    this.ticker = setInterval(() => {
      this.sim.advance();
      this.sim.flush();
    }, 100);
    this.ticker.unref();
    return {
      server,
      url,
      adminUrl: `${url}/admin`,
      close: async () => {
        if (this.ticker) clearInterval(this.ticker);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        this.sim.flush();
      },
    };
  }

  private send(res: http.ServerResponse, r: SimResponse, opts: { truncate?: boolean } = {}): void {
    let text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    if (opts.truncate) text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    const headers: Record<string, string> = {
      'Content-Type': typeof r.body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      ...r.headers,
    };
    res.writeHead(r.status, headers);
    res.end(text);
  }

  private takeFault(key: string): QueuedFault | undefined {
    const f = this.queue.find((q) => key.includes(q.match));
    if (!f) return undefined;
    f.left -= 1;
    if (f.left <= 0) this.queue.splice(this.queue.indexOf(f), 1);
    return f;
  }

  private rateLimited(): number | undefined {
    const rl = this.sim.config.rateLimit;
    if (!rl) return undefined;
    const now = Date.now();
    while (this.window.length > 0 && this.window[0]! <= now - rl.windowMs) this.window.shift();
    if (this.window.length >= rl.requests) return Math.max(1, Math.ceil((this.window[0]! + rl.windowMs - now) / 1000));
    this.window.push(now);
    return undefined;
  }

  private count(method: string, path: string, rejected: boolean): void {
    const t = this.traffic;
    // "GET /vm/pending", "DELETE /vm", "GET /vm/<id>" → "GET /vm/:id" (identifiers are long hex/uuid words).
    const shape = `${method} ${path.replace(/\/[0-9a-f-]{8,}(?=\/|$)/gi, '/:id').replace(/\/\d+(?=\/|$)/g, '/:n')}`;
    t.byOperation[shape] = (t.byOperation[shape] ?? 0) + 1;
    if (rejected) {
      t.rejected += 1;
      return;
    }
    if (t.accepted.length >= 200_000) t.accepted.shift();
    t.accepted.push(Date.now());
  }

  /** Accepted requests, 429s served, and the most accepted in any sliding `windowMs` (the rate limit's, else 60 s). */
  trafficReport(): TrafficReport {
    const t = this.traffic;
    const windowMs = this.sim.config.rateLimit?.windowMs ?? 60_000;
    let peak = 0;
    let lo = 0;
    for (let hi = 0; hi < t.accepted.length; hi++) {
      while (t.accepted[hi]! - t.accepted[lo]! >= windowMs) lo++;
      peak = Math.max(peak, hi - lo + 1);
    }
    return {
      since: new Date(t.since).toISOString(),
      accepted: t.accepted.length,
      rejected: t.rejected,
      windowMs,
      peakPerWindow: peak,
      limit: this.sim.config.rateLimit?.requests ?? null,
      byOperation: { ...t.byOperation },
    };
  }

  private token(req: http.IncomingMessage): string | undefined {
    const mode = this.sim.config.authHeaders;
    const vh = req.headers['vpsie-auth'];
    const v = Array.isArray(vh) ? vh[0] : vh;
    const auth = req.headers.authorization;
    const bearer = auth && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : undefined;
    if (mode !== 'bearer' && v) return v.trim();
    if (mode !== 'vpsie-auth' && bearer) return bearer;
    return undefined;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    if (url.pathname === '/healthz') return this.send(res, { status: 200, body: { ok: true } });
    if (url.pathname === '/admin' || url.pathname.startsWith('/admin/')) {
      return this.send(res, this.admin(method, url.pathname, raw ?? ''));
    }
    const m = url.pathname.match(/^\/(?:apps\/v2|api\/v2|api\/v1|v2)(\/.*)?$/);
    if (!m) return this.send(res, { status: 404, body: { error: true, code: 404, message: 'Not found' } });
    const path = m[1] ?? '/';
    const key = `${method} ${url.pathname}`;

    this.sim.advance();
    this.sim.state.counters.requests += 1;
    const cfg = this.sim.config.faults;

    if (cfg.outage || (cfg.outageUntil !== null && Date.now() < cfg.outageUntil)) {
      return this.send(res, { status: 503, body: HTML_503 });
    }
    const fault = this.takeFault(key);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    const latency = cfg.latencyMs + (fault?.kind === 'latency' ? fault.ms : 0);
    if (latency > 0) await sleep(latency);
    if (fault?.kind === 'rate429') {
      return this.send(res, {
        status: 429,
        body: { error: true, code: 429, message: 'Too many requests' },
        headers: { 'Retry-After': String(fault.retryAfterSeconds) },
      });
    }
    if (fault?.kind === 'status') return this.send(res, { status: fault.status, body: { error: true, code: fault.status, message: fault.message, stack: '' } });
    if (fault?.kind === 'error200') return this.send(res, { status: 200, body: { error: true, code: 500, message: fault.message } });
    if (fault?.kind === 'html502') return this.send(res, { status: 502, body: HTML_502 });
    const roll = this.random();
    if (roll < cfg.errorRate) return this.send(res, { status: 500, body: { error: true, code: 500, message: 'Internal server error', stack: '' } });
    if (roll < cfg.errorRate + cfg.error200Rate)
      return this.send(res, { status: 200, body: { error: true, code: 500, message: 'Something went wrong, please try again' } });
    if (roll < cfg.errorRate + cfg.error200Rate + cfg.html502Rate) return this.send(res, { status: 502, body: HTML_502 });

    const retryAfter = this.rateLimited();
    this.count(method, path, retryAfter !== undefined);
    if (retryAfter !== undefined) {
      return this.send(res, { status: 429, body: { error: true, code: 429, message: 'Too many requests' }, headers: { 'Retry-After': String(retryAfter) } });
    }

    let response: SimResponse;
    try {
      if (raw === undefined) throw new ApiError(413, 'Request body too large');
      const parsed = parseBody(raw, req.headers['content-type']);
      if (method === 'POST' && (path === '/auth/from/api' || path === '/auth/login')) {
        if (parsed.error) throw new ApiError(400, parsed.error);
        response = this.sim.login(parsed.body);
      } else {
        const token = this.token(req);
        if (!this.sim.tokenValid(token)) {
          response = { status: 401, body: { error: true, message: 'Please authenticate' } };
        } else {
          response = this.sim.handle({
            method,
            path,
            query: url.searchParams,
            body: parsed.body,
            ...(parsed.error ? { bodyError: parsed.error } : {}),
            token,
            remote: req.socket.remoteAddress ?? '',
          });
        }
      }
    } catch (e) {
      if (e instanceof ApiError) {
        response =
          e.form === 'ok200'
            ? { status: 200, body: { error: true, code: 400, message: e.message } }
            : { status: e.status, body: { error: true, code: e.status, message: e.message, stack: '' } };
      } else {
        log.error('simulator handler error', { path, error: e instanceof Error ? e.message : String(e) });
        response = { status: 500, body: { error: true, code: 500, message: 'Internal server error', stack: '' } };
      }
    }
    this.sim.flush();
    if (fault?.kind === 'dropAfterCommit') {
      req.socket.destroy();
      return;
    }
    this.send(res, response, { truncate: fault?.kind === 'truncated' });
  }

  private admin(method: string, path: string, raw: string): SimResponse {
    let body: unknown = {};
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        return { status: 400, body: { error: true, message: 'Invalid JSON body' } };
      }
    }
    const p = path.replace(/\/+$/, '');
    try {
      if (method === 'GET' && (p === '/admin' || p === '/admin/state')) {
        this.sim.advance();
        return { status: 200, body: this.sim.snapshot() };
      }
      if (method === 'GET' && p === '/admin/config') return { status: 200, body: this.sim.config };
      if ((method === 'PATCH' || method === 'POST' || method === 'PUT') && p === '/admin/config') {
        this.sim.config = mergeConfig(this.sim.config, body);
        if (typeof body === 'object' && body !== null && 'faults' in body) this.random = mulberry32(this.sim.config.faults.seed);
        if (typeof body === 'object' && body !== null && 'rateLimit' in body) this.window = [];
        this.sim.advance();
        return { status: 200, body: this.sim.config };
      }
      if (method === 'GET' && p === '/admin/traffic') return { status: 200, body: this.trafficReport() };
      if (method === 'DELETE' && p === '/admin/traffic') {
        this.traffic = newTraffic();
        return { status: 200, body: this.trafficReport() };
      }
      if (method === 'GET' && p === '/admin/faults') return { status: 200, body: this.queue };
      if (method === 'POST' && p === '/admin/faults') {
        const list = z
          .union([
            z.object({ faults: z.array(QueuedFaultSchema) }).transform((v) => v.faults),
            z.array(QueuedFaultSchema),
            QueuedFaultSchema.transform((f) => [f]),
          ])
          .parse(body);
        for (const f of list) this.queue.push({ ...f, left: f.times });
        return { status: 200, body: this.queue };
      }
      if (method === 'DELETE' && p === '/admin/faults') {
        this.queue = [];
        return { status: 200, body: [] };
      }
      if (method === 'POST' && p === '/admin/tokens/expire') return { status: 200, body: { expired: this.sim.expireTokens() } };
      if (method === 'POST' && p === '/admin/outage') {
        const o = z.object({ active: z.boolean().default(true), durationMs: z.number().positive().optional() }).parse(body);
        this.sim.config = mergeConfig(this.sim.config, {
          faults: o.durationMs !== undefined ? { outage: false, outageUntil: Date.now() + o.durationMs } : { outage: o.active, outageUntil: null },
        });
        return { status: 200, body: this.sim.config.faults };
      }
      if (method === 'POST' && p === '/admin/reset') {
        this.sim.reset();
        this.queue = [];
        this.window = [];
        this.traffic = newTraffic();
        this.sim.flush();
        return { status: 200, body: { ok: true } };
      }
      if (method === 'POST' && p === '/admin/advance') {
        this.sim.advance();
        return { status: 200, body: { ok: true } };
      }
    } catch (e) {
      const message = e instanceof z.ZodError ? (e.issues[0]?.message ?? 'invalid') : e instanceof Error ? e.message : String(e);
      return { status: 400, body: { error: true, message } };
    }
    return { status: 404, body: { error: true, message: 'Not found' } };
  }
}
