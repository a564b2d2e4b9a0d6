/**
 * Temporal for real: the orchestrator reaches a Temporal frontend that demands mutual TLS, with
 * the certificate files of its configuration (TEMPORAL_TLS_CA / _CERT / _KEY, as a mounted Secret
 * gives them). The frontend is the sandbox's Temporal behind a TLS terminator (node:tls, ALPN h2)
 * that requires a client certificate of its own CA — the dev server speaks no TLS itself.
 * Without the client certificate, or without the CA, the connection is refused; with them, a
 * NodeGroup's node is created and Ready through it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { expect } from 'chai';
import { clientConnectionOptions, temporalConnectionSettings } from '../../../lib/temporal-connection';
import type { Orchestrator } from '../../../workers/orchestrator';
import { createGroup, deleteGroup, eventually, groupVNs, startTestOrchestrator } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

const run = promisify(execFile);

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A CA, a serving certificate for 127.0.0.1 and a client certificate, all signed by it. */
async function makePki(dir: string): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'otherCa', string>> {
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=temporal-test-ca']);
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=other-ca']);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'vpsie-orchestrator'],
  ] as const) {
    await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    await openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ]);
  }
  const p = (f: string): string => path.join(dir, f);
  return {
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCa: p('other.crt'),
  };
}

describe('Temporal over mutual TLS (TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let dir: string;
  let pki: Awaited<ReturnType<typeof makePki>>;
  let proxy: tls.Server;
  let address: string;
  let handshakes = { ok: 0, refused: 0 };
  const orchestrators: Orchestrator[] = [];

  before(async () => {
    sb = await sharedSandbox();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
    pki = await makePki(dir);
    const [host, port] = sb.endpoints.temporal.address.split(':') as [string, string];
    proxy = tls.createServer(
      {
        key: fs.readFileSync(pki.serverKey),
        cert: fs.readFileSync(pki.serverCert),
        ca: fs.readFileSync(pki.ca),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (socket) => {
        handshakes.ok++;
        const upstream = net.connect(Number(port), host);
        socket.pipe(upstream).pipe(socket);
        const close = (): void => {
          socket.destroy();
          upstream.destroy();
        };
        socket.on('error', close);
        upstream.on('error', close);
      },
    );
    proxy.on('tlsClientError', () => handshakes.refused++);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    address = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  });

  after(async () => {
    for (const o of orchestrators) await o.stop().catch(() => undefined);
    proxy?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const tryConnect = async (auth: Parameters<typeof temporalConnectionSettings>[1]): Promise<string> => {
    try {
      const c = await Connection.connect({ ...clientConnectionOptions(temporalConnectionSettings(address, auth)), connectTimeout: '5s' });
      try {
        await c.workflowService.describeNamespace({ namespace: sb.endpoints.temporal.namespace });
        return 'ok';
      } finally {
        await c.close();
      }
    } catch (err) {
      return `refused: ${err instanceof Error ? err.message : String(err)}`;
    }
  };

  it('without the client certificate the handshake is refused; without the CA the server is not trusted; with both the namespace answers', async () => {
    handshakes = { ok: 0, refused: 0 };
    expect(await tryConnect({ TEMPORAL_TLS_CA: pki.ca })).to.match(/^refused/);
    expect(await tryConnect({ TEMPORAL_TLS_CA: pki.otherCa, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey })).to.match(/^refused/);
    expect(await tryConnect({ TEMPORAL_TLS_CA: pki.ca, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey })).to.equal('ok');
    expect(handshakes.ok, 'only the connection with the client certificate got through').to.be.greaterThan(0);
  });

  it("the orchestrator runs through it: its worker polls and a NodeGroup's node is created and Ready", async () => {
    const ns = await sb.namespace('tls');
    const before = handshakes.ok;
    const o = await startTestOrchestrator(sb, ns, sb.taskQueue('tls'), {
      temporalAddress: address,
      env: { TEMPORAL_TLS_CA: pki.ca, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey },
    });
    orchestrators.push(o);
    const group = uniqueName('ng');
    await createGroup(sb, ns, group, { minNodes: 1, maxNodes: 1 });
    await eventually('a Ready node', 120_000, async () => ((await groupVNs(sb, ns, group)).some((v) => v.phase === 'Ready') ? true : undefined));
    // the client and the worker's native connection, both through the TLS terminator
    expect(handshakes.ok - before, 'connections through the TLS terminator').to.be.greaterThanOrEqual(2);
    await deleteGroup(sb, ns, group);
  });
});
