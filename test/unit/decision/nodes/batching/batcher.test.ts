import { expect } from 'chai';
import fc from 'fast-check';
import { Batcher, batchId, type Batch, type ScaleUpSignal } from '../../../../../decision/nodes/batching';
import { isResourceShortage, parseSchedulerReasons, type SchedulerReason } from '../../../../../decision/nodes/batching';

function pod(uid: string, at: number, reasons: SchedulerReason[] = ['InsufficientCPU']): ScaleUpSignal {
  return { kind: 'pod', source: 'FailedScheduling', uid, namespace: 'ns', name: `p-${uid}`, reasons, at };
}

/** Drives a batcher with a simulated clock: signals at their times, timers fired at nextDeadline. */
function simulate(b: Batcher, signals: ScaleUpSignal[], end: number): Batch[] {
  const out: Batch[] = [];
  const sorted = [...signals].sort((x, y) => x.at - y.at);
  for (const s of sorted) {
    // fire every timer due before this signal
    for (let d = b.nextDeadline(); d !== undefined && d <= s.at; d = b.nextDeadline()) {
      const batch = b.poll(d);
      if (batch) out.push(batch);
    }
    out.push(...b.add(s, s.at));
  }
  for (let d = b.nextDeadline(); d !== undefined && d <= end; d = b.nextDeadline()) {
    const batch = b.poll(d);
    if (batch) out.push(batch);
  }
  return out;
}

