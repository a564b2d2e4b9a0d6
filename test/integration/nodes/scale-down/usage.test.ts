/**
 * Issue #17 on the sandbox: scaleDownPolicy.utilizationSource. Three groups alike — two nodes, each
 * with a pod requesting 35 % of its CPU (threshold 30 %) but using 2.5 % (kwok's simulated usage,
 * read through metrics-server). By `requests` no node is underutilised; by `usage` one goes (its pod
 * fits on the other node); `both` keeps them (requests are high).
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { parseCpuMilli } from '../../../../decision/scheduling/quantity';
import {
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from './helpers';

describe('scale-down by usage: utilizationSource requests | usage | both (sandbox)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('sd-usage');
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  it('high requests, low usage: kept under `requests` and `both`, scaled down under `usage`', async () => {
    const groups = { requests: uniqueName('byreq'), usage: uniqueName('byuse'), both: uniqueName('byboth') };
    orch = await startScaleDownOrchestrator(sb, ns);
    for (const [source, g] of Object.entries(groups)) {
      await createIsolatedGroup(sb, ns, g, {
        minNodes: 2,
        maxNodes: 3,
        scaleDownPolicy: {
          enabled: true,
          stabilizationWindowSeconds: 20,
          cooldownSeconds: 3,
          cpuThreshold: 30,
          memoryThreshold: 50,
          utilizationSource: source,
        },
      });
    }
    const nodesOf: Record<string, string[]> = {};
    for (const [source, g] of Object.entries(groups)) nodesOf[source] = await waitGroupSize(sb, ns, g, 2);
    const first = await sb.core.readNode({ name: nodesOf.usage![0]! });
    const alloc = parseCpuMilli(first.status?.allocatable?.cpu ?? '0');
    expect(alloc).to.be.greaterThan(0);
    let pods = 0;
    for (const [source, g] of Object.entries(groups)) {
      for (const [i, node] of nodesOf[source]!.entries()) {
        await createReplicaSet(sb, ns, `${source}-${i}`, g, {
          cpu: `${Math.round(alloc * 0.35)}m`,
          memory: '64Mi',
          nodeName: node,
          annotations: { 'kwok.x-k8s.io/usage-cpu': `${Math.round(alloc * 0.025)}m`, 'kwok.x-k8s.io/usage-memory': '32Mi' },
        });
        pods++;
      }
    }
    await waitPodsRunning(sb, ns, pods);
    for (const g of Object.values(groups)) await patchGroupSpec(sb, ns, g, { minNodes: 1 });

    // `usage`: one node removed; the others never lose one meanwhile.
    const left = await eventually(
      'the usage group at 1 node',
      300_000,
      async () => {
        const [u, r, b] = await Promise.all([groupVNs(sb, ns, groups.usage), groupVNs(sb, ns, groups.requests), groupVNs(sb, ns, groups.both)]);
        expect(
          r.filter((v) => v.deleting),
          'requests group VPSieNodes being deleted',
        ).to.deep.equal([]);
        expect(
          b.filter((v) => v.deleting),
          'both group VPSieNodes being deleted',
        ).to.deep.equal([]);
        return u.length === 1 && !u[0]?.deleting && u[0]?.phase === 'Ready' ? u : undefined;
      },
      500,
    );
    const removed = nodesOf.usage!.find((n) => n !== left[0]?.nodeName) as string;
    // The approval judged usage: the Event's peak is the used share (~2.5 %), not the requested 35 %.
    const evs = await nodeEventsOf(sb, removed);
    const approved = evs.find((e) => e.reason === 'ScaleDownApproved');
    expect(approved, JSON.stringify(evs)).to.not.equal(undefined);
    const cpu = Number(/cpu ([\d.]+)%/.exec(approved!.message)?.[1]);
    expect(cpu, approved!.message).to.be.below(10);

    // The other two: usage was known and low for longer than their window, requests kept them.
    await new Promise((r) => setTimeout(r, 25_000));
    const st = await loopState(sb, ns);
    expect((await groupVNs(sb, ns, groups.requests)).filter((v) => !v.deleting)).to.have.length(2);
    expect((await groupVNs(sb, ns, groups.both)).filter((v) => !v.deleting)).to.have.length(2);
    const kept = [...nodesOf.requests!, ...nodesOf.both!];
    expect(st.lastVerdicts.filter((v) => kept.includes(v.node) && (v.outcome === 'approved' || v.outcome === 'dryRun'))).to.deep.equal([]);
    expect(st.finished.filter((f) => f.nodeGroup === groups.requests || f.nodeGroup === groups.both)).to.deep.equal([]);
  });
});
