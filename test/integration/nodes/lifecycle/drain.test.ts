import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { drainNodeWorkflow } from '../../../../workflows/nodes/drain';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { eventually, lifecycleActivities, makeDeps, startLifecycleWorker } from './helpers';

/** The drain child workflow on its own, on a kwok Node of the sandbox. */
describe('drainNodeWorkflow on the sandbox (Eviction API, PodDisruptionBudget, DaemonSet pods)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });

  async function kwokNode(name: string): Promise<void> {
    const q = { cpu: '4', memory: '8Gi', pods: '110' };
    await sb.core.createNode({
      body: {
        metadata: {
          name,
          labels: { 'kubernetes.io/hostname': name, type: 'kwok' },
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        },
        spec: {},
        status: { capacity: q, allocatable: q },
      },
    });
  }

  async function pod(ns: string, name: string, node: string, labels: Record<string, string>): Promise<void> {
    await sb.core.createNamespacedPod({
      namespace: ns,
      body: {
        // Bare pods: every drain re-checks the safety rules (issue #12), so they say they may be evicted.
        metadata: { name, namespace: ns, labels, annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } },
        spec: { nodeName: node, terminationGracePeriodSeconds: 2, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }] },
      },
    });
  }

  it('a PDB refusing eviction (429) is retried until the deadline, then the drain gives up: Timeout, Node uncordoned, pod named; without the PDB the drain evicts it and leaves the DaemonSet pod', async () => {
    const ns = await sb.namespace('drain');
    const tq = sb.taskQueue('drain');
    const node = uniqueName('drain-node');
    await kwokNode(node);
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    try {
      await pod(ns, 'guarded', node, { app: 'guarded' });
      // A DaemonSet pinned to this node: its pod must be left alone by the drain.
      await sb.kc.makeApiClient(k8s.AppsV1Api).createNamespacedDaemonSet({
        namespace: ns,
        body: {
          metadata: { name: 'ds' },
          spec: {
            selector: { matchLabels: { app: 'ds' } },
            template: {
              metadata: { labels: { app: 'ds' } },
              spec: {
                nodeSelector: { 'kubernetes.io/hostname': node },
                tolerations: [{ operator: 'Exists' }],
                containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }],
              },
            },
          },
        },
      });
      await eventually('pods running', 30_000, async () => {
        const pods = (await sb.core.listNamespacedPod({ namespace: ns })).items;
        return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running') ? true : undefined;
      });
      const policy = sb.kc.makeApiClient(k8s.PolicyV1Api);
      await policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: { metadata: { name: 'guard' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } } },
      });
      // The disruption controller must have computed the budget before it refuses evictions.
      await eventually('PDB observed', 30_000, async () => {
        const p = await policy.readNamespacedPodDisruptionBudget({ name: 'guard', namespace: ns });
        return p.status?.observedGeneration !== undefined && p.status.currentHealthy === 1 ? true : undefined;
      });

      const blocked = await sb.temporal.workflow.execute(drainNodeWorkflow, {
        workflowId: uniqueName('drain-blocked'),
        taskQueue: tq,
        args: [{ nodeName: node, timeoutSeconds: 4, maxPodGracePeriodSeconds: 10, retryIntervalSeconds: 1 }],
      });
      expect(blocked.outcome).to.equal('Timeout');
      expect(blocked.reason).to.equal('DrainFailed');
      expect(blocked.blockedByPdb.map((p) => p.name)).to.deep.equal(['guarded']);
      expect(blocked.skipped.map((p) => p.reason)).to.deep.equal(['DaemonSetPod']);
      expect(blocked.skipped[0]!.name).to.match(/^ds-/);
      expect(blocked.uncordoned).to.equal(true);
      expect((await sb.core.readNode({ name: node })).spec?.unschedulable ?? false).to.equal(false);
      expect((await sb.core.readNamespacedPod({ name: 'guarded', namespace: ns })).metadata?.deletionTimestamp).to.equal(undefined);

      await policy.deleteNamespacedPodDisruptionBudget({ name: 'guard', namespace: ns });
      const drained = await sb.temporal.workflow.execute(drainNodeWorkflow, {
        workflowId: uniqueName('drain-ok'),
        taskQueue: tq,
        args: [{ nodeName: node, timeoutSeconds: 60, maxPodGracePeriodSeconds: 10, retryIntervalSeconds: 1 }],
      });
      expect(drained).to.include({ outcome: 'Drained', reason: 'DrainComplete', evicted: 1, uncordoned: false });
      expect((await sb.core.readNode({ name: node })).spec?.unschedulable).to.equal(true);
      const left = (await sb.core.listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata?.name ?? '');
      expect(left).to.have.length(1);
      expect(left[0]).to.match(/^ds-/);
      expect(await deps.registry.getSingleMetricAsString('vpsie_autoscaler_node_drain_duration_seconds'))
        .to.match(/vpsie_autoscaler_node_drain_duration_seconds_count\{outcome="Timeout"\} 1/)
        .and.match(/_count\{outcome="Drained"\} 1/);

      const missing = await sb.temporal.workflow.execute(drainNodeWorkflow, {
        workflowId: uniqueName('drain-missing'),
        taskQueue: tq,
        args: [{ nodeName: uniqueName('no-such-node'), timeoutSeconds: 10, maxPodGracePeriodSeconds: 10 }],
      });
      expect(missing.outcome).to.equal('NodeNotFound');
    } finally {
      await w.stop();
      await sb.core.deleteNode({ name: node }).catch(() => undefined);
    }
  });
});
