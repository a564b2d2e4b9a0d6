/**
 * The orchestrator's configuration, from the environment, validated with zod: a bad value
 * fails at start with the variable named. The command-line flags of document 004's
 * "Configuration" (`COMMAND_LINE_FLAGS`) each set one of these variables: a flag and its variable
 * mean the same, and a flag given wins over the variable.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1');

/** host:port, or :port for every interface (as document 004 writes `:8080`), normalised to host:port. */
const hostPort = () =>
  z
    .string()
    .regex(/^([\w.-]+)?:\d+$/, 'expected host:port or :port')
    .transform((a) => (a.startsWith(':') ? `0.0.0.0${a}` : a));

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * Seconds of a duration: a plain number of seconds (`1800`) or Go's duration syntax (`30m`,
 * `1h30m`, `90s`, `1.5h`). Anything else is returned unchanged (the schema then refuses it).
 */
export function durationSeconds(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) return v;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return Math.round(total);
}

/** The parts of the orchestrator a process may run (COMPONENTS). */
export const COMPONENT_NAMES = ['worker', 'watchers', 'api', 'backup'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

export const ConfigSchema = z.object({
  KUBECONFIG: z.string().min(1).optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('vpsie-autoscaler'),
  TASK_QUEUE: z.string().min(1).default('vpsie-autoscaler'),
  /**
   * TLS to the Temporal frontend (Temporal Cloud, or a cluster with TLS): on by itself when a
   * client certificate or an API key is given. Files, so a mounted Secret can be rotated in place.
   */
  TEMPORAL_TLS: bool.optional(),
  /** mTLS client certificate and key (PEM files), both or neither. */
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  /** CA of the frontend's certificate (PEM file); the system's roots when unset. */
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  /** The name the frontend's certificate is checked against, when not the address's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** A file holding a Temporal Cloud API key (sent as a bearer token; re-read every minute). */
  TEMPORAL_API_KEY_FILE: z.string().min(1).optional(),
  /** host:port (or :port) for Prometheus /metrics; port 0 picks a free one. */
  METRICS_ADDR: hostPort().default('127.0.0.1:9464'),
  /**
   * host:port (or :port) for /healthz (liveness) and /readyz (readiness: the worker polls and the
   * VPSie API answers), a listener of their own. Unset: 127.0.0.1:8081 (document 004's port, on
   * loopback), or a free port when METRICS_ADDR asks for one (port 0) — see `healthAddrOf`.
   */
  HEALTH_ADDR: hostPort().optional(),
  DRY_RUN: bool.default(false),
  /** Watch NodeGroups and VPSieNodes, and react to pending pods, in this namespace only (empty: all namespaces). */
  WATCH_NAMESPACE: z.string().default(''),
  /** Lease-based leader election for the watchers (off: this replica always watches). */
  LEADER_ELECTION: bool.default(true),
  /** The orchestrator's namespace (k8s/namespace.yaml), where k8s/rbac.yaml lets the watchers hold the Lease. */
  LEADER_ELECTION_NAMESPACE: z.string().default('vpsie-system'),

  // ---- VPSie ----
  /** The VPSie API host (the API is under /apps/v2 and /api/v2). */
  VPSIE_URL: z.string().url().default('https://api.vpsie.com'),
  /** namespace/name of the Secret holding clientId/clientSecret (or accessToken). */
  VPSIE_CREDENTIALS_SECRET: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected namespace/name')
    .default('kube-system/vpsie-credentials'),
  /** The name of the credentials Secret (`--vpsie-secret-name`); replaces the name part of VPSIE_CREDENTIALS_SECRET. */
  VPSIE_SECRET_NAME: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'expected a Secret name')
    .max(253)
    .optional(),
  /** The namespace of the credentials Secret (`--vpsie-secret-namespace`); replaces the namespace part of VPSIE_CREDENTIALS_SECRET. */
  VPSIE_SECRET_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'expected a namespace name')
    .max(63)
    .optional(),
  /** The managed-Kubernetes cluster of VPSie that stands for this cluster (ManagedKubernetes joins). */
  VPSIE_CLUSTER_IDENTIFIER: z.string().optional(),
  /** /readyz checks that the VPSie API answers (one authenticated GET) every this many seconds. */
  VPSIE_READY_CHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
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
  /** Kubernetes version a joining node gets when its NodeGroup names no spec.kubernetesVersion (unset: the image's own). */
  KUBERNETES_VERSION: z
    .string()
    .regex(/^v?[0-9]+\.[0-9]+(\.[0-9]+)?$/)
    .optional(),
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
  /** How long a Failed VPSieNode is kept before it is cleaned up: seconds, or a duration such as `30m`. */
  FAILED_NODE_TTL_SECONDS: z.preprocess(durationSeconds, z.coerce.number().int().positive()).default(1800),
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
  /** How long a Node labelled for a NodeGroup that no VPSieNode names is reported before garbage collection deletes it. */
  GC_ORPHAN_NODE_GRACE_SECONDS: z.coerce.number().int().min(0).default(600),
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
  /**
   * The task queue of coordination backups and restores (the schedule's and the CLI's runs), served
   * by a `backup` part as the backup identity; unset: TASK_QUEUE (the worker runs them).
   */
  BACKUP_TASK_QUEUE: z.string().min(1).optional(),
  /** Backups of VPAs, checkpoints, VPANAPCoordinations and OptimizationPolicies every this many hours (0: no schedule). */
  BACKUP_INTERVAL_HOURS: z.coerce.number().min(0).max(720).default(6),
  /**
   * The parts this process runs (comma-separated): `worker` (the Temporal worker: workflows and
   * activities), `watchers` (the Kubernetes watchers that start and signal workflows, under leader
   * election), `api` (the coordination REST API), `backup` (a worker of its own on
   * BACKUP_TASK_QUEUE running the coordination backups and restores as the backup identity).
   * Default the first three (the worker then runs backups too); a Deployment per part runs one.
   */
  COMPONENTS: z
    .string()
    .default('worker,watchers,api')
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    )
    .pipe(z.array(z.enum(COMPONENT_NAMES)).min(1, 'name at least one of worker, watchers, api, backup'))
    .transform((parts) => [...new Set(parts)]),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** json: one JSON object a line (the default, for log collectors); console: human-readable lines for development. */
  LOG_FORMAT: z.enum(['json', 'console']).default('json'),
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
  const c = r.data;
  if (c.COMPONENTS.includes('backup') && !c.BACKUP_TASK_QUEUE)
    throw new ConfigError('invalid configuration: BACKUP_TASK_QUEUE: required when COMPONENTS names backup (its worker serves that queue)');
  if (c.BACKUP_TASK_QUEUE !== undefined && c.BACKUP_TASK_QUEUE === c.TASK_QUEUE)
    throw new ConfigError('invalid configuration: BACKUP_TASK_QUEUE: must differ from TASK_QUEUE');
  if (c.VPSIE_SECRET_NAME !== undefined || c.VPSIE_SECRET_NAMESPACE !== undefined) {
    const [ns, name] = c.VPSIE_CREDENTIALS_SECRET.split('/') as [string, string];
    c.VPSIE_CREDENTIALS_SECRET = `${c.VPSIE_SECRET_NAMESPACE ?? ns}/${c.VPSIE_SECRET_NAME ?? name}`;
  }
  return c;
}

