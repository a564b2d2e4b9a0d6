/**
 * The usage providers against the sandbox's real metrics-server (metrics.k8s.io through the
 * aggregation layer) and real Prometheus (scraping kwok's simulated kubelets): a Deployment of two
 * replicas whose usage comes from kwok annotations gives samples per (Deployment, container) that
 * match the annotations; a provider pointed at a closed port is MetricsUnavailable without a
 * throw; a namespace without pods is InsufficientData.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { MetricsServerProvider } from '../../../activities/rightsizing/metrics-server';
import { kubeGetter } from '../../../activities/rightsizing/owners';
import { PrometheusProvider } from '../../../activities/rightsizing/prometheus';
import type { ContainerUsage, UsageOutcome, UsageProvider } from '../../../activities/rightsizing/provider';
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';

const MiB = 2 ** 20;
const H = 3_600_000;

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Polls `fn` until it returns a value; the test's timeout bounds the wait. */
async function eventually<T>(fn: () => Promise<T | undefined>, everyMs = 2000): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe('rightsizing providers against the sandbox: real metrics-server and Prometheus', function () {
  this.timeout(240_000);
  let sb: TestSandbox;
  let node: string;
  let ns: string;
  let empty: string;
  let pods: string[];
  const registry = new Registry();
  let metricsServer: MetricsServerProvider;
  let prometheus: PrometheusProvider;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    node = await createKwokNode(sb, 'rs-providers-node', { cpu: '8', memory: '16Gi' });
    ns = await sb.namespace('rs-providers');
    empty = await sb.namespace('rs-empty');
    const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web', namespace: ns },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: {
              labels,
              annotations: {
                'kwok.x-k8s.io/usage-cpu': '250m',
                'kwok.x-k8s.io/usage-memory': '300Mi',
                'kwok.x-k8s.io/usage-cpu-sidecar': '20m',
                'kwok.x-k8s.io/usage-memory-sidecar': '40Mi',
              },
            },
            spec: {
              nodeName: node,
              terminationGracePeriodSeconds: 0,
              containers: [
                { name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '500m', memory: '512Mi' } } },
                { name: 'sidecar', image: 'registry.k8s.io/pause:3.9' },
              ],
            },
          },
        },
      },
    });
    pods = await eventually(async () => {
      const list = await sb.core.listNamespacedPod({ namespace: ns });
      const running = list.items.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata!.name!);
      return running.length === 2 ? running.sort() : undefined;
    }, 500);
    const url = sb.endpoints.prometheus?.url;
    if (!url) throw new Error('endpoints.json has no prometheus.url');
    const kube = kubeGetter(sb.kc);
    metricsServer = new MetricsServerProvider({ kube, registry });
    // a 30 s CPU step (six 5 s scrapes per rate), one-minute memory peaks
    prometheus = new PrometheusProvider({ url, kube, registry, stepMs: 30_000, memoryIntervalMs: 60_000 });
  });

  after(async () => {
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  const collect = (p: UsageProvider, namespace: string): Promise<UsageOutcome> =>
    p.collect({ namespace, now: Date.now(), windowMs: H, policy: `${namespace}/test` });

  /** Waits until the provider has samples of both replicas for both containers, the latest instant's CPU above zero. */
  async function samplesOfBothReplicas(p: UsageProvider): Promise<ContainerUsage[]> {
    return eventually(async () => {
      const r = await collect(p, ns);
      if (!r.ok) return undefined;
      const ready = ['app', 'sidecar'].every((name) => {
        const c = r.containers.find((x) => x.container === name);
        if (!c || c.pods.length !== 2) return false;
        const lastT = c.cpu.at(-1)?.[0];
        const last = c.cpu.filter(([t]) => t === lastT);
        return last.length === 2 && last.every(([, v]) => v > 0) && c.memory.length >= 2;
      });
      return ready ? r.containers : undefined;
    });
  }

  function expectMatchesAnnotations(containers: ContainerUsage[]): void {
    expect(containers.map((c) => [c.workload, c.container, c.pods])).to.deep.equal([
      [{ kind: 'Deployment', namespace: ns, name: 'web' }, 'app', pods],
      [{ kind: 'Deployment', namespace: ns, name: 'web' }, 'sidecar', pods],
    ]);
    const [app, sidecar] = containers as [ContainerUsage, ContainerUsage];
    const lastT = app.cpu.at(-1)![0];
    const lastApp = app.cpu.filter(([t]) => t === lastT).map(([, v]) => v);
    expect(lastApp).to.have.length(2);
    for (const v of lastApp) expect(v, 'app CPU (millicores)').to.be.closeTo(250, 25);
    const lastSidecarT = sidecar.cpu.at(-1)![0];
    for (const [, v] of sidecar.cpu.filter(([t]) => t === lastSidecarT)) expect(v, 'sidecar CPU (millicores)').to.be.closeTo(20, 5);
    // the working set is steady, so every sample (or per-interval peak) is the annotation
    expect(new Set(app.memory.map(([, v]) => v))).to.deep.equal(new Set([300 * MiB]));
    expect(new Set(sidecar.memory.map(([, v]) => v))).to.deep.equal(new Set([40 * MiB]));
  }

  it('metrics-server: the current sample of each replica per (Deployment, container), as the annotations set', async () => {
    const containers = await samplesOfBothReplicas(metricsServer);
    expectMatchesAnnotations(containers);
    // metrics-server keeps no history: one sample per replica and container
    for (const c of containers) {
      expect(c.cpu).to.have.length(2);
      expect(c.memory).to.have.length(2);
    }
  });

  it('Prometheus: step-sized CPU rates and per-interval memory peaks per (Deployment, container), as the annotations set', async () => {
    const containers = await samplesOfBothReplicas(prometheus);
    expectMatchesAnnotations(containers);
    // every CPU point is a 30 s rate at a 30 s step: timestamps on the step grid
    for (const c of containers) for (const [t] of c.cpu) expect(t % 30_000).to.equal(0);
    // memory peaks: one per 60 s interval, the newest ending at now on the CPU step grid (not on a
    // 60 s grid of their own, which would leave the newest interval unasked for)
    for (const c of containers) {
      for (const [t] of c.memory) expect(t % 30_000).to.equal(0);
      const ts = [...new Set(c.memory.map(([t]) => t))].sort((a, b) => a - b);
      for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!, 'peaks one interval apart').to.equal(60_000);
    }
    expect(await registry.metrics()).to.match(/^optipod_metrics_collection_duration_seconds_count\{provider="prometheus"\} [1-9]/m);
  });

  it('pointed at a closed port, both providers answer MetricsUnavailable (no throw), counted as errors', async () => {
    const port = await closedPort();
    const prom = await collect(new PrometheusProvider({ url: `http://127.0.0.1:${port}`, kube: kubeGetter(sb.kc), registry }), ns);
    expect(prom).to.include({ ok: false, reason: 'MetricsUnavailable', failure: 'Unreachable' });
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: sb.kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
      users: sb.kc.users,
      contexts: sb.kc.contexts,
      currentContext: sb.kc.currentContext,
    });
    const ms = await collect(new MetricsServerProvider({ kube: kubeGetter(kc), registry }), ns);
    expect(ms).to.include({ ok: false, reason: 'MetricsUnavailable', failure: 'Unreachable' });
    expect(await registry.metrics()).to.match(new RegExp(`^optipod_reconciliation_errors_total\\{policy="${ns}/test",error_type="Unreachable"\\} 2$`, 'm'));
  });

  it('a namespace without pods is InsufficientData from both providers', async () => {
    for (const p of [metricsServer, prometheus]) {
      const r = await collect(p, empty);
      expect(r, p.name).to.include({ ok: false, reason: 'InsufficientData', namespace: empty });
    }
  });
});
