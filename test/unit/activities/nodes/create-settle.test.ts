/** The create settle window (#12): within CREATE_SETTLE_SECONDS of a recorded create, nothing is sent again. */
import { expect } from 'chai';
import { createSettleDecision } from '../../../../activities/nodes/lifecycle/machines';

describe('VM create settle window', () => {
  const at = Date.parse('2026-12-02T04:00:00Z');
  it('no recorded create: create', () => expect(createSettleDecision(undefined, at, 120_000)).to.equal('create'));
  it('a create recorded 10 s ago with a 120 s window: wait (VPSie may not show it yet)', () =>
    expect(createSettleDecision(new Date(at - 10_000).toISOString(), at, 120_000)).to.equal('wait'));
  it('the window has passed with nothing visible: create again', () =>
    expect(createSettleDecision(new Date(at - 121_000).toISOString(), at, 120_000)).to.equal('create'));
  it('an unreadable or future timestamp never blocks a create forever', () => {
    expect(createSettleDecision('yesterday', at, 120_000)).to.equal('create');
    expect(createSettleDecision(new Date(at + 3_600_000).toISOString(), at, 120_000)).to.equal('create');
  });
  it('window 0: never waits', () => expect(createSettleDecision(new Date(at).toISOString(), at, 0)).to.equal('create'));
});
