/**
 * The coordination REST API's own parts: what it accepts (bodies, bearer headers, path names),
 * its review caches, how Temporal failures reach the caller, and the server's unauthenticated
 * face. The reviews are answered by a loopback HTTP server speaking the two review APIs (the real
 * apiserver is in test/integration/coordination/rest-api.test.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { KubeReviewer, parseBearer, ReviewUnavailableError, TtlCache, tokenKey } from '../../../../starters/coordination/auth';
import { coordinationDurationHistogram } from '../../../../starters/coordination/metrics';
import { checkNamespace, checkObjectName, parseCircuitBreakerBody } from '../../../../starters/coordination/requests';
import { ApiError, parseListenAddress, startCoordinationApi, temporalFailure } from '../../../../starters/coordination/rest-api';

describe('Coordination REST API: the circuit-breaker body', () => {
  const refusal = (raw: string | undefined) => {
    const r = parseCircuitBreakerBody(raw);
    if (r.ok) throw new Error(`accepted ${raw}`);
    return r;
  };

  it('accepts {"action", "reason"} for trigger and reset', () => {
    expect(parseCircuitBreakerBody('{"action":"trigger","reason":"storm"}')).to.deep.equal({ ok: true, value: { action: 'trigger', reason: 'storm' } });
    expect(parseCircuitBreakerBody('{"reason":"calm","action":"reset"}')).to.deep.equal({ ok: true, value: { action: 'reset', reason: 'calm' } });
  });

  it('an unknown action names the field: action: action must be "trigger" or "reset"', () => {
    const r = refusal('{"action":"open","reason":"x"}');
    expect(r.field).to.equal('action');
    expect(r.message).to.equal('action: action must be "trigger" or "reset"');
  });

  it('missing, empty, too long or non-string reasons name reason', () => {
    expect(refusal('{"action":"trigger"}')).to.deep.include({ field: 'reason', message: 'reason: reason is required' });
    expect(refusal('{"action":"trigger","reason":""}')).to.deep.include({ field: 'reason', message: 'reason: reason must not be empty' });
    expect(refusal(JSON.stringify({ action: 'reset', reason: 'r'.repeat(257) }))).to.deep.include({
      field: 'reason',
      message: 'reason: reason must be at most 256 characters',
    });
    expect(refusal('{"action":"trigger","reason":5}')).to.deep.include({ field: 'reason', message: 'reason: reason must be a string' });
  });

  it('every problem is told, the first one is the field', () => {
    const r = refusal('{}');
    expect(r.field).to.equal('action');
    expect(r.message).to.equal('action: action must be "trigger" or "reset"; reason: reason is required');
  });

  it('unknown fields are refused by name, and by is not the caller’s to give', () => {
    expect(refusal('{"action":"trigger","reason":"x","force":true}')).to.deep.include({ field: 'force' });
    expect(refusal('{"action":"trigger","reason":"x","force":true}').message).to.match(/^force: unknown field/);
    expect(refusal('{"action":"trigger","reason":"x","by":"someone-else"}')).to.deep.include({ field: 'by' });
  });

  it('malformed JSON, an empty body and non-objects are refused as body', () => {
    expect(refusal('{"action":')).to.deep.include({ field: 'body' });
    expect(refusal('{"action":').message).to.match(/^body: malformed JSON/);
    expect(refusal(undefined)).to.deep.include({ field: 'body' });
    expect(refusal('   ')).to.deep.include({ field: 'body' });
    expect(refusal('[]')).to.deep.include({ field: 'body' });
    expect(refusal('null')).to.deep.include({ field: 'body' });
    expect(refusal('"trigger"')).to.deep.include({ field: 'body' });
  });
});

describe('Coordination REST API: path names', () => {
  it('a namespace is an RFC 1123 label of at most 63 characters', () => {
    expect(checkNamespace('team-a').ok).to.equal(true);
    for (const bad of ['', 'Team', 'a_b', '-a', 'a.b', 'a'.repeat(64), 'a/b'])
      expect(checkNamespace(bad), bad).to.deep.include({ ok: false, field: 'namespace' });
  });
  it('a VPANAPCoordination name is an RFC 1123 subdomain of at most 253 characters', () => {
    expect(checkObjectName('web.v2').ok).to.equal(true);
    for (const bad of ['', 'Web', 'a..b', 'a'.repeat(254), 'a b']) expect(checkObjectName(bad), bad).to.deep.include({ ok: false, field: 'name' });
  });
});

describe('Coordination REST API: bearer tokens', () => {
  it('takes the token of "Bearer <token>" (scheme in any case)', () => {
    expect(parseBearer('Bearer abc.DEF-_~+/=')).to.deep.equal({ ok: true, token: 'abc.DEF-_~+/=' });
    expect(parseBearer('bearer eyJh.eyJ.sig')).to.deep.equal({ ok: true, token: 'eyJh.eyJ.sig' });
  });
  it('refuses a missing, empty, other-scheme, two-part or garbled header, saying so', () => {
    for (const bad of [
      undefined,
      '',
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Bearer a"b',
      'Token abc',
      'Bearer\tabc',
      `Bearer ${'a'.repeat(9000)}`,
    ]) {
      const r = parseBearer(bad);
      expect(r.ok, String(bad).slice(0, 30)).to.equal(false);
      if (!r.ok) expect(r.message).to.match(/^Authorization: /);
    }
    expect(parseBearer(['Bearer a', 'Bearer b']).ok).to.equal(false);
  });
  it('the cache key is a SHA-256 of the token, not the token', () => {
    const key = tokenKey('secret-token');
    expect(key).to.match(/^[0-9a-f]{64}$/);
    expect(key).to.not.contain('secret');
  });
});

describe('Coordination REST API: the review cache (TtlCache)', () => {
  it('an entry lives ttlMs, then is gone', () => {
    let t = 1000;
    const c = new TtlCache<string>(30_000, 10, () => t);
    c.set('k', 'v');
    t += 29_999;
    expect(c.get('k')).to.equal('v');
    t += 1;
    expect(c.get('k')).to.equal(undefined);
    expect(c.size).to.equal(0);
  });
  it('holds at most maxEntries: expired entries go first, then the oldest', () => {
    let t = 0;
    const c = new TtlCache<number>(100, 3, () => t);
    c.set('a', 1);
    t = 50;
    c.set('b', 2);
    c.set('c', 3);
    t = 120; // a expired
    c.set('d', 4);
    expect([c.get('a'), c.get('b'), c.get('c'), c.get('d')]).to.deep.equal([undefined, 2, 3, 4]);
    c.set('e', 5); // full, none expired: b (the oldest) goes
    expect(c.size).to.equal(3);
    expect([c.get('b'), c.get('c'), c.get('d'), c.get('e')]).to.deep.equal([undefined, 3, 4, 5]);
  });
  it('setting a key again renews it and makes it the newest', () => {
    let t = 0;
    const c = new TtlCache<number>(100, 2, () => t);
    c.set('a', 1);
    c.set('b', 2);
    t = 60;
    c.set('a', 10);
    c.set('c', 3); // b is now the oldest
    expect([c.get('a'), c.get('b'), c.get('c')]).to.deep.equal([10, undefined, 3]);
    t = 130; // a was renewed at 60
    expect(c.get('a')).to.equal(10);
  });
});

/** A loopback server answering TokenReviews and SubjectAccessReviews, counting them. */
async function reviewServer(answer: {
  token: (token: string) => { authenticated: boolean; user?: { username: string; groups?: string[]; uid?: string } };
  access: (spec: { user: string; resourceAttributes: Record<string, string> }) => { allowed: boolean; reason?: string };
  status?: () => number;
}) {
  const calls = { token: 0, access: 0, bodies: [] as string[] };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      calls.bodies.push(raw);
      const body = JSON.parse(raw) as { spec: { token: string; user: string; resourceAttributes: Record<string, string> } };
      const code = answer.status?.() ?? 201;
      res.writeHead(code, { 'content-type': 'application/json' });
      if (code >= 400) return res.end(JSON.stringify({ kind: 'Status', code, message: 'no' }));
      if (req.url?.startsWith('/apis/authentication.k8s.io/v1/tokenreviews')) {
        calls.token++;
        res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: body.spec, status: answer.token(body.spec.token) }));
      } else {
        calls.access++;
        res.end(JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: body.spec, status: answer.access(body.spec) }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'orchestrator' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return { kc, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Coordination REST API: reviews (KubeReviewer)', () => {
  const users: Record<string, string> = { 'tok-alice': 'alice' };
  let srv: Awaited<ReturnType<typeof reviewServer>>;
  let status = 201;
  before(async () => {
    srv = await reviewServer({
      token: (t) => (users[t] ? { authenticated: true, user: { username: users[t], groups: ['devs'], uid: 'u1' } } : { authenticated: false }),
      access: (s) => (s.resourceAttributes.verb === 'get' ? { allowed: true } : { allowed: false, reason: 'RBAC: no patch' }),
      status: () => status,
    });
  });
  after(() => srv.close());

  it('a token TokenReview authenticates is cached for tokenTtlMs; an unknown token is asked every time', async () => {
    let t = 0;
    const r = new KubeReviewer({ kc: srv.kc, tokenTtlMs: 30_000, now: () => t });
    const before = srv.calls.token;
    expect(await r.authenticate('tok-alice')).to.deep.equal({ ok: true, identity: { username: 'alice', uid: 'u1', groups: ['devs'] } });
    await r.authenticate('tok-alice');
    expect(srv.calls.token - before).to.equal(1);
    t = 30_000;
    await r.authenticate('tok-alice');
    expect(srv.calls.token - before).to.equal(2);
    expect((await r.authenticate('tok-mallory')).ok).to.equal(false);
    expect((await r.authenticate('tok-mallory')).ok).to.equal(false);
    expect(srv.calls.token - before).to.equal(4);
  });

  it('a SubjectAccessReview carries the identity and the object, and its answer (allowed or denied) is cached for accessTtlMs', async () => {
    let t = 0;
    const r = new KubeReviewer({ kc: srv.kc, accessTtlMs: 10_000, now: () => t });
    const alice = { username: 'alice', uid: 'u1', groups: ['devs'] };
    const before = srv.calls.access;
    expect(await r.authorize(alice, { verb: 'get', namespace: 'ns1', name: 'web' })).to.deep.equal({ allowed: true });
    const sent = JSON.parse(srv.calls.bodies.at(-1)!) as { spec: Record<string, unknown> };
    expect(sent.spec).to.deep.equal({
      user: 'alice',
      uid: 'u1',
      groups: ['devs'],
      resourceAttributes: { group: 'platform.io', resource: 'vpanapcoordinations', verb: 'get', namespace: 'ns1', name: 'web' },
    });
    const denied = await r.authorize(alice, { verb: 'patch', namespace: 'ns1', name: 'web' });
    expect(denied).to.deep.equal({ allowed: false, reason: 'alice may not patch vpanapcoordinations.platform.io web in namespace ns1: RBAC: no patch' });
    await r.authorize(alice, { verb: 'get', namespace: 'ns1', name: 'web' });
    await r.authorize(alice, { verb: 'patch', namespace: 'ns1', name: 'web' });
    expect(srv.calls.access - before).to.equal(2);
    await r.authorize(alice, { verb: 'get', namespace: 'ns1', name: 'other' });
    expect(srv.calls.access - before).to.equal(3);
    t = 10_000;
    await r.authorize(alice, { verb: 'get', namespace: 'ns1', name: 'web' });
    expect(srv.calls.access - before).to.equal(4);
  });

  it('concurrent reviews of one token are one request', async () => {
    const r = new KubeReviewer({ kc: srv.kc });
    const before = srv.calls.token;
    const all = await Promise.all([1, 2, 3, 4].map(() => r.authenticate('tok-alice')));
    expect(all.every((a) => a.ok)).to.equal(true);
    expect(srv.calls.token - before).to.equal(1);
  });

  it('a review the apiserver refuses (403) is ReviewUnavailableError saying the orchestrator needs RBAC, and is not cached', async () => {
    const r = new KubeReviewer({ kc: srv.kc });
    status = 403;
    try {
      const e = await r.authenticate('tok-alice').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).to.be.instanceOf(ReviewUnavailableError);
      expect((e as Error).message).to.match(/TokenReview: the orchestrator's identity was refused .*HTTP 403.*tokenreviews/);
    } finally {
      status = 201;
    }
    expect((await r.authenticate('tok-alice')).ok).to.equal(true);
  });
});

