/**
 * The orchestrator process: a Temporal worker running every workflow and activity, the thin
 * Kubernetes watchers (behind Lease leader election) that start or signal workflows, the
 * garbage-collection schedule, the coordination REST API, and the metrics/health endpoint.
 * COMPONENTS picks the parts one process runs (a Deployment per part in a cluster), and each part
 * talks to Kubernetes with its own identity (`identities`).
 *
 * `startOrchestrator` is also what integration tests run in-process: give it a unique task
 * queue and WATCH_NAMESPACE, LEADER_ELECTION off (or a lease of its own), and a prebuilt workflow
 * bundle to skip bundling.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type BundleOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { workflowBundleOptions } from './bundle-options';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createDrainActivities } from '../activities/nodes/drain';
import { createGarbageCollectionActivities } from '../activities/nodes/garbage-collection';
import { createNodeGroupActivities } from '../activities/nodes/nodegroup';
import { createNodeConfigActivities } from '../activities/nodes/node-config';
import { createScaleUpActivities } from '../activities/nodes/scale-up';
import { createScaleDownActivities } from '../activities/nodes/scale-down';
import { createVPSieMachineActivities } from '../activities/nodes/lifecycle/machines';
import { createVPSieNodeActivities } from '../activities/nodes/lifecycle/vpsienode';
import { kubernetesSecretCredentials, VPSieClient, withinPerMinute, type CredentialsSource } from '../clients/vpsie';
import { healthAddrOf, type Config } from '../lib/config';
import { clientConnectionOptions, keepApiKeyFresh, nativeConnectionOptions, temporalConnectionSettings } from '../lib/temporal-connection';
import { logger } from '../lib/log';
import { startLeaderElection, type LeaderElector } from '../lib/kube/lease-lock';
import { identifyClient } from '../lib/kube/api';
import { deleteSchedule, ensureGarbageCollectionSchedule } from '../starters/nodes/schedules';
import { startScaleUpTrigger, type ScaleUpTriggerOptions } from '../starters/nodes/scale-up-trigger';
import { ensureScaleDownLoop } from '../starters/nodes/scale-down';
import { startWatchers, type Watchers } from '../starters/nodes/watchers';
import { startPolicyWatcher, type PolicyWatcher } from '../starters/rightsizing/policy-watcher';
import { createRightsizingActivities } from '../activities/rightsizing/cycle';
import { createApplyActivities } from '../activities/rightsizing/apply';
import { MetricsServerProvider } from '../activities/rightsizing/metrics-server';
import { kubeGetter } from '../activities/rightsizing/owners';
import { PrometheusProvider, prometheusAuthFromSecret, type PrometheusAuth } from '../activities/rightsizing/prometheus';
import type { UsageProvider } from '../activities/rightsizing/provider';
import type { MetricsProviderName } from '../lib/crds/optipod';
import type { OrchestratorDeps } from './deps';
import { NodeCache } from '../lib/kube/node-cache';
import { PodCache } from '../lib/kube/pod-cache';
import { serveHealth, vpsieReadiness } from './http';
import { createCoordinationActivities } from '../activities/coordination/coordination';
import { hubAdvisor } from '../activities/coordination/advisor';
import { coordinationMetrics } from '../lib/coordination-metrics';
import { loadCoordinationConfig } from '../lib/coordination-config';
import type { CoordinationConfig } from '../lib/crds/platform/config-types';
import { createBackupActivities } from '../activities/coordination/backup';
import { DirectoryBackupStore, defaultBackupDir } from '../activities/coordination/backup-store';
import { ensureBackupSchedule } from '../starters/coordination/backup-schedule';
import { startCoordinationApi } from '../starters/coordination/rest-api';
import { coordinationHubWorkflowId } from '../workflows/coordination/contracts';
import { startCoordinationWatcher, type CoordinationWatcher } from '../starters/coordination/watcher';

export interface Orchestrator {
  metricsUrl: string;
  /** The base URL of /healthz and /readyz (HEALTH_ADDR, a listener of its own; '' when not served). */
  healthUrl: string;
  /** The coordination REST API's base URL ('' when not served). */
  coordinationApiUrl: string;
  deps: OrchestratorDeps;
  /** This replica runs the watchers (always true without leader election). */
  isLeader(): boolean;
  stop(): Promise<void>;
}