/** Document 004's health port, on loopback (the coordination REST API has 127.0.0.1:8080). */
export const DEFAULT_HEALTH_ADDR = '127.0.0.1:8081';

/**
 * Where /healthz and /readyz listen: HEALTH_ADDR; unset, a free port on METRICS_ADDR's host when
 * METRICS_ADDR asks for a free port (tests, the sandbox's `npm start`), else DEFAULT_HEALTH_ADDR.
 */
export function healthAddrOf(c: Pick<Config, 'METRICS_ADDR' | 'HEALTH_ADDR'>): string {
  if (c.HEALTH_ADDR) return c.HEALTH_ADDR;
  const i = c.METRICS_ADDR.lastIndexOf(':');
  if (Number(c.METRICS_ADDR.slice(i + 1)) === 0) return `${c.METRICS_ADDR.slice(0, i)}:0`;
  return DEFAULT_HEALTH_ADDR;
}

// ---- command line (document 004's "Configuration") ------------------------------------------

export interface CommandLineFlag {
  /** Without the leading `--`. */
  flag: string;
  /** The environment variable the flag sets. */
  env: keyof Config;
  type: 'string' | 'boolean';
  /** What the default is, as shown by --help. */
  shownDefault: string;
  description: string;
}

export const COMMAND_LINE_FLAGS: readonly CommandLineFlag[] = [
  { flag: 'kubeconfig', env: 'KUBECONFIG', type: 'string', shownDefault: 'in-cluster, or the local sandbox', description: 'path to the kubeconfig' },
  { flag: 'metrics-addr', env: 'METRICS_ADDR', type: 'string', shownDefault: '127.0.0.1:9464', description: 'host:port (or :port) of Prometheus /metrics' },
  {
    flag: 'health-addr',
    env: 'HEALTH_ADDR',
    type: 'string',
    shownDefault: `${DEFAULT_HEALTH_ADDR}; a free port when --metrics-addr has port 0`,
    description: 'host:port (or :port) of /healthz and /readyz',
  },
  {
    flag: 'leader-election',
    env: 'LEADER_ELECTION',
    type: 'boolean',
    shownDefault: 'true',
    description: 'Lease-based leader election for the watchers (--no-leader-election: off)',
  },
  {
    flag: 'vpsie-secret-name',
    env: 'VPSIE_SECRET_NAME',
    type: 'string',
    shownDefault: 'vpsie-credentials',
    description: 'name of the Secret with the VPSie credentials',
  },
  { flag: 'vpsie-secret-namespace', env: 'VPSIE_SECRET_NAMESPACE', type: 'string', shownDefault: 'kube-system', description: 'namespace of that Secret' },
  {
    flag: 'default-datacenter-id',
    env: 'DEFAULT_DATACENTER',
    type: 'string',
    shownDefault: 'us-east-1',
    description: 'datacenter of NodeGroups that name none',
  },
  {
    flag: 'default-offering-ids',
    env: 'DEFAULT_OFFERINGS',
    type: 'string',
    shownDefault: 'small-2cpu-4gb,medium-4cpu-8gb',
    description: 'comma-separated offerings of NodeGroups that name none',
  },
  {
    flag: 'kubernetes-version',
    env: 'KUBERNETES_VERSION',
    type: 'string',
    shownDefault: "the image's own",
    description: 'Kubernetes version of joining nodes whose NodeGroup names none',
  },
  {
    flag: 'failed-vpsienode-ttl',
    env: 'FAILED_NODE_TTL_SECONDS',
    type: 'string',
    shownDefault: '30m',
    description: 'how long a Failed VPSieNode is kept before cleanup (seconds, or 30m, 1h30m, …)',
  },
  {
    flag: 'components',
    env: 'COMPONENTS',
    type: 'string',
    shownDefault: 'worker,watchers,api',
    description: 'the parts this process runs: worker (Temporal worker), watchers (leader-elected), api (coordination REST API), backup (backup worker)',
  },
  { flag: 'log-level', env: 'LOG_LEVEL', type: 'string', shownDefault: 'info', description: 'error, warn, info or debug' },
  { flag: 'log-format', env: 'LOG_FORMAT', type: 'string', shownDefault: 'json', description: 'json, or console (human-readable, for development)' },
];

