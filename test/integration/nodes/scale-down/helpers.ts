/**
 * Helpers of the scale-down sandbox tests: an in-process orchestrator with a 1 s scale-down loop,
 * NodeGroups isolated by a label + taint of the test's own (so pods of one test can only move
 * within its group), ReplicaSets pinned to a node, reading the loop's state, Events and conditions.
 */
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { NODEGROUP_LABEL } from '../../../../lib/crds/autoscaler';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { scaleDownStateQuery, scaleDownWorkflowId, type ScaleDownLoopState } from '../../../../workflows/nodes/scale-down/loop';
import { createGroup, eventually, groupNodes, groupVNs, readGroup, startTestOrchestrator } from '../../../support/orchestrator';
import { recordHistory } from '../../../support/histories';
import type { TestSandbox } from '../../../support/sandbox';

export { eventually, groupNodes, groupVNs, readGroup };

export const ISOLATION_KEY = 'scaledown.test/group';

export async function startScaleDownOrchestrator(sb: TestSandbox, ns: string, env: Record<string, string> = {}): Promise<Orchestrator> {
  return startTestOrchestrator(sb, ns, sb.taskQueue('sd'), {
    scaleUpTrigger: false,
    env: { SCALE_DOWN_SAMPLE_SECONDS: '1', SCALE_DOWN_DRAIN_TIMEOUT_SECONDS: '20', SCALE_DOWN_MAX_GRACE_SECONDS: '0', ...env },
  });
}

/** Stops the orchestrator and terminates the scope's scale-down loop (it would outlive the test). */
export async function stopScaleDown(sb: TestSandbox, o: Orchestrator | undefined, ns: string): Promise<void> {
  await o?.stop();
  await sb.temporal.workflow
    .getHandle(scaleDownWorkflowId(ns))
    .terminate('test over')
    .catch(() => undefined);
}

/** A group whose nodes carry `scaledown.test/group=<name>` as label and NoSchedule taint. */
export async function createIsolatedGroup(
  sb: TestSandbox,
  ns: string,
  name: string,
  spec: Record<string, unknown> & { minNodes: number; maxNodes: number },
): Promise<void> {
  await createGroup(sb, ns, name, {
    offeringIDs: ['small-2cpu-4gb'],
    labels: { [ISOLATION_KEY]: name },
    taints: [{ key: ISOLATION_KEY, value: name, effect: 'NoSchedule' }],
    scaleUpPolicy: { enabled: true, cooldownSeconds: 0 },
    scaleDownPolicy: { enabled: true, stabilizationWindowSeconds: 4, cooldownSeconds: 3, cpuThreshold: 50, memoryThreshold: 50 },
    ...spec,
  });
}

export async function readyGroupNodes(sb: TestSandbox, group: string): Promise<string[]> {
  return (await groupNodes(sb, group))
    .filter((n) => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((n) => n.metadata?.name ?? '')
    .sort();
}

/** Waits until the group has exactly `count` Ready nodes and `count` live VPSieNodes. */
export async function waitGroupSize(sb: TestSandbox, ns: string, group: string, count: number, ms = 120_000): Promise<string[]> {
  return eventually(
    `group ${group} at ${count} Ready nodes`,
    ms,
    async () => {
      const vns = (await groupVNs(sb, ns, group)).filter((v) => !v.deleting && v.phase !== 'Failed');
      const ready = vns.filter((v) => v.phase === 'Ready' && v.nodeName);
      if (vns.length !== count || ready.length !== count) return undefined;
      const nodes = await readyGroupNodes(sb, group);
      const want = ready.map((v) => v.nodeName as string).sort();
      return want.every((n) => nodes.includes(n)) ? want : undefined;
    },
    500,
  );
}

export function isolation(group: string): Pick<k8s.V1PodSpec, 'tolerations' | 'nodeSelector'> {
  return {
    nodeSelector: { [ISOLATION_KEY]: group },
    tolerations: [{ key: ISOLATION_KEY, operator: 'Equal', value: group, effect: 'NoSchedule' }],
  };
}

export interface PodOpts {
  cpu?: string;
  memory?: string;
  /** Bind to this node (spec.nodeName): the test decides where the pod starts. */
  nodeName?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  volumes?: k8s.V1Volume[];
  affinity?: k8s.V1Affinity;
  replicas?: number;
}

function podSpec(group: string, o: PodOpts): k8s.V1PodSpec {
  return {
    ...isolation(group),
    ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    ...(o.affinity ? { affinity: o.affinity } : {}),
    ...(o.volumes ? { volumes: o.volumes } : {}),
    terminationGracePeriodSeconds: 0,
    containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu: o.cpu ?? '100m', memory: o.memory ?? '64Mi' } } }],
  };
}

