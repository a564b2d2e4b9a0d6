import { expect } from 'chai';
import fc from 'fast-check';
import { deletionAllowance, parseCreatedOn } from '../../../../../decision/nodes/garbage-collection/garbage';
import {
  findSpareWorkers,
  outstandingIntents,
  workerClaimLeaseName,
  workerKey,
  workerStandings,
  type GcWorker,
  type GcWorkerGroup,
  type SpareWorkerOptions,
  type WorkerClaim,
} from '../../../../../decision/nodes/garbage-collection/workers';

const now = Date.parse('2026-03-01T12:00:00Z');
const HOUR_AGO = '2026-03-01 11:00:00';
const CLUSTER = 'k8s-1111';
const GROUP_ID = 42;

function worker(identifier: string, id: number, createdOn: string | null = HOUR_AGO): GcWorker {
  return { identifier, id, hostname: `h-${identifier}`, ...(createdOn !== null ? { createdOn } : {}) };
}

function group(workers: GcWorker[], claims: WorkerClaim[] = [], intents = 0, groupId = GROUP_ID): GcWorkerGroup {
  return { clusterIdentifier: CLUSTER, groupId, workers, claims, outstandingIntents: intents };
}

/** Memory of a previous scan that saw `ids` unclaimed at `since`. */
function seen(ids: string[], since = now - 600_000): Map<string, number> {
  return new Map(ids.map((id) => [workerKey(CLUSTER, id), since]));
}

const base: SpareWorkerOptions = {
  nowMs: now,
  graceSeconds: 300,
  existingHolders: new Set(['u-a', 'u-b']),
  recordedIdentifiers: new Set(),
  maxDeletePercent: 100,
};

