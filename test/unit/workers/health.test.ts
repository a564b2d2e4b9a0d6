import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { ApiBreakerState } from '../../../clients/vpsie/api-breaker';
import { readiness, serveHealth, vpsieReadiness, type VPSieProbeClient } from '../../../workers/http';

/** A VPSie client whose health check answers as told and whose breaker is in the state told. */
function fakeClient(): VPSieProbeClient & { fail: string | undefined; breaker: ApiBreakerState; calls: number } {
  const c = {
    fail: undefined as string | undefined,
    breaker: 'closed' as ApiBreakerState,
    calls: 0,
    async healthCheck(): Promise<void> {
      c.calls += 1;
      if (c.fail) throw new Error(c.fail);
    },
    get apiBreakerState(): ApiBreakerState {
      return c.breaker;
    },
    withSignal(): VPSieProbeClient {
      return c;
    },
  };
  return c;
}

describe('Readiness (document 004: "Readiness probe (VPSie API reachable)")', () => {
  it('the VPSie check: not ready before its first answer, after a failed probe (with the error) and while the breaker is open; ready after a good probe', async () => {
    const c = fakeClient();
    c.fail = 'connect ECONNREFUSED 127.0.0.1:1';
    const r = vpsieReadiness(c, { intervalMs: 3_600_000 });
    try {
      await r.probe();
      expect(r.check().ok).to.equal(false);
      expect(r.check().detail).to.contain('VPSie API unreachable').and.contain('ECONNREFUSED');
      c.fail = undefined;
      await r.probe();
      expect(r.check()).to.include({ ok: true });
      expect(r.check().detail).to.contain('VPSie API reachable');
      c.breaker = 'open';
      expect(r.check()).to.deep.equal({ ok: false, detail: 'VPSie API circuit breaker open (its calls are refused)' });
      c.breaker = 'half_open';
      expect(r.check().ok).to.equal(true);
      // Cached: check() makes no call.
      const calls = c.calls;
      for (let i = 0; i < 10; i++) r.check();
      expect(c.calls).to.equal(calls);
    } finally {
      r.stop();
    }
    const fresh = vpsieReadiness({ ...fakeClient(), healthCheck: () => new Promise<void>(() => undefined) }, { intervalMs: 3_600_000 });
    expect(fresh.check()).to.deep.equal({ ok: false, detail: 'VPSie API not checked yet' });
    fresh.stop();
  });

  it('/readyz needs the worker and every check; the answer names the failing ones first', () => {
    const ok = { name: 'vpsie', check: () => ({ ok: true, detail: 'VPSie API reachable (checked 1s ago)' }) };
    const bad = { name: 'vpsie', check: () => ({ ok: false, detail: 'VPSie API unreachable' }) };
    expect(readiness(() => ({ ok: true, detail: 'worker RUNNING' }), [ok])).to.deep.equal({
      ok: true,
      detail: 'worker: worker RUNNING; vpsie: VPSie API reachable (checked 1s ago)',
    });
    expect(readiness(() => ({ ok: true, detail: 'worker RUNNING' }), [bad])).to.deep.equal({
      ok: false,
      detail: 'not ready: vpsie: VPSie API unreachable; worker: worker RUNNING',
    });
    expect(readiness(() => ({ ok: false, detail: 'worker STOPPED' }), [ok]).ok).to.equal(false);
  });

  it('health on its own listener: /healthz and /readyz there, /metrics only on the metrics listener; 503 with the reason', async () => {
    const s = await serveHealth('127.0.0.1:0', new Registry(), () => ({ ok: true, detail: 'worker RUNNING' }), {
      healthAddr: '127.0.0.1:0',
      checks: [{ name: 'vpsie', check: () => ({ ok: false, detail: 'VPSie API unreachable' }) }],
    });
    try {
      expect(s.healthUrl).to.not.equal(s.url);
      const get = async (u: string) => {
        const r = await fetch(u);
        return [r.status, await r.text()] as const;
      };
      expect(await get(`${s.healthUrl}/healthz`)).to.deep.equal([200, 'ok']);
      expect(await get(`${s.healthUrl}/readyz`)).to.deep.equal([503, 'not ready: vpsie: VPSie API unreachable; worker: worker RUNNING']);
      expect((await get(`${s.healthUrl}/metrics`))[0]).to.equal(404);
      expect((await get(`${s.url}/metrics`))[0]).to.equal(200);
      expect((await get(`${s.url}/healthz`))[0]).to.equal(404);
    } finally {
      await s.close();
    }
  });
});
