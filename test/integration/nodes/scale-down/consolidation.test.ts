/**
 * Issue #7, consolidation on the sandbox: two small nodes at 55% cpu each (above the 50% scale-down
 * threshold, so neither goes by emptiness) cost 2 x 15 = 30/month; one medium node (27/month) holds
 * both pods under the scale-up threshold. Saving 10%: above a 5% threshold the group replaces them
 * (the medium node Ready first, then both drained, then removed); under a 20% threshold nothing moves.
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  maybeRecordHistory,
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  podsOf,
  scalingCondition,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from './helpers';

describe('scale-down: consolidation (sandbox)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('sd-consol');
    orch = await startScaleDownOrchestrator(sb, ns);
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  async function setUp(threshold: number): Promise<{ group: string; a: string; b: string }> {
    const group = uniqueName(`consol${threshold}`);
    await createIsolatedGroup(sb, ns, group, {
      minNodes: 2,
      maxNodes: 4,
      offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'],
      preferredInstanceType: 'small-2cpu-4gb',
      disruptionBudget: { maxUnavailable: 2 },
      consolidation: { enabled: true, savingsThresholdPercent: threshold },
    });
    const [a, b] = (await waitGroupSize(sb, ns, group, 2)) as [string, string];
    // Scheduled by kube-scheduler (a strong preference, not a binding), so they can move later.
    for (const [n, node] of [
      [`${group}-a`, a],
      [`${group}-b`, b],
    ] as const) {
      await createReplicaSet(sb, ns, n, group, {
        cpu: '1100m',
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 100, preference: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] } },
            ],
          },
        },
      });
    }
    await eventually(
      'one 1100m pod on each node',
      60_000,
      async () => {
        const pods = (await podsOf(sb, ns)).filter((p) => p.name.startsWith(group) && p.phase === 'Running');
        const on = new Set(pods.map((p) => p.node));
        return pods.length === 2 && on.has(a) && on.has(b) ? true : undefined;
      },
      300,
    );
    await patchGroupSpec(sb, ns, group, { minNodes: 1 });
    return { group, a, b };
  }

  it('replaces two half-full small nodes by one medium node above the saving threshold, and does nothing below it', async () => {
    const [above, below] = await Promise.all([setUp(5), setUp(20)]);

    // Above: one medium VPSieNode Ready, both small ones gone, both pods Running on the new node.
    const final = await eventually(
      'group consolidated to one medium node',
      180_000,
      async () => {
        const vns = await groupVNs(sb, ns, above.group);
        expect(
          vns.filter((v) => v.spec.offeringID === 'small-2cpu-4gb' && !v.deleting && v.nodeName !== above.a && v.nodeName !== above.b),
          'no new small node',
        ).to.deep.equal([]);
        return vns.length === 1 && vns[0]?.phase === 'Ready' && vns[0].spec.offeringID === 'medium-4cpu-8gb' ? vns[0] : undefined;
      },
      500,
    );
    const pods = await waitPodsRunning(sb, ns, 4); // 2 of each group
    expect(pods.filter((p) => p.name.startsWith(above.group)).map((p) => p.node)).to.deep.equal([final.nodeName, final.nodeName]);
    const st = await loopState(sb, ns);
    const rec = st.finished.find((f) => f.nodeGroup === above.group);
    expect(rec?.kind).to.equal('consolidate');
    expect(rec?.outcome).to.equal('Removed');
    expect(rec?.nodes.slice().sort()).to.deep.equal([above.a, above.b].sort());
    expect(rec?.message, 'replacement Ready before the drain').to.match(/replacements .* Ready/);
    expect((await nodeEventsOf(sb, above.a)).map((e) => e.reason)).to.include('ConsolidationApproved');

    maybeRecordHistory(sb, rec?.id as string, 'scaledown-removal-consolidation');

    // Below: the record says why, and nothing moved.
    const cond = await eventually(
      'belowThreshold in the Scaling condition',
      60_000,
      async () => {
        const c = await scalingCondition(sb, ns, below.group);
        return c && c.message.includes('consolidation belowThreshold') ? c : undefined;
      },
      500,
    );
    expect(cond.message).to.match(/saving 3\/month \(10%, threshold 20%\)/);
    const vns = await groupVNs(sb, ns, below.group);
    expect(vns.map((v) => [v.nodeName, v.deleting]).sort()).to.deep.equal(
      [
        [below.a, false],
        [below.b, false],
      ].sort(),
    );
    expect(st.finished.filter((f) => f.nodeGroup === below.group)).to.deep.equal([]);
  });
});
