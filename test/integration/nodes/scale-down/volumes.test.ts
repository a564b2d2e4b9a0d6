/**
 * Issue #17, safety check 4 of doc 001 on the sandbox: a node whose pod uses a PersistentVolume
 * that only that node can reach (a local PV pinned by node affinity) is not removed even though
 * it is idle — blocked with PersistentVolumeUnreachable in the loop's verdict, the NodeGroup
 * `Scaling` condition and an Event on the node — while an equivalent node whose pod has no such
 * volume is removed in the same group.
 *
 * One isolated group of three nodes: A carries a 100m pod with a claim bound to a local PV whose
 * node affinity names A; C carries the same pod without the claim; B a pinned 1200m pod (60 % cpu:
 * never a candidate, with room for the others' pods). minNodes drops to 1 once the pods run.
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  podsOf,
  readyGroupNodes,
  scalingCondition,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
} from './helpers';

describe('scale-down: a pod on a node-local PersistentVolume keeps its node (sandbox)', function () {
  this.timeout(420_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;
  let pvName: string | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('sd-volumes');
    orch = await startScaleDownOrchestrator(sb, ns);
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
    if (pvName) await sb.core.deletePersistentVolume({ name: pvName }).catch(() => undefined);
  });

  it('blocks the idle node with the pinned volume (PersistentVolumeUnreachable) and removes the equivalent one without it', async () => {
    const group = uniqueName('pv');
    await createIsolatedGroup(sb, ns, group, { minNodes: 3, maxNodes: 3 });
    const [a, b, c] = (await waitGroupSize(sb, ns, group, 3, 180_000)) as [string, string, string];

    // A local PV only node A reaches, pre-bound to its claim (no StorageClass, no provisioner).
    pvName = uniqueName(`${group}-data`);
    const claim = 'data';
    await sb.core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          local: { path: '/mnt/disks/data' },
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: claim },
          nodeAffinity: {
            required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [a] }] }] },
          },
        },
      },
    });
    await sb.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: claim, namespace: ns },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pvName, resources: { requests: { storage: '1Gi' } } },
      },
    });
    await eventually(
      'the claim Bound to the local PV',
      60_000,
      async () => {
        const pvc = await sb.core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: claim });
        return pvc.status?.phase === 'Bound' && pvc.spec?.volumeName === pvName ? true : undefined;
      },
      500,
    );

    await createReplicaSet(sb, ns, `${group}-busy`, group, { nodeName: b, cpu: '1200m' });
    await createReplicaSet(sb, ns, `${group}-db`, group, { nodeName: a, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] });
    await createReplicaSet(sb, ns, `${group}-cache`, group, { nodeName: c });
    await eventually(
      'the three pods Running',
      90_000,
      async () => {
        const running = (await podsOf(sb, ns)).filter((p) => p.phase === 'Running' && !p.deleting);
        return [a, b, c].every((n) => running.some((p) => p.node === n)) ? true : undefined;
      },
      300,
    );
    const dbPods = (await podsOf(sb, ns))
      .filter((p) => p.node === a)
      .map((p) => p.uid)
      .sort();
    const n0 = (await loopState(sb, ns)).iterations;
    await patchGroupSpec(sb, ns, group, { minNodes: 1 });

    // C (idle, no volume) goes: its removal finishes (VPSieNode and Node gone).
    const vnOf = async (node: string) => (await groupVNs(sb, ns, group)).find((v) => v.nodeName === node);
    await eventually(
      `node ${c} removed`,
      180_000,
      async () => ((await vnOf(c)) === undefined && !(await readyGroupNodes(sb, group)).includes(c) ? true : undefined),
      500,
    );
    expect(await vnOf(a), `VPSieNode of ${a} while ${c} was removed`).to.not.equal(undefined);

    // A (idle too) is blocked by its volume, and — once C's removal no longer takes the group's
    // disruption budget and cooldown — by nothing else.
    const n1 = (await loopState(sb, ns)).iterations;
    const verdict = await eventually(
      `node ${a} blocked by its volume alone`,
      90_000,
      async () => {
        const st = await loopState(sb, ns);
        const v = st.lastVerdicts.find((x) => x.node === a);
        return st.iterations >= Math.max(n0, n1) + 2 && v?.outcome === 'blocked' && v.blockers.length === 1 ? v : undefined;
      },
      500,
    );
    expect(verdict.blockers).to.deep.equal(['PersistentVolumeUnreachable']);
    const cond = await eventually(
      'the Scaling condition naming it',
      60_000,
      async () => {
        const s = await scalingCondition(sb, ns, group);
        return s && s.message.includes(`${a}: PersistentVolumeUnreachable`) ? s : undefined;
      },
      500,
    );
    expect(cond.reason).to.equal('NotScaling');
    const event = await eventually(
      `the Event on node ${a}`,
      60_000,
      async () => (await nodeEventsOf(sb, a)).find((e) => e.reason === 'PersistentVolumeUnreachable'),
      500,
    );
    expect(event.message).to.match(/^scale-down blocked: /);
    expect(event.message).to.include(`${ns}/${group}-db`);

    // A few more decisions: A stays, uncordoned, its pod not evicted; C stays gone.
    const iter = (await loopState(sb, ns)).iterations;
    await eventually('three more decisions', 60_000, async () => ((await loopState(sb, ns)).iterations >= iter + 3 ? true : undefined), 300);
    const st = await loopState(sb, ns);
    expect(st.lastVerdicts.find((x) => x.node === a)?.blockers).to.deep.equal(['PersistentVolumeUnreachable']);
    const vnA = await vnOf(a);
    expect(vnA, `VPSieNode of ${a}`).to.not.equal(undefined);
    expect(vnA!.deleting).to.equal(false);
    expect((await sb.core.readNode({ name: a })).spec?.unschedulable ?? false).to.equal(false);
    expect(
      (await podsOf(sb, ns))
        .filter((p) => p.node === a && !p.deleting)
        .map((p) => p.uid)
        .sort(),
    ).to.include.members(dbPods);
    expect(await vnOf(c), `VPSieNode of ${c}`).to.equal(undefined);
    // The removal of C was decided by the scale-down (not some other path).
    expect(
      [...st.finished, ...st.inFlight].some((f) => f.nodes.includes(c)),
      JSON.stringify(st.finished),
    ).to.equal(true);
  });
});
