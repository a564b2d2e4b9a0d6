/**
 * The shared VM listing (issue 12: "provisioning polls share one listing per tick"): every poll of
 * every VPSieNode on a worker reads one snapshot of the pending queue and the list per tick, a
 * snapshot never predates what the caller says it must not (its last create), the tick stretches
 * when the VPSie budget is scarce, and one caller's cancellation neither stops the shared read nor
 * leaves itself waiting.
 */
import { expect } from 'chai';
import { hostnameForRequest, REQUEST_ID_NOTE_PREFIX, matchPending, matchVm } from '../../../../clients/vpsie/client';
import { ManualClock } from '../../../../clients/vpsie/clock';
import { VmDataSchema } from '../../../../clients/vpsie/schemas';
import { list, makeClient, metric, rejection, startFake, startVmApi, vm, type Fake } from '../../../support/vpsie-fake';

const reads = (f: Fake) => f.seen.filter((s) => s.method === 'GET' && (s.path === '/api/v2/vm' || s.path === '/apps/v2/vm/pending')).length;

describe('VPSie shared VM listing (issue 12)', () => {
  let fake: Fake | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('twenty machines polled at once cost one queue read and one list read, not twenty of each', async () => {
    const all = Array.from({ length: 20 }, (_, i) => vm(i + 1));
    fake = await startFake((r) => (r.path === '/apps/v2/vm/pending' ? list([]) : list(all, all.length)));
    const clock = new ManualClock(Date.now());
    const { client, registry } = makeClient(fake, { clock });
    const found = await Promise.all(all.map((v) => client.lookupVmShared(v.identifier, { maxAgeMs: 2000 })));
    expect(found.map((f) => f.state)).to.deep.equal(all.map(() => 'found'));
    expect(reads(fake)).to.equal(2);
    expect(fake.seen.filter((s) => s.path.startsWith('/api/v2/vm/')).length, 'no per-machine vm.get').to.equal(0);
    expect(await metric(registry, 'vpsie_autoscaler_vpsie_shared_listings_total', { outcome: 'read' })).to.equal(1);
    expect(await metric(registry, 'vpsie_autoscaler_vpsie_shared_listings_total', { outcome: 'joined' })).to.equal(19);

    // Within the tick the snapshot is reused; after it, read again (once).
    clock.advance(1500);
    await Promise.all(all.map((v) => client.lookupVmShared(v.identifier, { maxAgeMs: 2000 })));
    expect(reads(fake)).to.equal(2);
    clock.advance(600);
    await Promise.all(all.map((v) => client.lookupVmShared(v.identifier, { maxAgeMs: 2000 })));
    expect(reads(fake)).to.equal(4);
  });

  it('the queue is read before the list, so a machine moving from one to the other is never missed', async () => {
    fake = await startFake((r) => (r.path === '/apps/v2/vm/pending' ? list([]) : list([vm(1)], 1)));
    const { client } = makeClient(fake);
    await client.vmSnapshot({ maxAgeMs: 2000 });
    expect(fake.seen.map((s) => s.path)).to.deep.equal(['/apps/v2/vm/pending', '/api/v2/vm']);
  });

  it('a machine not in the snapshot is asked for directly before it is called gone (it may be newer than the snapshot)', async () => {
    let listed = [vm(1)];
    fake = await startFake((r) => {
      if (r.path === '/apps/v2/vm/pending') return list([]);
      if (r.path === '/api/v2/vm/vm-2') return { body: { error: false, data: { vmData: vm(2) } } };
      if (r.path.startsWith('/api/v2/vm/')) return { body: { error: false, data: false } };
      return list(listed, listed.length);
    });
    const { client } = makeClient(fake);
    await client.vmSnapshot({ maxAgeMs: 60_000 });
    listed = [vm(1), vm(2)];
    expect(await client.lookupVmShared('vm-2', { maxAgeMs: 60_000 })).to.have.property('state', 'found');
    expect(await client.lookupVmShared('vm-9', { maxAgeMs: 60_000 })).to.deep.equal({ state: 'absent' });
  });

  it('never uses a snapshot taken before notOlderThan (a create sent since): reads again', async () => {
    fake = await startFake((r) => (r.path === '/apps/v2/vm/pending' ? list([]) : list([vm(1)], 1)));
    const clock = new ManualClock(Date.now());
    const { client } = makeClient(fake, { clock });
    const first = await client.vmSnapshot({ maxAgeMs: 60_000 });
    clock.advance(100);
    const sentAt = clock.now();
    clock.advance(100);
    const second = await client.vmSnapshot({ maxAgeMs: 60_000, notOlderThan: sentAt });
    expect(second.takenAt).to.be.at.least(sentAt);
    expect(second.takenAt).to.be.greaterThan(first.takenAt);
    expect(reads(fake)).to.equal(4);
  });

  it('ensureVm with a shared look finds its machine in the snapshot and creates nothing', async () => {
    const requestId = 'vn-uid-1';
    const hostname = hostnameForRequest('vpsie-node', requestId);
    const api = await startVmApi(() => {
      return list([vm(1), vm(5, { hostname, notes: `${REQUEST_ID_NOTE_PREFIX}${requestId}` })], 2);
    });
    fake = api.fake;
    const { client } = makeClient(fake);
    const [a, b] = await Promise.all([
      client.ensureVm({ requestId, hostname, plan: 'p', datacenter: 'dc', osImage: 'os', shared: { maxAgeMs: 2000 } }),
      client.lookupVmShared('vm-1', { maxAgeMs: 2000 }),
    ]);
    expect(a).to.include({ state: 'listed', created: false });
    expect(b).to.have.property('state', 'found');
    expect(api.creates()).to.equal(0);
    expect(reads(fake)).to.equal(2);
  });

  it('when the budget is scarce the tick stretches: polling then takes at most a quarter of the sustained rate', async () => {
    fake = await startFake((r) => (r.path === '/apps/v2/vm/pending' ? list([]) : list([vm(1)], 1)));
    const clock = new ManualClock(Date.now());
    const { client } = makeClient(fake, { clock, rateLimit: { perMinute: 100, burst: 100 } });
    await client.vmSnapshot({ maxAgeMs: 2000 });
    clock.advance(2100);
    await client.vmSnapshot({ maxAgeMs: 2000 });
    expect(reads(fake), 'a full bucket: the caller’s tick').to.equal(4);
    // Spend the budget (the clock stands still, so nothing refills).
    for (let i = 0; i < 60; i++) await client.listPendingVms();
    const before = reads(fake);
    clock.advance(2100);
    await client.vmSnapshot({ maxAgeMs: 2000 });
    expect(reads(fake) - before, 'within 2/(¼·100/min) = 4.8 s: reused').to.equal(0);
    clock.advance(3000);
    await client.vmSnapshot({ maxAgeMs: 2000 });
    expect(reads(fake) - before, 'after 5.1 s: read again').to.equal(2);
  });

  it('a cancelled caller stops waiting at once; the shared read goes on for the others', async () => {
    fake = await startFake((r) => (r.path === '/apps/v2/vm/pending' ? { ...list([]), delayMs: 150 } : list([vm(1)], 1)));
    const { client } = makeClient(fake);
    const ac = new AbortController();
    const other = client.lookupVmShared('vm-1', { maxAgeMs: 2000 });
    const mine = client.withSignal(ac.signal).lookupVmShared('vm-1', { maxAgeMs: 2000 });
    setTimeout(() => ac.abort(), 20);
    const err = await rejection(mine);
    expect(err.type).to.equal('cancelled');
    expect(await other).to.have.property('state', 'found');
    expect(reads(fake)).to.equal(2);
  });

  it('the pure matchers: a malformed item that may be the machine is unknown, never absent', () => {
    const requestId = 'r-1';
    const listing = {
      items: [VmDataSchema.parse(vm(1))],
      malformed: [{ operation: 'vm.list', index: 1, ips: [], issue: 'x', notes: `${REQUEST_ID_NOTE_PREFIX}${requestId}` }],
    };
    expect(matchVm(listing, { requestId })).to.have.property('state', 'unknown');
    expect(matchVm(listing, { hostname: 'host-1' })).to.have.property('state', 'found');
    expect(matchVm({ items: [VmDataSchema.parse(vm(1, { is_deleted: 1 }))], malformed: [] }, { hostname: 'host-1' })).to.deep.equal({ state: 'absent' });
    expect(matchPending({ items: [], malformed: [{ operation: 'vm.pending', index: 0, ips: [], issue: 'x' }] }, { hostname: 'h' }).suspects).to.have.length(1);
  });
});
