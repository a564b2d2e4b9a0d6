/**
 * `npm start`: the orchestrator. With KUBECONFIG and TEMPORAL_ADDRESS it runs against that
 * cluster and Temporal server; otherwise it uses the local sandbox, reusing one that
 * `npm run sandbox` keeps up or starting its own (stopped again on exit). In sandbox mode it
 * makes the product work out of the box: the VPSie credentials Secret from the simulator's
 * endpoints, VPSIE_URL / VPSIE_CLUSTER_IDENTIFIER / JOIN_API_SERVER from the endpoints, and
 * `orchestrator.{metrics,healthz,readyz}` published in the sandbox's endpoints.json.
 *
 * Command line (document 004's "Configuration"; `--help` lists them): `--kubeconfig`,
 * `--metrics-addr`, `--health-addr`, `--[no-]leader-election`, `--vpsie-secret-name`,
 * `--vpsie-secret-namespace`, `--default-datacenter-id`, `--default-offering-ids`,
 * `--kubernetes-version`, `--failed-vpsienode-ttl`, `--log-level`, `--log-format` — each sets its
 * environment variable (lib/config.ts COMMAND_LINE_FLAGS) and wins over it; an unknown flag exits
 * with status 2. Metrics listen on METRICS_ADDR, /healthz and /readyz on HEALTH_ADDR (its own
 * listener; in sandbox mode both take free ports unless set).
 *
 * Extra settings (environment): LEADER_ELECTION_LEASE_DURATION_SECONDS (15),
 * LEADER_ELECTION_RENEW_DEADLINE_SECONDS (10), LEADER_ELECTION_RETRY_PERIOD_SECONDS (2),
 * LEADER_ELECTION_LEASE_NAME (vpsie-capacity-orchestrator), GC_GRACE_SECONDS (600),
 * POD_NAME (replica identity).
 */
import { z } from 'zod';
import { readLiveEndpoints, sandboxDir, unpublish, writeEndpoints, type Endpoints } from '../sandbox/endpoints';
import { startSandbox, type Sandbox } from '../sandbox/stack';
import { ConfigError, healthAddrOf, loadConfig, parseCommandLine, type Config } from '../lib/config';
import { loadKubeConfig } from '../lib/kube/api';
import { configureLogging, logger } from '../lib/log';
import { startOrchestrator, type Orchestrator } from './orchestrator';
import { prepareSandbox } from './sandbox-setup';
import { sandboxIdentities, type SandboxIdentities } from '../sandbox/identities';

// The command line first: --help and a bad flag end here, before anything starts or logs.
const commandLine = parseCommandLine(process.argv.slice(2));
if (commandLine.kind === 'help') {
  process.stdout.write(commandLine.text);
  process.exit(0);
}
if (commandLine.kind === 'error') {
  process.stderr.write(`vpsie-orchestrator: ${commandLine.message}\n`);
  process.exit(2);
}
// A flag means its environment variable (and wins over it).
Object.assign(process.env, commandLine.env);

const ExtraSchema = z.object({
  LEADER_ELECTION_LEASE_DURATION_SECONDS: z.coerce.number().int().positive().default(15),
  LEADER_ELECTION_RENEW_DEADLINE_SECONDS: z.coerce.number().int().positive().default(10),
  LEADER_ELECTION_RETRY_PERIOD_SECONDS: z.coerce.number().int().positive().default(2),
  LEADER_ELECTION_LEASE_NAME: z.string().min(1).default('vpsie-capacity-orchestrator'),
  GC_GRACE_SECONDS: z.coerce.number().int().min(0).default(600),
  POD_NAME: z.string().min(1).optional(),
});

