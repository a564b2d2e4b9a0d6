/**
 * Issue #7, drain integration on the sandbox:
 * - A PodDisruptionBudget with maxUnavailable 0 blocks the drain of a removal: the drain retries the
 *   429 until its deadline, then the node is uncordoned, nothing is evicted, and the VPSieNode is
 *   not deleted (the NodeGroup is only asked after every drain succeeded).
 *   Both refused pods are retried in one heartbeating eviction activity with backoff (issue #12).
 * - Through the loop: a drain that cannot finish (a pod stuck terminating) fails, the node is
 *   uncordoned, the VPSieNode kept, and the group's failed-drain cooldown holds further removals.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { scaleDownRemovalWorkflow } from '../../../../workflows/nodes/scale-down/loop';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createIsolatedGroup,
  maybeRecordHistory,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  nodeUnschedulable,
  podsOf,
  scalingCondition,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from './helpers';

describe('scale-down: drain integration (sandbox)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  const running: { o: Orchestrator; ns: string }[] = [];

  before(async () => {
    sb = await sharedSandbox();
  });
  after(async () => {
    for (const r of running) await stopScaleDown(sb, r.o, r.ns);
  });

  it('a PDB with maxUnavailable 0 blocks the drain: node uncordoned, nothing evicted, VPSieNode kept', async () => {
    const ns = await sb.namespace('sd-pdb');
    // The loop is off: the removal is started by hand, as the loop would after an approval.
    const o = await startScaleDownOrchestrator(sb, ns, { SCALE_DOWN_ENABLED: 'false' });
    running.push({ o, ns });
    const group = uniqueName('pdb');
    await createIsolatedGroup(sb, ns, group, { minNodes: 2, maxNodes: 3 });
    const [a] = (await waitGroupSize(sb, ns, group, 2)) as [string, string];
    await createReplicaSet(sb, ns, 'guarded', group, { nodeName: a, labels: { guard: 'yes' }, replicas: 2 });
    await sb.kc.makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'guard' }, spec: { maxUnavailable: 0, selector: { matchLabels: { guard: 'yes' } } } },
    });
    const pods = await waitPodsRunning(sb, ns, 2);
    await patchGroupSpec(sb, ns, group, { minNodes: 1 });
    const vn = (await groupVNs(sb, ns, group)).find((v) => v.nodeName === a);
    expect(vn).to.not.equal(undefined);

    const started = Date.now();
    const result = await sb.temporal.workflow.execute(scaleDownRemovalWorkflow, {
      workflowId: `test-removal-${ns}`,
      taskQueue: o.deps.config.TASK_QUEUE,
      args: [
        {
          namespace: ns,
          nodeGroup: group,
          kind: 'delete',
          nodes: [{ node: a, vpsieNode: vn?.name as string }],
          requestId: `test-removal-${ns}`,
          reason: 'Underutilized',
          message: 'test',
          drainTimeoutSeconds: 5,
          maxGracePeriodSeconds: 0,
          replacementTimeoutSeconds: 60,
        },
      ],
    });
    maybeRecordHistory(sb, `test-removal-${ns}`, 'scaledown-removal-pdb-drain-failed');
    expect(result.outcome).to.equal('DrainFailed');
    expect(result.reason).to.equal('DrainFailed');
    expect(result.removing).to.deep.equal([]);
    const drain = result.drains[0];
    expect(drain?.outcome).to.equal('Timeout');
    expect(drain?.evicted).to.equal(0);
    expect(drain?.uncordoned).to.equal(true);
    expect(drain?.blockedByPdb.map((p) => p.name).sort()).to.deep.equal(pods.map((p) => p.name).sort());
    expect((Date.now() - started) / 1000, 'gave up at the 5 s deadline, not before').to.be.greaterThanOrEqual(5);
    // Issue #12: both PDB-refused pods were retried in ONE heartbeating activity with backoff, not one activity per pod per retry.
    const drainHistory = await sb.temporal.workflow.getHandle(`test-removal-${ns}/drain/${a}`).fetchHistory();
    const scheduled = (drainHistory.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((n) => typeof n === 'string');
    expect(
      scheduled.filter((n) => n === 'evictPods'),
      'one eviction activity',
    ).to.have.length(1);
    expect(
      scheduled.filter((n) => n === 'evictPod'),
      'no per-pod eviction activity',
    ).to.have.length(0);

    expect(await nodeUnschedulable(sb, a), 'uncordoned').to.equal(false);
    const now = (await podsOf(sb, ns)).filter((p) => !p.deleting);
    expect(now.map((p) => p.uid).sort(), 'nothing evicted').to.deep.equal(pods.map((p) => p.uid).sort());
    expect(
      (await groupVNs(sb, ns, group)).filter((v) => v.deleting),
      'no VPSieNode deleted',
    ).to.deep.equal([]);
    const evs = await eventually('DrainFailed Event on the node', 20_000, async () => {
      const e = await nodeEventsOf(sb, a);
      return e.some((x) => x.reason === 'DrainFailed' && x.type === 'Warning') ? e : undefined;
    });
    expect(evs.find((x) => x.reason === 'DrainFailed')?.message).to.match(/PodDisruptionBudget/);
    const metrics = await o.deps.registry.getSingleMetricAsString('vpsie_autoscaler_scale_down_failures_total');
    expect(metrics).to.include(`nodegroup="${ns}/${group}"} 1`);
  });

  it('a drain that cannot finish fails through the loop: uncordoned, VPSieNode kept, failed-drain cooldown holds', async () => {
    const ns = await sb.namespace('sd-stuck');
    const o = await startScaleDownOrchestrator(sb, ns, { SCALE_DOWN_DRAIN_TIMEOUT_SECONDS: '4' });
    running.push({ o, ns });
    const group = uniqueName('stuck');
    await createIsolatedGroup(sb, ns, group, {
      minNodes: 2,
      maxNodes: 3,
      scaleDownPolicy: { enabled: true, stabilizationWindowSeconds: 3, cooldownSeconds: 20, cpuThreshold: 50, memoryThreshold: 50 },
    });
    const [a, b] = (await waitGroupSize(sb, ns, group, 2)) as [string, string];
    // B is busy (never a candidate); A's pod has a finalizer: evicted, it stays Terminating.
    await createReplicaSet(sb, ns, 'busy', group, { nodeName: b, cpu: '1200m' });
    const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedReplicaSet({
      namespace: ns,
      body: {
        metadata: { name: 'stuck' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'stuck' } },
          template: {
            metadata: { labels: { app: 'stuck' }, finalizers: ['scaledown.test/hold'] },
            spec: {
              nodeName: a,
              nodeSelector: { 'scaledown.test/group': group },
              tolerations: [{ key: 'scaledown.test/group', operator: 'Equal', value: group, effect: 'NoSchedule' }],
              terminationGracePeriodSeconds: 0,
              containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
            },
          },
        },
      },
    });
    await waitPodsRunning(sb, ns, 2);
    try {
      await patchGroupSpec(sb, ns, group, { minNodes: 1 });
      const failed = await eventually(
        'the removal of A fails',
        90_000,
        async () => {
          const st = await loopState(sb, ns);
          return st.finished.find((f) => f.nodes.includes(a));
        },
        500,
      );
      expect(failed.outcome).to.equal('DrainFailed');
      expect(failed.message).to.match(/Timeout/);
      expect(await nodeUnschedulable(sb, a), 'uncordoned').to.equal(false);
      expect(
        (await groupVNs(sb, ns, group)).filter((v) => v.deleting),
        'no VPSieNode deleted',
      ).to.deep.equal([]);
      // The cooldown: the next decisions block the group with FailedDrainCooldown, shown in status.
      const cond = await eventually(
        'CooldownActive in the Scaling condition',
        30_000,
        async () => {
          const c = await scalingCondition(sb, ns, group);
          if (process.env.SD_DEBUG) process.stderr.write(`${JSON.stringify(c)} ${JSON.stringify((await loopState(sb, ns)).lastVerdicts)}\n`);
          return c?.reason === 'CooldownActive' && c.message.includes('FailedDrainCooldown') ? c : undefined;
        },
        500,
      );
      expect(cond.status).to.equal('False');
      const n0 = (await loopState(sb, ns)).iterations;
      await eventually('five more decisions', 30_000, async () => ((await loopState(sb, ns)).iterations >= n0 + 5 ? true : undefined), 300);
      const st = await loopState(sb, ns);
      expect(st.inFlight, 'no new removal inside the cooldown').to.deep.equal([]);
      expect(st.finished.filter((f) => f.nodeGroup === group)).to.have.length(1);
      expect(st.lastVerdicts.find((v) => v.node === a)?.blockers).to.include('FailedDrainCooldown');
    } finally {
      // Let the stuck pod go.
      for (const p of (await sb.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=stuck' })).items) {
        await sb.core
          .patchNamespacedPod(
            { name: p.metadata?.name ?? '', namespace: ns, body: { metadata: { finalizers: [] } } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          )
          .catch(() => undefined);
      }
    }
  });
});
