/**
 * scaleDownPolicy.utilizationSource (issue #17, document 001 §2.1.2 "low CPU/memory usage over
 * observation period"): underutilisation judged from requests, from metrics-server usage, or both;
 * usage not known for the whole window is never "idle".
 */
import { expect } from 'chai';
import fc from 'fast-check';

import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import type { NodeVerdict, ScaleDownInput, ScaleDownNode } from '../../../../../decision/nodes/scale-down/types';
import { createTracker, nodeSample, observe, windowView, windowViews, type UtilizationTracker } from '../../../../../decision/nodes/scale-down/utilization';
import type { UtilizationSource } from '../../../../../lib/crds/autoscaler/constants';
import { Gi, group, input, Mi, node, NOW, pod, res } from './fixtures';

/** n1: 1 pod; n2 has room for it. Usage of n1 in base units over the samples (undefined = not scraped). */
function cluster(n1Requests: { cpu: number; memory: number }, n1Usage = { cpuMilli: 200, memoryBytes: 400 * Mi }): ScaleDownNode[] {
  return [
    node('n1', [pod('web-1', { requests: res(n1Requests.cpu, n1Requests.memory) })], { usage: n1Usage }),
    node('n2', [pod('busy-1', { requests: res(1000, 1 * Gi) })], { usage: { cpuMilli: 400, memoryBytes: 800 * Mi } }),
  ];
}

/** Samples every 60 s for `seconds` up to NOW; `usageAt(at)` gives n1's usage (n2 is at 10%). */
function tracked(nodes: ScaleDownNode[], seconds: number, usageAt: (at: number) => { cpuMilli: number; memoryBytes: number } | undefined): UtilizationTracker {
  let t = createTracker();
  for (let at = NOW - seconds * 1000; at <= NOW; at += 60_000) {
    t = observe(
      t,
      nodes.map((n) => nodeSample(n.node.name, n.node.allocatable, n.pods, n.node.name === 'n1' ? usageAt(at) : { cpuMilli: 400, memoryBytes: 800 * Mi })),
      at,
    );
  }
  return t;
}

function withSource(i: ScaleDownInput, source: UtilizationSource): ScaleDownInput {
  return { ...i, groups: i.groups.map((g) => ({ ...g, spec: { ...g.spec, scaleDownPolicy: { ...g.spec.scaleDownPolicy, utilizationSource: source } } })) };
}

function n1(i: ScaleDownInput): NodeVerdict {
  const v = decideScaleDown(i).nodes.find((x) => x.node === 'n1');
  if (!v) throw new Error('n1 missing');
  return v;
}

const reasons = (v: NodeVerdict): string[] => [...new Set(v.blockers.map((b) => b.reason))];

