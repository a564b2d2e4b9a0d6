/**
 * Every Kubernetes request each part of the orchestrator makes, as RBAC sees it: the contract
 * k8s/rbac.yaml grants, no more (test/integration/k8s/rbac/can-i.test.ts compares the two through
 * the apiserver's own answer, `kubectl auth can-i --list`, per ServiceAccount and namespace).
 * A change that makes a new request adds it here and to k8s/rbac.yaml; the integration suite,
 * whose orchestrators run as these ServiceAccounts, fails with 403 where one is missing.
 */

/** The parts with a Kubernetes identity of their own (sandbox/identities.ts names their ServiceAccounts). */
export type PermissionHolder = 'worker' | 'watchers' | 'api' | 'backup';

export interface Permission {
  /** API group ('' = core). */
  group: string;
  /** Resource, or resource/subresource. */
  resource: string;
  verbs: readonly string[];
  /** Only these objects (RBAC resourceNames). */
  names?: readonly string[];
  /** Only in this namespace (a Role); cluster-wide when absent. */
  namespace?: string;
  /** Where the code makes the request. */
  why: string;
}

export const PERMISSIONS: Record<PermissionHolder, readonly Permission[]> = {
  worker: [
    {
      group: '',
      resource: 'nodes',
      verbs: ['get', 'list', 'watch', 'patch', 'delete'],
      why: 'Node informer, join and node config (labels/taints), cordon, delete on removal',
    },
    { group: '', resource: 'pods', verbs: ['list', 'watch'], why: 'pod informer of scale-up snapshots; drains and scale-down list pods of a node' },
    { group: '', resource: 'pods/eviction', verbs: ['create'], why: 'drains' },
    { group: '', resource: 'pods/resize', verbs: ['patch'], why: 'in-place rightsizing' },
    { group: '', resource: 'events', verbs: ['create', 'get', 'update'], why: 'Events of every decision (aggregated: get and update the count)' },
    { group: '', resource: 'namespaces', verbs: ['get', 'list'], why: 'cluster id (kube-system uid); rightsizing and coordination namespaces' },
    { group: '', resource: 'persistentvolumes', verbs: ['list'], why: 'scale-down safety check 4, PV node affinity' },
    { group: '', resource: 'persistentvolumeclaims', verbs: ['list'], why: 'scale-down safety check 4' },
    { group: '', resource: 'configmaps', verbs: ['list', 'create'], why: 'optipod-pod-sizing ConfigMaps (admission sizing)' },
    { group: '', resource: 'configmaps', verbs: ['get', 'update'], names: ['optipod-pod-sizing'], why: 'optipod-pod-sizing ConfigMaps' },
    {
      group: '',
      resource: 'secrets',
      verbs: ['get'],
      names: ['vpsie-credentials', 'vpsie-bootstrap'],
      namespace: 'kube-system',
      why: 'VPSie credentials; the default join Secret',
    },
    { group: 'apps', resource: 'deployments', verbs: ['get', 'list'], why: 'workload owners (scale-down, rightsizing)' },
    { group: 'apps', resource: 'statefulsets', verbs: ['get', 'list'], why: 'workload owners' },
    { group: 'apps', resource: 'daemonsets', verbs: ['get', 'list'], why: 'workload owners; DaemonSet pods ignored by drains' },
    { group: 'apps', resource: 'replicasets', verbs: ['list'], why: 'Deployment owners of pods' },
    { group: 'policy', resource: 'poddisruptionbudgets', verbs: ['list'], why: 'scale-down safety, drains' },
    {
      group: 'coordination.k8s.io',
      resource: 'leases',
      verbs: ['get', 'list', 'create', 'update', 'delete'],
      why: 'claim locks of VPSieNodes and NodeGroups; GC lists them',
    },
    { group: 'metrics.k8s.io', resource: 'nodes', verbs: ['list'], why: 'node usage (scale-down by usage, scale-up by utilisation)' },
    { group: 'metrics.k8s.io', resource: 'pods', verbs: ['list'], why: 'pod usage (rightsizing)' },
    { group: 'autoscaler.vpsie.com', resource: 'nodegroups', verbs: ['get', 'list', 'patch'], why: 'NodeGroup entity, finalizer' },
    { group: 'autoscaler.vpsie.com', resource: 'nodegroups/status', verbs: ['patch'], why: 'NodeGroup status' },
    { group: 'autoscaler.vpsie.com', resource: 'nodegroups/finalizers', verbs: ['update'], why: 'VPSieNodes owned with blockOwnerDeletion' },
    { group: 'autoscaler.vpsie.com', resource: 'vpsienodes', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'], why: 'VPSieNode lifecycles' },
    { group: 'autoscaler.vpsie.com', resource: 'vpsienodes/status', verbs: ['patch'], why: 'VPSieNode status' },
    { group: 'optipod.io', resource: 'optimizationpolicies', verbs: ['get', 'list'], why: 'rightsizing cycles' },
    { group: 'optipod.io', resource: 'optimizationpolicies/status', verbs: ['patch'], why: 'recommendations in the policy status' },
    { group: 'optipod.io', resource: 'optimizationcheckpoints', verbs: ['get', 'list', 'create', 'update'], why: 'recommender histories' },
    { group: 'platform.io', resource: 'vpanapcoordinations', verbs: ['get'], why: 'coordination workflows read their object' },
    { group: 'platform.io', resource: 'vpanapcoordinations/status', verbs: ['patch'], why: 'coordination status' },
    { group: 'autoscaling.k8s.io', resource: 'verticalpodautoscalers', verbs: ['get', 'patch'], why: 'the circuit breaker pauses and restores VPA updateMode' },
  ],
  watchers: [
    { group: '', resource: 'pods', verbs: ['list', 'watch'], why: 'pending pods (scale-up trigger)' },
    { group: '', resource: 'nodes', verbs: ['list', 'watch'], why: 'Node pressure; Node informer when no worker runs here' },
    { group: '', resource: 'events', verbs: ['list', 'watch'], why: 'FailedScheduling; VPA and rightsizing evictions (coordination)' },
    { group: 'autoscaler.vpsie.com', resource: 'nodegroups', verbs: ['list', 'watch'], why: 'NodeGroup watcher, scale-up trigger' },
    { group: 'autoscaler.vpsie.com', resource: 'vpsienodes', verbs: ['list', 'watch'], why: 'VPSieNode watcher' },
    { group: 'optipod.io', resource: 'optimizationpolicies', verbs: ['list', 'watch'], why: 'policy watcher' },
    { group: 'platform.io', resource: 'vpanapcoordinations', verbs: ['list', 'watch'], why: 'coordination watcher' },
    { group: 'autoscaling.k8s.io', resource: 'verticalpodautoscalers', verbs: ['list', 'watch'], why: 'coordination watcher (upstream VPA objects)' },
    {
      group: 'coordination.k8s.io',
      resource: 'leases',
      verbs: ['create'],
      namespace: 'vpsie-system',
      why: 'leader election (create cannot be limited by name)',
    },
    {
      group: 'coordination.k8s.io',
      resource: 'leases',
      verbs: ['get', 'update'],
      names: ['vpsie-capacity-orchestrator'],
      namespace: 'vpsie-system',
      why: 'leader election',
    },
  ],
  api: [
    { group: 'authentication.k8s.io', resource: 'tokenreviews', verbs: ['create'], why: "REST API callers' bearer tokens" },
    { group: 'authorization.k8s.io', resource: 'subjectaccessreviews', verbs: ['create'], why: "REST API callers' rights on vpanapcoordinations" },
  ],
  backup: [
    { group: 'autoscaling.k8s.io', resource: 'verticalpodautoscalers', verbs: ['get', 'list', 'create', 'update'], why: 'backup reads, restore writes' },
    {
      group: 'autoscaling.k8s.io',
      resource: 'verticalpodautoscalercheckpoints',
      verbs: ['get', 'list', 'create', 'update'],
      why: 'backup reads, restore writes',
    },
    { group: 'platform.io', resource: 'vpanapcoordinations', verbs: ['get', 'list', 'create', 'update'], why: 'backup reads, restore writes' },
    { group: 'optipod.io', resource: 'optimizationpolicies', verbs: ['get', 'list', 'create', 'update'], why: 'backup reads, restore writes' },
    { group: 'optipod.io', resource: 'optimizationcheckpoints', verbs: ['get', 'list', 'create', 'update'], why: 'backup reads, restore writes' },
    { group: 'autoscaling.k8s.io', resource: 'verticalpodautoscalers/status', verbs: ['update'], why: 'restore writes status' },
    { group: 'platform.io', resource: 'vpanapcoordinations/status', verbs: ['update'], why: 'restore writes status' },
    { group: 'optipod.io', resource: 'optimizationpolicies/status', verbs: ['update'], why: 'restore writes status' },
    { group: '', resource: 'namespaces', verbs: ['get', 'create'], why: 'restore recreates a namespace that is gone' },
  ],
};

/**
 * The bindable extra: a NodeGroup namespace whose join names its own Secret binds this ClusterRole
 * (vpsie-orchestrator-join-secrets) to the worker there.
 */
export const JOIN_SECRETS_PERMISSION: Permission = { group: '', resource: 'secrets', verbs: ['get'], why: "NodeGroups' join.userDataSecretRef Secrets" };
