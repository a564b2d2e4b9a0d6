/**
 * The coordination REST API on the sandbox: a real Temporal worker runs minimal workflows of the
 * coordination contracts (test/support/coordination-stub-workflows.ts), the API checks real
 * ServiceAccount tokens (TokenRequest API) by TokenReview and their RBAC by SubjectAccessReview on
 * the sandbox's apiserver. Shows 401/403/404/400 as document 000 and issue #16 ask, commands
 * through REST and through a Temporal signal giving the same state, and the orchestrator's own
 * ServiceAccount (k8s/rbac.yaml) being able to make the reviews.
 */
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { SANDBOX_ADMIN_USER } from '../../../sandbox/admission';
import { startCoordinationApi, type CoordinationApi } from '../../../starters/coordination/rest-api';
import {
  coordinationChangedSignal,
  coordinationWorkflowId,
  tripSignal,
  type ConflictRecord,
  type CoordinationView,
} from '../../../workflows/coordination/contracts';
import type { coordinationHubStub, coordinationObjectStub } from '../../support/coordination-stub-workflows';
import { serviceAccountToken, serviceAccountWithRole, tokenKubeConfig, until } from '../../support/identities';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

const ORCHESTRATOR_SA = { namespace: 'vpsie-system', name: 'vpsie-orchestrator-api' };

interface Answer {
  status: number;
  text: string;
  type: string;
  json: <T = Record<string, unknown>>() => T;
}

