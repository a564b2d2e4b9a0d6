import { expect } from 'chai';
import fc from 'fast-check';

import { planFirstFitDecreasing, planScaleUp } from '../../../../decision/planner/planner';
import { startingClusterNodes } from '../../../../decision/planner/templates';
import { UNPLACED_REASONS } from '../../../../decision/planner/types';
import { verifyDecision } from '../../../../decision/planner/verify';
import { plannerInputArb } from './arbitraries';

const RUNS = Number(process.env.FC_RUNS ?? 300);

describe('planner properties', () => {
  it('every placement fits when replayed through the reference predicates (incl. summed requests + DaemonSet overhead)', () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        const d = planScaleUp(input);
        expect(verifyDecision(input, d)).to.deep.equal([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('the FFD baseline is itself valid', () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        expect(verifyDecision(input, planFirstFitDecreasing(input))).to.deep.equal([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('no group exceeds maxNodes', () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        const d = planScaleUp(input);
        for (const g of d.groups) {
          const group = input.nodeGroups.find((x) => x.name === g.group);
          expect(group).to.not.equal(undefined);
          if (group) expect(group.currentNodes + g.newNodes).to.be.at.most(group.maxNodes);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('the cluster node limit is respected', () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        const d = planScaleUp(input);
        if (d.newNodes > 0) expect(startingClusterNodes(input) + d.newNodes).to.be.at.most(input.maxClusterNodes);
      }),
      { numRuns: RUNS },
    );
  });

  it("never costs more than first-fit-decreasing for at least as many placed pods (beyond a preferred offering's tolerance)", () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        const d = planScaleUp(input);
        const ffd = planFirstFitDecreasing(input);
        expect(d.placements.length).to.be.at.least(ffd.placements.length);
        const taken = (d.preferences ?? []).filter((p) => p.chosen === 'preferred');
        // A preference taken may cost up to its tolerance over the cheapest plan, never more.
        for (const p of taken) expect(p.preferredMonthlyPrice).to.be.at.most(p.cheapestMonthlyPrice * (1 + p.tolerancePercent / 100) + 1e-6);
        const allowance = Math.max(0, ...taken.map((p) => p.tolerancePercent));
        if (d.placements.length === ffd.placements.length) expect(d.monthlyPrice).to.be.at.most(ffd.monthlyPrice * (1 + allowance / 100) + 1e-6);
      }),
      { numRuns: RUNS },
    );
  });

  it('is deterministic: same input, same decision; input order does not matter', () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        const a = planScaleUp(input);
        const b = planScaleUp(structuredClone(input));
        expect(b).to.deep.equal(a);
        const shuffled = {
          ...input,
          pendingPods: [...input.pendingPods].reverse(),
          existingNodes: [...input.existingNodes].reverse(),
          nodeGroups: [...input.nodeGroups].reverse(),
        };
        expect(planScaleUp(shuffled)).to.deep.equal(a);
      }),
      { numRuns: RUNS },
    );
  });

  it('every unplaced pod has a reason from the closed set', () => {
    fc.assert(
      fc.property(plannerInputArb, (input) => {
        const d = planScaleUp(input);
        for (const u of d.unplaced) expect(UNPLACED_REASONS).to.include(u.reason);
        expect(d.placements.length + d.unplaced.length).to.equal(input.pendingPods.length);
      }),
      { numRuns: RUNS },
    );
  });
});
