/**
 * Issue #17 on the sandbox: the autoscaler metrics of document 001 §2.5.1 and of document 004's
 * observability box, scraped from the orchestrator's /metrics after one scale-up and one
 * scale-down of one NodeGroup: each counts its event once, under the one label convention
 * (`nodegroup` = `<namespace>/<name>`).
 *
 * A bare pod (no controller) that fits no node makes the scale-up (one node); the group's
 * scale-down is enabled once the pod runs there. On that node the pod keeps the scale-down's
 * safety checks failing for many ticks (counted once). A pod too large for any offering shows in
 * scheduling_constraints. Deleting the bare pod empties the node and the scale-down removes it.
 */
import { expect } from 'chai';
import type { ScaleUpRecord } from '../../../decision/nodes/scale-up/record';
import type { Orchestrator } from '../../../workers/orchestrator';
import { patchGroupSpec, startTestOrchestrator } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';
import { createBarePod, createIsolatedGroup, eventually, groupVNs, loopState, podsOf, stopScaleDown, waitGroupSize } from './scale-down/helpers';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (the lines that are samples). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe('autoscaler metrics on /metrics after a scale-up and a scale-down (sandbox)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('metrics');
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  async function scrape(): Promise<Sample[]> {
    const res = await fetch(`${orch!.metricsUrl}/metrics`);
    expect(res.status).to.equal(200);
    return parseExposition(await res.text());
  }
  /** The series of `name` whose labels include `labels`. */
  function series(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
    return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
  function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
    const found = series(samples, name, labels);
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} series`);
    return found[0]?.value;
  }

  it('counts the scale-up, the removal, the created and removed node once each, labelled namespace/name; safety failures once; gauges current', async () => {
    const group = uniqueName('mx');
    const label = `${ns}/${group}`;
    const ng = { nodegroup: label };
    const taskQueue = sb.taskQueue('metrics');
    const records: { at: number; r: ScaleUpRecord }[] = [];
    orch = await startTestOrchestrator(sb, ns, taskQueue, {
      scaleUpTrigger: { namespaces: [ns], nodePressure: false, onRecord: (r) => records.push({ at: Date.now(), r }) },
      env: { SCALE_DOWN_SAMPLE_SECONDS: '1', SCALE_DOWN_DRAIN_TIMEOUT_SECONDS: '20', SCALE_DOWN_MAX_GRACE_SECONDS: '0' },
    });
    expect(orch.metricsUrl).to.not.equal('');
    await createIsolatedGroup(sb, ns, group, {
      minNodes: 0,
      maxNodes: 2,
      scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 2, cooldownSeconds: 0 },
      // Off until the pod runs: a Ready node the scheduler has not yet bound the pod to is empty.
      scaleDownPolicy: { enabled: false, stabilizationWindowSeconds: 4, cooldownSeconds: 3, cpuThreshold: 50, memoryThreshold: 50 },
    });

    // ---- scale-up: a pending pod, one node ----
    await createBarePod(sb, ns, 'app', group, { cpu: '100m', memory: '64Mi' });
    const [node] = (await waitGroupSize(sb, ns, group, 1, 240_000)) as [string];
    await eventually(
      'the pod Running on the new node',
      120_000,
      async () => (await podsOf(sb, ns)).some((p) => p.name === 'app' && p.node === node && p.phase === 'Running'),
      500,
    ).catch(async (e: unknown) => {
      const nodes = (await sb.core.listNode()).items.map((n) => ({
        name: n.metadata?.name,
        unschedulable: n.spec?.unschedulable,
        taints: n.spec?.taints,
        ready: n.status?.conditions?.find((c) => c.type === 'Ready')?.status,
      }));
      const m = (await scrape()).filter((x) => x.labels.nodegroup === label && /created|scale_up|removed|scale_down_op/.test(x.name));
      throw new Error(
        `${String(e)}; node ${node}; pods ${JSON.stringify(await podsOf(sb, ns))}; nodes ${JSON.stringify(nodes.filter((n) => n.name?.startsWith(group)))}; vpsienodes ${JSON.stringify(await groupVNs(sb, ns, group))}; metrics ${JSON.stringify(m)}; records ${JSON.stringify(records.map(({ at, r }) => ({ at, id: r.workflowId, first: r.firstSignalAt, groups: r.groups.map((g) => [g.requestId, g.created]), pods: r.pods.map((p) => [p.pod, p.reason, p.message]) })))}`,
      );
    });
    const up = await eventually(
      'the scale-up counted and the group gauges current',
      60_000,
      async () => {
        const s = await scrape();
        return valueOf(s, 'vpsie_autoscaler_scale_up_total', ng) === 1 &&
          valueOf(s, 'vpsie_autoscaler_nodegroup_size_total', ng) === 1 &&
          valueOf(s, 'vpsie_autoscaler_nodegroup_nodes', { ...ng, state: 'Ready' }) === 1 &&
          valueOf(s, 'vpsie_autoscaler_pending_pods_gauge', {}) === 0
          ? s
          : undefined;
      },
      500,
    );
    expect(series(up, 'vpsie_autoscaler_scale_up_operations_total', ng).map((x) => [x.labels.outcome, x.value])).to.deep.equal([['Created', 1]]);
    expect(series(up, 'vpsie_autoscaler_nodes_created_total').map((x) => [x.labels, x.value])).to.deep.equal([[ng, 1]]);
    expect(valueOf(up, 'vpsie_autoscaler_nodegroup_desired_nodes', ng)).to.equal(1);
    expect(series(up, 'vpsie_autoscaler_scale_up_failures_total', ng).filter((x) => x.value !== 0)).to.deep.equal([]);
    expect(valueOf(up, 'vpsie_autoscaler_node_provisioning_duration_seconds_count', ng)).to.equal(1);
    expect(valueOf(up, 'vpsie_autoscaler_node_joining_duration_seconds_count', ng)).to.equal(1);
    expect(valueOf(up, 'vpsie_autoscaler_unschedulable_pods', ng)).to.equal(0);

    // ---- safety checks: the bare pod blocks the removal of its (underutilised) node, tick after tick ----
    await patchGroupSpec(sb, ns, group, { scaleDownPolicy: { enabled: true } });
    const blockedAt = await eventually(
      `node ${node} blocked by UnreplicatedPod`,
      120_000,
      async () => {
        const st = await loopState(sb, ns);
        const v = st.lastVerdicts.find((x) => x.node === node);
        return v?.outcome === 'blocked' && v.blockers.includes('UnreplicatedPod') ? st.iterations : undefined;
      },
      500,
    );
    // A pod too large for every offering: no scale-up, a scheduling constraint.
    await createBarePod(sb, ns, 'huge', group, { cpu: '512', memory: '64Mi' });
    const constrained = await eventually(
      'scheduling_constraints shows the pod no group can take',
      120_000,
      async () => {
        const s = await scrape();
        return valueOf(s, 'vpsie_autoscaler_scheduling_constraints', { nodegroup: 'none', reason: 'TooLargeForAnyOffering' }) === 1 ? s : undefined;
      },
      500,
    );
    expect(valueOf(constrained, 'vpsie_autoscaler_scale_up_total', ng)).to.equal(1);
    expect(series(constrained, 'vpsie_autoscaler_scale_up_operations_total', ng).map((x) => [x.labels.outcome, x.value])).to.deep.equal([['Created', 1]]);
    await sb.core.deleteNamespacedPod({ namespace: ns, name: 'huge', gracePeriodSeconds: 0 });
    await eventually('ten more scale-down ticks', 120_000, async () => (await loopState(sb, ns)).iterations >= blockedAt + 10, 500);
    const st = await loopState(sb, ns);
    expect(
      st.lastVerdicts.find((x) => x.node === node),
      'still blocked',
    ).to.include({ outcome: 'blocked' });
    const safety = series(await scrape(), 'vpsie_autoscaler_safety_check_failures_total', ng);
    expect(safety.map((x) => x.labels.reason)).to.include('UnreplicatedPod');
    // Each check that failed counted when it started failing, not on each of the ticks since.
    for (const x of safety) expect(x.value, `safety_check_failures_total ${x.labels.reason}`).to.equal(1);

    // ---- scale-down: the node emptied is removed ----
    await sb.core.deleteNamespacedPod({ namespace: ns, name: 'app', gracePeriodSeconds: 0 });
    await eventually('the group without VPSieNodes', 240_000, async () => (await groupVNs(sb, ns, group)).length === 0, 1000);
    const down = await eventually(
      'the removal counted and the group gauges current',
      60_000,
      async () => {
        const s = await scrape();
        return valueOf(s, 'vpsie_autoscaler_nodes_removed_total', ng) === 1 &&
          series(s, 'vpsie_autoscaler_scale_down_operations_total', ng).length > 0 &&
          valueOf(s, 'vpsie_autoscaler_nodegroup_size_total', ng) === 0
          ? s
          : undefined;
      },
      500,
    );
    expect(series(down, 'vpsie_autoscaler_scale_down_operations_total', ng).map((x) => [x.labels.outcome, x.value])).to.deep.equal([['Removed', 1]]);
    expect(valueOf(down, 'vpsie_autoscaler_scale_down_total', ng)).to.equal(1);
    expect(series(down, 'vpsie_autoscaler_scale_down_failures_total', ng).filter((x) => x.value !== 0)).to.deep.equal([]);
    // Each drain run observed once (the histogram is labelled by outcome only): the removal's drain
    // and the VPSieNode lifecycle's own drain on Terminating.
    const drains = await eventually(
      'one drain observation per drain run',
      60_000,
      async () => {
        const ids: string[] = [];
        const query = `WorkflowType = 'drainNodeWorkflow' AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`;
        for await (const w of sb.temporal.workflow.list({ query })) ids.push(w.workflowId);
        const observed = series(await scrape(), 'vpsie_autoscaler_node_drain_duration_seconds_count').reduce((n, x) => n + x.value, 0);
        return ids.length >= 1 && observed === ids.length ? ids : undefined;
      },
      1000,
    );
    expect(drains.length).to.be.within(1, 2);
    expect(
      series(down, 'vpsie_autoscaler_node_utilization', ng)
        .map((x) => x.labels.resource)
        .sort(),
    ).to.deep.equal(['cpu', 'memory']);
    // The scale-up side unchanged by the scale-down.
    expect(valueOf(down, 'vpsie_autoscaler_scale_up_total', ng)).to.equal(1);
    expect(series(down, 'vpsie_autoscaler_scale_up_operations_total', ng).map((x) => [x.labels.outcome, x.value])).to.deep.equal([['Created', 1]]);
    expect(series(down, 'vpsie_autoscaler_nodes_created_total').map((x) => [x.labels, x.value])).to.deep.equal([[ng, 1]]);
    for (const x of series(down, 'vpsie_autoscaler_safety_check_failures_total', ng)) expect(x.value, x.labels.reason).to.equal(1);

    // One label convention: every nodegroup label of every autoscaler series is namespace/name (or none).
    const labels = new Set(down.filter((s) => s.name.startsWith('vpsie_autoscaler_') && s.labels.nodegroup !== undefined).map((s) => s.labels.nodegroup));
    expect([...labels].filter((l) => l !== 'none' && l !== label)).to.deep.equal([]);
    expect([...labels]).to.include(label);
  });
});