describe('coordination REST API on the sandbox (TokenReview, SubjectAccessReview, Temporal workflows)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  let otherNs: string;
  let api: CoordinationApi;
  let stopWorker: () => Promise<void>;
  const registry = new Registry();
  const hubId = uniqueName('vpa-nap-coordination-hub-test');
  const handles: WorkflowHandle[] = [];
  const tokens = { full: '', reader: '', nobody: '', admin: '' };
  const users = { full: '', reader: '', nobody: '' };

  const call = async (route: string, o: { token?: string; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const res = await fetch(`${api.url}${route}`, {
      method: o.method ?? 'GET',
      headers: {
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...o.headers,
      },
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, type: res.headers.get('content-type') ?? '', json: <T>() => JSON.parse(text) as T };
  };
  const object = (name: string) => `/api/v1/coordination/${ns}/${name}`;
  const breaker = (name: string, token: string, body: unknown) =>
    call(`${object(name)}/circuit-breaker`, { method: 'POST', token, body: typeof body === 'string' ? body : JSON.stringify(body) });

  async function startObject(name: string): Promise<WorkflowHandle> {
    const h = await sb.temporal.workflow.start<typeof coordinationObjectStub>('coordinationObjectStub', {
      workflowId: coordinationWorkflowId(ns, name),
      taskQueue,
      args: [{ namespace: ns, name }],
    });
    handles.push(h);
    return h;
  }

  /** The apiserver's own answer for `user` (RBAC objects take a moment to reach its authorizer). */
  async function rbacAllows(user: string, verb: string, namespace: string, name?: string): Promise<boolean> {
    const authz = sb.kc.makeApiClient(k8s.AuthorizationV1Api);
    const r = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
          resourceAttributes: { group: 'platform.io', resource: 'vpanapcoordinations', verb, namespace, ...(name ? { name } : {}) },
        },
      },
    });
    return r.status?.allowed === true;
  }

  let taskQueue: string;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('coord-api');
    otherNs = await sb.namespace('coord-api-other');
    taskQueue = sb.taskQueue('coord-api');

    const connection = await NativeConnection.connect({ address: sb.endpoints.temporal.address });
    const worker = await Worker.create({
      connection,
      namespace: sb.endpoints.temporal.namespace,
      taskQueue,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: path.resolve(__dirname, '../../support/coordination-stub-workflows.ts'),
        logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      }),
    });
    const running = worker.run();
    stopWorker = async () => {
      worker.shutdown();
      await running;
      await connection.close();
    };

    const rule = (verbs: string[]) => [{ apiGroups: ['platform.io'], resources: ['vpanapcoordinations'], verbs }];
    const full = await serviceAccountWithRole(sb, ns, 'operator', rule(['get', 'list', 'patch']));
    const reader = await serviceAccountWithRole(sb, ns, 'reader', rule(['get']));
    await sb.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody', namespace: ns } } });
    tokens.full = full.getCurrentUser()!.token!;
    tokens.reader = reader.getCurrentUser()!.token!;
    tokens.nobody = await serviceAccountToken(sb, ns, 'nobody');
    tokens.admin = sb.kc.getCurrentUser()!.token!;
    users.full = `system:serviceaccount:${ns}:operator`;
    users.reader = `system:serviceaccount:${ns}:reader`;
    users.nobody = `system:serviceaccount:${ns}:nobody`;
    await until(
      'the RBAC of the test ServiceAccounts',
      60_000,
      async () => (await rbacAllows(users.full, 'patch', ns, 'web')) && (await rbacAllows(users.reader, 'get', ns, 'web')),
    );

    api = await startCoordinationApi({
      temporal: sb.temporal,
      kc: sb.kc,
      addr: '127.0.0.1:0',
      registry,
      healthy: () => true,
      ready: () => worker.getState() === 'RUNNING',
      hubWorkflowId: hubId,
    });
    await startObject('web');
  });

  after(async () => {
    await api?.close();
    for (const h of handles) await h.terminate('test over').catch(() => undefined);
    await sb?.temporal.workflow
      .getHandle(hubId)
      .terminate('test over')
      .catch(() => undefined);
    await stopWorker?.();
  });

  it('/healthz, /ready and /metrics answer without a token', async () => {
    expect(await call('/healthz')).to.deep.include({ status: 200, text: 'healthy' });
    expect(await call('/ready')).to.deep.include({ status: 200, text: 'ready' });
    const m = await call('/metrics');
    expect(m.status).to.equal(200);
    expect(m.text).to.contain('# TYPE vpa_nap_coordination_duration_seconds histogram');
  });

  it('no token is 401; a token the apiserver does not know is 401', async () => {
    const none = await call(object('web'));
    expect(none.status).to.equal(401);
    expect(none.type).to.contain('application/json');
    expect(none.json().error).to.match(/bearer token is required/);
    const bad = await call(object('web'), { token: 'not-a-real-token' });
    expect(bad.status).to.equal(401);
    expect(bad.json().error).to.match(/TokenReview did not authenticate it/);
    const garbled = await call(object('web'), { headers: { authorization: 'Bearer' } });
    expect(garbled.status).to.equal(401);
  });

  it('a ServiceAccount without rights is 403 with the review’s reason', async () => {
    const r = await call(object('web'), { token: tokens.nobody });
    expect(r.status).to.equal(403);
    expect(r.json().error).to.contain(`${users.nobody} may not get vpanapcoordinations.platform.io web in namespace ${ns}`);
  });

  it('a get-only ServiceAccount reads the state (200) but its POST is 403', async () => {
    const r = await call(object('web'), { token: tokens.reader });
    expect(r.status).to.equal(200);
    const view = r.json<CoordinationView>();
    expect(view).to.deep.include({ apiVersion: 'platform.io/v1', kind: 'VPANAPCoordination' });
    expect(view.metadata).to.deep.include({ namespace: ns, name: 'web' });
    expect(view.breaker).to.deep.include({ state: 'Closed', triggered: false });
    const post = await breaker('web', tokens.reader, { action: 'trigger', reason: 'reader tries' });
    expect(post.status).to.equal(403);
    expect(post.json().error).to.contain(`${users.reader} may not patch vpanapcoordinations.platform.io web in namespace ${ns}`);
    expect((await call(object('web'), { token: tokens.reader })).json<CoordinationView>().breaker.triggered).to.equal(false);
  });

  it('the operator triggers the breaker (200, the new state, recorded as by the authenticated user), GET shows the same, then resets it', async () => {
    const trip = await breaker('web', tokens.full, { action: 'trigger', reason: 'node churn seen on the dashboard' });
    expect(trip.status, trip.text).to.equal(200);
    const tripped = trip.json<CoordinationView>();
    expect(tripped.breaker).to.deep.include({ state: 'Open', triggered: true, reason: 'Manual' });
    expect(tripped.breaker.message).to.equal(`trigger by ${users.full}: node churn seen on the dashboard`);
    expect(tripped.status.circuitBreakerTriggered).to.equal(true);

    const read = await call(object('web'), { token: tokens.reader });
    expect(read.status).to.equal(200);
    expect(read.json<CoordinationView>().breaker).to.deep.equal(tripped.breaker);
    // The same state through Temporal directly (what `temporal workflow query --name state` shows).
    expect((await sb.temporal.workflow.getHandle(coordinationWorkflowId(ns, 'web')).query<CoordinationView>('state')).breaker).to.deep.equal(tripped.breaker);

    const reset = await breaker('web', tokens.full, { action: 'reset', reason: 'calm again' });
    expect(reset.status).to.equal(200);
    expect(reset.json<CoordinationView>().breaker).to.deep.include({ state: 'Closed', triggered: false, message: `reset by ${users.full}: calm again` });
    expect((await call(object('web'), { token: tokens.full })).json<CoordinationView>().breaker.triggered).to.equal(false);
  });

  it('a trip through a Temporal signal (as `temporal workflow signal --name trip`) is what REST shows', async () => {
    const h = await startObject('signalled');
    await h.signal(tripSignal, { reason: 'from the CLI', by: 'ops-cli' });
    await until(
      'the signal to be handled',
      30_000,
      async () => (await call(object('signalled'), { token: tokens.reader })).json<CoordinationView>().breaker.triggered,
    );
    const view = (await call(object('signalled'), { token: tokens.reader })).json<CoordinationView>();
    expect(view.breaker).to.deep.include({ state: 'Open', triggered: true, message: 'trigger by ops-cli: from the CLI' });
  });

  it('a bad body is 400 naming the field; malformed JSON and unknown fields too', async () => {
    const action = await breaker('web', tokens.full, { action: 'open', reason: 'x' });
    expect(action.status).to.equal(400);
    expect(action.json()).to.deep.equal({ error: 'action: action must be "trigger" or "reset"', field: 'action' });
    const reason = await breaker('web', tokens.full, { action: 'trigger' });
    expect(reason.status).to.equal(400);
    expect(reason.json()).to.deep.equal({ error: 'reason: reason is required', field: 'reason' });
    const malformed = await breaker('web', tokens.full, '{"action": "trigger",');
    expect(malformed.status).to.equal(400);
    expect(malformed.json()).to.deep.include({ field: 'body' });
    expect(malformed.json().error).to.match(/^body: malformed JSON/);
    const extra = await breaker('web', tokens.full, { action: 'trigger', reason: 'x', force: true });
    expect(extra.status).to.equal(400);
    expect(extra.json()).to.deep.include({ field: 'force' });
    expect((await call(object('web'), { token: tokens.full })).json<CoordinationView>().breaker.triggered).to.equal(false);
  });

  it('an update the workflow refuses is 409 with its reason', async () => {
    const r = await breaker('web', tokens.full, { action: 'trigger', reason: 'refuse me' });
    expect(r.status).to.equal(409);
    expect(r.json().error).to.contain('the breaker refuses this command');
  });

  it('an unknown object is 404 (GET and POST); an object whose workflow has completed is 404', async () => {
    const get = await call(object('no-such-object'), { token: tokens.full });
    expect(get.status).to.equal(404);
    expect(get.json().error).to.equal(`VPANAPCoordination ${ns}/no-such-object not found (no running coordination workflow)`);
    expect((await breaker('no-such-object', tokens.full, { action: 'trigger', reason: 'x' })).status).to.equal(404);

    const h = await startObject('deleted');
    expect((await call(object('deleted'), { token: tokens.full })).status).to.equal(200);
    await h.signal(coordinationChangedSignal, { deleted: true });
    await h.result();
    const gone = await call(object('deleted'), { token: tokens.full });
    expect(gone.status).to.equal(404);
    expect(gone.json().error).to.contain('has completed');
  });

  it('conflicts: empty before the hub runs; the hub’s list, filtered by ?namespace=; list rights cluster-wide or in the namespace', async () => {
    const empty = await call(`/api/v1/conflicts?namespace=${ns}`, { token: tokens.full });
    expect(empty.status, empty.text).to.equal(200);
    expect(empty.json()).to.deep.equal({ items: [] });

    const mine: ConflictRecord = {
      at: 2000,
      type: 'EvictionScaleUp',
      object: `${ns}/web`,
      namespace: ns,
      vpaName: 'web',
      message: 'eviction then node',
      numbers: { windowSeconds: 120 },
    };
    const theirs: ConflictRecord = { at: 1000, type: 'Oscillation', object: `${otherNs}/db`, namespace: otherNs, vpaName: 'db', message: 'oscillating' };
    await sb.temporal.workflow.start<typeof coordinationHubStub>('coordinationHubStub', {
      workflowId: hubId,
      taskQueue,
      args: [{ conflicts: [theirs, mine] }],
    });

    const all = await call('/api/v1/conflicts', { token: tokens.admin });
    expect(all.status).to.equal(200);
    expect(all.json<{ items: ConflictRecord[] }>().items).to.deep.equal([mine, theirs]);
    const filtered = await call(`/api/v1/conflicts?namespace=${ns}`, { token: tokens.full });
    expect(filtered.json<{ items: ConflictRecord[] }>().items).to.deep.equal([mine]);

    const clusterWide = await call('/api/v1/conflicts', { token: tokens.full });
    expect(clusterWide.status).to.equal(403);
    expect(clusterWide.json().error).to.contain(`${users.full} may not list vpanapcoordinations.platform.io cluster-wide`);
    expect((await call(`/api/v1/conflicts?namespace=${ns}`, { token: tokens.reader })).status).to.equal(403);
    expect((await call(`/api/v1/conflicts?namespace=${otherNs}`, { token: tokens.full })).status).to.equal(403);
  });

  it('/metrics counts the API operations in vpa_nap_coordination_duration_seconds{operation}', async () => {
    const m = (await call('/metrics')).text;
    for (const op of ['api_get', 'api_circuit_breaker', 'api_conflicts']) {
      const line = m.split('\n').find((l) => l.startsWith(`vpa_nap_coordination_duration_seconds_count{operation="${op}"}`));
      expect(line, op).to.not.equal(undefined);
      expect(Number(line!.split(' ').at(-1))).to.be.greaterThan(0);
    }
  });

  it('the API’s ServiceAccount of k8s/rbac.yaml may make the reviews', async () => {
    const token = await serviceAccountToken(sb, ORCHESTRATOR_SA.namespace, ORCHESTRATOR_SA.name);
    const asOrchestrator = await startCoordinationApi({
      temporal: sb.temporal,
      kc: tokenKubeConfig(sb, 'orchestrator', token),
      addr: '127.0.0.1:0',
      registry: new Registry(),
      healthy: () => true,
      ready: () => true,
      hubWorkflowId: hubId,
    });
    try {
      const ok = await fetch(`${asOrchestrator.url}${object('web')}`, { headers: { authorization: `Bearer ${tokens.reader}` } });
      expect(ok.status, await ok.clone().text()).to.equal(200);
      const denied = await fetch(`${asOrchestrator.url}${object('web')}`, { headers: { authorization: `Bearer ${tokens.nobody}` } });
      expect(denied.status).to.equal(403);
    } finally {
      await asOrchestrator.close();
    }
  });

  it('the sandbox admin (system:masters, a static token) is allowed everything, recorded under its own name', async () => {
    const trip = await breaker('web', tokens.admin, { action: 'trigger', reason: 'admin' });
    expect(trip.status, trip.text).to.equal(200);
    expect(trip.json<CoordinationView>().breaker.message).to.equal(`trigger by ${SANDBOX_ADMIN_USER}: admin`);
    expect((await breaker('web', tokens.admin, { action: 'reset', reason: 'admin' })).json<CoordinationView>().breaker.triggered).to.equal(false);
  });
});
