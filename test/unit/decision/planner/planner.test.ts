import { expect } from 'chai';

import { DEFAULT_PLANS, defaultNodeGroups, defaultOfferings } from '../../../../decision/planner/catalog';
import { planCostDirected, planScaleUp } from '../../../../decision/planner/planner';
import type { NodeGroup, Offering, PlannerInput, UnplacedReason } from '../../../../decision/planner/types';
import { verifyDecision } from '../../../../decision/planner/verify';
import type { SimPod } from '../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_ZONE } from '../../../../decision/scheduling/types';
import { Gi, Mi, node, pod, res } from '../scheduling/fixtures';

function offering(id: string, cpu: number, memGi: number, price: number, pods = 110): Offering {
  return { id, nickname: id, cpuMilli: cpu, memoryBytes: memGi * Gi, pods, ephemeralStorageBytes: 100 * Gi, monthlyPrice: price };
}

function group(name: string, offerings: Offering[], extra: Partial<NodeGroup> = {}): NodeGroup {
  return {
    name,
    namespace: 'kube-system',
    minNodes: 0,
    maxNodes: 10,
    currentNodes: 0,
    offerings,
    allowMixedInstances: true,
    zone: 'z1',
    ...extra,
  };
}

function input(extra: Partial<PlannerInput>): PlannerInput {
  return {
    pendingPods: [],
    existingNodes: [],
    inFlightNodes: [],
    nodeGroups: [],
    daemonSetPods: [],
    maxClusterNodes: 100,
    ...extra,
  };
}

function plan(i: PlannerInput) {
  const d = planScaleUp(i);
  expect(verifyDecision(i, d)).to.deep.equal([]);
  return d;
}

const small = offering('small', 2000, 4, 15);
const medium = offering('medium', 4000, 8, 27);
const big = offering('big', 8000, 16, 49);

