/**
 * Recreate, only where allowed (issue #15), on the sandbox: a policy that may not resize in place
 * but may recreate evicts the workload's pods through the Eviction API one at a time — the next
 * only once the replacement is Ready — and the replacements come up at the new size (admission).
 * A PodDisruptionBudget that allows no disruption makes the apiserver answer 429: the workflow
 * waits, deletes nothing, and goes on once the budget allows it. A single-replica workload is not
 * recreated unless the policy allows single-replica recreation.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { cpuMillis, type OptimizationPolicyStatus } from '../../../lib/crds/optipod';
import type { Orchestrator } from '../../../workers/orchestrator';
import { startTestOrchestrator } from '../../support/orchestrator';
import { eventually as poll } from '../../support/eventually';
import { MERGE, POLICY_API as G, createPolicy, livePods as podsOf, podMetricsOf, policyStatus } from '../../support/rightsizing';

const eventually = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> => poll(what, fn, timeoutMs);
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';

const ENV = { RIGHTSIZING_MIN_SAMPLES: '1', SCALE_DOWN_ENABLED: 'false' };

describe('rightsizing recreates pods only where allowed: one replica at a time, PDBs respected', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let custom: k8s.CustomObjectsApi;
  let apps: k8s.AppsV1Api;
  let policyApi: k8s.PolicyV1Api;
  let orch: Orchestrator | undefined;
  let node: string;
  let ns: string;
  let taskQueue: string;

  const deployment = (name: string, replicas: number) => ({
    metadata: { name, namespace: ns, labels: { tier: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'kwok.x-k8s.io/usage-cpu': '100m', 'kwok.x-k8s.io/usage-memory': '200Mi' } },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '1', memory: '1Gi' } } }],
        },
      },
    },
  });

  async function policy(name: string, tier: string, updateStrategy: Record<string, unknown>): Promise<void> {
    await createPolicy(sb, ns, name, {
      mode: 'Auto',
      selector: { namespaces: { allow: [ns] }, workloadSelector: { matchLabels: { tier } } },
      reconciliationInterval: '10m',
      metricsConfig: { provider: 'metrics-server' },
      updateStrategy: { cooldown: '0s', maxChangePercent: 90, allowInPlaceResize: false, allowRecreate: true, ...updateStrategy },
    });
  }

  const status = (name: string): Promise<OptimizationPolicyStatus> => policyStatus(sb, ns, name);
  const livePods = (app: string): Promise<k8s.V1Pod[]> => podsOf(sb, ns, app);
  const isReady = (p: k8s.V1Pod): boolean => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

  /** Samples the workload's Ready, non-terminating pods every 100 ms until stopped; returns the fewest seen. */
  function watchAvailability(app: string): { stop: () => Promise<{ min: number; samples: number }> } {
    let min = Infinity;
    let samples = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        const pods = await livePods(app).catch(() => undefined);
        if (pods !== undefined) {
          samples++;
          min = Math.min(min, pods.filter(isReady).length);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return { min, samples };
      },
    };
  }

  before(async function () {
    sb = await sharedSandbox();
    custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    policyApi = sb.kc.makeApiClient(k8s.PolicyV1Api);
    node = await createKwokNode(sb, 'rs-recreate-node', { cpu: '32', memory: '64Gi' });
    ns = await sb.namespace('rs-recreate');
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('three', 3) });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('single', 1) });
    // no disruption allowed at first: every eviction of `three` is refused (429) until the budget changes
    await policyApi.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'three', namespace: ns }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'three' } } } },
    });
    await podMetricsOf(sb, ns, 4);
    taskQueue = sb.taskQueue('rs-recreate');
    orch = await startTestOrchestrator(sb, ns, taskQueue, { env: ENV, scaleUpTrigger: false });
  });

  after(async () => {
    await orch?.stop();
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  it('a PDB that allows no disruption: evictions are refused (429), the workflow waits and deletes nothing, across an orchestrator restart', async () => {
    const uids = (await livePods('three')).map((p) => p.metadata!.uid!).sort();
    await policy('recreate-three', 'three', {});
    // the workflow is in its recreate loop: the pod sizing entry is written, the pods stay
    await eventually('the pod sizing entry of three', async () => {
      const cm = await sb.core.readNamespacedConfigMap({ namespace: ns, name: 'optipod-pod-sizing' }).catch(() => undefined);
      return cm?.data?.['Deployment_three_app_cpu'] !== undefined ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 15_000));
    expect((await livePods('three')).map((p) => p.metadata!.uid!).sort()).to.deep.equal(uids);
    const s = await status('recreate-three');
    expect(s.workloads?.find((w) => w.name === 'three')?.method).to.equal('Recreate');
    // the orchestrator restarts in the middle of the recreate: the workflow goes on where it was (the next test sees it finish)
    await orch!.stop();
    orch = await startTestOrchestrator(sb, ns, taskQueue, { env: ENV, scaleUpTrigger: false });
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await livePods('three')).map((p) => p.metadata!.uid!).sort()).to.deep.equal(uids);
  });

  it('once the budget allows one disruption, the pods are recreated one at a time at the new size, never two down', async () => {
    const watch = watchAvailability('three');
    await policyApi.patchNamespacedPodDisruptionBudget({ namespace: ns, name: 'three', body: { spec: { maxUnavailable: 1 } } }, MERGE);
    const s = await eventually(
      'three Applied by Recreate',
      async () => {
        const x = await status('recreate-three');
        const w = x.workloads?.find((y) => y.name === 'three');
        return w?.outcome === 'Applied' && w.method === 'Recreate' ? x : undefined;
      },
      300_000,
    );
    const { min, samples } = await watch.stop();
    expect(samples).to.be.greaterThan(10);
    expect(min, 'fewest Ready replicas during the recreate').to.be.at.least(2);
    const pods = await livePods('three');
    expect(pods).to.have.length(3);
    for (const p of pods) expect(cpuMillis(String(p.spec!.containers[0]!.resources!.requests!.cpu))).to.be.within(90, 200);
    expect(s.workloads!.find((w) => w.name === 'three')!.lastAppliedTime).to.be.a('string');
    // the status message may already be a later cycle's ("at the size applied …"); the Event keeps the application's
    const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=three' });
    const applied = events.items.filter((e) => e.reason === 'RightsizingApplied').map((e) => e.message ?? '');
    expect(
      applied.some((m) => /^Recreate: app: cpu 1000m→\d+m.*3 pod\(s\) recreated one at a time/.test(m)),
      applied.join(' | '),
    ).to.equal(true);
  });

  it('a single replica is not recreated unless allowSingleReplicaRecreate', async () => {
    const uid = (await livePods('single'))[0]!.metadata!.uid!;
    await policy('recreate-single', 'single', {});
    await eventually('TooFewReplicas', async () => {
      const x = await status('recreate-single');
      return x.workloads?.find((w) => w.name === 'single')?.skipReason === 'TooFewReplicas' ? true : undefined;
    });
    expect((await livePods('single'))[0]!.metadata!.uid).to.equal(uid);
    await custom.patchNamespacedCustomObject(
      { ...G, namespace: ns, name: 'recreate-single', body: { spec: { updateStrategy: { allowSingleReplicaRecreate: true } } } },
      MERGE,
    );
    await eventually('single Applied by Recreate', async () => {
      const x = await status('recreate-single');
      const w = x.workloads?.find((y) => y.name === 'single');
      return w?.outcome === 'Applied' && w.method === 'Recreate' ? true : undefined;
    });
    const pods = await livePods('single');
    expect(pods).to.have.length(1);
    expect(pods[0]!.metadata!.uid).to.not.equal(uid);
    expect(cpuMillis(String(pods[0]!.spec!.containers[0]!.resources!.requests!.cpu))).to.be.within(90, 200);
  });
});
