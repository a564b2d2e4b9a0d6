/** A local HTTP server on 127.0.0.1 answering canned bodies, recording what it was asked. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

export type Answer = { status: number; body: string } | 'hang';

export interface CannedServer {
  url: string;
  seen: Seen[];
  /** The most requests in flight at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

/** `answer` sees each request; the answer is sent after `delayMs` (or never, for 'hang'). */
export async function cannedServer(answer: (req: Seen) => Answer, delayMs = 0): Promise<CannedServer> {
  const sockets = new Set<import('node:net').Socket>();
  let inFlight = 0;
  const s: CannedServer = { url: '', seen: [], maxInFlight: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const seen: Seen = { path: u.pathname, query: u.searchParams, headers: req.headers };
    s.seen.push(seen);
    inFlight++;
    s.maxInFlight = Math.max(s.maxInFlight, inFlight);
    const a = answer(seen);
    if (a === 'hang') return;
    setTimeout(() => {
      inFlight--;
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body);
    }, delayMs);
  });
  server.on('connection', (c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = async () => {
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return s;
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export const matrix = (result: { metric: Record<string, string>; values: [number, string][] }[]): string =>
  JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } });
