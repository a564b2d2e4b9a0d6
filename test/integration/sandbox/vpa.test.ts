/**
 * The upstream Kubernetes VPA in the sandbox, end to end on real components: the recommender
 * turns metrics-server's samples (kwok's usage annotations) into `status.recommendation`, the
 * updater evicts pods whose requests are far below it (Events `EvictedByVPA`), the admission
 * controller's webhook gives the replacements the recommended requests — and a VPA in updateMode
 * Off (what the coordinator sets to pause one) gets recommendations but has nothing evicted.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { z } from 'zod';
import { cpuMillis, memoryBytes } from '../../../lib/crds/optipod';
import { eventually } from '../../support/eventually';
import { livePods, podMetricsOf } from '../../support/rightsizing';
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';

const VPA_API = { group: 'autoscaling.k8s.io', version: 'v1', plural: 'verticalpodautoscalers' };
const MiB = 2 ** 20;
/** What each pod uses (kwok's usage annotations) and requests at first: far below the usage. */
const USAGE = { cpu: '400m', memory: '600Mi' };
const FIRST_REQUESTS = { cpu: '50m', memory: '64Mi' };
/** The recommender's default safety margin (--recommendation-margin-fraction). */
const MARGIN = 0.15;

const Resources = z.object({ cpu: z.string(), memory: z.string() });
const ContainerRecommendation = z.object({ containerName: z.string(), target: Resources, lowerBound: Resources, upperBound: Resources });
type Recommendation = z.infer<typeof ContainerRecommendation>;
const VpaObject = z.object({
  status: z
    .object({
      recommendation: z.object({ containerRecommendations: z.array(ContainerRecommendation) }).optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string() })).optional(),
    })
    .optional(),
});

const cpu = (q: string): number => cpuMillis(q) ?? NaN;
const mem = (q: string): number => memoryBytes(q) ?? NaN;

