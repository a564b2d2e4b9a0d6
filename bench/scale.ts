/**
 * `npm run bench:scale [-- --groups 100 --nodes-per-group 10 --pods 10000 --burst 1000]`: the
 * orchestrator at the documented scale (document 001's performance budget), run as production runs
 * it — `node dist/workers/cli.js run`, a process of its own attached to a sandbox this bench
 * starts (API Priority and Fairness on, so the apiserver counts each part's requests under its
 * FlowSchema) — and prints one JSON object on stdout (progress on stderr):
 *
 * - setup: `--groups` NodeGroups of `--nodes-per-group` nodes each (minNodes), the simulator's
 *   delays at 0, created with a raised VPSie rate limit (`--setup-rate-limit`, simulator and
 *   orchestrator alike); then `--pods` pods as one Deployment per group. The orchestrator is then
 *   restarted with the default rate limit for the measured phases.
 * - steady: `--steady-seconds` idle at that scale: RSS and CPU of the orchestrator's processes,
 *   Kubernetes API requests per second per part (apiserver_flowcontrol_dispatched_requests_total
 *   by flow_schema), VPSie API calls per minute (the simulator's traffic counter).
 * - burst: `--burst` pending pods on `--burst-groups` NodeGroups of their own (no node at first):
 *   first signal (the first pod marked Unschedulable) → first VPSie create of its group (p95 over
 *   the groups), last machine booted → all pods Running, RSS peak, CPU, API and VPSie rates.
 * - scale-down: the burst Deployments deleted, seconds until the burst groups' machines are gone.
 * - largestHistory: the workflow with the most history events (and the most bytes), by describe().
 * - targets: the targets, pass or fail (reported, not asserted).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import YAML from 'yaml';
import { z } from 'zod';
import { readEndpoints, unpublish } from '../sandbox/endpoints';
import { startSandbox, type Sandbox } from '../sandbox/stack';
import { API_VERSION, GROUP, NODEGROUP_KIND, NODEGROUP_PLURAL, VERSION } from '../lib/crds/autoscaler';
import { percentile, round3 } from './stats';
import { eventually } from '../test/support/eventually';

// ---------------------------------------------------------------------------------- arguments

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: expected a non-negative number`);
  return v;
}

const GROUPS = arg('groups', 100);
const NODES_PER_GROUP = arg('nodes-per-group', 10);
const PODS = arg('pods', 10_000);
const BURST = arg('burst', 1000);
const BURST_GROUPS = arg('burst-groups', Math.max(1, Math.ceil(BURST / 250)));
const STEADY_SECONDS = arg('steady-seconds', 60);
const SETUP_RATE_LIMIT = arg('setup-rate-limit', 1000);
const SCALE_DOWN_TIMEOUT_SECONDS = arg('scale-down-timeout', 600);
const NODES = GROUPS * NODES_PER_GROUP;

const ROOT = path.resolve(__dirname, '..');
const NODE_BIN = path.join(ROOT, 'node_modules', '.bin', 'node');
const GROUP_LABEL = 'bench.vpsie.com/group';
const NODEGROUP_NS = 'kube-system';
const PODS_NS = 'bench-scale';
const BURST_NS = 'bench-scale-burst';
const SCALE_PLAN = 'small-2cpu-4gb';
const BURST_PLAN = '2xlarge-16cpu-64gb';
const BURST_GROUP_MAX_NODES = 100;
const BURST_POD = { cpu: '500m', memory: '1Gi' };
const STEADY_POD = { cpu: '50m', memory: '64Mi' };
const PARTS = ['worker', 'watcher', 'api', 'backup'] as const;
/** The scale-down settings of the burst groups (the scale groups keep the defaults, held by minNodes). */
const BURST_SCALE_DOWN = { enabled: true, stabilizationWindowSeconds: 30, cooldownSeconds: 30, utilizationSource: 'requests' };
const BURST_DISRUPTION = { maxUnavailable: '100%' };
/** The cluster-wide limit the measured orchestrator runs with: the default, or room for the burst above it. */
const MAX_CLUSTER_NODES = Math.max(1000, NODES + BURST_GROUPS * BURST_GROUP_MAX_NODES);

