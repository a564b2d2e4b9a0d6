import { expect } from 'chai';
import { renderBootstrapUserData } from '../../../../clients/vpsie/bootstrap';
import { hostnameForRequest } from '../../../../clients/vpsie/client';
import { eventually, makeClient, metricValue, startSim, type SimHandle } from './helpers';
import { rejection as expectVPSieError } from '../../../support/vpsie-fake';

const JOIN = {
  apiServer: 'https://10.0.0.1:6443',
  bootstrapToken: 'abcdef.0123456789abcdef',
  nodeGroup: 'general-purpose',
  nodeLabels: { nodegroup: 'general-purpose', 'workload-type': 'stateless' },
  taints: [{ key: 'workload-type', value: 'general-purpose', effect: 'NoSchedule' as const }],
};

describe('VPSie client against the simulator (contract)', function () {
  let h: SimHandle;

  beforeEach(async () => {
    h = await startSim();
  });
  afterEach(async () => {
    await h.sim.close();
  });

  describe('authentication', () => {
    it('logs in with client credentials and sends Vpsie-Auth', async () => {
      const { client } = makeClient(h);
      await client.healthCheck();
      expect(client.loginCount).to.equal(1);
      await client.listVms();
      expect(client.loginCount).to.equal(1);
    });

    it('simulator: 401 "Please authenticate" without a valid token; accepts Bearer and form login', async () => {
      const bad = await fetch(`${h.sim.url}/api/v2/vm`, { headers: { 'Vpsie-Auth': 'nope' } });
      expect(bad.status).to.equal(401);
      expect(await bad.json()).to.deep.equal({ error: true, message: 'Please authenticate' });
      const login = await fetch(`${h.sim.url}/apps/v2/auth/from/api`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ clientId: h.sim.clientId, clientSecret: h.sim.clientSecret }).toString(),
      });
      const body = (await login.json()) as { token: { access: { token: string } }; accessToken: { token: string } };
      expect(body.accessToken.token).to.equal(body.token.access.token);
      const ok = await fetch(`${h.sim.url}/apps/v2/vm`, { headers: { Authorization: `Bearer ${body.token.access.token}` } });
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.deep.equal({ error: false, data: [], total: 0 });
    });

    it('re-logs in once after the token expires mid-run', async () => {
      const { client } = makeClient(h);
      await client.listVms();
      await h.admin('/tokens/expire', 'POST');
      await client.listVms();
      expect(client.loginCount).to.equal(2);
    });

    it('logs in again 5 minutes before the token expires', async () => {
      await h.admin('/config', 'PATCH', { tokenTtlSeconds: 3600 });
      const { client, clock } = makeClient(h);
      await client.listVms();
      clock.advance(54 * 60_000);
      await client.listVms();
      expect(client.loginCount).to.equal(1);
      clock.advance(2 * 60_000);
      await client.listVms();
      expect(client.loginCount).to.equal(2);
    });

    it('picks up rotated credentials without a restart; wrong credentials are terminal', async () => {
      let secret = 'wrong-secret';
      const { client } = makeClient(h, { credentials: () => Promise.resolve({ kind: 'client', clientId: h.sim.clientId, clientSecret: secret }) });
      const err = await expectVPSieError(client.listVms());
      expect(err.type).to.equal('auth_failed');
      expect(err.retryable).to.equal(false);
      expect(err.message).to.not.include('wrong-secret');
      secret = h.sim.clientSecret;
      await client.listVms();
    });

    it('accepts a ready access token as credentials', async () => {
      const login = await fetch(`${h.sim.url}/apps/v2/auth/from/api`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ clientId: h.sim.clientId, clientSecret: h.sim.clientSecret }),
      });
      const token = ((await login.json()) as { token: { access: { token: string } } }).token.access.token;
      const { client } = makeClient(h, { credentials: () => Promise.resolve({ kind: 'token', accessToken: token }) });
      expect((await client.listVms()).items).to.deep.equal([]);
      expect(client.loginCount).to.equal(0);
    });
  });

  describe('catalogue', () => {
    it('lists datacenters, categories, plans and images, and resolves the documented nicknames', async () => {
      const { client } = makeClient(h);
      const dcs = await client.listDatacenters();
      expect(dcs.map((d) => d.dc_name)).to.include('us-east-1');
      expect((await client.listPlanCategories()).length).to.be.at.least(2);
      const plans = await client.listAllPlans('us-east-1');
      expect(plans.some((p) => p.cpu === 1 && p.ram === 1024)).to.equal(true);
      expect(plans.some((p) => p.cpu === 16 && p.ram === 65536)).to.equal(true);
      const small = await client.resolvePlan('small-2cpu-4gb', 'us-east-1');
      expect(small).to.include({ cpu: 2, ram: 4096 });
      const medium = await client.resolvePlan('medium-4cpu-8gb', 'us-east-1');
      expect(medium.price).to.not.equal(small.price * 2);
      expect((await client.resolveOsImage('ubuntu-22.04-lts')).name).to.equal('ubuntu-22.04-lts');
      const err = await expectVPSieError(client.resolvePlan('no-such-plan', 'us-east-1'));
      expect(err.type).to.equal('not_found');
    });

    it('caches plans and datacenters', async () => {
      const { client, registry } = makeClient(h);
      await client.listDatacenters();
      await client.listDatacenters();
      await client.listAllPlans('us-east-1');
      await client.listAllPlans('us-east-1');
      expect(await metricValue(registry, 'vpsie_autoscaler_vpsie_api_requests_total', { method: 'datacenter.list' })).to.equal(1);
      expect(await metricValue(registry, 'vpsie_autoscaler_vpsie_api_requests_total', { method: 'plan.categories' })).to.equal(1);
    });
  });

  describe('VMs', () => {
    it('create appears first in the pending list, then is listed, boots, and is deleted', async () => {
      await h.admin('/config', 'PATCH', { provisioningDelayMs: 3_600_000, bootDelayMs: 3_600_000 });
      const { client } = makeClient(h);
      const first = await client.ensureVm({ requestId: 'req-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
      expect(first.state).to.equal('pending');
      expect(first.created).to.equal(true);
      expect((await client.findPendingVm({ hostname: first.hostname }))?.data.hostname).to.equal(first.hostname);
      expect((await client.listVms()).items).to.have.length(0);

      await h.admin('/config', 'PATCH', { provisioningDelayMs: 0 });
      const listed = await client.ensureVm({ requestId: 'req-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
      expect(listed.state).to.equal('listed');
      expect(listed.created).to.equal(false);
      if (listed.state !== 'listed') throw new Error('unreachable');
      expect(listed.vm.is_active).to.equal(0);
      expect((await client.getVmStatus(listed.vm.identifier)).status).to.equal('stopped');

      await h.admin('/config', 'PATCH', { bootDelayMs: 0 });
      const vm = await client.getVm(listed.vm.identifier);
      expect(vm).to.include({ hostname: first.hostname, cpu: 2, ram: 4096, is_active: 1, power: 1 });
      expect((await client.getVmStatus(vm.identifier)).status).to.equal('running');
      expect(await client.findVm({ requestId: 'req-1' })).to.have.property('identifier', vm.identifier);
      expect(await client.findVm({ ip: vm.private_ip ?? '' })).to.have.property('identifier', vm.identifier);

      expect(await client.deleteVm(vm.identifier)).to.equal(true);
      expect(await client.deleteVm(vm.identifier)).to.equal(false);
      expect((await expectVPSieError(client.getVm(vm.identifier))).type).to.equal('not_found');
      expect(await client.findVm({ identifier: vm.identifier })).to.equal(undefined);
    });

    it('lists with offset/limit', async () => {
      const { client } = makeClient(h);
      for (let i = 0; i < 5; i++)
        await client.ensureVm({ requestId: `page-${i}`, plan: 'xsmall-1cpu-1gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
      const page = await client.listVms({ offset: 2, limit: 2 });
      expect(page.items).to.have.length(2);
      expect(page.total).to.equal(5);
      expect(await client.listAllVms(2)).to.have.length(5);
    });

    it('the simulator answers malformed requests with a typed error envelope', async () => {
      const { client } = makeClient(h);
      await client.healthCheck();
      const token = (await (
        await fetch(`${h.sim.url}/apps/v2/auth/from/api`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ clientId: h.sim.clientId, clientSecret: h.sim.clientSecret }),
        })
      ).json()) as { token: { access: { token: string } } };
      const auth = { 'Vpsie-Auth': token.token.access.token, 'Content-Type': 'application/json' };
      for (const body of ['{bad json', '[]', JSON.stringify({ hostname: 'x' }), JSON.stringify({ resourceIdentifier: 1 })]) {
        const res = await fetch(`${h.sim.url}/api/v2/vm`, { method: 'POST', headers: auth, body });
        expect(res.status).to.equal(400);
        const json = (await res.json()) as { error: boolean; message: string };
        expect(json.error).to.equal(true);
        expect(json.message).to.be.a('string');
      }
      const nf = await fetch(`${h.sim.url}/apps/v2/nothing/here`, { headers: auth });
      expect(nf.status).to.equal(404);
      expect(((await nf.json()) as { message: string }).message).to.equal('Not found');
    });
  });

  describe('managed Kubernetes', () => {
    it('node groups: create, refuse a second of the same size (terminal), add/remove/delete workers', async () => {
      const { client } = makeClient(h);
      const clusters = await client.listClusters();
      expect(clusters.map((c) => c.identifier)).to.include(h.sim.clusterIdentifier);
      const size = await client.resolveKubeSizeId('small-2cpu-4gb', 'us-east-1');
      const group = await client.ensureNodeGroup({ clusterIdentifier: h.sim.clusterIdentifier, groupName: 'general', kubeSizeId: size });
      expect(group.nodes_count).to.equal(0);
      expect((await client.ensureNodeGroup({ clusterIdentifier: h.sim.clusterIdentifier, groupName: 'general', kubeSizeId: size })).id).to.equal(group.id);
      const same = await expectVPSieError(client.ensureNodeGroup({ clusterIdentifier: h.sim.clusterIdentifier, groupName: 'other', kubeSizeId: size }));
      expect(same.type).to.equal('same_size_group');
      expect(same.retryable).to.equal(false);

      const r = await client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: 2 });
      expect(r).to.deep.equal({ added: 2, nodesCount: 2 });
      const workers = await eventually(async () => {
        const w = await client.listClusterWorkers(h.sim.clusterIdentifier, group.id);
        return w.length === 2 ? w : undefined;
      });
      expect(workers[0]!.hostname).to.match(/^useast1-kubernetes-[0-9a-f]{8}-slave-[0-9a-f]{8}$/);
      const found = await client.findClusterNode(h.sim.clusterIdentifier, { hostname: workers[0]!.hostname });
      expect(found?.identifier).to.equal(workers[0]!.identifier);
      const vm = await client.getVm(workers[0]!.identifier!);
      expect(vm.hostname).to.equal(workers[0]!.hostname);

      expect(await client.deleteGroupWorker(h.sim.clusterIdentifier, workers[0]!.identifier!)).to.equal(true);
      expect(await client.deleteGroupWorker(h.sim.clusterIdentifier, workers[0]!.identifier!)).to.equal(false);
      await client.reduceGroup(h.sim.clusterIdentifier, group.id);
      expect((await client.listNodeGroups(h.sim.clusterIdentifier))[0]!.nodes_count).to.equal(0);
      expect(await client.deleteNodeGroup(group.identifier)).to.equal(true);
      expect(await client.listNodeGroups(h.sim.clusterIdentifier)).to.deep.equal([]);
    });

    it("the per-cluster worker cap is a terminal error with VPSie's message", async () => {
      await h.admin('/config', 'PATCH', { maxWorkersPerCluster: 1 });
      const { client } = makeClient(h);
      const group = await client.ensureNodeGroup({
        clusterIdentifier: h.sim.clusterIdentifier,
        groupName: 'g',
        kubeSizeId: await client.resolveKubeSizeId('medium-4cpu-8gb', 'us-east-1'),
      });
      await client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: 1 });
      const err = await expectVPSieError(client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: 2 }));
      expect(err.type).to.equal('worker_cap');
      expect(err.retryable).to.equal(false);
      expect(err.message).to.include('Worker nodes count exceeds the allowed limit');
    });

    it('account quota refusals are terminal', async () => {
      await h.admin('/config', 'PATCH', { maxMachines: 1 });
      const { client } = makeClient(h);
      await client.ensureVm({ requestId: 'q-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
      const err = await expectVPSieError(client.ensureVm({ requestId: 'q-2', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' }));
      expect(err.type).to.equal('quota_exceeded');
      expect(err.retryable).to.equal(false);
    });
  });

  describe('error forms', () => {
    it('non-2xx JSON: 5xx is retried, 4xx is terminal', async () => {
      const { client, clock } = makeClient(h);
      await client.healthCheck();
      await h.admin('/faults', 'POST', { kind: 'status', status: 500, match: 'GET /api/v2/vm' });
      expect((await client.listVms()).items).to.deep.equal([]);
      expect(clock.sleeps).to.have.length(1);
      await h.admin('/faults', 'POST', { kind: 'status', status: 400, message: 'hostname is required', match: 'GET /api/v2/vm' });
      const err = await expectVPSieError(client.listVms());
      expect(err).to.include({ type: 'bad_request', retryable: false, status: 400 });
    });

    it('HTTP 200 with error:true becomes a typed error', async () => {
      const { client } = makeClient(h, { maxAttempts: 1 });
      await client.healthCheck();
      await h.admin('/faults', 'POST', { kind: 'error200', message: 'Something went wrong', match: 'GET /api/v2/vm' });
      const err = await expectVPSieError(client.listVms());
      expect(err).to.include({ type: 'server_error', retryable: true, status: 200 });
      await h.admin('/faults', 'POST', { kind: 'error200', message: 'Not found', match: 'GET /api/v2/vm' });
      // Without a code, the words "Not found" are not trusted as "gone" (#12): still a server error.
      expect((await expectVPSieError(client.listVms())).type).to.equal('server_error');
    });

    it('an HTML 502 becomes a retryable typed error and is retried', async () => {
      const { client } = makeClient(h, { maxAttempts: 1 });
      await client.healthCheck();
      await h.admin('/faults', 'POST', { kind: 'html502', match: 'GET /api/v2/vm' });
      const err = await expectVPSieError(client.listVms());
      expect(err).to.include({ type: 'server_error', retryable: true, status: 502 });
      expect(err.message).to.include('not JSON');
      const retrying = makeClient(h);
      await h.admin('/faults', 'POST', { kind: 'html502', match: 'GET /api/v2/vm', times: 2 });
      expect((await retrying.client.listVms()).items).to.deep.equal([]);
      expect(retrying.clock.sleeps).to.have.length(2);
    });

    it('a truncated JSON answer becomes invalid_response', async () => {
      const { client } = makeClient(h, { maxAttempts: 1 });
      await client.healthCheck();
      await h.admin('/faults', 'POST', { kind: 'truncated', match: 'GET /apps/v2/datacenter' });
      const err = await expectVPSieError(client.listDatacenters());
      expect(err).to.include({ type: 'invalid_response', retryable: true });
    });

    it('429 waits for Retry-After and then succeeds', async () => {
      const { client, clock, registry } = makeClient(h);
      await client.healthCheck();
      await h.admin('/faults', 'POST', { kind: 'rate429', retryAfterSeconds: 7, match: 'GET /api/v2/vm' });
      await client.listVms();
      expect(clock.sleeps).to.deep.equal([7000]);
      expect(await metricValue(registry, 'vpsie_autoscaler_vpsie_api_requests_total', { method: 'vm.list', status: '429' })).to.equal(1);
    });

    it("the simulator's own per-account rate limit answers 429 with Retry-After", async () => {
      await h.admin('/config', 'PATCH', { rateLimit: { requests: 2, windowMs: 60_000 } });
      const { client } = makeClient(h, { maxAttempts: 2 });
      await client.listVms(); // login + list
      const err = await expectVPSieError(client.listVms());
      expect(err.type).to.equal('rate_limited');
      expect(err.retryAfterMs).to.be.greaterThan(0);
      const raw = await fetch(`${h.sim.url}/api/v2/vm`);
      expect(raw.status).to.equal(429);
      expect(Number(raw.headers.get('retry-after'))).to.be.greaterThan(0);
    });

    it('an outage opens the breaker, which half-opens after openMs and closes on success', async () => {
      const { client, clock, registry } = makeClient(h, { maxAttempts: 1 });
      await client.healthCheck();
      await h.admin('/outage', 'POST', { active: true });
      // Window of 4 outcomes (1 success + 3 failures) reaches the 50 % threshold.
      for (let i = 0; i < 3; i++) expect((await expectVPSieError(client.listVms())).type).to.equal('server_error');
      expect(client.apiBreakerState).to.equal('open');
      const refused = await expectVPSieError(client.listVms());
      expect(refused).to.include({ type: 'circuit_open', retryable: true });
      expect(await metricValue(registry, 'vpsie_autoscaler_vpsie_api_circuit_breaker_state', {})).to.equal(2);

      await h.admin('/outage', 'POST', { active: false });
      expect((await expectVPSieError(client.listVms())).type).to.equal('circuit_open');
      clock.advance(30_000);
      expect(client.apiBreakerState).to.equal('half_open');
      await client.listVms();
      expect(client.apiBreakerState).to.equal('closed');
      expect(await metricValue(registry, 'vpsie_autoscaler_vpsie_api_circuit_breaker_state', {})).to.equal(0);
    });
  });

  describe('idempotent creation', () => {
    it('retrying "create a worker" after a crash between request and answer leaves exactly one machine', async () => {
      const { client } = makeClient(h);
      const group = await client.ensureNodeGroup({
        clusterIdentifier: h.sim.clusterIdentifier,
        groupName: 'crash',
        kubeSizeId: await client.resolveKubeSizeId('small-2cpu-4gb', 'us-east-1'),
      });
      const target = group.nodes_count + 1;
      await h.admin('/faults', 'POST', { kind: 'dropAfterCommit', match: '/add/slave/group/' });
      // First activity attempt: the worker is added, but the answer never arrives (the activity crashes).
      const lost = await expectVPSieError(client.addGroupWorker(h.sim.clusterIdentifier, group.id));
      expect(lost).to.include({ type: 'network', retryable: true, ambiguous: true });
      // Retried activity, same target: nothing more is added.
      const retried = await client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: target });
      expect(retried).to.deep.equal({ added: 0, nodesCount: 1 });
      await client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: target });
      const s = await h.state();
      expect(s.machines.filter((m) => m.kind === 'k8s-worker' && m.phase !== 'deleted')).to.have.length(1);
      expect(s.counters.creates).to.equal(1);
    });

    it('ensureGroupWorker itself settles a lost answer without adding twice', async () => {
      const { client } = makeClient(h);
      const group = await client.ensureNodeGroup({
        clusterIdentifier: h.sim.clusterIdentifier,
        groupName: 'lost',
        kubeSizeId: await client.resolveKubeSizeId('small-2cpu-4gb', 'us-east-1'),
      });
      await h.admin('/faults', 'POST', { kind: 'dropAfterCommit', match: '/add/slave/group/' });
      expect(await client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: 1 })).to.deep.equal({
        added: 1,
        nodesCount: 1,
      });
      expect((await h.state()).counters.creates).to.equal(1);
    });

    it('retrying ensureVm after a lost create answer leaves exactly one VM', async () => {
      await h.admin('/config', 'PATCH', { provisioningDelayMs: 3_600_000 });
      const { client } = makeClient(h);
      await h.admin('/faults', 'POST', { kind: 'dropAfterCommit', match: 'POST /api/v2/vm' });
      const input = { requestId: 'wf-7/step-2', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' };
      const first = await client.ensureVm(input);
      expect(first).to.include({ state: 'pending', created: true, hostname: hostnameForRequest('vpsie-node', input.requestId) });
      const again = await client.ensureVm(input);
      expect(again).to.include({ state: 'pending', created: false });
      await h.admin('/config', 'PATCH', { provisioningDelayMs: 0 });
      expect(await client.ensureVm(input)).to.include({ state: 'listed', created: false });
      const s = await h.state();
      expect(s.machines).to.have.length(1);
      expect(s.machines[0]!.notes).to.include('wf-7/step-2');
    });

    it('VPSie showing a create only after a while: ensureVm without a settle window creates a second VM (the finding), with one a single VM', async () => {
      // a created VM is in neither the pending queue nor the list for 1.5 s
      await h.admin('/config', 'PATCH', { createVisibilityDelayMs: 1_500 });
      const { client } = makeClient(h);
      const base = { plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' };
      // without a settle window: the second poll sees nothing and creates again
      expect(await client.ensureVm({ ...base, requestId: 'slow-bare' })).to.include({ created: true });
      expect(await client.ensureVm({ ...base, requestId: 'slow-bare' })).to.include({ created: true });
      // with one: the create is recorded before it is sent, and nothing is sent again within the window
      let sentAt: number | undefined;
      const settleMs = 10_000;
      const beforeCreate = async (): Promise<'create' | 'wait'> => {
        if (sentAt !== undefined && Date.now() - sentAt < settleMs) return 'wait';
        sentAt = Date.now();
        return 'create';
      };
      const input = { ...base, requestId: 'slow-settled', beforeCreate };
      expect(await client.ensureVm(input)).to.include({ created: true });
      const polls = await eventually(async () => {
        const r = await client.ensureVm(input);
        expect(r.created).to.equal(false);
        return r.state === 'listed' || r.pending !== undefined ? r : undefined;
      }, 400);
      expect(polls.created).to.equal(false);
      const s = await h.state();
      expect(s.machines.filter((m) => m.notes?.includes('slow-bare'))).to.have.length(2);
      expect(s.machines.filter((m) => m.notes?.includes('slow-settled'))).to.have.length(1);
      await h.admin('/config', 'PATCH', { createVisibilityDelayMs: 0 });
    });

    it('a VM that leaves the pending queue for the VM list while ensureVm looks for it is found, not created again', async () => {
      await h.admin('/config', 'PATCH', { provisioningDelayMs: 3_600_000 });
      const { client } = makeClient(h);
      const input = { requestId: 'race-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' };
      expect(await client.ensureVm(input)).to.include({ state: 'pending', created: true });
      // The machine is listed right after the first of the two reads of the look-up, whichever it is.
      let moved = false;
      const afterFirstRead = async <T>(read: Promise<T>): Promise<T> => {
        const r = await read;
        if (!moved) {
          moved = true;
          await h.admin('/config', 'PATCH', { provisioningDelayMs: 0 });
          await h.admin('/advance', 'POST');
        }
        return r;
      };
      const listAllVms = client.listAllVmsDetailed.bind(client);
      const listPendingVms = client.listPendingVmsDetailed.bind(client);
      client.listAllVmsDetailed = (pageSize?: number) => afterFirstRead(listAllVms(pageSize));
      client.listPendingVmsDetailed = () => afterFirstRead(listPendingVms());
      const again = await client.ensureVm(input);
      expect(again.created).to.equal(false);
      expect(moved).to.equal(true);
      const s = await h.state();
      expect(s.machines.map((m) => m.notes)).to.have.length(1);
      expect(s.counters.creates).to.equal(1);
    });

    it('a dropped request (never processed) is retried by the next ensureVm and creates one VM', async () => {
      const { client } = makeClient(h);
      await h.admin('/faults', 'POST', { kind: 'drop', match: 'POST /api/v2/vm' });
      const input = { requestId: 'drop-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' };
      const err = await expectVPSieError(client.ensureVm(input));
      expect(err).to.include({ type: 'not_settled', retryable: true });
      expect((await client.ensureVm(input)).created).to.equal(true);
      expect((await h.state()).machines).to.have.length(1);
    });
  });

  describe('joining the cluster', () => {
    it('a group worker joins by itself with the plan capacity and providerID; deleting it removes the Node', async () => {
      const { client } = makeClient(h);
      const group = await client.ensureNodeGroup({
        clusterIdentifier: h.sim.clusterIdentifier,
        groupName: 'join',
        kubeSizeId: await client.resolveKubeSizeId('medium-4cpu-8gb', 'us-east-1'),
      });
      await client.ensureGroupWorker({ clusterIdentifier: h.sim.clusterIdentifier, groupId: group.id, targetCount: 1 });
      const [worker] = await eventually(async () => {
        const w = await client.listClusterWorkers(h.sim.clusterIdentifier, group.id);
        return w.length === 1 ? w : undefined;
      });
      const node = await eventually(() => h.joiner.nodes.get(worker!.hostname));
      expect(node.spec?.providerID).to.equal(`vpsie://${worker!.identifier}`);
      expect(node.status?.capacity).to.deep.equal({ cpu: '4', memory: `${8 * 1024 * 1024}Ki`, pods: '110', 'ephemeral-storage': `${160 * 1024 * 1024}Ki` });
      expect(node.metadata?.labels?.['kubernetes.io/hostname']).to.equal(worker!.hostname);
      expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).to.equal('fake');
      expect(node.status?.addresses).to.deep.include({ type: 'InternalIP', address: worker!.private_ip });
      await client.deleteGroupWorker(h.sim.clusterIdentifier, worker!.identifier!);
      await eventually(() => (h.joiner.nodes.has(worker!.hostname) ? undefined : true));
    });

    it('a VM with bootstrap user data joins with its labels and taints; one without never joins', async () => {
      const { client } = makeClient(h);
      const joined = await client.ensureVm({
        requestId: 'join-1',
        plan: 'small-2cpu-4gb',
        datacenter: 'us-east-1',
        osImage: 'ubuntu-22.04-lts',
        userData: renderBootstrapUserData(JOIN),
      });
      const plain = await client.ensureVm({ requestId: 'plain-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
      const node = await eventually(() => h.joiner.nodes.get(joined.hostname));
      expect(node.metadata?.labels).to.include({
        nodegroup: 'general-purpose',
        'workload-type': 'stateless',
        'node.kubernetes.io/instance-type': 'small-2cpu-4gb',
      });
      expect(node.spec?.taints).to.deep.equal([{ key: 'workload-type', value: 'general-purpose', effect: 'NoSchedule' }]);
      // Both booted; only one joined.
      const s = await eventually(async () => {
        const st = await h.state();
        return st.machines.every((m) => m.phase === 'running') ? st : undefined;
      });
      expect(s.machines.find((m) => m.hostname === plain.hostname)?.node.state).to.equal('none');
      expect(h.joiner.nodes.has(plain.hostname)).to.equal(false);
    });
  });

  describe('persistence and inspection', () => {
    it('state (machines, credentials) survives a simulator restart; billing accrues instance-hours × price', async () => {
      const fs = await import('node:fs');
      const os = await import('node:os');
      const path = await import('node:path');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-sim-state-'));
      const stateFile = path.join(dir, 'state.json');
      const first = await startSim(undefined, { stateFile });
      const c1 = makeClient(first);
      const r = await c1.client.ensureVm({ requestId: 'persist-1', plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
      const creds = { id: first.sim.clientId, secret: first.sim.clientSecret, cluster: first.sim.clusterIdentifier };
      await first.sim.close();
      const second = await startSim(undefined, { stateFile });
      try {
        expect([second.sim.clientId, second.sim.clientSecret, second.sim.clusterIdentifier]).to.deep.equal([creds.id, creds.secret, creds.cluster]);
        const c2 = makeClient(second);
        expect((await c2.client.findVm({ hostname: r.hostname }))?.hostname).to.equal(r.hostname);
        const s = await second.state();
        expect(s.billing.instanceHours).to.be.greaterThan(0);
        expect(s.billing.cost).to.be.greaterThan(0);
      } finally {
        await second.sim.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
