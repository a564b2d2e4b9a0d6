import { expect } from 'chai';
import fc from 'fast-check';
import {
  classifyVm,
  clusterNote,
  deletionAllowance,
  garbageCollectionVerdict,
  findGarbage,
  parseCreatedOn,
  parseNotes,
  type GcVPSieNode,
  type GcVm,
} from '../../../../../decision/nodes/garbage-collection/garbage';

const now = Date.parse('2026-03-01T12:00:00Z');
const HOUR_AGO = '2026-03-01 11:00:00';
const CLUSTER = 'c-1111';
const OTHER = 'c-2222';

/** A machine as the lifecycle creates one: request id, VPSieNode and (since #12) the cluster identity in its notes. */
function vm(
  identifier: string,
  requestId: string | null,
  o: { cluster?: string | null; node?: string; createdOn?: string | null; deleted?: boolean } = {},
): GcVm {
  const cluster = o.cluster === undefined ? CLUSTER : o.cluster;
  const notes =
    requestId === null
      ? 'customer database'
      : [`orchestrator-request-id=${requestId}`, cluster ? clusterNote(cluster) : '', `vpsienode=${o.node ?? 'ns1/x'}`].join(' ');
  const createdOn = o.createdOn === undefined ? HOUR_AGO : o.createdOn;
  return { identifier, hostname: `h-${identifier}`, notes, ...(createdOn !== null ? { createdOn } : {}), deleted: o.deleted ?? false };
}

function vn(name: string, uid: string, o: Partial<GcVPSieNode> = {}): GcVPSieNode {
  return { namespace: 'ns1', name, uid, phase: 'Ready', joinMethod: 'UserData', ...o };
}

const base = { nowMs: now, graceSeconds: 300, clusterId: CLUSTER, maxDeletePercent: 100 };