function loadExtra(env: NodeJS.ProcessEnv): z.infer<typeof ExtraSchema> {
  const known = Object.fromEntries(
    Object.keys(ExtraSchema.shape)
      .filter((k) => env[k] !== undefined)
      .map((k) => [k, env[k]]),
  );
  const r = ExtraSchema.safeParse(known);
  if (!r.success) throw new ConfigError(`invalid configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const e = r.data;
  if (e.LEADER_ELECTION_RENEW_DEADLINE_SECONDS >= e.LEADER_ELECTION_LEASE_DURATION_SECONDS)
    throw new ConfigError('invalid configuration: LEADER_ELECTION_RENEW_DEADLINE_SECONDS must be less than LEADER_ELECTION_LEASE_DURATION_SECONDS');
  return e;
}

/**
 * Stopping, in order: the orchestrator first (watchers stopped, Lease released, worker drained)
 * while the apiserver and Temporal are still there, then the sandbox components this process
 * started (they have process groups of their own, so a terminal's Ctrl-C reaches only this
 * process). Handlers are installed before anything starts; npm forwards the terminal's signal,
 * so one Ctrl-C may arrive twice: repeats join the stop under way.
 */
const live: { startup?: Promise<void>; orchestrator?: Orchestrator; sandbox?: Sandbox; attachedTo?: string; identities?: SandboxIdentities } = {};
let shuttingDown: Promise<void> | undefined;
let exitCode = 0;
function shutdown(signal: string): void {
  const log = logger('main');
  if (shuttingDown) {
    log.info('already stopping', { signal });
    return;
  }
  const started = Date.now();
  log.info('stopping', { signal });
  shuttingDown = (async () => {
    const step = async (what: string, fn: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.warn(`stopping: ${what} failed`, { error: err instanceof Error ? err.message : String(err) });
      }
    };
    // A signal during start-up waits for the start to finish (each step of it is bounded), so
    // whatever it started is stopped in order. While the sandbox itself is starting, its own
    // handler stops what it started and exits.
    await Promise.race([live.startup?.catch(() => undefined), new Promise((r) => setTimeout(r, 60_000).unref())]);
    await step('orchestrator', () => live.orchestrator?.stop());
    live.identities?.stop();
    if (live.attachedTo) {
      const dir = live.attachedTo;
      await step('endpoints', async () => unpublish('orchestrator', dir));
    }
    await step('sandbox', () => live.sandbox?.stop());
    log.info('stopped', { seconds: (Date.now() - started) / 1000 });
  })();
  void shuttingDown.then(() => process.exit(exitCode));
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
/**
 * An error nothing caught (a client of a component that is going away, a bug) is logged as one
 * structured line and stops everything in order with exit code 1 — Node's default would exit at
 * once and leave the sandbox's processes running. During a stop it is logged and the stop goes on.
 */
function uncaught(kind: string, err: unknown): void {
  const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (shuttingDown) {
    logger('main').warn(`${kind} while stopping; the stop goes on`, { error });
    return;
  }
  logger('main').error(kind, { error });
  exitCode = 1;
  shutdown(kind);
}
process.on('uncaughtException', (err) => uncaught('uncaughtException', err));
process.on('unhandledRejection', (err) => uncaught('unhandledRejection', err));

async function main(): Promise<void> {
  let config: Config = loadConfig();
  configureLogging({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const extra = loadExtra(process.env);
  const log = logger('main');
  let sandbox: Sandbox | undefined;
  let reused: Endpoints | undefined;
  let kubeconfig = config.KUBECONFIG;
  let temporalAddress = config.TEMPORAL_ADDRESS;
  let metricsAddr = config.METRICS_ADDR;
  let healthAddr = healthAddrOf(config);
  // In a pod (the ServiceAccount's in-cluster configuration) nothing local is started: the cluster
  // is this one, and Temporal is TEMPORAL_ADDRESS.
  const inCluster = kubeconfig === undefined && process.env.KUBERNETES_SERVICE_HOST !== undefined;
  if (inCluster && !temporalAddress) throw new ConfigError('invalid configuration: TEMPORAL_ADDRESS: required when running in a cluster');
  if (!inCluster && (!kubeconfig || !temporalAddress)) {
    const running = readLiveEndpoints();
    if (running && kubeconfig === undefined && temporalAddress === undefined) {
      log.info('using the running sandbox', { kubeconfig: running.kubeconfig, temporal: running.temporal.address });
      reused = running;
      kubeconfig = running.kubeconfig;
      temporalAddress = running.temporal.address;
    } else {
      sandbox = await startSandbox({ handleSignals: false, progress: (l) => log.info(l, { component: 'sandbox' }) });
      live.sandbox = sandbox;
      kubeconfig ??= sandbox.endpoints.kubeconfig;
      temporalAddress ??= sandbox.endpoints.temporal.address;
      if (process.env.METRICS_ADDR === undefined) metricsAddr = '127.0.0.1:0';
      if (process.env.HEALTH_ADDR === undefined) healthAddr = '127.0.0.1:0';
      log.info('sandbox ready', { seconds: sandbox.startSeconds, ui: sandbox.endpoints.temporal.ui, kubeconfig });
    }
  }
  const kc = loadKubeConfig(kubeconfig);
  const endpoints = sandbox?.endpoints ?? reused;
  let identities: SandboxIdentities | undefined;
  if (endpoints && endpoints.kubeconfig === kubeconfig) {
    config = await prepareSandbox(kc, config, endpoints);
    // As in a cluster: every part as its own ServiceAccount (k8s/rbac.yaml), not as the sandbox's admin.
    identities = await sandboxIdentities(kc);
    live.identities = identities;
    log.info('sandbox prepared', {
      vpsie: config.VPSIE_URL,
      cluster: config.VPSIE_CLUSTER_IDENTIFIER,
      secret: config.VPSIE_CREDENTIALS_SECRET,
      identities: Object.fromEntries(Object.entries(identities.identities).map(([part, c]) => [part, c.getCurrentUser()?.name])),
    });
  }
  if (!temporalAddress) throw new ConfigError('invalid configuration: TEMPORAL_ADDRESS: not set and no sandbox to use');
  const orchestrator = await startOrchestrator({
    config: { ...config, METRICS_ADDR: metricsAddr, HEALTH_ADDR: healthAddr },
    kc,
    ...(identities ? { identities: identities.identities } : {}),
    temporalAddress,
    ...(kubeconfig ? { kubeconfigPath: kubeconfig } : {}),
    ...(extra.POD_NAME ? { identity: extra.POD_NAME } : {}),
    leaderElection: {
      leaseName: extra.LEADER_ELECTION_LEASE_NAME,
      leaseDurationSeconds: extra.LEADER_ELECTION_LEASE_DURATION_SECONDS,
      renewDeadlineSeconds: extra.LEADER_ELECTION_RENEW_DEADLINE_SECONDS,
      retryPeriodSeconds: extra.LEADER_ELECTION_RETRY_PERIOD_SECONDS,
    },
    gc: { graceSeconds: extra.GC_GRACE_SECONDS },
  });
  const published = {
    orchestrator: {
      metrics: `${orchestrator.metricsUrl}/metrics`,
      healthz: `${orchestrator.healthUrl}/healthz`,
      readyz: `${orchestrator.healthUrl}/readyz`,
    },
  };
  live.orchestrator = orchestrator;
  if (sandbox) sandbox.publish(published);
  else if (reused) {
    writeEndpoints({ ...(readLiveEndpoints() ?? reused), ...published }, sandboxDir());
    live.attachedTo = sandboxDir();
  }
}

live.startup = main();
live.startup.catch((err: unknown) => {
  const msg =
    err instanceof ConfigError || (err instanceof Error && err.name === 'SandboxError')
      ? err.message
      : err instanceof Error
        ? (err.stack ?? err.message)
        : String(err);
  logger('main').error(msg);
  // Whatever started before the failure is stopped (the sandbox's processes would outlive us).
  void (async () => {
    await live.orchestrator?.stop().catch(() => undefined);
    await live.sandbox?.stop().catch(() => undefined);
  })().finally(() => process.exit(1));
});