describe('scale-down: utilizationSource requests | usage | both', () => {
  // Requests 70% cpu of n1 (4000m), usage 5%: busy on paper, idle in fact.
  const highRequests = cluster({ cpu: 2800, memory: 512 * Mi });
  const lowUsage = (): { cpuMilli: number; memoryBytes: number } => ({ cpuMilli: 200, memoryBytes: 400 * Mi });

  it('high requests, low usage: `requests` keeps the node, `usage` removes it, `both` keeps it; the blocker names the source', () => {
    const base = input(highRequests, [group('g', 2)], { utilization: tracked(highRequests, 600, lowUsage) });
    const byRequests = n1(withSource(base, 'requests'));
    expect(byRequests.outcome).to.equal('notCandidate');
    expect(reasons(byRequests)).to.deep.equal(['NotUnderutilized']);
    expect(byRequests.blockers[0]?.message).to.match(/^requests peaked .* 70% cpu/);

    const byUsage = n1(withSource(base, 'usage'));
    expect(byUsage.outcome, JSON.stringify(byUsage.blockers)).to.equal('approved');
    expect(byUsage.utilization.source).to.equal('usage');
    expect(byUsage.utilization.windowMaxCpu).to.equal(0.05);
    expect(byUsage.utilization.requests?.windowMaxCpu).to.equal(0.7);

    // The anti-flap rule judges by the same source: by requests n2 would be at 95% cpu (over the
    // 80% scale-up threshold), by usage at 15%.
    expect(n1(withSource(base, 'requests')).blockers.map((b) => b.reason)).to.not.include('WouldTriggerScaleUp');
    const hot = withSource(
      input(
        cluster({ cpu: 2800, memory: 512 * Mi }, { cpuMilli: 1800, memoryBytes: 400 * Mi }).map((n) =>
          n.node.name === 'n2' ? { ...n, usage: { cpuMilli: 1600, memoryBytes: 800 * Mi } } : n,
        ),
        [group('g', 2)],
        { utilization: tracked(highRequests, 600, () => ({ cpuMilli: 1800, memoryBytes: 400 * Mi })) },
      ),
      'usage',
    );
    const v = n1(hot);
    expect(v.outcome).to.equal('blocked');
    expect(v.blockers.map((b) => b.message)).to.deep.equal([
      'after the removal group g would use (metrics-server) 85% cpu / 14.65% memory of its nodes, scale-up thresholds are 80% / 80%',
    ]);

    const byBoth = n1(withSource(base, 'both'));
    expect(byBoth.outcome).to.equal('notCandidate');
    expect(byBoth.blockers.map((b) => b.message)).to.have.length(1);
    expect(byBoth.blockers[0]?.message).to.match(/^requests peaked/);
  });

  it('low requests, high usage: `requests` removes the node, `usage` and `both` keep it with a usage blocker', () => {
    const lowRequests = cluster({ cpu: 200, memory: 256 * Mi });
    const hot = (): { cpuMilli: number; memoryBytes: number } => ({ cpuMilli: 3400, memoryBytes: 1 * Gi });
    const base = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 600, hot) });
    expect(n1(withSource(base, 'requests')).outcome).to.equal('approved');
    for (const s of ['usage', 'both'] as const) {
      const v = n1(withSource(base, s));
      expect(v.outcome, s).to.equal('notCandidate');
      expect(reasons(v), s).to.deep.equal(['NotUnderutilized']);
      expect(v.blockers[0]?.message, s).to.match(/^usage \(metrics-server\) peaked .* 85% cpu/);
      expect(v.blockers[0]?.numbers.usage).to.equal(1);
    }
  });

  it('a usage spike inside the window blocks; one before the window does not', () => {
    const lowRequests = cluster({ cpu: 200, memory: 256 * Mi });
    const spikeAt = (t0: number) => (at: number) => (at === t0 ? { cpuMilli: 3000, memoryBytes: 400 * Mi } : lowUsage());
    const inside = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 900, spikeAt(NOW - 300_000)) });
    expect(reasons(n1(withSource(inside, 'usage')))).to.deep.equal(['NotUnderutilized']);
    const before = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 900, spikeAt(NOW - 840_000)) });
    expect(n1(withSource(before, 'usage')).outcome).to.equal('approved');
  });

  it('usage unknown for part of the window (a new node, a missed scrape): `usage` says UsageUnknown; `both` judges what it has', () => {
    const lowRequests = cluster({ cpu: 200, memory: 256 * Mi });
    // metrics-server had n1 only for the last 5 minutes of the 10-minute window.
    const late = (at: number) => (at >= NOW - 300_000 ? lowUsage() : undefined);
    const partly = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 600, late) });
    expect(n1(withSource(partly, 'requests')).outcome).to.equal('approved');
    const v = n1(withSource(partly, 'usage'));
    expect(v.outcome).to.equal('notCandidate');
    expect(reasons(v)).to.deep.equal(['UsageUnknown']);
    expect(v.blockers[0]?.message).to.match(/known for 300s of the 600s window/);
    // `both`: requests low for the window, the usage it saw low: removed.
    expect(n1(withSource(partly, 'both')).outcome).to.equal('approved');
    // ...but a hot scrape inside the window blocks `both` even though the last scrape is missing.
    const hotThenGone = (at: number) => (at === NOW - 240_000 ? { cpuMilli: 3000, memoryBytes: 400 * Mi } : at >= NOW - 60_000 ? undefined : lowUsage());
    const gone = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 600, hotThenGone) });
    const b = n1(withSource(gone, 'both'));
    expect(reasons(b)).to.deep.equal(['NotUnderutilized']);
    expect(b.blockers[0]?.message).to.match(/^usage \(metrics-server\) peaked .* 75% cpu/);
    expect(reasons(n1(withSource(gone, 'usage')))).to.deep.equal(['UsageUnknown', 'NotUnderutilized']);
    // One scrape missing in the middle restarts the usage observation.
    const hole = (at: number) => (at === NOW - 120_000 ? undefined : lowUsage());
    const holed = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 600, hole) });
    expect(reasons(n1(withSource(holed, 'usage')))).to.deep.equal(['UsageUnknown']);
    // Never any usage (no metrics-server): `usage` never removes; `both` is judged by requests as before.
    const none = input(lowRequests, [group('g', 2)], { utilization: tracked(lowRequests, 600, () => undefined) });
    const u = n1(withSource(none, 'usage'));
    expect(reasons(u)).to.deep.equal(['UsageUnknown']);
    expect(u.blockers[0]?.message).to.match(/no usage of node n1 from metrics-server/);
    const both = n1(withSource(none, 'both'));
    expect(both.outcome).to.equal('approved');
    expect(both.utilization.usage).to.equal(undefined);
  });

  it('the decision from precomputed window views (the loop activity) equals the one from the tracker', () => {
    const t = tracked(highRequests, 600, lowUsage);
    const withTracker = withSource(input(highRequests, [group('g', 2)], { utilization: t }), 'usage');
    const { utilization: _u, ...rest } = withTracker;
    const withViews: ScaleDownInput = { ...rest, windowViews: windowViews(t, [600], NOW) };
    expect(decideScaleDown(withViews)).to.deep.equal(decideScaleDown(withTracker));
  });

  it('property: the window view never under-states a used share sampled inside the window, and counts usage as observed only since the last sample without it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.record({ cpu: fc.integer({ min: 0, max: 1200 }), memory: fc.integer({ min: 0, max: 1200 }) }), { nil: undefined }), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 2, max: 8 }),
        (samples, windowSeconds, maxBuckets) => {
          let t = createTracker({ maxBuckets });
          const start = NOW - (samples.length - 1) * 30_000;
          samples.forEach((s, k) => {
            t = observe(t, [{ node: 'n', cpu: 0.1, memory: 0.1, ...(s ? { usage: { cpu: s.cpu / 1000, memory: s.memory / 1000 } } : {}) }], start + k * 30_000);
          });
          const v = windowView(t, 'n', windowSeconds, NOW);
          const from = NOW - windowSeconds * 1000;
          const inWindow = samples.map((s, k) => ({ s, at: start + k * 30_000 })).filter((x) => x.at >= from);
          const seen = inWindow.filter((x) => x.s !== undefined);
          if (seen.length === 0 && samples[samples.length - 1] === undefined) {
            // Nothing with usage in the window (merged buckets may still reach back before it).
            if (v.usage) expect(v.usage.observedSeconds).to.equal(0);
            return;
          }
          expect(v.usage).to.not.equal(undefined);
          for (const x of seen) {
            expect(v.usage!.maxCpu).to.be.at.least(x.s!.cpu / 1000);
            expect(v.usage!.maxMemory).to.be.at.least(x.s!.memory / 1000);
          }
          // Usage counts as observed since the last sample without it (0 when the last had none).
          if (samples[samples.length - 1] === undefined) {
            expect(v.usage!.observedSeconds).to.equal(0);
            return;
          }
          let firstKnown = samples.length - 1;
          while (firstKnown > 0 && samples[firstKnown - 1] !== undefined) firstKnown--;
          const knownSince = start + firstKnown * 30_000;
          expect(v.usage!.observedSeconds).to.equal(Math.floor((NOW - knownSince) / 1000));
        },
      ),
      { numRuns: 300 },
    );
  });
});