describe('Coordination REST API: Temporal failures as the caller sees them', () => {
  it('a missing workflow is 404, a refused update 409, anything else 502', () => {
    expect(temporalFailure(new WorkflowNotFoundError('gone', 'wf', undefined), 'VPANAPCoordination a/b', 1000)).to.deep.include({ status: 404 });
    const refused = temporalFailure(new WorkflowUpdateFailedError('update failed', new Error('breaker disabled')), 'x', 1000);
    expect(refused).to.deep.include({ status: 409 });
    expect(refused.message).to.contain('breaker disabled');
    expect(temporalFailure(new Error('boom'), 'x', 1000)).to.deep.include({ status: 502 });
    const own = new ApiError(404, 'mine');
    expect(temporalFailure(own, 'x', 1000)).to.equal(own);
  });
  it('parses host:port listen addresses, IPv6 in brackets', () => {
    expect(parseListenAddress('127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:8443')).to.deep.equal({ host: '::1', port: 8443 });
    expect(() => parseListenAddress('8080')).to.throw(/host:port/);
    expect(() => parseListenAddress('h:99999')).to.throw(/host:port/);
  });
});

describe('Coordination REST API: the server without a cluster', function () {
  this.timeout(30_000);
  let api: Awaited<ReturnType<typeof startCoordinationApi>>;
  let connection: Connection;
  let healthy = true;
  let ready = false;
  const registry = new Registry();
  before(async () => {
    // Nothing listens on port 1: Kubernetes reviews fail, as an unreachable apiserver does.
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    connection = Connection.lazy({ address: '127.0.0.1:1' });
    api = await startCoordinationApi({
      temporal: new Client({ connection }),
      kc,
      addr: '127.0.0.1:0',
      registry,
      healthy: () => healthy,
      ready: () => ready,
    });
  });
  after(async () => {
    await api.close();
    await connection.close().catch(() => undefined);
  });

  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${api.url}${path}`, init);
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
  };

  it('/healthz and /ready answer in text, 503 when not', async () => {
    expect(await call('/healthz')).to.deep.include({ status: 200, text: 'healthy' });
    expect(await call('/ready')).to.deep.include({ status: 503, text: 'not ready' });
    ready = true;
    healthy = false;
    expect(await call('/ready')).to.deep.include({ status: 200, text: 'ready' });
    expect(await call('/healthz')).to.deep.include({ status: 503, text: 'unhealthy' });
    healthy = true;
  });

  it('/metrics is the registry in Prometheus format, with vpa_nap_coordination_duration_seconds registered once', async () => {
    expect(coordinationDurationHistogram(registry)).to.equal(coordinationDurationHistogram(registry));
    const m = await call('/metrics');
    expect(m.status).to.equal(200);
    expect(m.type).to.contain('text/plain');
    expect(m.text).to.contain('# TYPE vpa_nap_coordination_duration_seconds histogram');
  });

  it('no token or a garbled header is 401 in JSON, with WWW-Authenticate', async () => {
    const none = await call('/api/v1/coordination/ns/web');
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    expect(JSON.parse(none.text))
      .to.have.property('error')
      .that.matches(/^Authorization: /);
    expect((await call('/api/v1/conflicts', { headers: { authorization: 'Basic abc' } })).status).to.equal(401);
  });

  it('a review Kubernetes cannot answer is 503 with a message, not a crash', async () => {
    const r = await call('/api/v1/coordination/ns/web', { headers: { authorization: 'Bearer abc' } });
    expect(r.status).to.equal(503);
    expect(JSON.parse(r.text).error).to.match(/^cannot check the caller: TokenReview: the Kubernetes API did not answer/);
    expect((await call('/healthz')).status).to.equal(200);
  });

  it('a bad path name is 400 naming the field (before any review); an unknown path is 404 in JSON', async () => {
    const r = await call('/api/v1/coordination/Bad_NS/web', { headers: { authorization: 'Bearer abc' } });
    expect(r.status).to.equal(400);
    expect(JSON.parse(r.text)).to.deep.include({ field: 'namespace' });
    const q = await call('/api/v1/conflicts?ns=x');
    expect(q.status).to.equal(400);
    expect(JSON.parse(q.text)).to.deep.include({ field: 'ns' });
    const nf = await call('/api/v2/nothing');
    expect(nf.status).to.equal(404);
    expect(JSON.parse(nf.text).error).to.equal('no such endpoint: GET /api/v2/nothing');
  });

  it('a body larger than 16 KiB is 413 naming body', async () => {
    const r = await call('/api/v1/coordination/ns/web/circuit-breaker', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer abc' },
      body: JSON.stringify({ action: 'trigger', reason: 'x'.repeat(20_000) }),
    });
    expect(r.status).to.equal(413);
    expect(JSON.parse(r.text)).to.deep.include({ field: 'body' });
  });
});
