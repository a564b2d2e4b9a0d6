/**
 * The orchestrator's Prometheus metrics (names from the product documents), registered once per
 * registry. Activities update them from the decision records the workflows made; they are served
 * on the worker's /metrics.
 *
 * Names: document 001 §2.5.1 as written (`vpsie_autoscaler_*`); the names of document 004's
 * observability box with the same `vpsie_autoscaler_` prefix (`scale_up_operations_total` is
 * `vpsie_autoscaler_scale_up_operations_total`, `provisioning_duration_sec` is
 * `vpsie_autoscaler_node_provisioning_duration_seconds`, ...).
 *
 * Label convention (every metric):
 *   - `nodegroup`: `<namespace>/<name>` of the NodeGroup (`none` for pods no group can host);
 *   - `state`: a VPSieNode phase; `resource`: `cpu` or `memory`;
 *   - `reason`, `outcome`: a typed reason / outcome from the closed sets of the decisions;
 *   - `method`, `status`: VPSie client operation and HTTP status (clients/vpsie/metrics.ts).
 *
 * Once per event: a counter counts a decision or an act once, whatever retries the activity that
 * counts it (keyed by the decision's request id where an activity may run again), and a safety
 * check counts when it starts failing for a node, not on every scale-down tick it keeps failing.
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

/** The `nodegroup` label value: `<namespace>/<name>`. */
export function nodeGroupLabel(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Remembers recent keys (request ids) so a counter is incremented once per decision even when the
 * activity that counts it runs again (a retry, a replayed history asking again). Bounded.
 */
export class OnceKeys {
  private readonly seen = new Set<string>();
  constructor(private readonly max = 10_000) {}
  /** True the first time `key` is seen. */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.max) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}

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
    nodeGroupSize: get(
      registry,
      'vpsie_autoscaler_nodegroup_size_total',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_nodegroup_size_total',
          help: 'VPSieNodes of a NodeGroup, every phase together (document 004: nodegroup_size_total).',
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
      'vpsie_autoscaler_vpsienode_ttl_deletions_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_vpsienode_ttl_deletions_total',
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
        new Counter({
          name: 'vpsie_autoscaler_scale_up_total',
          help: 'Scale-ups a NodeGroup carried out (VPSieNodes created for one request), by NodeGroup.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    scaleUpOperations: get(
      registry,
      'vpsie_autoscaler_scale_up_operations_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_up_operations_total',
          help: 'Scale-up decisions for a NodeGroup (one per request of a scale-up run), by outcome: Created, Refused, Failed, DryRun.',
          labelNames: ['nodegroup', 'outcome'] as const,
          registers: r,
        }),
    ),
    schedulingConstraints: get(
      registry,
      'vpsie_autoscaler_scheduling_constraints',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_scheduling_constraints',
          help: 'Pods of the last scale-up decision that no NodeGroup could take, by the constraint that kept them out (typed reason) and the group the pod was closest to ("none" when no group).',
          labelNames: ['nodegroup', 'reason'] as const,
          registers: r,
        }),
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
      'vpsie_autoscaler_nodes_created_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_nodes_created_total',
          help: 'VPS instances (or managed-cluster workers) created for VPSieNodes, counted when VPSie accepted the create.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    pendingPods: get(
      registry,
      'vpsie_autoscaler_pending_pods_gauge',
      () => new Gauge({ name: 'vpsie_autoscaler_pending_pods_gauge', help: 'Pending unschedulable pods seen by the scale-up trigger.', registers: r }),
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
          help: 'Scale-downs a NodeGroup carried out (VPSieNodes removed for one request), by NodeGroup.',
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
    scaleDownOperations: get(
      registry,
      'vpsie_autoscaler_scale_down_operations_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_scale_down_operations_total',
          help: 'Removals the scale-down decided (one per removal workflow), by NodeGroup and outcome: Removed, DrainFailed, ReplacementFailed, Refused, ...',
          labelNames: ['nodegroup', 'outcome'] as const,
          registers: r,
        }),
    ),
    nodesRemoved: get(
      registry,
      'vpsie_autoscaler_nodes_removed_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_nodes_removed_total',
          help: 'VPSieNodes a NodeGroup removed (scale-down, consolidation, shrink to maxNodes).',
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
      'vpsie_autoscaler_safety_check_failures_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_safety_check_failures_total',
          help: 'Scale-down safety checks that started blocking a candidate node (once per node and check until it passes again), by NodeGroup and typed reason.',
          labelNames: ['nodegroup', 'reason'] as const,
          registers: r,
        }),
    ),
    drainSeconds: get(
      registry,
      'vpsie_autoscaler_node_drain_duration_seconds',
      () =>
        new Histogram({
          name: 'vpsie_autoscaler_node_drain_duration_seconds',
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
    nodeGroupUsage: get(
      registry,
      'vpsie_autoscaler_nodegroup_usage',
      () =>
        new Gauge({
          name: 'vpsie_autoscaler_nodegroup_usage',
          help: "Used share (metrics-server) of the allocatable of a NodeGroup's Ready nodes, per resource (0..1): what the utilisation scale-up compares with scaleUpPolicy thresholds.",
          labelNames: ['nodegroup', 'resource'] as const,
          registers: r,
        }),
    ),
    utilizationScaleUps: get(
      registry,
      'vpsie_autoscaler_utilization_scale_up_total',
      () =>
        new Counter({
          name: 'vpsie_autoscaler_utilization_scale_up_total',
          help: "Nodes asked for because a NodeGroup's usage stayed above scaleUpPolicy thresholds for its stabilization window (reason UtilizationAboveThreshold).",
          labelNames: ['nodegroup'] as const,
          registers: r,
        }),
    ),
  };
}

export type AutoscalerMetrics = ReturnType<typeof autoscalerMetrics>;
