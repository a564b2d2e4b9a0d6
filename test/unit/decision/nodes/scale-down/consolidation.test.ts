import { expect } from 'chai';

import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import type { ScaleDownInput } from '../../../../../decision/nodes/scale-down/types';
import { Gi, group, input, node, offering, pod, res } from './fixtures';
import { verifyScaleDown } from './verify';

const M = offering('m', 4000, 8, 40);
const L = offering('l', 8000, 16, 60);

/** Two 'm' nodes each half full (50%: not under the 50% scale-down threshold, so no plain removal). */
function halfEmpty(thresholdPercent: number, extra: { maxUnavailable?: number; dryRun?: boolean; enabled?: boolean } = {}): ScaleDownInput {
  const n1 = node('n1', [pod('web-1', { requests: res(1000, 2 * Gi) }), pod('web-2', { requests: res(1000, 2 * Gi) })], { offeringId: 'm' });
  const n2 = node('n2', [pod('api-1', { requests: res(1000, 2 * Gi) }), pod('api-2', { requests: res(1000, 2 * Gi) })], { offeringId: 'm' });
  return input(
    [n1, n2],
    [
      group(
        'g',
        2,
        { offerings: [M, L] },
        {
          dryRun: extra.dryRun ?? false,
          disruptionBudget: { maxUnavailable: extra.maxUnavailable ?? 2 },
          consolidation: { enabled: extra.enabled ?? true, savingsThresholdPercent: thresholdPercent },
        },
      ),
    ],
  );
}

describe('consolidation', () => {
  it('replaces two half-empty nodes by one when the saving (25%) passes the threshold (20%)', () => {
    const i = halfEmpty(20);
    const d = decideScaleDown(i);
    expect(verifyScaleDown(i, d)).to.deep.equal([]);
    const g = d.groups[0];
    expect(g?.consolidation).to.include({
      outcome: 'approved',
      removedMonthlyPrice: 80,
      replacementMonthlyPrice: 60,
      savingMonthly: 20,
      savingPercent: 25,
      thresholdPercent: 20,
    });
    expect(g?.consolidation?.replacements.map((r) => r.offeringId)).to.deep.equal(['l']);
    expect(d.removals.map((r) => [r.node, r.kind])).to.deep.equal([
      ['n1', 'consolidate'],
      ['n2', 'consolidate'],
    ]);
    const newNode = g?.consolidation?.replacements[0]?.name;
    for (const r of d.removals) {
      expect(r.replacements?.map((x) => x.name)).to.deep.equal([newNode]);
      expect(r.moves.every((m) => m.node === newNode)).to.equal(true);
    }
    expect(d.removals.flatMap((r) => r.evictions).sort()).to.deep.equal(['default/api-1', 'default/api-2', 'default/web-1', 'default/web-2']);
    expect(d.nodes.map((v) => [v.node, v.outcome, v.kind])).to.deep.equal([
      ['n1', 'approved', 'consolidate'],
      ['n2', 'approved', 'consolidate'],
    ]);
  });

  it('does nothing below the threshold (25% saving, 30% threshold) and says why', () => {
    const d = decideScaleDown(halfEmpty(30));
    expect(d.removals).to.deep.equal([]);
    const c = d.groups[0]?.consolidation;
    expect(c).to.include({ outcome: 'belowThreshold', reason: 'ConsolidationBelowThreshold', savingPercent: 25, thresholdPercent: 30 });
    expect(c?.blockers[0]?.numbers).to.include({ savingPercent: 25, thresholdPercent: 30 });
    expect(d.nodes.every((v) => v.outcome === 'notCandidate')).to.equal(true);
  });

  it('does nothing when disabled, and only reports in a dry-run group', () => {
    expect(decideScaleDown(halfEmpty(20, { enabled: false })).groups[0]?.consolidation).to.equal(undefined);
    const d = decideScaleDown(halfEmpty(20, { dryRun: true }));
    expect(d.removals).to.deep.equal([]);
    expect(d.dryRunRemovals.map((r) => r.node)).to.deep.equal(['n1', 'n2']);
    expect(d.groups[0]?.consolidation?.outcome).to.equal('dryRun');
  });

  it('a budget of one node cannot take two nodes at once; a single-node replacement is not cheaper', () => {
    const d = decideScaleDown(halfEmpty(20, { maxUnavailable: 1 }));
    expect(d.removals).to.deep.equal([]);
    expect(d.groups[0]?.consolidation?.outcome).to.not.equal('approved');
  });

  it('a PDB that allows no eviction blocks the consolidation', () => {
    const i = halfEmpty(20);
    const d = decideScaleDown({ ...i, pdbs: [{ name: 'web', namespace: 'default', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 0 }] });
    expect(d.removals).to.deep.equal([]);
    expect(d.groups[0]?.consolidation?.outcome).to.equal('blocked');
    expect(d.groups[0]?.consolidation?.reason).to.equal('PodDisruptionBudget');
  });

  it('deletes without replacement when the pods fit on the other nodes (saving 100%)', () => {
    // n3 is a large, mostly empty node outside the consolidation candidates' budget reach.
    const i = halfEmpty(20, { maxUnavailable: 1 });
    const n3 = node('n3', [pod('big-1', { requests: res(6500, 13 * Gi) })], { offeringId: 'l', cpu: 16000, memGi: 32 });
    const j = input([...i.nodes, n3], [{ ...i.groups[0]!, currentNodes: 3 }]);
    const d = decideScaleDown(j);
    expect(verifyScaleDown(j, d)).to.deep.equal([]);
    expect(d.removals.map((r) => [r.node, r.kind, r.replacements])).to.deep.equal([['n1', 'consolidate', []]]);
    expect(d.groups[0]?.consolidation).to.include({ savingPercent: 100, replacementMonthlyPrice: 0 });
  });
});