describe('sandbox Kubernetes VPA: the real recommender, updater and admission controller', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let apps: k8s.AppsV1Api;
  let custom: k8s.CustomObjectsApi;
  let node: string;
  let ns: string;
  /** Each Deployment's pods at the start (their uids). */
  const original: Record<string, string[]> = {};

  const deployment = (name: string): k8s.V1Deployment => ({
    metadata: { name, namespace: ns },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'kwok.x-k8s.io/usage-cpu': USAGE.cpu, 'kwok.x-k8s.io/usage-memory': USAGE.memory } },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: FIRST_REQUESTS } }],
        },
      },
    },
  });

  async function createVpa(name: string, updateMode: 'Recreate' | 'Off'): Promise<void> {
    await custom.createNamespacedCustomObject({
      ...VPA_API,
      namespace: ns,
      body: {
        apiVersion: 'autoscaling.k8s.io/v1',
        kind: 'VerticalPodAutoscaler',
        metadata: { name, namespace: ns },
        spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, updatePolicy: { updateMode } },
      },
    });
  }

  async function recommendation(name: string): Promise<Recommendation | undefined> {
    const o = VpaObject.parse(await custom.getNamespacedCustomObject({ ...VPA_API, namespace: ns, name }));
    return o.status?.recommendation?.containerRecommendations.find((c) => c.containerName === 'app');
  }

  /** A recommendation whose lower bound is above the first requests: the updater's reason to evict. */
  const evictionWorthy = async (name: string): Promise<Recommendation | undefined> => {
    const r = await recommendation(name);
    return r && cpu(r.lowerBound.cpu) > cpu(FIRST_REQUESTS.cpu) && mem(r.lowerBound.memory) > mem(FIRST_REQUESTS.memory) ? r : undefined;
  };

  async function evictedByVpa(): Promise<k8s.CoreV1Event[]> {
    return (await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=EvictedByVPA' })).items;
  }

  /** The sum of the updater's own metric `name` over the series whose labels include `labels`; undefined when it has none. */
  async function updaterMetric(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const url = sb.endpoints.vpa?.updater.metrics;
    if (!url) throw new Error('endpoints.json has no vpa.updater.metrics');
    const text = await (await fetch(url)).text();
    const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return lines.length === 0 ? undefined : lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }
  const updaterEvicted = (vpa: string): Promise<number | undefined> => updaterMetric('vpa_updater_evicted_pods_total', { vpa_name: vpa, vpa_namespace: ns });
  /** Updater loops that got as far as the eviction step (the admission controller's Lease fresh, some VPA to act on). */
  const updaterEvictionLoops = async (): Promise<number> => (await updaterMetric('vpa_updater_execution_latency_seconds_count', { step: 'EvictPods' })) ?? 0;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    node = await createKwokNode(sb, 'vpa-node', { cpu: '16', memory: '32Gi' });
    ns = await sb.namespace('vpa');
    for (const name of ['app', 'held']) await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name) });
    await podMetricsOf(sb, ns, 4);
    for (const name of ['app', 'held']) {
      const pods = await livePods(sb, ns, name);
      expect(pods).to.have.length(2);
      original[name] = pods.map((p) => p.metadata!.uid!);
    }
    await createVpa('app', 'Recreate');
    await createVpa('held', 'Off');
  });

  after(async () => {
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  it('endpoints.json names the three components, and the webhook is registered at the loopback URL', async () => {
    const vpa = sb.endpoints.vpa;
    expect(vpa?.version).to.equal('1.8.1');
    expect(vpa?.admissionController.webhook).to.match(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    for (const m of [vpa?.recommender.metrics, vpa?.updater.metrics, vpa?.admissionController.metrics])
      expect(m).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    for (const name of ['vpa-recommender', 'vpa-updater', 'vpa-admission-controller']) expect(sb.endpoints.pids[name]).to.be.a('number');
    const cfg = await sb.kc
      .makeApiClient(k8s.AdmissionregistrationV1Api)
      .readMutatingWebhookConfiguration({ name: vpa!.admissionController.webhookConfiguration });
    expect(cfg.webhooks?.[0]?.clientConfig.url).to.equal(vpa!.admissionController.webhook);
    // The admission controller renews its status Lease (the updater evicts only while it is fresh).
    const [leaseNs, leaseName] = vpa!.admissionController.statusLease.split('/');
    const lease = await sb.kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ namespace: leaseNs!, name: leaseName! });
    expect(lease.spec?.renewTime).to.not.equal(undefined);
  });

  it('(a) the recommender writes status.recommendation with a target near the usage', async () => {
    const r = await eventually('a recommendation for app', () => recommendation('app'));
    // target = a percentile of the samples × (1 + margin); the histograms' buckets are 5 % wide,
    // and metrics-server's CPU is a rate between two scrapes (a few % off).
    expect(cpu(r.target.cpu)).to.be.within(cpu(USAGE.cpu), cpu(USAGE.cpu) * (1 + MARGIN) * 1.1);
    expect(mem(r.target.memory)).to.be.within(mem(USAGE.memory) * (1 + MARGIN), mem(USAGE.memory) * (1 + MARGIN) * 1.1);
    expect(cpu(r.lowerBound.cpu)).to.be.at.most(cpu(r.target.cpu));
    expect(cpu(r.upperBound.cpu)).to.be.at.least(cpu(r.target.cpu));
    const cond = VpaObject.parse(await custom.getNamespacedCustomObject({ ...VPA_API, namespace: ns, name: 'app' })).status?.conditions;
    expect(cond?.find((c) => c.type === 'RecommendationProvided')?.status).to.equal('True');
  });

  it('(b) the updater evicts the pods whose requests are far below the recommendation (EvictedByVPA)', async () => {
    await eventually('app recommending above the first requests', () => evictionWorthy('app'));
    const events = await eventually('an EvictedByVPA Event for an app pod', async () => {
      const e = (await evictedByVpa()).filter((x) => original.app!.includes(x.involvedObject.uid ?? ''));
      return e.length > 0 ? e : undefined;
    });
    expect(events[0]!.involvedObject.kind).to.equal('Pod');
    expect(events[0]!.source?.component).to.equal('vpa-updater');
    // Every original pod goes, one at a time (eviction tolerance 0.5 of 2 replicas).
    await eventually(
      'both original app pods evicted',
      async () => {
        const uids = (await livePods(sb, ns, 'app')).map((p) => p.metadata!.uid!);
        return original.app!.some((u) => uids.includes(u)) ? undefined : true;
      },
      300_000,
    );
    const evicted = new Set((await evictedByVpa()).map((e) => e.involvedObject.uid));
    for (const uid of original.app!) expect(evicted.has(uid), `EvictedByVPA for pod ${uid}`).to.equal(true);
    expect(await updaterEvicted('app')).to.be.at.least(2);
  });

  it('(c) the admission controller gives the recreated pods the recommended requests', async () => {
    const pods = await eventually('two replacement app pods with VPA-set requests', async () => {
      const ps = (await livePods(sb, ns, 'app')).filter((p) => !original.app!.includes(p.metadata!.uid!));
      return ps.length === 2 && ps.every((p) => p.metadata?.annotations?.vpaUpdates) ? ps : undefined;
    });
    const r = (await recommendation('app'))!;
    for (const p of pods) {
      const requests = p.spec!.containers[0]!.resources!.requests!;
      expect(p.metadata!.annotations!.vpaUpdates)
        .to.match(/cpu request/)
        .and.match(/memory request/);
      // The recommendation it was admitted with may have moved a histogram bucket since.
      expect(cpu(requests.cpu!)).to.be.closeTo(cpu(r.target.cpu), cpu(r.target.cpu) * 0.1);
      expect(mem(requests.memory!)).to.be.closeTo(mem(r.target.memory), mem(r.target.memory) * 0.1);
      expect(cpu(requests.cpu!)).to.be.at.least(cpu(USAGE.cpu));
      expect(mem(requests.memory!)).to.be.above(600 * MiB);
    }
    // The Deployment's template is untouched: only the pods were resized, at admission.
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'app' });
    expect(d.spec!.template.spec!.containers[0]!.resources!.requests).to.deep.equal(FIRST_REQUESTS);
  });

  it('(d) updateMode Off: recommendations, but no eviction over six updater loops; back to Recreate, the pods are evicted', async () => {
    const r = await eventually('held recommending above its requests (Recreate would evict)', () => evictionWorthy('held'));
    expect(cpu(r.target.cpu)).to.be.above(cpu(FIRST_REQUESTS.cpu) * 4);
    const loops = 6;
    const loopsBefore = await updaterEvictionLoops();
    const until = Date.now() + loops * sb.endpoints.vpa!.updater.intervalSeconds * 1000;
    while (Date.now() < until) {
      const uids = (await livePods(sb, ns, 'held')).map((p) => p.metadata!.uid!).sort();
      expect(uids).to.deep.equal([...original.held!].sort());
      await new Promise((res) => setTimeout(res, 5_000));
    }
    // The updater ran its loops meanwhile, through to the eviction step (app's Recreate VPA is there).
    expect((await updaterEvictionLoops()) - loopsBefore).to.be.at.least(loops - 1);
    expect((await evictedByVpa()).filter((e) => original.held!.includes(e.involvedObject.uid ?? ''))).to.deep.equal([]);
    // An Off VPA is skipped before its pods are even looked at: no eviction series for it.
    expect(await updaterEvicted('held')).to.equal(undefined);
    for (const p of await livePods(sb, ns, 'held')) {
      expect(p.spec!.containers[0]!.resources!.requests).to.deep.equal(FIRST_REQUESTS);
      expect(p.metadata?.annotations?.vpaUpdates).to.equal(undefined);
    }

    // Resumed: the same pods are evicted now, so nothing but the mode kept them.
    await custom.patchNamespacedCustomObject(
      { ...VPA_API, namespace: ns, name: 'held', body: { spec: { updatePolicy: { updateMode: 'Recreate' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await eventually('an EvictedByVPA Event for a held pod once Recreate', async () => {
      const e = (await evictedByVpa()).filter((x) => original.held!.includes(x.involvedObject.uid ?? ''));
      return e.length > 0 ? e : undefined;
    });
    expect(await updaterEvicted('held')).to.be.at.least(1);
  });
});
