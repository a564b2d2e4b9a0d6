/**
 * The providers end to end against a local HTTP server answering canned bodies: one query per
 * namespace and resource, grouping per (workload, container), credentials sent, bounded
 * concurrency, and every backend failure a typed outcome (no throw) that is counted.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { MetricsServerProvider } from '../../../../activities/rightsizing/metrics-server';
import type { KubeGet } from '../../../../activities/rightsizing/owners';
import { PrometheusProvider, prometheusAuthFromSecret, type PrometheusProviderOptions } from '../../../../activities/rightsizing/prometheus';
import type { UsageOutcome, UsageProvider } from '../../../../activities/rightsizing/provider';
import { usageActivities } from '../../../../activities/rightsizing/usage';
import { cannedServer, closedPort, matrix, type Answer, type CannedServer, type Seen } from './canned-server';

const H = 3_600_000;
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const rs = (name: string, deployment: string) => ({
  metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, controller: true }] },
});
const pod = (name: string, kind: string, owner: string) => ({
  metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind, name: owner, controller: true }] },
});

/** A fake apiserver for the owner lists (and PodMetrics): path → body or failure. */
function fakeKube(paths: Record<string, unknown>, calls: string[] = []): KubeGet {
  return async (path) => {
    calls.push(path);
    const body = paths[path];
    if (body === undefined) return { ok: false, failure: 'HttpError', status: 404, message: `GET ${path}: HTTP 404` };
    if (body instanceof Error) return { ok: false, failure: 'HttpError', status: 503, message: body.message };
    return { ok: true, body };
  };
}

const ownerPaths = (ns: string) => ({
  [`/api/v1/namespaces/${ns}/pods`]: {
    items: [
      pod('web-7f9c-aaaaa', 'ReplicaSet', 'web-7f9c'),
      pod('web-7f9c-bbbbb', 'ReplicaSet', 'web-7f9c'),
      pod('db-0', 'StatefulSet', 'db'),
      { metadata: { name: 'bare' } },
    ],
  },
  [`/apis/apps/v1/namespaces/${ns}/replicasets`]: { items: [rs('web-7f9c', 'web')] },
});

const cpuBody = matrix([
  {
    metric: { namespace: 'ns', pod: 'web-7f9c-aaaaa', container: 'app' },
    values: [
      [1000, '0.25'],
      [1060, '0.3'],
    ],
  },
  {
    metric: { namespace: 'ns', pod: 'web-7f9c-bbbbb', container: 'app' },
    values: [
      [1000, '0.2'],
      [1060, 'NaN'],
    ],
  },
  { metric: { namespace: 'ns', pod: 'db-0', container: 'postgres' }, values: [[1000, '1']] },
  { metric: { namespace: 'ns', pod: 'bare', container: 'c' }, values: [[1000, '1']] },
]);
const memBody = matrix([
  { metric: { namespace: 'ns', pod: 'web-7f9c-aaaaa', container: 'app' }, values: [[1000, '314572800']] },
  { metric: { namespace: 'ns', pod: 'web-7f9c-bbbbb', container: 'app' }, values: [[1000, '209715200']] },
]);

/** The count of optipod_metrics_collection_duration_seconds{provider}. */
async function collections(registry: Registry, provider: string): Promise<number | undefined> {
  const m = new RegExp(`^optipod_metrics_collection_duration_seconds_count\\{provider="${provider}"\\} (\\d+)$`, 'm').exec(await registry.metrics());
  return m ? Number(m[1]) : undefined;
}

const byQuery =
  (cpu: Answer, mem: Answer) =>
  (s: Seen): Answer =>
    s.query.get('query')?.includes('container_cpu_usage_seconds_total') ? cpu : mem;

