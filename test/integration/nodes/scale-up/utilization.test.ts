/**
 * Issue #17 on the sandbox: scaleUpPolicy.cpuThreshold is real. A group whose one node uses 85 % of
 * its CPU (kwok's simulated usage, through metrics-server's NodeMetrics) with no pending pod gains
 * exactly one node after its stabilization window, none before; with the new node Ready its usage
 * falls under the threshold and no second node comes.
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { customApi, readGroup } from '../../../support/orchestrator';
import { GROUP, VERSION } from '../../../../lib/crds/autoscaler';
import { parseCpuMilli } from '../../../../decision/scheduling/quantity';
import {
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from '../scale-down/helpers';

const WINDOW_SECONDS = 60;

describe('scale-up by utilisation: usage above scaleUpPolicy thresholds for the window adds one node (sandbox)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('util-up');
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  it('a group at 85 % CPU usage with no pending pods gains one node after its window and none before; then holds', async () => {
    // (the orchestrator runs no scale-up trigger: no pending pod could add a node)
    const g = uniqueName('hot');
    orch = await startScaleDownOrchestrator(sb, ns);
    await createIsolatedGroup(sb, ns, g, {
      minNodes: 1,
      maxNodes: 3,
      scaleUpPolicy: { enabled: true, cooldownSeconds: 0, stabilizationWindowSeconds: WINDOW_SECONDS, cpuThreshold: 80, memoryThreshold: 80 },
      scaleDownPolicy: { enabled: false },
    });
    const [first] = await waitGroupSize(sb, ns, g, 1);
    const node = await sb.core.readNode({ name: first as string });
    const allocCpu = parseCpuMilli(node.status?.allocatable?.cpu ?? '0');
    expect(allocCpu).to.be.greaterThan(0);
    // Requests are small (100m): only usage says the node is busy; the pod fits, nothing is pending.
    await createReplicaSet(sb, ns, 'hot', g, {
      cpu: '100m',
      nodeName: first as string,
      annotations: { 'kwok.x-k8s.io/usage-cpu': `${Math.round(allocCpu * 0.85)}m`, 'kwok.x-k8s.io/usage-memory': '64Mi' },
    });
    await waitPodsRunning(sb, ns, 1);
    expect((await sb.core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.status?.phase === 'Pending')).to.deep.equal([]);

    // Watch the loop's verdict and the group's size on every poll.
    const key = `${ns}/${g}`;
    let aboveStart: number | undefined;
    const sizes: { at: number; vns: number }[] = [];
    const asked = await eventually(
      'the utilisation scale-up',
      300_000,
      async () => {
        const [st, vns] = await Promise.all([loopState(sb, ns), groupVNs(sb, ns, g)]);
        sizes.push({ at: Date.now(), vns: vns.filter((v) => !v.deleting).length });
        const v = st.utilization?.verdicts.find((x) => x.group === key);
        if (v?.reason === 'StabilizationWindowPending' && st.lastDecisionAt !== undefined && aboveStart === undefined) {
          aboveStart = st.lastDecisionAt - (v.numbers.observedSeconds ?? 0) * 1000;
        }
        const ups = st.utilization?.scaleUps.filter((x) => x.group === key) ?? [];
        return ups.length > 0 ? ups : undefined;
      },
      500,
    );
    expect(aboveStart, 'the loop saw the group above the threshold before asking').to.be.a('number');
    expect(asked).to.have.length(1);
    const up = asked[0]!;
    expect(up.verdict.reason).to.equal('UtilizationAboveThreshold');
    expect(up.verdict.numbers.cpuPercent).to.be.within(80.01, 95);
    expect(up.verdict.numbers.observedSeconds).to.be.at.least(WINDOW_SECONDS);
    expect(up.verdict.numbers.windowSeconds).to.equal(WINDOW_SECONDS);
    expect(up.at - (aboveStart as number), 'asked only after the whole window').to.be.at.least(WINDOW_SECONDS * 1000 - 1000);
    expect(up.offeringID).to.equal('small-2cpu-4gb');
    expect(up.created).to.have.length(1);
    const created = up.created[0]!;

    // None before: every poll until the window ended saw one VPSieNode.
    const windowEnd = (aboveStart as number) + WINDOW_SECONDS * 1000;
    const before = sizes.filter((s) => s.at < windowEnd - 1000);
    expect(before.length, 'polls before the window ended').to.be.greaterThan(10);
    expect(
      before.every((s) => s.vns === 1),
      JSON.stringify(before.filter((s) => s.vns !== 1)),
    ).to.equal(true);
    const vn = (await customApi(sb).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'vpsienodes', name: created })) as {
      metadata: { creationTimestamp: string };
    };
    expect(Date.parse(vn.metadata.creationTimestamp), 'the VPSieNode was created after the window').to.be.at.least(windowEnd - 2000);

    // The reason and its numbers: Event on the NodeGroup, status.lastScaleUpDecision, the metric.
    const events = await eventually('UtilizationAboveThreshold Event', 30_000, async () => {
      const evs = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=NodeGroup,involvedObject.name=${g}` });
      const mine = evs.items.filter((e) => e.reason === 'UtilizationAboveThreshold');
      return mine.length > 0 ? mine : undefined;
    });
    expect(events).to.have.length(1);
    expect(events[0]?.message).to.match(/% cpu \/ .*% memory used over 1 Ready node\(s\), thresholds 80% \/ 80% for \d+s \(window 60s\)/);
    expect(events[0]?.message).to.include(`created ${created}`);
    const status = (await readGroup(sb, ns, g))?.status as { lastScaleUpDecision?: { reason: string; nodes?: string[] } } | undefined;
    expect(status?.lastScaleUpDecision?.reason).to.equal('UtilizationAboveThreshold');
    expect(status?.lastScaleUpDecision?.nodes).to.deep.equal([created]);
    const metricsText = await orch.deps.registry.metrics();
    expect(metricsText).to.match(new RegExp(`vpsie_autoscaler_utilization_scale_up_total\\{nodegroup="${key}"\\} 1`));
    expect(metricsText).to.match(new RegExp(`vpsie_autoscaler_nodegroup_usage\\{nodegroup="${key}",resource="cpu"\\} 0\\.[89]`));

    // With the new node Ready the group uses ~43 %: below the threshold, no second node, for more
    // than another full window. (A small pod on it: kwok reports no usage for a node without pods,
    // which metrics-server drops; a real kubelet always reports some, and unknown usage never scales up.)
    const both = await waitGroupSize(sb, ns, g, 2, 240_000);
    expect(both).to.include(first);
    await createReplicaSet(sb, ns, 'calm', g, {
      cpu: '100m',
      nodeName: both.find((n) => n !== first) as string,
      annotations: { 'kwok.x-k8s.io/usage-cpu': '20m', 'kwok.x-k8s.io/usage-memory': '32Mi' },
    });
    await waitPodsRunning(sb, ns, 2);
    const below = await eventually(
      'the group below the threshold for more than a window',
      240_000,
      async () => {
        const st = await loopState(sb, ns);
        const v = st.utilization?.verdicts.find((x) => x.group === key);
        expect((await groupVNs(sb, ns, g)).filter((x) => !x.deleting)).to.have.length(2);
        if (v?.reason !== 'BelowThreshold') return undefined;
        return v;
      },
      1000,
    );
    expect(below.numbers.readyNodes).to.equal(2);
    expect(below.numbers.cpuPercent).to.be.below(80);
    const quietFrom = Date.now();
    await eventually('another window of evaluations', 200_000, async () => Date.now() - quietFrom > (WINDOW_SECONDS + 10) * 1000, 2000);
    const st = await loopState(sb, ns);
    expect(st.utilization?.scaleUps.filter((x) => x.group === key)).to.have.length(1);
    expect((await groupVNs(sb, ns, g)).filter((x) => !x.deleting)).to.have.length(2);
  });
});
