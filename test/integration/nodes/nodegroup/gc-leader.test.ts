import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { clusterNote } from '../../../../decision/nodes/garbage-collection/garbage';
import { startLeaderElection, type LeaderElector } from '../../../../lib/kube/lease-lock';
import { gcScheduleId } from '../../../../starters/nodes/schedules';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createGroup,
  deleteGroup,
  eventually,
  groupVNs,
  liveMachinesOfNamespace,
  simMachines,
  startTestOrchestrator,
  grantLeaderLease,
} from '../../../support/orchestrator';

describe('Garbage collection schedule and leader election on the sandbox', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  const running: Orchestrator[] = [];
  const electors: LeaderElector[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
    await Promise.all(running.splice(0).map((o) => o.stop()));
  });

  it('the GC schedule deletes a leaked VPS of ours (request id of no VPSieNode) and never a foreign one', async () => {
    const ns = await sb.namespace('gc');
    const tq = sb.taskQueue('gc');
    const orch = await startTestOrchestrator(sb, ns, tq, { gc: { enabled: true, graceSeconds: 0, intervalSeconds: 2, deleteOnStop: true }, watchers: false });
    running.push(orch);
    const vpsie = orch.deps.vpsie;
    // A machine created as the lifecycle creates one (stamped with this cluster's default identity,
    // the kube-system namespace uid), but whose VPSieNode never existed.
    const clusterId = (await sb.core.readNamespace({ name: 'kube-system' })).metadata!.uid!;
    const leak = await vpsie.ensureVm({
      requestId: randomUUID(),
      hostname: uniqueName('leak'),
      plan: 'small-2cpu-4gb',
      datacenter: 'us-east-1',
      osImage: 'ubuntu-22.04-lts',
      tags: ['vpsie-autoscaler', 'ghost'],
      notes: `vpsienode=${ns}/ghost ${clusterNote(clusterId)}`,
    });
    // Someone else's machine: no request-id note.
    const [dc, plan, os] = await Promise.all([
      vpsie.resolveDatacenter('us-east-1'),
      vpsie.resolvePlan('small-2cpu-4gb', 'us-east-1'),
      vpsie.resolveOsImage('ubuntu-22.04-lts'),
    ]);
    const foreignName = uniqueName('foreign');
    await vpsie.createVm({
      resourceIdentifier: plan.identifier,
      osIdentifier: os.identifier,
      dcIdentifier: dc.identifier,
      hostname: foreignName,
      notes: `customer database of ${ns}`,
    });
    const schedule = sb.temporal.schedule.getHandle(gcScheduleId(tq));
    const gone = await eventually(
      'leaked VPS deleted',
      120_000,
      async () => {
        const ms = await simMachines(sb);
        const m = ms.find((x) => x.hostname === leak.hostname);
        return m === undefined || m.phase === 'deleted' ? true : undefined;
      },
      500,
    );
    expect(gone).to.equal(true);
    // Two more runs complete after that, and the foreign machine is still there.
    const after = (await schedule.describe()).info.recentActions.length;
    await eventually(
      'two more GC runs',
      60_000,
      async () => ((await schedule.describe()).info.recentActions.length >= Math.min(after + 2, 10) ? true : undefined),
      500,
    );
    const foreign = (await simMachines(sb)).find((m) => m.hostname === foreignName);
    expect(foreign?.phase).to.not.equal('deleted');
    const metrics = await (await fetch(`${orch.metricsUrl}/metrics`)).text();
    expect(metrics).to.match(/vpsie_autoscaler_garbage_collected_total\{kind="vps"\} [1-9]/);
    const fvm = await vpsie.findVm({ hostname: foreignName });
    if (fvm) await vpsie.deleteVm(fvm.identifier);
  });

  it('leader election: exactly one of two replicas leads; a stopped leader releases the Lease and the other takes over; an unexpired foreign Lease is respected until it expires', async () => {
    const ns = await sb.namespace('le');
    const coord = sb.kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = uniqueName('lease');
    const led: string[] = [];
    const mk = (identity: string, name = lease) => {
      const e = startLeaderElection({
        kc: sb.kc,
        namespace: ns,
        name,
        identity,
        leaseDurationSeconds: 3,
        renewDeadlineSeconds: 2,
        retryPeriodSeconds: 0.5,
        onStartedLeading: () => void led.push(`+${identity}`),
        onStoppedLeading: () => void led.push(`-${identity}`),
      });
      electors.push(e);
      return e;
    };
    const a = mk('replica-a');
    const b = mk('replica-b');
    await eventually('one leader', 20_000, async () => (a.isLeader() !== b.isLeader() ? true : undefined));
    const [leader, follower, followerId] = a.isLeader() ? [a, b, 'replica-b'] : [b, a, 'replica-a'];
    // Stays one leader over several renew periods.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect([a.isLeader(), b.isLeader()].filter(Boolean)).to.have.length(1);
    }
    await leader.stop();
    await eventually('follower leads', 20_000, async () => (follower.isLeader() ? true : undefined));
    const l = await coord.readNamespacedLease({ name: lease, namespace: ns });
    expect(l.spec?.holderIdentity).to.equal(followerId);
    expect(l.spec?.leaseTransitions).to.be.at.least(1);

    // A Lease held by a crashed replica (never released): taken only after it stops changing for leaseDuration.
    const held = uniqueName('held');
    await coord.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: held, namespace: ns },
        spec: { holderIdentity: 'crashed', leaseDurationSeconds: 3, renewTime: new k8s.V1MicroTime(), acquireTime: new k8s.V1MicroTime(), leaseTransitions: 0 },
      },
    });
    const c = mk('replica-c', held);
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.isLeader()).to.equal(false);
    await eventually('c takes the expired lease', 20_000, async () => (c.isLeader() ? true : undefined));
    const h = await coord.readNamespacedLease({ name: held, namespace: ns });
    expect(h.spec).to.include({ holderIdentity: 'replica-c', leaseTransitions: 1 });
  });

  it('with leader election on, only the leader replica watches; when it stops, the other replica takes over the watching', async () => {
    const ns = await sb.namespace('le-orch');
    const tq = sb.taskQueue('le-orch');
    const lease = uniqueName('orch');
    const opts = (identity: string) => ({
      identity,
      env: { LEADER_ELECTION: 'true' },
      leaderElection: { leaseName: lease, leaseNamespace: ns, leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5 },
    });
    await grantLeaderLease(sb, ns, lease);
    const one = await startTestOrchestrator(sb, ns, tq, opts('orch-1'));
    running.push(one);
    const two = await startTestOrchestrator(sb, ns, tq, opts('orch-2'));
    running.push(two);
    // LEADER_ELECTION is forced off by testConfig unless overridden here:
    expect(one.deps.config.LEADER_ELECTION || two.deps.config.LEADER_ELECTION).to.equal(true);
    await eventually('one leader', 20_000, async () => (one.isLeader() !== two.isLeader() ? true : undefined));
    const [leader, other] = one.isLeader() ? [one, two] : [two, one];
    const g1 = uniqueName('ng');
    await createGroup(sb, ns, g1, { minNodes: 1, maxNodes: 2 });
    await eventually('g1 has a Ready node', 120_000, async () => ((await groupVNs(sb, ns, g1)).some((v) => v.phase === 'Ready') ? true : undefined));
    await leader.stop();
    await eventually('the other replica leads', 20_000, async () => (other.isLeader() ? true : undefined));
    const g2 = uniqueName('ng');
    await createGroup(sb, ns, g2, { minNodes: 1, maxNodes: 2 });
    await eventually('g2 has a Ready node (watched by the new leader)', 120_000, async () =>
      (await groupVNs(sb, ns, g2)).some((v) => v.phase === 'Ready') ? true : undefined,
    );
    await Promise.all([deleteGroup(sb, ns, g1), deleteGroup(sb, ns, g2)]);
    await eventually(
      'machines gone',
      120_000,
      async () =>
        (await liveMachinesOfNamespace(sb, ns)).length === 0 && (await groupVNs(sb, ns, g1)).length + (await groupVNs(sb, ns, g2)).length === 0
          ? true
          : undefined,
      500,
    );
  });
});
