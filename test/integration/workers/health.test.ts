/**
 * The orchestrator's health endpoints on the sandbox (document 004): /healthz (liveness) and
 * /readyz (readiness: "VPSie API reachable") on a listener of their own, apart from /metrics.
 * The VPSie API is reached through a TCP relay the test closes and opens again on the same port:
 * a real unreachable endpoint (connection refused), then reachable again.
 */
import net from 'node:net';
import { expect } from 'chai';
import type { Orchestrator } from '../../../workers/orchestrator';
import { sharedSandbox, type TestSandbox } from '../../support/sandbox';
import { eventually, startTestOrchestrator } from '../../support/orchestrator';

/** A TCP relay on a fixed loopback port to `target`; `stop` closes it (and its connections), `start` listens again on the same port. */
class Relay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}

  start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.sockets) c.destroy();
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}

describe('Orchestrator health endpoints (document 004): /healthz, and /readyz following the VPSie API', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let orch: Orchestrator | undefined;
  let relay: Relay | undefined;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });
  after(async () => {
    await orch?.stop();
    await relay?.stop();
  });

  const get = async (url: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  };

  it('/readyz is 503 with the reason while the VPSie API is unreachable and 200 once it answers again; /healthz stays 200; health and metrics listen apart', async () => {
    const vpsie = new URL(sb.endpoints.vpsie!.url);
    relay = new Relay({ host: vpsie.hostname, port: Number(vpsie.port) });
    await relay.start();
    const ns = await sb.namespace('health');
    orch = await startTestOrchestrator(sb, ns, sb.taskQueue('health'), {
      env: { VPSIE_URL: `${vpsie.protocol}//127.0.0.1:${relay.port}`, VPSIE_READY_CHECK_SECONDS: '1', GC_INTERVAL_SECONDS: '3600', COORDINATION_API_ADDR: '' },
    });
    const o = orch;

    // Apart: health on its own listener, metrics on theirs.
    expect(o.healthUrl).to.be.a('string').and.not.equal('');
    expect(o.healthUrl).to.not.equal(o.metricsUrl);
    expect((await get(`${o.healthUrl}/metrics`)).status).to.equal(404);
    expect((await get(`${o.metricsUrl}/readyz`)).status).to.equal(404);
    expect((await get(`${o.metricsUrl}/metrics`)).status).to.equal(200);

    const ready = await eventually('/readyz 200 with the VPSie API reachable', 120_000, async () => {
      const r = await get(`${o.healthUrl}/readyz`);
      return r.status === 200 ? r : undefined;
    });
    expect(ready.body).to.contain('vpsie: VPSie API reachable').and.contain('worker RUNNING');
    expect((await get(`${o.healthUrl}/healthz`)).status).to.equal(200);

    // The VPSie endpoint goes away (connection refused on its port).
    await relay.stop();
    const down = await eventually('/readyz 503 with the VPSie API unreachable', 120_000, async () => {
      const r = await get(`${o.healthUrl}/readyz`);
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).to.match(/^not ready: vpsie: VPSie API (unreachable|circuit breaker open)/);
    // Liveness does not follow VPSie: the process is alive.
    const live = await get(`${o.healthUrl}/healthz`);
    expect(live).to.deep.equal({ status: 200, body: 'ok' });

    // Back on the same port.
    await relay.start();
    const again = await eventually('/readyz 200 again', 180_000, async () => {
      const r = await get(`${o.healthUrl}/readyz`);
      return r.status === 200 ? r : undefined;
    });
    expect(again.body).to.contain('VPSie API reachable');
  });
});
