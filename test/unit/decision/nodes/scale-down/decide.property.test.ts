import { expect } from 'chai';
import fc from 'fast-check';

import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import { SCALE_DOWN_REASONS } from '../../../../../decision/nodes/scale-down/reasons';
import type { ScaleDownInput } from '../../../../../decision/nodes/scale-down/types';
import { clusterArb } from './arbitraries';
import { verifyScaleDown } from './verify';

/** Deterministic shuffle (mulberry32). */
function shuffle<T>(xs: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function reordered(i: ScaleDownInput, seed: number): ScaleDownInput {
  return {
    ...i,
    nodes: shuffle(i.nodes, seed).map((n, k) => ({ ...n, pods: shuffle(n.pods, seed + k + 1) })),
    pdbs: shuffle(i.pdbs, seed + 101),
    groups: shuffle(i.groups, seed + 202),
    inFlightRemovals: shuffle(i.inFlightRemovals, seed + 303),
  };
}

describe('scale-down decision properties (1,000 generated clusters)', () => {
  it('applying the approved removals breaks no PDB, leaves no pod without a place, keeps every group at or above minNodes and within its disruption budget', () => {
    const seen = { approved: 0, blocked: 0, decisions: 0, consolidations: 0 };
    const reasons = new Set<string>();
    fc.assert(
      fc.property(clusterArb, (input) => {
        const d = decideScaleDown(input);
        seen.decisions++;
        seen.approved += d.removals.length + d.dryRunRemovals.length;
        seen.consolidations += [...d.removals, ...d.dryRunRemovals].filter((r) => r.kind === 'consolidate').length;
        seen.blocked += d.stats.blocked;
        for (const v of d.nodes) for (const b of v.blockers) reasons.add(b.reason);
        expect(verifyScaleDown(input, d)).to.deep.equal([]);
        // Every verdict carries reasons from the closed set; blocked nodes have a first reason.
        for (const v of d.nodes) {
          for (const b of v.blockers) expect(SCALE_DOWN_REASONS).to.include(b.reason);
          if (v.outcome === 'blocked' || v.outcome === 'notCandidate') expect(v.reason).to.equal(v.blockers[0]?.reason);
        }
      }),
      { numRuns: 1000 },
    );
    // The generator must exercise both sides, or the property proves little.
    expect(seen.approved).to.be.greaterThan(100);
    expect(seen.blocked).to.be.greaterThan(100);
    expect(seen.consolidations).to.be.greaterThan(0);
    for (const r of ['PodDisruptionBudget', 'NoPlaceToMove', 'MinNodesReached', 'DisruptionBudgetExhausted', 'LocalStorage', 'UnreplicatedPod']) {
      expect([...reasons]).to.include(r);
    }
  });

  it('determinism: the same input gives the same decision, and reordered input lists give the same decision', () => {
    fc.assert(
      fc.property(clusterArb, fc.integer(), (input, seed) => {
        const a = decideScaleDown(input);
        expect(decideScaleDown(structuredClone(input))).to.deep.equal(a);
        expect(decideScaleDown(reordered(input, seed))).to.deep.equal(a);
      }),
      { numRuns: 300 },
    );
  });

  it('the decision record is plain JSON (round-trips unchanged)', () => {
    fc.assert(
      fc.property(clusterArb, (input) => {
        const d = decideScaleDown(input);
        expect(JSON.parse(JSON.stringify(d))).to.deep.equal(d);
      }),
      { numRuns: 100 },
    );
  });
});
