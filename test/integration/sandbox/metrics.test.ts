import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { z } from 'zod';
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';

const run = promisify(execFile);

/** A Kubernetes quantity as a number (bytes, cores). Enough for what metrics-server and kubectl print. */
function quantity(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  const units: Record<string, number> = {
    '': 1,
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  const unit = units[m[2] ?? ''];
  if (unit === undefined) throw new Error(`unknown quantity suffix in ${q}`);
  return Number(m[1]) * unit;
}

const Usage = z.object({ cpu: z.string(), memory: z.string() });
const PodMetrics = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string() }),
  timestamp: z.string(),
  window: z.string(),
  containers: z.array(z.object({ name: z.string(), usage: Usage })),
});
const NodeMetrics = z.object({ metadata: z.object({ name: z.string() }), usage: Usage });
const PromVector = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) })),
  }),
});

/** Polls `fn` until it returns a value (not undefined); the test's timeout bounds the wait. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, everyMs = 1000): Promise<T> {
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (process.env.DEBUG_EVENTUALLY) process.stderr.write(`      waiting for ${what}${last ? `: ${String(last)}` : ''}\n`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const MiB = 2 ** 20;

describe('sandbox usage metrics: kwok resource metrics, metrics-server (metrics.k8s.io, kubectl top), Prometheus, OOM kills', function () {
  this.timeout(240_000);
  let sb: TestSandbox;
  let custom: k8s.CustomObjectsApi;
  let node: string;
  let ns: string;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    node = await createKwokNode(sb, 'metrics-node', { cpu: '8', memory: '16Gi' });
    ns = await sb.namespace('metrics');
  });

  after(async () => {
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  async function pod(name: string, containers: k8s.V1Container[], annotations: Record<string, string>): Promise<void> {
    await sb.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name, namespace: ns, annotations }, spec: { nodeName: node, terminationGracePeriodSeconds: 0, containers } },
    });
  }

  async function podMetrics(name: string): Promise<z.infer<typeof PodMetrics>> {
    return PodMetrics.parse(await custom.getNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace: ns, plural: 'pods', name }));
  }

  async function promQuery(query: string): Promise<z.infer<typeof PromVector>['data']['result']> {
    const url = sb.endpoints.prometheus?.url;
    if (!url) throw new Error('endpoints.json has no prometheus.url');
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
    if (!r.ok) throw new Error(`Prometheus answered ${r.status}: ${await r.text()}`);
    return PromVector.parse(await r.json()).data.result;
  }

  it('endpoints.json names metrics-server and Prometheus, and the APIService is Available', async () => {
    expect(sb.endpoints.metricsServer?.apiService).to.equal('v1beta1.metrics.k8s.io');
    expect(sb.endpoints.metricsServer?.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sb.endpoints.prometheus?.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const api = sb.kc.makeApiClient(k8s.ApiregistrationV1Api);
    const svc = await api.readAPIService({ name: 'v1beta1.metrics.k8s.io' });
    expect(svc.status?.conditions?.find((c) => c.type === 'Available')?.status).to.equal('True');
  });

  it('a kwok node gets the loopback metrics address and its resource-metrics path', async () => {
    const n = await eventually('the node-metrics-endpoint stage', async () => {
      const n = await sb.core.readNode({ name: node });
      return n.status?.addresses?.some((a) => a.type === 'InternalDNS') ? n : undefined;
    });
    expect(n.status?.addresses?.filter((a) => a.type === 'InternalDNS')).to.deep.equal([{ type: 'InternalDNS', address: '127.0.0.1' }]);
    expect(n.metadata?.annotations?.['metrics.k8s.io/resource-metrics-path']).to.equal(`/metrics/nodes/${node}/metrics/resource`);
  });

  it('PodMetrics, NodeMetrics, kubectl top and Prometheus report the usage the annotations set, per container, and follow a step change', async () => {
    const name = 'steady';
    await pod(
      name,
      [
        { name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '500m', memory: '512Mi' } } },
        { name: 'sidecar', image: 'registry.k8s.io/pause:3.9' },
      ],
      {
        'kwok.x-k8s.io/usage-cpu': '250m',
        'kwok.x-k8s.io/usage-memory': '300Mi',
        'kwok.x-k8s.io/usage-cpu-sidecar': '20m',
        'kwok.x-k8s.io/usage-memory-sidecar': '40Mi',
      },
    );

    // metrics.k8s.io through the aggregation layer. CPU is a rate between two scrapes of a
    // cumulative counter, so it needs two scrapes and is compared with a tolerance.
    const pm = await eventually('PodMetrics with both containers', async () => {
      const m = await podMetrics(name);
      return m.containers.length === 2 ? m : undefined;
    });
    const byName = new Map(pm.containers.map((c) => [c.name, c.usage]));
    expect(quantity(byName.get('app')!.memory)).to.equal(300 * MiB);
    expect(quantity(byName.get('sidecar')!.memory)).to.equal(40 * MiB);
    expect(quantity(byName.get('app')!.cpu)).to.be.closeTo(0.25, 0.025);
    expect(quantity(byName.get('sidecar')!.cpu)).to.be.closeTo(0.02, 0.005);

    // The node's usage is the sum of its pods'.
    const nm = NodeMetrics.parse(await custom.getClusterCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', plural: 'nodes', name: node }));
    expect(quantity(nm.usage.memory)).to.equal(340 * MiB);

    // kubectl top, through the same API.
    const { stdout } = await run(sb.endpoints.kubectl, ['--kubeconfig', sb.kubeconfig, 'top', 'pods', '-n', ns, '--containers', '--no-headers']);
    const rows = stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    const appRow = rows.find((r) => r[0] === name && r[1] === 'app');
    expect(appRow?.[3]).to.equal('300Mi');
    expect(quantity(appRow?.[2] ?? '')).to.be.closeTo(0.25, 0.025);
    expect(rows.find((r) => r[0] === name && r[1] === 'sidecar')?.[3]).to.equal('40Mi');
    const topNodes = await run(sb.endpoints.kubectl, ['--kubeconfig', sb.kubeconfig, 'top', 'nodes', node, '--no-headers']);
    expect(topNodes.stdout).to.match(new RegExp(`^${node}\\s+\\d+m\\s+\\d+%\\s+340Mi\\s+`));

    // Prometheus, scraping kwok through its HTTP service discovery, with the kubelet's labels.
    const series = await eventually('container_memory_working_set_bytes in Prometheus', async () => {
      const r = await promQuery(`container_memory_working_set_bytes{namespace="${ns}",pod="${name}"}`);
      return r.length === 2 ? r : undefined;
    });
    const mem = new Map(series.map((s) => [s.metric.container, Number(s.value[1])]));
    expect(Object.fromEntries(mem)).to.deep.equal({ app: 300 * MiB, sidecar: 40 * MiB });
    expect(series[0]!.metric.node).to.equal(node);
    // A rate over 30 s reads low while the series is younger than that (Prometheus extrapolates
    // only half a scrape interval before the first sample): wait for 30 s of samples first.
    const cpuSeries = `container_cpu_usage_seconds_total{namespace="${ns}",pod="${name}",container="app"}`;
    await eventually('30 s of CPU samples in Prometheus', async () => {
      const r = await promQuery(`count_over_time(${cpuSeries}[40s])`);
      return r.length === 1 && Number(r[0]!.value[1]) >= 7 ? true : undefined;
    });
    const cpu = await eventually('a CPU rate in Prometheus', async () => {
      const r = await promQuery(`rate(${cpuSeries}[30s])`);
      return r.length === 1 && Number(r[0]!.value[1]) > 0 ? Number(r[0]!.value[1]) : undefined;
    });
    expect(cpu).to.be.closeTo(0.25, 0.025);

    // A step change: the next scrapes report the new usage.
    await sb.core.patchNamespacedPod(
      { name, namespace: ns, body: { metadata: { annotations: { 'kwok.x-k8s.io/usage-memory': '700Mi' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const stepped = await eventually('PodMetrics after the step', async () => {
      const m = await podMetrics(name);
      const app = m.containers.find((c) => c.name === 'app');
      return app && quantity(app.usage.memory) !== 300 * MiB ? m : undefined;
    });
    expect(quantity(stepped.containers.find((c) => c.name === 'app')!.usage.memory)).to.equal(700 * MiB);
    expect(quantity(stepped.containers.find((c) => c.name === 'sidecar')!.usage.memory)).to.equal(40 * MiB);
    const promStep = await eventually('the step in Prometheus', async () => {
      const r = await promQuery(`container_memory_working_set_bytes{namespace="${ns}",pod="${name}",container="app"}`);
      return r.length === 1 && Number(r[0]!.value[1]) !== 300 * MiB ? Number(r[0]!.value[1]) : undefined;
    });
    expect(promStep).to.equal(700 * MiB);
  });

  it('a ResourceUsage object plays a time-varying trace (a memory leak in CEL) that metrics-server follows', async () => {
    const name = 'leak-trace';
    await pod(name, [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }], { 'kwok.x-k8s.io/usage-memory': '5Mi' });
    await custom.createNamespacedCustomObject({
      group: 'kwok.x-k8s.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'resourceusages',
      body: {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ResourceUsage',
        metadata: { name, namespace: ns },
        spec: {
          usages: [
            { containers: ['app'], usage: { memory: { expression: 'Quantity("100Mi") + Quantity("1Mi") * pod.SinceSecond()' }, cpu: { value: '100m' } } },
          ],
        },
      },
    });
    const created = Date.parse((await sb.core.readNamespacedPod({ name, namespace: ns })).metadata!.creationTimestamp!.toString());
    const reading = async (): Promise<{ at: number; bytes: number } | undefined> => {
      const m = await podMetrics(name);
      const app = m.containers.find((c) => c.name === 'app');
      return app ? { at: Date.parse(m.timestamp), bytes: quantity(app.usage.memory) } : undefined;
    };
    const first = await eventually('a PodMetrics reading from the trace', async () => {
      const r = await reading();
      return r && r.bytes >= 100 * MiB ? r : undefined;
    });
    const second = await eventually('a later reading', async () => {
      const r = await reading();
      return r && r.at > first.at ? r : undefined;
    });
    expect(second.bytes, 'the leak grows').to.be.greaterThan(first.bytes);
    // 1 MiB per second of the pod's age at the scrape (the window of a scrape adds a little slack).
    for (const r of [first, second]) expect((r.bytes - 100 * MiB) / MiB).to.be.closeTo((r.at - created) / 1000, 15);
  });

  it('a container whose usage passes its memory limit is OOM-killed and restarted; one under its limit is not; a resize keeps the restart record', async () => {
    const limits = { cpu: '500m', memory: '128Mi' };
    await pod('fits', [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: limits, limits } }], {
      'kwok.x-k8s.io/usage-memory': '100Mi',
    });
    await pod(
      'leaks',
      [
        { name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: limits, limits } },
        { name: 'quiet', image: 'registry.k8s.io/pause:3.9', resources: { requests: limits, limits } },
      ],
      { 'kwok.x-k8s.io/usage-memory-app': '200Mi', 'kwok.x-k8s.io/usage-memory': '10Mi' },
    );

    const killed = await eventually('the OOM kill', async () => {
      const p = await sb.core.readNamespacedPod({ name: 'leaks', namespace: ns });
      const app = p.status?.containerStatuses?.find((c) => c.name === 'app');
      return app?.lastState?.terminated ? p : undefined;
    });
    const app = killed.status!.containerStatuses!.find((c) => c.name === 'app')!;
    expect(app.lastState?.terminated?.reason).to.equal('OOMKilled');
    expect(app.lastState?.terminated?.exitCode).to.equal(137);
    expect(app.restartCount).to.be.at.least(1);
    expect(app.state?.running, 'restarted').to.not.equal(undefined);
    expect(killed.status?.phase).to.equal('Running');
    // The other container of the pod, under its limit, was not killed.
    const quiet = killed.status!.containerStatuses!.find((c) => c.name === 'quiet')!;
    expect(quiet.restartCount).to.equal(0);
    expect(quiet.lastState?.terminated).to.equal(undefined);
    // Nor the pod under its limit (created first, so it had at least as long).
    const fits = await sb.core.readNamespacedPod({ name: 'fits', namespace: ns });
    expect(fits.status?.phase).to.equal('Running');
    expect(fits.status?.containerStatuses?.[0]?.restartCount).to.equal(0);
    expect(fits.status?.containerStatuses?.[0]?.lastState?.terminated).to.equal(undefined);
    const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=leaks' });
    expect(events.items.map((e) => e.reason)).to.include('OOMKilling');

    // Raising the limit in place (pods/resize): the new limit is actuated, the OOM record stays.
    const before = app.restartCount;
    await sb.core.patchNamespacedPodResize(
      // Requests move with the limit: a Guaranteed pod must stay Guaranteed.
      {
        name: 'leaks',
        namespace: ns,
        body: { spec: { containers: [{ name: 'app', resources: { requests: { ...limits, memory: '256Mi' }, limits: { ...limits, memory: '256Mi' } } }] } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const resized = await eventually('the resize', async () => {
      const p = await sb.core.readNamespacedPod({ name: 'leaks', namespace: ns });
      const c = p.status?.containerStatuses?.find((s) => s.name === 'app');
      return c?.resources?.limits?.memory === '256Mi' ? c : undefined;
    });
    expect(resized.restartCount).to.be.at.least(before);
    expect(resized.lastState?.terminated?.reason).to.equal('OOMKilled');
  });
});
