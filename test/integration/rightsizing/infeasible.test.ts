/**
 * Rightsizing and node autoscaling together on the sandbox (issue #15): a workload whose usage
 * outgrew every node it runs on. The in-place resize is larger than its node's allocatable — the
 * v1.36 apiserver refuses it (PodResizeValidator: 403 with cause NodeCapacity), which is
 * Infeasible — so, where the policy allows recreate, its pods are evicted one at a time, each
 * replacement comes up at the new size (admission) and stays Pending until the node autoscaler
 * gives it a larger VPSie machine, and it runs there. Where recreate is not allowed, the workload
 * is skipped with ResizeInfeasible and its pod is left as it was.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { cpuMillis, type OptimizationPolicyStatus } from '../../../lib/crds/optipod';
import { uniqueName, sharedSandbox, type TestSandbox } from '../../support/sandbox';
import { cleanup, createNodeGroup, eventually, listVPSieNodes, startHarness, type Harness } from '../nodes/scale-up/helpers';
import { createPolicy, livePods as podsOf, podMetricsOf, policyStatus } from '../../support/rightsizing';

describe('rightsizing: an in-place resize larger than the node falls back to recreate, and the node autoscaler hosts the larger pods', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let apps: k8s.AppsV1Api;
  let ns: string;
  let h: Harness;
  let pool: string;

  const deployment = (name: string, replicas: number) => ({
    metadata: { name, namespace: ns, labels: { tier: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'kwok.x-k8s.io/usage-cpu': '2500m', 'kwok.x-k8s.io/usage-memory': '256Mi' } },
        spec: {
          nodeSelector: { 'vpsie.test/pool': pool },
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu: '500m', memory: '512Mi' } } }],
        },
      },
    },
  });

  async function policy(name: string, tier: string, allowRecreate: boolean): Promise<void> {
    await createPolicy(sb, ns, name, {
      mode: 'Auto',
      selector: { namespaces: { allow: [ns] }, workloadSelector: { matchLabels: { tier } } },
      reconciliationInterval: '10m',
      metricsConfig: { provider: 'metrics-server' },
      updateStrategy: { cooldown: '0s', maxChangePercent: 1000, allowRecreate },
    });
  }

  const status = (name: string): Promise<OptimizationPolicyStatus> => policyStatus(sb, ns, name);
  const livePods = (app: string): Promise<k8s.V1Pod[]> => podsOf(sb, ns, app);

  before(async function () {
    sb = await sharedSandbox();
    apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    ns = await sb.namespace('rs-infeasible');
    pool = uniqueName('rsgrow');
    h = await startHarness(sb, ns, { RIGHTSIZING_MIN_SAMPLES: '1', SCALE_DOWN_ENABLED: 'false' });
    await createNodeGroup(sb, ns, uniqueName('grow'), { maxNodes: 4, offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'], labels: { 'vpsie.test/pool': pool } });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('grows', 2) });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('stays', 1) });
    await eventually(
      'the 3 pods Running on small nodes of the group',
      240_000,
      async () => {
        const pods = [...(await livePods('grows')), ...(await livePods('stays'))];
        return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running') ? true : undefined;
      },
      1000,
    );
    await podMetricsOf(sb, ns, 3);
  });

  after(async () => {
    await cleanup(sb, ns);
    await h?.stop();
  });

  it('recreate not allowed: ResizeInfeasible, the pod left as it was', async () => {
    const before = (await livePods('stays'))[0]!;
    await policy('stays', 'stays', false);
    const s = await eventually(
      'stays skipped ResizeInfeasible',
      180_000,
      async () => {
        const x = await status('stays');
        return x.workloads?.find((w) => w.name === 'stays')?.skipReason === 'ResizeInfeasible' ? x : undefined;
      },
      1000,
    );
    expect(s.workloads!.find((w) => w.name === 'stays')!.message).to.match(/node didn't have enough allocatable resources.*recreate is not allowed/);
    const after = (await livePods('stays'))[0]!;
    expect(after.metadata!.uid).to.equal(before.metadata!.uid);
    expect(cpuMillis(String(after.status!.containerStatuses![0]!.resources?.requests?.cpu ?? after.spec!.containers[0]!.resources!.requests!.cpu))).to.equal(
      500,
    );
  });

  it('recreate allowed: each pod is recreated at the new size and runs on a larger node the autoscaler made', async () => {
    const before = new Set((await livePods('grows')).map((p) => p.metadata!.uid!));
    await policy('grows', 'grows', true);
    const s = await eventually(
      'grows Applied by Recreate',
      600_000,
      async () => {
        const x = await status('grows');
        const w = x.workloads?.find((y) => y.name === 'grows');
        return w?.outcome === 'Applied' && w.method === 'Recreate' ? x : undefined;
      },
      2000,
    );
    expect(s.workloads!.find((w) => w.name === 'grows')!.message).to.match(/in-place resize Infeasible/);
    const pods = await livePods('grows');
    expect(pods).to.have.length(2);
    const nodes = new Map((await listVPSieNodes(sb, ns)).map((v) => [v.name, v]));
    for (const p of pods) {
      expect(before.has(p.metadata!.uid!), 'a new pod').to.equal(false);
      expect(p.status?.phase).to.equal('Running');
      expect(cpuMillis(String(p.spec!.containers[0]!.resources!.requests!.cpu))).to.be.within(2500, 3600);
      const node = await sb.core.readNode({ name: p.spec!.nodeName! });
      expect(cpuMillis(String(node.status!.allocatable!.cpu)), `node ${node.metadata!.name} allocatable`).to.be.at.least(3000);
      expect(nodes.has(p.spec!.nodeName!), 'a node of the NodeGroup').to.equal(true);
    }
  });
});