export type CommandLine = { kind: 'run'; env: Record<string, string> } | { kind: 'help'; text: string } | { kind: 'error'; message: string };

/** The --help text: every flag with its environment variable and default. */
export function helpText(program = 'vpsie-orchestrator run'): string {
  const rows = COMMAND_LINE_FLAGS.map((f) => [`--${f.flag}${f.type === 'string' ? ' <value>' : ''}`, f.env, f.shownDefault, f.description] as const);
  const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map(([flag, env, def, desc]) => `  ${flag.padEnd(w[0]!)}  ${env.padEnd(w[1]!)}  ${desc} (default: ${def})`);
  return [
    `Usage: ${program} [flags]`,
    '',
    'Each flag sets the environment variable beside it; a flag given wins over the variable.',
    'Every other setting is an environment variable only (lib/config.ts).',
    '',
    'Flags:',
    ...lines,
    `  ${'--help, -h'.padEnd(w[0]!)}  ${''.padEnd(w[1]!)}  print this and exit`,
    '',
  ].join('\n');
}

/**
 * Parses the command line (node:util parseArgs, strict): the environment variables the flags set,
 * or the help text, or an error naming the unknown or malformed flag. Values are validated with
 * the environment (loadConfig), so a flag and its variable accept the same values.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const f of COMMAND_LINE_FLAGS) options[f.flag] = { type: f.type };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, allowNegative: true }));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) return { kind: 'error', message: `unknown flag ${unknown[1]} (see --help)` };
    return { kind: 'error', message: `${msg.split('\n')[0]} (see --help)` };
  }
  if (values.help === true) return { kind: 'help', text: helpText() };
  const env: Record<string, string> = {};
  for (const f of COMMAND_LINE_FLAGS) {
    const v = values[f.flag];
    if (v === undefined) continue;
    if (f.type === 'string' && (typeof v !== 'string' || v === '')) return { kind: 'error', message: `--${f.flag} needs a value (see --help)` };
    env[f.env] = String(v);
  }
  return { kind: 'run', env };
}
