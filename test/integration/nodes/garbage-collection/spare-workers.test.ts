/**
 * Garbage collection of spare ManagedKubernetes workers on the sandbox (#12): a worker in the
 * VPSie group of a ManagedKubernetes NodeGroup that no VPSieNode claims is deleted once past the
 * grace period and seen unclaimed in two consecutive scans; a Ready VPSieNode's claimed worker is
 * kept, and so is a spare while a VPSieNode waits for a worker of the group. Runs the scan
 * activity directly (the workflow only calls it) against the simulator's managed cluster.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { createGarbageCollectionActivities, type GcScanResult } from '../../../../activities/nodes/garbage-collection';
import { WORKER_INTENT_ANNOTATION } from '../../../../activities/nodes/lifecycle/machines';
import { SPARE_WORKER_DELETED_REASON, workerClaimLeaseName } from '../../../../decision/nodes/garbage-collection/workers';
import { GROUP, VERSION, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import type { OrchestratorDeps } from '../../../../workers/deps';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createNodeGroup,
  createVPSieNode,
  customApi,
  deleteVN,
  eventually,
  lifecycleActivities,
  makeDeps,
  readVN,
  startLifecycle,
  startLifecycleWorker,
  freshVPSieGroup,
} from '../lifecycle/helpers';

/** Short, so the test waits seconds. */
const GRACE_SECONDS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** VPSie managed-cluster requests (`k8s.*` operations) the client of `deps` has sent so far. */
async function managedRequests(deps: OrchestratorDeps): Promise<number> {
  const m = deps.registry.getSingleMetric('vpsie_autoscaler_vpsie_api_requests_total');
  if (!m) return 0;
  // Answered calls only: a 429 from the shared simulator's budget is retried and would count twice.
  return (await m.get()).values
    .filter((v) => String(v.labels.method ?? '').startsWith('k8s.') && String(v.labels.status) !== '429')
    .reduce((n, v) => n + v.value, 0);
}

function keptReason(r: GcScanResult, identifier: string): string | undefined {
  return r.spareWorkers.kept.find((k) => k.identifier === identifier)?.reason;
}

