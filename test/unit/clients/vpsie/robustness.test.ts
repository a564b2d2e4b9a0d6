/**
 * VPSie client robustness (issue 12): classification by status and code, per-item list parsing,
 * paging to the listed total, bounded schema-mismatch retries on reads, and cancellation. A
 * local `node:http` server on 127.0.0.1 answers crafted bodies; the client runs on a virtual
 * clock (backoff waits are recorded, not slept) except where a test needs real time.
 */
import { expect } from 'chai';
import { hostnameForRequest, REQUEST_ID_NOTE_PREFIX } from '../../../../clients/vpsie/client';
import { ManualClock, systemClock, type Clock } from '../../../../clients/vpsie/clock';
import { classifyError } from '../../../../clients/vpsie/errors';
import { TokenBucket } from '../../../../clients/vpsie/token-bucket';
import { list, makeClient, metric, rejection, startFake, startVmApi, vm, type Fake } from '../../../support/vpsie-fake';

describe('VPSie client robustness (issue 12)', () => {
  let fake: Fake | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  describe('errors are classified by status and error code, not by words in the message', () => {
    it('a 500 whose message mentions "not found" is a retried server error: deleteVm does not report the machine gone', async () => {
      let deletes = 0;
      fake = await startFake((r) => {
        if (r.method !== 'DELETE') return { status: 404, body: { error: true, code: 404, message: 'Not found' } };
        deletes += 1;
        return deletes === 1 ? { status: 500, body: { error: true, code: 500, message: 'Internal error: storage record not found', stack: '' } } : {};
      });
      const { client } = makeClient(fake);
      expect(await client.deleteVm('vm-1')).to.equal(true);
      expect(deletes).to.equal(2);
    });

    it('a 503 whose message says "limit reached" is a retried server error, not a terminal quota refusal', async () => {
      let calls = 0;
      fake = await startFake(() => {
        calls += 1;
        return calls === 1 ? { status: 503, body: { error: true, code: 503, message: 'Upstream connection limit reached', stack: '' } } : list([vm(1)], 1);
      });
      const { client } = makeClient(fake);
      const page = await client.listVms();
      expect(page.items.map((v) => v.identifier)).to.deep.equal(['vm-1']);
      expect(calls).to.equal(2);
    });

    it('an HTTP 200 error:true with code 429 and "limit reached" is rate limiting, not quota', async () => {
      let calls = 0;
      fake = await startFake(() => {
        calls += 1;
        return calls === 1 ? { body: { error: true, code: 429, message: 'Request limit reached' } } : list([], 0);
      });
      const { client } = makeClient(fake);
      expect((await client.listVms()).items).to.deep.equal([]);
      expect(calls).to.equal(2);
    });

    it('an HTTP 200 error:true with code 404 is "not found" whatever its message says', async () => {
      fake = await startFake(() => ({ body: { error: true, code: 404, message: 'Server does not exist' } }));
      const { client } = makeClient(fake);
      expect(await client.findVm({ identifier: 'vm-9' })).to.equal(undefined);
      expect(fake.seen).to.have.length(1);
    });

    it('a 400 refusal mentioning "not found" is a bad request, never read as "already deleted"', async () => {
      fake = await startFake(() => ({ status: 400, body: { error: true, code: 400, message: 'Datacenter not found for this request' } }));
      const { client } = makeClient(fake);
      const err = await rejection(client.deleteVm('vm-1'));
      expect(err).to.include({ type: 'bad_request', retryable: false });
    });

    it('code-less refusals keep their documented message fallback (same-size group, worker cap, quota, not found)', () => {
      expect(classifyError({ status: undefined, code: 400, message: 'Group g has same selected Size, please select another size' })).to.equal(
        'same_size_group',
      );
      expect(classifyError({ status: undefined, code: 400, message: 'Worker nodes count exceeds the allowed limit' })).to.equal('worker_cap');
      expect(classifyError({ status: 403, code: 403, message: 'Resource quota exceeded: at most 5 servers' })).to.equal('quota_exceeded');
      expect(classifyError({ status: undefined, code: undefined, message: 'Not found' })).to.equal('not_found');
      expect(classifyError({ status: 503, code: 503, message: 'connection limit reached' })).to.equal('server_error');
      expect(classifyError({ status: undefined, code: 'NOT_FOUND', message: 'gone' })).to.equal('not_found');
    });
  });

  describe('one malformed list item does not fail the whole list', () => {
    it('listVms skips a malformed item, reports it typed and counts it in a metric', async () => {
      fake = await startFake(() => list([vm(1), { ...vm(2), ram: 'lots' }, vm(3)], 3));
      const { client, registry } = makeClient(fake);
      const page = await client.listVms();
      expect(page.items.map((v) => v.identifier)).to.deep.equal(['vm-1', 'vm-3']);
      expect(page.malformed).to.have.length(1);
      expect(page.malformed[0]).to.include({ index: 1, identifier: 'vm-2', hostname: 'host-2', operation: 'vm.list' });
      expect(await metric(registry, 'vpsie_autoscaler_vpsie_api_malformed_items_total', { method: 'vm.list' })).to.equal(1);
    });

    it('findVm by request id: a malformed item carrying that request id is "unknown", not "absent"', async () => {
      const requestId = 'wf-1/create';
      fake = await startFake(() => list([vm(1), { ...vm(2), cpu: null, notes: `${REQUEST_ID_NOTE_PREFIX}${requestId}` }], 2));
      const { client } = makeClient(fake);
      expect(await client.lookupVm({ requestId })).to.have.property('state', 'unknown');
      const err = await rejection(client.findVm({ requestId }));
      expect(err).to.include({ type: 'unknown_state', retryable: true });
      // Another request's look-up is not blocked by it.
      expect(await client.findVm({ requestId: 'wf-2/create' })).to.equal(undefined);
    });

    it('ensureVm never creates a second machine when its own machine is listed but malformed', async () => {
      const requestId = 'wf-3/create';
      const hostname = hostnameForRequest('vpsie-node', requestId);
      const api = await startVmApi(() => {
        return list([{ ...vm(7), hostname, is_active: 'maybe-later', ram: { mb: 2048 } }], 1);
      });
      fake = api.fake;
      const { client } = makeClient(fake);
      const err = await rejection(client.ensureVm({ requestId, plan: 'p', datacenter: 'dc', osImage: '00000000-0000-0000-0000-000000000000' }));
      expect(err.type).to.equal('unknown_state');
      expect(api.creates()).to.equal(0);
    });
  });

  describe('paging reads until the listed total', () => {
    it('keeps reading when pages are shorter than asked but the total says more, advancing by what was received', async () => {
      const all = [1, 2, 3, 4, 5].map((i) => vm(i));
      fake = await startFake((r) => {
        // A server that caps pages at 2 items whatever the limit asked.
        const offset = Number(r.query.get('offset') ?? 0);
        return list(all.slice(offset, offset + 2), all.length);
      });
      const { client } = makeClient(fake);
      const vms = await client.listAllVms(100);
      expect(vms.map((v) => v.identifier)).to.deep.equal(['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5']);
      expect(fake.seen.map((s) => s.query.get('offset'))).to.deep.equal(['0', '2', '4']);
    });

    it('a machine on a later page is found, so ensureVm does not create it again', async () => {
      const requestId = 'wf-4/create';
      const hostname = hostnameForRequest('vpsie-node', requestId);
      const all = [vm(1), vm(2), vm(3, { hostname, notes: `${REQUEST_ID_NOTE_PREFIX}${requestId}` })];
      const api = await startVmApi((r) => {
        const offset = Number(r.query.get('offset') ?? 0);
        return list(all.slice(offset, offset + 2), all.length);
      });
      fake = api.fake;
      const { client } = makeClient(fake);
      const res = await client.ensureVm({ requestId, plan: 'p', datacenter: 'dc', osImage: '00000000-0000-0000-0000-000000000000' });
      expect(res).to.include({ state: 'listed', created: false });
      expect(api.creates()).to.equal(0);
    });

    it('stops at an empty page even when the total says more, and is bounded by maxListPages', async () => {
      fake = await startFake((r) => (Number(r.query.get('offset') ?? 0) === 0 ? list([vm(1)], 10) : list([], 10)));
      const { client } = makeClient(fake);
      expect(await client.listAllVms(100)).to.have.length(1);
      await fake.close();

      let n = 0;
      fake = await startFake(() => list([vm((n += 1))], 1_000_000));
      const bounded = makeClient(fake, { maxListPages: 3 }).client;
      const err = await rejection(bounded.listAllVms(100));
      expect(err.type).to.equal('unknown_state');
      expect(fake.seen).to.have.length(3);
    });
  });

  describe('schema_mismatch on reads is retried a bounded number of times', () => {
    it('a read answered once with a malformed body succeeds on the retry', async () => {
      let calls = 0;
      fake = await startFake(() => {
        calls += 1;
        return calls === 1 ? { body: { error: false, data: { status: 42 } } } : { body: { error: false, data: { status: 'running' } } };
      });
      const { client } = makeClient(fake);
      expect(await client.getVmStatus('vm-1')).to.include({ status: 'running' });
      expect(calls).to.equal(2);
    });

    it('a read that keeps answering malformed stops after maxSchemaRetries retries with schema_mismatch', async () => {
      fake = await startFake(() => ({ body: { error: false, data: { status: 42 } } }));
      const { client, registry } = makeClient(fake, { maxAttempts: 10, maxSchemaRetries: 2 });
      const err = await rejection(client.getVmStatus('vm-1'));
      expect(err.type).to.equal('schema_mismatch');
      expect(fake.seen).to.have.length(3);
      expect(await metric(registry, 'vpsie_autoscaler_vpsie_api_retries_total', { method: 'vm.status', reason: 'schema_mismatch' })).to.equal(2);
    });

    it('a write answered with a malformed body is not retried', async () => {
      fake = await startFake(() => ({ body: { error: false, data: 'queued' } }));
      const { client } = makeClient(fake);
      const err = await rejection(
        client.createVm({ resourceIdentifier: 'p', osIdentifier: 'o', dcIdentifier: 'd', hostname: 'h-1', processId: '00000000-0000-4000-a000-000000000000' }),
      );
      expect(err.type).to.equal('schema_mismatch');
      expect(fake.seen.filter((s) => s.method === 'POST')).to.have.length(1);
    });
  });

  describe("VPSie calls honour the caller's cancellation", () => {
    it('an aborted signal stops a call waiting for an answer at once (fetch is aborted)', async () => {
      fake = await startFake(() => ({ ...list([]), delayMs: 5_000 }));
      const { client } = makeClient(fake, { clock: systemClock, timeoutMs: 30_000 });
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(), 50);
      const err = await rejection(client.withSignal(ac.signal).listVms());
      expect(err).to.include({ type: 'cancelled' });
      expect(Date.now() - started).to.be.lessThan(2_000);
      expect(fake.seen).to.have.length(1);
    });

    it("an aborted signal stops the rate limiter's wait at once and gives the token back", async () => {
      fake = await startFake(() => list([]));
      const { client } = makeClient(fake, { clock: systemClock, rateLimit: { perMinute: 1, burst: 1 } });
      await client.listVms();
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(), 50);
      const err = await rejection(client.withSignal(ac.signal).listVms());
      expect(err).to.include({ type: 'cancelled' });
      expect(Date.now() - started).to.be.lessThan(2_000);
      expect(fake.seen).to.have.length(1);
    });

    it('token bucket: an aborted wait returns its reservation', async () => {
      const clock = new ManualClock();
      const neverSleeps: Clock = { now: () => clock.now(), sleep: () => new Promise<void>(() => undefined) };
      const b = new TokenBucket({ perMinute: 60, burst: 1 }, clock);
      expect(b.take()).to.equal(0);
      const ac = new AbortController();
      const waiting = b.acquire(neverSleeps, ac.signal).then(
        () => 'resolved',
        () => 'rejected',
      );
      ac.abort();
      const outcome = await Promise.race([waiting, new Promise<string>((r) => setTimeout(() => r('still waiting'), 500))]);
      expect(outcome).to.equal('rejected');
      expect(b.take()).to.equal(1000);
    });
  });
});