const progress = (msg: string): void => void process.stderr.write(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The tests' polling (test/support/eventually.ts), with the deadline and period first. */
function until<T>(what: string, timeoutMs: number, intervalMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return eventually(what, probe, timeoutMs, intervalMs);
}

// --------------------------------------------------------------------------- process sampling

const CLK_TCK = 100;

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The process and its descendants (the orchestrator may run helpers of its own). */
function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]!));
  return all;
}

function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Samples RSS every second over a window; `stop()` gives peak and mean RSS and mean CPU in millicores. */
function sampleProcess(pid: number): { stop(): { rssPeakMiB: number; rssMeanMiB: number; rssEndMiB: number; cpuMillicores: number; seconds: number } } {
  const t0 = Date.now();
  const pids = tree(pid);
  const ticks0 = pids.reduce((s, p) => s + cpuTicks(p), 0);
  const rss: number[] = [];
  const sample = (): void => void rss.push(tree(pid).reduce((s, p) => s + rssKiB(p), 0) / 1024);
  sample();
  const timer = setInterval(sample, 1000);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const seconds = (Date.now() - t0) / 1000;
      const ticks = tree(pid).reduce((s, p) => s + cpuTicks(p), 0) - ticks0;
      return {
        rssPeakMiB: Math.round(Math.max(...rss)),
        rssMeanMiB: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length),
        rssEndMiB: Math.round(rss[rss.length - 1]!),
        cpuMillicores: Math.round(((ticks / CLK_TCK) * 1000) / seconds),
        seconds: round3(seconds),
      };
    },
  };
}

