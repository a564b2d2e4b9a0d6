import { expect } from 'chai';
import type { VpaEvent } from '../../../../decision/coordination/decide';
import { vpaRateLimit } from '../../../../decision/coordination/rate';

const H = 3_600_000;
const ev = (at: number, over: Partial<VpaEvent> = {}): VpaEvent => ({ at, kind: 'Eviction', source: 'VPA', workload: 'web:web', pod: `p-${at}`, ...over });

describe('coordination: the VPA hourly update limit', () => {
  const now = 10 * H;
  it('allows up to limit-1 updates in the hour, and is limited at the limit until the oldest counted one leaves the hour', () => {
    const nine = Array.from({ length: 9 }, (_, i) => ev(now - 50 * 60_000 + i * 60_000));
    expect(vpaRateLimit(nine, 10, now)).to.deep.equal({ limited: false, count: 9, limit: 10 });
    const ten = [...nine, ev(now - 1000)];
    const v = vpaRateLimit(ten, 10, now);
    expect(v.limited).to.equal(true);
    expect(v.until).to.equal(now - 50 * 60_000 + H);
    // at that instant the oldest is out: room again
    expect(vpaRateLimit(ten, 10, v.until!).limited).to.equal(false);
  });
  it('counts only the VPA’s evictions and resizes of the last hour', () => {
    const evs = [
      ev(now - H - 1),
      ev(now - 10, { source: 'OptimizationPolicy' }),
      ev(now - 20, { kind: 'RecommendationUpdate' }),
      ev(now - 30, { kind: 'InPlaceResize' }),
      ev(now + 1000),
    ];
    expect(vpaRateLimit(evs, 2, now)).to.deep.equal({ limited: false, count: 1, limit: 2 });
  });
  it('with more updates than the limit, waits for enough of them to age out', () => {
    const evs = [0, 1, 2, 3, 4].map((i) => ev(now - 40 * 60_000 + i * 60_000));
    expect(vpaRateLimit(evs, 3, now).until).to.equal(now - 38 * 60_000 + H);
  });
});