describe('Garbage collection decisions: which machines are ours and garbage', () => {
  it('deletes only our machines whose request id no VPSieNode has, after the grace period; never a foreign one', () => {
    const r = findGarbage(
      [
        vm('leak', 'u-leak'),
        vm('kept', 'u-kept', { node: 'ns1/y' }),
        vm('young', 'u-young', { createdOn: '2026-03-01 11:59:30' }),
        vm('foreign', null),
        { identifier: 'nonotes', hostname: 'h', notes: null, createdOn: HOUR_AGO, deleted: false },
        vm('deleted', 'u-del', { createdOn: '2026-03-01 10:00:00', deleted: true }),
      ],
      [vn('y', 'u-kept')],
      base,
    );
    expect(r.leaked.map((l) => l.identifier)).to.deep.equal(['leak']);
    expect(r.leaked[0]).to.include({ reason: 'Leaked', requestId: 'u-leak', vpsieNode: 'ns1/x', ageSeconds: 3600 });
    expect(r.young).to.equal(1);
    expect(r.foreign).to.equal(2);
    expect(r.vanished).to.deep.equal([]);
  });

  it("never collects another cluster's machines on the same VPSie account, however old", () => {
    const r = findGarbage([vm('theirs', 'u-theirs', { cluster: OTHER, createdOn: '2020-01-01 00:00:00' }), vm('mine', 'u-mine')], [], base);
    expect(r.leaked.map((l) => l.identifier)).to.deep.equal(['mine']);
    expect(r.otherCluster).to.equal(1);
    expect(classifyVm(vm('theirs', 'u-theirs', { cluster: OTHER }), [], base).verdict).to.equal('OtherCluster');
  });

  it('a machine with the request-id note but no cluster identity (made by an older version) is reported as unowned, never collected', () => {
    const old = vm('old', 'u-old', { cluster: null, createdOn: '2020-01-01 00:00:00' });
    const r = findGarbage([old], [], base);
    expect(r.leaked).to.deep.equal([]);
    expect(r.noClusterIdentity).to.equal(1);
    expect(classifyVm(old, [], base).verdict).to.equal('NoClusterIdentity');
  });

  it('a machine is owned when ANY VPSieNode names its identifier, whatever that VPSieNode’s uid (VPSieNodes restored with new uids)', () => {
    const r = findGarbage(
      [vm('m1', 'u-old-1'), vm('m2', 'u-old-2')],
      [vn('a', 'u-new-1', { vpsieIdentifier: 'm1' }), vn('b', 'u-new-2', { vpsieIdentifier: 'm2' })],
      {
        ...base,
        graceSeconds: 0,
      },
    );
    expect(r.leaked).to.deep.equal([]);
    expect(r.owned).to.equal(2);
  });

  it('a machine is owned when a VPSieNode without a recorded identifier carries its hostname (restored before the identifier was recorded)', () => {
    const m = vm('m1', 'u-old');
    const r = findGarbage([m], [vn('a', 'u-new', { hostname: m.hostname })], { ...base, graceSeconds: 0 });
    expect(r.leaked).to.deep.equal([]);
  });

  it('a machine without a creation date is not old: it is young until first seen longer ago than the grace period', () => {
    const undated = vm('undated', 'u-gone', { createdOn: null });
    expect(findGarbage([undated], [], base).leaked).to.deep.equal([]);
    expect(findGarbage([undated], [], base).young).to.equal(1);
    expect(findGarbage([undated], [], { ...base, firstSeenMs: new Map([['undated', now - 200_000]]) }).leaked).to.deep.equal([]);
    const later = findGarbage([undated], [], { ...base, firstSeenMs: new Map([['undated', now - 600_000]]) });
    expect(later.leaked.map((l) => [l.identifier, l.ageSeconds])).to.deep.equal([['undated', 600]]);
    const unparsable = vm('bad', 'u-gone', { createdOn: 'yesterday-ish' });
    expect(findGarbage([unparsable], [], base).leaked).to.deep.equal([]);
  });

  it('a machine whose request id names a VPSieNode that records another identifier is a duplicate, collected after grace', () => {
    const vns = [vn('a', 'u-a', { vpsieIdentifier: 'first' })];
    const r = findGarbage([vm('first', 'u-a'), vm('second', 'u-a'), vm('young-dup', 'u-a', { createdOn: '2026-03-01 11:59:00' })], vns, base);
    expect(r.leaked.map((l) => [l.identifier, l.reason])).to.deep.equal([['second', 'Duplicate']]);
    expect(r.leaked[0]).to.include({ recordedIdentifier: 'first', vpsieNode: 'ns1/x' });
    expect(r.young).to.equal(1);
    // Not a duplicate while the VPSieNode has not recorded an identifier yet (it is being created).
    expect(findGarbage([vm('first', 'u-a')], [vn('a', 'u-a')], base).leaked).to.deep.equal([]);
  });

  it('a ManagedKubernetes worker (listed as a VM without notes: "add worker" takes none) is foreign to the VPS pass, never collected as a VPS (spares are the worker pass\'s: workers.ts)', () => {
    const worker: GcVm = { identifier: 'w1', hostname: 'nyc1-kubernetes-abcd-slave-1', notes: null, createdOn: '2020-01-01 00:00:00', deleted: false };
    const r = findGarbage([worker], [vn('k', 'u-k', { joinMethod: 'ManagedKubernetes' })], { ...base, graceSeconds: 0 });
    expect(classifyVm(worker, [], base).verdict).to.equal('Foreign');
    expect(r.leaked).to.deep.equal([]);
    expect(r.foreign).to.equal(1);
  });

  it('with a namespace, leaves machines and VPSieNodes of other namespaces alone', () => {
    const r = findGarbage([vm('other', 'u-o', { node: 'ns2/a' }), vm('mine', 'u-m', { node: 'ns1/b' })], [vn('b', 'u-m')], {
      ...base,
      graceSeconds: 0,
      namespace: 'ns1',
    });
    expect(r.leaked).to.deep.equal([]);
    expect(r.clusterMachines).to.equal(1);
  });
});

