/**
 * Issue #17, scheduling simulation: the scale-up planner honours extended resources, hostPort
 * conflicts and node pressure on the real sandbox (kube-scheduler, kwok nodes, the VPSie
 * simulator), with the orchestrator in process.
 *
 * - A pod requesting `nvidia.com/gpu` in a group whose offerings have no GPU gets no node, while a
 *   plain pod submitted with it gets one; the GPU pod's Event names ExtendedResourceNotOffered.
 * - Two pending pods with the same hostPort get a node each; a third gets a new node although the
 *   two nodes have room, since both hold the port.
 * - A Ready node under MemoryPressure is no room: a pending pod that would fit on it gets a new
 *   node. kwok's heartbeat stage rewrites a node's conditions to its defaults only after a delay of
 *   at least 600 s from the node's last update (sandbox/kwok/stages/node-heartbeat-with-lease.yaml),
 *   so a patched condition holds for the test; it is checked again at the end.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ScaleUpRecord } from '../../../../decision/nodes/scale-up/record';
import { NODEGROUP_LABEL } from '../../../../lib/crds/autoscaler';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { groupVNs } from '../../../support/orchestrator';
import { cleanup, container, createNodeGroup, eventually, podEvents, startHarness, type Harness } from './helpers';

const POOL_KEY = 'vpsie.test/pool';

type PodOutcome = ScaleUpRecord['pods'][number];

describe('scale-up honours scheduling constraints (real sandbox, orchestrator in process)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
  });

  async function createPod(ns: string, name: string, spec: k8s.V1PodSpec): Promise<string> {
    const p = await sb.core.createNamespacedPod({ namespace: ns, body: { metadata: { name, namespace: ns, labels: { app: name } }, spec } });
    return p.metadata!.uid!;
  }

  async function readPod(ns: string, name: string): Promise<k8s.V1Pod> {
    return sb.core.readNamespacedPod({ namespace: ns, name });
  }

  /** The node the pod runs on; on time-out, the error carries the harness's decisions. */
  async function runningOn(ns: string, name: string, h: Harness, ms = 240_000): Promise<string> {
    try {
      return await eventually(
        `pod ${name} Running`,
        ms,
        async () => {
          const p = await readPod(ns, name);
          return p.status?.phase === 'Running' && p.spec?.nodeName ? p.spec.nodeName : undefined;
        },
        500,
      );
    } catch (err) {
      const decisions = h.records.map((r) => ({ run: r.workflowId, pods: r.pods.map((p) => `${p.pod} ${p.outcome} ${p.reason}: ${p.message}`) }));
      throw new Error(`${String(err)}; decisions: ${JSON.stringify(decisions)}`);
    }
  }

  /** Every decision about the pod, in the order the runs reported them. */
  function outcomesOf(h: Harness, uid: string): PodOutcome[] {
    return h.records.flatMap((r) => r.pods.filter((p) => p.uid === uid));
  }

  /**
   * The VPSieNode the pod triggered, after checking that it triggered exactly one and was never
   * placed elsewhere: a later run may see it riding on that node (FitsInFlightNode / FitsExistingNode
   * naming it), never on another.
   */
  function ownNode(h: Harness, uid: string): string {
    const os = outcomesOf(h, uid);
    const triggered = os.flatMap((o) => (o.outcome === 'TriggeredScaleUp' ? [o.vpsieNode] : []));
    expect(triggered, `pod ${uid} triggered one node: ${JSON.stringify(os)}`).to.have.length(1);
    const elsewhere = os.filter((o) => o.outcome === 'NotTriggerScaleUp' || (o.outcome === 'FitsExisting' && o.node !== triggered[0]));
    expect(elsewhere, `pod ${uid} decided elsewhere`).to.deep.equal([]);
    return triggered[0]!;
  }

  /**
   * The Nodes of the group's live VPSieNodes, once each has recorded its Node (a pod may run on a
   * Node before its VPSieNode's status names it).
   */
  async function groupNodeNames(ns: string, group: string): Promise<string[]> {
    return eventually(
      `the VPSieNodes of ${group} naming their Nodes`,
      60_000,
      async () => {
        const vns = (await groupVNs(sb, ns, group)).filter((v) => !v.deleting);
        return vns.every((v) => v.nodeName) ? vns.map((v) => v.nodeName!).sort() : undefined;
      },
      500,
    );
  }

  describe('extended resources', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('su-gpu');
      h = await startHarness(sb, ns);
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('a GPU pod gets no node of a group without GPUs (ExtendedResourceNotOffered) while a plain pod submitted with it gets one', async () => {
      const group = uniqueName('gpu');
      const pool = `gpu-${ns}`;
      await createNodeGroup(sb, ns, group, {
        maxNodes: 5,
        offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'],
        labels: { [POOL_KEY]: pool },
        scaleUpPolicy: { stabilizationWindowSeconds: 0 },
      });
      const gpuContainer: k8s.V1Container = {
        name: 'app',
        image: 'registry.example/cuda:1',
        resources: { requests: { cpu: '500m', memory: '512Mi', 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } },
      };
      const gpuUid = await createPod(ns, 'trainer', { nodeSelector: { [POOL_KEY]: pool }, containers: [gpuContainer] });
      const plainUid = await createPod(ns, 'web', { nodeSelector: { [POOL_KEY]: pool }, containers: [container('500m', '512Mi')] });

      // The plain pod gets its node: a scale-up of this group has happened meanwhile.
      const node = await runningOn(ns, 'web', h);
      expect(outcomesOf(h, plainUid).map((o) => o.outcome)).to.include('TriggeredScaleUp');

      // The GPU pod is decided (and named) in a run, never triggers, and its Event says why.
      const gpuOutcome = await eventually('a decision about the GPU pod', 120_000, async () => outcomesOf(h, gpuUid)[0]);
      const event = await eventually(
        'the GPU pod Event',
        60_000,
        async () => (await podEvents(sb, ns)).get('trainer')?.find((e) => e.reason === 'NotTriggerScaleUp'),
        500,
      );
      expect(gpuOutcome.outcome).to.equal('NotTriggerScaleUp');
      expect(gpuOutcome.reason).to.equal('ExtendedResourceNotOffered');
      expect(gpuOutcome.message).to.include('nvidia.com/gpu');
      expect(gpuOutcome.numbers).to.include({ 'requested:nvidia.com/gpu': 1, 'largestOffered:nvidia.com/gpu': 0 });
      expect(event.message).to.include('ExtendedResourceNotOffered');
      expect(event.message).to.include('nvidia.com/gpu');

      // Every decision about it says the same; the group has the plain pod's node only.
      const all = outcomesOf(h, gpuUid);
      expect(all.map((o) => o.outcome)).to.not.include('TriggeredScaleUp');
      expect([...new Set(all.map((o) => (o.outcome === 'NotTriggerScaleUp' ? o.reason : o.outcome)))]).to.deep.equal(['ExtendedResourceNotOffered']);
      const gpuPod = await readPod(ns, 'trainer');
      expect(gpuPod.status?.phase).to.equal('Pending');
      expect(gpuPod.spec?.nodeName ?? '').to.equal('');
      expect(await groupNodeNames(ns, group)).to.deep.equal([node]);
    });
  });

  describe('host ports', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('su-hostport');
      h = await startHarness(sb, ns);
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('two pending pods with the same hostPort get a node each; a third gets a new node although both have room', async () => {
      const group = uniqueName('hp');
      const pool = `hp-${ns}`;
      await createNodeGroup(sb, ns, group, {
        maxNodes: 5,
        offeringIDs: ['small-2cpu-4gb'],
        labels: { [POOL_KEY]: pool },
        scaleUpPolicy: { stabilizationWindowSeconds: 0 },
      });
      // 100m / 64Mi: twenty of them fit a small node; only the port keeps them apart.
      const spec = (): k8s.V1PodSpec => ({
        nodeSelector: { [POOL_KEY]: pool },
        containers: [{ ...container('100m', '64Mi'), ports: [{ containerPort: 8080, hostPort: 8080, protocol: 'TCP' }] }],
      });
      const uids = await Promise.all([createPod(ns, 'agent-a', spec()), createPod(ns, 'agent-b', spec())]);
      const nodes = await Promise.all([runningOn(ns, 'agent-a', h), runningOn(ns, 'agent-b', h)]);
      expect(nodes[0]).to.not.equal(nodes[1]);

      // Each pod triggered a node of its own: the planner never put the second on the first's node.
      const triggered = uids.map((u) => ownNode(h, u));
      expect(new Set(triggered).size).to.equal(2);
      expect(await groupNodeNames(ns, group)).to.deep.equal([...nodes].sort());

      // Both nodes have room for a third such pod but hold its port: it gets a third node.
      const third = await createPod(ns, 'agent-c', spec());
      const node3 = await runningOn(ns, 'agent-c', h);
      expect(nodes).to.not.include(node3);
      expect(ownNode(h, third)).to.equal(node3);
      expect(await groupNodeNames(ns, group)).to.deep.equal([...nodes, node3].sort());
    });
  });

  describe('node pressure', () => {
    let ns: string;
    let h: Harness;
    before(async () => {
      ns = await sb.namespace('su-pressure');
      h = await startHarness(sb, ns);
    });
    after(async () => {
      await cleanup(sb, ns);
      await h.stop();
    });

    it('a Ready node under MemoryPressure is no room: a pending pod that would fit on it gets a new node', async () => {
      const group = uniqueName('mp');
      const pool = `mp-${ns}`;
      await createNodeGroup(sb, ns, group, {
        minNodes: 1,
        maxNodes: 3,
        offeringIDs: ['small-2cpu-4gb'],
        labels: { [POOL_KEY]: pool },
        scaleUpPolicy: { stabilizationWindowSeconds: 0 },
      });
      const readyNode = (n: k8s.V1Node): boolean => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      const first = await eventually(
        'the minNodes node Ready',
        180_000,
        async () => {
          const l = (await sb.core.listNode({ labelSelector: `${POOL_KEY}=${pool}` })).items.filter(readyNode);
          return l.length === 1 ? l[0]!.metadata!.name! : undefined;
        },
        500,
      );
      expect((await sb.core.readNode({ name: first })).metadata?.labels?.[NODEGROUP_LABEL]).to.equal(group);

      // The kubelet's report, as kwok would carry it: memory pressure, still Ready.
      const memoryPressure = (n: k8s.V1Node): boolean => (n.status?.conditions ?? []).some((c) => c.type === 'MemoryPressure' && c.status === 'True');
      const now = new Date().toISOString();
      await sb.core.patchNodeStatus(
        {
          name: first,
          body: {
            status: {
              conditions: [
                {
                  type: 'MemoryPressure',
                  status: 'True',
                  reason: 'KubeletHasInsufficientMemory',
                  message: 'kubelet has insufficient memory available',
                  lastHeartbeatTime: now,
                  lastTransitionTime: now,
                },
              ],
            },
          },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      );
      const pressured = await sb.core.readNode({ name: first });
      expect(memoryPressure(pressured)).to.equal(true);
      expect(readyNode(pressured)).to.equal(true);
      // The node lifecycle controller taints it (TaintNodesByCondition), so kube-scheduler keeps
      // pods away from it: the pod is submitted once that holds.
      await eventually(
        'the memory-pressure taint',
        60_000,
        async () =>
          (await sb.core.readNode({ name: first })).spec?.taints?.some((t) => t.key === 'node.kubernetes.io/memory-pressure' && t.effect === 'NoSchedule')
            ? true
            : undefined,
        500,
      );

      // 500m / 512Mi: the empty small node would have room for it.
      const uid = await createPod(ns, 'cache', { nodeSelector: { [POOL_KEY]: pool }, containers: [container('500m', '512Mi')] });
      const node = await runningOn(ns, 'cache', h);
      expect(node).to.not.equal(first);
      expect(ownNode(h, uid)).to.equal(node);
      expect(await groupNodeNames(ns, group)).to.deep.equal([first, node].sort());
      // The pressure held throughout (kwok did not rewrite the condition).
      expect(memoryPressure(await sb.core.readNode({ name: first }))).to.equal(true);
    });
  });
});
