/**
 * Prometheus query building: the CPU rate's range is the step (never the rolling window — the
 * ancestor project's bug), memory peaks are per interval at step = interval, one query per
 * namespace and resource, aligned so a retry asks the same question.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { dropPartialFirstWindows, MAX_POINTS_PER_SERIES, namespaceQueries, promString, queryRangeUrl } from '../../../../activities/rightsizing/prometheus';

const H = 3_600_000;
const rangeOf = (q: string, fn: string): string | undefined => new RegExp(`${fn}\\(container_[a-z_]+\\{[^}]*\\}\\[(\\d+s)\\]\\)`).exec(q)?.[1];

describe('rightsizing providers: Prometheus queries', () => {
  it('CPU: a rate over one step, at that step, over the window, grouped by namespace, pod and container', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 30);
    const q = namespaceQueries('team-a', now, 24 * H, { stepMs: 60_000 });
    expect(q.cpu.query).to.equal(
      'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="team-a",container!="",container!="POD"}[60s]))',
    );
    expect(q.rateWindowSeconds).to.equal(60);
    expect(q.cpu.step).to.equal(60);
    expect(q.cpu.end).to.equal(Date.UTC(2026, 0, 1, 12, 0, 0) / 1000, 'end aligned down to the step');
    expect(q.cpu.end - q.cpu.start).to.equal(24 * 3600 - 60, 'every point’s range inside the window');
  });

  it('memory: max_over_time over one interval at step = interval', () => {
    const q = namespaceQueries('team-a', Date.UTC(2026, 0, 2), 7 * 24 * H, { stepMs: 60_000, memoryIntervalMs: 24 * H });
    expect(q.memory.query).to.equal(
      'max by (namespace, pod, container) (max_over_time(container_memory_working_set_bytes{namespace="team-a",container!="",container!="POD"}[86400s]))',
    );
    expect(q.memory.step).to.equal(86_400);
    expect(q.memoryIntervalSeconds).to.equal(86_400);
    expect((q.memory.end - q.memory.start) / q.memory.step + 1).to.equal(7, 'one peak per day of the week');
  });

  it('memory: the newest peak ends at the CPU step of now, not at the last full interval (an hour-long interval at 12:40 still sees 11:40–12:40)', () => {
    const now = Date.UTC(2026, 0, 1, 12, 40, 7);
    const q = namespaceQueries('ns', now, 2 * H, { stepMs: 15_000, memoryIntervalMs: H });
    expect(q.memory.end).to.equal(Date.UTC(2026, 0, 1, 12, 40, 0) / 1000);
    expect(q.memory.end).to.equal(q.cpu.end);
    expect(q.memory.step).to.equal(3600);
    expect((q.memory.end - q.memory.start) / q.memory.step + 1).to.equal(2);
  });

  it('for any window and step, the rate range equals the step and is never the rolling window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 720 }).map((h) => h * H),
        fc.integer({ min: 1, max: 600 }).map((s) => s * 1000),
        fc.integer({ min: 1, max: 48 }).map((h) => h * H),
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        (windowMs, stepMs, memoryIntervalMs, now) => {
          const q = namespaceQueries('ns', now, windowMs, { stepMs, memoryIntervalMs });
          const cpuRange = rangeOf(q.cpu.query, 'rate');
          const memRange = rangeOf(q.memory.query, 'max_over_time');
          expect(cpuRange).to.equal(`${q.cpu.step}s`);
          expect(q.rateWindowSeconds).to.equal(q.cpu.step);
          expect(cpuRange).to.not.equal(`${windowMs / 1000}s`);
          expect(memRange).to.equal(`${q.memory.step}s`);
          expect(q.memory.step).to.be.at.most(windowMs / 1000);
          expect(q.memory.step).to.be.at.least(q.cpu.step);
          // within Prometheus's points-per-series limit
          expect((q.cpu.end - q.cpu.start) / q.cpu.step + 1).to.be.at.most(MAX_POINTS_PER_SERIES);
          expect((q.memory.end - q.memory.start) / q.memory.step + 1).to.be.at.most(MAX_POINTS_PER_SERIES);
          expect(q.cpu.end % q.cpu.step).to.equal(0);
          expect(q.cpu.end).to.be.at.most(now / 1000);
          expect(q.memory.end, 'the newest memory peak is asked for').to.equal(q.cpu.end);
          expect(now / 1000 - q.memory.end).to.be.lessThan(q.cpu.step);
        },
      ),
    );
  });

  it('a 30-day window at a 60 s step grows the step (and with it the rate range) to stay under the points limit', () => {
    const q = namespaceQueries('ns', Date.UTC(2026, 0, 1), 720 * H, { stepMs: 60_000 });
    expect(q.cpu.step).to.equal(Math.ceil((720 * 3600) / MAX_POINTS_PER_SERIES));
    expect(rangeOf(q.cpu.query, 'rate')).to.equal(`${q.cpu.step}s`);
  });

  it('the same request at another instant of the same step asks the same question (idempotent retries)', () => {
    const a = namespaceQueries('ns', Date.UTC(2026, 0, 1, 0, 5, 1), 2 * H, { stepMs: 60_000, memoryIntervalMs: H });
    const b = namespaceQueries('ns', Date.UTC(2026, 0, 1, 0, 5, 59), 2 * H, { stepMs: 60_000, memoryIntervalMs: H });
    expect(a.cpu).to.deep.equal(b.cpu);
  });

  it('label values are PromQL-escaped and the URL carries start, end and step', () => {
    expect(promString('a"b\\c')).to.equal('"a\\"b\\\\c"');
    const q = namespaceQueries('ns', Date.UTC(2026, 0, 1), 2 * H, { stepMs: 30_000 });
    const u = new URL(queryRangeUrl('http://prom:9090/', q.cpu));
    expect(u.pathname).to.equal('/api/v1/query_range');
    expect(u.searchParams.get('query')).to.equal(q.cpu.query);
    expect(u.searchParams.get('step')).to.equal('30s');
    expect(Number(u.searchParams.get('start'))).to.equal(q.cpu.start);
    expect(Number(u.searchParams.get('end'))).to.equal(q.cpu.end);
  });
});

describe('rightsizing providers: Prometheus CPU points of a pod started inside the window', () => {
  const s = (pod: string, ts: number[]) => ({ namespace: 'ns', pod, container: 'app', points: ts.map((t): [number, number] => [t, 0.25]) });
  it('drops the first point of a series that began after the range start (its rate window reaches before the series) and keeps older series whole', () => {
    const start = 1_000_000;
    const [older, young] = dropPartialFirstWindows([s('older', [start, start + 30_000]), s('young', [start + 60_000, start + 90_000, start + 120_000])], start);
    expect(older?.points.map(([t]) => t)).to.deep.equal([start, start + 30_000]);
    expect(young?.points.map(([t]) => t)).to.deep.equal([start + 90_000, start + 120_000]);
  });
});