describe('Garbage collection decisions: a VPSieNode whose machine vanished', () => {
  const vns = [
    vn('b', 'u-m'),
    vn('gone', 'u-g'),
    vn('booting', 'u-b', { phase: 'Provisioning' }),
    vn('byid', 'u-i', { vpsieIdentifier: 'mine' }),
    vn('managed', 'u-k', { joinMethod: 'ManagedKubernetes' }),
    vn('elsewhere', 'u-e', { namespace: 'ns2' }),
  ];
  const vms = [vm('mine', 'u-m', { node: 'ns1/b' })];

  it('a Ready UserData VPSieNode missing from one listing is only "missing once", not vanished', () => {
    const r = findGarbage(vms, vns, { ...base, namespace: 'ns1' });
    expect(r.vanished).to.deep.equal([]);
    expect(r.missingOnce).to.deep.equal([{ namespace: 'ns1', name: 'gone', uid: 'u-g' }]);
  });

  it('missing from two consecutive listings, it has vanished', () => {
    const r = findGarbage(vms, vns, { ...base, namespace: 'ns1', previouslyMissing: new Set(['u-g']) });
    expect(r.vanished).to.deep.equal([{ namespace: 'ns1', name: 'gone', uid: 'u-g' }]);
    expect(r.missingOnce).to.deep.equal([]);
  });

  it('a machine back in the second listing is not vanished', () => {
    const r = findGarbage([...vms, vm('g', 'u-g', { node: 'ns1/gone' })], vns, { ...base, namespace: 'ns1', previouslyMissing: new Set(['u-g']) });
    expect(r.vanished).to.deep.equal([]);
    expect(r.missingOnce).to.deep.equal([]);
  });
});

describe('Garbage collection decisions: a bounded share of deletions per run', () => {
  it('allows max(1, floor(percent × machines)) deletions', () => {
    expect(deletionAllowance(0, 10)).to.equal(1);
    expect(deletionAllowance(5, 10)).to.equal(1);
    expect(deletionAllowance(20, 10)).to.equal(2);
    expect(deletionAllowance(29, 10)).to.equal(2);
    expect(deletionAllowance(7, 100)).to.equal(7);
  });

  it('deletes at most 10% of this cluster’s machines, oldest first, and reports the rest with a typed reason and its numbers', () => {
    const kept = Array.from({ length: 17 }, (_, i) => vm(`kept-${i}`, `u-k${i}`));
    const leaks = [
      vm('leak-a', 'u-la', { createdOn: '2026-03-01 10:00:00' }),
      vm('leak-b', 'u-lb'),
      vm('leak-c', 'u-lc', { createdOn: '2026-03-01 09:00:00' }),
    ];
    const r = findGarbage(
      [...kept, ...leaks],
      kept.map((m, i) => vn(`k${i}`, `u-k${i}`, { vpsieIdentifier: m.identifier })),
      { ...base, maxDeletePercent: 10 },
    );
    expect(r.clusterMachines).to.equal(20);
    expect(r.leaked.map((l) => l.identifier)).to.deep.equal(['leak-c', 'leak-a']);
    expect(r.withheld).to.deep.equal([
      { reason: 'DeletionCapReached', kind: 'vps', eligible: 3, allowed: 2, population: 20, maxDeletePercent: 10, withheld: ['leak-b'] },
    ]);
  });

  it('ends at most the same share of Ready VPSieNodes whose machines vanished (an empty listing does not end them all)', () => {
    const vns = Array.from({ length: 10 }, (_, i) => vn(`n${i}`, `u-${i}`));
    const r = findGarbage([], vns, { ...base, maxDeletePercent: 10, previouslyMissing: new Set(vns.map((n) => n.uid)) });
    expect(r.vanished).to.have.length(1);
    expect(r.withheld[0]).to.include({ reason: 'DeletionCapReached', kind: 'vpsienode', eligible: 10, allowed: 1, population: 10 });
  });

  it('property: never more than max(1, 10%) of the cluster’s machines are deleted, only machines of this cluster, none owned by a VPSieNode', () => {
    const machine = fc.record({
      cluster: fc.constantFrom(CLUSTER, OTHER, null),
      requestId: fc.constantFrom('u-0', 'u-1', 'u-2', 'u-3', 'u-4', 'u-5', null),
      createdOn: fc.constantFrom(HOUR_AGO, '2026-03-01 11:59:59', null, 'garbage'),
      deleted: fc.boolean(),
    });
    const node = fc.record({ uid: fc.constantFrom('u-0', 'u-1', 'u-2', 'u-9'), recorded: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(machine, { maxLength: 30 }), fc.array(node, { maxLength: 6 }), (ms, ns) => {
        const vms = ms.map((m, i) => vm(`m${i}`, m.requestId, { cluster: m.cluster, createdOn: m.createdOn, deleted: m.deleted }));
        const vns = ns.map((n, i) => vn(`n${i}`, n.uid, n.recorded !== undefined ? { vpsieIdentifier: `m${n.recorded}` } : {}));
        const r = findGarbage(vms, vns, { ...base, maxDeletePercent: 10 });
        const ours = vms.filter((v) => !v.deleted && parseNotes(v.notes)['orchestrator-cluster'] === CLUSTER && parseNotes(v.notes)['orchestrator-request-id']);
        expect(r.leaked.length).to.be.at.most(Math.max(1, Math.floor(ours.length / 10)));
        for (const l of r.leaked) {
          const v = vms.find((x) => x.identifier === l.identifier)!;
          expect(ours).to.include(v);
          expect(vns.some((n) => n.vpsieIdentifier === v.identifier)).to.equal(false);
          expect(parseCreatedOn(v.createdOn)).to.not.equal(undefined);
        }
      }),
    );
  });
});

