/**
 * Regressions found by the scale-down property test (decide.property.test.ts), each minimised by hand
 * to what matters and named after the behaviour.
 */
import { expect } from 'chai';

import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import type { Removal, ScaleDownDecision, ScaleDownInput, ScaleDownNode, ScaleDownPod } from '../../../../../decision/nodes/scale-down/types';
import { group, input, LABEL_ZONE, node, offering, pod, res } from './fixtures';
import { verifyScaleDown } from './verify';

const SMALL = offering('small', 2000, 4, 15);
const Mi = 1024 * 1024;

function inZone(name: string, zone: string, groupName: string | undefined, pods: ScaleDownPod[], extra: Partial<ScaleDownNode> = {}): ScaleDownNode {
  const n = node(name, pods, { cpu: 2000, memGi: 4, offeringId: 'small', labels: { [LABEL_ZONE]: zone }, ...extra });
  const { ['autoscaler.vpsie.com/nodegroup']: _, ...labels } = n.node.labels;
  n.node = { ...n.node, labels: groupName === undefined ? labels : { ...labels, 'autoscaler.vpsie.com/nodegroup': groupName } };
  if (groupName === undefined) delete n.nodeGroup;
  else n.nodeGroup = groupName;
  return n;
}

/** Keeps pod `app` out of every zone where a pod labelled app=`of` runs. */
function avoidsZoneOf(of: string): Pick<ScaleDownPod, 'podAntiAffinity'> {
  return { podAntiAffinity: [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: of } } }] };
}

