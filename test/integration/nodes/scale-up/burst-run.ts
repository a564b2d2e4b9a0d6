/**
 * One scale-up burst, end to end on the sandbox (shared by `npm run bench:burst` and the burst
 * sandbox test): a Deployment of N pods applied in one go against one NodeGroup offered every
 * Shared CPU plan of the simulator (us-east-1), with the orchestrator (worker, watchers, scale-up
 * trigger) running in this process with its defaults. The caller sets the simulator's delays.
 * Times are this process's clock, from the Deployment's creation.
 */
import * as k8s from '@kubernetes/client-node';
import { podFromK8s } from '../../../../decision/scheduling/from-k8s';
import { TRIGGERED_PODS_ANNOTATION } from '../../../../lib/crds/autoscaler';
import { defaultCatalogue, CAT_SHARED } from '../../../../sandbox/vpsie-sim/catalogue';
import { nodeGroupWorkflowId } from '../../../../workflows/nodes/contracts';
import { lowerBounds } from '../../../../bench/lower-bound';
import { percentile, round3 } from '../../../../bench/stats';
import { simulatorNodeGroups } from '../../../../bench/planner';
import { uniqueName, type TestSandbox } from '../../../support/sandbox';
import { cleanup, createNodeGroup, eventually, listVPSieNodes, simMachines, startHarness } from './helpers';