describe('Spare ManagedKubernetes workers: which are spares', () => {
  it('a worker claimed by an existing VPSieNode is kept; an unclaimed one seen in two scans and past grace is a spare, with its numbers', () => {
    const g = group([worker('w1', 1), worker('w2', 2)], [{ identifier: 'w1', holder: 'u-a' }]);
    const r = findSpareWorkers([g], { ...base, unclaimedSinceMs: seen(['w2']) });
    expect(r.spares).to.deep.equal([
      { clusterIdentifier: CLUSTER, groupId: GROUP_ID, identifier: 'w2', id: 2, hostname: 'h-w2', reason: 'NoClaim', ageSeconds: 3600, ageFrom: 'created' },
    ]);
    expect(r.kept).to.deep.equal([{ clusterIdentifier: CLUSTER, groupId: GROUP_ID, identifier: 'w1', id: 1, reason: 'Claimed', holder: 'u-a' }]);
    expect(r.groups).to.deep.equal([
      { clusterIdentifier: CLUSTER, groupId: GROUP_ID, workers: 2, claimed: 1, recorded: 0, unclaimed: 1, outstandingIntents: 0, reserved: 0, eligible: 1 },
    ]);
    expect(r.withheld).to.deep.equal([]);
  });

  it('a Lease whose holder VPSieNode no longer exists claims nothing: the worker is a spare (HolderGone)', () => {
    const g = group([worker('w1', 1)], [{ identifier: 'w1', holder: 'u-gone' }]);
    const r = findSpareWorkers([g], { ...base, unclaimedSinceMs: seen(['w1']) });
    expect(r.spares.map((s) => [s.identifier, s.reason, s.staleHolders])).to.deep.equal([['w1', 'HolderGone', ['u-gone']]]);
    // One live holder among stale ones is enough.
    const both = group(
      [worker('w1', 1)],
      [
        { identifier: 'w1', holder: 'u-gone' },
        { identifier: 'w1', holder: 'u-b' },
      ],
    );
    expect(findSpareWorkers([both], { ...base, unclaimedSinceMs: seen(['w1']) }).spares).to.deep.equal([]);
  });

  it('a worker a VPSieNode names in spec.vpsieIdentifier is kept even without a live claim (restored VPSieNode, lost Lease)', () => {
    const g = group([worker('w1', 1)], [{ identifier: 'w1', holder: 'u-old' }]);
    const r = findSpareWorkers([g], { ...base, recordedIdentifiers: new Set(['w1']), unclaimedSinceMs: seen(['w1']) });
    expect(r.spares).to.deep.equal([]);
    expect(r.kept.map((k) => k.reason)).to.deep.equal(['Recorded']);
    expect(r.unclaimedSinceMs).to.deep.equal({});
  });

  it('keeps as many unclaimed workers as VPSieNodes wait for one, the lowest ids (what ensureWorker claims first)', () => {
    const ws = [worker('w5', 5), worker('w3', 3), worker('w9', 9), worker('w7', 7)];
    const r = findSpareWorkers([group(ws, [], 2)], { ...base, unclaimedSinceMs: seen(['w3', 'w5', 'w7', 'w9']) });
    expect(r.kept.filter((k) => k.reason === 'ReservedForIntent').map((k) => k.identifier)).to.have.members(['w3', 'w5']);
    expect(r.spares.map((s) => s.identifier)).to.have.members(['w7', 'w9']);
    expect(r.groups[0]).to.include({ unclaimed: 4, reserved: 2, eligible: 2, outstandingIntents: 2 });
    // More intents than workers: nothing is a spare.
    expect(findSpareWorkers([group(ws, [], 9)], { ...base, unclaimedSinceMs: seen(['w3', 'w5', 'w7', 'w9']) }).spares).to.deep.equal([]);
  });

  it('a spare is deleted only when the previous scan saw it unclaimed too; the answer carries that memory', () => {
    const g = group([worker('w1', 1), worker('w2', 2)], [{ identifier: 'w1', holder: 'u-a' }]);
    const first = findSpareWorkers([g], base);
    expect(first.spares).to.deep.equal([]);
    expect(first.kept.find((k) => k.identifier === 'w2')).to.include({ reason: 'FirstSighting', ageSeconds: 3600 });
    expect(first.unclaimedSinceMs).to.deep.equal({ [workerKey(CLUSTER, 'w2')]: now });
    const second = findSpareWorkers([g], { ...base, nowMs: now + 60_000, unclaimedSinceMs: new Map(Object.entries(first.unclaimedSinceMs)) });
    expect(second.spares.map((s) => s.identifier)).to.deep.equal(['w2']);
    // The first sighting is kept across scans, not reset.
    expect(second.unclaimedSinceMs).to.deep.equal({ [workerKey(CLUSTER, 'w2')]: now });
  });

  it('a worker without a creation date is as old as its first unclaimed sighting, never infinitely old', () => {
    const g = group([worker('undated', 1, null), worker('bad', 2, 'yesterday-ish')]);
    const first = findSpareWorkers([g], base);
    expect(first.spares).to.deep.equal([]);
    expect(first.kept.map((k) => [k.identifier, k.reason, k.ageSeconds])).to.deep.equal([
      ['undated', 'Young', 0],
      ['bad', 'Young', 0],
    ]);
    // Seen 200 s ago: still within the 300 s grace.
    expect(findSpareWorkers([g], { ...base, unclaimedSinceMs: seen(['undated', 'bad'], now - 200_000) }).spares).to.deep.equal([]);
    const later = findSpareWorkers([g], { ...base, unclaimedSinceMs: seen(['undated', 'bad'], now - 600_000) });
    expect(later.spares.map((s) => [s.identifier, s.ageSeconds, s.ageFrom])).to.deep.equal([
      ['bad', 600, 'firstSeen'],
      ['undated', 600, 'firstSeen'],
    ]);
  });

  it('a dated worker younger than the grace period is kept (Young), even when seen unclaimed before', () => {
    const g = group([worker('fresh', 1, '2026-03-01 11:59:00')]);
    const r = findSpareWorkers([g], { ...base, unclaimedSinceMs: seen(['fresh']) });
    expect(r.spares).to.deep.equal([]);
    expect(r.kept).to.deep.equal([{ clusterIdentifier: CLUSTER, groupId: GROUP_ID, identifier: 'fresh', id: 1, reason: 'Young', ageSeconds: 60 }]);
  });

  it('deletes at most max(1, 10%) of the workers looked at per run, oldest first, and reports the rest with its numbers', () => {
    const claimed = Array.from({ length: 17 }, (_, i) => worker(`c${i}`, 100 + i));
    const spares = [worker('s-a', 1, '2026-03-01 10:00:00'), worker('s-b', 2), worker('s-c', 3, '2026-03-01 09:00:00')];
    const g = group(
      [...claimed, ...spares],
      claimed.map((w) => ({ identifier: w.identifier, holder: 'u-a' })),
    );
    const r = findSpareWorkers([g], { ...base, maxDeletePercent: 10, unclaimedSinceMs: seen(['s-a', 's-b', 's-c']) });
    expect(r.spares.map((s) => s.identifier)).to.deep.equal(['s-c', 's-a']);
    expect(r.withheld).to.deep.equal([
      { reason: 'DeletionCapReached', kind: 'worker', eligible: 3, allowed: 2, population: 20, maxDeletePercent: 10, withheld: ['s-b'] },
    ]);
  });

  it('groups are independent: the intents of one group reserve nothing in another', () => {
    const a = group([worker('a1', 1)], [], 1, 1);
    const b = group([worker('b1', 2)], [], 0, 2);
    const r = findSpareWorkers([a, b], { ...base, unclaimedSinceMs: seen(['a1', 'b1']) });
    expect(r.spares.map((s) => s.identifier)).to.deep.equal(['b1']);
    expect(r.kept.map((k) => [k.identifier, k.reason])).to.deep.equal([['a1', 'ReservedForIntent']]);
  });
});

