/**
 * A NodeGroup's node configuration on the sandbox: spec.kubernetesVersion (else the orchestrator's
 * KUBERNETES_VERSION) reaches the joining machine's join configuration and so the version its Node
 * reports; spec.labels / spec.taints changes reach the group's existing Nodes, without touching the
 * labels and taints others set.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { MANAGED_NODE_CONFIG_ANNOTATION } from '../../../../activities/nodes/node-config';
import { nodeGroupWorkflowId } from '../../../../workflows/nodes/contracts';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { createGroup, deleteGroup, eventually, groupNodes, groupVNs, patchGroupSpec, readGroup, startTestOrchestrator } from '../../../support/orchestrator';
import { maybeRecordHistory } from '../lifecycle/helpers';

const taintText = (t: k8s.V1Taint) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`;

describe('NodeGroup node configuration on the sandbox (kubernetesVersion, label and taint changes)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  const running: Orchestrator[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((o) => o.stop()));
  });

  async function setup(prefix: string, env: Record<string, string> = {}): Promise<{ ns: string; orch: Orchestrator }> {
    const ns = await sb.namespace(prefix);
    const tq = sb.taskQueue(prefix);
    const orch = await startTestOrchestrator(sb, ns, tq, { env });
    running.push(orch);
    return { ns, orch };
  }

  async function nodesOf(group: string, n: number): Promise<k8s.V1Node[]> {
    return eventually(`${n} Nodes of ${group}`, 180_000, async () => {
      const nodes = await groupNodes(sb, group);
      return nodes.length === n ? nodes : undefined;
    });
  }

  async function cleanup(ns: string, group: string): Promise<void> {
    await deleteGroup(sb, ns, group);
    await eventually(
      `NodeGroup ${group} gone`,
      180_000,
      async () => ((await readGroup(sb, ns, group)) === undefined && (await groupVNs(sb, ns, group)).length === 0 ? true : undefined),
      500,
    );
  }

  it("spec.kubernetesVersion reaches the joining node (its kubelet version); without it the orchestrator's KUBERNETES_VERSION does", async () => {
    const { ns } = await setup('ng-kver', { KUBERNETES_VERSION: 'v1.29.4' });
    const pinned = uniqueName('kv');
    const fallback = uniqueName('kd');
    await createGroup(sb, ns, pinned, { minNodes: 1, maxNodes: 2, kubernetesVersion: 'v1.30.2' });
    await createGroup(sb, ns, fallback, { minNodes: 1, maxNodes: 2 });
    const [a] = await nodesOf(pinned, 1);
    const [b] = await nodesOf(fallback, 1);
    expect(a?.status?.nodeInfo?.kubeletVersion).to.equal('v1.30.2');
    expect(b?.status?.nodeInfo?.kubeletVersion).to.equal('v1.29.4');
    await Promise.all([cleanup(ns, pinned), cleanup(ns, fallback)]);
  });

  it('label and taint changes on a NodeGroup are applied to its existing Nodes; labels and taints others set stay', async () => {
    const { ns } = await setup('ng-cfg');
    const group = uniqueName('cfg');
    await createGroup(sb, ns, group, {
      minNodes: 2,
      maxNodes: 3,
      labels: { tier: 'web', legacy: 'yes' },
      taints: [
        { key: 'dedicated', value: 'web', effect: 'NoSchedule' },
        { key: 'retired', effect: 'PreferNoSchedule' },
      ],
    });
    const nodes = await nodesOf(group, 2);
    for (const n of nodes) {
      expect(n.metadata?.labels).to.include({ tier: 'web', legacy: 'yes' });
      expect((n.spec?.taints ?? []).map(taintText)).to.include.members(['dedicated=web:NoSchedule', 'retired:PreferNoSchedule']);
    }
    // Someone else labels and taints the Nodes.
    for (const n of nodes) {
      const name = n.metadata?.name ?? '';
      const cur = await sb.core.readNode({ name });
      await sb.core.patchNode(
        {
          name,
          body: {
            metadata: { labels: { 'team.example.com/owner': 'ops' } },
            spec: { taints: [...(cur.spec?.taints ?? []), { key: 'maintenance.example.com/window', value: 'sunday', effect: 'NoSchedule' }] },
          },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
    // The group's labels and taints change: tier changes, legacy goes, zone-role comes; one taint changes value, one goes, one comes.
    await patchGroupSpec(sb, ns, group, {
      labels: { tier: 'api', legacy: null, 'zone-role': 'edge' },
      taints: [
        { key: 'dedicated', value: 'api', effect: 'NoSchedule' },
        { key: 'edge', effect: 'NoExecute' },
      ],
    });
    const names = nodes.map((n) => n.metadata?.name ?? '');
    const updated = await eventually('the Nodes carry the new labels and taints', 120_000, async () => {
      const cur = await Promise.all(names.map((name) => sb.core.readNode({ name })));
      return cur.every((n) => n.metadata?.labels?.tier === 'api' && n.metadata.labels['zone-role'] === 'edge' && !('legacy' in n.metadata.labels))
        ? cur
        : undefined;
    });
    for (const n of updated) {
      const taints = (n.spec?.taints ?? []).map(taintText);
      expect(taints).to.include.members(['dedicated=api:NoSchedule', 'edge:NoExecute', 'maintenance.example.com/window=sunday:NoSchedule']);
      expect(taints).to.not.include('dedicated=web:NoSchedule');
      expect(taints).to.not.include('retired:PreferNoSchedule');
      expect(n.metadata?.labels).to.include({ 'team.example.com/owner': 'ops' });
      expect(JSON.parse(n.metadata?.annotations?.[MANAGED_NODE_CONFIG_ANNOTATION] ?? '{}')).to.deep.equal({
        labels: ['autoscaler.vpsie.com/nodegroup', 'tier', 'zone-role'].sort(),
        taints: ['dedicated:NoSchedule', 'edge:NoExecute'],
      });
    }
    // A label the group no longer sets, added by someone else afterwards, is theirs: the next change leaves it.
    await sb.core.patchNode(
      { name: names[0]!, body: { metadata: { labels: { legacy: 'theirs' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await patchGroupSpec(sb, ns, group, { labels: { tier: 'api', 'zone-role': null } });
    await eventually('zone-role removed', 120_000, async () => {
      const cur = await Promise.all(names.map((name) => sb.core.readNode({ name })));
      return cur.every((n) => n.metadata?.labels?.tier === 'api' && !('zone-role' in (n.metadata?.labels ?? {}))) ? cur : undefined;
    });
    expect((await sb.core.readNode({ name: names[0]! })).metadata?.labels?.legacy).to.equal('theirs');
    maybeRecordHistory(sb, { workflowId: nodeGroupWorkflowId(ns, group) }, 'nodegroup-node-config-applied');
    await cleanup(ns, group);
  });
});
