/**
 * Issue #7: each safety rule, alone, blocks a removal on the sandbox, with its reason in the
 * NodeGroup `Scaling` condition and in an Event on the node.
 *
 * Every case is its own NodeGroup (isolated by a label + taint of its own, so pods can only move
 * inside it) with two nodes: A carries the pod (or annotation) under test, B a pinned 1200m pod
 * (60% cpu: never a candidate, with room for A's pods). So A is the only candidate, and the only
 * rule failing on it is the rule under test. All cases run at once under one orchestrator.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ScaleDownReason } from '../../../../decision/nodes/scale-down';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createBarePod,
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  podsOf,
  scalingCondition,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
} from './helpers';

interface Case {
  reason: ScaleDownReason;
  /** Puts the offending pod/annotation on node A; `ns` is the test namespace. */
  setup(sb: TestSandbox, ns: string, group: string, a: string, cleanups: (() => Promise<void>)[]): Promise<void>;
  /** Leave minNodes at 2 (the minNodes case). */
  keepMin?: boolean;
}

const ALL_CASES: Case[] = [
  {
    reason: 'ScaleDownDisabledAnnotation',
    async setup(sb, ns, group, a) {
      await sb.core.patchNode(
        { name: a, body: { metadata: { annotations: { 'autoscaler.vpsie.com/scale-down-disabled': 'true' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a });
    },
  },
  {
    reason: 'NotSafeToEvictAnnotation',
    setup: (sb, ns, group, a) =>
      createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a, annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' } }),
  },
  {
    reason: 'DoNotDisruptAnnotation',
    setup: (sb, ns, group, a) => createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a, annotations: { 'karpenter.sh/do-not-disrupt': 'true' } }),
  },
  {
    reason: 'LocalStorage',
    setup: (sb, ns, group, a) => createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a, volumes: [{ name: 'scratch', emptyDir: {} }] }),
  },
  {
    reason: 'KubeSystemPodWithoutPDB',
    async setup(sb, _ns, group, a, cleanups) {
      await createReplicaSet(sb, 'kube-system', `${group}-sys`, group, { nodeName: a });
      cleanups.push(async () => {
        await sb.kc
          .makeApiClient(k8s.AppsV1Api)
          .deleteNamespacedReplicaSet({ name: `${group}-sys`, namespace: 'kube-system' })
          .catch(() => undefined);
      });
    },
  },
  {
    reason: 'UnreplicatedPod',
    setup: (sb, ns, group, a) => createBarePod(sb, ns, `${group}-bare`, group, { nodeName: a }),
  },
  {
    reason: 'PodDisruptionBudget',
    async setup(sb, ns, group, a) {
      await createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a, labels: { pdb: group } });
      await sb.kc.makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: { metadata: { name: `${group}-pdb` }, spec: { maxUnavailable: 0, selector: { matchLabels: { pdb: group } } } },
      });
    },
  },
  {
    reason: 'NoPlaceToMove',
    // 900m (45%: a candidate) does not fit next to B's 1200m on a 2-cpu node.
    setup: (sb, ns, group, a) => createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a, cpu: '900m' }),
  },
  {
    reason: 'AntiAffinityUnsatisfiable',
    setup: (sb, ns, group, a) =>
      createReplicaSet(sb, ns, `${group}-app`, group, {
        nodeName: a,
        labels: { role: `${group}-db` },
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { role: `${group}-db` } } },
            ],
          },
        },
      }),
  },
  {
    reason: 'MinNodesReached',
    keepMin: true,
    setup: (sb, ns, group, a) => createReplicaSet(sb, ns, `${group}-app`, group, { nodeName: a }),
  },
];

const CASES = process.env.SD_CASES ? ALL_CASES.filter((c) => (process.env.SD_CASES ?? '').split(',').includes(c.reason)) : ALL_CASES;

