/**
 * The metric conventions of lib/metrics.ts and the once-per-event records behind the counters:
 * the `nodegroup` label, counting a decision once whatever retries count it, a safety check counted
 * when it starts failing (not on every scale-down tick), and the scheduling-constraint gauge.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { autoscalerMetrics, nodeGroupLabel, OnceKeys } from '../../../lib/metrics';
import { changedEvents, safetyFailureTransitions } from '../../../decision/nodes/scale-down/loop-records';
import type { NodeVerdict, ScaleDownDecision } from '../../../decision/nodes/scale-down/types';
import type { Blocker } from '../../../decision/nodes/scale-down/reasons';
import { schedulingConstraintCounts, type PodOutcome } from '../../../decision/nodes/scale-up/record';

function verdict(node: string, outcome: NodeVerdict['outcome'], reasons: Blocker['reason'][], nodeGroup = 'web'): NodeVerdict {
  return {
    node,
    nodeGroup,
    utilization: {
      cpu: 0.05,
      memory: 0.02,
      windowMaxCpu: 0.05,
      windowMaxMemory: 0.02,
      observedSeconds: 10,
      windowSeconds: 4,
      cpuThreshold: 50,
      memoryThreshold: 50,
    },
    candidate: outcome !== 'notCandidate',
    outcome,
    ...(reasons[0] !== undefined ? { reason: reasons[0] } : {}),
    blockers: reasons.map((reason) => ({ reason, message: reason, numbers: {} })),
  };
}

function decision(nodes: NodeVerdict[]): ScaleDownDecision {
  return {
    now: 0,
    nodes,
    groups: [],
    removals: [],
    dryRunRemovals: [],
    stats: { nodes: nodes.length, candidates: nodes.length, blocked: nodes.length, approved: 0, dryRun: 0 },
  };
}

/** The scale-down loop's bookkeeping over ticks: the transitions each tick counts. */
function ticks(ds: ScaleDownDecision[]): ReturnType<typeof safetyFailureTransitions>[] {
  let keys: Record<string, string> = {};
  return ds.map((d) => {
    const counted = safetyFailureTransitions(d, keys);
    keys = changedEvents(d, keys).keys;
    return counted;
  });
}

describe('metrics: labels and once-per-event counting', () => {
  it('the nodegroup label is namespace/name', () => {
    expect(nodeGroupLabel('team-a', 'web')).to.equal('team-a/web');
  });

  it('OnceKeys: true the first time a key is seen only, bounded (the oldest key is forgotten first)', () => {
    const k = new OnceKeys(2);
    expect(k.first('a')).to.equal(true);
    expect(k.first('a')).to.equal(false);
    expect(k.first('b')).to.equal(true);
    expect(k.first('c')).to.equal(true); // 'a' forgotten
    expect(k.first('b')).to.equal(false);
    expect(k.first('a')).to.equal(true);
  });

  it('autoscalerMetrics registers each metric once per registry (every caller shares the series)', async () => {
    const registry = new Registry();
    const a = autoscalerMetrics(registry);
    const b = autoscalerMetrics(registry);
    a.scaleUpTotal.inc({ nodegroup: 'ns/g' });
    b.scaleUpTotal.inc({ nodegroup: 'ns/g' });
    const text = await registry.getSingleMetricAsString('vpsie_autoscaler_scale_up_total');
    expect(text).to.include('vpsie_autoscaler_scale_up_total{nodegroup="ns/g"} 2');
    // Every metric of document 001 §2.5.1 and of document 004's observability box is registered.
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).to.include.members([
      'vpsie_autoscaler_nodegroup_nodes',
      'vpsie_autoscaler_nodegroup_desired_nodes',
      'vpsie_autoscaler_scale_up_total',
      'vpsie_autoscaler_scale_down_total',
      'vpsie_autoscaler_scale_up_failures_total',
      'vpsie_autoscaler_scale_down_failures_total',
      'vpsie_autoscaler_unschedulable_pods',
      'vpsie_autoscaler_node_utilization',
      'vpsie_autoscaler_scale_up_operations_total',
      'vpsie_autoscaler_nodes_created_total',
      'vpsie_autoscaler_pending_pods_gauge',
      'vpsie_autoscaler_scheduling_constraints',
      'vpsie_autoscaler_scale_down_operations_total',
      'vpsie_autoscaler_nodes_removed_total',
      'vpsie_autoscaler_safety_check_failures_total',
      'vpsie_autoscaler_node_drain_duration_seconds',
      'vpsie_autoscaler_node_provisioning_duration_seconds',
      'vpsie_autoscaler_node_joining_duration_seconds',
      'vpsie_autoscaler_nodegroup_size_total',
      'vpsie_autoscaler_vpsienode_ttl_deletions_total',
    ]);
  });

  it('a safety check counts when it starts failing for a node, not on every tick it keeps failing', () => {
    const blocked = decision([verdict('n1', 'blocked', ['UnreplicatedPod'])]);
    const counted = ticks([blocked, blocked, blocked, blocked]);
    expect(counted[0]).to.deep.equal([{ nodeGroup: 'web', reason: 'UnreplicatedPod', count: 1 }]);
    expect(counted.slice(1)).to.deep.equal([[], [], []]);
  });

  it('a second failing check on the same node counts once for itself; a check that passed and fails again counts again', () => {
    const one = decision([verdict('n1', 'blocked', ['UnreplicatedPod'])]);
    const two = decision([verdict('n1', 'blocked', ['UnreplicatedPod', 'NoPlaceToMove'])]);
    const passed = decision([verdict('n1', 'notCandidate', [])]);
    const counted = ticks([one, two, two, passed, one, one]);
    expect(counted).to.deep.equal([
      [{ nodeGroup: 'web', reason: 'UnreplicatedPod', count: 1 }],
      [{ nodeGroup: 'web', reason: 'NoPlaceToMove', count: 1 }],
      [],
      [],
      [{ nodeGroup: 'web', reason: 'UnreplicatedPod', count: 1 }],
      [],
    ]);
  });

  it('a gate that is no safety check (the scale-up cooldown) is not counted; nodes of one group add up', () => {
    const d = decision([verdict('n1', 'blocked', ['ScaleUpCooldown']), verdict('n3', 'blocked', ['LocalStorage']), verdict('n4', 'blocked', ['LocalStorage'])]);
    expect(ticks([d, d])).to.deep.equal([[{ nodeGroup: 'web', reason: 'LocalStorage', count: 2 }], []]);
  });

  it('scheduling constraints: pods that triggered nothing, by the group they were closest to (none without one) and reason', () => {
    const pods: PodOutcome[] = [
      { pod: 'ns/a', outcome: 'NotTriggerScaleUp', reason: 'TooLargeForAnyOffering', message: '', numbers: {} },
      { pod: 'ns/b', outcome: 'NotTriggerScaleUp', reason: 'TooLargeForAnyOffering', message: '', numbers: {} },
      { pod: 'ns/c', outcome: 'NotTriggerScaleUp', reason: 'MaxNodesReached', group: 'ns/web', message: '', numbers: {} },
      { pod: 'ns/d', outcome: 'FitsExisting', reason: 'FitsExistingNode', node: 'n1', message: '', numbers: {} },
    ];
    expect(schedulingConstraintCounts({ pods })).to.deep.equal([
      { nodegroup: 'none', reason: 'TooLargeForAnyOffering', count: 2 },
      { nodegroup: 'ns/web', reason: 'MaxNodesReached', count: 1 },
    ]);
  });
});