describe('planner', () => {
  it('places pods on existing and in-flight nodes first (no scale-up)', () => {
    const d = plan(
      input({
        pendingPods: [pod('a', { requests: res(1500, Gi) }), pod('b', { requests: res(1500, Gi) })],
        existingNodes: [{ node: node('e1', 'z1', { allocatable: res(2000, 4 * Gi, 110) }), pods: [] }],
        inFlightNodes: [{ node: node('f1', 'z1', { allocatable: res(2000, 4 * Gi, 110) }), pods: [] }],
        nodeGroups: [group('g', [small])],
      }),
    );
    expect(d.newNodes).to.equal(0);
    expect(d.fitsExisting.map((p) => [p.pod, p.node, p.target])).to.deep.equal([
      ['default/a', 'e1', 'existing'],
      ['default/b', 'f1', 'inFlight'],
    ]);
  });

  it('adds DaemonSet overhead to every new node it would schedule onto', () => {
    const ds: SimPod = pod('ds', { requests: res(600, 0), ownerKind: 'DaemonSet', tolerations: [{ operator: 'Exists' }] });
    const d = plan(
      input({
        pendingPods: [pod('a', { requests: res(1500, Gi) })],
        nodeGroups: [group('g', [small, medium])],
        daemonSetPods: [ds],
      }),
    );
    // 1500m + 600m DS > 2000m: the small offering does not fit, medium does.
    expect(d.groups[0]?.nodes[0]?.nickname).to.equal('medium');
    expect(d.groups[0]?.nodes[0]?.daemonSetOverhead.cpuMilli).to.equal(600);
    expect(d.groups[0]?.nodes[0]?.requested.cpuMilli).to.equal(2100);
  });

  it('DaemonSet pods in the pending list are reported, not planned', () => {
    const d = plan(input({ pendingPods: [pod('ds-x', { ownerKind: 'DaemonSet' })], nodeGroups: [group('g', [small])] }));
    expect(d.unplaced.map((u) => u.reason)).to.deep.equal(['DaemonSetPod']);
  });

  it('packs generic pods onto the best price per dominant resource and right-sizes the tail', () => {
    const pods = Array.from({ length: 17 }, (_, i) => pod(`p${String(i).padStart(2, '0')}`, { requests: res(1000, 2 * Gi) }));
    const d = plan(input({ pendingPods: pods, nodeGroups: [group('g', [small, medium, big])] }));
    // 17 cpus: two big nodes (16 cpus) + the last pod on the cheapest node that holds it.
    expect(d.groups[0]?.offerings).to.deep.equal([
      { offeringId: 'big', nickname: 'big', count: 2, monthlyPrice: 98 },
      { offeringId: 'small', nickname: 'small', count: 1, monthlyPrice: 15 },
    ]);
    expect(d.monthlyPrice).to.equal(113);
    expect(d.hourlyPrice).to.be.closeTo(113 / 730, 1e-6);
  });

  it('prefers higher-priority groups even when a lower-priority group is cheaper', () => {
    const d = plan(
      input({
        pendingPods: [pod('a', { requests: res(500, Gi) })],
        nodeGroups: [group('cheap', [offering('c', 2000, 4, 5)]), group('pricey', [medium], { priority: 10 })],
      }),
    );
    expect(d.groups.map((g) => g.group)).to.deep.equal(['pricey']);
  });

  it('uses preferredInstanceType as the tie-breaker between equal prices', () => {
    const a = offering('a', 2000, 4, 15);
    const b = offering('b', 2000, 4, 15);
    const d = plan(input({ pendingPods: [pod('x')], nodeGroups: [group('g', [a, b], { preferredInstanceType: 'b' })] }));
    expect(d.groups[0]?.nodes[0]?.offeringId).to.equal('b');
  });

  it('allowMixedInstances=false uses one offering for every new node of the group', () => {
    const pods = [pod('a', { requests: res(7000, Gi) }), ...Array.from({ length: 3 }, (_, i) => pod(`s${i}`, { requests: res(1800, Gi) }))];
    const d = plan(input({ pendingPods: pods, nodeGroups: [group('g', [small, big], { allowMixedInstances: false })] }));
    const offerings = new Set(d.groups[0]?.nodes.map((n) => n.offeringId));
    expect(offerings.size).to.equal(1);
    expect(d.unplaced).to.deep.equal([]);
  });

  describe('allowMixedInstances=false with existing nodes', () => {
    const pods = Array.from({ length: 4 }, (_, i) => pod(`p${i}`, { requests: res(1500, Gi) }));

    it("new nodes take the offering of the group's existing nodes, not the cheapest", () => {
      const free = plan(input({ pendingPods: pods, nodeGroups: [group('g', [small, medium, big], { allowMixedInstances: false })] }));
      expect(new Set(free.groups[0]?.nodes.map((n) => n.offeringId))).to.not.deep.equal(new Set(['small']));
      const d = plan(
        input({
          pendingPods: pods,
          nodeGroups: [group('g', [small, medium, big], { allowMixedInstances: false, currentNodes: 2, existingOfferings: { small: 2 } })],
        }),
      );
      expect(d.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['small', 'small', 'small', 'small']);
      expect(d.unplaced).to.deep.equal([]);
    });

    it('mixed existing nodes: the most common offering holds the group (ties: the lowest reference)', () => {
      const d = plan(
        input({
          pendingPods: pods,
          nodeGroups: [group('g', [small, medium, big], { allowMixedInstances: false, currentNodes: 3, existingOfferings: { small: 1, medium: 2 } })],
        }),
      );
      expect(new Set(d.groups[0]?.nodes.map((n) => n.offeringId))).to.deep.equal(new Set(['medium']));
      const tie = plan(
        input({
          pendingPods: pods,
          nodeGroups: [group('g', [small, medium, big], { allowMixedInstances: false, currentNodes: 2, existingOfferings: { medium: 1, big: 1 } })],
        }),
      );
      expect(new Set(tie.groups[0]?.nodes.map((n) => n.offeringId))).to.deep.equal(new Set(['big']));
    });

    it('a pod only another offering fits is MixedInstancesPolicy; an offering no longer offered does not hold the group', () => {
      const huge = pod('huge', { requests: res(7000, Gi) });
      const held = plan(
        input({
          pendingPods: [huge],
          nodeGroups: [group('g', [small, big], { allowMixedInstances: false, currentNodes: 1, existingOfferings: { small: 1 } })],
        }),
      );
      expect(held.unplaced.map((u) => u.reason)).to.deep.equal(['MixedInstancesPolicy']);
      const gone = plan(
        input({ pendingPods: [huge], nodeGroups: [group('g', [small, big], { allowMixedInstances: false, currentNodes: 1, existingOfferings: { old: 1 } })] }),
      );
      expect(gone.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['big']);
    });

    it('minNodes top-up uses the held offering, not the preferred one', () => {
      const d = plan(
        input({
          nodeGroups: [
            group('g', [small, big], {
              allowMixedInstances: false,
              minNodes: 3,
              currentNodes: 1,
              existingOfferings: { big: 1 },
              preferredInstanceType: 'small',
            }),
          ],
        }),
      );
      expect(d.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['big', 'big']);
    });

    it('allowMixedInstances=true ignores existing offerings', () => {
      const d = plan(input({ pendingPods: pods, nodeGroups: [group('g', [small, medium, big], { currentNodes: 2, existingOfferings: { small: 2 } })] }));
      expect(new Set(d.groups[0]?.nodes.map((n) => n.offeringId))).to.not.deep.equal(new Set(['small']));
    });
  });

  describe('preferredInstanceType with a price tolerance', () => {
    const cheap = offering('cheap', 4000, 8, 100);
    const pref = offering('pref', 4000, 8, 108);
    const pods = [pod('a', { requests: res(3000, Gi) }), pod('b', { requests: res(3000, Gi) })];

    it('the preferred offering is chosen while the plan costs at most the tolerance more, and the record says so', () => {
      const d = plan(input({ pendingPods: pods, nodeGroups: [group('g', [cheap, pref], { preferredInstanceType: 'pref' })] }));
      expect(d.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['pref', 'pref']);
      expect(d.monthlyPrice).to.equal(216);
      expect(d.preferences).to.have.length(1);
      expect(d.preferences?.[0]).to.include({
        group: 'g',
        preferred: 'pref',
        tolerancePercent: 10,
        cheapestMonthlyPrice: 200,
        preferredMonthlyPrice: 216,
        chosen: 'preferred',
      });
      expect(d.preferences?.[0]?.message).to.contain('+8%');
    });

    it('over the tolerance the cheapest plan is kept, with both prices in the record', () => {
      const d = plan(input({ pendingPods: pods, nodeGroups: [group('g', [cheap, pref], { preferredInstanceType: 'pref', preferredTolerancePercent: 5 })] }));
      expect(d.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['cheap', 'cheap']);
      expect(d.preferences?.[0]).to.include({ chosen: 'cheapest', cheapestMonthlyPrice: 200, preferredMonthlyPrice: 216, tolerancePercent: 5 });
      expect(d.preferences?.[0]?.message).to.contain('over the tolerance');
    });

    it('tolerance 0 keeps the preference a pure tie-break', () => {
      const d = plan(input({ pendingPods: pods, nodeGroups: [group('g', [cheap, pref], { preferredInstanceType: 'pref', preferredTolerancePercent: 0 })] }));
      expect(d.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['cheap', 'cheap']);
    });

    it('a pod the preferred offering cannot host still gets a node of another offering', () => {
      const bigger = offering('bigger', 8000, 16, 150);
      const d = plan(
        input({
          pendingPods: [...pods, pod('huge', { requests: res(7000, Gi) })],
          nodeGroups: [group('g', [cheap, pref, bigger], { preferredInstanceType: 'pref', preferredTolerancePercent: 50 })],
        }),
      );
      expect(d.unplaced).to.deep.equal([]);
      expect(d.groups[0]?.nodes.map((n) => n.offeringId).sort()).to.deep.equal(['bigger', 'pref', 'pref']);
      expect(d.preferences?.[0]?.chosen).to.equal('preferred');
    });

    it('allowMixedInstances=false: the preferred offering if it fits within the tolerance, else the cheapest single offering', () => {
      const within = plan(input({ pendingPods: pods, nodeGroups: [group('g', [cheap, pref], { allowMixedInstances: false, preferredInstanceType: 'pref' })] }));
      expect(within.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['pref', 'pref']);
      const tooBig = plan(
        input({
          pendingPods: [pod('huge', { requests: res(7000, Gi) })],
          nodeGroups: [group('g', [cheap, pref, offering('bigger', 8000, 16, 150)], { allowMixedInstances: false, preferredInstanceType: 'pref' })],
        }),
      );
      expect(tooBig.groups[0]?.nodes.map((n) => n.offeringId)).to.deep.equal(['bigger']);
    });
  });

  it('opens empty nodes up to minNodes and fills them first', () => {
    const d = plan(
      input({
        pendingPods: [pod('a')],
        nodeGroups: [group('g', [small, big], { minNodes: 2, currentNodes: 0, preferredInstanceType: 'small' })],
      }),
    );
    expect(d.newNodes).to.equal(2);
    expect(d.groups[0]?.nodes.map((n) => [n.offeringId, n.pods.length, n.forMinNodes])).to.deep.equal([
      ['small', 1, true],
      ['small', 0, true],
    ]);
  });

  it('spreads zonal topology-spread pods over the zones of the groups', () => {
    const spread = (i: number) =>
      pod(`w${i}`, {
        labels: { app: 'w' },
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'w' } } }],
      });
    const d = plan(
      input({
        pendingPods: [0, 1, 2, 3, 4, 5].map(spread),
        nodeGroups: ['z1', 'z2', 'z3'].map((z) => group(`g-${z}`, [big], { zone: z })),
      }),
    );
    const perZone = new Map<string, number>();
    for (const g of d.groups) for (const n of g.nodes) perZone.set(n.zone ?? '', (perZone.get(n.zone ?? '') ?? 0) + n.pods.length);
    expect([...perZone.values()]).to.deep.equal([2, 2, 2]);
  });

  it('puts hostname anti-affinity pods on separate nodes and fills them with other pods', () => {
    const anti = (i: number) =>
      pod(`anti${i}`, {
        labels: { app: 'nginx' },
        podAntiAffinity: [{ topologyKey: LABEL_HOSTNAME, labelSelector: { matchLabels: { app: 'nginx' } } }],
      });
    const d = plan(input({ pendingPods: [anti(0), anti(1), anti(2), pod('g1'), pod('g2')], nodeGroups: [group('g', [small, big])] }));
    expect(d.newNodes).to.equal(3);
    for (const n of d.groups[0]?.nodes ?? []) expect(n.pods.filter((p) => p.includes('anti')).length).to.equal(1);
  });

  describe('unplaced reasons', () => {
    const cases: { name: string; input: PlannerInput; reason: UnplacedReason }[] = [
      { name: 'no groups', input: input({ pendingPods: [pod('a')] }), reason: 'NoNodeGroups' },
      {
        name: 'selector matches no group',
        input: input({ pendingPods: [pod('a', { nodeSelector: { gpu: 'yes' } })], nodeGroups: [group('g', [small])] }),
        reason: 'NoGroupMatchesSelector',
      },
      {
        name: 'taint not tolerated',
        input: input({
          pendingPods: [pod('a')],
          nodeGroups: [group('g', [small], { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] })],
        }),
        reason: 'TaintNotTolerated',
      },
      {
        name: 'too large',
        input: input({ pendingPods: [pod('a', { requests: res(9000, Gi) })], nodeGroups: [group('g', [small, big])] }),
        reason: 'TooLargeForAnyOffering',
      },
      {
        name: 'group at max',
        input: input({ pendingPods: [pod('a')], nodeGroups: [group('g', [small], { maxNodes: 2, currentNodes: 2 })] }),
        reason: 'MaxNodesReached',
      },
      {
        name: 'cluster limit',
        input: input({
          pendingPods: [pod('a')],
          existingNodes: [{ node: node('e', 'z1', { allocatable: res(0, 0, 0) }), pods: [] }],
          nodeGroups: [group('g', [small])],
          maxClusterNodes: 1,
        }),
        reason: 'ClusterLimitReached',
      },
      {
        name: 'affinity to pods that do not exist',
        input: input({
          pendingPods: [pod('a', { labels: { app: 'x' }, podAffinity: [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: 'db' } } }] })],
          nodeGroups: [group('g', [small])],
        }),
        reason: 'AffinityUnsatisfiable',
      },
      {
        name: 'anti-affinity against an existing pod in the only zone',
        input: input({
          pendingPods: [pod('a', { podAntiAffinity: [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: 'db' } } }] })],
          existingNodes: [{ node: node('e', 'z1', { allocatable: res(0, 0, 1) }), pods: [pod('db', { labels: { app: 'db' }, requests: res(0, 0, 1) })] }],
          nodeGroups: [group('g', [small])],
        }),
        reason: 'AntiAffinityUnsatisfiable',
      },
      {
        name: 'topology spread towards a zone no node can be added to',
        input: input({
          pendingPods: [0, 1].map((i) =>
            pod(`w${i}`, {
              labels: { app: 'w' },
              nodeSelector: { [LABEL_ZONE]: 'z1' },
              topologySpreadConstraints: [
                { maxSkew: 1, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'w' } }, minDomains: 2 },
              ],
            }),
          ),
          nodeGroups: [group('g', [small])],
        }),
        reason: 'TopologySpreadUnsatisfiable',
      },
    ];
    for (const c of cases) {
      it(c.reason + ': ' + c.name, () => {
        const d = plan(c.input);
        expect(d.unplaced.map((u) => u.reason)).to.include(c.reason);
      });
    }
    it('MixedInstancesPolicy: a later pod only fits another offering of a locked group', () => {
      const i = input({
        pendingPods: [pod('a', { requests: res(1500, Gi) }), pod('b', { requests: res(1500, Gi) }), pod('huge', { requests: res(7000, Gi) })],
        nodeGroups: [group('g', [small, big], { allowMixedInstances: false, minNodes: 1, preferredInstanceType: 'small' })],
      });
      const d = planCostDirected(i);
      expect(verifyDecision(i, d)).to.deep.equal([]);
      expect(d.unplaced.map((u) => u.reason)).to.deep.equal(['MixedInstancesPolicy']);
    });
  });

  it('the verifier catches an overfull node, a bad price and a group over max', () => {
    const i = input({ pendingPods: [pod('a', { requests: res(1500, Gi) })], nodeGroups: [group('g', [small], { maxNodes: 1 })] });
    const d = planScaleUp(i);
    const tampered = structuredClone(d);
    const i2 = { ...i, pendingPods: [pod('a', { requests: res(2500, Gi) })] };
    expect(verifyDecision(i2, tampered).join()).to.match(/InsufficientResources/);
    tampered.monthlyPrice += 1;
    expect(verifyDecision(i, tampered).join()).to.match(/monthly price/);
    const i3 = { ...i, nodeGroups: [group('g', [small], { maxNodes: 1, currentNodes: 1 })] };
    expect(verifyDecision(i3, d).join()).to.match(/exceeds maxNodes/);
  });

  it('the default catalogue spans 1 vCPU/1 GB to 16 vCPU/64 GB in two categories with the required nicknames', () => {
    const nick = DEFAULT_PLANS.map((p) => p.nickname);
    expect(nick).to.include.members(['small-2cpu-4gb', 'medium-4cpu-8gb']);
    expect(new Set(DEFAULT_PLANS.map((p) => p.category)).size).to.equal(2);
    expect(Math.min(...DEFAULT_PLANS.map((p) => p.memoryGiB))).to.equal(1);
    expect(Math.max(...DEFAULT_PLANS.map((p) => p.vcpu))).to.equal(16);
    expect(defaultOfferings('z1')[0]?.zone).to.equal('z1');
    expect(defaultNodeGroups().length).to.equal(6);
    expect(Mi).to.equal(1024 * 1024);
  });
});
