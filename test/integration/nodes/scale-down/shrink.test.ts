/**
 * Issue #7 on the sandbox: an idle group shrinks to minNodes after the stabilisation window, one
 * node at a time (drain child first, then the NodeGroup removes the VPSieNode and the lifecycle
 * terminates the machine); a busy group (every node over the threshold) does not move.
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { patchGroupSpec } from '../../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { scaleDownWorkflowId } from '../../../../workflows/nodes/scale-down/loop';
import {
  maybeRecordHistory,
  createIsolatedGroup,
  createReplicaSet,
  eventually,
  groupVNs,
  loopState,
  nodeEventsOf,
  startScaleDownOrchestrator,
  stopScaleDown,
  waitGroupSize,
  waitPodsRunning,
} from './helpers';

describe('scale-down: idle group shrinks, busy group holds (sandbox)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('sd-shrink');
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  it('removes idle nodes down to minNodes after the window, never touches the busy group', async () => {
    const idle = uniqueName('idle');
    const busy = uniqueName('busy');
    orch = await startScaleDownOrchestrator(sb, ns);
    await createIsolatedGroup(sb, ns, idle, { minNodes: 3, maxNodes: 5 });
    await createIsolatedGroup(sb, ns, busy, { minNodes: 2, maxNodes: 5 });
    const idleNodes = await waitGroupSize(sb, ns, idle, 3);
    const busyNodes = await waitGroupSize(sb, ns, busy, 2);
    // Busy: 1200m of 2000m cpu requested on each node (60% > the 50% threshold).
    for (const [i, node] of busyNodes.entries()) await createReplicaSet(sb, ns, `busy-${i}`, busy, { cpu: '1200m', nodeName: node });
    await waitPodsRunning(sb, ns, busyNodes.length);

    const started = Date.now();
    await patchGroupSpec(sb, ns, idle, { minNodes: 1 });
    await patchGroupSpec(sb, ns, busy, { minNodes: 1 });

    // Watch both groups until the idle one is at minNodes; the busy one must never lose a node.
    let maxConcurrentRemovals = 0;
    const left = await eventually(
      'idle group at minNodes 1',
      180_000,
      async () => {
        const [ivns, bvns] = await Promise.all([groupVNs(sb, ns, idle), groupVNs(sb, ns, busy)]);
        expect(
          bvns.filter((v) => v.deleting),
          'busy group VPSieNodes being deleted',
        ).to.deep.equal([]);
        maxConcurrentRemovals = Math.max(maxConcurrentRemovals, ivns.filter((v) => v.deleting).length);
        return ivns.length === 1 && !ivns[0]?.deleting && ivns[0]?.phase === 'Ready' ? ivns : undefined;
      },
      300,
    );
    const seconds = (Date.now() - started) / 1000;
    expect(seconds, 'not before the 4 s window').to.be.greaterThan(4);
    expect(maxConcurrentRemovals, 'disruption budget: one node at a time').to.be.at.most(1);
    expect(idleNodes).to.include(left[0]?.nodeName);

    // The busy group: nodes were never candidates; still 2 Ready nodes.
    expect((await groupVNs(sb, ns, busy)).filter((v) => v.phase === 'Ready' && !v.deleting)).to.have.length(2);
    const st = await loopState(sb, ns);
    expect(
      st.lastVerdicts.filter((v) => busyNodes.includes(v.node)),
      'busy nodes are not candidates',
    ).to.deep.equal([]);
    const removed = st.finished.filter((r) => r.nodeGroup === idle);
    expect(removed.map((r) => r.outcome)).to.deep.equal(['Removed', 'Removed']);
    // Each removed node got the approval Event with its numbers.
    for (const r of removed) {
      const evs = await nodeEventsOf(sb, r.nodes[0] as string);
      expect(evs.map((e) => e.reason)).to.include('ScaleDownApproved');
      expect(evs.find((e) => e.reason === 'ScaleDownApproved')?.message).to.match(/cpu \d+\.\d% memory/);
    }
    maybeRecordHistory(sb, scaleDownWorkflowId(ns), 'scaledown-loop-idle-shrinks');
    maybeRecordHistory(sb, removed[0]?.id as string, 'scaledown-removal-delete');
    process.stderr.write(`      idle group 3 -> 1 in ${seconds.toFixed(1)} s\n`);
  });
});
