import { expect } from 'chai';
import { startingDesired } from '../../../../../decision/nodes/nodegroup/restart';

describe('decision/nodes/nodegroup/restart: where a NodeGroup run without carried state starts', () => {
  it('takes status.desiredNodes when it is at least the counted VPSieNodes', () => {
    expect(startingDesired({ statusDesired: 5, counted: 5 })).to.include({ desired: 5, reason: 'StatusDesiredNodes', counted: 5, statusDesired: 5 });
    expect(startingDesired({ statusDesired: 7, counted: 5 })).to.include({ desired: 7, reason: 'StatusDesiredNodes' });
  });

  it('never starts below the counted VPSieNodes, so a fresh run removes no Ready node by itself', () => {
    expect(startingDesired({ statusDesired: 2, counted: 5 })).to.include({ desired: 5, reason: 'CountedNodes' });
    expect(startingDesired({ statusDesired: undefined, counted: 3 })).to.include({ desired: 3, reason: 'CountedNodes' });
  });

  it('a new group (no status, no VPSieNodes) starts at 0; an invalid status value is ignored', () => {
    expect(startingDesired({ statusDesired: undefined, counted: 0 })).to.include({ desired: 0, reason: 'Empty' });
    expect(startingDesired({ statusDesired: Number.NaN, counted: 2 })).to.include({ desired: 2, reason: 'CountedNodes', statusDesired: undefined });
    expect(startingDesired({ statusDesired: -3, counted: 0 })).to.include({ desired: 0, reason: 'Empty' });
  });

  it('says its numbers in the message', () => {
    expect(startingDesired({ statusDesired: 4, counted: 3 }).message).to.equal(
      'started without carried state: desired 4 (status.desiredNodes 4, 3 counted VPSieNodes)',
    );
  });
});
