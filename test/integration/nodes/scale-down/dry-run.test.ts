/**
 * Issue #7 on the sandbox: a NodeGroup with `spec.dryRun: true` and an idle node above minNodes.
 * The scale-down decision reports what it would remove (NodeGroup `Scaling` condition with reason
 * DryRun, a `DryRun` Event on the node, the loop's verdict) and nothing is cordoned, drained or
 * deleted over many decisions. Then dryRun is turned off and the same node setup does shrink, so
 * the dry-run result is not vacuous (the node really was removable).
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { liveMachinesOfNamespace, patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import {
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  nodeUnschedulable,
  podsOf,
  scalingCondition,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from './helpers';

describe('scale-down: a dry-run NodeGroup reports and removes nothing (sandbox)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('sd-dryrun');
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  it('names the idle node it would remove (DryRun condition, Event, verdict); nothing cordoned, evicted or deleted; without dryRun the node goes', async () => {
    const group = uniqueName('dry');
    orch = await startScaleDownOrchestrator(sb, ns);
    // Created without dryRun: a dry-run group does not create its minNodes nodes either.
    await createIsolatedGroup(sb, ns, group, { minNodes: 2, maxNodes: 3 });
    const nodes = await waitGroupSize(sb, ns, group, 2);
    // A small replicated pod on each node (5% cpu): both idle, and a drain would be visible.
    for (const [i, node] of nodes.entries()) await createReplicaSet(sb, ns, `app-${i}`, group, { nodeName: node });
    const podsBefore = (await waitPodsRunning(sb, ns, nodes.length)).map((p) => `${p.uid}@${p.node ?? ''}`).sort();
    const machinesBefore = (await liveMachinesOfNamespace(sb, ns)).map((m) => m.identifier).sort();
    expect(machinesBefore).to.have.length(2);

    await patchGroupSpec(sb, ns, group, { dryRun: true, minNodes: 1 });

    // The decision names one node it would remove: condition, verdict, Event.
    const cond = await eventually(
      'Scaling condition DryRun',
      90_000,
      async () => {
        const c = await scalingCondition(sb, ns, group);
        // The NodeGroup workflow writes its own DryRun condition ("spec.dryRun: ..."); the scale-down's is prefixed.
        return c?.reason === 'DryRun' && c.message.startsWith('scale-down: ') ? c : undefined;
      },
      300,
    );
    expect(cond.status).to.equal('False');
    const m = /^scale-down: dry run: would remove (\S+)$/.exec(cond.message);
    expect(m, `condition message: ${cond.message}`).to.not.equal(null);
    const victim = (m as RegExpExecArray)[1] as string;
    expect(nodes).to.include(victim);
    const other = nodes.find((n) => n !== victim) as string;

    const st = await loopState(sb, ns);
    expect(
      st.lastVerdicts.find((v) => v.node === victim),
      'verdict of the node it would remove',
    ).to.include({ outcome: 'dryRun', reason: 'DryRun', nodeGroup: group });
    // The dry-run removal is applied to the simulation like a real one: the other node is held
    // (its pod has nowhere left to go, and the group would fall below minNodes), not also "removed".
    // (A tick may have been read before it judged the other node: wait for one that did.)
    const otherVerdict = await eventually(
      `a verdict on ${other}`,
      30_000,
      async () => (await loopState(sb, ns)).lastVerdicts.find((v) => v.node === other),
      300,
    );
    expect(otherVerdict?.outcome).to.equal('blocked');
    expect(otherVerdict?.blockers).to.include('MinNodesReached');

    const event = await eventually(`DryRun Event on ${victim}`, 30_000, async () => (await nodeEventsOf(sb, victim)).find((e) => e.reason === 'DryRun'), 300);
    expect(event.type).to.equal('Normal');
    // Its numbers: utilisation, thresholds, window, and where the pod would go.
    expect(event.message).to.match(
      /^dry run: would remove node \(delete\); cpu \d+\.\d% memory \d+\.\d% \(thresholds 50%\/50%, window 4s\); 1 pod\(s\) to evict: /,
    );
    expect(event.message).to.include(`->${other}`);
    expect(
      (await nodeEventsOf(sb, victim)).map((e) => e.reason),
      'no approval, no removal outcome',
    ).to.not.include.members(['ScaleDownApproved', 'NodeRemovalRequested']);

    // Many more decisions (well past the 4 s window and 3 s cooldown): still nothing happens.
    const from = (await loopState(sb, ns)).iterations;
    let decisions = 0;
    // Violations are collected, not thrown inside the poll (eventually would retry past them).
    const violations = new Set<string>();
    await eventually(
      '10 more decisions',
      60_000,
      async () => {
        const s = await loopState(sb, ns);
        for (const r of [...s.inFlight, ...s.finished]) if (r.nodeGroup === group) violations.add(`removal ${r.id} started`);
        for (const n of nodes) if (await nodeUnschedulable(sb, n)) violations.add(`${n} cordoned`);
        for (const v of await groupVNs(sb, ns, group)) if (v.deleting) violations.add(`VPSieNode ${v.name} deleting`);
        const pods = await podsOf(sb, ns);
        for (const p of pods) if (p.deleting) violations.add(`pod ${p.name} evicted`);
        const now = pods.map((p) => `${p.uid}@${p.node ?? ''}`).sort();
        if (JSON.stringify(now) !== JSON.stringify(podsBefore)) violations.add(`pods changed: ${now.join(' ')}`);
        decisions = s.iterations - from;
        return decisions >= 10 ? true : undefined;
      },
      500,
    );
    expect([...violations], 'nothing done by a dry-run decision').to.deep.equal([]);
    expect((await loopState(sb, ns)).lastVerdicts.find((v) => v.node === victim)?.outcome, 'still reported').to.equal('dryRun');

    // After them: the group, its machines and the condition are as before.
    const vns = await groupVNs(sb, ns, group);
    expect(
      vns
        .filter((v) => v.phase === 'Ready' && !v.deleting)
        .map((v) => v.nodeName)
        .sort(),
    ).to.deep.equal([...nodes].sort());
    expect((await liveMachinesOfNamespace(sb, ns)).map((x) => x.identifier).sort()).to.deep.equal(machinesBefore);
    expect((await scalingCondition(sb, ns, group))?.reason).to.equal('DryRun');
    const metric = await orch.deps.registry.getSingleMetricAsString('vpsie_autoscaler_scale_down_total');
    expect(metric, 'no scale-down counted').to.not.include(`nodegroup="${ns}/${group}"`);

    // Control: the same group without dryRun shrinks to minNodes (the node was removable).
    await patchGroupSpec(sb, ns, group, { dryRun: false });
    const left = await waitGroupSize(sb, ns, group, 1);
    // The VPSieNode's deletion starts inside the removal workflow's NodeGroup update: wait for it to finish.
    const removed = await eventually(
      'the removal workflow finished',
      60_000,
      async () => {
        const s = await loopState(sb, ns);
        const mine = s.finished.filter((r) => r.nodeGroup === group);
        return mine.length > 0 && s.inFlight.every((r) => r.nodeGroup !== group) ? mine : undefined;
      },
      300,
    );
    expect(removed.map((r) => r.outcome)).to.deep.equal(['Removed']);
    expect(nodes).to.include.members([...left, ...(removed[0]?.nodes ?? [])]);
    await waitPodsRunning(sb, ns, 2);
    process.stderr.write(`      dry run: ${decisions} decisions naming ${victim}, nothing removed; without dryRun ${removed[0]?.nodes.join(',')} removed\n`);
  });
});
