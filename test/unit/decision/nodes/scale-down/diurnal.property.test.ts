/**
 * The decision loop over simulated time with a diurnal load (replicas up, then down, repeated): a
 * simple scale-up model (pending pods, or requested share over the scale-up threshold, opens nodes
 * that are Ready two steps later) and the scale-down decision applied every step.
 */
import { expect } from 'chai';
import fc from 'fast-check';

import { scaleUpGates } from '../../../../../decision/nodes/scale-down/cooldown';
import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import type { ScaleDownNode, ScaleDownPod } from '../../../../../decision/nodes/scale-down/types';
import type { UtilizationTracker } from '../../../../../decision/nodes/scale-down/utilization';
import { createTracker, nodeSample, observe } from '../../../../../decision/nodes/scale-down/utilization';
import { Gi, group, Mi, NOW, res } from './fixtures';

const STEP = 60_000;
const NODE_CPU = 4000;
const NODE_MEM = 8 * Gi;
const POD = res(500, 512 * Mi);

interface Policy {
  minNodes: number;
  window: number;
  cooldown: number;
  budget: number;
  upCpu: number;
}

interface Event {
  kind: 'up' | 'down';
  at: number;
  replicas: number;
}

interface Outcome {
  events: Event[];
  maxNodes: number;
  finalNodes: number;
  /** Pods that a scale-down left without a node (must stay 0). */
  strandedByScaleDown: number;
}

function simulate(policy: Policy, load: readonly number[]): Outcome {
  const spec = {
    minNodes: policy.minNodes,
    maxNodes: 40,
    disruptionBudget: { maxUnavailable: policy.budget },
    scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 0, cooldownSeconds: 0, cpuThreshold: policy.upCpu, memoryThreshold: 100 },
    scaleDownPolicy: {
      enabled: true,
      stabilizationWindowSeconds: policy.window,
      cooldownSeconds: policy.cooldown,
      cpuThreshold: 50,
      memoryThreshold: 50,
      utilizationSource: 'requests' as const,
    },
  };
  let seq = 0;
  let podSeq = 0;
  const nodes = new Map<string, ScaleDownPod[]>();
  for (let k = 0; k < policy.minNodes; k++) nodes.set(`node-${seq++}`, []);
  const provisioning: { name: string; readyAt: number }[] = [];
  let pending: ScaleDownPod[] = [];
  let tracker: UtilizationTracker = createTracker({ retentionSeconds: 3600 });
  let lastScaleUpAt: number | undefined;
  const events: Event[] = [];
  let maxNodes = nodes.size;
  let stranded = 0;
  const asNode = (name: string, pods: ScaleDownPod[]): ScaleDownNode => ({
    node: { name, labels: { 'kubernetes.io/hostname': name }, allocatable: { cpuMilli: NODE_CPU, memoryBytes: NODE_MEM, pods: 110, ephemeralStorageBytes: 0 } },
    nodeGroup: 'g',
    pods,
  });
  const used = (pods: readonly ScaleDownPod[]): number => pods.reduce((s, p) => s + p.requests.cpuMilli, 0);
  const place = (): void => {
    const left: ScaleDownPod[] = [];
    for (const p of pending) {
      const dest = [...nodes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).find(([, ps]) => used(ps) + p.requests.cpuMilli <= NODE_CPU);
      if (dest) dest[1].push({ ...p, nodeName: dest[0] });
      else left.push(p);
    }
    pending = left;
  };

  for (let step = 0; step < load.length; step++) {
    const now = NOW + step * STEP;
    const replicas = load[step] as number;
    // 1. Load: remove newest pods / add new pending ones.
    const all = [...[...nodes.values()].flat(), ...pending].sort((a, b) => (a.name < b.name ? 1 : -1));
    let excess = all.length - replicas;
    for (const p of all) {
      if (excess <= 0) break;
      excess--;
      pending = pending.filter((x) => x.name !== p.name);
      for (const [n, ps] of nodes)
        nodes.set(
          n,
          ps.filter((x) => x.name !== p.name),
        );
    }
    for (let k = all.length; k < replicas; k++) {
      const id = podSeq++;
      pending.push({
        name: `web-${String(id).padStart(5, '0')}`,
        namespace: 'default',
        uid: `u${id}`,
        labels: { app: 'web' },
        requests: POD,
        ownerKind: 'ReplicaSet',
        phase: 'Running',
      });
    }
    // 2. Provisioned nodes become Ready.
    for (const p of provisioning.filter((x) => x.readyAt <= now)) nodes.set(p.name, []);
    provisioning.splice(0, provisioning.length, ...provisioning.filter((x) => x.readyAt > now));
    place();
    // 3. Scale-up: pending pods, or requested share over the threshold.
    const cap = nodes.size * NODE_CPU;
    const share = cap > 0 ? used([...nodes.values()].flat()) / cap : 0;
    const history = { scaleUpInProgress: provisioning.length > 0, ...(lastScaleUpAt !== undefined ? { lastScaleUpAt } : {}) };
    if (provisioning.length === 0 && scaleUpGates(history, spec.scaleUpPolicy, now).length === 0) {
      const pendingCpu = used(pending);
      const want = pendingCpu > 0 ? Math.ceil(pendingCpu / NODE_CPU) : share * 100 > policy.upCpu ? 1 : 0;
      if (want > 0) {
        for (let k = 0; k < want; k++) provisioning.push({ name: `node-${seq++}`, readyAt: now + 2 * STEP });
        lastScaleUpAt = now;
        events.push({ kind: 'up', at: now, replicas });
      }
    }
    // 4. Observe, decide, apply.
    const snapshot = [...nodes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([n, ps]) => asNode(n, ps));
    tracker = observe(
      tracker,
      snapshot.map((n) => nodeSample(n.node.name, n.node.allocatable, n.pods)),
      now,
      snapshot.map((n) => n.node.name),
    );
    const d = decideScaleDown({
      now,
      nodes: snapshot,
      pdbs: [{ name: 'web', namespace: 'default', selector: { matchLabels: { app: 'web' } }, disruptionsAllowed: 1 }],
      groups: [
        group(
          'g',
          nodes.size + provisioning.length,
          { scaleUpInProgress: provisioning.length > 0, ...(lastScaleUpAt !== undefined ? { lastScaleUpAt } : {}) },
          spec,
        ),
      ],
      inFlightRemovals: [],
      utilization: tracker,
    });
    if (d.removals.length > 0) {
      for (const r of d.removals) {
        const pods = nodes.get(r.node) ?? [];
        nodes.delete(r.node);
        for (const p of pods) {
          const m = r.moves.find((x) => x.pod === `${p.namespace}/${p.name}`);
          const dest = m ? nodes.get(m.node) : undefined;
          if (!dest || used(dest) + p.requests.cpuMilli > NODE_CPU) stranded++;
          else dest.push({ ...p, nodeName: m?.node ?? '' });
        }
      }
      events.push({ kind: 'down', at: now, replicas });
    }
    maxNodes = Math.max(maxNodes, nodes.size);
  }
  return { events, maxNodes, finalNodes: nodes.size, strandedByScaleDown: stranded };
}