/**
 * The Kubernetes identities of the orchestrator's parts: each part's requests go out with its own
 * KubeConfig (in a cluster, each Deployment's ServiceAccount; in the sandbox, a token of that
 * ServiceAccount, see sandbox/identities.ts). A part without one uses `kc`.
 */
export type KubeIdentity = 'worker' | 'watchers' | 'api' | 'backup';
export type KubeIdentities = Partial<Record<KubeIdentity, k8s.KubeConfig>>;

export interface LeaderElectionSettings {
  leaseName?: string;
  leaseNamespace?: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

export interface StartOrchestratorOptions {
  config: Config;
  kc: k8s.KubeConfig;
  /** Per-part identities over `kc` (least privilege: each part only what its ServiceAccount may). */
  identities?: KubeIdentities;
  temporalAddress: string;
  /** Kubeconfig file for the credentials Secret reader (in-cluster / $KUBECONFIG when absent). */
  kubeconfigPath?: string;
  registry?: Registry;
  /** A ready VPSie client (tests); otherwise one is built from config and the credentials Secret. */
  vpsie?: VPSieClient;
  credentials?: CredentialsSource;
  /** Replica identity for leader election (default hostname-pid). */
  identity?: string;
  leaderElection?: LeaderElectionSettings;
  /** Run the watchers (when leader). Default true. */
  watchers?: boolean;
  gc?: {
    /** Create/update the GC schedule when leader. Default true. */
    enabled?: boolean;
    graceSeconds?: number;
    intervalSeconds?: number;
    scheduleId?: string;
    /** Delete the schedule on stop (tests). */
    deleteOnStop?: boolean;
  };
  /** A prebuilt workflow bundle (tests); otherwise workflows/index.ts is bundled. */
  workflowBundle?: WorkflowBundleOption;
  /** Watchers' periodic re-signal interval. */
  resyncSeconds?: number;
  /** How often the watchers check that each NodeGroup's workflow runs (default 30 s). */
  groupLivenessSeconds?: number;
  /** Serve /metrics, /healthz, /readyz (default true). */
  http?: boolean;
  /** Scale-up trigger options (tests: restrict to their namespaces); `false`: do not run it. */
  scaleUpTrigger?: ScaleUpTriggerOptions | false;
}

/** The usage providers of rightsizing: metrics-server always, Prometheus when PROMETHEUS_URL is set. */
export function rightsizingProviders(deps: OrchestratorDeps, prometheusAuth: PrometheusAuth = {}): Partial<Record<MetricsProviderName, UsageProvider>> {
  const kube = kubeGetter(deps.kc);
  const providers: Partial<Record<MetricsProviderName, UsageProvider>> = { 'metrics-server': new MetricsServerProvider({ kube, registry: deps.registry }) };
  if (deps.config.PROMETHEUS_URL)
    providers.prometheus = new PrometheusProvider({
      url: deps.config.PROMETHEUS_URL,
      kube,
      registry: deps.registry,
      stepMs: deps.config.PROMETHEUS_STEP_SECONDS * 1000,
      ...prometheusAuth,
    });
  return providers;
}

/** The coordination configuration (document 000's coordinator-config.yaml and tenant-tier-config.yaml), read once per process. */
let coordinationConfig: CoordinationConfig | undefined;
export function coordinationSettings(): CoordinationConfig {
  coordinationConfig ??= loadCoordinationConfig();
  return coordinationConfig;
}

/** Every activity the worker registers. */
export function createAllActivities(deps: OrchestratorDeps, prometheusAuth: PrometheusAuth = {}, backupKc: k8s.KubeConfig = deps.kc) {
  return {
    ...createCoordinationActivities({ kc: deps.kc, registry: deps.registry, config: coordinationSettings }),
    ...createBackupActivities({ kc: backupKc, store: new DirectoryBackupStore(defaultBackupDir()), registry: deps.registry }),
    ...createRightsizingActivities({
      kc: deps.kc,
      registry: deps.registry,
      providers: rightsizingProviders(deps, prometheusAuth),
      defaultProvider: deps.config.METRICS_PROVIDER,
      operatorNamespace: deps.config.OPERATOR_NAMESPACE,
      dryRun: deps.config.DRY_RUN,
      minSamples: deps.config.RIGHTSIZING_MIN_SAMPLES,
      prometheusStepMs: deps.config.PROMETHEUS_STEP_SECONDS * 1000,
      ...(deps.config.COORDINATION_ENABLED ? { coordination: hubAdvisor(deps.temporal, deps.registry, deps.config.WATCH_NAMESPACE) } : {}),
    }),
    ...createApplyActivities({ kc: deps.kc, registry: deps.registry }),
    ...createNodeGroupActivities(deps),
    ...createNodeConfigActivities(deps),
    ...createGarbageCollectionActivities(deps),
    ...createVPSieMachineActivities(deps),
    ...createVPSieNodeActivities(deps),
    ...createDrainActivities(deps),
    ...createScaleUpActivities(deps),
    ...createScaleDownActivities(deps),
  };
}

/** Prometheus credentials from PROMETHEUS_AUTH_SECRET; unreadable → none, logged (the provider then answers MetricsUnavailable). */
async function readPrometheusAuth(deps: OrchestratorDeps, log: ReturnType<typeof logger>): Promise<PrometheusAuth> {
  const ref = deps.config.PROMETHEUS_AUTH_SECRET;
  if (!ref) return {};
  const [namespace, name] = ref.split('/') as [string, string];
  try {
    return await prometheusAuthFromSecret(deps.kc.makeApiClient(k8s.CoreV1Api), namespace, name);
  } catch (err) {
    log.error('PROMETHEUS_AUTH_SECRET could not be read; Prometheus is asked without credentials', { secret: ref, error: String(err) });
    return {};
  }
}

/**
 * The workflow code: a bundle given (tests), else WORKFLOW_BUNDLE or the one `npm run build` put
 * beside the compiled code (dist/workflow-bundle.js), else workflows/index.ts bundled now.
 */
function workflowCode(
  given: WorkflowBundleOption | undefined,
):
  | { workflowBundle: WorkflowBundleOption }
  | { workflowsPath: string; bundlerOptions: { preloadModules?: string[]; webpackConfigHook?: BundleOptions['webpackConfigHook'] } } {
  if (given) return { workflowBundle: given };
  const prebuilt = process.env.WORKFLOW_BUNDLE ?? path.resolve(__dirname, '../workflow-bundle.js');
  if (fs.existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  const { workflowsPath, preloadModules, webpackConfigHook } = workflowBundleOptions(path.resolve(__dirname, '../workflows/index.ts'));
  return { workflowsPath, bundlerOptions: { ...(preloadModules ? { preloadModules } : {}), ...(webpackConfigHook ? { webpackConfigHook } : {}) } };
}

export async function startOrchestrator(o: StartOrchestratorOptions): Promise<Orchestrator> {
  const { config } = o;
  const parts = new Set(config.COMPONENTS);
  // Each part's own identity: the worker's for activities (and the informers they read), the
  // watchers' for watching and leader election, the API's for its reviews, backup's for backups.
  const kc = o.identities?.worker ?? o.kc;
  const watchersKc = o.identities?.watchers ?? o.kc;
  const apiKc = o.identities?.api ?? o.kc;
  const backupKc = o.identities?.backup ?? o.kc;
  // Each part's requests carry its name in their User-Agent (the apiserver's audit log tells them apart).
  for (const [part, partKc] of [
    ['worker', kc],
    ['watchers', watchersKc],
    ['api', apiKc],
    ['backup', backupKc],
  ] as const)
    if (parts.has(part)) identifyClient(partKc, part);
  const registry = o.registry ?? new Registry();
  const identity = o.identity ?? `${os.hostname()}-${process.pid}`;
  const log = logger('orchestrator', { taskQueue: config.TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE, identity });
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry });

