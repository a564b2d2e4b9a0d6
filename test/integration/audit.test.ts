/**
 * The audit log on the sandbox (in-process orchestrator, real Temporal, apiserver, VPSie
 * simulator), read as the process prints it (a winston transport on lib/log.ts's logger): a
 * NodeGroup's own decisions — nodes created to reach minNodes, a node removed above a lowered
 * maxNodes, the rest removed when the group is deleted — are each one audit line, naming the
 * group, the nodes, the typed reason, the numbers and the NodeGroup workflow that decided; and a
 * scale-up for a pending pod is one ScaleUp line (the NodeGroup, which creates the node it asked
 * for, writes none of its own).
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import winston from 'winston';
import { logger } from '../../lib/log';
import { nodeGroupWorkflowId } from '../../workflows/nodes/contracts';
import type { Orchestrator } from '../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../support/sandbox';
import {
  createGroup,
  deleteGroup,
  eventually,
  groupVNs,
  liveMachinesOfNamespace,
  patchGroupSpec,
  readGroup,
  startTestOrchestrator,
} from '../support/orchestrator';

interface Line {
  audit?: boolean;
  action?: string;
  actor?: { part?: string; identity?: string; workflowId?: string; workflowType?: string };
  object?: { kind?: string; namespace?: string; name?: string; uid?: string };
  reason?: string;
  outcome?: string;
  numbers?: Record<string, number>;
  decision?: string;
  nodegroup?: string;
  nodes?: string[];
}

describe('audit log on the sandbox: one line for each action a NodeGroup decides', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let orch: Orchestrator | undefined;
  const lines: Line[] = [];
  const transport = new winston.transports.Stream({
    level: 'info',
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) {
          if (!l.includes('"audit":true')) continue;
          lines.push(JSON.parse(l) as Line);
        }
        done();
      },
    }),
  });
  const host = logger('audit-integration-test');

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    host.add(transport);
  });
  after(async () => {
    await orch?.stop();
    host.remove(transport);
  });

  it('a pending pod: one ScaleUp line for the node created for it, with the pods, the price and the scale-up workflow', async () => {
    const ns = await sb.namespace('audit-su');
    await orch?.stop();
    orch = await startTestOrchestrator(sb, ns, sb.taskQueue('audit-su'));
    const group = uniqueName('web');
    const label = `${ns}/${group}`;
    const pool = `audit-${ns}`;
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: 3, labels: { 'vpsie.test/pool': pool }, scaleDownPolicy: { enabled: false } });
    await sb.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'app', namespace: ns },
        spec: {
          nodeSelector: { 'vpsie.test/pool': pool },
          containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu: '500m', memory: '512Mi' } } }],
        },
      },
    });
    await eventually('the pod Running', 300_000, async () => {
      const p = await sb.core.readNamespacedPod({ namespace: ns, name: 'app' });
      return p.status?.phase === 'Running' ? true : undefined;
    });
    const vns = await groupVNs(sb, ns, group);
    expect(vns).to.have.length(1);
    const ofGroup = await eventually('the scale-up audited', 60_000, async () => {
      const l = lines.filter((x) => x.nodegroup === label);
      return l.length > 0 ? l : undefined;
    });
    expect(ofGroup, JSON.stringify(ofGroup)).to.have.length(1);
    const [line] = ofGroup;
    expect(line).to.deep.include({
      action: 'ScaleUp',
      object: { kind: 'NodeGroup', namespace: ns, name: group },
      reason: 'PendingPods',
      outcome: 'Created',
      nodes: [vns[0]?.name],
    });
    expect(line?.numbers).to.include({ newNodes: 1, created: 1, pods: 1, currentNodes: 0, maxNodes: 3 });
    expect(line?.numbers?.monthlyPrice).to.be.above(0);
    expect(line?.actor?.workflowType).to.equal('scaleUpWorkflow');
    expect(line?.decision?.startsWith(`${line.actor?.workflowId ?? '?'}/`)).to.equal(true);
    await sb.core.deleteNamespacedPod({ namespace: ns, name: 'app', gracePeriodSeconds: 0 });
    await deleteGroup(sb, ns, group);
    await eventually(`NodeGroup ${group} gone with its VPSieNodes`, 180_000, async () => {
      const [g, left] = await Promise.all([readGroup(sb, ns, group), groupVNs(sb, ns, group)]);
      return g === undefined && left.length === 0 ? true : undefined;
    });
  });

  it('minNodes 2: one line for the two nodes created; maxNodes lowered to 1: one line for the node removed; deletion: one line for the last', async () => {
    const ns = await sb.namespace('audit');
    await orch?.stop();
    orch = await startTestOrchestrator(sb, ns, sb.taskQueue('audit'));
    const group = uniqueName('ng');
    const label = `${ns}/${group}`;
    const ofGroup = () => lines.filter((l) => l.nodegroup === label || (l.object?.namespace === ns && l.object.name === group));
    // scale-down off: the group's nodes stay until the test removes them (no ScaleDown decision of the loop)
    await createGroup(sb, ns, group, { minNodes: 2, maxNodes: 2, scaleDownPolicy: { enabled: false } });
    const uid = (await readGroup(sb, ns, group))?.metadata.uid;
    const two = await eventually('2 VPSieNodes Ready', 180_000, async () => {
      const vns = (await groupVNs(sb, ns, group)).filter((v) => !v.deleting);
      return vns.length === 2 && vns.every((v) => v.phase === 'Ready') ? vns : undefined;
    });
    const created = ofGroup();
    expect(created, JSON.stringify(created)).to.have.length(1);
    expect(created[0]).to.deep.include({
      audit: true,
      action: 'NodeGroupMinEnforced',
      object: { kind: 'NodeGroup', namespace: ns, name: group, uid },
      reason: 'BelowMinNodes',
      outcome: 'Created',
      numbers: { nodes: 2, minNodes: 2, maxNodes: 2 },
      nodegroup: label,
    });
    expect(created[0]?.nodes).to.have.members(two.map((v) => v.name));
    expect(created[0]?.decision).to.match(/^reconcile:/);
    expect(created[0]?.actor).to.deep.include({ part: 'worker', workflowId: nodeGroupWorkflowId(ns, group), workflowType: 'nodeGroupWorkflow' });
    expect(created[0]?.actor?.identity).to.be.a('string').and.not.empty;

    // maxNodes 1: the group removes one node above it
    await patchGroupSpec(sb, ns, group, { minNodes: 1, maxNodes: 1 });
    const removal = await eventually('the removal audited', 120_000, async () => {
      const r = ofGroup().filter((l) => l.action === 'NodeGroupMaxEnforced');
      return r.length > 0 ? r : undefined;
    });
    await eventually('1 VPSieNode left', 120_000, async () => ((await groupVNs(sb, ns, group)).length === 1 ? true : undefined));
    const left = await groupVNs(sb, ns, group);
    expect(removal).to.have.length(1);
    expect(removal[0]).to.deep.include({
      object: { kind: 'NodeGroup', namespace: ns, name: group },
      reason: 'AboveMaxNodes',
      outcome: 'Removed',
      numbers: { nodes: 1 },
    });
    const removed = removal[0]?.nodes ?? [];
    expect(removed).to.have.length(1);
    expect(two.map((v) => v.name)).to.include(removed[0]);
    expect(left.map((v) => v.name)).not.to.include(removed[0]);

    // deletion: the last node goes
    await deleteGroup(sb, ns, group);
    await eventually(
      `NodeGroup ${group} gone with its VPSieNodes and machines`,
      180_000,
      async () => {
        const [g, vns, machines] = await Promise.all([readGroup(sb, ns, group), groupVNs(sb, ns, group), liveMachinesOfNamespace(sb, ns)]);
        return g === undefined && vns.length === 0 && machines.length === 0 ? true : undefined;
      },
      500,
    );
    const all = ofGroup();
    expect(
      all.map((l) => l.action),
      JSON.stringify(all),
    ).to.deep.equal(['NodeGroupMinEnforced', 'NodeGroupMaxEnforced', 'NodeGroupDeleted']);
    expect(all[2]).to.deep.include({ reason: 'NodeGroupDeleted', outcome: 'Removed', numbers: { nodes: 1 }, nodes: left.map((v) => v.name) });
    // every node of the group: created once, removed once
    for (const v of two) {
      expect(
        all.filter((l) => l.outcome === 'Created' && l.nodes?.includes(v.name)),
        v.name,
      ).to.have.length(1);
      expect(
        all.filter((l) => l.outcome === 'Removed' && l.nodes?.includes(v.name)),
        v.name,
      ).to.have.length(1);
    }
  });
});