/** A ReplicaSet (so its pods have a controller) with pods pinned to `nodeName` when given. */
export async function createReplicaSet(sb: TestSandbox, ns: string, name: string, group: string, o: PodOpts = {}): Promise<void> {
  const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
  const labels = { app: name, ...(o.labels ?? {}) };
  await apps.createNamespacedReplicaSet({
    namespace: ns,
    body: {
      metadata: { name, namespace: ns },
      spec: {
        replicas: o.replicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels, ...(o.annotations ? { annotations: o.annotations } : {}) }, spec: podSpec(group, o) },
      },
    },
  });
}

/** A bare pod (no controller). */
export async function createBarePod(sb: TestSandbox, ns: string, name: string, group: string, o: PodOpts = {}): Promise<void> {
  await sb.core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name, namespace: ns, labels: { app: name, ...(o.labels ?? {}) }, ...(o.annotations ? { annotations: o.annotations } : {}) },
      spec: podSpec(group, o),
    },
  });
}

export interface PodView {
  name: string;
  uid: string;
  node?: string;
  phase?: string;
  deleting: boolean;
}

export async function podsOf(sb: TestSandbox, ns: string): Promise<PodView[]> {
  return (await sb.core.listNamespacedPod({ namespace: ns })).items.map((p) => ({
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
    deleting: p.metadata?.deletionTimestamp !== undefined,
  }));
}

export async function waitPodsRunning(sb: TestSandbox, ns: string, count: number, ms = 60_000): Promise<PodView[]> {
  return eventually(
    `${count} Running pods in ${ns}`,
    ms,
    async () => {
      const pods = (await podsOf(sb, ns)).filter((p) => p.phase === 'Running' && !p.deleting);
      return pods.length === count ? pods : undefined;
    },
    300,
  );
}

export async function loopState(sb: TestSandbox, ns: string): Promise<ScaleDownLoopState> {
  return sb.temporal.workflow.getHandle(scaleDownWorkflowId(ns)).query(scaleDownStateQuery);
}

/** Events the scale-down wrote on a Node (Node Events live in the `default` namespace). */
export async function nodeEventsOf(sb: TestSandbox, node: string): Promise<{ reason: string; message: string; type: string }[]> {
  const evs = await sb.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.kind=Node,involvedObject.name=${node}` });
  return evs.items.map((e) => ({ reason: e.reason ?? '', message: e.message ?? '', type: e.type ?? '' }));
}

export async function scalingCondition(sb: TestSandbox, ns: string, group: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  return (await readGroup(sb, ns, group))?.status?.conditions?.find((c) => c.type === 'Scaling');
}

export async function nodeUnschedulable(sb: TestSandbox, node: string): Promise<boolean> {
  return (await sb.core.readNode({ name: node })).spec?.unschedulable === true;
}

export { NODEGROUP_LABEL };

/** Where the scale-down replay histories live (test/replay/nodes/scale-down.test.ts). */
export const SCALEDOWN_HISTORIES_DIR = path.resolve(__dirname, '../../../replay/nodes/histories-scaledown');

/**
 * Saves a workflow's history (proto JSON, as `temporal workflow show --output json` writes it) for
 * the replay test, when RECORD_REPLAY_HISTORIES=1.
 */
export function maybeRecordHistory(sb: TestSandbox, workflowId: string, name: string): void {
  recordHistory(sb, workflowId, SCALEDOWN_HISTORIES_DIR, name);
}