describe('Spare ManagedKubernetes workers: outstanding intents and claim names', () => {
  it('counts VPSieNodes annotated with the group, without an identifier, not deleting and holding no claim of the group', () => {
    const claims = [{ identifier: 'w1', holder: 'u-holder' }];
    const n = outstandingIntents(
      GROUP_ID,
      [
        { uid: 'u-waiting', intent: String(GROUP_ID), deleting: false },
        { uid: 'u-waiting-2', intent: String(GROUP_ID), deleting: false },
        { uid: 'u-other-group', intent: '7', deleting: false },
        { uid: 'u-no-intent', deleting: false },
        { uid: 'u-recorded', intent: String(GROUP_ID), vpsieIdentifier: 'w2', deleting: false },
        { uid: 'u-deleting', intent: String(GROUP_ID), deleting: true },
        { uid: 'u-holder', intent: String(GROUP_ID), deleting: false },
      ],
      claims,
    );
    expect(n).to.equal(2);
  });

  it('names a claim Lease as the lifecycle does', () => {
    expect(workerClaimLeaseName('Ab_12.cd')).to.equal('vpsie-worker-ab-12-cd');
    expect(workerClaimLeaseName('x-')).to.equal('vpsie-worker-x');
  });

  it('standings: claimed, recorded, reserved (lowest ids) and unclaimed', () => {
    const g = group([worker('w4', 4), worker('w1', 1), worker('w2', 2), worker('w3', 3)], [{ identifier: 'w1', holder: 'u-a' }], 1);
    const s = workerStandings(g, { existingHolders: base.existingHolders, recordedIdentifiers: new Set(['w3']) });
    expect(Object.fromEntries([...s].map(([k, v]) => [k, v.standing]))).to.deep.equal({ w4: 'Unclaimed', w1: 'Claimed', w2: 'Reserved', w3: 'Recorded' });
  });
});