/** The machine's load when a phase starts, and whether another test suite (wt-suite) was running on it. */
function machineLoad(): { loadAverage1m: number; otherSuiteRunning: boolean } {
  let other = false;
  try {
    other = execFileSync('pgrep', ['-f', 'wt-suite'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    other = false; // pgrep exits 1 when nothing matches
  }
  return { loadAverage1m: round3(os.loadavg()[0] ?? 0), otherSuiteRunning: other };
}

// ------------------------------------------------------------------------- apiserver metrics

const KubeconfigSchema = z.object({
  clusters: z.array(z.object({ cluster: z.object({ server: z.string(), 'certificate-authority': z.string() }) })).min(1),
  users: z.array(z.object({ user: z.object({ token: z.string() }) })).min(1),
});

function httpsText(url: string, ca: Buffer, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

type PartCounts = Record<(typeof PARTS)[number], number>;

/** apiserver_flowcontrol_dispatched_requests_total of each part's FlowSchema (summed over priority levels). */
async function dispatched(kubeconfig: string): Promise<PartCounts> {
  const kc = KubeconfigSchema.parse(YAML.parse(fs.readFileSync(kubeconfig, 'utf8')));
  const text = await httpsText(
    `${kc.clusters[0]!.cluster.server}/metrics`,
    fs.readFileSync(kc.clusters[0]!.cluster['certificate-authority']),
    kc.users[0]!.user.token,
  );
  const out: PartCounts = { worker: 0, watcher: 0, api: 0, backup: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_flowcontrol_dispatched_requests_total{')) continue;
    const m = /flow_schema="vpsie-orchestrator-([a-z]+)"/.exec(line);
    const part = PARTS.find((p) => p === m?.[1]);
    if (!part) continue;
    out[part] += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

function apiRates(a: PartCounts, b: PartCounts, seconds: number): { total: number; byPart: PartCounts } {
  const byPart = Object.fromEntries(PARTS.map((p) => [p, round3((b[p] - a[p]) / seconds)])) as PartCounts;
  return { total: round3(PARTS.reduce((s, p) => s + (b[p] - a[p]), 0) / seconds), byPart };
}

// ------------------------------------------------------------------------------- the simulator

const SimMachineSchema = z.object({
  hostname: z.string(),
  phase: z.string(),
  requestedAt: z.number(),
  bootedAt: z.number().nullable(),
  deletedAt: z.number().nullable(),
});
type SimMachine = z.infer<typeof SimMachineSchema>;
const SimStateSchema = z.object({ machines: z.array(SimMachineSchema) });
const TrafficSchema = z.object({
  accepted: z.number(),
  rejected: z.number(),
  peakPerWindow: z.number(),
  limit: z.number().nullable(),
  byOperation: z.record(z.string(), z.number()),
});

class Sim {
  constructor(private readonly admin: string) {}
  private async call(method: string, p: string, body?: unknown): Promise<unknown> {
    const r = await fetch(`${this.admin.replace(/\/$/, '')}${p}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!r.ok) throw new Error(`simulator admin ${method} ${p}: HTTP ${r.status}`);
    return r.json();
  }
  config(patch: Record<string, unknown>): Promise<unknown> {
    return this.call('PATCH', '/config', patch);
  }
  async machines(): Promise<SimMachine[]> {
    return SimStateSchema.parse(await this.call('GET', '/state')).machines;
  }
  async resetTraffic(): Promise<void> {
    await this.call('DELETE', '/traffic');
  }
  async traffic(): Promise<z.infer<typeof TrafficSchema>> {
    return TrafficSchema.parse(await this.call('GET', '/traffic'));
  }
}

// ------------------------------------------------------------------------------ orchestrator

const OrchestratorEndpointSchema = z.object({ orchestrator: z.object({ metrics: z.string() }) });

interface Orchestrator {
  pid: number;
  metricsUrl: string;
  logFile: string;
  stop(): Promise<number | null>;
}

/** `node dist/workers/cli.js run` attached to the bench's sandbox; its JSON log lines go to `<dir>/logs/orchestrator-<n>.log`. */
async function startOrchestrator(dir: string, n: number, env: Record<string, string>): Promise<Orchestrator> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((kv): kv is [string, string] => kv[1] !== undefined && kv[0] !== 'KUBECONFIG' && kv[0] !== 'TEMPORAL_ADDRESS'),
  );
  const logFile = path.join(dir, 'logs', `orchestrator-${n}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(NODE_BIN, [path.join(ROOT, 'dist', 'workers', 'cli.js'), 'run'], {
    cwd: ROOT,
    env: { ...base, SANDBOX_DIR: dir, METRICS_ADDR: '127.0.0.1:0', HEALTH_ADDR: '127.0.0.1:0', ...env },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
  const pid = child.pid;
  if (pid === undefined) throw new Error('the orchestrator did not start');
  live.orchestrators.add(pid);
  const metricsUrl = await until('the orchestrator to publish its metrics', 180_000, 500, async () => {
    if (exitCode !== undefined) throw new Error(`the orchestrator exited with ${exitCode} (log: ${logFile})`);
    const r = OrchestratorEndpointSchema.safeParse(readEndpoints(dir));
    return r.success ? r.data.orchestrator.metrics : undefined;
  }).catch((err: unknown) => {
    if (exitCode === undefined) process.kill(pid, 'SIGKILL');
    throw err;
  });
  progress(`orchestrator ${n} up (pid ${pid}, ${env.VPSIE_RATE_LIMIT_PER_MINUTE ?? 'default'} VPSie requests/min, log ${logFile})`);
  return {
    pid,
    metricsUrl,
    logFile,
    async stop() {
      if (exitCode === undefined) process.kill(pid, 'SIGINT');
      const code = await Promise.race([exited, sleep(90_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        process.kill(pid, 'SIGKILL');
        await exited;
      }
      live.orchestrators.delete(pid);
      unpublish('orchestrator', dir); // in case it could not remove its section itself
      return exitCode ?? null;
    },
  };
}

/** Count and sum of vpsie_autoscaler_pending_to_create_seconds, and its buckets (le → cumulative count). */
async function pendingToCreate(metricsUrl: string): Promise<{ count: number; sum: number; buckets: Map<string, number> }> {
  const text = await (await fetch(metricsUrl)).text();
  const out = { count: 0, sum: 0, buckets: new Map<string, number>() };
  for (const line of text.split('\n')) {
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('vpsie_autoscaler_pending_to_create_seconds_count')) out.count += v;
    else if (line.startsWith('vpsie_autoscaler_pending_to_create_seconds_sum')) out.sum += v;
    else if (line.startsWith('vpsie_autoscaler_pending_to_create_seconds_bucket')) {
      const le = /le="([^"]+)"/.exec(line)?.[1] ?? '';
      out.buckets.set(le, (out.buckets.get(le) ?? 0) + v);
    }
  }
  return out;
}

const FirstCreateLineSchema = z.object({ message: z.literal('first signal to VPSie create'), seconds: z.number(), timestamp: z.string() });

/** The orchestrator's 'first signal to VPSie create' figures logged since `since` (ms). */
function firstCreateLogged(logFile: string, since: number): number[] {
  const out: number[] = [];
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('first signal to VPSie create')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    const r = FirstCreateLineSchema.safeParse(parsed);
    if (r.success && Date.parse(r.data.timestamp) >= since) out.push(r.data.seconds);
  }
  return out;
}

// ------------------------------------------------------------------------------- Kubernetes

function nodeGroupBody(name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: API_VERSION,
    kind: NODEGROUP_KIND,
    metadata: { name, namespace: NODEGROUP_NS },
    spec: { datacenterID: 'us-east-1', labels: { [GROUP_LABEL]: name }, ...spec },
  };
}

function deploymentBody(name: string, group: string, replicas: number, req: { cpu: string; memory: string }): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { [GROUP_LABEL]: group },
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests: req } }],
        },
      },
    },
  };
}