  const [secretNamespace, secretName] = config.VPSIE_CREDENTIALS_SECRET.split('/') as [string, string];
  const vpsie =
    o.vpsie ??
    new VPSieClient({
      baseUrl: config.VPSIE_URL,
      credentials:
        o.credentials ??
        kubernetesSecretCredentials({
          namespace: secretNamespace,
          name: secretName,
          ...(o.identities?.worker ? { kubeConfig: o.identities.worker } : o.kubeconfigPath ? { kubeconfig: o.kubeconfigPath } : {}),
        }),
      registry,
      // Never more than this replica's share of the account's limit within any minute (burst +
      // refill), whatever the server's window.
      rateLimit: withinPerMinute(Math.max(2, Math.floor(config.VPSIE_RATE_LIMIT_PER_MINUTE / config.VPSIE_REPLICAS))),
    });
  // TLS / mTLS / API key from the configuration's files (lib/temporal-connection.ts)
  const temporalSettings = temporalConnectionSettings(o.temporalAddress, config);
  const clientConnection = await Connection.connect(clientConnectionOptions(temporalSettings));
  const temporal = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });
  // One Node informer for the process: join polls read it, the watchers wake joining lifecycles from it.
  const nodes = new NodeCache(parts.has('worker') ? kc : watchersKc);
  await nodes.start().catch((err: unknown) => log.warn('Node informer not started; Nodes are read from the apiserver', { error: String(err) }));
  // And one of the live pods, read by the scale-up snapshot instead of listing every pod per batch.
  const pods = config.SCALE_UP_SNAPSHOT_FROM_CACHE && parts.has('worker') ? new PodCache(kc) : undefined;
  await pods?.start().catch((err: unknown) => log.warn('Pod informer not started; scale-up snapshots list pods', { error: String(err) }));
  const deps: OrchestratorDeps = { config, kc, vpsie, temporal, registry, nodes, ...(pods ? { pods } : {}) };

  const connection = parts.has('worker') || parts.has('backup') ? await NativeConnection.connect(nativeConnectionOptions(temporalSettings)) : undefined;
  const stopKeyRenewal = connection ? keepApiKeyFresh(connection, temporalSettings) : () => undefined;
  const worker =
    connection && parts.has('worker')
      ? await Worker.create({
          connection,
          namespace: config.TEMPORAL_NAMESPACE,
          taskQueue: config.TASK_QUEUE,
          identity,
          ...workflowCode(o.workflowBundle),
          activities: createAllActivities(deps, await readPrometheusAuth(deps, log), backupKc),
        })
      : undefined;
  // The backup part: a worker of its own on BACKUP_TASK_QUEUE, its activities as the backup identity.
  const backupWorker =
    connection && parts.has('backup') && config.BACKUP_TASK_QUEUE
      ? await Worker.create({
          connection,
          namespace: config.TEMPORAL_NAMESPACE,
          taskQueue: config.BACKUP_TASK_QUEUE,
          identity: `${identity}-backup`,
          ...workflowCode(o.workflowBundle),
          activities: createBackupActivities({ kc: backupKc, store: new DirectoryBackupStore(defaultBackupDir()), registry }),
        })
      : undefined;
  const backupRunning = backupWorker?.run() ?? Promise.resolve();
  backupRunning.catch((err: unknown) => log.error('backup worker stopped with an error', { error: String(err) }));
  const running = worker?.run() ?? Promise.resolve();
  // Without a worker in this process, "running" means the Temporal client answers (checked on each probe's tick).
  let temporalReachable = true;
  const polling = worker ?? backupWorker;
  const workerState = (): string => (polling ? polling.getState() : temporalReachable ? 'RUNNING' : 'UNREACHABLE');
  const probeTemporal = async (): Promise<void> => {
    if (polling) return;
    temporalReachable = await clientConnection.healthService
      .check({})
      .then(() => true)
      .catch(() => false);
  };
  // vpa_nap_coordinator_healthy: the worker polls (document 000's healthCheckInterval, 10 s)
  const healthGauge = coordinationMetrics(registry).healthy;
  const setHealth = (): void => {
    void probeTemporal().finally(() => healthGauge.set(workerState() === 'RUNNING' ? 1 : 0));
  };
  const healthTimer = setInterval(setHealth, 10_000);
  healthTimer.unref();
  setImmediate(setHealth);
  running.catch((err: unknown) => log.error('worker stopped with an error', { error: String(err) }));

  // ---- leader-only duties: watchers and the GC schedule ----
  let watchers: Watchers | undefined;
  let policyWatcher: PolicyWatcher | undefined;
  let coordinationWatcher: CoordinationWatcher | undefined;
  let stopScaleUpTrigger: (() => Promise<void>) | undefined;
  let leading = false;
  let scheduleId: string | undefined;
  const gcEnabled = o.gc?.enabled ?? true;
  const startDuties = async (): Promise<void> => {
    leading = true;
    if (gcEnabled) {
      scheduleId = await ensureGarbageCollectionSchedule(temporal, {
        ...(o.gc?.scheduleId ? { scheduleId: o.gc.scheduleId } : {}),
        taskQueue: config.TASK_QUEUE,
        intervalSeconds: o.gc?.intervalSeconds ?? config.GC_INTERVAL_SECONDS,
        input: { namespace: config.WATCH_NAMESPACE, graceSeconds: o.gc?.graceSeconds ?? 600 },
      });
      if (config.COORDINATION_ENABLED && config.BACKUP_INTERVAL_HOURS > 0)
        await ensureBackupSchedule(temporal, {
          taskQueue: config.BACKUP_TASK_QUEUE ?? config.TASK_QUEUE,
          every: `${Math.max(1, Math.round(config.BACKUP_INTERVAL_HOURS * 60))}m`,
          ...(config.WATCH_NAMESPACE ? { input: { namespaces: [config.WATCH_NAMESPACE] } } : {}),
        }).catch((err: unknown) => log.error('backup schedule not created; backups run only by `npm run backup`', { error: String(err) }));
    }
    if (o.watchers ?? true)
      watchers = await startWatchers({
        kc: watchersKc,
        temporal,
        taskQueue: config.TASK_QUEUE,
        namespace: config.WATCH_NAMESPACE,
        nodes,
        ...(o.resyncSeconds ? { resyncSeconds: o.resyncSeconds } : {}),
        ...(o.groupLivenessSeconds !== undefined ? { groupLivenessSeconds: o.groupLivenessSeconds } : {}),
      });
    if ((o.watchers ?? true) && config.RIGHTSIZING_ENABLED)
      try {
        policyWatcher = await startPolicyWatcher({
          kc: watchersKc,
          temporal,
          taskQueue: config.TASK_QUEUE,
          namespace: config.WATCH_NAMESPACE,
          ...(o.resyncSeconds ? { resyncSeconds: o.resyncSeconds } : {}),
        });
      } catch (err) {
        // e.g. the OptimizationPolicy CRD is not installed: node autoscaling runs on
        log.error('OptimizationPolicy watcher not started; rightsizing is off', { error: String(err) });
      }
    if ((o.watchers ?? true) && config.COORDINATION_ENABLED)
      try {
        const rl = coordinationSettings().coordinator.rateLimiting;
        coordinationWatcher = await startCoordinationWatcher({
          kc: watchersKc,
          temporal,
          taskQueue: config.TASK_QUEUE,
          namespace: config.WATCH_NAMESPACE,
          nodes,
          registry,
          hubSettings: { maxUpdatesPerHour: rl.maxVPAUpdatesPerHour, maxUpdatesPerNamespace: rl.maxVPAUpdatesPerNamespace },
          ...(o.resyncSeconds ? { resyncSeconds: o.resyncSeconds } : {}),
        });
      } catch (err) {
        // e.g. the VPANAPCoordination CRD is not installed: the other capabilities run on
        log.error('coordination watcher not started; coordination is off', { error: String(err) });
      }
    if ((o.watchers ?? true) && o.scaleUpTrigger !== false)
      stopScaleUpTrigger = await startScaleUpTrigger(
        { ...deps, kc: watchersKc },
        // A namespace-scoped orchestrator only reacts to that namespace's pods, so several can share a cluster.
        o.scaleUpTrigger ?? (deps.config.WATCH_NAMESPACE ? { namespaces: [deps.config.WATCH_NAMESPACE] } : {}),
      );
    if ((o.watchers ?? true) && config.SCALE_DOWN_ENABLED) await ensureScaleDownLoop(temporal, { taskQueue: config.TASK_QUEUE, scope: config.WATCH_NAMESPACE });
  };
  const stopDuties = async (): Promise<void> => {
    leading = false;
    const w = watchers;
    watchers = undefined;
    await w?.stop();
    const pw = policyWatcher;
    policyWatcher = undefined;
    await pw?.stop();
    const cw = coordinationWatcher;
    coordinationWatcher = undefined;
    await cw?.stop();
    const t = stopScaleUpTrigger;
    stopScaleUpTrigger = undefined;
    await t?.();
  };

  let elector: LeaderElector | undefined;
  if (!parts.has('watchers')) {
    // no watchers and no schedules in this process: another one (COMPONENTS=watchers) runs them
  } else if (config.LEADER_ELECTION) {
    const le = o.leaderElection ?? {};
    elector = startLeaderElection({
      kc: watchersKc,
      namespace: le.leaseNamespace ?? config.LEADER_ELECTION_NAMESPACE,
      ...(le.leaseName ? { name: le.leaseName } : {}),
      identity,
      ...(le.leaseDurationSeconds ? { leaseDurationSeconds: le.leaseDurationSeconds } : {}),
      ...(le.renewDeadlineSeconds ? { renewDeadlineSeconds: le.renewDeadlineSeconds } : {}),
      ...(le.retryPeriodSeconds ? { retryPeriodSeconds: le.retryPeriodSeconds } : {}),
      onStartedLeading: startDuties,
      onStoppedLeading: stopDuties,
    });
  } else {
    await startDuties();
  }

  // /readyz also requires the VPSie API to answer (document 004), from a cached periodic probe.
  // (only where the worker runs: the other parts never call VPSie, nor may they read its credentials)
  const vpsieReady = o.http === false || !parts.has('worker') ? undefined : vpsieReadiness(vpsie, { intervalMs: config.VPSIE_READY_CHECK_SECONDS * 1000 });
  const health =
    o.http === false
      ? undefined
      : await serveHealth(
          config.METRICS_ADDR,
          registry,
          () => {
            const state = workerState();
            // Ready = the worker polls; a follower is ready too (it runs workflows and activities).
            const ok = state === 'RUNNING';
            return {
              ok,
              detail: `${worker ? 'worker' : backupWorker ? 'backup worker' : 'temporal'} ${state}; ${!parts.has('watchers') ? 'no watchers here' : config.LEADER_ELECTION ? (leading ? 'leader' : 'follower') : 'leader election off'}${watchers ? `; watchers ${watchers.synced() ? 'synced' : 'syncing'}` : ''}`,
            };
          },
          { healthAddr: healthAddrOf(config), checks: vpsieReady ? [vpsieReady] : [] },
        );
  // the coordination REST API (document 000): a Temporal client of the coordination workflows
  const coordinationApi =
    o.http === false || !config.COORDINATION_ENABLED || !config.COORDINATION_API_ADDR || !parts.has('api')
      ? undefined
      : await startCoordinationApi({
          temporal,
          kc: apiKc,
          addr: config.COORDINATION_API_ADDR,
          registry,
          healthy: () => workerState() === 'RUNNING',
          ready: () => workerState() === 'RUNNING',
          hubWorkflowId: coordinationHubWorkflowId(config.WATCH_NAMESPACE),
        }).catch((err: unknown) => {
          log.error('coordination REST API not started', { addr: config.COORDINATION_API_ADDR, error: String(err) });
          return undefined;
        });
  log.info('orchestrator running', {
    components: [...parts].join(','),
    coordinationApi: coordinationApi?.url,
    metrics: health ? `${health.url}/metrics` : undefined,
    temporal: o.temporalAddress,
    dryRun: config.DRY_RUN,
    watchNamespace: config.WATCH_NAMESPACE || '*',
    leaderElection: config.LEADER_ELECTION,
  });

  let stopping: Promise<void> | undefined;
  return {
    metricsUrl: health?.url ?? '',
    healthUrl: health?.healthUrl ?? '',
    coordinationApiUrl: coordinationApi?.url ?? '',
    deps,
    isLeader: () => leading,
    stop() {
      stopping ??= (async () => {
        if (elector) await elector.stop();
        else await stopDuties();
        if (o.gc?.deleteOnStop && scheduleId) await deleteSchedule(temporal, scheduleId).catch(() => undefined);
        clearInterval(healthTimer);
        vpsieReady?.stop();
        if (worker?.getState() === 'RUNNING') worker.shutdown(); // Temporal's own signal handler may have begun it
        if (backupWorker?.getState() === 'RUNNING') backupWorker.shutdown();
        await running.catch(() => undefined);
        await backupRunning.catch(() => undefined);
        await health?.close();
        await coordinationApi?.close();
        stopKeyRenewal();
        await connection?.close();
        await clientConnection.close();
        await nodes.stop().catch(() => undefined);
        await pods?.stop().catch(() => undefined);
      })();
      return stopping;
    },
  };
}
