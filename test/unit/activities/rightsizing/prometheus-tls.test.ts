/** Prometheus over https with a CA of its own: trusted with the CA option, refused (typed, no throw) without. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { PrometheusProvider } from '../../../../activities/rightsizing/prometheus';
import type { KubeGet } from '../../../../activities/rightsizing/owners';
import { matrix } from './canned-server';

const run = promisify(execFile);
const kube: KubeGet = async () => ({ ok: true, body: { items: [] } });

describe('rightsizing providers: Prometheus over TLS', () => {
  let dir: string;
  let server: https.Server;
  let url: string;
  let ca: string;
  const auth: (string | undefined)[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-prom-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    ca = fs.readFileSync(cert, 'utf8');
    server = https.createServer({ key: fs.readFileSync(key), cert: ca }, (req, res) => {
      auth.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(matrix([]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const req = { namespace: 'ns', now: Date.UTC(2026, 0, 1), windowMs: 3_600_000 };

  it('with the CA it connects and sends the bearer token (an empty namespace: InsufficientData)', async () => {
    const r = await new PrometheusProvider({ url, kube, ca, bearerToken: 't' }).collect(req);
    expect(r).to.include({ ok: false, reason: 'InsufficientData' });
    expect(auth).to.deep.equal(['Bearer t', 'Bearer t']);
  });

  it('without the CA the certificate is refused: MetricsUnavailable (Unreachable), no throw', async () => {
    const r = await new PrometheusProvider({ url, kube }).collect(req);
    expect(r).to.include({ ok: false, reason: 'MetricsUnavailable', failure: 'Unreachable' });
    expect(!r.ok && r.message).to.match(/certificate/i);
  });
});