describe('Garbage collection of spare ManagedKubernetes workers', function () {
  this.timeout(600_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });

  it('deletes a spare after the grace period and two scans, keeps the Ready VPSieNode’s claimed worker, and keeps a spare while a VPSieNode waits for one', async () => {
    const ns = await sb.namespace('gc-spare');
    const tq = sb.taskQueue('gc-spare');
    const group = uniqueName('spare');
    const clusterId = `cluster-w-${randomUUID().slice(0, 8)}`;
    // The lifecycle's and the GC's clients apart, so the GC's VPSie requests and metrics are its own.
    const deps = makeDeps(sb.endpoints, sb.temporal, { CLUSTER_ID: clusterId });
    const gcDeps = makeDeps(sb.endpoints, sb.temporal, { CLUSTER_ID: clusterId });
    const cluster = sb.endpoints.vpsie!.clusterIdentifier;
    const vg = await freshVPSieGroup(deps, cluster, group);
    const join = { method: 'ManagedKubernetes', groupIdentifier: String(vg.id) };
    await createNodeGroup(sb, ns, group, { join });
    const w = await startLifecycleWorker(sb.endpoints, tq, lifecycleActivities(deps));
    const listed = async () => (await deps.vpsie.listClusterWorkers(cluster, vg.id)).map((x) => x.identifier ?? '');
    /** Adds a worker nobody claims (as when a VPSieNode is deleted between "add" and its claim) and waits until it is listed. */
    const addSpare = async (known: string[]): Promise<string> => {
      await deps.vpsie.addGroupWorker(cluster, vg.id);
      return eventually('the spare worker listed', 60_000, async () => (await listed()).find((id) => id !== '' && !known.includes(id)));
    };
    try {
      // A Ready VPSieNode with a claimed worker.
      const a = await createVPSieNode(sb, ns, `${group}-a`, group, join);
      const input = { namespace: ns, name: a.metadata.name, nodeGroup: group, settings: { pollIntervalSeconds: 1 } };
      const handle = await startLifecycle(sb.temporal, tq, input);
      const ready = await eventually('the VPSieNode Ready', 120_000, async () => {
        const cur = await readVN(sb, ns, a.metadata.name);
        return cur?.status?.phase === 'Ready' ? cur : undefined;
      });
      const claimed = ready.spec.vpsieIdentifier!;
      expect(claimed).to.be.a('string');

      const spare = await addSpare([claimed]);
      const gc = createGarbageCollectionActivities(gcDeps);
      const scan = () => gc.gcScan({ namespace: ns, graceSeconds: GRACE_SECONDS, maxDeletePercent: 100 });

      const before = await managedRequests(gcDeps);
      const first = await scan();
      expect(await managedRequests(gcDeps), 'one scan: list groups (the NodeGroup names its group) and list workers').to.equal(before + 2);
      expect(first.spareWorkers.skipped).to.equal(undefined);
      expect(first.spareWorkers.problems).to.deep.equal([]);
      expect(first.spareWorkers.deleted).to.deep.equal([]);
      expect(keptReason(first, spare), 'young, or seen unclaimed for the first time').to.be.oneOf(['Young', 'FirstSighting']);
      expect(keptReason(first, claimed)).to.equal('Claimed');
      expect(first.spareWorkers.groups).to.deep.equal([
        { clusterIdentifier: cluster, groupId: vg.id, workers: 2, claimed: 1, recorded: 0, unclaimed: 1, outstandingIntents: 0, reserved: 0, eligible: 0 },
      ]);
      expect(await listed()).to.include.members([claimed, spare]);

      await sleep((GRACE_SECONDS + 1.5) * 1000);
      const second = await scan();
      expect(second.spareWorkers.deleted.map((s) => [s.identifier, s.reason, s.ageFrom])).to.deep.equal([[spare, 'NoClaim', 'created']]);
      expect(keptReason(second, claimed)).to.equal('Claimed');
      const after = await listed();
      expect(after, 'the spare is gone').to.not.include(spare);
      expect(after, "the Ready VPSieNode's worker is kept").to.include(claimed);
      expect((await readVN(sb, ns, a.metadata.name))?.status?.phase).to.equal('Ready');
      const leases = (await sb.kc.makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({ namespace: ns })).items.map((l) => l.metadata?.name);
      expect(leases, "GC's hold on the spare is removed").to.not.include(workerClaimLeaseName(spare));
      expect(leases, 'the claim of the Ready VPSieNode stays').to.include(workerClaimLeaseName(claimed));
      expect(await gcDeps.registry.metrics()).to.match(/vpsie_autoscaler_garbage_collected_total\{kind="worker"\} 1\b/);
      const events = await eventually('the SpareWorkerDeleted Event', 30_000, async () => {
        const evs = (await sb.core.listNamespacedEvent({ namespace: ns })).items.filter(
          (e) => e.reason === SPARE_WORKER_DELETED_REASON && e.involvedObject.kind === 'NodeGroup' && e.involvedObject.name === group,
        );
        return evs.length > 0 ? evs : undefined;
      });
      expect(events[0]!.message).to.include(spare);

      // A VPSieNode waiting for a worker of the group (intent recorded, nothing claimed yet) keeps a spare.
      const b = await createVPSieNode(sb, ns, `${group}-b`, group, join);
      await customApi(sb).patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: VPSIENODE_PLURAL,
          name: b.metadata.name,
          body: { metadata: { annotations: { [WORKER_INTENT_ANNOTATION]: String(vg.id) } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const spare2 = await addSpare([claimed, spare]);
      const third = await scan();
      expect(keptReason(third, spare2)).to.equal('ReservedForIntent');
      await sleep((GRACE_SECONDS + 1.5) * 1000);
      const fourth = await scan();
      expect(fourth.spareWorkers.deleted, 'a spare a VPSieNode waits for is kept').to.deep.equal([]);
      expect(keptReason(fourth, spare2)).to.equal('ReservedForIntent');
      expect(fourth.spareWorkers.groups[0]).to.include({ outstandingIntents: 1, reserved: 1, unclaimed: 1 });
      expect(await listed()).to.include(spare2);

      // Once nobody waits, it is a spare; it was already seen unclaimed and is past the grace period.
      await deleteVN(sb, ns, b.metadata.name);
      await eventually('the waiting VPSieNode gone', 30_000, async () => ((await readVN(sb, ns, b.metadata.name)) === undefined ? true : undefined));
      const fifth = await scan();
      expect(fifth.spareWorkers.deleted.map((s) => s.identifier)).to.deep.equal([spare2]);
      expect(await listed()).to.deep.equal([claimed]);
      expect(await gcDeps.registry.metrics()).to.match(/vpsie_autoscaler_garbage_collected_total\{kind="worker"\} 2\b/);

      // The claimed worker goes with its VPSieNode, as before.
      await deleteVN(sb, ns, a.metadata.name);
      await startLifecycle(sb.temporal, tq, input, { deleting: true });
      expect((await handle.result()).outcome).to.equal('Deleted');
      expect(await listed()).to.deep.equal([]);
    } finally {
      await w.stop();
      await deps.vpsie.deleteNodeGroup(vg.identifier).catch(() => undefined);
    }
  });

  it('makes no VPSie managed-cluster call when no NodeGroup of the scope uses ManagedKubernetes', async () => {
    const ns = await sb.namespace('gc-spare-none');
    const deps = makeDeps(sb.endpoints, sb.temporal, { CLUSTER_ID: `cluster-n-${randomUUID().slice(0, 8)}` });
    const gc = createGarbageCollectionActivities(deps);
    await createNodeGroup(sb, ns, uniqueName('plain'));
    const r = await gc.gcScan({ namespace: ns, graceSeconds: 0 });
    expect(r.spareWorkers.skipped).to.equal('NoManagedKubernetesNodeGroup');
    expect(await managedRequests(deps), 'no k8s.* request').to.equal(0);

    // Control: a ManagedKubernetes NodeGroup naming a group makes the pass look it up (and report it missing).
    const missing = uniqueName('no-such-group');
    await createNodeGroup(sb, ns, uniqueName('managed'), { join: { method: 'ManagedKubernetes', groupIdentifier: missing } });
    const r2 = await gc.gcScan({ namespace: ns, graceSeconds: 0 });
    expect(r2.spareWorkers.skipped).to.equal(undefined);
    expect(r2.spareWorkers.problems.join('\n')).to.include(`no VPSie node group '${missing}'`);
    expect(await managedRequests(deps)).to.equal(1);
  });
});