const isReady = (n: k8s.V1Node): boolean => (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function readyReplicas(apps: k8s.AppsV1Api, namespace: string): Promise<number> {
  const list = await apps.listNamespacedDeployment({ namespace });
  return list.items.reduce((s, d) => s + (d.status?.readyReplicas ?? 0), 0);
}

// ----------------------------------------------------------------------------------- Temporal

async function largestHistory(
  address: string,
  namespace: string,
): Promise<{
  workflows: number;
  events: number;
  bytes: number;
  workflowType: string;
  workflowId: string;
  largestBytes: { bytes: number; workflowType: string; workflowId: string };
}> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const ids: { workflowId: string; runId: string }[] = [];
    for await (const wf of client.workflow.list()) ids.push({ workflowId: wf.workflowId, runId: wf.runId });
    let byEvents = { events: 0, bytes: 0, workflowType: '', workflowId: '' };
    let byBytes = { bytes: 0, workflowType: '', workflowId: '' };
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const d = await client.workflow
          .getHandle(id.workflowId, id.runId)
          .describe()
          .catch(() => undefined);
        if (!d) continue;
        const bytes = d.historySize ?? 0;
        if (d.historyLength > byEvents.events) byEvents = { events: d.historyLength, bytes, workflowType: d.type, workflowId: d.workflowId };
        if (bytes > byBytes.bytes) byBytes = { bytes, workflowType: d.type, workflowId: d.workflowId };
      }
    };
    await Promise.all(Array.from({ length: 8 }, one));
    return { workflows: ids.length, ...byEvents, largestBytes: byBytes };
  } finally {
    await connection.close();
  }
}

// ------------------------------------------------------------------------------------ main

const live: { sandbox?: Sandbox; orchestrators: Set<number>; stopping?: Promise<void> } = { orchestrators: new Set() };

async function stopAll(): Promise<void> {
  live.stopping ??= (async () => {
    for (const pid of live.orchestrators) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 60_000;
    while ([...live.orchestrators].some((p) => fs.existsSync(`/proc/${p}`)) && Date.now() < deadline) await sleep(250);
    for (const pid of live.orchestrators) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await live.sandbox?.stop();
  })();
  return live.stopping;
}

