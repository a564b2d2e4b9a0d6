import { expect } from 'chai';
import { planScaleUp } from '../../../../decision/planner/planner';
import { uniqueName, sharedSandbox, type TestSandbox } from '../../../support/sandbox';
import { HELD_PODS_ANNOTATION, TRIGGERED_PODS_ANNOTATION } from '../../../../lib/crds/autoscaler';
import {
  cleanup,
  container,
  recordScaleUpHistory,
  createDeployment,
  createNodeGroup,
  eventually,
  listVPSieNodes,
  podEvents,
  simMachines,
  startHarness,
  type Harness,
} from './helpers';
import { toPlannerInput } from '../../../../decision/nodes/scale-up/snapshot';
import { parseNodeGroup } from '../../../../lib/crds/autoscaler';

describe('scale-up end to end (real sandbox, orchestrator in process)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });

  async function runningPods(ns: string): Promise<{ name: string; node: string; phase: string; labels: Record<string, string> }[]> {
    const pods = await sb.core.listNamespacedPod({ namespace: ns });
    return pods.items.map((p) => ({ name: p.metadata!.name!, node: p.spec?.nodeName ?? '', phase: p.status?.phase ?? '', labels: p.metadata?.labels ?? {} }));
  }

  describe('a Deployment of 50 pods that do not fit', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('su50');
      h = await startHarness(sb, ns);
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('creates the planned number of VPS instances, the nodes join, every pod runs, and the decision record names each pod', async () => {
      const group = uniqueName('web');
      const pool = `web-${ns}`;
      await createNodeGroup(sb, ns, group, {
        maxNodes: 20,
        offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'],
        labels: { 'vpsie.test/pool': pool },
        scaleUpPolicy: { stabilizationWindowSeconds: 5 },
      });
      const t0 = Date.now();
      await createDeployment(sb, ns, 'app', 50, { nodeSelector: { 'vpsie.test/pool': pool }, containers: [container('500m', '512Mi')] });

      const pods = await eventually(
        '50 pods Running',
        420_000,
        async () => {
          const l = await runningPods(ns);
          return l.length === 50 && l.every((p) => p.phase === 'Running') ? l : undefined;
        },
        1000,
      );
      const seconds = (Date.now() - t0) / 1000;
      // Runs started before the last pods were bound may still be closing: compare records only
      // once every started run has reported its record.
      await eventually('every started scale-up run recorded', 120_000, async () => (h.records.length >= h.batches.length ? true : undefined), 250);

      // Every pod runs on a node of the group (created for it).
      const vns = await listVPSieNodes(sb, ns);
      const nodeNames = new Set(pods.map((p) => p.node));
      expect(vns.filter((v) => v.group === group).map((v) => v.name)).to.include.members([...nodeNames].filter((n) => vns.some((v) => v.name === n)));
      const readyNodes = await sb.core.listNode({ labelSelector: `vpsie.test/pool=${pool}` });
      expect(readyNodes.items.map((n) => n.metadata!.name!).sort()).to.include.members([...nodeNames].sort());

      // The right number: what the planner asks for these 50 pods on the empty group, plus at most
      // one right-sized tail node per extra run (pods arriving in several batches).
      const runsThatCreated = h.records.filter((r) => r.created > 0).length;
      const created = h.records.reduce((n, r) => n + r.created, 0);
      const group0 = {
        pods: Array.from({ length: 50 }, (_, i) => ({
          metadata: { name: `p${i}`, namespace: ns, uid: `u${i}` },
          spec: { nodeSelector: { 'vpsie.test/pool': pool }, containers: [container('500m', '512Mi')] },
          status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
        })),
      };
      const plans = await h.orchestrator.deps.vpsie.listAllPlans('us-east-1');
      const ng = parseNodeGroup({
        apiVersion: 'autoscaler.vpsie.com/v1alpha1',
        kind: 'NodeGroup',
        metadata: { name: group, namespace: ns },
        spec: { minNodes: 0, maxNodes: 20, offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'], labels: { 'vpsie.test/pool': pool } },
      });
      const optimum = planScaleUp(
        toPlannerInput(
          { pods: group0.pods, nodes: [], nodeGroups: [ng], vpsieNodes: [], daemonSets: [], plans: { 'us-east-1': plans } },
          { maxClusterNodes: 1000, defaultDatacenter: 'us-east-1', defaultOfferings: [] },
        ).input,
      );
      expect(created, `created ${created} in ${runsThatCreated} run(s); optimum ${optimum.newNodes}`).to.be.within(
        optimum.newNodes,
        optimum.newNodes + Math.max(0, runsThatCreated - 1),
      );
      expect(vns.filter((v) => !v.deleting)).to.have.length(created);
      const machines = (await simMachines(sb)).filter((m) => vns.some((v) => v.name === m.hostname) && m.deletedAt === null);
      expect(machines).to.have.length(created);

      // The decision records name each pod; triggered pods carry the TriggeredScaleUp Event.
      const named = new Map<string, string>();
      for (const r of h.records)
        for (const p of r.pods) {
          const name = p.pod.split('/')[1]!;
          // A pod triggers once; later runs see it riding on its in-flight node (FitsInFlightNode).
          if (p.outcome !== 'NotTriggerScaleUp' && named.get(name) !== 'TriggeredScaleUp') named.set(name, p.outcome);
        }
      for (const p of pods) expect(named.has(p.name), `pod ${p.name} in a decision record`).to.equal(true);
      const events = await podEvents(sb, ns);
      for (const [pod, outcome] of named)
        if (outcome === 'TriggeredScaleUp')
          expect(
            events.get(pod)?.map((e) => e.reason),
            pod,
          ).to.include('TriggeredScaleUp');
      // The VPSieNodes remember their pods. A pod triggers a second node only after the room of its
      // first was given to other pods by the scheduler (its claim released, counted by the metric).
      const remembered = vns.flatMap((v) => JSON.parse(v.annotations[TRIGGERED_PODS_ANNOTATION] ?? '[]') as string[]);
      const twice = remembered.filter((u, i) => remembered.indexOf(u) !== i);
      const released = (await h.registry.getSingleMetric('vpsie_autoscaler_scale_up_claims_released_total')?.get())?.values[0]?.value ?? 0;
      expect(twice.length, `pods remembered by two VPSieNodes (scaled up twice) with ${released} claims released`).to.be.at.most(released);
      expect(remembered.length, `${h.records.length} records for ${h.batches.length} runs`).to.equal(
        h.records.flatMap((r) => r.pods).filter((p) => p.outcome === 'TriggeredScaleUp').length,
      );
      // Pods placed in the spare room of a node in flight are held there (or were made for it).
      const held = new Set(
        vns.flatMap((v) => [TRIGGERED_PODS_ANNOTATION, HELD_PODS_ANNOTATION].flatMap((a) => JSON.parse(v.annotations[a] ?? '[]') as string[])),
      );
      const inFlight = h.records.flatMap((r) => r.pods).filter((p) => p.outcome === 'FitsExisting' && p.reason === 'FitsInFlightNode');
      for (const p of inFlight) expect(held.has(p.uid ?? ''), `${p.pod} (${p.message}) held on a VPSieNode`).to.equal(true);
      const holding = h.records.find((r) => r.pods.some((p) => p.reason === 'FitsInFlightNode' && !(p.uid && remembered.includes(p.uid))));
      if (holding) recordScaleUpHistory(sb, holding.workflowId, 'scaleup-50-pods-holds-in-flight-room');

      // The latency histogram saw the runs.
      const metrics = await h.orchestrator.deps.registry.getSingleMetricAsString('vpsie_autoscaler_pending_to_create_seconds');
      expect(metrics).to.match(/vpsie_autoscaler_pending_to_create_seconds_count \d+/);
      process.stderr.write(
        `      50 pods: ${created} VPS (optimum ${optimum.newNodes}, ${runsThatCreated} run(s), ${h.records.length} record(s)), all Running after ${seconds.toFixed(1)} s\n`,
      );
    });
  });

  describe('pods that fit the spare room of a node still booting', () => {
    let ns: string;
    let h: Harness;
    let bootDelayMs: number;
    const admin = (): string => sb.endpoints.vpsie!.admin.replace(/\/$/, '');
    const setBootDelay = async (ms: number): Promise<void> => {
      const r = await fetch(`${admin()}/config`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bootDelayMs: ms }),
      });
      expect(r.status).to.equal(200);
    };
    before(async () => {
      ns = await sb.namespace('suhold');
      h = await startHarness(sb, ns);
      bootDelayMs = ((await (await fetch(`${admin()}/config`)).json()) as { bootDelayMs: number }).bootDelayMs;
    });
    after(async () => {
      await setBootDelay(bootDelayMs);
      await cleanup(sb, ns);
      await h.stop();
    });

    it('are held on it: a later batch does not get the same room, and gets a node of its own', async () => {
      const group = uniqueName('hold');
      const pool = `hold-${ns}`;
      // small-2cpu-4gb: room for four 500m pods. Machines stay booting until the delay is restored.
      await createNodeGroup(sb, ns, group, {
        maxNodes: 5,
        offeringIDs: ['small-2cpu-4gb'],
        labels: { 'vpsie.test/pool': pool },
        scaleUpPolicy: { stabilizationWindowSeconds: 0 },
      });
      await setBootDelay(600_000);
      const spec = { nodeSelector: { 'vpsie.test/pool': pool }, containers: [container('500m', '256Mi')] };
      const uidsOf = async (app: string): Promise<string[]> =>
        (await sb.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items.map((p) => p.metadata!.uid!);
      const decidedFor = (uids: string[]) =>
        eventually(`a decision for ${uids.length} pod(s)`, 60_000, async () => {
          const all = h.records.flatMap((r) => r.pods.map((p) => ({ ...p, run: r.workflowId })));
          const mine = uids.map((u) => all.find((p) => p.uid === u));
          return mine.every((p) => p !== undefined) ? mine.map((p) => p!) : undefined;
        });

      // 1. One pod: a node is made for it (three seats left).
      await createDeployment(sb, ns, 'first', 1, spec);
      const [first] = await decidedFor(await eventually('first pod', 10_000, async () => ((await uidsOf('first')).length === 1 ? uidsOf('first') : undefined)));
      expect(first!.outcome).to.equal('TriggeredScaleUp');
      const [n1] = await listVPSieNodes(sb, ns);
      // 2. Two pods fit its spare room: no node, and they are held on it.
      await createDeployment(sb, ns, 'second', 2, spec);
      const second = await decidedFor(
        await eventually('second pods', 10_000, async () => ((await uidsOf('second')).length === 2 ? uidsOf('second') : undefined)),
      );
      expect(second.map((p) => p.reason)).to.deep.equal(['FitsInFlightNode', 'FitsInFlightNode']);
      const holder = (await listVPSieNodes(sb, ns)).find((v) => v.name === n1!.name)!;
      expect(holder.phase, 'the node is still booting').to.not.equal('Ready');
      expect(JSON.parse(holder.annotations[HELD_PODS_ANNOTATION] ?? '[]')).to.include.members(second.map((p) => p.uid));
      // 3. Two more: one seat is left, so one fits and the other gets a node of its own.
      await createDeployment(sb, ns, 'third', 2, spec);
      const third = await decidedFor(await eventually('third pods', 10_000, async () => ((await uidsOf('third')).length === 2 ? uidsOf('third') : undefined)));
      expect(third.map((p) => p.reason).sort()).to.deep.equal(['FitsInFlightNode', 'ScaleUpTriggered']);
      expect(third.map((p) => p.outcome).sort()).to.deep.equal(['FitsExisting', 'TriggeredScaleUp']);
      const vns = await listVPSieNodes(sb, ns);
      expect(vns, 'VPSieNodes after three batches of 1, 2 and 2 pods of 500m').to.have.length(2);
      expect(
        vns.every((v) => v.phase !== 'Ready'),
        'both still booting',
      ).to.equal(true);
      // (scaleup-holds-in-flight-room.json was recorded before the scale-up-follow-ups-not-deferred patch,
      // scaleup-holds-in-flight-room-no-deferral.json before scale-up-plans-in-activity.)
      recordScaleUpHistory(sb, second[0]!.run, 'scaleup-holds-in-flight-room-plans-in-activity');

      // The machines boot: every pod runs on the two nodes.
      await setBootDelay(bootDelayMs);
      const pods = await eventually(
        '5 pods Running',
        180_000,
        async () => {
          const l = (await sb.core.listNamespacedPod({ namespace: ns })).items;
          return l.length === 5 && l.every((p) => p.status?.phase === 'Running') ? l : undefined;
        },
        1000,
      );
      expect(new Set(pods.map((p) => p.spec?.nodeName))).to.have.property('size', 2);
      expect((await listVPSieNodes(sb, ns)).filter((v) => !v.deleting)).to.have.length(2);
    });
  });

  describe('two NodeGroups with different labels and taints, and a pod no group can host', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('su2g');
      h = await startHarness(sb, ns);
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('each group gets only the pods it can host; the misfit gets NotTriggerScaleUp with the reason and causes no machine', async () => {
      const blue = uniqueName('blue');
      const green = uniqueName('green');
      const bluePool = `blue-${ns}`;
      const greenPool = `green-${ns}`;
      await createNodeGroup(sb, ns, blue, { maxNodes: 5, offeringIDs: ['small-2cpu-4gb'], labels: { 'vpsie.test/pool': bluePool } });
      await createNodeGroup(sb, ns, green, {
        maxNodes: 5,
        offeringIDs: ['medium-4cpu-8gb'],
        labels: { 'vpsie.test/pool': greenPool },
        taints: [{ key: 'vpsie.test/dedicated', value: 'green', effect: 'NoSchedule' }],
      });
      await createDeployment(sb, ns, 'blue', 3, { nodeSelector: { 'vpsie.test/pool': bluePool }, containers: [container('600m', '256Mi')] });
      await createDeployment(sb, ns, 'green', 3, {
        nodeSelector: { 'vpsie.test/pool': greenPool },
        tolerations: [{ key: 'vpsie.test/dedicated', operator: 'Equal', value: 'green', effect: 'NoSchedule' }],
        containers: [container('600m', '256Mi')],
      });
      // Selects the green pool but does not tolerate its taint; and one selecting a pool nobody has.
      await createDeployment(sb, ns, 'untolerated', 1, { nodeSelector: { 'vpsie.test/pool': greenPool }, containers: [container('100m', '64Mi')] });
      await createDeployment(sb, ns, 'nowhere', 1, { nodeSelector: { 'vpsie.test/pool': `purple-${ns}` }, containers: [container('100m', '64Mi')] });

      const pods = await eventually(
        'blue and green pods Running',
        300_000,
        async () => {
          const l = await runningPods(ns);
          const want = l.filter((p) => p.labels.app === 'blue' || p.labels.app === 'green');
          return want.length === 6 && want.every((p) => p.phase === 'Running') ? l : undefined;
        },
        1000,
      );
      const vns = await listVPSieNodes(sb, ns);
      const groupOf = new Map(vns.map((v) => [v.name, v.group]));
      for (const p of pods.filter((x) => x.labels.app === 'blue')) expect(groupOf.get(p.node), p.name).to.equal(blue);
      for (const p of pods.filter((x) => x.labels.app === 'green')) expect(groupOf.get(p.node), p.name).to.equal(green);

      const events = await eventually('NotTriggerScaleUp on both misfits', 60_000, async () => {
        const e = await podEvents(sb, ns);
        const misfits = pods.filter((p) => p.labels.app === 'untolerated' || p.labels.app === 'nowhere');
        return misfits.every((p) => e.get(p.name)?.some((x) => x.reason === 'NotTriggerScaleUp')) ? e : undefined;
      });
      const untolerated = pods.find((p) => p.labels.app === 'untolerated')!;
      const nowhere = pods.find((p) => p.labels.app === 'nowhere')!;
      expect(events.get(untolerated.name)!.find((e) => e.reason === 'NotTriggerScaleUp')!.message).to.match(/TaintNotTolerated/);
      expect(events.get(nowhere.name)!.find((e) => e.reason === 'NotTriggerScaleUp')!.message).to.match(/NoGroupMatchesSelector/);
      expect(untolerated.phase).to.equal('Pending');
      expect(nowhere.phase).to.equal('Pending');
      // The misfits are in no VPSieNode's pod list, and every machine belongs to one of the two groups' VPSieNodes.
      const remembered = vns.flatMap((v) => JSON.parse(v.annotations[TRIGGERED_PODS_ANNOTATION] ?? '[]') as string[]);
      const misfitUids = (await sb.core.listNamespacedPod({ namespace: ns })).items
        .filter((p) => p.metadata?.labels?.app === 'untolerated' || p.metadata?.labels?.app === 'nowhere')
        .map((p) => p.metadata!.uid!);
      for (const u of misfitUids) expect(remembered).to.not.include(u);
      const record = h.records.flatMap((r) => r.pods).filter((p) => p.pod === `${ns}/${nowhere.name}`);
      expect(record.map((p) => p.reason)).to.include('NoGroupMatchesSelector');
      // Machines: exactly the VPSieNodes (blue: 600m x3 -> 2 small nodes at least; green: 1 medium).
      const machines = (await simMachines(sb)).filter((m) => vns.some((v) => v.name === m.hostname) && m.deletedAt === null);
      expect(machines.length).to.equal(vns.length);
      expect(vns.filter((v) => v.group === green)).to.have.length(1);
    });
  });

  describe('a pod no group can host, then a NodeGroup that can', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('suback');
      // A back-off far longer than the test: only the new group can end it.
      h = await startHarness(sb, ns, { SCALE_UP_UNPLACEABLE_BACKOFF_SECONDS: '3600' });
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('the pod backed off as unplaceable (no NodeGroup yet) gets a node as soon as a matching group is created', async () => {
      const pool = `late-${ns}`;
      await createDeployment(sb, ns, 'late', 1, { nodeSelector: { 'vpsie.test/pool': pool }, containers: [container('500m', '256Mi')] });
      await eventually('the pod reported NoNodeGroups', 60_000, async () =>
        h.records.some((r) => r.pods.some((p) => p.pod.startsWith(`${ns}/late-`) && p.reason === 'NoNodeGroups')) ? true : undefined,
      );
      const runsBefore = h.batches.length;
      await createNodeGroup(sb, ns, uniqueName('late'), { maxNodes: 2, offeringIDs: ['small-2cpu-4gb'], labels: { 'vpsie.test/pool': pool } });
      const pods = await eventually(
        'the pod Running on a node of the new group',
        120_000,
        async () => {
          const l = await runningPods(ns);
          return l.length === 1 && l[0]!.phase === 'Running' ? l : undefined;
        },
        1000,
      );
      const vns = await listVPSieNodes(sb, ns);
      expect(vns.map((v) => v.name)).to.include(pods[0]!.node);
      expect(h.batches.length, 'a new scale-up run after the group appeared').to.be.greaterThan(runsBefore);
      // The snapshots read pods and Nodes from the process's informers, not a list per batch.
      const reads = (await h.registry.getSingleMetric('vpsie_autoscaler_scale_up_snapshot_reads_total')?.get())?.values ?? [];
      const from = (source: string) => reads.filter((v) => v.labels.source === source).reduce((n, v) => n + v.value, 0);
      expect(from('cache'), `snapshots served by the caches (${from('apiserver')} listed instead)`).to.be.greaterThan(0);
    });
  });

  describe('20 concurrent bursts', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('su20');
      // One batch per burst (3 pods), so 20 scale-up runs race for the same group.
      h = await startHarness(sb, ns, { SCALE_UP_BATCH_MAX_PODS: '3', SCALE_UP_BATCH_IDLE_MS: '100', SCALE_UP_BATCH_MAX_MS: '500' });
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('never exceed maxNodes; the pods left over get NotTriggerScaleUp MaxNodesReached', async () => {
      const group = uniqueName('burst');
      const pool = `burst-${ns}`;
      const maxNodes = 4;
      await createNodeGroup(sb, ns, group, {
        maxNodes,
        offeringIDs: ['small-2cpu-4gb'],
        labels: { 'vpsie.test/pool': pool },
        scaleUpPolicy: { stabilizationWindowSeconds: 0 },
      });
      let maxSeen = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const vns = (await listVPSieNodes(sb, ns)).filter((v) => v.group === group && !v.deleting);
          maxSeen = Math.max(maxSeen, vns.length);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      // 20 bursts of 3 pods of 1500m: each pod needs a node of its own (60 nodes asked, 4 allowed).
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          createDeployment(sb, ns, `burst-${i}`, 3, { nodeSelector: { 'vpsie.test/pool': pool }, containers: [container('1500m', '256Mi')] }),
        ),
      );
      await eventually(
        'maxNodes pods Running and refusals reported',
        300_000,
        async () => {
          const l = await runningPods(ns);
          const running = l.filter((p) => p.phase === 'Running').length;
          const e = await podEvents(sb, ns);
          const refused = [...e.values()].filter((x) => x.some((y) => y.reason === 'NotTriggerScaleUp' && /MaxNodesReached/.test(y.message))).length;
          return running === maxNodes && refused > 0 && h.batches.length >= 10 ? true : undefined;
        },
        1000,
      );
      // settle a little more while the runs still racing finish
      await eventually('no run in flight', 60_000, async () => (h.records.length >= h.batches.length ? true : undefined), 500).catch(() => undefined);
      sampling = false;
      await sampler;
      const vns = (await listVPSieNodes(sb, ns)).filter((v) => v.group === group);
      expect(maxSeen, 'VPSieNodes of the group ever seen at once').to.be.at.most(maxNodes);
      expect(vns.length).to.equal(maxNodes);
      const machines = (await simMachines(sb)).filter((m) => m.hostname.startsWith(group) || vns.some((v) => v.name === m.hostname));
      expect(machines.filter((m) => m.deletedAt === null).length).to.be.at.most(maxNodes);
      expect(h.batches.length, 'concurrent runs').to.be.at.least(10);
      process.stderr.write(`      20 bursts: ${h.batches.length} runs, max ${maxSeen} VPSieNodes at once (max ${maxNodes}), ${machines.length} machines\n`);
    });
  });
});
