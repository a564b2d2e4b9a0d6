import { expect } from 'chai';
import fc from 'fast-check';
import {
  buildNodeGroupStatus,
  grantScaleDown,
  grantScaleUp,
  groupErrorReason,
  pickRemovals,
  reconcile,
  existingMachines,
  phaseCounts,
  vpsieGroupIDOf,
  type GroupNode,
  type GroupStatusInput,
} from '../../../../../decision/nodes/nodegroup';
import { NodeGroupStatusSchema, type VPSieNodePhase } from '../../../../../lib/crds/autoscaler';

let seq = 0;
function node(name: string, phase: VPSieNodePhase, extra: Partial<GroupNode> = {}): GroupNode {
  seq += 1;
  return { name, phase, offeringID: 'small-2cpu-4gb', createdAt: '2026-01-01T00:00:00Z', seq, ...extra };
}

describe('NodeGroup decisions: desired-count arithmetic', () => {
  it('grants a scale-up only up to maxNodes and reports the refused rest', () => {
    expect(grantScaleUp(3, 2, 10)).to.deep.equal({ granted: 2, refused: 0, desired: 5 });
    expect(grantScaleUp(9, 5, 10)).to.deep.equal({ granted: 1, refused: 4, desired: 10 });
    expect(grantScaleUp(10, 1, 10)).to.deep.equal({ granted: 0, refused: 1, desired: 10 });
    expect(grantScaleUp(12, 1, 10)).to.deep.equal({ granted: 0, refused: 1, desired: 12 });
  });

  it('property: any sequence of scale-up requests never takes desired past max, and grants add up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }),
        (start, max, asks) => {
          let desired = Math.min(start, max);
          let granted = 0;
          for (const a of asks) {
            const g = grantScaleUp(desired, a, max);
            expect(g.granted + g.refused).to.equal(a);
            granted += g.granted;
            desired = g.desired;
            expect(desired).to.be.at.most(max);
          }
          expect(desired).to.equal(Math.min(start, max) + granted);
        },
      ),
    );
  });

  it('grants a scale-down only of counted members and never below minNodes', () => {
    const nodes = [node('a', 'Ready'), node('b', 'Ready'), node('c', 'Ready'), node('f', 'Failed'), node('t', 'Ready', { removing: true })];
    const g = grantScaleDown(3, 1, ['a', 'b', 'c', 'f', 't', 'zz', 'a'], nodes);
    expect(g.allowed).to.deep.equal(['a', 'b']);
    expect(g.belowMin).to.deep.equal(['c']);
    expect(g.notInGroup).to.deep.equal(['f', 't', 'zz']);
    expect(g.desired).to.equal(1);
  });

  it('reconcile: raising min creates, lowering max removes, in range holds', () => {
    const three = [node('a', 'Ready'), node('b', 'Ready'), node('c', 'Joining')];
    expect(reconcile({ minNodes: 5, maxNodes: 10 }, 3, three)).to.include({ desired: 5, create: 2, reason: 'BelowMinNodes' });
    const down = reconcile({ minNodes: 0, maxNodes: 2 }, 3, three);
    expect(down).to.deep.include({ desired: 2, create: 0, remove: ['c'], reason: 'AboveMaxNodes' });
    expect(reconcile({ minNodes: 1, maxNodes: 5 }, 3, three)).to.deep.include({ desired: 3, create: 0, remove: [], reason: 'InSync' });
    // Failed and removing nodes do not count: they are replaced.
    const withFailed = [node('a', 'Ready'), node('f', 'Failed'), node('r', 'Ready', { removing: true })];
    expect(reconcile({ minNodes: 3, maxNodes: 5 }, 3, withFailed)).to.include({ create: 2 });
  });

  it('maxNodes bounds every machine that still exists: a Failed node and one being terminated hold their places until gone (#12)', () => {
    // max 3: one Ready, one Failed (its machine kept until cleanup), one Terminating (machine being deleted)
    const nodes = [node('a', 'Ready'), node('f', 'Failed'), node('t', 'Terminating', { removing: true })];
    // before: the two lost places were refilled at once — five machines for a max of three
    expect(reconcile({ minNodes: 3, maxNodes: 3 }, 3, nodes)).to.include({ create: 2 });
    expect(reconcile({ minNodes: 3, maxNodes: 3 }, 3, nodes, { capByExistingMachines: true })).to.include({ create: 0, heldByMaxNodes: 2 });
    // one place frees up when the Terminating machine is Deleted
    const later = [node('a', 'Ready'), node('f', 'Failed'), node('t', 'Deleted', { removing: true })];
    expect(reconcile({ minNodes: 3, maxNodes: 3 }, 3, later, { capByExistingMachines: true })).to.include({ create: 1, heldByMaxNodes: 1 });
    // a scale-up is granted only the room the existing machines leave
    expect(grantScaleUp(1, 5, 3)).to.include({ granted: 2 });
    expect(grantScaleUp(1, 5, 3, 3)).to.deep.equal({ granted: 0, refused: 5, desired: 1 });
    expect(grantScaleUp(1, 5, 4, 3)).to.deep.equal({ granted: 1, refused: 4, desired: 2 });
  });

  it('property: with machines counted, creations never take the machines that exist past maxNodes', () => {
    const phases: VPSieNodePhase[] = ['Pending', 'Provisioning', 'Joining', 'Ready', 'Failed', 'Terminating', 'Deleted'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...phases), fc.boolean()), { maxLength: 12 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        (spec, min, extra, desired) => {
          const max = min + extra;
          const nodes = spec.map(([phase, removing], i) => node(`n${i}`, phase, removing ? { removing } : {}));
          const existing = nodes.filter((n) => n.phase !== 'Deleted').length;
          const p = reconcile({ minNodes: min, maxNodes: max }, desired, nodes, { capByExistingMachines: true });
          expect(existing + p.create).to.be.at.most(Math.max(max, existing));
          const g = grantScaleUp(Math.min(desired, max), 3, max, existing);
          expect(existing + g.granted).to.be.at.most(Math.max(max, existing));
        },
      ),
    );
  });

  it('picks removals: not-Ready first (least advanced first), then the newest Ready', () => {
    const nodes = [
      node('old', 'Ready'),
      node('joining', 'Joining'),
      node('mid', 'Ready'),
      node('pending', 'Pending'),
      node('new', 'Ready'),
      node('failed', 'Failed'),
      node('gone', 'Ready', { removing: true }),
    ];
    expect(pickRemovals(nodes, 1)).to.deep.equal(['pending']);
    expect(pickRemovals(nodes, 3)).to.deep.equal(['pending', 'joining', 'new']);
    expect(pickRemovals(nodes, 10)).to.deep.equal(['pending', 'joining', 'new', 'mid', 'old']);
    expect(pickRemovals(nodes, 0)).to.deep.equal([]);
  });
});

