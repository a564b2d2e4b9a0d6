/**
 * The worker's HTTP face (document 004): Prometheus /metrics on the metrics address, and /healthz
 * (liveness: the process answers) and /readyz (readiness: the worker polls and every readiness
 * check passes, among them "the VPSie API is reachable") on the health address, a listener of
 * their own. Without a health address all three share the metrics listener.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ApiBreakerState } from '../clients/vpsie/api-breaker';

export interface HealthServer {
  /** The metrics listener's base URL (`/metrics`). */
  url: string;
  /** The health listener's base URL (`/healthz`, `/readyz`); the metrics URL when they share one. */
  healthUrl: string;
  close(): Promise<void>;
}

export interface ReadinessResult {
  ok: boolean;
  detail: string;
}

/** One cheap, cached readiness condition: `check` answers from what is known, without I/O. */
export interface ReadinessCheck {
  name: string;
  check(): ReadinessResult;
}

export interface ServeHealthOptions {
  /** host:port of /healthz and /readyz; undefined: on the metrics listener. */
  healthAddr?: string;
  /** Conditions /readyz also requires (each named in its answer). */
  checks?: readonly ReadinessCheck[];
}

/** /readyz's answer: ready when `ready` and every check pass; the detail names each, failures first. */
export function readiness(ready: () => ReadinessResult, checks: readonly ReadinessCheck[] = []): ReadinessResult {
  const results = [{ name: 'worker', ...ready() }, ...checks.map((c) => ({ name: c.name, ...c.check() }))];
  const failed = results.filter((r) => !r.ok);
  const line = (r: { name: string; detail: string }) => `${r.name}: ${r.detail}`;
  if (failed.length === 0) return { ok: true, detail: results.map(line).join('; ') };
  return { ok: false, detail: `not ready: ${[...failed, ...results.filter((r) => r.ok)].map(line).join('; ')}` };
}

function listen(addr: string, handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const i = addr.lastIndexOf(':');
  const [host, port] = [addr.slice(0, i), Number(addr.slice(i + 1))];
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({ url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}`, server });
    });
  });
}

export async function serveHealth(addr: string, registry: Registry, ready: () => ReadinessResult, opts: ServeHealthOptions = {}): Promise<HealthServer> {
  const metrics = (res: http.ServerResponse): void => {
    registry
      .metrics()
      .then((body) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(body);
      })
      .catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
  };
  const health = (path: string, res: http.ServerResponse): boolean => {
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return true;
    }
    if (path === '/readyz') {
      const r = readiness(ready, opts.checks);
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(r.detail);
      return true;
    }
    return false;
  };
  const notFound = (res: http.ServerResponse): void => {
    res.writeHead(404);
    res.end('not found');
  };
  const pathOf = (req: http.IncomingMessage) => (req.url ?? '/').split('?')[0] ?? '/';
  const shared = opts.healthAddr === undefined;
  const m = await listen(addr, (req, res) => {
    const p = pathOf(req);
    if (p === '/metrics') metrics(res);
    else if (!(shared && health(p, res))) notFound(res);
  });
  const close = (s: http.Server) => new Promise<void>((r) => s.close(() => r()));
  if (shared) return { url: m.url, healthUrl: m.url, close: () => close(m.server) };
  let h: { url: string; server: http.Server };
  try {
    h = await listen(opts.healthAddr!, (req, res) => {
      if (!health(pathOf(req), res)) notFound(res);
    });
  } catch (e) {
    await close(m.server);
    throw e;
  }
  return { url: m.url, healthUrl: h.url, close: async () => void (await Promise.all([close(m.server), close(h.server)])) };
}

/** What the VPSie readiness check needs of the client (clients/vpsie VPSieClient). */
export interface VPSieProbeClient {
  healthCheck(): Promise<void>;
  readonly apiBreakerState: ApiBreakerState;
  withSignal(signal: AbortSignal | undefined, deadline?: number): VPSieProbeClient;
}

export interface VPSieReadiness extends ReadinessCheck {
  /** Probes now (and resolves when the answer is in). */
  probe(): Promise<void>;
  stop(): void;
}

/**
 * "VPSie API reachable" (document 004's readiness probe), cached: one authenticated GET
 * (`healthCheck`, the cheapest call) at start and every `intervalMs` (a few requests an hour of
 * the account's 100 a minute), each bounded by `timeoutMs`. Not ready before the first answer,
 * after a failed probe, or while the client's circuit breaker is open (its calls are refused).
 */
export function vpsieReadiness(client: VPSieProbeClient, o: { intervalMs: number; timeoutMs?: number; now?: () => number }): VPSieReadiness {
  const now = o.now ?? Date.now;
  let last: { ok: boolean; at: number; error?: string } | undefined;
  let inFlight: Promise<void> | undefined;
  const probe = (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        await client.withSignal(AbortSignal.timeout(o.timeoutMs ?? 10_000)).healthCheck();
        last = { ok: true, at: now() };
      } catch (e) {
        last = { ok: false, at: now(), error: e instanceof Error ? e.message : String(e) };
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
  const timer = setInterval(() => void probe(), Math.max(100, o.intervalMs));
  timer.unref();
  void probe();
  return {
    name: 'vpsie',
    probe,
    stop: () => clearInterval(timer),
    check(): ReadinessResult {
      const ago = (t: number) => `${Math.round((now() - t) / 1000)}s ago`;
      if (client.apiBreakerState === 'open') return { ok: false, detail: 'VPSie API circuit breaker open (its calls are refused)' };
      if (!last) return { ok: false, detail: 'VPSie API not checked yet' };
      if (!last.ok) return { ok: false, detail: `VPSie API unreachable (checked ${ago(last.at)}): ${last.error ?? 'error'}` };
      return { ok: true, detail: `VPSie API reachable (checked ${ago(last.at)})` };
    },
  };
}