describe('Spare ManagedKubernetes workers: properties', () => {
  it('never deletes a claimed or recorded worker, never leaves fewer unclaimed workers than outstanding intents, never exceeds the cap, never deletes on a first sighting or within grace', () => {
    const holders = ['u-live-1', 'u-live-2', 'u-gone-1', 'u-gone-2'];
    const arbWorker = fc.record({
      createdOn: fc.constantFrom(HOUR_AGO, '2026-03-01 11:59:30', '2020-01-01 00:00:00', null, 'garbage'),
      claim: fc.option(fc.constantFrom(...holders), { nil: undefined }),
      extraClaim: fc.option(fc.constantFrom(...holders), { nil: undefined }),
      recorded: fc.boolean(),
      seenAgoSeconds: fc.option(fc.integer({ min: 0, max: 7200 }), { nil: undefined }),
    });
    const arbGroup = fc.record({ workers: fc.array(arbWorker, { maxLength: 10 }), intents: fc.integer({ min: 0, max: 6 }) });
    fc.assert(
      fc.property(fc.array(arbGroup, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 3600 }), (gs, pct, grace) => {
        let n = 0;
        const recorded = new Set<string>();
        const memory = new Map<string, number>();
        const groups: GcWorkerGroup[] = gs.map((g, gi) => ({
          clusterIdentifier: CLUSTER,
          groupId: gi + 1,
          outstandingIntents: g.intents,
          workers: g.workers.map((w) => {
            n += 1;
            const identifier = `w${n}`;
            if (w.recorded) recorded.add(identifier);
            if (w.seenAgoSeconds !== undefined) memory.set(workerKey(CLUSTER, identifier), now - w.seenAgoSeconds * 1000);
            return { identifier, id: (n * 7919) % 101, ...(w.createdOn !== null ? { createdOn: w.createdOn } : {}) };
          }),
          claims: [],
        }));
        // Claims after ids are known.
        let m = 0;
        for (const [gi, g] of gs.entries())
          for (const w of g.workers) {
            m += 1;
            const claims = groups[gi]!.claims as WorkerClaim[];
            if (w.claim) claims.push({ identifier: `w${m}`, holder: w.claim });
            if (w.extraClaim) claims.push({ identifier: `w${m}`, holder: w.extraClaim });
          }
        const live = new Set(['u-live-1', 'u-live-2']);
        const opts: SpareWorkerOptions = {
          nowMs: now,
          graceSeconds: grace,
          existingHolders: live,
          recordedIdentifiers: recorded,
          unclaimedSinceMs: memory,
          maxDeletePercent: pct,
        };
        const r = findSpareWorkers(groups, opts);
        const population = groups.reduce((s, g) => s + g.workers.length, 0);
        expect(r.spares.length).to.be.at.most(deletionAllowance(population, pct));
        const deleted = new Set(r.spares.map((s) => s.identifier));
        for (const g of groups) {
          const isClaimed = (id: string) => g.claims.some((c) => c.identifier === id && live.has(c.holder)) || recorded.has(id);
          const unclaimed = g.workers.filter((w) => !isClaimed(w.identifier));
          for (const w of g.workers) if (isClaimed(w.identifier)) expect(deleted.has(w.identifier), `claimed ${w.identifier} deleted`).to.equal(false);
          const left = unclaimed.filter((w) => !deleted.has(w.identifier)).length;
          expect(left).to.be.at.least(Math.min(g.outstandingIntents, unclaimed.length));
          expect(Object.keys(r.unclaimedSinceMs).filter((k) => g.workers.some((w) => workerKey(CLUSTER, w.identifier) === k))).to.have.members(
            unclaimed.map((w) => workerKey(CLUSTER, w.identifier)),
          );
        }
        for (const s of r.spares) {
          const w = groups.flatMap((g) => g.workers).find((x) => x.identifier === s.identifier)!;
          const previously = memory.get(workerKey(CLUSTER, s.identifier));
          expect(previously, 'seen unclaimed by the previous scan').to.not.equal(undefined);
          const since = parseCreatedOn(w.createdOn) ?? previously!;
          expect((now - since) / 1000).to.be.at.least(grace - 0.5);
        }
        const eligible = r.groups.reduce((s, g) => s + g.eligible, 0);
        expect(r.spares.length + (r.withheld[0]?.withheld.length ?? 0)).to.equal(eligible);
      }),
      { numRuns: 500 },
    );
  });
});
