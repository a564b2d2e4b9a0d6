/**
 * A local `node:http` stand-in for the VPSie API that answers crafted bodies (unit tests of the
 * client's parsing, paging, retries and sharing), and a client on a virtual clock pointed at it.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { VPSieClient, type VPSieClientOptions } from '../../clients/vpsie/client';
import { ManualClock, type Clock } from '../../clients/vpsie/clock';
import { staticCredentials } from '../../clients/vpsie/credentials';
import { VPSieError } from '../../clients/vpsie/errors';

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
}

export interface Answer {
  status?: number;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** Wait this long (real ms) before answering. */
  delayMs?: number;
}

export type Handler = (req: Seen) => Answer;

export interface Fake {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFake(handler: Handler): Promise<Fake> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const s: Seen = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body: await readBody(req) };
      seen.push(s);
      const a = handler(s);
      if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
      if (res.destroyed) return;
      res.writeHead(a.status ?? 200, { 'Content-Type': 'application/json', ...a.headers });
      res.end(a.raw ?? JSON.stringify(a.body ?? { error: false, data: true }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function makeClient(fake: Fake, opts: Partial<VPSieClientOptions> = {}): { client: VPSieClient; clock: Clock; registry: Registry } {
  const clock = opts.clock ?? new ManualClock(Date.now());
  const registry = new Registry();
  const client = new VPSieClient({
    baseUrl: fake.url,
    credentials: staticCredentials({ kind: 'token', accessToken: 'test-token' }),
    registry,
    rateLimit: false,
    random: () => 0.5,
    clock,
    ...opts,
  });
  return { client, clock, registry };
}

export const vm = (i: number, extra: Record<string, unknown> = {}) => ({
  id: i,
  identifier: `vm-${i}`,
  hostname: `host-${i}`,
  ram: 2048,
  cpu: 2,
  ssd: 40,
  is_active: 1,
  power: 1,
  notes: null,
  ...extra,
});

export const list = (data: unknown[], total?: number) => ({ body: total === undefined ? { error: false, data } : { error: false, data, total } });

export async function rejection(p: Promise<unknown>): Promise<VPSieError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(VPSieError);
    return e as VPSieError;
  }
  throw new Error('expected a VPSieError');
}

export async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/**
 * A VM API with an empty pending queue, whose VM list answers `listAnswer(request)`, and that
 * counts the creates (POSTs) it is sent.
 */
export async function startVmApi(listAnswer: (r: Seen) => Answer): Promise<{ fake: Fake; creates: () => number }> {
  let creates = 0;
  const fake = await startFake((r) => {
    if (r.method === 'POST') {
      creates += 1;
      return {};
    }
    if (r.path === '/apps/v2/vm/pending') return list([]);
    return listAnswer(r);
  });
  return { fake, creates: () => creates };
}
