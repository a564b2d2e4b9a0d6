/**
 * The utilisation-driven scale-up's window (issue #17): above a threshold at every evaluation for
 * scaleUpPolicy.stabilizationWindowSeconds as written, then one node; a new window after it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  createScaleUpWindows,
  evaluateGroup,
  groupUsage,
  groupUsageSamples,
  observeGroups,
  requested,
  utilizationOffering,
  type GroupUsageSample,
  type ScaleUpWindows,
} from '../../../../../decision/nodes/scale-up/utilization';
import { nodeUsageFromList } from '../../../../../activities/nodes/usage';
import { group, node, offering, pod, res, Gi, Mi } from '../scale-down/fixtures';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function sample(cpu: number | undefined, extra: Partial<GroupUsageSample> = {}): GroupUsageSample {
  return {
    group: 'ns/g',
    namespace: 'ns',
    name: 'g',
    enabled: true,
    deleting: false,
    cpuThreshold: 80,
    memoryThreshold: 80,
    windowSeconds: 60,
    cooldownSeconds: 0,
    currentNodes: 1,
    maxNodes: 3,
    scaleUpInProgress: false,
    readyNodes: 1,
    usageNodes: cpu === undefined ? 0 : 1,
    ...(cpu === undefined ? {} : { cpu, memory: 0.2 }),
    ...extra,
  };
}

/** Evaluations every `every` s; returns the times (s after T0) at which a node was asked for. */
function run(cpuAt: (s: number) => number | undefined, seconds: number, every: number, extra: Partial<GroupUsageSample> = {}): number[] {
  let st: ScaleUpWindows = createScaleUpWindows(300);
  const asked: number[] = [];
  for (let t = 0; t <= seconds; t += every) {
    const now = T0 + t * 1000;
    const s = sample(cpuAt(t), extra);
    st = observeGroups(st, [s], now);
    const v = evaluateGroup(st, s, now);
    if (v.scaleUp) {
      asked.push(t);
      st = requested(st, s.group, now);
    }
  }
  return asked;
}