describe('Garbage collection decisions: notes and times', () => {
  it('parses notes and VPSie times', () => {
    expect(parseNotes('orchestrator-request-id=abc vpsienode=a/b free text')).to.deep.equal({ 'orchestrator-request-id': 'abc', vpsienode: 'a/b' });
    expect(parseNotes(clusterNote('abc-123'))).to.deep.equal({ 'orchestrator-cluster': 'abc-123' });
    expect(parseCreatedOn('2026-03-01 11:00:00')).to.equal(Date.parse('2026-03-01T11:00:00Z'));
    expect(parseCreatedOn('nonsense')).to.equal(undefined);
  });
});

describe('garbage collection: the verdict of a run (its DecisionReason)', () => {
  const none = { leakedDeleted: [], vanishedEnded: [], withheld: [], orphanNodes: { newlySeen: [], waiting: [], deleted: [] } };
  it('anything deleted or ended is GarbageDeleted, whatever else the run saw', () => {
    expect(garbageCollectionVerdict({ ...none, leakedDeleted: ['vm-1'] })).to.equal('GarbageDeleted');
    expect(garbageCollectionVerdict({ ...none, vanishedEnded: ['ns/vn-1'] })).to.equal('GarbageDeleted');
    expect(garbageCollectionVerdict({ ...none, orphanNodes: { newlySeen: ['n2'], waiting: [], deleted: ['n1'] } })).to.equal('GarbageDeleted');
  });
  it('orphan Nodes seen or waiting out their grace, nothing deleted: OrphanNodesReported', () => {
    expect(garbageCollectionVerdict({ ...none, orphanNodes: { newlySeen: ['n1'], waiting: [], deleted: [] } })).to.equal('OrphanNodesReported');
    expect(garbageCollectionVerdict({ ...none, orphanNodes: { newlySeen: [], waiting: ['n1'], deleted: [] } })).to.equal('OrphanNodesReported');
  });
  it('only garbage the cap withheld: WithheldByCap; nothing at all (or no orphan report): NoGarbage', () => {
    expect(garbageCollectionVerdict({ ...none, withheld: [{}] })).to.equal('WithheldByCap');
    expect(garbageCollectionVerdict(none)).to.equal('NoGarbage');
    expect(garbageCollectionVerdict({ leakedDeleted: [], vanishedEnded: [] })).to.equal('NoGarbage');
  });
});
