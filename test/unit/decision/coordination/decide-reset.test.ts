import { expect } from 'chai';
import { initialState, observe, operator, type NapEvent } from '../../../../decision/coordination/decide';
import { DEFAULT_SETTINGS, type CoordinationSettings } from '../../../../decision/coordination/settings';

const settings: CoordinationSettings = {
  ...DEFAULT_SETTINGS,
  breaker: { ...DEFAULT_SETTINGS.breaker, nodeChurnThreshold: 2, cooldownMs: 60_000 },
  halfOpenMs: 60_000,
};
const node = (at: number, i: number): NapEvent => ({ at, kind: 'NodeScaleUp', node: `n${i}` });

describe('coordination: a reset breaker is not tripped again by what it was reset for', () => {
  it('the node changes before an operator reset no longer count; new ones do', () => {
    const t = 1_000_000;
    const tripped = observe(initialState(), { nap: [node(t, 1), node(t + 1, 2), node(t + 2, 3)] }, settings, t + 3);
    expect(tripped.transitions.map((x) => x.to)).to.deep.equal(['Open']);
    const reset = operator(tripped.state, 'reset', 'seen it', settings, t + 10_000);
    expect(reset.state.breaker.state).to.equal('Closed');
    // the same window resent (a hub catch-up) and an unrelated event: nothing trips
    const again = observe(
      reset.state,
      { nap: [node(t, 1), node(t + 1, 2), node(t + 2, 3)], vpa: [{ at: t + 11_000, kind: 'Eviction', source: 'VPA', workload: 'w', pod: 'p' }] },
      settings,
      t + 11_000,
    );
    expect(again.transitions).to.deep.equal([]);
    expect(again.state.breaker.state).to.equal('Closed');
    // three new node changes after the reset trip it
    const fresh = observe(again.state, { nap: [node(t + 12_000, 4), node(t + 12_001, 5), node(t + 12_002, 6)] }, settings, t + 12_003);
    expect(fresh.transitions.map((x) => x.to)).to.deep.equal(['Open']);
    expect(fresh.state.breaker.numbers).to.include({ nodeChanges: 3, threshold: 2 });
  });
});