describe('utilisation scale-up window (scaleUpPolicy thresholds)', () => {
  it('85% cpu for the whole 60 s window: one node at 60 s, none before, the next only after another full window', () => {
    expect(run(() => 0.85, 59, 1)).to.deep.equal([]);
    expect(run(() => 0.85, 60, 1)).to.deep.equal([60]);
    expect(run(() => 0.85, 150, 1)).to.deep.equal([60, 120]);
  });

  it('the window is honoured as written (600 s is not capped)', () => {
    expect(run(() => 0.9, 1200, 30, { windowSeconds: 600 })).to.deep.equal([600, 1200]);
  });

  it('one evaluation at or below the threshold restarts the window; memory alone is enough', () => {
    expect(run((t) => (t === 40 ? 0.8 : 0.85), 120, 10)).to.deep.equal([110]);
    let st = createScaleUpWindows();
    const hotMemory = sample(0.1, { memory: 0.95 });
    st = observeGroups(st, [hotMemory], T0);
    st = observeGroups(st, [hotMemory], T0 + 60_000);
    const v = evaluateGroup(st, hotMemory, T0 + 60_000);
    expect(v.reason).to.equal('UtilizationAboveThreshold');
    expect(v.numbers).to.include({ memoryPercent: 95, cpuPercent: 10, observedSeconds: 60, windowSeconds: 60 });
    expect(v.message).to.match(/10% cpu \/ 95% memory used over 1 Ready node/);
  });

  it('usage unknown (a node not scraped yet) restarts the window and says so; a gap too long does too', () => {
    expect(run((t) => (t === 30 ? undefined : 0.9), 120, 10)).to.deep.equal([100]);
    let st = createScaleUpWindows(300);
    st = observeGroups(st, [sample(0.9)], T0);
    const unknown = sample(undefined, { readyNodes: 2, usageNodes: 1 });
    st = observeGroups(st, [unknown], T0 + 10_000);
    expect(evaluateGroup(st, unknown, T0 + 10_000)).to.include({ reason: 'UsageUnknown', scaleUp: false });
    expect(evaluateGroup(st, unknown, T0 + 10_000).message).to.match(/usage known for 1 of 2 Ready node/);
    st = createScaleUpWindows(300);
    st = observeGroups(st, [sample(0.9)], T0);
    st = observeGroups(st, [sample(0.9)], T0 + 301_000);
    expect(evaluateGroup(st, sample(0.9), T0 + 301_000).reason).to.equal('StabilizationWindowPending');
  });

  it('maxNodes, a scale-up in flight and the cooldown hold the node back; the window keeps running', () => {
    expect(run(() => 0.9, 200, 10, { currentNodes: 3 })).to.deep.equal([]);
    expect(run(() => 0.9, 200, 10, { scaleUpInProgress: true })).to.deep.equal([]);
    expect(run(() => 0.9, 200, 10, { enabled: false })).to.deep.equal([]);
    // Last scale-up at T0+0 (pending pods): window from there, and cooldown 120 s.
    const asked = run(() => 0.9, 200, 10, { lastScaleUpAt: T0 + 30_000, cooldownSeconds: 120 });
    expect(asked).to.deep.equal([150]);
    let st = createScaleUpWindows();
    const s = sample(0.9, { lastScaleUpAt: T0 - 10_000, cooldownSeconds: 120 });
    for (let t = 0; t <= 60; t += 10) st = observeGroups(st, [s], T0 + t * 1000);
    const v = evaluateGroup(st, s, T0 + 60_000);
    expect(v).to.include({ reason: 'ScaleUpCooldown', scaleUp: false });
    expect(v.numbers.cooldownRemainingSeconds).to.equal(50);
  });

  it('group usage is Σ usage / Σ allocatable over Ready nodes, unknown when a Ready node has none', () => {
    const a = { cpuMilli: 2000, memoryBytes: 4000 };
    expect(
      groupUsage([
        { ready: true, allocatable: a, usage: { cpuMilli: 1900, memoryBytes: 1000 } },
        { ready: true, allocatable: { cpuMilli: 6000, memoryBytes: 4000 }, usage: { cpuMilli: 1000, memoryBytes: 1000 } },
        { ready: false, allocatable: a },
      ]),
    ).to.deep.equal({ readyNodes: 2, usageNodes: 2, cpu: 0.3625, memory: 0.25 });
    expect(
      groupUsage([
        { ready: true, allocatable: a, usage: { cpuMilli: 1, memoryBytes: 1 } },
        { ready: true, allocatable: a },
      ]),
    ).to.deep.equal({
      readyNodes: 2,
      usageNodes: 1,
    });
  });

  it('property: a node is asked for only after the window of continuous above-threshold evaluations, and never twice within a window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: 50, max: 100 }), { nil: undefined, freq: 8 }), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 30 }),
        (series, windowSeconds, every) => {
          const cpuAt = (t: number): number | undefined => {
            const x = series[Math.floor(t / every)];
            return x === undefined ? undefined : x / 100;
          };
          const seconds = (series.length - 1) * every;
          const asked = run(cpuAt, seconds, every, { windowSeconds, maxNodes: 1000 });
          let prev = -Infinity;
          for (const t of asked) {
            // Every evaluation in [t - window, t] was strictly above 80%.
            for (let u = t; u >= Math.max(0, t - windowSeconds); u -= every) expect(cpuAt(u)! * 100, `at ${u}`).to.be.greaterThan(80);
            expect(t - windowSeconds).to.be.at.least(0);
            expect(t - prev).to.be.at.least(windowSeconds);
            prev = t;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the observation: one sample per group from its nodes (by label) and its scaleUpPolicy', () => {
    const nodes = [
      node('a', [], { usage: { cpuMilli: 3600, memoryBytes: 1 * Gi } }),
      node('b', [], { usage: { cpuMilli: 3200, memoryBytes: 1 * Gi } }),
      node('c', [], { ready: false }),
      { ...node('x', [], { usage: { cpuMilli: 10, memoryBytes: 1 } }), nodeGroup: 'other' },
    ];
    const g = group('g', 3, { scaleUpInProgress: false, lastScaleUpAt: T0 });
    const [s] = groupUsageSamples(nodes, [g, group('g', 1, { namespace: 'elsewhere' })]);
    expect(s).to.deep.include({
      group: 'kube-system/g',
      readyNodes: 2,
      usageNodes: 2,
      cpu: 0.85,
      memory: 0.125,
      cpuThreshold: 80,
      memoryThreshold: 80,
      windowSeconds: 60,
      currentNodes: 3,
      maxNodes: 10,
      lastScaleUpAt: T0,
    });
    expect(groupUsageSamples(nodes, [g, group('g', 1, { namespace: 'elsewhere' })])).to.have.length(1);
  });

  it("the offering: the cheapest that holds the group's largest pod (and its DaemonSet pods); the cheapest without pods", () => {
    const offerings = [offering('small', 2000, 4, 10), offering('large', 8000, 16, 40), offering('medium', 4000, 8, 20)];
    const g = group('g', 1, { offerings });
    // 3500m fits medium (4000m) alone, not with the 1000m DaemonSet pod every new node runs.
    const big = [node('a', [pod('web-1', { requests: res(3500, 512 * Mi) }), pod('ds-1', { ownerKind: 'DaemonSet', requests: res(1000, 64 * Mi) })])];
    expect(utilizationOffering(big, g).offeringID).to.equal('large');
    expect(utilizationOffering([node('a', [pod('web-1', { requests: res(3500, 512 * Mi) })])], g).offeringID).to.equal('medium');
    const small = [node('a', [pod('web-1', { requests: res(500, 512 * Mi) })])];
    expect(utilizationOffering(small, g).offeringID).to.equal('small');
    expect(utilizationOffering([], g).offeringID).to.equal('small');
    const huge = [node('a', [pod('web-1', { requests: res(64000, 512 * Mi) })])];
    const h = utilizationOffering(huge, g);
    expect(h.offeringID).to.equal('small');
    expect(h.message).to.match(/no offering holds the group's largest pod/);
    expect(utilizationOffering(small, group('g', 1, { offerings: [] })).offeringID).to.equal(undefined);
  });

  it('NodeMetrics: usage per node in base units; entries metrics-server has not completed are left out', () => {
    const u = nodeUsageFromList({
      items: [
        { metadata: { name: 'a' }, timestamp: '2026-12-03T01:59:08Z', window: '10.007s', usage: { cpu: '1699623636n', memory: '64Mi' } },
        { metadata: { name: 'b' }, timestamp: null, usage: { cpu: '0', memory: '0' } },
        { metadata: { name: 'c' }, timestamp: '2026-12-03T01:59:08Z', usage: { cpu: 'bogus', memory: '1Gi' } },
      ],
    });
    expect([...u.entries()]).to.deep.equal([['a', { cpuMilli: 1700, memoryBytes: 64 * Mi }]]);
  });
});