describe('scale-down decision regressions', () => {
  /**
   * Property counterexample (seed -621150906): n0 and n2 share zone z1 although n0's pod keeps away
   * from app=b's zone and n2 runs app=b. Neither can be emptied alone (each pod's only place is n1, in
   * z1), but the consolidation of both can: the replacement node has no zone label, p-b goes there and
   * p-d to n1. The verifier replayed n0 and n2 one after the other and reported p-d -> n1 as an
   * anti-affinity violation against p-b still on n2; the removal workflow cordons both and drains them
   * in parallel, and the planner places their pods as one set.
   */
  function consolidationOfTwoConflictingNodes(dryRun: boolean): ScaleDownInput {
    const cordoned = { unschedulable: true };
    const n0 = inZone('n0', 'z1', 'g1', [pod('d-0', { labels: { app: 'd' }, requests: res(50, 64 * Mi), ...avoidsZoneOf('b') })]);
    n0.node = { ...n0.node, ...cordoned };
    const n1 = inZone('n1', 'z1', 'g1', [], { annotations: { 'karpenter.sh/do-not-disrupt': 'true' } });
    const n2 = inZone('n2', 'z1', 'g1', [pod('b-0', { labels: { app: 'b' }, requests: res(50, 64 * Mi) })]);
    n2.node = { ...n2.node, ...cordoned };
    return input(
      [n0, n1, n2],
      [
        group(
          'g1',
          3,
          { offerings: [SMALL] },
          {
            dryRun,
            disruptionBudget: { maxUnavailable: 2 },
            consolidation: { enabled: true, savingsThresholdPercent: 1 },
          },
        ),
      ],
    );
  }

  for (const dryRun of [false, true]) {
    it(`the nodes of one consolidation leave together: their pods are placed as one set, not node by node (dryRun ${dryRun})`, () => {
      const i = consolidationOfTwoConflictingNodes(dryRun);
      const d = decideScaleDown(i);
      // Neither node can be emptied alone.
      for (const v of d.nodes.filter((x) => x.node !== 'n1')) expect(v.kind).to.equal('consolidate');
      const made = dryRun ? d.dryRunRemovals : d.removals;
      expect(dryRun ? d.removals : d.dryRunRemovals).to.deep.equal([]);
      expect(made.map((r) => [r.node, r.kind])).to.deep.equal([
        ['n0', 'consolidate'],
        ['n2', 'consolidate'],
      ]);
      const replacement = made[0]?.replacements?.[0]?.name as string;
      expect(made.flatMap((r) => r.moves)).to.deep.equal([
        { pod: 'default/d-0', node: 'n1' },
        { pod: 'default/b-0', node: replacement },
      ]);
      expect(verifyScaleDown(i, d)).to.deep.equal([]);
    });
  }

  it('the verifier still refuses a consolidation that moves a pod onto another node of the same consolidation', () => {
    const i = consolidationOfTwoConflictingNodes(false);
    const d = decideScaleDown(i);
    const bad: ScaleDownDecision = structuredClone(d);
    const n0 = bad.removals.find((r) => r.node === 'n0') as Removal;
    n0.moves = [{ pod: 'default/d-0', node: 'n2' }];
    expect(verifyScaleDown(i, bad)).to.deep.equal(['pod default/d-0 moved to n2, which is leaving or unknown']);
  });

  /**
   * Property hunt (sampled clusters, seeds 2 and 7): the decision took candidates least-utilised first
   * across dry-run and real groups alike and applied every dry-run removal to its simulation, so a
   * real removal was checked against a cluster without the dry-run node. Here the dry-run node d1
   * runs x-0, which keeps app=y out of zone z1; once the simulation moved x-0 to k1 (zone z3, tainted
   * so that y-0 cannot follow), y-0 of the real node r1 was allowed onto k2 in z1 and r1 was
   * approved. The dry-run removal never happens: x-0 stays in z1 and y-0 has no place.
   */
  function realBesideDryRun(): ScaleDownInput {
    const gpu = { key: 'gpu', value: 'x', effect: 'NoSchedule' as const };
    const d1 = inZone('d1', 'z1', 'dry', [
      pod('x-0', { labels: { app: 'x' }, requests: res(50, 64 * Mi), tolerations: [{ key: 'gpu', operator: 'Exists' }], ...avoidsZoneOf('y') }),
    ]);
    const r1 = inZone('r1', 'z2', 'real', [pod('y-0', { labels: { app: 'y' }, requests: res(500, 64 * Mi) })]);
    const k1 = inZone('k1', 'z3', undefined, []);
    k1.node = { ...k1.node, taints: [gpu] };
    const k2 = inZone('k2', 'z1', undefined, []);
    return input([d1, r1, k1, k2], [group('dry', 1, {}, { dryRun: true }), group('real', 1)]);
  }

  it('a real removal is never decided on a cluster that assumes a dry-run removal (real groups first, dry-run groups after)', () => {
    const i = realBesideDryRun();
    const d = decideScaleDown(i);
    expect(d.removals).to.deep.equal([]);
    const r1 = d.nodes.find((v) => v.node === 'r1');
    expect(r1?.outcome).to.equal('blocked');
    expect(r1?.reason).to.equal('AntiAffinityUnsatisfiable');
    // The dry-run report still sees the real decision (here: nothing removed) and says what it would do.
    expect(d.dryRunRemovals.map((r) => [r.node, r.moves])).to.deep.equal([['d1', [{ pod: 'default/x-0', node: 'k1' }]]]);
    expect(verifyScaleDown(i, d)).to.deep.equal([]);
  });

  it('a real removal evicts only pods that are on its node, never one a dry-run removal would move there', () => {
    // Seed 7's shape: x-0 (on the dry-run node d1, the least utilised candidate) may only go to zone
    // z2, where the real candidates a1 and b1 are. Taken first, d1 moved x-0 onto a1 in the
    // simulation, and a1's approved removal then listed default/x-0 among its evictions and moves
    // although x-0 runs on d1, which stays.
    const zoneZ2 = { nodeSelector: { [LABEL_ZONE]: 'z2' } };
    const d1 = inZone('d1', 'z2', 'dry', [pod('x-0', { labels: { app: 'x' }, requests: res(50, 64 * Mi), ...zoneZ2 })]);
    const a1 = inZone('a1', 'z2', 'real', [pod('a-0', { requests: res(100, 64 * Mi) })]);
    const b1 = inZone('b1', 'z2', 'real', [pod('b-0', { requests: res(200, 64 * Mi) })]);
    const k = inZone('k', 'z1', undefined, []);
    const i = input([d1, a1, b1, k], [group('dry', 1, {}, { dryRun: true }), group('real', 2)]);
    const d = decideScaleDown(i);
    expect(d.removals.map((r) => [r.node, r.evictions, r.moves])).to.deep.equal([['a1', ['default/a-0'], [{ pod: 'default/a-0', node: 'k' }]]]);
    expect(d.nodes.find((v) => v.node === 'b1')?.reason).to.equal('DisruptionBudgetExhausted');
    // The dry-run report sees a1 gone: x-0 would go to b1.
    expect(d.dryRunRemovals.map((r) => [r.node, r.moves])).to.deep.equal([['d1', [{ pod: 'default/x-0', node: 'b1' }]]]);
    expect(verifyScaleDown(i, d)).to.deep.equal([]);
  });
});
