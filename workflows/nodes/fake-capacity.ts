/**
 * Adds capacity for a namespace's pending pods as one kwok-managed Node, then waits until the
 * pods run. Started by the FailedScheduling watcher; it proves the chain end to end.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { FakeCapacityActivities, PodsRunning } from '../../activities/nodes/fake-capacity';
import { FAKE_CAPACITY } from '../../lib/temporal/retry-profiles';

const acts = proxyActivities<FakeCapacityActivities>({
  startToCloseTimeout: '30s',
  retry: FAKE_CAPACITY,
});
const waiter = proxyActivities<FakeCapacityActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '20s',
});

export interface FakeCapacityInput {
  namespace: string;
  /** The pod whose FailedScheduling event started this run. */
  triggeredBy: string;
  message: string;
}

export interface FakeCapacityResult extends PodsRunning {
  triggeredBy: string;
  cpuMilli: number;
  memoryBytes: number;
}

/** Nodes get a little headroom over the summed requests, as a real node's reserve would. */
const HEADROOM = 1.25;

export async function fakeCapacityWorkflow(input: FakeCapacityInput): Promise<FakeCapacityResult> {
  const demand = await acts.pendingPodDemand(input.namespace);
  const cpuMilli = Math.max(1000, Math.ceil(demand.cpuMilli * HEADROOM));
  const memoryBytes = Math.max(1 << 30, Math.ceil(demand.memoryBytes * HEADROOM));
  await acts.createFakeNode({
    name: `fake-${input.namespace}`,
    cpuMilli,
    memoryBytes,
    pods: Math.max(110, demand.pods.length),
    labels: { 'vpsie.test/namespace': input.namespace },
  });
  const running = await waiter.waitPodsRunning(input.namespace, demand.pods.length);
  return { ...running, triggeredBy: input.triggeredBy, cpuMilli, memoryBytes };
}