describe('NodeGroup decisions: status and conditions', () => {
  const base = (over: Partial<GroupStatusInput> = {}): GroupStatusInput => ({
    generation: 4,
    minNodes: 1,
    maxNodes: 3,
    desired: 3,
    nodes: [node('a', 'Ready'), node('b', 'Ready'), node('c', 'Ready')],
    dryRun: false,
    ...over,
  });
  const cond = (s: ReturnType<typeof buildNodeGroupStatus>, type: string) => s.conditions?.find((c) => c.type === type);

  it('a full group is Ready, not scaling, at max, above min, without error; the status passes the CRD schema', () => {
    const s = buildNodeGroupStatus(base({ lastScaleUpTime: '2026-01-01T00:00:00Z' }), undefined, '2026-01-02T00:00:00Z');
    expect(NodeGroupStatusSchema.safeParse(s).success).to.equal(true);
    expect(s).to.include({ observedGeneration: 4, currentNodes: 3, desiredNodes: 3, readyNodes: 3, lastScaleUpTime: '2026-01-01T00:00:00Z' });
    expect(cond(s, 'Ready')).to.include({ status: 'True', reason: 'AllNodesReady' });
    expect(cond(s, 'Scaling')).to.include({ status: 'False', reason: 'NotScaling' });
    expect(cond(s, 'AtMaxCapacity')).to.include({ status: 'True', reason: 'AtMaxNodes' });
    expect(cond(s, 'AtMinCapacity')).to.include({ status: 'False', reason: 'AboveMinNodes' });
    expect(cond(s, 'Error')).to.include({ status: 'False', reason: 'NoError' });
    expect(s.nodeList?.map((n) => n.vpsieNodeName)).to.deep.equal(['a', 'b', 'c']);
  });

  it('a growing group is ScalingUp and NodesNotReady; below min it is BelowMinNodes', () => {
    const s = buildNodeGroupStatus(
      base({ minNodes: 2, nodes: [node('a', 'Ready'), node('b', 'Provisioning'), node('c', 'Pending')] }),
      undefined,
      '2026-01-02T00:00:00Z',
    );
    expect(cond(s, 'Ready')).to.include({ status: 'False', reason: 'BelowMinNodes' });
    expect(cond(s, 'Scaling')).to.include({ status: 'True', reason: 'ScalingUp' });
    const s2 = buildNodeGroupStatus(base({ minNodes: 1, nodes: [node('a', 'Ready'), node('b', 'Joining'), node('c', 'Ready')] }), undefined, 'x');
    expect(cond(s2, 'Ready')).to.include({ status: 'False', reason: 'NodesNotReady' });
  });

  it('removals show as ScalingDown and Terminating in the node list; Failed nodes set the Error condition with a mapped reason', () => {
    const s = buildNodeGroupStatus(
      base({
        desired: 1,
        nodes: [node('a', 'Ready'), node('b', 'Ready', { removing: true }), node('f', 'Failed', { reason: 'JoinTimeout', message: 'no Node after 900s' })],
      }),
      undefined,
      '2026-01-02T00:00:00Z',
    );
    expect(cond(s, 'Scaling')).to.include({ status: 'True', reason: 'ScalingDown' });
    expect(s.nodeList?.find((n) => n.vpsieNodeName === 'b')?.status).to.equal('Terminating');
    expect(cond(s, 'Error')).to.include({ status: 'True', reason: 'JoinFailed' });
    expect(cond(s, 'Error')?.message).to.contain('no Node after 900s');
    expect(s.readyNodes).to.equal(1);
    expect(groupErrorReason('VPSCreateTimeout')).to.equal('ProvisioningFailed');
    expect(groupErrorReason('QuotaExceeded')).to.equal('QuotaExceeded');
  });

  it('a node in Deleting (VPS delete in flight) shows as Deleting, is being removed (ScalingDown), not counted, and still fills maxNodes', () => {
    const nodes = [node('a', 'Ready'), node('d', 'Deleting', { removing: true }), node('e', 'Deleting')];
    const s = buildNodeGroupStatus(base({ desired: 1, nodes }), undefined, '2026-01-02T00:00:00Z');
    expect(NodeGroupStatusSchema.safeParse(s).success).to.equal(true);
    expect(s.nodeList?.filter((n) => n.status === 'Deleting').map((n) => n.vpsieNodeName)).to.deep.equal(['d', 'e']);
    expect(cond(s, 'Scaling')).to.include({ status: 'True', reason: 'ScalingDown' });
    expect(cond(s, 'Scaling')?.message).to.contain('2 nodes being removed');
    expect(phaseCounts(nodes)).to.include({ Ready: 1, Deleting: 2, Terminating: 0 });
    expect(existingMachines(nodes)).to.equal(3);
    // Their machines still exist: no room is made for a new node at maxNodes 3.
    expect(reconcile({ minNodes: 0, maxNodes: 3 }, 3, nodes, { capByExistingMachines: true })).to.include({ create: 0, heldByMaxNodes: 2 });
    expect(grantScaleUp(1, 2, 3, existingMachines(nodes))).to.include({ granted: 0 });
  });

  it("the node list carries each VPSieNode's vpsID and vpsieIdentifier (document 001), and the status the VPSie group id in use (document 004)", () => {
    const s = buildNodeGroupStatus(base(), undefined, '2026-01-02T00:00:00Z', {
      machines: new Map([
        ['a', { vpsID: 6266, vpsieIdentifier: 'vm-a' }],
        ['b', { vpsieIdentifier: 'worker-b' }],
      ]),
      vpsieGroupID: '12345',
    });
    expect(NodeGroupStatusSchema.safeParse(s).success).to.equal(true);
    expect(s.vpsieGroupID).to.equal('12345');
    expect(s.nodeList?.find((n) => n.vpsieNodeName === 'a')).to.include({ vpsID: 6266, vpsieIdentifier: 'vm-a' });
    expect(s.nodeList?.find((n) => n.vpsieNodeName === 'b'))
      .to.include({ vpsieIdentifier: 'worker-b' })
      .and.not.have.property('vpsID');
    expect(s.nodeList?.find((n) => n.vpsieNodeName === 'c')).to.not.have.any.keys('vpsID', 'vpsieIdentifier');
    expect(buildNodeGroupStatus(base(), undefined, 'x')).to.not.have.property('vpsieGroupID');
    // The newest live VPSieNode's worker intent names the group; a deleting one only when no live one says.
    expect(
      vpsieGroupIDOf([
        { createdAt: '2026-01-01T00:00:00Z', workerIntent: '7' },
        { createdAt: '2026-01-03T00:00:00Z', workerIntent: '9', deleting: true },
        { createdAt: '2026-01-02T00:00:00Z', workerIntent: '8' },
        { createdAt: '2026-01-04T00:00:00Z' },
      ]),
    ).to.equal('8');
    expect(vpsieGroupIDOf([{ workerIntent: '9', deleting: true }])).to.equal('9');
    expect(vpsieGroupIDOf([{ createdAt: 'x' }])).to.equal(undefined);
  });

  it('keeps lastTransitionTime of conditions whose status did not change', () => {
    const first = buildNodeGroupStatus(base(), undefined, '2026-01-01T00:00:00Z');
    const second = buildNodeGroupStatus(base({ desired: 2, nodes: [node('a', 'Ready'), node('b', 'Ready')] }), first.conditions, '2026-01-05T00:00:00Z');
    expect(cond(second, 'Ready')?.lastTransitionTime).to.equal('2026-01-01T00:00:00Z');
    expect(cond(second, 'AtMaxCapacity')).to.include({ status: 'False', lastTransitionTime: '2026-01-05T00:00:00Z' });
  });
});
