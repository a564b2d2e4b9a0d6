/**
 * Activities that add capacity to a sandbox cluster directly, as kwok-managed Nodes, without a
 * cloud. They exist to prove the chain watcher → workflow → activity → scheduler → kubelet; the
 * product adds machines through the VPSie client instead.
 */
import * as k8s from '@kubernetes/client-node';
import { heartbeat, sleep } from '@temporalio/activity';
import { parseBytes, parseCpuMilli } from '../../decision/scheduling/quantity';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';

export interface PendingDemand {
  pods: string[];
  cpuMilli: number;
  memoryBytes: number;
}

export interface FakeNodeRequest {
  name: string;
  cpuMilli: number;
  memoryBytes: number;
  pods: number;
  labels: Record<string, string>;
}

export interface PodsRunning {
  nodeName: string;
  pods: string[];
}

export function createFakeCapacityActivities(kc: k8s.KubeConfig) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const log = logger('fake-capacity');

  return {
    /** Sums the requests of the namespace's Pending pods that no node has taken. */
    async pendingPodDemand(namespace: string): Promise<PendingDemand> {
      const list = await core.listNamespacedPod({ namespace, fieldSelector: 'status.phase=Pending' });
      const pending = list.items.filter((p) => !p.spec?.nodeName);
      let cpuMilli = 0;
      let memoryBytes = 0;
      for (const pod of pending) {
        for (const c of pod.spec?.containers ?? []) {
          const r = c.resources?.requests ?? {};
          cpuMilli += r.cpu ? parseCpuMilli(r.cpu) : 0;
          memoryBytes += r.memory ? parseBytes(r.memory) : 0;
        }
      }
      return { pods: pending.map((p) => p.metadata?.name ?? '').sort(), cpuMilli, memoryBytes };
    },

    /** Creates a kwok-managed Node; an existing Node of that name counts as done (idempotent). */
    async createFakeNode(req: FakeNodeRequest): Promise<string> {
      const quantities = {
        cpu: `${req.cpuMilli}m`,
        memory: `${Math.ceil(req.memoryBytes / 1024)}Ki`,
        pods: String(req.pods),
        'ephemeral-storage': '100Gi',
      };
      const node: k8s.V1Node = {
        metadata: {
          name: req.name,
          labels: { ...req.labels, 'kubernetes.io/hostname': req.name, 'kubernetes.io/os': 'linux', type: 'kwok' },
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        },
        spec: {},
        status: { capacity: quantities, allocatable: quantities },
      };
      try {
        await core.createNode({ body: node });
        log.info('created fake node', { node: req.name, cpuMilli: req.cpuMilli, memoryBytes: req.memoryBytes });
      } catch (err) {
        if (apiStatus(err) !== 409) throw err;
      }
      return req.name;
    },

    /** Waits (heartbeating) until every pod of the namespace is Running; returns where they run. */
    async waitPodsRunning(namespace: string, expected: number): Promise<PodsRunning> {
      for (;;) {
        const list = await core.listNamespacedPod({ namespace });
        const running = list.items.filter((p) => p.status?.phase === 'Running');
        heartbeat({ running: running.length, expected });
        if (running.length >= expected && running.length === list.items.length) {
          const nodes = [...new Set(running.map((p) => p.spec?.nodeName ?? ''))];
          return { nodeName: nodes.join(','), pods: running.map((p) => p.metadata?.name ?? '').sort() };
        }
        await sleep(250);
      }
    },

    async deleteFakeNode(name: string): Promise<void> {
      try {
        await core.deleteNode({ name });
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
    },
  };
}

export type FakeCapacityActivities = ReturnType<typeof createFakeCapacityActivities>;