export async function simAdmin(sb: TestSandbox, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(`${sb.endpoints.vpsie!.admin.replace(/\/$/, '')}${path}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`simulator admin ${path}: HTTP ${r.status}`);
  return r.json();
}

export interface BurstResult {
  pods: number;
  cpu: string;
  memory: string;
  firstSignalToCreateSeconds: number;
  firstNodeSeconds: number;
  allRunningSeconds: number;
  /** When half the pods were Running. */
  halfRunningSeconds: number;
  /** When the last pod of the Deployment was created. */
  podsCreatedSeconds: number;
  /** When pods were first marked Unschedulable by the scheduler. */
  podsUnschedulableSeconds: { p50: number; max: number; count: number };
  /** When each Node of the group appeared. */
  nodeSeconds: number[];
  nodes: number;
  monthlyPrice: number;
  lowerBoundPrice: number;
  priceRatio: number;
  runs: number;
  emptyRunsWhilePending: number;
  /** Some pods of those runs: their outcome and how long after the run they ran. */
  emptyRunPods: { pod: string; outcome: string; reason: string; node?: string; waitedSeconds: number }[];
  /** The most runs that placed one pod on room of an existing or in-flight node. */
  maxFitsExistingPerPod: number;
  claimsReleased: number;
  /** Pods remembered by more than one VPSieNode made for them (scaled up twice). */
  podsTriggeredTwice: number;
}

export async function burstOnce(sb: TestSandbox, pods: number, cpu: string, memory: string): Promise<BurstResult> {
  const catalogue = defaultCatalogue();
  const shared = catalogue.plans.filter((p) => p.categoryIdentifier === CAT_SHARED);
  const priceOf = new Map(catalogue.plans.map((p) => [p.nickname, p.price]));
  const ns = await sb.namespace('bench-burst');
  // Defaults, or the SCALE_UP_* settings of the environment (to measure another setting).
  const scaleUpEnv = Object.fromEntries(
    Object.entries(process.env).filter((kv): kv is [string, string] => kv[0].startsWith('SCALE_UP_') && kv[1] !== undefined),
  );
  const h = await startHarness(sb, ns, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'error', ...scaleUpEnv });
  const group = uniqueName('burst');
  const pool = `burst-${ns}`;
  await createNodeGroup(sb, ns, group, {
    maxNodes: 500,
    offeringIDs: shared.map((p) => p.nickname),
    labels: { 'vpsie.test/pool': pool },
  });
  await eventually('the NodeGroup workflow', 30_000, async () => {
    const d = await sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group)).describe();
    return d.status.name === 'RUNNING' ? true : undefined;
  });

  // Watch the group's Nodes and the burst's pods (times in this process's clock).
  const nodeSeen = new Map<string, number>();
  const nodeInformer = k8s.makeInformer(
    sb.kc,
    '/api/v1/nodes',
    () => sb.core.listNode({ labelSelector: `vpsie.test/pool=${pool}` }),
    `vpsie.test/pool=${pool}`,
  );
  nodeInformer.on(k8s.ADD, (n: k8s.V1Node) => {
    if (!nodeSeen.has(n.metadata?.name ?? '')) nodeSeen.set(n.metadata?.name ?? '', Date.now());
  });
  await nodeInformer.start();
  const running = new Map<string, number>();
  const created = new Map<string, number>();
  const unschedulable = new Map<string, number>();
  const onPod = (p: k8s.V1Pod): void => {
    const uid = p.metadata?.uid ?? '';
    if (!created.has(uid)) created.set(uid, Date.now());
    if (!unschedulable.has(uid) && (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'))
      unschedulable.set(uid, Date.now());
    if (p.status?.phase === 'Running' && !running.has(uid)) running.set(uid, Date.now());
  };
  const podInformer = k8s.makeInformer(sb.kc, `/api/v1/namespaces/${ns}/pods`, () => sb.core.listNamespacedPod({ namespace: ns }));
  podInformer.on(k8s.ADD, onPod);
  podInformer.on(k8s.UPDATE, onPod);
  await podInformer.start();

  const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
  const podSpec: k8s.V1PodSpec = {
    nodeSelector: { 'vpsie.test/pool': pool },
    terminationGracePeriodSeconds: 0,
    containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu, memory } } }],
  };
  const t0 = Date.now();
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'burst' },
      spec: { replicas: pods, selector: { matchLabels: { app: 'burst' } }, template: { metadata: { labels: { app: 'burst' } }, spec: podSpec } },
    },
  });
  const allRunningAt = await eventually(
    `${pods} pods Running`,
    20 * 60_000,
    async () => (running.size >= pods ? Math.max(...running.values()) : undefined),
    100,
  );

  const machines = (await simMachines(sb)).filter((m) => m.hostname.startsWith(group) && m.phase !== 'deleted');
  const firstCreate = Math.min(...machines.map((m) => m.requestedAt));
  const firstSignal = Math.min(...h.batches.map((b) => b.firstSignalAt));
  const monthlyPrice = machines.reduce((s, m) => s + (priceOf.get(m.plan) ?? 0), 0);
  const simPod = podFromK8s({ metadata: { name: 'p', namespace: ns, uid: 'p' }, spec: podSpec });
  const lb = lowerBounds({
    pendingPods: Array.from({ length: pods }, (_, i) => ({ ...simPod, name: `p${i}`, uid: `p${i}` })),
    existingNodes: [],
    inFlightNodes: [],
    nodeGroups: simulatorNodeGroups().filter((g) => g.name === 'shared-us-east-1'),
    daemonSetPods: [],
    maxClusterNodes: 50_000,
  });
  // Runs that ended deciding no new node while a pod they covered stayed not Running for more
  // than one rescan period after the run ended (the pods the planner believed had room).
  const records = [...h.records];
  const rescanMs = 10_000;
  const waited: BurstResult['emptyRunPods'] = [];
  const emptyRuns = records.filter((r) => {
    if (r.newNodes > 0) return false;
    const ended = h.recordTimes.get(r.workflowId) ?? Infinity;
    const late = r.pods.filter((p) => p.uid !== undefined && (running.get(p.uid) ?? Infinity) > ended + rescanMs);
    for (const p of late.slice(0, 3))
      waited.push({
        pod: p.pod,
        outcome: p.outcome,
        reason: p.reason,
        ...('node' in p && p.node ? { node: p.node } : {}),
        waitedSeconds: round3(((running.get(p.uid!) ?? NaN) - ended) / 1000),
      });
    return late.length > 0;
  }).length;
  // The most runs that found a pod room on a node (no new node for it) — before #13 the same pods
  // were found room on given-away nodes run after run, for minutes.
  const fits = new Map<string, number>();
  for (const r of records) for (const p of r.pods) if (p.outcome === 'FitsExisting') fits.set(p.pod, (fits.get(p.pod) ?? 0) + 1);
  const maxFitsExistingPerPod = Math.max(0, ...fits.values());
  const runningTimes = [...running.values()].map((t) => (t - t0) / 1000);
  const released = (await h.registry.getSingleMetric('vpsie_autoscaler_scale_up_claims_released_total')?.get())?.values[0]?.value ?? 0;

  // No pod scaled up twice: a pod uid is remembered by at most one VPSieNode made for it.
  const remembered = (await listVPSieNodes(sb, ns)).flatMap((v) => JSON.parse(v.annotations[TRIGGERED_PODS_ANNOTATION] ?? '[]') as string[]);
  const triggeredTwice = remembered.filter((u, i) => remembered.indexOf(u) !== i).length;

  nodeInformer.stop();
  podInformer.stop();
  await apps.deleteNamespacedDeployment({ name: 'burst', namespace: ns }).catch(() => undefined);
  await cleanup(sb, ns, 180_000).catch(() => undefined);
  await h.stop();
  await sb.core.deleteNamespace({ name: ns }).catch(() => undefined);

  return {
    pods,
    cpu,
    memory,
    firstSignalToCreateSeconds: round3((firstCreate - firstSignal) / 1000),
    firstNodeSeconds: round3((Math.min(...nodeSeen.values()) - t0) / 1000),
    allRunningSeconds: round3((allRunningAt - t0) / 1000),
    halfRunningSeconds: round3(percentile(runningTimes, 50)),
    podsCreatedSeconds: round3((Math.max(...created.values()) - t0) / 1000),
    podsUnschedulableSeconds: {
      p50: round3((percentile([...unschedulable.values()], 50) - t0) / 1000),
      max: round3((Math.max(...unschedulable.values()) - t0) / 1000),
      count: unschedulable.size,
    },
    nodeSeconds: [...nodeSeen.values()].map((t) => round3((t - t0) / 1000)).sort((a, b) => a - b),
    nodes: machines.length,
    monthlyPrice: Math.round(monthlyPrice * 100) / 100,
    lowerBoundPrice: lb.price,
    priceRatio: lb.price > 0 ? round3(monthlyPrice / lb.price) : 1,
    runs: records.length,
    emptyRunsWhilePending: emptyRuns,
    emptyRunPods: waited.slice(0, 10),
    maxFitsExistingPerPod,
    claimsReleased: released,
    podsTriggeredTwice: triggeredTwice,
  };
}
