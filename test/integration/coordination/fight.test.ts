/**
 * The fight the coordinator exists to stop, scripted on the sandbox with the real components: the
 * upstream VPA (recommender, updater, admission controller) evicts pods whose requests are far
 * below their usage; their larger replacements no longer fit, the node autoscaler adds VPSie
 * machines (the simulator's, joining as Nodes) — rightsizing feeding node scaling.
 *   - With the breaker enabled it trips within its thresholds, the VPA's updateMode becomes Off,
 *     no pod is evicted while it is open (the pods not yet evicted keep their old size), and after
 *     the cooldown the mode is restored.
 *   - The same script with the breaker disabled keeps fighting: the updater evicts every pod and the
 *     group keeps growing, the VPA stays in Recreate — so the breaker is what stops it.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { cpuMillis } from '../../../lib/crds/optipod/quantity';
import { PAUSED_UPDATE_MODE_ANNOTATION } from '../../../lib/crds/platform/constants';
import type { Orchestrator } from '../../../workers/orchestrator';
import { eventually } from '../../support/eventually';
import { createGroup, groupNodes, startTestOrchestrator } from '../../support/orchestrator';
import { sharedSandbox, type TestSandbox } from '../../support/sandbox';
import { coordinationStatus, createCoordination, createVpa, vpaOf } from '../../support/coordination';

const REPLICAS = 8;
/** Each pod uses this (kwok's usage annotations) but asks for far less: the VPA recommends ~700m, two per small node. */
const USAGE = { cpu: '600m', memory: '400Mi' };
const FIRST_REQUESTS = { cpu: '100m', memory: '128Mi' };
const EVICTION_THRESHOLD = 3;
const NODE_CHURN_THRESHOLD = 2;

interface Fight {
  ns: string;
  orch: Orchestrator;
  group: string;
}

