/**
 * The sandbox: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler), kwok faking kubelets (with the resize arbiter deciding in-place resizes for
 * them), and the Temporal dev server — all on loopback, on free ports, with their state and logs
 * in the sandbox directory. `startSandbox` brings them up in order, waits for each to be ready,
 * applies the project's CRDs and writes `<dir>/endpoints.json`; `Sandbox.stop` stops every
 * process it started, by pid.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import YAML from 'yaml';
import { z } from 'zod';
import { endpointsPath, readEndpoints, repoRoot, sandboxDir, writeEndpoints, type Endpoints } from './endpoints';
import { applyAdmission, SANDBOX_ADMIN_USER } from './admission';
import { startMetricsStack } from './metrics';
import { startVpa, type VpaEndpoint } from './vpa';
import { createAggregationPki } from './pki';
import { freePort, isSameProcess, ownLog, processStartTime, SandboxError, startProcess, stopPids, waitReady, type Managed } from './process';
import { ensureToolchain, type Progress, type Toolchain } from './toolchain';
import { nodeScript } from '../lib/paths';

export { SandboxError } from './process';

const TemporalDevConfig = z.object({
  namespace: z.string().min(1),
  searchAttributes: z.record(z.string(), z.enum(['Keyword', 'Text', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'])),
  logLevel: z.string().default('warn'),
});
export type TemporalDevConfig = z.infer<typeof TemporalDevConfig>;

export function temporalDevConfig(): TemporalDevConfig {
  const file = path.join(repoRoot(), 'temporal-dev.yaml');
  return TemporalDevConfig.parse(YAML.parse(fs.readFileSync(file, 'utf8')));
}

export interface SandboxOptions {
  /** Directory for state, logs and endpoints.json (default: $SANDBOX_DIR or <repo>/.sandbox). */
  dir?: string;
  /** No Temporal Web UI (default: $SANDBOX_HEADLESS === '1' or CI). */
  headless?: boolean;
  progress?: Progress;
  /** Per-component readiness deadline. */
  readyTimeoutMs?: number;
  /** Stop everything on SIGINT/SIGTERM (default true); a caller with its own shutdown passes false. */
  handleSignals?: boolean;
  /** A JSON file of VPSie simulator settings (delays, rate limit, faults); default $SANDBOX_VPSIE_CONFIG. */
  vpsieConfigFile?: string;
  /** CRD manifests to apply (default: $SANDBOX_CRD_DIR or <repo>/k8s/crds). */
  crdDir?: string;
  /**
   * API Priority and Fairness on, as in a real cluster (default: $SANDBOX_PRIORITY_AND_FAIRNESS
   * === '1'; off otherwise). With it the apiserver counts each orchestrator part's requests under
   * its FlowSchema (k8s/flowcontrol.yaml): apiserver_flowcontrol_dispatched_requests_total.
   */
  priorityAndFairness?: boolean;
}

export interface Sandbox {
  dir: string;
  endpoints: Endpoints;
  tools: Toolchain;
  /** Seconds from start to every component ready. */
  startSeconds: number;
  /** Extra processes (started by later components) that stop() must also stop. */
  adopt(proc: Managed): void;
  /** Updates endpoints.json with a component's section. */
  publish(section: Record<string, unknown>): void;
  stop(): Promise<void>;
}