describe('rightsizing providers: Prometheus provider over HTTP', () => {
  let server: CannedServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const provider = (o: Partial<PrometheusProviderOptions> & { url: string }, registry = new Registry()) =>
    new PrometheusProvider({ kube: fakeKube(ownerPaths('ns')), registry, stepMs: 60_000, memoryIntervalMs: H, ...o });

  it('two range queries for the namespace (one per resource, however many containers), samples per (workload, container)', async () => {
    server = await cannedServer(byQuery({ status: 200, body: cpuBody }, { status: 200, body: memBody }));
    const registry = new Registry();
    const r = await provider({ url: server.url }, registry).collect({ namespace: 'ns', now: NOW, windowMs: 2 * H });
    expect(server.seen.map((s) => s.path)).to.deep.equal(['/api/v1/query_range', '/api/v1/query_range']);
    expect(server.seen.map((s) => s.query.get('query')!).every((q) => q.includes('namespace="ns"'))).to.equal(true);
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.unowned).to.deep.equal(['bare']);
    expect(r.droppedPoints).to.equal(1);
    expect(r.containers.map((c) => [c.workload, c.container, c.pods])).to.deep.equal([
      [{ kind: 'Deployment', namespace: 'ns', name: 'web' }, 'app', ['web-7f9c-aaaaa', 'web-7f9c-bbbbb']],
      [{ kind: 'StatefulSet', namespace: 'ns', name: 'db' }, 'postgres', ['db-0']],
    ]);
    const web = r.containers[0]!;
    expect(web.cpu).to.deep.equal([
      [1_000_000, 200],
      [1_000_000, 250],
      [1_060_000, 300],
    ]);
    expect(web.memory).to.deep.equal([
      [1_000_000, 209715200],
      [1_000_000, 314572800],
    ]);
    expect(await collections(registry, 'prometheus')).to.equal(1);
    expect(JSON.parse(JSON.stringify(r)), 'the outcome is plain JSON (an activity result)').to.deep.equal(r);
  });

  it('sends the bearer token, or basic auth', async () => {
    server = await cannedServer(() => ({ status: 200, body: matrix([]) }));
    await provider({ url: server.url, bearerToken: 's3cret' }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    await provider({ url: server.url, basicAuth: { username: 'u', password: 'p:w' } }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect(server.seen.map((s) => s.headers.authorization)).to.deep.equal([
      'Bearer s3cret',
      'Bearer s3cret',
      `Basic ${Buffer.from('u:p:w').toString('base64')}`,
      `Basic ${Buffer.from('u:p:w').toString('base64')}`,
    ]);
  });

  it('reads credentials from a Secret: token, username/password, ca.crt', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const asked: unknown[] = [];
    const core = {
      readNamespacedSecret: async (req: { name: string; namespace: string }) => (
        asked.push(req),
        { data: { token: b64('tok\n'), username: b64('u'), password: b64('p'), 'ca.crt': b64('-----BEGIN CERTIFICATE-----') } }
      ),
    };
    const auth = await prometheusAuthFromSecret(core as unknown as Parameters<typeof prometheusAuthFromSecret>[0], 'optipod', 'prom-auth');
    expect(asked).to.deep.equal([{ name: 'prom-auth', namespace: 'optipod' }]);
    expect(auth).to.deep.equal({ bearerToken: 'tok', basicAuth: { username: 'u', password: 'p' }, ca: '-----BEGIN CERTIFICATE-----' });
  });

  const unavailable = async (r: Promise<UsageOutcome>) => {
    const o = await r;
    expect(o.ok).to.equal(false);
    if (o.ok) throw new Error('expected a skip');
    expect(o.reason).to.equal('MetricsUnavailable');
    return o;
  };

  it('a closed port is MetricsUnavailable (Unreachable), counted in optipod_reconciliation_errors_total, no throw', async () => {
    const registry = new Registry();
    const o = await unavailable(
      provider({ url: `http://127.0.0.1:${await closedPort()}` }, registry).collect({ namespace: 'ns', now: NOW, windowMs: H, policy: 'ns/p' }),
    );
    expect(o.failure).to.equal('Unreachable');
    expect(o.message).to.contain('ECONNREFUSED');
    const errs = (await registry.getSingleMetric('optipod_reconciliation_errors_total')!.get()).values;
    expect(errs).to.deep.equal([{ value: 1, labels: { policy: 'ns/p', error_type: 'Unreachable' } }]);
  });

  it('status:"error", HTTP 503 and garbage are MetricsUnavailable with their failure', async () => {
    server = await cannedServer(
      byQuery({ status: 200, body: cpuBody }, { status: 422, body: JSON.stringify({ status: 'error', errorType: 'execution', error: 'query timed out' }) }),
    );
    expect((await unavailable(provider({ url: server.url }).collect({ namespace: 'ns', now: NOW, windowMs: H }))).failure).to.equal('QueryError');
    await server.close();
    server = await cannedServer(() => ({ status: 503, body: 'upstream down' }));
    expect((await unavailable(provider({ url: server.url }).collect({ namespace: 'ns', now: NOW, windowMs: H }))).failure).to.equal('HttpError');
    await server.close();
    server = await cannedServer(() => ({ status: 200, body: '{"status":"success","data":' }));
    expect((await unavailable(provider({ url: server.url }).collect({ namespace: 'ns', now: NOW, windowMs: H }))).failure).to.equal('InvalidResponse');
  });

  it('a Prometheus that never answers is MetricsUnavailable (Timeout) after the per-request timeout', async () => {
    server = await cannedServer(() => 'hang');
    const o = await unavailable(provider({ url: server.url, timeoutMs: 300 }).collect({ namespace: 'ns', now: NOW, windowMs: H }));
    expect(o.failure).to.equal('Timeout');
  });

  it('cancellation by the caller throws (the activity is cancelled, not skipped)', async () => {
    server = await cannedServer(() => 'hang');
    const ac = new AbortController();
    const p = provider({ url: server.url, timeoutMs: 60_000 }).collect({ namespace: 'ns', now: NOW, windowMs: H }, ac.signal);
    setTimeout(() => ac.abort(new Error('activity cancelled')), 50);
    let thrown: unknown;
    await p.catch((e: unknown) => (thrown = e));
    expect(String(thrown)).to.contain('activity cancelled');
  });

  it('no series, or only NaN, is InsufficientData; series of pods without a workload too', async () => {
    server = await cannedServer(() => ({ status: 200, body: matrix([]) }));
    const none = await provider({ url: server.url }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect(none).to.include({ ok: false, reason: 'InsufficientData' });
    await server.close();
    server = await cannedServer(() => ({
      status: 200,
      body: matrix([
        {
          metric: { namespace: 'ns', pod: 'web-7f9c-aaaaa', container: 'app' },
          values: [
            [1, 'NaN'],
            [2, '+Inf'],
          ],
        },
      ]),
    }));
    const nan = await provider({ url: server.url }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect(nan).to.include({ ok: false, reason: 'InsufficientData' });
    expect(!nan.ok && nan.message).to.contain('4 NaN/Inf points dropped');
    await server.close();
    server = await cannedServer(() => ({ status: 200, body: matrix([{ metric: { namespace: 'ns', pod: 'bare', container: 'c' }, values: [[1, '1']] }]) }));
    const bare = await provider({ url: server.url }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect(bare).to.include({ ok: false, reason: 'InsufficientData' });
  });

  it('requests in flight never exceed the concurrency, over every caller of one provider', async () => {
    server = await cannedServer(() => ({ status: 200, body: matrix([]) }), 20);
    const p = provider({ url: server.url, concurrency: 2 });
    await Promise.all(['a', 'b', 'c', 'd'].map((ns) => p.collect({ namespace: ns, now: NOW, windowMs: H })));
    expect(server.seen).to.have.length(8);
    expect(server.maxInFlight).to.equal(2);
  });
});

describe('rightsizing providers: metrics-server provider', () => {
  const podMetrics = (name: string, containers: [string, string, string][]) => ({
    metadata: { name, namespace: 'ns' },
    timestamp: '2026-01-01T12:00:00Z',
    window: '10s',
    containers: containers.map(([n, cpu, memory]) => ({ name: n, usage: { cpu, memory } })),
  });
  const metricsPath = '/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods';

  it('one PodMetrics list, one pod list and one ReplicaSet list per namespace; current samples per (workload, container)', async () => {
    const calls: string[] = [];
    const kube = fakeKube(
      {
        ...ownerPaths('ns'),
        [metricsPath]: {
          items: [
            podMetrics('web-7f9c-aaaaa', [
              ['app', '250123456n', '300Mi'],
              ['sidecar', '20m', '40Mi'],
            ]),
            podMetrics('web-7f9c-bbbbb', [
              ['app', '200m', '200Mi'],
              ['sidecar', '10m', '30Mi'],
            ]),
            podMetrics('bare', [['c', '1', '1Gi']]),
          ],
        },
      },
      calls,
    );
    const registry = new Registry();
    const r = await new MetricsServerProvider({ kube, registry }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect([...calls].sort()).to.deep.equal(['/api/v1/namespaces/ns/pods', '/apis/apps/v1/namespaces/ns/replicasets', metricsPath]);
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.unowned).to.deep.equal(['bare']);
    const at = Date.parse('2026-01-01T12:00:00Z');
    const app = r.containers.find((c) => c.container === 'app')!;
    expect(app.workload).to.deep.equal({ kind: 'Deployment', namespace: 'ns', name: 'web' });
    expect(app.pods).to.deep.equal(['web-7f9c-aaaaa', 'web-7f9c-bbbbb']);
    expect(app.cpu.map(([t, v]) => [t, Math.round(v * 1000) / 1000])).to.deep.equal([
      [at, 200],
      [at, 250.123],
    ]);
    expect(app.memory).to.deep.equal([
      [at, 200 * 2 ** 20],
      [at, 300 * 2 ** 20],
    ]);
    expect(r.containers.find((c) => c.container === 'sidecar')!.memory).to.deep.equal([
      [at, 30 * 2 ** 20],
      [at, 40 * 2 ** 20],
    ]);
    expect(await collections(registry, 'metrics-server')).to.equal(1);
  });

  it('a pod metrics-server has not scraped twice yet (timestamp null, no containers) is left out, not a malformed answer', async () => {
    // as metrics-server v0.8.0 answers while warming up
    const warming = { metadata: { name: 'web-7f9c-aaaaa', namespace: 'ns' }, timestamp: null, window: '0s', containers: [] };
    const kube = fakeKube({ ...ownerPaths('ns'), [metricsPath]: { items: [warming, podMetrics('web-7f9c-bbbbb', [['app', '200m', '200Mi']])] } });
    const r = await new MetricsServerProvider({ kube }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect(r.ok && r.containers.map((c) => [c.container, c.pods])).to.deep.equal([['app', ['web-7f9c-bbbbb']]]);
    const onlyWarming = await new MetricsServerProvider({ kube: fakeKube({ ...ownerPaths('ns'), [metricsPath]: { items: [warming] } }) }).collect({
      namespace: 'ns',
      now: NOW,
      windowMs: H,
    });
    expect(onlyWarming).to.include({ ok: false, reason: 'InsufficientData' });
  });

  it('metrics.k8s.io unavailable (503, APIService down) or malformed is MetricsUnavailable and counted; no PodMetrics is InsufficientData', async () => {
    const registry = new Registry();
    const down = await new MetricsServerProvider({
      kube: fakeKube({ ...ownerPaths('ns'), [metricsPath]: new Error('HTTP 503: service unavailable') }),
      registry,
    }).collect({ namespace: 'ns', now: NOW, windowMs: H });
    expect(down).to.include({ ok: false, reason: 'MetricsUnavailable', failure: 'HttpError' });
    const bad = await new MetricsServerProvider({ kube: fakeKube({ ...ownerPaths('ns'), [metricsPath]: { items: [{ metadata: {} }] } }), registry }).collect({
      namespace: 'ns',
      now: NOW,
      windowMs: H,
    });
    expect(bad).to.include({ ok: false, reason: 'MetricsUnavailable', failure: 'InvalidResponse' });
    const errs = (await registry.getSingleMetric('optipod_reconciliation_errors_total')!.get()).values.map((v) => [v.labels.error_type, v.value]);
    expect(errs).to.deep.equal([
      ['HttpError', 1],
      ['InvalidResponse', 1],
    ]);
    const empty = await new MetricsServerProvider({ kube: fakeKube({ ...ownerPaths('ns'), [metricsPath]: { items: [] } }) }).collect({
      namespace: 'ns',
      now: NOW,
      windowMs: H,
    });
    expect(empty).to.include({ ok: false, reason: 'InsufficientData' });
  });
});

describe('rightsizing providers: the collectUsage activity', () => {
  const fake = (name: 'prometheus' | 'metrics-server', asked: string[]): UsageProvider => ({
    name,
    collect: async (req) => (
      asked.push(`${name}:${req.namespace}:${req.windowMs}`),
      { ok: false, provider: name, namespace: req.namespace, reason: 'InsufficientData', message: 'none' }
    ),
  });

  it('asks the policy’s provider, else the default; an unconfigured provider is MetricsUnavailable (NotConfigured); bad input is refused', async () => {
    const asked: string[] = [];
    const registry = new Registry();
    const a = usageActivities({ providers: { 'metrics-server': fake('metrics-server', asked) }, defaultProvider: 'metrics-server', registry });
    await a.collectUsage({ namespace: 'ns', now: NOW, windowMs: H });
    await a.collectUsage({ provider: 'metrics-server', namespace: 'ns2', now: NOW, windowMs: 2 * H });
    expect(asked).to.deep.equal([`metrics-server:ns:${H}`, `metrics-server:ns2:${2 * H}`]);
    expect(await a.collectUsage({ provider: 'prometheus', namespace: 'ns', now: NOW, windowMs: H, policy: 'ns/p' })).to.include({
      ok: false,
      reason: 'MetricsUnavailable',
      failure: 'NotConfigured',
    });
    expect(await registry.metrics()).to.contain('optipod_reconciliation_errors_total{policy="ns/p",error_type="NotConfigured"} 1');
    let thrown: unknown;
    await a.collectUsage({ namespace: '', now: NOW, windowMs: H }).catch((e: unknown) => (thrown = e));
    expect(thrown, 'an empty namespace is a programming error, refused by zod').to.be.instanceOf(Error);
  });
});
