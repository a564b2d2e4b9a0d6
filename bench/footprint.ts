/**
 * `npm run bench:footprint [-- --idle-seconds 60 --settle-seconds 30 --source]`: the footprint a
 * new user sees. `npm start` (its own sandbox, in a fresh directory), the documented example
 * NodeGroup (k8s/examples/nodegroup-general-purpose.yaml), a Deployment of 12 pods of 400m / 256Mi
 * that the group's two nodes cannot hold (→ 3 nodes), then idle. After `--settle-seconds`, over
 * `--idle-seconds`, per process the orchestrator started (itself — the sandbox supervisor runs in
 * it — and each sandbox component of endpoints.json), plus npm's own process:
 *   rssMiB (mean of 5 s samples), rssMaxMiB, peakRssMiB (VmHWM, since the process started),
 *   cpuMillicores (user + system time over the window), heapUsedMiB (the orchestrator's
 *   nodejs_heap_size_used_bytes at the end; null for processes without such a metric).
 * `--source` measures the orchestrator run from its TypeScript sources instead (`node --import tsx
 * workers/cli.ts`, how `npm start` ran before it ran the compiled code), for before/after figures.
 * Prints one JSON object; stops everything with Ctrl-C at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { readEndpoints, repoRoot, type Endpoints } from '../sandbox/endpoints';
import { commandJob, ctrlC, kubectl, npmJob, orchestratorReady, sandboxJobEnv, sleep, waitFor, type Job } from '../sandbox/job';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** Resident memory (VmRSS) and its peak (VmHWM) in MiB; undefined once the process is gone. */
function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15). */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: footprint-web, namespace: default}
spec:
  replicas: 12
  selector: {matchLabels: {app: footprint-web}}
  template:
    metadata: {labels: {app: footprint-web}}
    spec:
      nodeSelector: {nodegroup: general-purpose}
      tolerations: [{key: workload-type, value: general-purpose, effect: NoSchedule}]
      containers:
        - name: web
          image: registry.k8s.io/pause:3.10
          resources: {requests: {cpu: 400m, memory: 256Mi}}
`;

function count(e: Endpoints, args: string[], want: (line: string) => boolean): number {
  return kubectl(e, args)
    .split('\n')
    .filter((l) => l !== '' && want(l)).length;
}

const HeapSchema = z.coerce.number().nonnegative();

async function heapUsedMiB(e: Endpoints): Promise<number | null> {
  if (!e.orchestrator) return null;
  const text = await (await fetch(e.orchestrator.metrics)).text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes '));
  return line ? round1(HeapSchema.parse(line.split(' ')[1]) / 2 ** 20) : null;
}

async function main(): Promise<void> {
  const idleSeconds = arg('idle-seconds', 60);
  const settleSeconds = arg('settle-seconds', 30);
  const source = process.argv.includes('--source');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-bench-footprint-'));
  const dir = path.join(root, 'sandbox');
  const log = path.join(root, 'orchestrator.log');
  let job: Job | undefined;
  try {
    const t0 = Date.now();
    job = source
      ? commandJob(process.execPath, ['--import', 'tsx', path.join(repoRoot(), 'workers', 'cli.ts')], log, sandboxJobEnv(dir))
      : npmJob('start', log, sandboxJobEnv(dir));
    const e = await orchestratorReady(dir, job);
    const readySeconds = (Date.now() - t0) / 1000;
    kubectl(e, ['apply', '-f', path.join(repoRoot(), 'k8s', 'examples', 'nodegroup-general-purpose.yaml')]);
    kubectl(e, ['apply', '-f', '-'], DEPLOYMENT);
    await waitFor(
      '12 pods Running',
      () =>
        count(
          e,
          ['get', 'pods', '-n', 'default', '-l', 'app=footprint-web', '-o', 'jsonpath={range .items[*]}{.status.phase}{"\\n"}{end}'],
          (l) => l === 'Running',
        ) === 12
          ? true
          : undefined,
      job,
      300_000,
    );
    const nodes = count(e, ['get', 'nodes', '-l', 'autoscaler.vpsie.com/nodegroup=general-purpose-nodes', '-o', 'name'], () => true);
    const workloadSeconds = (Date.now() - t0) / 1000 - readySeconds;
    await sleep(settleSeconds * 1000);

    const live = readEndpoints(dir) ?? e;
    const orchestratorPid = live.pids.sandbox!;
    const processes: Record<string, number> = { orchestrator: orchestratorPid };
    if (!source && job.child.pid) processes.npm = job.child.pid;
    for (const [name, pid] of Object.entries(live.pids)) if (name !== 'sandbox') processes[name] = pid;
    const cpu0 = Object.fromEntries(Object.entries(processes).map(([n, pid]) => [n, cpuSecondsOf(pid)]));
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(processes).map((n) => [n, []]));
    const w0 = Date.now();
    while (Date.now() - w0 < idleSeconds * 1000) {
      for (const [n, pid] of Object.entries(processes)) {
        const m = memoryOf(pid);
        if (m) samples[n]!.push(m.rss);
      }
      await sleep(5000);
    }
    const window = (Date.now() - w0) / 1000;
    const heap = await heapUsedMiB(live).catch(() => null);
    const perProcess = Object.fromEntries(
      Object.entries(processes).map(([n, pid]) => {
        const s = samples[n]!;
        const c0 = cpu0[n];
        const c1 = cpuSecondsOf(pid);
        return [
          n,
          {
            pid,
            rssMiB: s.length ? round1(s.reduce((a, b) => a + b, 0) / s.length) : null,
            rssMaxMiB: s.length ? round1(Math.max(...s)) : null,
            peakRssMiB: round1(memoryOf(pid)?.hwm ?? NaN),
            cpuMillicores: c0 !== undefined && c1 !== undefined ? Math.round(((c1 - c0) / window) * 1000) : null,
            heapUsedMiB: n === 'orchestrator' ? heap : null,
          },
        ];
      }),
    );
    const stopSeconds = await ctrlC(job);
    job = undefined;
    const orchestrator = perProcess.orchestrator!;
    console.log(
      JSON.stringify(
        {
          mode: source ? 'source (node --import tsx workers/cli.ts)' : 'npm start (compiled, prebuilt workflow bundle)',
          cpus: os.cpus().length,
          readySeconds: round1(readySeconds),
          workloadSeconds: round1(workloadSeconds),
          nodes,
          pods: 12,
          settleSeconds,
          idleSeconds: round1(window),
          orchestrator,
          perProcess,
          totalRssMiB: round1(Object.values(perProcess).reduce((a, p) => a + (p.rssMiB ?? 0), 0)),
          stopSeconds: round1(stopSeconds),
          targets: { orchestratorRssUnder150MiB: (orchestrator.rssMiB ?? Infinity) < 150 },
        },
        null,
        2,
      ),
    );
  } finally {
    if (job) await ctrlC(job).catch(() => undefined);
    if (process.env.KEEP_BENCH !== '1') fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
