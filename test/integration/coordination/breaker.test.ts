/**
 * The circuit breaker on the sandbox, through what an operator uses: a VPANAPCoordination and a
 * VPA object, Nodes joining (node churn) → the breaker trips (status, Event, metric, workflow
 * state), the VPA's updateMode becomes Off with the previous mode kept on the object, and after
 * the cooldown (a durable timer) it is restored; an operator trips and resets it with the
 * `temporal` CLI, and the state query shows the same as the object's status.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { PAUSED_UPDATE_MODE_ANNOTATION } from '../../../lib/crds/platform/constants';
import type { Orchestrator } from '../../../workers/orchestrator';
import { coordinationHubWorkflowId, coordinationWorkflowId, stateQuery } from '../../../workflows/coordination/contracts';
import { recordHistory } from '../../support/histories';
import { coordinationStatus, createCoordination, createVpa, vpaOf } from '../../support/coordination';
import { eventually } from '../../support/eventually';
import { startTestOrchestrator } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

const run = promisify(execFile);
async function createNode(sb: TestSandbox, name: string): Promise<void> {
  await sb.core.createNode({
    body: {
      metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { 'kubernetes.io/hostname': name, type: 'kwok' } },
      spec: { taints: [{ key: 'coordination-test', value: 'true', effect: 'NoSchedule' }] },
      status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, capacity: { cpu: '4', memory: '8Gi', pods: '110' } },
    },
  });
}

describe('coordination: the circuit breaker on the sandbox', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;
  const nodes: string[] = [];

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('coord');
    orch = await startTestOrchestrator(sb, ns, sb.taskQueue('coord'), { resyncSeconds: 30, env: { COORDINATION_API_ADDR: '127.0.0.1:0' } });
  });
  after(async () => {
    for (const n of nodes) await sb.core.deleteNode({ name: n }).catch(() => undefined);
    await orch?.stop();
  });

  it('node churn trips it: the VPA is paused (mode kept on it), status/Event/metric/state agree, and the cooldown restores the mode', async () => {
    await createVpa(sb, ns, 'web', 'web', 'Recreate');
    await createCoordination(sb, ns, 'web', {
      coordinationStrategy: 'coordinated',
      enabled: true,
      circuitBreaker: { enabled: true, nodeChurnThreshold: 2, evictionThreshold: 20, oscillationThreshold: 30, cooldownMinutes: 1 },
      conflictPrevention: { cooldownPeriodMinutes: 1, maxConflictsPerHour: 100 },
    });
    await eventually('the object Active', async () => ((await coordinationStatus(sb, ns, 'web')).phase === 'Active' ? true : undefined), 120_000);

    for (let i = 0; i < 3; i++) {
      const n = uniqueName('coord-node');
      nodes.push(n);
      await createNode(sb, n);
    }
    const tripped = await eventually(
      'the breaker tripped',
      async () => {
        const s = await coordinationStatus(sb, ns, 'web');
        return s.phase === 'CircuitBreaker' ? s : undefined;
      },
      120_000,
    );
    expect(tripped.circuitBreakerTriggered).to.equal(true);
    expect(tripped.circuitBreakerReason).to.equal('NodeChurn');
    expect(tripped.circuitBreakerMessage).to.match(/node changes in 5 min exceed nodeChurnThreshold 2/);
    expect(tripped.cooldownUntil).to.be.a('string');
    expect(tripped.napEvents?.length ?? 0).to.be.greaterThanOrEqual(3);

    const paused = await eventually('the VPA paused', async () => {
      const v = await vpaOf(sb, ns, 'web');
      return v.mode === 'Off' ? v : undefined;
    });
    expect(paused.annotations[PAUSED_UPDATE_MODE_ANNOTATION]).to.equal('Recreate');

    const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=web,reason=CircuitBreakerTriggered' });
    expect(events.items.map((e) => e.message).join('\n')).to.match(/NodeChurn: \d+ node changes in 5 min exceed nodeChurnThreshold 2/);
    const metrics = await orch!.deps.registry.metrics();
    expect(metrics).to.match(new RegExp(`vpa_nap_circuit_breaker_triggered_total\\{namespace="${ns}",reason="NodeChurn"\\} 1`));
    expect(metrics).to.match(new RegExp(`vpa_nap_circuit_breaker_active\\{namespace="${ns}",vpa_name="web"\\} 1`));

    const view = await sb.temporal.workflow.getHandle(coordinationWorkflowId(ns, 'web')).query(stateQuery);
    expect(view.breaker.state).to.equal('Open');
    expect(view.breaker.reason).to.equal('NodeChurn');
    expect(view.vpa?.paused).to.equal(true);

    // the cooldown (1 min) ends on a durable timer: half open, the mode restored
    const resumed = await eventually(
      'the cooldown to end',
      async () => {
        const s = await coordinationStatus(sb, ns, 'web');
        return s.phase === 'Cooldown' || s.phase === 'Active' ? s : undefined;
      },
      180_000,
    );
    expect(resumed.circuitBreakerTriggered).to.equal(false);
    const v = await eventually('the VPA mode restored', async () => {
      const x = await vpaOf(sb, ns, 'web');
      return x.mode === 'Recreate' ? x : undefined;
    });
    expect(v.annotations[PAUSED_UPDATE_MODE_ANNOTATION]).to.equal(undefined);
  });

  it('an operator trips and resets it with the temporal CLI; the query and the status agree', async () => {
    const cli = sb.endpoints.temporal.cli;
    const common = [
      '--address',
      sb.endpoints.temporal.address,
      '--namespace',
      sb.endpoints.temporal.namespace,
      '--workflow-id',
      coordinationWorkflowId(ns, 'web'),
    ];
    await run(cli, ['workflow', 'signal', ...common, '--name', 'trip', '--input', JSON.stringify({ reason: 'maintenance window', by: 'ops' })]);
    const s = await eventually('the manual trip', async () => {
      const st = await coordinationStatus(sb, ns, 'web');
      return st.phase === 'CircuitBreaker' && st.circuitBreakerReason === 'Manual' ? st : undefined;
    });
    expect(s.circuitBreakerMessage).to.match(/maintenance window \(by ops\)/);
    const q = await run(cli, ['workflow', 'query', ...common, '--name', 'state', '--output', 'json']);
    const parsed = JSON.parse(q.stdout) as { queryResult?: [{ breaker: { state: string; reason: string } }] };
    expect(parsed.queryResult?.[0]?.breaker).to.include({ state: 'Open', reason: 'Manual' });
    expect((await vpaOf(sb, ns, 'web')).mode).to.equal('Off');

    await run(cli, ['workflow', 'signal', ...common, '--name', 'reset', '--input', JSON.stringify({ reason: 'done' })]);
    await eventually('the reset', async () => ((await coordinationStatus(sb, ns, 'web')).phase === 'Active' ? true : undefined));
    await eventually('the VPA mode restored', async () => ((await vpaOf(sb, ns, 'web')).mode === 'Recreate' ? true : undefined));
    const q2 = await run(cli, ['workflow', 'query', ...common, '--name', 'state', '--output', 'json']);
    expect((JSON.parse(q2.stdout) as { queryResult?: [{ breaker: { state: string } }] }).queryResult?.[0]?.breaker.state).to.equal('Closed');
    // RECORD_REPLAY_HISTORIES=1: the object's and the hub's histories for test/replay/coordination
    const dir = path.resolve(__dirname, '../../replay/coordination/histories');
    recordHistory(sb, coordinationWorkflowId(ns, 'web'), dir, 'coordination-churn-trip-cooldown-operator');
    recordHistory(sb, coordinationHubWorkflowId(ns), dir, 'hub-churn-forwarding');
  });

  it("the VPA's hourly update limit (10 per namespace): its 10th eviction in the hour pauses it, with an Event and the condition", async () => {
    // the updater's Events, as it records them on the pods it evicts (the watcher routes them by the VPA's target)
    const t0 = new Date();
    for (let i = 0; i < 10; i++)
      await sb.core.createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { name: `web-${i}.evicted`, namespace: ns },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: `web-7d9f-${i}` },
          reason: 'EvictedByVPA',
          message: 'Pod was evicted by VPA Updater to apply resource recommendation.',
          type: 'Normal',
          source: { component: 'vpa-updater' },
          firstTimestamp: t0,
          lastTimestamp: t0,
          count: 1,
        },
      });
    const v = await eventually('the VPA paused for the limit', async () => {
      const x = await vpaOf(sb, ns, 'web');
      return x.mode === 'Off' ? x : undefined;
    });
    expect(v.annotations[PAUSED_UPDATE_MODE_ANNOTATION]).to.equal('Recreate');
    const s = await eventually('the RateLimited condition', async () => {
      const st = await coordinationStatus(sb, ns, 'web');
      return st.conditions?.find((c) => c.type === 'UpdatesAllowed' && c.reason === 'RateLimited') ? st : undefined;
    });
    expect(s.phase, `the breaker did not trip: 10 evictions are within evictionThreshold 20 (${JSON.stringify({ ...s, napEvents: undefined })})`).to.equal(
      'Active',
    );
    const evs = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=UpdatesRateLimited' });
    expect(evs.items[0]?.message).to.match(/^10 VPA updates in the last hour reach the limit 10: the VPA is paused until /);
  });

  it('the REST API shows the same state as the workflow, trips and resets it for an authorised caller, and refuses others', async () => {
    const api = orch!.coordinationApiUrl;
    expect(api).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const token = sb.kc.getCurrentUser()?.token;
    expect(token, 'the sandbox admin token').to.be.a('string');
    const url = `${api}/api/v1/coordination/${ns}/web`;
    const auth = { Authorization: `Bearer ${token}` };
    expect((await fetch(url)).status, 'no token').to.equal(401);
    expect((await fetch(url, { headers: { Authorization: 'Bearer not-a-token' } })).status, 'a bad token').to.equal(401);
    // a ServiceAccount without rights
    await sb.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody' } } });
    const tr = await sb.core.createNamespacedServiceAccountToken({ namespace: ns, name: 'nobody', body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const nobody = { Authorization: `Bearer ${tr.status?.token ?? ''}` };
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${url}/circuit-breaker`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(nobody, { action: 'trigger', reason: 'x' })).status, 'no right to patch').to.equal(403);
    const bad = await post(auth, { action: 'explode', reason: 'x' });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: string }).error).to.match(/action/);

    const tripped = await post(auth, { action: 'trigger', reason: 'rest trip' });
    expect(tripped.status).to.equal(200);
    const view = (await tripped.json()) as { breaker: { state: string; reason: string }; status: { phase: string } };
    expect(view.breaker).to.include({ state: 'Open', reason: 'Manual' });
    // the same state through the workflow's query (what `temporal workflow query` shows) and the GET
    const q = await sb.temporal.workflow.getHandle(coordinationWorkflowId(ns, 'web')).query(stateQuery);
    expect(q.breaker.state).to.equal('Open');
    const got = (await (await fetch(url, { headers: auth })).json()) as { breaker: { state: string; message: string } };
    expect(got.breaker.state).to.equal('Open');
    expect(got.breaker.message).to.match(/rest trip/);
    await eventually('the VPA paused', async () => ((await vpaOf(sb, ns, 'web')).mode === 'Off' ? true : undefined));

    const reset = await post(auth, { action: 'reset', reason: 'rest reset' });
    expect(reset.status).to.equal(200);
    expect(((await reset.json()) as { breaker: { state: string } }).breaker.state).to.equal('Closed');
    expect((await sb.temporal.workflow.getHandle(coordinationWorkflowId(ns, 'web')).query(stateQuery)).breaker.state).to.equal('Closed');
    expect((await fetch(`${api}/api/v1/coordination/${ns}/no-such-object`, { headers: auth })).status).to.equal(404);
    expect(await (await fetch(`${api}/healthz`)).text()).to.equal('healthy');
    expect(await (await fetch(`${api}/ready`)).text()).to.equal('ready');
    expect(await (await fetch(`${api}/metrics`)).text()).to.match(/vpa_nap_coordination_duration_seconds_count\{operation="api_circuit_breaker"\} [1-9]/);
    const conflicts = await fetch(`${api}/api/v1/conflicts`, { headers: auth });
    expect(conflicts.status).to.equal(200);
    expect(((await conflicts.json()) as { items: unknown[] }).items).to.be.an('array');
  });
});
