/**
 * Issue #12 (sandbox): a VPSieNode whose drain a PodDisruptionBudget refused is never deleted with
 * its pods on it when the failed-node TTL passes. After the TTL the drain is tried again; while the
 * PDB still refuses, the node, its machine and the pod stay. Only the explicit opt-in
 * autoscaler.vpsie.com/delete-after-failed-drain: "true" (here on the NodeGroup) lets the next TTL
 * delete it with the pod. Before the fix the first TTL deleted it, pod and all.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_DELETE_AFTER_FAILED_DRAIN } from '../../../../decision/nodes/drain/annotations';
import { GROUP, NODEGROUP_PLURAL, VERSION } from '../../../../lib/crds/autoscaler';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  BOOTSTRAP_TOKEN,
  createBootstrapSecret,
  createNodeGroup,
  createVPSieNode,
  customApi,
  deleteVN,
  eventually,
  lifecycleActivities,
  machinesOf,
  makeDeps,
  maybeRecordHistory,
  readVN,
  startLifecycle,
  startLifecycleWorker,
} from './helpers';

describe('VPSieNode lifecycle: a failed drain and the TTL (sandbox, issue #12)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });

  it('a node a PDB kept from draining is not deleted with its pod after the TTL; the opt-in annotation on the NodeGroup lets the next TTL delete it', async () => {
    const ns = await sb.namespace('lc-ttl');
    const tq = sb.taskQueue('lc-ttl');
    const group = uniqueName('ng');
    await createBootstrapSecret(sb, ns, 'bootstrap', JSON.stringify({ bootstrapToken: BOOTSTRAP_TOKEN }));
    await createNodeGroup(sb, ns, group);
    const vn = await createVPSieNode(sb, ns, `${group}-a`, group, { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } });
    const uid = vn.metadata.uid as string;
    const deps = makeDeps(sb.endpoints, sb.temporal);
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    try {
      const ttl = 4;
      const input = {
        namespace: ns,
        name: vn.metadata.name,
        nodeGroup: group,
        settings: { pollIntervalSeconds: 1, drainTimeoutSeconds: 3, failedNodeTtlSeconds: ttl },
      };
      const handle = await startLifecycle(sb.temporal, tq, input);
      const ready = await eventually('VPSieNode Ready', 90_000, async () => {
        const cur = await readVN(sb, ns, vn.metadata.name);
        return cur?.status?.phase === 'Ready' ? cur : undefined;
      });
      const nodeName = ready.status?.nodeName as string;
      await sb.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'guarded', namespace: ns, labels: { app: 'guarded' }, annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } },
          spec: { nodeName, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }] },
        },
      });
      await eventually('pod running', 30_000, async () =>
        (await sb.core.readNamespacedPod({ name: 'guarded', namespace: ns })).status?.phase === 'Running' ? true : undefined,
      );
      const policy = sb.kc.makeApiClient(k8s.PolicyV1Api);
      await policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: { metadata: { name: 'guard' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } } },
      });
      await eventually('PDB observed', 30_000, async () => {
        const p = await policy.readNamespacedPodDisruptionBudget({ name: 'guard', namespace: ns });
        return p.status?.observedGeneration !== undefined && p.status.currentHealthy === 1 ? true : undefined;
      });

      await deleteVN(sb, ns, vn.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      await eventually('Failed with DrainFailed', 60_000, async () => {
        const cur = await readVN(sb, ns, vn.metadata.name);
        return cur?.status?.phase === 'Failed' && cur.status.lastError?.reason === 'DrainFailed' ? true : undefined;
      });
      // Past the TTL: the drain was tried again (refused again), nothing was deleted.
      await eventually(
        'a drain retried after the TTL',
        60_000,
        async () => {
          const evs = (await sb.core.listNamespacedEvent({ namespace: ns })).items;
          return evs.some((e) => e.involvedObject.name === vn.metadata.name && /not deleted: the drain failed again/.test(e.message ?? '')) ? true : undefined;
        },
        500,
      );
      await new Promise((r) => setTimeout(r, (ttl + 2) * 1000));
      expect((await readVN(sb, ns, vn.metadata.name))?.status?.phase, 'VPSieNode kept').to.equal('Failed');
      expect((await sb.core.readNamespacedPod({ name: 'guarded', namespace: ns })).metadata?.deletionTimestamp, 'pod kept').to.equal(undefined);
      expect(
        (await machinesOf(sb, uid)).map((m) => m.phase),
        'machine kept',
      ).to.deep.equal(['running']);
      // Each retried drain cordons, is refused, and uncordons again.
      await eventually('node uncordoned after the retried drain', 30_000, async () =>
        ((await sb.core.readNode({ name: nodeName })).spec?.unschedulable ?? false) === false ? true : undefined,
      );

      // The explicit opt-in on the NodeGroup: the next TTL deletes the node with its pod.
      await customApi(sb).patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: NODEGROUP_PLURAL,
          name: group,
          body: { metadata: { annotations: { [ANNOTATION_DELETE_AFTER_FAILED_DRAIN]: 'true' } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const result = await handle.result();
      expect(result.outcome).to.equal('CleanedUpAfterTtl');
      expect(await readVN(sb, ns, vn.metadata.name)).to.equal(undefined);
      expect((await machinesOf(sb, uid)).map((m) => m.phase)).to.deep.equal(['deleted']);
      maybeRecordHistory(sb, handle, 'userdata-drain-failed-ttl-opt-in-deleted');
    } finally {
      await w.stop();
    }
  });
});