const policyArb: fc.Arbitrary<Policy> = fc.record({
  minNodes: fc.integer({ min: 0, max: 2 }),
  window: fc.constantFrom(0, 120, 300, 600),
  cooldown: fc.constantFrom(0, 300, 600, 1200),
  budget: fc.constantFrom(1, 1, 2),
  upCpu: fc.constantFrom(70, 80, 90),
});

/** Diurnal: phases of replica counts (each held a while), the day repeated 2-3 times. */
const loadArb: fc.Arbitrary<number[]> = fc
  .tuple(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 40 })), { minLength: 2, maxLength: 6 }), fc.integer({ min: 2, max: 3 }))
  .map(([phases, days]) => {
    const day = phases.flatMap(([replicas, steps]) => Array.from({ length: steps }, () => replicas));
    return Array.from({ length: days }, () => day).flat();
  });

describe('diurnal load (decision loop over simulated time)', () => {
  it('no scale-down inside the cooldown after a scale-up; no scale-up inside the cooldown after a scale-down unless the load rose; no pod stranded by a scale-down', () => {
    let downs = 0;
    fc.assert(
      fc.property(policyArb, loadArb, (policy, load) => {
        const o = simulate(policy, load);
        expect(o.strandedByScaleDown).to.equal(0);
        const cd = policy.cooldown * 1000;
        for (const down of o.events.filter((e) => e.kind === 'down')) {
          downs++;
          const recentUp = o.events.find((u) => u.kind === 'up' && u.at <= down.at && down.at < u.at + cd);
          expect(recentUp, `scale-down at ${down.at} within ${policy.cooldown}s of a scale-up`).to.equal(undefined);
        }
        // A scale-up inside the cooldown of a scale-down is a flap unless the load rose above what
        // the last scale-down before it was sized for (an earlier scale-down may have been sized
        // for more: the load fell, a later scale-down followed, and then the load rose again).
        for (const up of o.events.filter((e) => e.kind === 'up')) {
          const lastDown = o.events.filter((e) => e.kind === 'down' && e.at <= up.at && up.at < e.at + cd).at(-1);
          if (lastDown) {
            expect(up.replicas, `scale-up at ${up.at} ${policy.cooldown}s-flaps the scale-down at ${lastDown.at} without more load`).to.be.greaterThan(
              lastDown.replicas,
            );
          }
        }
      }),
      { numRuns: 150 },
    );
    expect(downs).to.be.greaterThan(50);
  });

  it('an idle group shrinks to minNodes after the window; a busy one does not move', () => {
    const policy: Policy = { minNodes: 1, window: 600, cooldown: 600, budget: 1, upCpu: 80 };
    // 30 replicas for 30 min (4 nodes), then idle for an hour.
    const idle = simulate(policy, [...Array.from({ length: 30 }, () => 30), ...Array.from({ length: 60 }, () => 0)]);
    expect(idle.maxNodes).to.equal(5);
    expect(idle.finalNodes).to.equal(1);
    const downs = idle.events.filter((e) => e.kind === 'down');
    const lastUp = Math.max(...idle.events.filter((e) => e.kind === 'up').map((e) => e.at));
    const drop = NOW + 30 * STEP;
    expect(downs.map((e) => e.at - drop)).to.deep.equal([
      // The node opened for headroom (93% > 80%) stayed empty; it goes when removing it no longer
      // pushes the group over the scale-up threshold, i.e. when the load drops.
      0,
      // The other nodes go one per decision (budget 1) once idle for the whole 10-minute window.
      600_000, 660_000, 720_000,
    ]);
    expect((downs[0]?.at ?? 0) - lastUp).to.be.at.least(600_000);
    // Busy: 30 replicas all along, nothing is removed.
    const busy = simulate(
      policy,
      Array.from({ length: 90 }, () => 30),
    );
    expect(busy.events.filter((e) => e.kind === 'down')).to.deep.equal([]);
  });
});
