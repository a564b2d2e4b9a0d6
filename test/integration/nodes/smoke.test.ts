import * as k8s from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { expect } from 'chai';
import { createFakeCapacityActivities } from '../../../activities/nodes/fake-capacity';
import { watchFailedScheduling, type FailedScheduling, type Stop } from '../../../starters/nodes/failed-scheduling';
import { fakeCapacityWorkflow } from '../../../workflows/nodes/fake-capacity';
import { sharedSandbox, type TestSandbox } from '../../support/sandbox';
import { startWorker } from '../../support/worker';

describe('smoke: the whole chain, real parts only', function () {
  this.timeout(180_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000); // the first integration test may start the sandbox
    sb = await sharedSandbox();
  });

  it('unschedulable pods → FailedScheduling → watcher starts a workflow → activity adds a Node → pods Running', async () => {
    const ns = await sb.namespace('smoke');
    const taskQueue = sb.taskQueue('smoke');
    const nodeName = `fake-${ns}`;
    const worker = await startWorker(sb, taskQueue, createFakeCapacityActivities(sb.kc));
    const seen: FailedScheduling[] = [];
    let resolveHandle!: (h: WorkflowHandle<typeof fakeCapacityWorkflow>) => void;
    const handleP = new Promise<WorkflowHandle<typeof fakeCapacityWorkflow>>((r) => (resolveHandle = r));
    let stopWatch: Stop | undefined;
    try {
      stopWatch = await watchFailedScheduling(sb.kc, async (e) => {
        if (e.namespace !== ns) return;
        seen.push(e);
        const handle = await sb.temporal.workflow.start(fakeCapacityWorkflow, {
          taskQueue,
          workflowId: `fake-capacity-${ns}`,
          workflowIdConflictPolicy: 'USE_EXISTING',
          args: [{ namespace: ns, triggeredBy: e.podName, message: e.message }],
        });
        resolveHandle(handle);
      });

      const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
      const labels = { app: 'smoke' };
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'smoke' },
          spec: {
            replicas: 3,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                // Only the node this test's workflow creates can take these pods.
                nodeSelector: { 'vpsie.test/namespace': ns },
                containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu: '500m', memory: '256Mi' } } }],
              },
            },
          },
        },
      });

      const handle = await handleP;
      const result = await handle.result();

      expect(seen[0]?.message).to.match(/node|available|match/i);
      expect(result.pods).to.have.length(3);
      expect(result.nodeName).to.equal(nodeName);
      expect(result.cpuMilli).to.be.at.least(1500);
      const pods = await sb.core.listNamespacedPod({ namespace: ns });
      expect(pods.items).to.have.length(3);
      for (const p of pods.items) {
        expect(p.status?.phase).to.equal('Running');
        expect(p.spec?.nodeName).to.equal(nodeName);
      }
      const node = await sb.core.readNode({ name: nodeName });
      expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).to.equal('fake');
      expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      const history = await handle.fetchHistory();
      const scheduled = (history.events ?? []).map((ev) => ev.activityTaskScheduledEventAttributes?.activityType?.name).filter((n): n is string => !!n);
      expect(scheduled).to.deep.equal(['pendingPodDemand', 'createFakeNode', 'waitPodsRunning']);
    } finally {
      await stopWatch?.();
      await worker.stop();
      await sb.core.deleteNode({ name: nodeName }).catch(() => undefined);
      await sb.core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
  });
});
