/**
 * Issue #12, a node is never left cordoned (sandbox): a removal cancelled while its drain waits on
 * a PodDisruptionBudget ends with the node schedulable again and the orchestrator's cordon mark
 * removed — the drain child and the removal both compensate on cancellation. Before the fix the
 * cancelled drain and removal left the node cordoned for good.
 * The loop's decisions of this run also go through the new path (decided in the activity).
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { WorkflowFailedError } from '@temporalio/client';
import { ANNOTATION_CORDONED_BY } from '../../../../decision/nodes/drain/annotations';
import { scaleDownRemovalWorkflow } from '../../../../workflows/nodes/scale-down/loop';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  maybeRecordHistory,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from './helpers';

describe('scale-down: a node is never left cordoned (sandbox)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  const running: { o: Orchestrator; ns: string }[] = [];

  before(async () => {
    sb = await sharedSandbox();
  });
  after(async () => {
    for (const r of running) await stopScaleDown(sb, r.o, r.ns);
  });

  it('a removal cancelled mid-drain uncordons its node and removes the cordon mark; nothing is evicted or deleted', async () => {
    const ns = await sb.namespace('sd-cancel');
    const o = await startScaleDownOrchestrator(sb, ns, { SCALE_DOWN_ENABLED: 'false' });
    running.push({ o, ns });
    const group = uniqueName('cancel');
    await createIsolatedGroup(sb, ns, group, { minNodes: 2, maxNodes: 3 });
    const [a] = (await waitGroupSize(sb, ns, group, 2)) as [string, string];
    await createReplicaSet(sb, ns, 'guarded', group, { nodeName: a, labels: { guard: 'yes' }, replicas: 1 });
    await sb.kc.makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'guard' }, spec: { maxUnavailable: 0, selector: { matchLabels: { guard: 'yes' } } } },
    });
    const pods = await waitPodsRunning(sb, ns, 1);
    await patchGroupSpec(sb, ns, group, { minNodes: 1 });
    const vn = (await groupVNs(sb, ns, group)).find((v) => v.nodeName === a);
    expect(vn).to.not.equal(undefined);

    const id = `test-removal-cancel-${ns}`;
    const handle = await sb.temporal.workflow.start(scaleDownRemovalWorkflow, {
      workflowId: id,
      taskQueue: o.deps.config.TASK_QUEUE,
      args: [
        {
          namespace: ns,
          nodeGroup: group,
          kind: 'delete',
          nodes: [{ node: a, vpsieNode: vn?.name as string }],
          requestId: id,
          reason: 'Underutilized',
          message: 'test',
          drainTimeoutSeconds: 600,
          replacementTimeoutSeconds: 60,
        },
      ],
    });
    // The drain is under way: the node cordoned with the orchestrator's mark, the PDB refusing.
    const marked = await eventually(
      'node cordoned with the mark',
      60_000,
      async () => {
        const n = await sb.core.readNode({ name: a });
        return n.spec?.unschedulable === true && n.metadata?.annotations?.[ANNOTATION_CORDONED_BY] !== undefined ? n : undefined;
      },
      300,
    );
    expect(marked.metadata?.annotations?.[ANNOTATION_CORDONED_BY]).to.match(new RegExp(`^${id}`));
    // Let the eviction activity start (and be refused) before cancelling.
    await eventually(
      'eviction refused by the PDB',
      30_000,
      async () => {
        const d = await sb.temporal.workflow.getHandle(`${id}/drain/${a}`).describe();
        return d.raw.pendingActivities?.some((p) => p.activityType?.name === 'evictPods') ? true : undefined;
      },
      300,
    );
    await handle.cancel();
    let error: unknown;
    try {
      await handle.result();
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(WorkflowFailedError);
    maybeRecordHistory(sb, id, 'scaledown-removal-cancelled-uncordons');
    maybeRecordHistory(sb, `${id}/drain/${a}`, 'drain-v2-cancelled-uncordons');

    const after = await sb.core.readNode({ name: a });
    expect(after.spec?.unschedulable ?? false, 'uncordoned').to.equal(false);
    expect(after.metadata?.annotations?.[ANNOTATION_CORDONED_BY], 'cordon mark removed').to.equal(undefined);
    const now = (await sb.core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp);
    expect(now.map((p) => p.metadata?.uid).sort(), 'nothing evicted').to.deep.equal(pods.map((p) => p.uid).sort());
    expect(
      (await groupVNs(sb, ns, group)).filter((v) => v.deleting),
      'no VPSieNode deleted',
    ).to.deep.equal([]);
  });
});