function httpsGet(url: string, opts: { ca?: Buffer; token?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: opts.ca,
        rejectUnauthorized: opts.ca !== undefined,
        headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const VPSieReadySchema = z.object({
  url: z.string(),
  admin: z.string(),
  clientId: z.string(),
  clientSecret: z.string(),
  clusterIdentifier: z.string(),
  pid: z.number().int(),
});
type VPSieReady = z.infer<typeof VPSieReadySchema>;

/**
 * The simulator prints one JSON line with its endpoints (and its pid) when it is ready. Its log is
 * appended to by every run, so only this run's part is read, and the line must name this process.
 */
export function readVPSieReady(proc: Pick<Managed, 'logFile' | 'logOffset' | 'pid'>): VPSieReady | undefined {
  for (const line of ownLog(proc).split('\n')) {
    if (!line.startsWith('{"url"')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // a line still being written
    }
    const r = VPSieReadySchema.safeParse(parsed);
    if (r.success && r.data.pid === proc.pid) return r.data;
  }
  return undefined;
}

/** Whether `proc` has printed its one-line JSON ready message `{"<key>":"ready","pid":<its pid>}` in this run. */
export function readyLine(proc: Pick<Managed, 'logFile' | 'logOffset' | 'pid'>, key: string): boolean {
  const Ready = z.object({ [key]: z.literal('ready'), pid: z.number().int() });
  return ownLog(proc)
    .split('\n')
    .some((line) => {
      if (!line.startsWith(`{"${key}"`)) return false;
      try {
        const r = Ready.safeParse(JSON.parse(line));
        return r.success && r.data.pid === proc.pid;
      } catch {
        return false; // a line still being written
      }
    });
}

/**
 * State a sandbox start clears: a fresh sandbox is a fresh cluster (etcd), a fresh cloud (the
 * simulator's machines) and a fresh Temporal (no workflow of the previous cluster's objects).
 * Logs are kept (appended, one header line per run) and read back only from this run's offset.
 */
const PER_RUN_STATE = [
  'etcd',
  'pki',
  'vpsie-state.json',
  'temporal.db',
  'temporal.db-wal',
  'temporal.db-shm',
  'temporal.db-journal',
  'kwok.yaml',
  'kubeconfig',
];

function clearRunState(dir: string): void {
  for (const name of PER_RUN_STATE) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

/** Refuses to start over a live sandbox in the same directory; clears what a dead one left. */
async function claimDir(dir: string): Promise<void> {
  const existing = (() => {
    try {
      return readEndpoints(dir);
    } catch {
      return undefined;
    }
  })();
  if (existing) {
    const starts = existing.processStarts ?? {};
    const owner = existing.pids.sandbox;
    if (owner !== undefined && isSameProcess(owner, starts.sandbox))
      throw new SandboxError(`a sandbox is already running in ${dir} (pid ${owner}); stop it first, or start another with SANDBOX_DIR=<other dir>`);
    // Its owner died without cleaning up: stop what it left behind — only processes that are
    // still the ones it started (a pid reused since then belongs to someone else).
    const leftovers = Object.entries(existing.pids)
      .filter(([name]) => name !== 'sandbox')
      .filter(([name, pid]) => isSameProcess(pid, starts[name]))
      .map(([, pid]) => pid);
    await stopPids(leftovers, 5_000);
    fs.rmSync(endpointsPath(dir), { force: true });
  }
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const started = Date.now();
  const dir = path.resolve(opts.dir ?? sandboxDir());
  const progress = opts.progress ?? (() => {});
  const headless = opts.headless ?? (process.env.SANDBOX_HEADLESS === '1' || process.env.CI === 'true');
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  fs.mkdirSync(dir, { recursive: true });
  await claimDir(dir);

  const tools = await ensureToolchain(progress);
  const logDir = path.join(dir, 'logs');
  const procs: Managed[] = [];
  let endpoints: Endpoints | undefined;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // In tiers, reverse to the start order: the apiserver's clients (and the simulator) first,
      // so it has no watches to drain; then the apiserver and Temporal; etcd last.
      const tiers: string[][] = [['etcd'], ['kube-apiserver', 'temporal']];
      const tierOf = (p: Managed): number => tiers.findIndex((t) => t.includes(p.name));
      const last = tiers.length;
      for (let t = last; t >= 0; t--) {
        const group = procs.filter((p) => (tierOf(p) === -1 ? last : tierOf(p)) === t);
        await stopPids(group.map((p) => p.pid));
      }
      fs.rmSync(endpointsPath(dir), { force: true });
    })();
    return stopping;
  };
  // During start-up a signal always stops what was started (the components have process groups
  // of their own, so the terminal's Ctrl-C reaches only this process). npm forwards the signal
  // too, so one Ctrl-C may arrive twice: every further signal is absorbed by the same stop.
  const onSignal = (): void => {
    void stop().finally(() => process.exit(130));
  };

  // The VPA starts alongside the project's CRDs: a failure of theirs waits for it to settle, so
  // that stop() sees every process it started.
  let vpaStarting: Promise<VpaEndpoint> | undefined;
  try {
    // ---- etcd ----
    clearRunState(dir);
    const etcdDir = path.join(dir, 'etcd');
    const [etcdClient, etcdPeer] = [await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    progress('starting etcd…');
    const etcd = startProcess(
      'etcd',
      tools.etcd,
      [
        `--data-dir=${etcdDir}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      logDir,
    );
    procs.push(etcd);
    // During start-up a signal always stops what was started; afterwards only if asked to.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    // ---- Temporal (independent of Kubernetes: start it now, check it later) ----
    const tcfg = temporalDevConfig();
    const [tPort, tHttp, tUi, tMetrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const temporalArgs = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(tPort),
      '--http-port',
      String(tHttp),
      '--metrics-port',
      String(tMetrics),
      '--db-filename',
      path.join(dir, 'temporal.db'),
      '--log-level',
      tcfg.logLevel,
      '--namespace',
      tcfg.namespace,
      ...Object.entries(tcfg.searchAttributes).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`]),
    ];
    if (headless) temporalArgs.push('--headless');
    else temporalArgs.push('--ui-port', String(tUi), '--ui-ip', '127.0.0.1', '--ui-disable-news-fetch');
    progress('starting the Temporal dev server…');
    const temporal = startProcess('temporal', tools.temporal, temporalArgs, logDir);
    procs.push(temporal);

    await waitReady(
      etcd,
      'etcd health',
      async () => {
        const r = await fetch(`${etcdUrl}/health`);
        return r.ok && ((await r.json()) as { health?: string }).health === 'true';
      },
      readyTimeoutMs,
    );

    // ---- kube-apiserver ----
    const pki = path.join(dir, 'pki');
    fs.mkdirSync(pki, { recursive: true });
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = path.join(pki, 'sa.key');
    const saPub = path.join(pki, 'sa.pub');
    fs.writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const token = crypto.randomBytes(24).toString('hex');
    const tokenFile = path.join(pki, 'tokens.csv');
    fs.writeFileSync(tokenFile, `${token},${SANDBOX_ADMIN_USER},${SANDBOX_ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
    const aggregation = await createAggregationPki(pki, logDir);
    const apiPort = await freePort();
    const apiserverUrl = `https://127.0.0.1:${apiPort}`;
    progress('starting kube-apiserver…');
    const apiserver = startProcess(
      'kube-apiserver',
      tools.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${pki}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=Node,RBAC',
        `--service-account-issuer=${apiserverUrl}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        `--enable-priority-and-fairness=${opts.priorityAndFairness ?? process.env.SANDBOX_PRIORITY_AND_FAIRNESS === '1'}`,
        ...aggregation.apiserverFlags,
        '--v=1',
      ],
      logDir,
    );
    procs.push(apiserver);
    const caFile = path.join(pki, 'apiserver.crt');
    await waitReady(
      apiserver,
      '/readyz',
      async () => {
        if (!fs.existsSync(caFile)) return false;
        const r = await httpsGet(`${apiserverUrl}/readyz`, { ca: fs.readFileSync(caFile), token });
        return r.status === 200 && r.body.trim() === 'ok';
      },
      readyTimeoutMs,
    );

    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'sandbox', cluster: { server: apiserverUrl, 'certificate-authority': caFile } }],
        users: [{ name: SANDBOX_ADMIN_USER, user: { token } }],
        contexts: [{ name: 'sandbox', context: { cluster: 'sandbox', user: SANDBOX_ADMIN_USER } }],
        'current-context': 'sandbox',
      }),
      { mode: 0o600 },
    );

    // ---- controller-manager, scheduler, kwok ----
    const [kcmPort, schedPort] = [await freePort(), await freePort()];
    const common = [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
    ];
    // Client rate limits sized for bursts: at the defaults (controller-manager 20 QPS, scheduler 50)
    // the ReplicaSet controller alone takes 9 s to create 200 pods and the scheduler as long to
    // report them, which would hide every latency of the orchestrator behind the control plane's.
    const controlPlaneQps = ['--kube-api-qps=200', '--kube-api-burst=400'];
    progress('starting kube-controller-manager, kube-scheduler and kwok…');
    const kcm = startProcess(
      'kube-controller-manager',
      tools.kubeControllerManager,
      [
        ...common,
        `--secure-port=${kcmPort}`,
        '--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle,-route',
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${caFile}`,
        '--use-service-account-credentials=false',
        ...controlPlaneQps,
        '--v=1',
      ],
      logDir,
    );
    procs.push(kcm);
    const scheduler = startProcess('kube-scheduler', tools.kubeScheduler, [...common, `--secure-port=${schedPort}`, ...controlPlaneQps, '--v=1'], logDir);
    procs.push(scheduler);
    const stagesDir = path.join(repoRoot(), 'sandbox', 'kwok', 'stages');
    const stages = fs
      .readdirSync(stagesDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => path.join(stagesDir, f));
    const metricsConfigDir = path.join(repoRoot(), 'sandbox', 'kwok', 'metrics');
    stages.push(
      ...fs
        .readdirSync(metricsConfigDir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => path.join(metricsConfigDir, f)),
    );
    const kwokConfig = path.join(dir, 'kwok.yaml');
    fs.writeFileSync(kwokConfig, stages.map((f) => fs.readFileSync(f, 'utf8')).join('\n---\n'));
    const kwokPort = await freePort();
    const kwok = startProcess(
      'kwok',
      tools.kwok,
      [
        `--kubeconfig=${kubeconfig}`,
        `--config=${kwokConfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--node-lease-duration-seconds=40',
        '--cidr=10.244.0.0/16',
        '--node-ip=127.0.0.1',
        `--server-address=127.0.0.1:${kwokPort}`,
        '--enable-crds=ResourceUsage',
      ],
      logDir,
      { ...process.env, HOME: dir },
    );
    procs.push(kwok);

    // ---- the VPSie API simulator: its booted machines join this cluster as kwok nodes ----
    // A fresh sandbox is a fresh cluster, so it also gets a fresh cloud; a simulator restart
    // within one sandbox keeps its state (the state file), as a real cloud would.
    const vpsieState = path.join(dir, 'vpsie-state.json');
    progress('starting the VPSie API simulator…');
    const vpsie = startProcess(
      'vpsie-sim',
      process.execPath,
      [
        ...nodeScript(path.join(repoRoot(), 'sandbox', 'vpsie-sim', 'main.ts')),
        '--port',
        String(await freePort()),
        '--state-file',
        vpsieState,
        '--kubeconfig',
        kubeconfig,
        ...((opts.vpsieConfigFile ?? process.env.SANDBOX_VPSIE_CONFIG)
          ? ['--config', path.resolve(opts.vpsieConfigFile ?? process.env.SANDBOX_VPSIE_CONFIG ?? '')]
          : []),
      ],
      logDir,
      { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
    );
    procs.push(vpsie);
    let vpsieInfo: VPSieReady | undefined;

    // ---- the resize arbiter: the kubelet's admission of in-place resizes, which kwok lacks ----
    // It decides whether a pods/resize fits the node (Infeasible / Deferred / admitted) and the
    // kwok stage pod-resize actuates what it admitted (sandbox/resize-arbiter/arbiter.ts).
    progress('starting the resize arbiter…');
    const arbiter = startProcess(
      'resize-arbiter',
      process.execPath,
      [...nodeScript(path.join(repoRoot(), 'sandbox', 'resize-arbiter', 'main.ts')), '--kubeconfig', kubeconfig],
      logDir,
      { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
    );
    procs.push(arbiter);

    await Promise.all([
      waitReady(arbiter, 'its ready line', async () => readyLine(arbiter, 'resizeArbiter'), readyTimeoutMs),
      waitReady(
        vpsie,
        'its ready line',
        async () => {
          vpsieInfo = readVPSieReady(vpsie);
          return vpsieInfo !== undefined;
        },
        readyTimeoutMs,
      ),
      waitReady(kcm, 'healthz', async () => (await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`, {})).status === 200, readyTimeoutMs),
      waitReady(scheduler, 'healthz', async () => (await httpsGet(`https://127.0.0.1:${schedPort}/healthz`, {})).status === 200, readyTimeoutMs),
      waitReady(
        temporal,
        'cluster health SERVING',
        async () => {
          const conn = await Connection.connect({ address: `127.0.0.1:${tPort}`, connectTimeout: 1000 });
          try {
            const r = await conn.healthService.check({});
            return r.status === 1; // SERVING
          } finally {
            await conn.close();
          }
        },
        readyTimeoutMs,
      ),
    ]);

    // ---- metrics-server (metrics.k8s.io) and Prometheus, reading kwok's kubelet metrics ----
    const metricsStarting = startMetricsStack({
      dir,
      logDir,
      tools,
      pki: aggregation,
      kubeconfig,
      apiserverUrl,
      apiserverCa: caFile,
      token,
      kwok,
      kwokPort,
      readyTimeoutMs,
      progress,
      onStarted: (p) => procs.push(p),
    });
    // ---- the Kubernetes VPA: its CRDs, admission controller and updater alongside metrics-server,
    // its recommender once metrics.k8s.io is served; ready alongside the project's CRDs ----
    vpaStarting = startVpa({ dir, logDir, tools, kubeconfig, readyTimeoutMs, progress, metricsReady: metricsStarting, onStarted: (p) => procs.push(p) });
    vpaStarting.catch(() => undefined); // awaited below; a failure meanwhile must not go unhandled
    const metrics = await metricsStarting;

    // ---- CRDs ----
    const crdDir = path.resolve(opts.crdDir ?? process.env.SANDBOX_CRD_DIR ?? path.join(repoRoot(), 'k8s', 'crds'));
    if (fs.existsSync(crdDir) && fs.readdirSync(crdDir).some((f) => f.endsWith('.yaml'))) {
      progress('applying CRDs…');
      const applier = startProcess('kubectl-apply', tools.kubectl, [`--kubeconfig=${kubeconfig}`, 'apply', '--server-side', '-f', crdDir], logDir);
      await applier.exited;
      if (applier.exitCode() !== 0) throw new SandboxError(`applying the CRDs in ${crdDir} failed (log: ${applier.logFile})`);
      const waiter = startProcess(
        'kubectl-wait',
        tools.kubectl,
        [`--kubeconfig=${kubeconfig}`, 'wait', '--for=condition=Established', '--timeout=60s', '-f', crdDir],
        logDir,
      );
      await waiter.exited;
      if (waiter.exitCode() !== 0) throw new SandboxError(`the CRDs never became Established (log: ${waiter.logFile})`);
      // The orchestrator's RBAC and the admission policy that only it creates VPSieNodes (issue #12).
      if (fs.existsSync(path.join(crdDir, 'autoscaler.vpsie.com_vpsienodes.yaml'))) {
        progress('applying the RBAC and admission policy…');
        await applyAdmission({ dir, logDir, kubectl: tools.kubectl, kubeconfig, apiserverUrl, caFile, token, readyTimeoutMs });
      }
    }

    const vpa = await vpaStarting;

    const pids: Record<string, number> = { sandbox: process.pid };
    for (const p of procs) pids[p.name] = p.pid;
    const processStarts: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const t = processStartTime(pid);
      if (t !== undefined) processStarts[name] = t;
    }
    endpoints = {
      kubeconfig,
      kubectl: tools.kubectl,
      apiserver: apiserverUrl,
      temporal: {
        address: `127.0.0.1:${tPort}`,
        namespace: tcfg.namespace,
        ui: headless ? null : `http://127.0.0.1:${tUi}`,
        cli: tools.temporal,
      },
      vpsie: vpsieInfo && {
        url: vpsieInfo.url,
        admin: vpsieInfo.admin,
        clientId: vpsieInfo.clientId,
        clientSecret: vpsieInfo.clientSecret,
        clusterIdentifier: vpsieInfo.clusterIdentifier,
      },
      metricsServer: metrics.metricsServer,
      prometheus: metrics.prometheus,
      vpa,
      pids,
      processStarts,
      logs: logDir,
      startedAt: new Date(started).toISOString(),
    };
    writeEndpoints(endpoints, dir);
    if (opts.handleSignals === false) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  } catch (err) {
    await vpaStarting?.catch(() => undefined);
    await stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    throw err;
  }

  const current = endpoints;
  const sandbox: Sandbox = {
    dir,
    endpoints: current,
    tools,
    startSeconds: (Date.now() - started) / 1000,
    adopt(proc) {
      procs.push(proc);
      current.pids[proc.name] = proc.pid;
      const t = processStartTime(proc.pid);
      if (t !== undefined) (current.processStarts ??= {})[proc.name] = t;
      writeEndpoints(current, dir);
    },
    publish(section) {
      Object.assign(current, section);
      writeEndpoints(current, dir);
    },
    async stop() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await stop();
    },
  };
  return sandbox;
}
