/** The worker's HTTP face: Prometheus /metrics, /healthz (alive) and /readyz (ready to work). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export function serveHealth(addr: string, registry: Registry, ready: () => { ok: boolean; detail: string }): Promise<HealthServer> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
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
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    } else if (path === '/readyz') {
      const r = ready();
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(r.detail);
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${a.port}`,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