async function startFight(sb: TestSandbox, label: string, breakerEnabled: boolean): Promise<Fight> {
  const ns = await sb.namespace(label);
  const orch = await startTestOrchestrator(sb, ns, sb.taskQueue(label), { http: false, resyncSeconds: 30 });
  const group = 'fight';
  const pool = `fight-${ns}`;
  await createGroup(sb, ns, group, {
    minNodes: 1,
    maxNodes: 8,
    offeringIDs: ['small-2cpu-4gb'],
    labels: { 'vpsie.test/pool': pool },
    taints: [{ key: 'vpsie.test/pool', value: pool, effect: 'NoSchedule' }],
    scaleUpPolicy: { stabilizationWindowSeconds: 5 },
    scaleDownPolicy: { enabled: false },
  });
  await eventually(
    "the group's first node Ready",
    async () => ((await groupNodes(sb, group)).some((n) => n.metadata?.labels?.['vpsie.test/pool'] === pool) ? true : undefined),
    300_000,
  );
  await sb.kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'fight', namespace: ns },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: 'fight' } },
        template: {
          metadata: { labels: { app: 'fight' }, annotations: { 'kwok.x-k8s.io/usage-cpu': USAGE.cpu, 'kwok.x-k8s.io/usage-memory': USAGE.memory } },
          spec: {
            nodeSelector: { 'vpsie.test/pool': pool },
            tolerations: [{ key: 'vpsie.test/pool', operator: 'Equal', value: pool, effect: 'NoSchedule' }],
            terminationGracePeriodSeconds: 0,
            containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: FIRST_REQUESTS } }],
          },
        },
      },
    },
  });
  await eventually(`${REPLICAS} pods Running`, async () => ((await running(sb, ns)).length === REPLICAS ? true : undefined), 300_000);
  await createCoordination(sb, ns, 'fight', {
    coordinationStrategy: 'coordinated',
    enabled: true,
    circuitBreaker: {
      enabled: breakerEnabled,
      nodeChurnThreshold: NODE_CHURN_THRESHOLD,
      evictionThreshold: EVICTION_THRESHOLD,
      oscillationThreshold: 30,
      cooldownMinutes: 1,
    },
    conflictPrevention: { cooldownPeriodMinutes: 1, maxConflictsPerHour: 100 },
  });
  await eventually('the coordination object Active', async () => ((await coordinationStatus(sb, ns, 'fight')).phase === 'Active' ? true : undefined), 120_000);
  // the VPA learns first (Off), and once its target is near the usage the fight starts (Recreate)
  await createVpa(sb, ns, 'fight', 'fight', 'Off');
  await eventually(
    'a VPA target near the usage',
    async () => {
      const t = await vpaTarget(sb, ns, 'fight');
      return t !== undefined && t >= (cpuMillis(USAGE.cpu) ?? 0) * 0.9 ? t : undefined;
    },
    600_000,
    2000,
  );
  await sb.kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObject(
    {
      group: 'autoscaling.k8s.io',
      version: 'v1',
      plural: 'verticalpodautoscalers',
      namespace: ns,
      name: 'fight',
      body: { spec: { updatePolicy: { updateMode: 'Recreate' } } },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  return { ns, orch, group };
}

/** The VPA's cpu target for the container (millicores). */
async function vpaTarget(sb: TestSandbox, ns: string, name: string): Promise<number | undefined> {
  const v = (await sb.kc
    .makeApiClient(k8s.CustomObjectsApi)
    .getNamespacedCustomObject({ group: 'autoscaling.k8s.io', version: 'v1', plural: 'verticalpodautoscalers', namespace: ns, name })) as {
    status?: { recommendation?: { containerRecommendations?: { containerName: string; target?: { cpu?: string } }[] } };
  };
  const cpu = v.status?.recommendation?.containerRecommendations?.find((c) => c.containerName === 'app')?.target?.cpu;
  return cpu === undefined ? undefined : cpuMillis(cpu);
}

async function running(sb: TestSandbox, ns: string): Promise<k8s.V1Pod[]> {
  return (await sb.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=fight' })).items.filter(
    (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
  );
}

async function evictions(sb: TestSandbox, ns: string): Promise<number> {
  const evs = (await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=EvictedByVPA' })).items;
  return evs.reduce((n, e) => n + (e.count ?? 1), 0);
}

/** Pods still at their first size (never evicted). */
async function oldSized(sb: TestSandbox, ns: string): Promise<number> {
  return (await running(sb, ns)).filter((p) => p.spec?.containers[0]?.resources?.requests?.cpu === FIRST_REQUESTS.cpu).length;
}

async function stopFight(sb: TestSandbox, f: Fight | undefined): Promise<void> {
  if (f === undefined) return;
  await sb.kc
    .makeApiClient(k8s.CustomObjectsApi)
    .deleteNamespacedCustomObject({ group: 'autoscaling.k8s.io', version: 'v1', plural: 'verticalpodautoscalers', namespace: f.ns, name: 'fight' })
    .catch(() => undefined);
  await sb.kc
    .makeApiClient(k8s.AppsV1Api)
    .deleteNamespacedDeployment({ namespace: f.ns, name: 'fight' })
    .catch(() => undefined);
  await sb.kc
    .makeApiClient(k8s.CustomObjectsApi)
    .deleteNamespacedCustomObject({ group: 'autoscaler.vpsie.com', version: 'v1alpha1', plural: 'nodegroups', namespace: f.ns, name: f.group })
    .catch(() => undefined);
  await f.orch.stop();
}

describe('coordination: a rightsizing/node-scaling fight on the sandbox, stopped by the circuit breaker', function () {
  this.timeout(1_800_000);
  let sb: TestSandbox;
  before(async () => {
    sb = await sharedSandbox();
  });

  describe('with the breaker enabled', () => {
    let f: Fight | undefined;
    after(() => stopFight(sb, f));

    it('trips within its thresholds, pauses the VPA (no eviction while open), and restores its mode after the cooldown', async () => {
      f = await startFight(sb, 'fight-on', true);
      const { ns } = f;
      const tripped = await eventually(
        'the breaker to trip',
        async () => {
          const s = await coordinationStatus(sb, ns, 'fight');
          return s.phase === 'CircuitBreaker' ? s : undefined;
        },
        600_000,
        2000,
      );
      expect(['EvictionStorm', 'NodeChurn', 'ConflictRate']).to.include(tripped.circuitBreakerReason);
      // the trip's numbers name the threshold it exceeded
      const m = /^(\d+) (?:evictions|node changes|conflicts) in .* exceed (?:evictionThreshold|nodeChurnThreshold|maxConflictsPerHour) (\d+)$/.exec(
        tripped.circuitBreakerMessage ?? '',
      );
      expect(m, tripped.circuitBreakerMessage).to.not.equal(null);
      expect(Number(m![1])).to.be.greaterThan(Number(m![2]));

      const v = await eventually('the VPA paused', async () => {
        const x = await vpaOf(sb, ns, 'fight');
        return x.mode === 'Off' ? x : undefined;
      });
      expect(v.annotations[PAUSED_UPDATE_MODE_ANNOTATION]).to.equal('Recreate');

      // one updater loop (10 s) may have been in flight when the mode changed; after it, nothing
      await new Promise((r) => setTimeout(r, 15_000));
      const atPause = await evictions(sb, ns);
      const notEvicted = await oldSized(sb, ns);
      expect(notEvicted, 'pods the updater had not reached yet').to.be.greaterThan(0);
      await new Promise((r) => setTimeout(r, 30_000));
      expect(await evictions(sb, ns), 'evictions while the breaker is open').to.equal(atPause);
      process.stderr.write(
        `      fight (breaker on): ${tripped.circuitBreakerMessage}; ${atPause} eviction(s) in all, ${notEvicted} pod(s) left at their first size while open\n`,
      );
      expect(await oldSized(sb, ns)).to.equal(notEvicted);
      expect((await coordinationStatus(sb, ns, 'fight')).phase).to.equal('CircuitBreaker');

      const resumed = await eventually(
        'the cooldown to end and the mode to be restored',
        async () => {
          const x = await vpaOf(sb, ns, 'fight');
          const s = await coordinationStatus(sb, ns, 'fight');
          return x.mode === 'Recreate' && s.phase !== 'CircuitBreaker' ? { x, s } : undefined;
        },
        180_000,
      );
      expect(resumed.x.annotations[PAUSED_UPDATE_MODE_ANNOTATION]).to.equal(undefined);
      const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=fight,involvedObject.kind=VPANAPCoordination' });
      const reasons = events.items.map((e) => e.reason);
      expect(reasons).to.include('CircuitBreakerTriggered');
      expect(reasons).to.include('CircuitBreakerHalfOpen');
      expect(reasons.some((r) => r?.startsWith('Conflict'))).to.equal(true);
    });
  });

  describe('the same script with the breaker disabled', () => {
    let f: Fight | undefined;
    after(() => stopFight(sb, f));

    it('keeps fighting: every pod is evicted and the group grows past the thresholds, the VPA stays in Recreate', async () => {
      f = await startFight(sb, 'fight-off', false);
      const { ns, group } = f;
      await eventually(
        'every pod evicted and resized',
        async () => ((await oldSized(sb, ns)) === 0 && (await running(sb, ns)).length === REPLICAS ? true : undefined),
        900_000,
        2000,
      );
      expect(await evictions(sb, ns)).to.be.greaterThan(EVICTION_THRESHOLD);
      const all = await groupNodes(sb, group);
      const nodes = all.filter((n) => n.metadata?.labels?.['vpsie.test/pool'] === `fight-${ns}`);
      const podNodes = new Set((await running(sb, ns)).map((p) => p.spec?.nodeName));
      expect(
        nodes.length - 1,
        `nodes added (group nodes: ${all.map((n) => `${n.metadata?.name} ${JSON.stringify(n.metadata?.labels)}`).join('; ')}; pods on ${[...podNodes].join(', ')})`,
      ).to.be.greaterThan(NODE_CHURN_THRESHOLD);
      expect((await vpaOf(sb, ns, 'fight')).mode).to.equal('Recreate');
      const s = await coordinationStatus(sb, ns, 'fight');
      expect(s.phase).to.equal('Active');
      expect(s.circuitBreakerTriggered).to.equal(false);
      // the conflicts are still seen and reported: only the breaker is off
      expect(s.conflictsDetected ?? 0).to.be.greaterThan(0);
      process.stderr.write(
        `      fight (breaker off): ${await evictions(sb, ns)} eviction(s), ${nodes.length - 1} node(s) added, ${s.conflictsDetected} conflict(s) reported, no trip\n`,
      );
    });
  });
});
