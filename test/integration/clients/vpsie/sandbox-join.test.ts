import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { renderBootstrapUserData, staticCredentials, VPSieClient } from '../../../../clients/vpsie';
import { parseBytes, parseCpuMilli } from '../../../../decision/scheduling/quantity';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';

/** The sandbox's own simulator: booted machines become Ready Nodes of the sandbox cluster. */
describe('VPSie simulator in the sandbox: machines join the cluster', function () {
  this.timeout(120_000);
  let sb: TestSandbox;
  let client: VPSieClient;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    const v = sb.endpoints.vpsie;
    if (!v) throw new Error('the sandbox publishes no vpsie section in endpoints.json');
    client = new VPSieClient({
      baseUrl: v.url,
      credentials: staticCredentials({ kind: 'client', clientId: v.clientId, clientSecret: v.clientSecret }),
      registry: new Registry(),
      rateLimit: false,
    });
  });

  async function waitNode(pred: (nodes: k8s.V1Node[]) => k8s.V1Node | undefined | true, deadlineMs: number): Promise<k8s.V1Node | true> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const found = pred((await sb.core.listNode()).items);
      if (found) return found;
      if (Date.now() > end) throw new Error('the node did not reach the expected state');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('a worker added to the sandbox cluster becomes a Ready Node with the plan capacity and providerID; deleting it removes the Node', async () => {
    const cluster = sb.endpoints.vpsie!.clusterIdentifier;
    expect(cluster).to.match(/^[0-9a-f-]{36}$/);
    const state = (await (await fetch(`${sb.endpoints.vpsie!.admin}/state`)).json()) as { config: { provisioningDelayMs: number; bootDelayMs: number } };
    const bootBudgetMs = state.config.provisioningDelayMs + state.config.bootDelayMs;
    const kubeSizeId = await client.resolveKubeSizeId('medium-4cpu-8gb', 'us-east-1');
    const group = await client.ensureNodeGroup({ clusterIdentifier: cluster, groupName: uniqueName('join'), kubeSizeId });
    const started = Date.now();
    await client.ensureGroupWorker({ clusterIdentifier: cluster, groupId: group.id, targetCount: 1 });
    let workers = await client.listClusterWorkers(cluster, group.id);
    while (workers.length === 0 && Date.now() - started < bootBudgetMs + 30_000) {
      await new Promise((r) => setTimeout(r, 200));
      workers = await client.listClusterWorkers(cluster, group.id);
    }
    expect(workers).to.have.length(1);
    const worker = workers[0]!;
    const node = (await waitNode(
      (nodes) =>
        nodes.find(
          (n) => n.spec?.providerID === `vpsie://${worker.identifier}` && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ),
      bootBudgetMs + 30_000,
    )) as k8s.V1Node;
    const readyAfterMs = Date.now() - started;
    expect(node.metadata?.name).to.equal(worker.hostname);
    expect(node.status?.capacity?.cpu).to.equal('4');
    expect(parseBytes(node.status?.capacity?.memory ?? '0')).to.equal(8 * 1024 ** 3);
    // Within the configured delays plus the time kwok takes to mark it Ready (bounded, generous).
    expect(readyAfterMs).to.be.below(bootBudgetMs + 15_000);

    await client.deleteGroupWorker(cluster, worker.identifier!);
    await waitNode((nodes) => (nodes.some((n) => n.metadata?.name === worker.hostname) ? undefined : true), 30_000);
  });
  it('a plain VM with the bootstrap user data joins with its labels and taints; one without never joins', async () => {
    const id = uniqueName('ud');
    const userData = renderBootstrapUserData({
      apiServer: sb.endpoints.apiserver,
      bootstrapToken: 'abcdef.0123456789abcdef',
      nodeGroup: id,
      nodeLabels: { 'autoscaler.vpsie.com/nodegroup': id, 'workload-type': 'stateless' },
      taints: [{ key: 'workload-type', value: 'batch', effect: 'NoSchedule' }],
    });
    const joined = await client.ensureVm({ requestId: `${id}-a`, plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts', userData });
    const plain = await client.ensureVm({ requestId: `${id}-b`, plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
    const node = (await waitNode(
      (nodes) => nodes.find((n) => n.metadata?.name === joined.hostname && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
      60_000,
    )) as k8s.V1Node;
    expect(node.metadata?.labels).to.include({ 'autoscaler.vpsie.com/nodegroup': id, 'workload-type': 'stateless' });
    // (The node lifecycle controller's own node.kubernetes.io/* taints come and go; ours stay.)
    const own = (node.spec?.taints ?? []).filter((t) => !t.key.startsWith('node.kubernetes.io/'));
    expect(own).to.deep.equal([{ key: 'workload-type', value: 'batch', effect: 'NoSchedule' }]);
    expect(parseCpuMilli(node.status?.capacity?.cpu ?? '0')).to.equal(2000);
    // The plain VM has booted too (the simulator says running) but no Node carries its name.
    const admin = sb.endpoints.vpsie!.admin;
    const st = (await (await fetch(`${admin}/state`)).json()) as { machines: { hostname: string; phase: string }[] };
    expect(st.machines.find((m) => m.hostname === plain.hostname)?.phase).to.equal('running');
    const names = (await sb.core.listNode()).items.map((n) => n.metadata?.name);
    expect(names).to.include(joined.hostname).and.not.include(plain.hostname);
    for (const hostname of [joined.hostname, plain.hostname]) {
      const vm = await client.findVm({ hostname });
      expect(vm, `VM ${hostname} is listed`).to.not.equal(undefined);
      await client.deleteVm(vm!.identifier);
    }
    await waitNode((nodes) => (nodes.some((n) => n.metadata?.name === joined.hostname) ? undefined : true), 30_000);
  });
});
