/**
 * The orchestrator's Prometheus metrics (names from the product documents), registered once per
 * registry. Activities update them from the decision records the workflows made; they are served
 * on the worker's /metrics.
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

function get<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function autoscalerMetrics(registry: Registry) {
  const r = [registry];
  return {
    // ---- node groups and lifecycles (issue: NodeGroups and the VPSieNode lifecycle) ----
    nodeGroupNodes: get(
      registry,
      'vpsie_autoscaler_nodegroup_nodes',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_nodegroup_nodes',
          help: 'Nodes of a NodeGroup by VPSieNode phase.',
          labelNames: ['nodegroup', 'state'] as const,
          registers: r,
        }),
    ),
    nodeGroupDesired: get(
      registry,
      'vpsie_autoscaler_nodegroup_desired_nodes',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_nodegroup_desired_nodes',
          help: 'Desired node count of a NodeGroup.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    provisioningSeconds: get(
      registry,
      'vpsie_autoscaler_node_provisioning_duration_seconds',
      () =>
        new Histogram({
          name: 'vpsie_autoscaler_node_provisioning_duration_seconds',
          help: 'From VPSieNode Pending to VPS running (Provisioned).',
          labelNames: ['nodegroup'] as const,
          buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
          registers: r,
        }),
    ),
    joiningSeconds: get(
      registry,
      'vpsie_autoscaler_node_joining_duration_seconds',
      () =>
        new Histogram({
          name: 'vpsie_autoscaler_node_joining_duration_seconds',
          help: 'From VPS running (Provisioned) to Node Ready.',
          labelNames: ['nodegroup'] as const,
          buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 900],
          registers: r,
        }),
    ),
    ttlDeletions: get(
      registry,
      'vpsienode_ttl_deletions_total',
      () =>
        new Counter({
          name: 'vpsienode_ttl_deletions_total',
          help: 'Failed VPSieNodes cleaned up after their TTL.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    phaseTransitions: get(
      registry,
      'vpsie_autoscaler_vpsienode_phase_transitions_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_vpsienode_phase_transitions_total',
          help: 'VPSieNode phase transitions by phase and typed reason.',
          labelNames: ['nodegroup', 'phase', 'reason'] as const,
          registers: r,
        }),
    ),
    garbageCollected: get(
      registry,
      'vpsie_autoscaler_garbage_collected_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_garbage_collected_total',
          help: 'Leaked VPS instances and orphaned VPSieNodes reconciled by garbage collection.',
          labelNames: ['kind'] as const,
          registers: r,
        }),
    ),
    garbageWithheld: get(
      registry,
      'vpsie_autoscaler_garbage_collection_withheld_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_garbage_collection_withheld_total',
          help: 'Garbage (VPS instances, VPSieNodes) eligible for deletion but left for a later run by the per-run deletion cap.',
          labelNames: ['kind'] as const,
          registers: r,
        }),
    ),
    garbageMachines: get(
      registry,
      'vpsie_autoscaler_garbage_collection_machines',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_garbage_collection_machines',
          help: 'Machines of the VPSie account at the last garbage-collection scan, by what they are to this cluster (owned, young, eligible, foreign, no_cluster_identity, other_cluster).',
          labelNames: ['verdict'] as const,
          registers: r,
        }),
    ),

    // ---- scale-up ----
    scaleUpTotal: get(
      registry,
      'vpsie_autoscaler_scale_up_total',
      () =>
        new Counter({ name: 'vpsie_autoscaler_scale_up_total', help: 'Scale-up operations by NodeGroup.', labelNames: ['nodegroup'] as const, registers: r }),
    ),
    scaleUpFailures: get(
      registry,
      'vpsie_autoscaler_scale_up_failures_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_up_failures_total',
          help: 'Failed scale-ups by NodeGroup.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    unschedulablePods: get(
      registry,
      'vpsie_autoscaler_unschedulable_pods',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_unschedulable_pods',
          help: 'Pending pods that cannot be scheduled, by the NodeGroup that could host them ("none" when no group can).',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    claimsReleased: get(
      registry,
      'vpsie_autoscaler_scale_up_claims_released_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_up_claims_released_total',
          help: 'Pending pods whose promised room on a new node was taken by other pods (the scheduler bound them there), planned again at once.',
          registers: r,
        }),
    ),
    scaleUpSnapshotReads: get(
      registry,
      'vpsie_autoscaler_scale_up_snapshot_reads_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_up_snapshot_reads_total',
          help: 'Scale-up snapshots by where their pods and Nodes came from: the informer caches, or a list from the apiserver (no cache yet, or a batch pod not yet in it).',
          labelNames: ['source'] as const,
          registers: r,
        }),
    ),
    nodesCreated: get(
      registry,
      'nodes_created_total',
      () => new Counter({ name: 'nodes_created_total', help: 'VPS instances created for nodes.', labelNames: ['nodegroup'] as const, registers: r }),
    ),
    pendingPods: get(
      registry,
      'pending_pods_gauge',
      () => new Gauge({ name: 'pending_pods_gauge', help: 'Pending pods seen by the scale-up trigger.', registers: r }),
    ),
    pendingToCreateSeconds: get(
      registry,
      'vpsie_autoscaler_pending_to_create_seconds',
      () =>
        new Histogram({
          name: 'vpsie_autoscaler_pending_to_create_seconds',
          help: 'From the first FailedScheduling signal to the VPSie create call.',
          buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
          registers: r,
        }),
    ),

    // ---- scale-down ----
    scaleDownTotal: get(
      registry,
      'vpsie_autoscaler_scale_down_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_down_total',
          help: 'Scale-down operations by NodeGroup.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    scaleDownFailures: get(
      registry,
      'vpsie_autoscaler_scale_down_failures_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_down_failures_total',
          help: 'Failed scale-downs by NodeGroup.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    safetyCheckFailures: get(
      registry,
      'safety_check_failures_total',
      () =>
        new Counter({
          name: 'safety_check_failures_total',
          help: 'Scale-down safety checks that blocked a removal, by typed reason.',
          labelNames: ['reason'] as const,
          registers: r,
        }),
    ),
    drainSeconds: get(
      registry,
      'node_drain_duration_seconds',
      () =>
        new Histogram({
          name: 'node_drain_duration_seconds',
          help: 'Node drain duration.',
          labelNames: ['outcome'] as const,
          buckets: [1, 5, 10, 30, 60, 120, 300, 600],
          registers: r,
        }),
    ),
    nodeUtilization: get(
      registry,
      'vpsie_autoscaler_node_utilization',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_node_utilization',
          help: 'Requested share of allocatable, per NodeGroup and resource (0..1).',
          labelNames: ['nodegroup', 'resource'] as const,
          registers: r,
        }),
    ),
  };
}

export type AutoscalerMetrics = ReturnType<typeof autoscalerMetrics>;