async function main(): Promise<void> {
  const tStart = Date.now();
  progress(`scale: ${GROUPS} groups × ${NODES_PER_GROUP} nodes, ${PODS} pods, burst ${BURST} pods on ${BURST_GROUPS} groups`);
  progress('building (npm run build)…');
  const tBuild = Date.now();
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  const buildSeconds = (Date.now() - tBuild) / 1000;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-bench-scale-'));
  progress(`starting the sandbox in ${dir}…`);
  const sb = await startSandbox({ dir, headless: true, handleSignals: false, priorityAndFairness: true, progress });
  live.sandbox = sb;
  const ep = sb.endpoints;
  if (!ep.vpsie) throw new Error('the sandbox publishes no vpsie section');
  const sim = new Sim(ep.vpsie.admin);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(ep.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);

  // ---- setup ----
  await sim.config({ provisioningDelayMs: 0, bootDelayMs: 0, maxMachines: 100_000, rateLimit: { requests: SETUP_RATE_LIMIT, windowMs: 60_000 } });
  const setupEnv = { VPSIE_RATE_LIMIT_PER_MINUTE: String(SETUP_RATE_LIMIT), MAX_CLUSTER_NODES: String(MAX_CLUSTER_NODES), LOG_LEVEL: 'warn' };
  const tSetup = Date.now();
  let orch = await startOrchestrator(dir, 1, setupEnv);
  for (const ns of [PODS_NS, BURST_NS]) await core.createNamespace({ body: { metadata: { name: ns } } });
  const scaleGroups = Array.from({ length: GROUPS }, (_, i) => `scale-${String(i).padStart(3, '0')}`);
  const burstGroups = Array.from({ length: BURST_GROUPS }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
  for (const g of scaleGroups)
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NODEGROUP_NS,
      plural: NODEGROUP_PLURAL,
      body: nodeGroupBody(g, { minNodes: NODES_PER_GROUP, maxNodes: Math.min(500, NODES_PER_GROUP * 2), offeringIDs: [SCALE_PLAN] }),
    });
  for (const g of burstGroups)
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NODEGROUP_NS,
      plural: NODEGROUP_PLURAL,
      body: nodeGroupBody(g, {
        minNodes: 0,
        maxNodes: BURST_GROUP_MAX_NODES,
        offeringIDs: [BURST_PLAN],
        scaleDownPolicy: BURST_SCALE_DOWN,
        disruptionBudget: BURST_DISRUPTION,
      }),
    });
  progress(`${GROUPS + BURST_GROUPS} NodeGroups created; waiting for ${NODES} Ready nodes…`);
  let lastReady = -1;
  await until(`${NODES} Ready nodes`, Math.max(600_000, NODES * 2_000), 5_000, async () => {
    const nodes = await core.listNode({ labelSelector: GROUP_LABEL });
    const ready = nodes.items.filter(isReady).length;
    if (ready !== lastReady) progress(`${ready}/${NODES} nodes Ready`);
    lastReady = ready;
    return ready >= NODES ? true : undefined;
  });
  const nodesSeconds = (Date.now() - tSetup) / 1000;

  // The measured orchestrator: the default VPSie rate limit, the simulator's limit VPSie's (100/min).
  await orch.stop();
  await sim.config({ rateLimit: { requests: 100, windowMs: 60_000 } });
  const measuredEnv = { MAX_CLUSTER_NODES: String(MAX_CLUSTER_NODES), LOG_LEVEL: 'info' };
  orch = await startOrchestrator(dir, 2, measuredEnv);

  const tPods = Date.now();
  for (const [i, g] of scaleGroups.entries()) {
    const replicas = Math.floor(PODS / GROUPS) + (i < PODS % GROUPS ? 1 : 0);
    await apps.createNamespacedDeployment({ namespace: PODS_NS, body: deploymentBody(`app-${g}`, g, replicas, STEADY_POD) });
  }
  let lastRunning = -1;
  await until(`${PODS} pods Running`, Math.max(600_000, PODS * 200), 3_000, async () => {
    const n = await readyReplicas(apps, PODS_NS);
    if (n !== lastRunning) progress(`${n}/${PODS} pods Running`);
    lastRunning = n;
    return n >= PODS ? true : undefined;
  });
  const podsSeconds = (Date.now() - tPods) / 1000;
  const setupSeconds = (Date.now() - tSetup) / 1000;

  // ---- steady ----
  progress(`steady phase: ${STEADY_SECONDS} s idle…`);
  await sleep(5_000); // the pods' last status updates settle
  await sim.resetTraffic();
  const steadyApi0 = await dispatched(ep.kubeconfig);
  const machineAtSteady = machineLoad();
  const steadySampler = sampleProcess(orch.pid);
  const tSteady = Date.now();
  await sleep(STEADY_SECONDS * 1000);
  const steadyProc = steadySampler.stop();
  const steadyWindow = (Date.now() - tSteady) / 1000;
  const steadyApi1 = await dispatched(ep.kubeconfig);
  const steadyTraffic = await sim.traffic();
  const steady = {
    seconds: round3(steadyWindow),
    rssMiB: steadyProc.rssMeanMiB,
    rssPeakMiB: steadyProc.rssPeakMiB,
    cpuMillicores: steadyProc.cpuMillicores,
    apiRequestsPerSecond: apiRates(steadyApi0, steadyApi1, steadyWindow),
    vpsieCallsPerMinute: round3((steadyTraffic.accepted / steadyWindow) * 60),
    vpsieCallsByOperation: steadyTraffic.byOperation,
  };
  progress(`steady: ${JSON.stringify(steady)}`);

  // ---- burst ----
  progress(`burst: ${BURST} pods on ${BURST_GROUPS} groups…`);
  const unschedulableAt = new Map<string, number>(); // pod uid → first seen Unschedulable
  const groupOfPod = new Map<string, string>();
  const runningAt = new Map<string, number>();
  const onPod = (p: k8s.V1Pod): void => {
    const uid = p.metadata?.uid ?? '';
    const g = p.spec?.nodeSelector?.[GROUP_LABEL];
    if (g) groupOfPod.set(uid, g);
    if (!unschedulableAt.has(uid) && (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'))
      unschedulableAt.set(uid, Date.now());
    if (p.status?.phase === 'Running' && !runningAt.has(uid)) runningAt.set(uid, Date.now());
  };
  const podInformer = k8s.makeInformer(kc, `/api/v1/namespaces/${BURST_NS}/pods`, () => core.listNamespacedPod({ namespace: BURST_NS }));
  podInformer.on(k8s.ADD, onPod);
  podInformer.on(k8s.UPDATE, onPod);
  podInformer.on(k8s.ERROR, () => void setTimeout(() => void podInformer.start().catch(() => undefined), 1000));
  await podInformer.start();
  const p2c0 = await pendingToCreate(orch.metricsUrl);
  await sim.resetTraffic();
  const burstApi0 = await dispatched(ep.kubeconfig);
  const machineAtBurst = machineLoad();
  const burstSampler = sampleProcess(orch.pid);
  const tBurst = Date.now();
  for (const [i, g] of burstGroups.entries()) {
    const replicas = Math.floor(BURST / BURST_GROUPS) + (i < BURST % BURST_GROUPS ? 1 : 0);
    await apps.createNamespacedDeployment({ namespace: BURST_NS, body: deploymentBody(`burst-${g}`, g, replicas, BURST_POD) });
  }
  let lastBurst = -1;
  const allRunningAt = await until(`${BURST} burst pods Running`, 20 * 60_000, 250, async () => {
    if (runningAt.size !== lastBurst && runningAt.size % 100 === 0) progress(`${runningAt.size}/${BURST} burst pods Running`);
    lastBurst = runningAt.size;
    return runningAt.size >= BURST ? Math.max(...runningAt.values()) : undefined;
  });
  const burstProc = burstSampler.stop();
  const burstWindow = (Date.now() - tBurst) / 1000;
  const burstApi1 = await dispatched(ep.kubeconfig);
  const isBurstMachine = (m: SimMachine): boolean => burstGroups.some((g) => m.hostname.startsWith(g));
  const burstMachines = (await sim.machines()).filter((m) => isBurstMachine(m) && m.requestedAt >= tBurst);
  const firstCreatePerGroup = burstGroups.flatMap((g) => {
    const creates = burstMachines.filter((m) => m.hostname.startsWith(g)).map((m) => m.requestedAt);
    const signals = [...unschedulableAt.entries()].filter(([uid]) => groupOfPod.get(uid) === g).map(([, t]) => t);
    return creates.length > 0 && signals.length > 0 ? [(Math.min(...creates) - Math.min(...signals)) / 1000] : [];
  });
  const machinesUpAt = Math.max(...burstMachines.map((m) => m.bootedAt ?? Infinity));
  // The orchestrator's own figure per scale-up run (its log line, written once the create is seen).
  const perRun = await until('the scale-up runs to report their first create', 30_000, 1_000, async () => {
    const v = firstCreateLogged(orch.logFile, tBurst);
    return v.length > 0 || firstCreatePerGroup.length === 0 ? v : undefined;
  }).catch(() => []);
  // VPSie calls over the burst's first minute at least (a rate over a few seconds says nothing of a per-minute budget).
  await sleep(Math.max(0, tBurst + 60_000 - Date.now()));
  const burstTraffic = await sim.traffic();
  const trafficWindow = (Date.now() - tBurst) / 1000;
  const burstApiMinute = await dispatched(ep.kubeconfig);
  const p2c1 = await pendingToCreate(orch.metricsUrl);
  const p2cCount = p2c1.count - p2c0.count;
  // The smallest bucket bound holding 95 % of this burst's observations.
  const bounds = [...p2c1.buckets.keys()].sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : Number(a) - Number(b)));
  const p95Bound = p2cCount === 0 ? undefined : bounds.find((le) => (p2c1.buckets.get(le) ?? 0) - (p2c0.buckets.get(le) ?? 0) >= 0.95 * p2cCount);
  const burst = {
    pods: BURST,
    groups: BURST_GROUPS,
    podRequests: BURST_POD,
    plan: BURST_PLAN,
    machines: burstMachines.length,
    firstCreateSeconds: round3(percentile(perRun.length > 0 ? perRun : firstCreatePerGroup, 95)),
    firstCreateMethod:
      perRun.length > 0
        ? "p95 over the scale-up runs of the orchestrator's own figure (log 'first signal to VPSie create': first FailedScheduling signal → VPSie create call)"
        : 'p95 over the groups: first pod marked Unschedulable (seen by the bench) → first VPSie create of the group (simulator requestedAt)',
    firstCreateSecondsPerRun: perRun.map(round3),
    firstCreateSecondsPerGroup: firstCreatePerGroup.map(round3),
    pendingToCreateMetric: {
      count: p2cCount,
      meanSeconds: p2cCount > 0 ? round3((p2c1.sum - p2c0.sum) / p2cCount) : null,
      p95AtMostSeconds: p95Bound === undefined ? null : p95Bound === '+Inf' ? null : Number(p95Bound),
    },
    machinesUpSeconds: round3((machinesUpAt - tBurst) / 1000),
    allRunningSeconds: round3((allRunningAt - tBurst) / 1000),
    allRunningAfterMachinesUpSeconds: round3((allRunningAt - machinesUpAt) / 1000),
    rssPeakMiB: burstProc.rssPeakMiB,
    cpuMillicores: burstProc.cpuMillicores,
    seconds: round3(burstWindow),
    apiRequestsPerSecond: apiRates(burstApi0, burstApi1, burstWindow),
    apiRequestsPerSecondFirstMinute: apiRates(burstApi0, burstApiMinute, trafficWindow),
    vpsieCalls: burstTraffic.accepted,
    vpsieCallsWindowSeconds: round3(trafficWindow),
    vpsieCallsPerMinute: round3((burstTraffic.accepted / trafficWindow) * 60),
    vpsieCallsPeakPerMinute: burstTraffic.peakPerWindow,
    vpsieCallsRejected429: burstTraffic.rejected,
    vpsieCallsByOperation: burstTraffic.byOperation,
  };
  progress(`burst: ${JSON.stringify(burst)}`);
  podInformer.stop();

  // ---- scale-down ----
  progress('scale-down: deleting the burst Deployments…');
  await sim.resetTraffic();
  const downSampler = sampleProcess(orch.pid);
  const tDown = Date.now();
  for (const g of burstGroups) await apps.deleteNamespacedDeployment({ namespace: BURST_NS, name: `burst-${g}` });
  let left = burstMachines.length;
  let lastLeft = -1;
  const gone = await until('the burst machines to go', SCALE_DOWN_TIMEOUT_SECONDS * 1000, 2_000, async () => {
    left = (await sim.machines()).filter((m) => isBurstMachine(m) && m.deletedAt === null).length;
    if (left !== lastLeft) progress(`scale-down: ${left} burst machines left`);
    lastLeft = left;
    const nodes = await core.listNode({ labelSelector: `${GROUP_LABEL} in (${burstGroups.join(',')})` });
    return left === 0 && nodes.items.length === 0 ? Date.now() : undefined;
  }).catch(() => undefined);
  const downProc = downSampler.stop();
  const downTraffic = await sim.traffic();
  const scaleDown = {
    machines: burstMachines.length,
    seconds: gone === undefined ? null : round3((gone - tDown) / 1000),
    timedOut: gone === undefined,
    machinesLeft: left,
    settings: {
      scaleDownPolicy: BURST_SCALE_DOWN,
      disruptionBudget: BURST_DISRUPTION,
      SCALE_DOWN_SAMPLE_SECONDS: '30 (default)',
    },
    cpuMillicores: downProc.cpuMillicores,
    rssPeakMiB: downProc.rssPeakMiB,
    vpsieCallsPerMinute: round3((downTraffic.accepted / ((Date.now() - tDown) / 1000)) * 60),
  };
  progress(`scale-down: ${JSON.stringify(scaleDown)}`);

  // ---- histories ----
  progress('reading the workflow histories…');
  const hist = await largestHistory(ep.temporal.address, ep.temporal.namespace);

  const exitCode = await orch.stop();
  progress(`orchestrator stopped (exit ${exitCode})`);

  const result = {
    scale: { groups: GROUPS, nodesPerGroup: NODES_PER_GROUP, nodes: NODES, pods: PODS, burst: BURST, burstGroups: BURST_GROUPS },
    setup: {
      seconds: round3(setupSeconds),
      nodesReadySeconds: round3(nodesSeconds),
      podsRunningSeconds: round3(podsSeconds),
      buildSeconds: round3(buildSeconds),
      sandboxStartSeconds: round3(sb.startSeconds),
      rateLimitPerMinute: SETUP_RATE_LIMIT,
      note: `nodes created with the simulator's limit and VPSIE_RATE_LIMIT_PER_MINUTE at ${SETUP_RATE_LIMIT}/min; the orchestrator restarted with the default (100/min, simulator 100/min) before the pods and the measured phases`,
      simulator: { provisioningDelayMs: 0, bootDelayMs: 0, maxMachines: 100_000 },
      orchestrator: { MAX_CLUSTER_NODES, other: 'defaults', plan: SCALE_PLAN, podRequests: STEADY_POD },
    },
    steady,
    burst,
    scaleDown,
    largestHistory: hist,
    targets: {
      steadyRssUnder256MiB: { value: steady.rssPeakMiB, pass: steady.rssPeakMiB < 256 },
      steadyCpuUnder100m: { value: steady.cpuMillicores, pass: steady.cpuMillicores < 100 },
      steadyApiUnder10PerSecond: { value: steady.apiRequestsPerSecond.total, pass: steady.apiRequestsPerSecond.total < 10 },
      historyUnder10000Events: { value: hist.events, pass: hist.events <= 10_000 },
      vpsieCallsWithin100PerMinute: {
        value: Math.max(steady.vpsieCallsPerMinute, burst.vpsieCallsPeakPerMinute),
        pass: steady.vpsieCallsPerMinute <= 100 && burst.vpsieCallsPeakPerMinute <= 100,
      },
      burstFirstCreateP95Under2s: { value: burst.firstCreateSeconds, pass: burst.firstCreateSeconds < 2 },
      burstAllRunningWithin60sOfMachinesUp: { value: burst.allRunningAfterMachinesUpSeconds, pass: burst.allRunningAfterMachinesUpSeconds <= 60 },
      atDocumentedScale: NODES >= 1000 && PODS >= 10_000,
    },
    machine: { cpus: os.cpus().length, atSteady: machineAtSteady, atBurst: machineAtBurst },
    totalSeconds: round3((Date.now() - tStart) / 1000),
    sandboxDir: dir,
  };
  await stopAll();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    progress(`${sig}: stopping…`);
    void stopAll().finally(() => process.exit(130));
  });

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void stopAll().finally(() => process.exit(1));
  },
);
