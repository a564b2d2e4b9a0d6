/**
 * The orchestrator's configuration, from the environment, validated with zod: a bad value
 * fails at start with the variable named.
 */
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1');

export const ConfigSchema = z.object({
  KUBECONFIG: z.string().min(1).optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('vpsie-autoscaler'),
  TASK_QUEUE: z.string().min(1).default('vpsie-autoscaler'),
  /** host:port for /metrics, /healthz and /readyz; port 0 picks a free one. */
  METRICS_ADDR: z
    .string()
    .regex(/^[\w.-]+:\d+$/, 'expected host:port')
    .default('127.0.0.1:9464'),
  DRY_RUN: bool.default(false),
  /** Watch NodeGroups and VPSieNodes, and react to pending pods, in this namespace only (empty: all namespaces). */
  WATCH_NAMESPACE: z.string().default(''),
  /** Lease-based leader election for the watchers (off: this replica always watches). */
  LEADER_ELECTION: bool.default(true),
  LEADER_ELECTION_NAMESPACE: z.string().default('kube-system'),

  // ---- VPSie ----
  /** The VPSie API host (the API is under /apps/v2 and /api/v2). */
  VPSIE_URL: z.string().url().default('https://api.vpsie.com'),
  /** namespace/name of the Secret holding clientId/clientSecret (or accessToken). */
  VPSIE_CREDENTIALS_SECRET: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected namespace/name')
    .default('kube-system/vpsie-credentials'),
  /** The managed-Kubernetes cluster of VPSie that stands for this cluster (ManagedKubernetes joins). */
  VPSIE_CLUSTER_IDENTIFIER: z.string().optional(),
  /** The VPSie account's request budget per minute (VPSie documents 100), shared by every replica. */
  VPSIE_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(100),
  /**
   * How many orchestrator replicas run (each calls VPSie from its activities): each takes
   * VPSIE_RATE_LIMIT_PER_MINUTE / VPSIE_REPLICAS, so together they stay within the account's budget.
   */
  VPSIE_REPLICAS: z.coerce.number().int().positive().max(100).default(1),

  // ---- NodeGroup defaults, for fields a NodeGroup leaves out ----
  DEFAULT_DATACENTER: z.string().min(1).default('us-east-1'),
  DEFAULT_OFFERINGS: z
    .string()
    .min(1)
    .default('small-2cpu-4gb,medium-4cpu-8gb')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  DEFAULT_OS_IMAGE: z.string().min(1).default('ubuntu-22.04-lts'),
  DEFAULT_JOIN_METHOD: z.enum(['UserData', 'ManagedKubernetes']).default('UserData'),
  /**
   * namespace/name of the Secret with the join parameters (key `user-data`: JSON/YAML with at
   * least `bootstrapToken`, or a whole `#cloud-config`) for UserData joins whose NodeGroup names
   * no `join.userDataSecretRef`. `npm start` creates it in a sandbox.
   */
  JOIN_BOOTSTRAP_SECRET: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected namespace/name')
    .default('kube-system/vpsie-bootstrap'),
  /** API server URL that joining machines are told to register with (UserData joins). */
  JOIN_API_SERVER: z.string().optional(),

  // ---- VPSieNode lifecycle ----
  PROVISION_TIMEOUT_SECONDS: z.coerce.number().int().positive().default(600),
  JOIN_TIMEOUT_SECONDS: z.coerce.number().int().positive().default(900),
  /** A VM create VPSie has not shown yet (neither pending nor listed) is not sent again for this long. */
  CREATE_SETTLE_SECONDS: z.coerce.number().int().min(0).max(3600).default(120),
  FAILED_NODE_TTL_SECONDS: z.coerce.number().int().positive().default(1800),
  GC_INTERVAL_SECONDS: z.coerce.number().int().positive().default(300),
  /**
   * This cluster's identity, stamped into every machine's notes and tags (`orchestrator-cluster=<id>`);
   * garbage collection only ever collects machines carrying it (#12). Empty: the uid of the
   * `kube-system` namespace. Set it when several orchestrators share one cluster's machines, or
   * to keep the identity across a cluster rebuilt from a backup. One notes token: no spaces, no '='.
   */
  CLUSTER_ID: z
    .string()
    .regex(/^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})?$/, 'expected letters, digits, . _ : - (at most 128)')
    .default(''),
  /** One garbage-collection run deletes at most this percentage of the cluster's machines (at least one); the rest waits. */
  GC_MAX_DELETE_PERCENT: z.coerce.number().int().min(1).max(100).default(10),
  // ---- scale-up (issue #6) ----
  /** Cluster-wide node limit the scale-up planner honours (existing + in flight + new). */
  MAX_CLUSTER_NODES: z.coerce.number().int().positive().default(1000),
  /** The trigger closes a batch after this long without a new signal... */
  SCALE_UP_BATCH_IDLE_MS: z.coerce.number().int().min(0).max(30_000).default(250),
  /** ...or this long after its first signal, whichever comes first (provisioning must start within 30 s). */
  SCALE_UP_BATCH_MAX_MS: z.coerce.number().int().min(0).max(30_000).default(1000),
  /** ...or when it holds this many pods. */
  SCALE_UP_BATCH_MAX_PODS: z.coerce.number().int().positive().default(5000),
  /** Pods no NodeGroup can ever host are reported, then not planned again for this long. */
  SCALE_UP_UNPLACEABLE_BACKOFF_SECONDS: z.coerce.number().int().min(0).default(300),
  /**
   * Pods still unschedulable after their run (waiting for a node that never took them, refused by
   * maxNodes, …) are planned again every this many seconds, as cluster-autoscaler's scan interval;
   * the scheduler alone may not report them again for minutes. 0: only on new signals.
   */
  SCALE_UP_RESCAN_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  /**
   * And this long after a Node turns Ready (the scheduler has bound what it will bind there by
   * then): a pod whose promised room on it went to other pods is planned at once, not at the next
   * periodic rescan. 0: off.
   */
  SCALE_UP_RESCAN_AFTER_READY_MS: z.coerce.number().int().min(0).max(60_000).default(1500),
  /**
   * A scale-up's new VPSieNodes get their VM create sent by the scale-up activity that asked for
   * them (within a short budget), not only by their lifecycles once started (#13). Safe either way: one
   * create-sent mark per machine, written with a resourceVersion precondition.
   */
  SCALE_UP_EARLY_CREATE: bool.default(true),
  /**
   * The scale-up snapshot reads pods and Nodes from the process's informers instead of listing
   * them from the apiserver on every batch (#13). NodeGroups and VPSieNodes are always listed.
   */
  SCALE_UP_SNAPSHOT_FROM_CACHE: bool.default(true),
  // ---- scale-down (issue #7) ----
  /** The scale-down loop samples utilisation and decides every this many seconds. */
  SCALE_DOWN_SAMPLE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** A scale-down drain gives up (uncordons, records DrainFailed) after this long (PDB 429 retries included). */
  SCALE_DOWN_DRAIN_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(600),
  /**
   * Upper bound of the grace period a scale-down eviction asks for. Unset (the default): each pod's
   * own terminationGracePeriodSeconds, as the pod asks (issue #12).
   */
  SCALE_DOWN_MAX_GRACE_SECONDS: z.coerce.number().int().min(0).optional(),
  /** Consolidation: how long replacement nodes may take to be Ready before the consolidation is abandoned. */
  SCALE_DOWN_REPLACEMENT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(1200),
  /** Run the scale-down loop at all (off: nothing is ever removed for being idle). */
  SCALE_DOWN_ENABLED: bool.default(true),
  // ---- workload rightsizing (OptiPod, issue #14) ----
  /** Run rightsizing at all: the OptimizationPolicy watcher and its cycles. */
  RIGHTSIZING_ENABLED: bool.default(true),
  /** The orchestrator's own namespace: policies here reach the namespaces their selector names; elsewhere only their own. */
  OPERATOR_NAMESPACE: z.string().min(1).default('kube-system'),
  /** The usage provider of policies that name none (metricsConfig.provider). */
  METRICS_PROVIDER: z.enum(['metrics-server', 'prometheus']).default('metrics-server'),
  /** Prometheus's base URL (its API under /api/v1); without it the prometheus provider is not configured. */
  PROMETHEUS_URL: z.string().url().optional(),
  /** namespace/name of a Secret with Prometheus credentials (`token`, or `username`/`password`; `ca.crt`). */
  PROMETHEUS_AUTH_SECRET: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected namespace/name')
    .optional(),
  /** Prometheus range-query step (the CPU rate window and the nominal sample interval). */
  PROMETHEUS_STEP_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** A container needs this many CPU samples before it is recommended (InsufficientData below). */
  RIGHTSIZING_MIN_SAMPLES: z.coerce.number().int().min(1).default(10),
  // ---- coordination (issue #16) ----
  /** Run coordination at all: the hub, the VPANAPCoordination workflows, their watcher and the REST API. */
  COORDINATION_ENABLED: bool.default(true),
  /** host:port of the coordination REST API (document 000); port 0 picks a free one; empty: not served. */
  COORDINATION_API_ADDR: z
    .string()
    .regex(/^([\w.-]+:\d+)?$/, 'expected host:port')
    .default('127.0.0.1:8080'),
  /** Backups of VPAs, checkpoints, VPANAPCoordinations and OptimizationPolicies every this many hours (0: no schedule). */
  BACKUP_INTERVAL_HOURS: z.coerce.number().min(0).max(720).default(6),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.shape)
      .filter((k) => env[k] !== undefined)
      .map((k) => [k, env[k]]),
  );
  const r = ConfigSchema.safeParse(known);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return r.data;
}