describe('scale-down: each safety rule blocks alone (sandbox)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('sd-safety');
    orch = await startScaleDownOrchestrator(sb, ns);
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
    for (const c of cleanups) await c();
  });

  it(`blocks with the one expected reason, visible in status and Events: ${CASES.map((c) => c.reason).join(', ')}`, async () => {
    const results = await Promise.all(
      CASES.map(async (c) => {
        const group = uniqueName(c.reason.toLowerCase().slice(0, 12));
        await createIsolatedGroup(sb, ns, group, { minNodes: 2, maxNodes: 3 });
        const [a, b] = (await waitGroupSize(sb, ns, group, 2)) as [string, string];
        // B: busy and pinned; for the anti-affinity case it carries the label A's pod repels.
        await createReplicaSet(sb, ns, `${group}-busy`, group, {
          nodeName: b,
          cpu: '1200m',
          ...(c.reason === 'AntiAffinityUnsatisfiable' ? { labels: { role: `${group}-db` } } : {}),
        });
        await c.setup(sb, ns, group, a, cleanups);
        // A's pod must be there before minNodes allows a removal (an empty A would rightly go).
        await eventually(
          `${c.reason}: pod running on ${a}`,
          60_000,
          async () => {
            const pods = (await sb.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${a}` })).items;
            return pods.some((p) => p.status?.phase === 'Running') ? true : undefined;
          },
          300,
        );
        if (!c.keepMin) await patchGroupSpec(sb, ns, group, { minNodes: 1 });

        // Decisions from snapshots taken after the setup (an activity in flight may predate it).
        const n0 = (await loopState(sb, ns)).iterations;
        const verdict = await eventually(
          `${c.reason}: node ${a} blocked`,
          90_000,
          async () => {
            const st = await loopState(sb, ns);
            const v = st.lastVerdicts.find((x) => x.node === a);
            if (process.env.SD_DEBUG)
              process.stderr.write(`${c.reason} ${st.iterations} ${JSON.stringify(v)} ${JSON.stringify(st.finished.filter((f) => f.nodeGroup === group))}\n`);
            // A decision from before the loop saw minNodes lowered still names MinNodesReached: wait for one after it.
            const minSeen = c.keepMin || !(v?.blockers ?? []).includes('MinNodesReached');
            return st.iterations >= n0 + 2 && v?.outcome === 'blocked' && v.reason !== 'ScaleUpCooldown' && minSeen ? v : undefined;
          },
          500,
        );
        const cond = await eventually(
          `${c.reason}: Scaling condition names it`,
          60_000,
          async () => {
            const s = await scalingCondition(sb, ns, group);
            return s && s.message.includes(`${a}: ${c.reason}`) ? s : undefined;
          },
          500,
        );
        // The Event is rewritten when the node's set of failing rules changes (minNodes patched late).
        const event = await eventually(
          `${c.reason}: Event on node ${a} naming it alone`,
          60_000,
          async () => (await nodeEventsOf(sb, a)).find((e) => e.reason === c.reason && !e.message.includes(' more: ')),
          500,
        );
        // A few more decisions: still blocked, nothing removed, nothing evicted.
        const before = (await podsOf(sb, ns))
          .filter((p) => p.node === a)
          .map((p) => p.uid)
          .sort();
        const iter = (await loopState(sb, ns)).iterations;
        await eventually('three more decisions', 30_000, async () => ((await loopState(sb, ns)).iterations >= iter + 3 ? true : undefined), 300);
        const after = (await podsOf(sb, ns))
          .filter((p) => p.node === a && !p.deleting)
          .map((p) => p.uid)
          .sort();
        const vns = await groupVNs(sb, ns, group);
        return { c, a, verdict, cond, event, before, after, deleting: vns.filter((v) => v.deleting).map((v) => v.name) };
      }),
    );
    for (const r of results) {
      expect(r.verdict.blockers, `${r.c.reason}: the only failing rule`).to.deep.equal([r.c.reason]);
      expect(r.cond.reason, r.c.reason).to.equal('NotScaling');
      expect(r.event.message, r.c.reason).to.match(/^scale-down blocked: /);
      expect(r.event.message, `${r.c.reason}: one rule only`).not.to.include(' more: ');
      expect(r.deleting, `${r.c.reason}: no VPSieNode deleted`).to.deep.equal([]);
      expect(r.after, `${r.c.reason}: no pod evicted`).to.deep.equal(r.before);
      expect(await sb.core.readNode({ name: r.a }).then((n) => n.spec?.unschedulable ?? false), `${r.c.reason}: not cordoned`).to.equal(false);
    }
  });
});