describe('scale-up batcher (simulated time)', () => {
  it('closes after the idle window when signals stop', () => {
    const b = new Batcher({ idleMs: 300, maxMs: 1000 });
    expect(b.add(pod('a', 0))).to.deep.equal([]);
    expect(b.add(pod('b', 100))).to.deep.equal([]);
    expect(b.nextDeadline()).to.equal(400);
    expect(b.poll(399)).to.equal(undefined);
    const batch = b.poll(400)!;
    expect(batch.closedBy).to.equal('idle');
    expect(batch.firstSignalAt).to.equal(0);
    expect(batch.pods.map((p) => p.uid)).to.deep.equal(['a', 'b']);
    expect(b.nextDeadline()).to.equal(undefined);
  });

  it('closes at the max window even while signals keep coming', () => {
    const b = new Batcher({ idleMs: 300, maxMs: 1000 });
    const signals = Array.from({ length: 30 }, (_, i) => pod(`u${i}`, i * 100));
    const batches = simulate(b, signals, 10_000);
    expect(batches[0]!.closedBy).to.equal('max');
    expect(batches[0]!.closedAt).to.equal(1000);
    expect(batches[0]!.pods).to.have.length(10); // 0..900 ms
    expect(batches.flatMap((x) => x.pods.map((p) => p.uid))).to.have.length(30);
  });

  it('merges repeated signals for the same pod uid and unions their reasons and sources', () => {
    const b = new Batcher({ idleMs: 300, maxMs: 1000 });
    b.add(pod('a', 0, ['InsufficientCPU']));
    b.add({ ...pod('a', 50, ['TaintNotTolerated']), source: 'PendingPod' } as ScaleUpSignal);
    b.add(pod('a', 100, ['InsufficientCPU']));
    const batch = b.poll(400)!;
    expect(batch.pods).to.have.length(1);
    expect(batch.signals).to.equal(3);
    expect(batch.pods[0]!.reasons).to.deep.equal(['InsufficientCPU', 'TaintNotTolerated']);
    expect(batch.pods[0]!.sources).to.deep.equal(['FailedScheduling', 'PendingPod']);
    expect(batch.pods[0]!.firstSeen).to.equal(0);
  });

  it('a signal after the deadline starts the next batch and returns the closed one', () => {
    const b = new Batcher({ idleMs: 300, maxMs: 1000 });
    b.add(pod('a', 0));
    const closed = b.add(pod('b', 5000));
    expect(closed).to.have.length(1);
    expect(closed[0]!.pods.map((p) => p.uid)).to.deep.equal(['a']);
    expect(closed[0]!.closedAt).to.equal(5000);
    expect(b.nextDeadline()).to.equal(5300);
  });

  it('closes when full (maxPods), also when the previous batch was overdue', () => {
    const b = new Batcher({ idleMs: 300, maxMs: 1000, maxPods: 2 });
    expect(b.add(pod('a', 0))).to.have.length(0);
    const full = b.add(pod('b', 10));
    expect(full.map((x) => x.closedBy)).to.deep.equal(['size']);
    const two = new Batcher({ idleMs: 300, maxMs: 1000, maxPods: 2 });
    two.add(pod('a', 0));
    expect(two.add(pod('b', 5000)).map((x) => [x.closedBy, x.pods.map((p) => p.uid).join()])).to.deep.equal([['max', 'a']]);
    expect(two.add(pod('c', 5010)).map((x) => [x.closedBy, x.pods.map((p) => p.uid).join()])).to.deep.equal([['size', 'b,c']]);
  });

  it('node pressure signals are batched per node with their conditions', () => {
    const b = new Batcher({ idleMs: 100, maxMs: 500 });
    b.add({ kind: 'node', source: 'NodePressure', node: 'n2', conditions: ['MemoryPressure'], at: 0 });
    b.add({ kind: 'node', source: 'NodePressure', node: 'n1', conditions: ['DiskPressure'], at: 10 });
    b.add({ kind: 'node', source: 'NodePressure', node: 'n2', conditions: ['PIDPressure'], at: 20 });
    const batch = b.flush(30)!;
    expect(batch.closedBy).to.equal('flush');
    expect(batch.pods).to.deep.equal([]);
    expect(batch.pressure).to.deep.equal([
      { node: 'n1', conditions: ['DiskPressure'] },
      { node: 'n2', conditions: ['MemoryPressure', 'PIDPressure'] },
    ]);
  });

  it('batch ids are derived from the first signal time and the set of keys, not their order', () => {
    expect(batchId(0, ['pod:a', 'pod:b'])).to.equal(batchId(0, ['pod:b', 'pod:a']));
    expect(batchId(0, ['pod:a'])).to.not.equal(batchId(0, ['pod:b']));
    expect(batchId(0, ['pod:a'])).to.match(/^scaleup:1970-01-01T00:00:00\.000Z-[0-9a-f]{8}$/);
  });

  it('refuses inconsistent windows', () => {
    expect(() => new Batcher({ idleMs: 500, maxMs: 100 })).to.throw(/idleMs/);
  });

  it('property: every pod lands in exactly one batch; each batch closes within its windows; batch time spans stay below maxMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.array(fc.record({ uid: fc.integer({ min: 0, max: 40 }), at: fc.integer({ min: 0, max: 20_000 }) }), { maxLength: 120 }),
        (idleMs, extra, raw) => {
          const maxMs = idleMs + extra;
          const b = new Batcher({ idleMs, maxMs });
          const signals = raw.map((r) => pod(`u${r.uid}`, r.at));
          const batches = simulate(b, signals, 1e9);
          const last = b.flush(1e9);
          if (last) batches.push(last);
          for (const batch of batches) {
            expect(batch.closedAt - batch.firstSignalAt).to.be.at.most(maxMs);
            const uids = batch.pods.map((p) => p.uid);
            expect(new Set(uids).size).to.equal(uids.length);
            for (const p of batch.pods) expect(p.firstSeen).to.be.at.least(batch.firstSignalAt);
          }
          // every distinct (pod, time-window) signal is represented: the union of uids equals the input's uids
          const seen = new Set(batches.flatMap((x) => x.pods.map((p) => p.uid)));
          expect([...seen].sort()).to.deep.equal([...new Set(signals.map((s) => (s as { uid: string }).uid))].sort());
          expect(batches.reduce((n, x) => n + x.signals, 0)).to.equal(signals.length);
          // batches are in time order and do not overlap
          for (let i = 1; i < batches.length; i++) expect(batches[i]!.firstSignalAt).to.be.at.least(batches[i - 1]!.closedAt - 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('kube-scheduler FailedScheduling reasons', () => {
  const cases: [string, string[]][] = [
    ['0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.', ['InsufficientCPU']],
    ['0/4 nodes are available: 1 Insufficient memory, 1 Insufficient pods, 2 Insufficient cpu.', ['InsufficientCPU', 'InsufficientMemory', 'InsufficientPods']],
    [
      '0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
      ['TaintNotTolerated'],
    ],
    ["0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.", ['NodeSelectorMismatch']],
    ["0/5 nodes are available: 5 node(s) didn't match pod anti-affinity rules.", ['PodAntiAffinityMismatch']],
    ["0/5 nodes are available: 5 node(s) didn't match pod topology spread constraints.", ['TopologySpreadMismatch']],
    ['0/1 nodes are available: 1 Insufficient ephemeral-storage.', ['InsufficientEphemeralStorage']],
    ['0/1 nodes are available: 1 Insufficient nvidia.com/gpu.', ['InsufficientOther']],
    ['no nodes available to schedule pods', ['NoNodes']],
    ['0/1 nodes are available: 1 node(s) were unschedulable.', ['NodeUnschedulable']],
    ['persistentvolumeclaim "data" not found', ['Other']],
  ];
  for (const [message, reasons] of cases) {
    it(`${reasons.join('+')}: ${message.slice(0, 60)}`, () => {
      expect(parseSchedulerReasons(message)).to.deep.equal(reasons);
    });
  }
  it('ignores the preemption tail and tells resource shortage apart', () => {
    expect(parseSchedulerReasons("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 1 Insufficient cpu")).to.deep.equal(
      ['NodeSelectorMismatch'],
    );
    expect(isResourceShortage(['InsufficientMemory'])).to.equal(true);
    expect(isResourceShortage(['TaintNotTolerated'])).to.equal(false);
  });
});
