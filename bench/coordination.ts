/**
 * Coordination at scale (issue #16, document 000 "Performance Specifications"): 1,000
 * VPANAPCoordination objects and 100 rightsizing events/s.
 *
 *   npm run bench:coordination
 *   npm run bench:coordination -- --objects 1000 --namespaces 100 --rate 100 --seconds 60 --nap-rate 1
 *   npm run bench:coordination -- --sandbox <dir>        # reuse a running sandbox (also TEST_SANDBOX_DIR)
 *   npm run bench:coordination -- --pure-only
 *
 * 1. pure: the decision code's own cost per call, no I/O (bench/coordination-pure.ts): `observe()`
 *    on a busy object's state, `coordinationGate()`, the hub's `admissionFacts()` / `reserve()` /
 *    node-event handling with every object reporting, and the `stateQuery` view.
 * 2. stack: on the sandbox (a fresh one in a temp dir unless one is given; the orchestrator watches
 *    every namespace, so a shared sandbox's other objects would be coordinated too), N namespaces ×
 *    objects/N VPANAPCoordination objects (vpa-0…, coordinated, breaker thresholds above the load),
 *    the real orchestrator in this process (its own task queue, WATCH_NAMESPACE ''), until every
 *    object's status.phase is Active; then for --seconds:
 *    - rightsizing events at --rate/s spread over the objects, sent as the coordination watcher
 *      sends them: per object per 500 ms, signalWithStart of `vpaEvents` on the object's workflow
 *      (OptimizationPolicy evictions of downsizings and VPA recommendations that only grow, so no
 *      conflict or trip is expected; --conflicts sends the VPA updater's evictions instead, which
 *      the node scale-ups correlate with: EvictionScaleUp conflicts);
 *    - node events (NodeScaleUp) to the hub at --nap-rate/s (`hubNapEvents`, as the watcher);
 *    - decision latency: 1 event in --sample carries a unique pod; from its signal until the
 *      object's `stateQuery` shows it in status.vpaEvents (polled at most 20 % of the time elapsed
 *      apart, up to 120 s; the upper and lower bounds are reported, with the poll's round trip);
 *    - gate check: `hubAdvisor(...).verdict(namespace, now)` (the rightsizing cycle's call) at
 *      --gate-rate/s on random namespaces, and its `reserve()` once a second;
 *    - memory every second: this process's rss/heapUsed (the orchestrator runs in it: the bench's
 *      own baseline is sampled before it starts) and the Temporal dev server's RSS;
 *      CPU of both; requests this process sent to the apiserver (by kind).
 *    Then the objects' phases (trips), the workflow-task timings and event counts of the hub's and
 *    20 objects' histories, clean-up (orchestrator, workflows when the sandbox is reused,
 *    namespaces; also on Ctrl-C). The pure part runs last, so the bench's memory baseline does not
 *    hold its states.
 * Prints one JSON document with a `targets` section (reported, not asserted).
 */
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { hubAdvisor } from '../activities/coordination/advisor';
import { SA_COORDINATION } from '../lib/temporal/search-attributes';
import { COORDINATION_WORKFLOW_TYPE } from '../starters/coordination/watcher';
import { coordinationSettings, type Orchestrator } from '../workers/orchestrator';
import {
  coordinationHubWorkflowId,
  coordinationWorkflowId,
  hubNapEventsSignal,
  hubStateQuery,
  stateQuery,
  vpaEventsSignal,
  type CoordinationWorkflowInput,
  type NapObservation,
  type VpaObservation,
} from '../workflows/coordination/contracts';
import { startTestOrchestrator } from '../test/support/orchestrator';
import { sharedSandbox, stopSharedSandbox, uniqueName, type TestSandbox } from '../test/support/sandbox';
import { pureCosts } from './coordination-pure';
import { percentile, round3 } from './stats';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const COORD = { group: 'platform.io', version: 'v1', plural: 'vpanapcoordinations' };
const BENCH_LABEL = 'vpsie.bench/coordination';
const BATCH_MS = 500; // the coordination watcher's batchMs
/** A sampled event not shown by stateQuery this long after its signal counts as not seen. */
const POLL_LIMIT_MS = 120_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ms3 = (v: number[]): { n: number; p50: number; p99: number; max: number } =>
  v.length === 0
    ? { n: 0, p50: NaN, p99: NaN, max: NaN }
    : { n: v.length, p50: round3(percentile(v, 50)), p99: round3(percentile(v, 99)), max: round3(Math.max(...v)) };
const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out: ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}

/** Runs fn over items with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/** Requests this process sends to the apiserver (client-node's fetch is undici), by method and resource, while on. */
function countApiRequests(apiserver: string): { on(v: boolean): void; snapshot(): Record<string, number> } {
  const host = new URL(apiserver).host;
  let counts: Record<string, number> = {};
  let on = false;
  diagnostics.channel('undici:request:create').subscribe((m) => {
    if (!on) return;
    const r = (m as { request: { origin: string; method: string; path: string } }).request;
    if (new URL(r.origin).host !== host) return;
    const p = r.path.split('?')[0]!.split('/').filter(Boolean);
    // /apis/<g>/<v>/namespaces/<ns>/<plural>/<name>/<sub> or /api/v1/namespaces/<ns>/<plural>…
    const at = p.indexOf('namespaces');
    const rest = at >= 0 ? p.slice(at + 2) : p.slice(p[0] === 'api' ? 2 : 3);
    const kind = at >= 0 && rest.length === 0 ? 'namespaces' : `${rest[0] ?? p.at(-1) ?? '?'}${rest[2] ? `/${rest[2]}` : ''}`;
    const key = `${r.method} ${kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
  });
  return {
    on(v) {
      if (v) counts = {};
      on = v;
    },
    snapshot: () => ({ ...counts }),
  };
}

function procStatus(pid: number | undefined): { rssMiB?: number; hwmMiB?: number; cpuTicks?: number } {
  if (pid === undefined) return {};
  try {
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number | undefined => {
      const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st);
      return m ? Number(m[1]) / 1024 : undefined;
    };
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return {
      ...(rss !== undefined ? { rssMiB: round3(rss) } : {}),
      ...(hwm !== undefined ? { hwmMiB: round3(hwm) } : {}),
      cpuTicks: Number(f[11]) + Number(f[12]),
    };
  } catch {
    return {};
  }
}

interface MemSample {
  at: number;
  phase: string;
  rss: number;
  heapUsed: number;
  temporalRssMiB?: number;
}

async function hubIsFree(sb: TestSandbox, taskQueuePrefix: string): Promise<void> {
  const h = sb.temporal.workflow.getHandle(coordinationHubWorkflowId(''));
  try {
    const d = await h.describe();
    if (d.status.name !== 'RUNNING') return;
    if (d.taskQueue.startsWith(taskQueuePrefix)) {
      await h.terminate('a previous coordination bench run left it').catch(() => undefined);
      return;
    }
    throw new Error(
      `the cluster-wide coordination hub ${coordinationHubWorkflowId('')} already runs on task queue ${d.taskQueue} in this sandbox (another orchestrator watches every namespace): use a fresh sandbox`,
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return;
    throw err;
  }
}

async function historyLength(temporal: Client, workflowId: string): Promise<{ historyLength?: number; runId?: string }> {
  try {
    const d = await temporal.workflow.getHandle(workflowId).describe();
    return { historyLength: d.historyLength, runId: d.runId };
  } catch {
    return {};
  }
}

type HistoryEvent = {
  eventId?: unknown;
  eventType?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  workflowTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  workflowTaskCompletedEventAttributes?: { scheduledEventId?: unknown; startedEventId?: unknown } | null;
};
const evMs = (e: HistoryEvent): number => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
/** EventType number → its name without the prefix (WorkflowTaskScheduled …). */
const eventTypeName = (t: unknown): string =>
  (temporal.api.enums.v1.EventType[Number(t)] ?? `type${String(t)}`)
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());

/** Workflow-task timings (server-side: scheduled → started is the wait for the worker, started → completed its work) and event counts since `since`. */
async function historyStats(temporal: Client, ids: readonly string[], since: number): Promise<Record<string, unknown>> {
  const toStart: number[] = [];
  const toComplete: number[] = [];
  const counts: Record<string, number> = {};
  let read = 0;
  for (const id of ids) {
    let events: HistoryEvent[];
    try {
      events = ((await temporal.workflow.getHandle(id).fetchHistory()).events ?? []) as HistoryEvent[];
    } catch {
      continue;
    }
    read++;
    const byId = new Map<string, HistoryEvent>();
    for (const e of events) byId.set(String(e.eventId), e);
    for (const e of events) {
      if (evMs(e) < since) continue;
      const t = eventTypeName(e.eventType);
      counts[t] = (counts[t] ?? 0) + 1;
      const st = e.workflowTaskStartedEventAttributes;
      if (st) {
        const sch = byId.get(String(st.scheduledEventId));
        if (sch) toStart.push(evMs(e) - evMs(sch));
      }
      const c = e.workflowTaskCompletedEventAttributes;
      if (c) {
        const started = byId.get(String(c.startedEventId));
        if (started) toComplete.push(evMs(e) - evMs(started));
      }
    }
  }
  return {
    workflows: read,
    workflowTaskScheduleToStartMs: ms3(toStart),
    workflowTaskStartToCompleteMs: ms3(toComplete),
    eventsPerWorkflow: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, round3(v / Math.max(1, read))])),
  };
}

/** Ctrl-C: the clean-up runs and the process exits 130 (main's own ending stands aside). */
let interrupted = false;
/** Once the clean-up closes connections, a client's pending gRPC retry may fire on a closed channel (thrown from its timer): not a failure of the run. */
let closing = false;
process.on('uncaughtException', (err) => {
  if (closing && /Channel has been shut down/.test(err.message)) return;
  process.stderr.write(`${err.stack ?? err.message}\n`);
  void stopSharedSandbox().finally(() => process.exit(1));
});

async function main(): Promise<void> {
  const objectsN = Number(arg('objects', '1000'));
  const nsN = Number(arg('namespaces', '100'));
  const rate = Number(arg('rate', '100'));
  const seconds = Number(arg('seconds', '60'));
  const napRate = Number(arg('nap-rate', '1'));
  const sampleEvery = Number(arg('sample', '10'));
  const gateRate = Number(arg('gate-rate', '20'));
  const iterations = Number(arg('iterations', '20000'));
  const conflicts = flag('conflicts');
  const sandboxArg = arg('sandbox', '');
  if (sandboxArg) process.env.TEST_SANDBOX_DIR = path.resolve(sandboxArg);
  const perNs = Math.ceil(objectsN / nsN);
  const hubSettings = (() => {
    const rl = coordinationSettings().coordinator.rateLimiting;
    return { maxUpdatesPerHour: rl.maxVPAUpdatesPerHour, maxUpdatesPerNamespace: rl.maxVPAUpdatesPerNamespace };
  })();

  const out: Record<string, unknown> = {
    bench: 'coordination',
    config: {
      objects: objectsN,
      namespaces: nsN,
      objectsPerNamespace: perNs,
      eventsPerSecond: rate,
      eventsPerObjectPerSecond: round3(rate / objectsN),
      napEventsPerSecond: napRate,
      loadSeconds: seconds,
      sampleOneIn: sampleEvery,
      gateChecksPerSecond: gateRate,
      eventMix: conflicts
        ? 'VPA updater evictions (no increase flag: node scale-ups correlate) 70 %, VPA recommendations 30 %'
        : 'OptimizationPolicy evictions of downsizings 70 %, VPA recommendations growing 30 %',
      hubSettings,
      cpus: os.cpus().length,
      loadAverageAtStart: os.loadavg().map(round3),
      node: process.version,
    },
  };

  const pure = (): void => {
    out.pure = pureCosts({
      objects: objectsN,
      namespaces: nsN,
      eventsPerSecond: rate,
      napPerSecond: napRate,
      iterations,
      warmup: Math.ceil(iterations / 5),
      hub: hubSettings,
    });
  };
  if (flag('pure-only')) {
    pure();
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }

  // ---- 2. the stack ----
  // the worker's native logs to stderr (by default they go to stdout, which holds only the JSON document)
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } } });
  const listenersBefore = new Set(process.listeners('SIGINT'));
  const sb = await sharedSandbox();
  // a sandbox this run started stops on Ctrl-C from our handler (after the clean-up), not its own
  for (const sig of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(sig)) if (!listenersBefore.has(l)) process.off(sig, l);
  const reused = sb.stack === undefined;
  const api = countApiRequests(sb.endpoints.apiserver);
  const custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
  const temporalPid = sb.endpoints.pids.temporal;
  const tqPrefix = 'tq-bench-coord';
  await hubIsFree(sb, tqPrefix);
  const taskQueue = sb.taskQueue('bench-coord');

  const namespaces: string[] = [];
  const objects: { namespace: string; name: string }[] = [];
  let orch: Orchestrator | undefined;
  let stopLoad = false;
  const loadTimers: NodeJS.Timeout[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      stopLoad = true;
      closing = true;
      for (const t of loadTimers) clearInterval(t);
      await orch?.stop().catch(() => undefined);
      if (reused) {
        // the workflows stay in the server otherwise (no worker polls their task queue any more)
        await pool([coordinationHubWorkflowId(''), ...objects.map((o) => coordinationWorkflowId(o.namespace, o.name))], 16, async (id) => {
          await sb.temporal.workflow
            .getHandle(id)
            .terminate('coordination bench clean-up')
            .catch(() => undefined);
        });
      }
      await pool(namespaces, 8, async (name) => {
        await sb.core.deleteNamespace({ name }).catch(() => undefined);
      });
    })());
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('coordination bench: interrupted, cleaning up…\n');
    void cleanup()
      .catch(() => undefined)
      .finally(() => void stopSharedSandbox().finally(() => process.exit(130)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // memory and CPU, every second
  const mem: MemSample[] = [];
  let phase = 'baseline';
  const sample = (): void => {
    const m = process.memoryUsage();
    const t = procStatus(temporalPid);
    mem.push({ at: Date.now(), phase, rss: m.rss, heapUsed: m.heapUsed, ...(t.rssMiB !== undefined ? { temporalRssMiB: t.rssMiB } : {}) });
  };
  const memTimer = setInterval(sample, 1000);
  const cpuMarks = new Map<string, { at: number; cpu: NodeJS.CpuUsage; temporalTicks?: number }>();
  const markCpu = (name: string): void => {
    const t = procStatus(temporalPid).cpuTicks;
    cpuMarks.set(name, { at: Date.now(), cpu: process.cpuUsage(), ...(t !== undefined ? { temporalTicks: t } : {}) });
  };
  const cpuBetween = (a: string, b: string): { benchProcessMillicores: number; temporalMillicores?: number } => {
    const x = cpuMarks.get(a)!;
    const y = cpuMarks.get(b)!;
    const wall = y.at - x.at;
    const used = (y.cpu.user - x.cpu.user + y.cpu.system - x.cpu.system) / 1000;
    return {
      benchProcessMillicores: Math.round((used / wall) * 1000),
      ...(x.temporalTicks !== undefined && y.temporalTicks !== undefined
        ? { temporalMillicores: Math.round((((y.temporalTicks - x.temporalTicks) * 10) / wall) * 1000) }
        : {}),
    };
  };
  const lag = monitorEventLoopDelay({ resolution: 10 });

  try {
    // the bench's own baseline: the sandbox's clients, before the orchestrator
    await sleep(2000);
    global.gc?.();
    sample();
    const baseline = mem.at(-1)!;

    phase = 'orchestrator-idle';
    const tOrch = Date.now();
    orch = await startTestOrchestrator(sb, '', taskQueue, {
      http: false,
      scaleUpTrigger: false,
      env: { SCALE_DOWN_ENABLED: 'false', LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
    });
    const orchestratorStartSeconds = (Date.now() - tOrch) / 1000;
    await sleep(3000);
    global.gc?.();
    sample();
    const idle = mem.at(-1)!;

    // ---- the objects ----
    phase = 'creating';
    const tCreate = Date.now();
    for (let i = 0; i < nsN; i++) namespaces.push(uniqueName('bench-coord'));
    await pool(namespaces, 8, async (name) => {
      await sb.core.createNamespace({ body: { metadata: { name, labels: { [BENCH_LABEL]: 'true', 'vpsie.test/run': String(process.pid) } } } });
    });
    for (let k = 0; k < perNs; k++) for (const namespace of namespaces) if (objects.length < objectsN) objects.push({ namespace, name: `vpa-${k}` });
    await pool(objects, 16, async ({ namespace, name }) => {
      await custom.createNamespacedCustomObject({
        ...COORD,
        namespace,
        body: {
          apiVersion: 'platform.io/v1',
          kind: 'VPANAPCoordination',
          metadata: { name, namespace, labels: { [BENCH_LABEL]: 'true' } },
          spec: {
            vpaName: name,
            namespace,
            coordinationStrategy: 'coordinated',
            enabled: true,
            conflictPrevention: { cooldownPeriodMinutes: 5, maxConflictsPerHour: 1000 },
            circuitBreaker: { enabled: true, nodeChurnThreshold: 1000, evictionThreshold: 10_000, oscillationThreshold: 1000, cooldownMinutes: 5 },
          },
        },
      });
    });
    const createdSeconds = (Date.now() - tCreate) / 1000;
    const ours = new Set(namespaces);
    const phases = async (): Promise<Record<string, number>> => {
      const list = (await custom.listClusterCustomObject({ ...COORD, labelSelector: `${BENCH_LABEL}=true` })) as {
        items: { metadata: { namespace: string }; status?: { phase?: string } }[];
      };
      const c: Record<string, number> = {};
      for (const o of list.items) if (ours.has(o.metadata.namespace)) c[o.status?.phase ?? 'none'] = (c[o.status?.phase ?? 'none'] ?? 0) + 1;
      return c;
    };
    let lastPhases: Record<string, number> = {};
    await until(
      `all ${objectsN} objects Active`,
      async () => {
        lastPhases = await phases();
        return (lastPhases.Active ?? 0) >= objectsN ? true : undefined;
      },
      900_000,
      1000,
    );
    const allActiveSeconds = (Date.now() - tCreate) / 1000;
    phase = 'all-active';
    await sleep(5000);
    global.gc?.();
    sample();
    const active = mem.at(-1)!;

    // ---- the load ----
    phase = 'load';
    // the bench's own client (the sandbox's), so the orchestrator's stop never closes a channel the load still uses
    const advisor = hubAdvisor(sb.temporal);
    const hubId = coordinationHubWorkflowId('');
    const hubBefore = await historyLength(sb.temporal, hubId);
    const samples: {
      id: string;
      pod: string;
      queuedAt: number;
      sentAt?: number;
      seenAt?: number;
      queryRtt?: number;
      notYetAt?: number;
      queries: number;
      error?: string;
    }[] = [];
    const queues = new Map<number, { evs: VpaObservation[]; sample?: (typeof samples)[number][] }>();
    const perSecond = new Map<number, number>();
    const signalMs: number[] = [];
    const gateMs: number[] = [];
    const verdicts: Record<string, number> = {};
    let eventsQueued = 0;
    let signalsOk = 0;
    let signalErrors = 0;
    let signalRetries = 0;
    let napSent = 0;
    let napErrors = 0;
    let gateErrors = 0;
    const errorSamples: string[] = [];
    const noteError = (what: string, err: unknown): void => {
      if (errorSamples.length < 10) errorSamples.push(`${what}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300));
    };
    const recCpu = new Map<number, number>();
    const pending: Promise<void>[] = [];

    const poll = async (s: (typeof samples)[number]): Promise<void> => {
      const h = sb.temporal.workflow.getHandle(s.id);
      const deadline = s.sentAt! + POLL_LIMIT_MS;
      while (Date.now() < deadline) {
        const q0 = Date.now();
        try {
          const v = await h.query(stateQuery);
          s.queries++;
          if ((v.status.vpaEvents ?? []).some((e) => e.target?.endsWith(` pod ${s.pod}`) === true)) {
            s.seenAt = Date.now();
            s.queryRtt = s.seenAt - q0;
            return;
          }
          // not yet: it was applied after this query ran (after it was sent)
          s.notYetAt = q0;
        } catch (err) {
          s.error = String(err);
        }
        // polls at least 20 ms apart and at most 20 % of the time so far (a bounded error, few queries when slow)
        await sleep(Math.min(1000, 20 + (Date.now() - s.sentAt!) / 5));
      }
    };

    const sendBatch = async (idx: number, evs: VpaObservation[], sampled: (typeof samples)[number][] | undefined): Promise<void> => {
      const o = objects[idx]!;
      const key = `${o.namespace}/${o.name}`;
      const sentAt = Date.now();
      for (const s of sampled ?? []) s.sentAt = sentAt;
      for (let attempt = 1; ; attempt++) {
        const t0 = Date.now();
        try {
          await sb.temporal.workflow.signalWithStart(COORDINATION_WORKFLOW_TYPE, {
            workflowId: coordinationWorkflowId(o.namespace, o.name),
            taskQueue,
            args: [{ namespace: o.namespace, name: o.name, hub: hubId } satisfies CoordinationWorkflowInput],
            signal: vpaEventsSignal,
            signalArgs: [evs],
            typedSearchAttributes: [{ key: SA_COORDINATION, value: key }],
          });
          signalMs.push(Date.now() - t0);
          signalsOk++;
          const sec = Math.floor((Date.now() - loadStart) / 1000);
          perSecond.set(sec, (perSecond.get(sec) ?? 0) + evs.length);
          for (const s of sampled ?? []) pending.push(poll(s));
          return;
        } catch (err) {
          if (attempt >= 5 || stopLoad) {
            signalErrors++;
            noteError(`vpaEvents ${key}`, err);
            return;
          }
          signalRetries++;
          await sleep(200 * 2 ** attempt);
        }
      }
    };

    // the watcher's flush: every 500 ms, every object's queue in one go
    let flushing: Promise<void> = Promise.resolve();
    const flush = async (): Promise<void> => {
      const batch = [...queues.entries()];
      queues.clear();
      await Promise.all(batch.map(([idx, q]) => sendBatch(idx, q.evs, q.sample)));
    };
    const loadStart = Date.now();
    const flushTimer = setInterval(() => {
      flushing = flushing.then(flush).catch(() => undefined);
    }, BATCH_MS);

    // node events: the watcher's hub queue (one batch per flush)
    let napI = 0;
    const napTimer =
      napRate > 0
        ? setInterval(
            () => {
              const ev: NapObservation = { at: Date.now(), kind: 'NodeScaleUp', node: `bench-node-${napI++}` };
              void sb.temporal.workflow
                .getHandle(hubId)
                .signal(hubNapEventsSignal, [ev])
                .then(
                  () => void napSent++,
                  (err: unknown) => {
                    napErrors++;
                    noteError('hubNapEvents', err);
                  },
                );
            },
            Math.max(10, 1000 / napRate),
          )
        : undefined;

    // gate checks at gateRate/s, not waiting for each other
    const gatePending: Promise<void>[] = [];
    const gateTimer =
      gateRate > 0
        ? setInterval(
            () => {
              const namespace = namespaces[Math.floor(Math.random() * namespaces.length)]!;
              const t0 = performance.now();
              gatePending.push(
                advisor.verdict(namespace, Date.now()).then(
                  (v) => {
                    gateMs.push(performance.now() - t0);
                    const k = v === undefined ? 'not coordinated' : v.allowed ? 'allowed' : v.reason;
                    verdicts[k] = (verdicts[k] ?? 0) + 1;
                  },
                  (err: unknown) => {
                    gateErrors++;
                    noteError('gate check', err);
                  },
                ),
              );
            },
            Math.max(1, 1000 / gateRate),
          )
        : undefined;

    // the cycle's reservation of its updates (reserveUpdates on the hub), once a second
    const reserveMs: number[] = [];
    let reserveErrors = 0;
    let granted = 0;
    const reservePending: Promise<void>[] = [];
    let reserveI = 0;
    const reserveTimer = setInterval(() => {
      const namespace = namespaces[reserveI % namespaces.length]!;
      const t0 = performance.now();
      reservePending.push(
        advisor.reserve(namespace, 1, `bench-${taskQueue}-${reserveI++}`).then(
          (n) => {
            reserveMs.push(performance.now() - t0);
            granted += n;
          },
          (err: unknown) => {
            reserveErrors++;
            noteError('reserveUpdates', err);
          },
        ),
      );
    }, 1000);
    for (const t of [flushTimer, napTimer, gateTimer, reserveTimer]) if (t !== undefined) loadTimers.push(t);

    // rightsizing events at `rate`/s, spread over the objects (a stride through them)
    lag.enable();
    markCpu('load-start');
    api.on(true);
    const stride = 7919 % objectsN === 0 ? 1 : 7919;
    for (let k = 0; !stopLoad;) {
      const elapsed = Date.now() - loadStart;
      if (elapsed >= seconds * 1000) break;
      const due = Math.floor((elapsed / 1000) * rate);
      for (; k < due; k++) {
        const idx = (k * stride) % objectsN;
        const o = objects[idx]!;
        const at = Date.now();
        let ev: VpaObservation;
        let s: (typeof samples)[number] | undefined;
        if (k % 10 < 7) {
          const pod = `${o.name}-bench-${k}`;
          ev = conflicts
            ? { at, kind: 'Eviction', source: 'VPA', workload: `${o.name}:${o.name}`, pod }
            : { at, kind: 'Eviction', source: 'OptimizationPolicy', workload: `Deployment/${o.namespace}/${o.name}`, pod, increase: false };
          if (k % sampleEvery === 0) {
            s = { id: coordinationWorkflowId(o.namespace, o.name), pod, queuedAt: at, queries: 0 };
            samples.push(s);
          }
        } else {
          const n = (recCpu.get(idx) ?? 100) + 10;
          recCpu.set(idx, n);
          ev = { at, kind: 'RecommendationUpdate', source: 'VPA', workload: `${o.name}:${o.name}`, recommendation: { cpu: n, memory: n * 2 ** 20 } };
        }
        const q = queues.get(idx) ?? { evs: [] };
        q.evs.push(ev);
        if (s) (q.sample ??= []).push(s);
        queues.set(idx, q);
        eventsQueued++;
      }
      await sleep(10);
    }
    clearInterval(flushTimer);
    clearInterval(napTimer);
    clearInterval(gateTimer);
    clearInterval(reserveTimer);
    const loadAverageAtEnd = os.loadavg().map(round3);
    await flushing;
    await flush();
    const loadSeconds = (Date.now() - loadStart) / 1000;
    markCpu('load-end');
    api.on(false);
    lag.disable();
    phase = 'drain';
    await Promise.all(gatePending);
    await Promise.all(reservePending);
    await Promise.all(pending);
    const requests = api.snapshot();
    const endPhases = await phases();
    const hubAfter = await historyLength(sb.temporal, hubId);
    const hubView = await sb.temporal.workflow
      .getHandle(hubId)
      .query(hubStateQuery)
      .catch(() => undefined);
    const one = await historyLength(sb.temporal, coordinationWorkflowId(objects[0]!.namespace, objects[0]!.name));
    const sampledIds = [...new Set(samples.map((s) => s.id))].slice(0, 20);
    const objectHistories = await historyStats(sb.temporal, sampledIds, loadStart);
    const hubHistory = await historyStats(sb.temporal, [hubId], loadStart);
    sample();
    clearInterval(memTimer);

    // ---- results ----
    const loadMem = mem.filter((m) => m.phase === 'load');
    const peak = loadMem.reduce((a, m) => (m.rss > a.rss ? m : a), loadMem[0] ?? active);
    const peakHeap = Math.max(...loadMem.map((m) => m.heapUsed), active.heapUsed);
    const temporalLoad = loadMem.map((m) => m.temporalRssMiB ?? 0);
    const seen = samples.filter((s) => s.seenAt !== undefined);
    const fromSignal = seen.map((s) => s.seenAt! - s.sentAt!);
    const fromQueue = seen.map((s) => s.seenAt! - s.queuedAt);
    const secs = [...perSecond.entries()].filter(([s]) => s < Math.floor(loadSeconds)).map(([, n]) => n);
    const memView = (m: MemSample): Record<string, number> => ({
      rssMiB: mib(m.rss),
      heapUsedMiB: mib(m.heapUsed),
      ...(m.temporalRssMiB !== undefined ? { temporalRssMiB: m.temporalRssMiB } : {}),
    });
    const temporalNow = procStatus(temporalPid);
    const gate = ms3(gateMs);
    const decision = ms3(fromSignal);
    const totalReq = Object.values(requests).reduce((a, b) => a + b, 0);
    out.stack = {
      sandbox: reused ? `reused (${process.env.TEST_SANDBOX_DIR})` : 'fresh',
      orchestratorStartSeconds: round3(orchestratorStartSeconds),
      startup: {
        createSeconds: round3(createdSeconds),
        allActiveSeconds: round3(allActiveSeconds),
        allActiveAfterLastCreateSeconds: round3(allActiveSeconds - createdSeconds),
      },
      load: {
        seconds: round3(loadSeconds),
        eventsQueued,
        signals: { ok: signalsOk, errors: signalErrors, retries: signalRetries, rpcMs: ms3(signalMs) },
        eventsDeliveredPerSecond: { mean: round3(secs.reduce((a, b) => a + b, 0) / Math.max(1, secs.length)), min: Math.min(...secs), max: Math.max(...secs) },
        nodeEvents: { sent: napSent, errors: napErrors },
        errors: errorSamples,
        eventLoopDelayMs: { p50: round3(lag.percentile(50) / 1e6), p99: round3(lag.percentile(99) / 1e6), max: round3(lag.max / 1e6) },
      },
      decision: {
        what: 'signalWithStart of vpaEvents sent → stateQuery shows the event in status.vpaEvents (fromSignalMs: the response of the first query that shows it, an upper bound; polled at most 20 % of the time elapsed apart)',
        samples: samples.length,
        seen: seen.length,
        notSeenWithinLimit: samples.length - seen.length,
        pollLimitMs: POLL_LIMIT_MS,
        fromSignalMs: decision,
        lowerBoundMs: {
          ...ms3(seen.map((s) => Math.max(0, (s.notYetAt ?? s.sentAt!) - s.sentAt!))),
          note: 'the send time of the last query that did not show it yet (0 when the first did)',
        },
        fromQueuedMs: { ...ms3(fromQueue), note: 'includes the watcher batching (up to 500 ms)' },
        lastQueryRoundTripMs: ms3(seen.map((s) => s.queryRtt!)),
        queriesPerSample: round3(seen.reduce((a, s) => a + s.queries, 0) / Math.max(1, seen.length)),
      },
      gateCheck: {
        what: 'hubAdvisor(client).verdict(namespace, now): admissionFacts query to the hub + coordinationGate',
        checks: gateMs.length,
        errors: gateErrors,
        ms: gate,
        verdicts,
      },
      reserveUpdate: {
        what: 'hubAdvisor(client).reserve(namespace, 1, key): the reserveUpdates update on the hub, once a second',
        calls: reserveMs.length,
        errors: reserveErrors,
        granted,
        ms: ms3(reserveMs),
      },
      loadAverageAtEnd,
      memory: {
        note: 'the orchestrator runs in this process: its share is the rss above the bench baseline (the sandbox clients, the modules loaded); idle includes building the workflow bundle (webpack) as a production start does; milestones are sampled after a GC',
        benchBaseline: memView(baseline),
        orchestratorIdle: memView(idle),
        allActive: memView(active),
        perObjectKiB: Math.round(((active.rss - idle.rss) / objectsN / 1024) * 10) / 10,
        peakUnderLoad: { ...memView(peak), heapUsedMiB: mib(peakHeap) },
        orchestratorShareMiB: { idle: mib(idle.rss - baseline.rss), allActive: mib(active.rss - baseline.rss), peakUnderLoad: mib(peak.rss - baseline.rss) },
        temporalServer: {
          pid: temporalPid,
          rssUnderLoadMiB: { max: Math.max(...temporalLoad), last: temporalLoad.at(-1) },
          ...(temporalNow.hwmMiB !== undefined ? { peakRssSinceStartMiB: temporalNow.hwmMiB } : {}),
        },
      },
      cpuUnderLoad: cpuBetween('load-start', 'load-end'),
      kubernetesRequestsUnderLoad: {
        total: totalReq,
        perSecond: round3(totalReq / loadSeconds),
        byKind: Object.fromEntries(Object.entries(requests).sort((a, b) => b[1] - a[1])),
      },
      end: {
        phases: endPhases,
        tripped: Object.entries(endPhases)
          .filter(([p]) => p !== 'Active')
          .reduce((a, [, n]) => a + n, 0),
        hub: {
          historyLengthBefore: hubBefore.historyLength,
          historyLengthAfter: hubAfter.historyLength,
          continuedAsNew: hubBefore.runId !== hubAfter.runId,
          view: hubView,
        },
        firstObjectHistoryLength: one.historyLength,
        historiesUnderLoad: {
          note: 'from the current run of each history (a run that continued as new counts from its start)',
          objects: objectHistories,
          hub: hubHistory,
        },
      },
    };
    out.targets = {
      gateCheckP99Under10ms: { p99Ms: gate.p99, met: gate.p99 < 10 },
      gateCheckP99Under50msDocument000: { p99Ms: gate.p99, met: gate.p99 < 50 },
      coordinationDecisionTypicalUnder200ms: { p50Ms: decision.p50, met: decision.p50 < 200 },
      coordinationDecisionMaxUnder1s: { maxMs: decision.max, p99Ms: decision.p99, met: decision.max < 1000 && seen.length === samples.length },
      memoryNote: {
        objects: objectsN,
        orchestratorRssAllActiveMiB: mib(active.rss - baseline.rss),
        orchestratorPeakRssUnderLoadMiB: mib(peak.rss - baseline.rss),
        document000PeakBaselineMiB: '256-512',
        metPeak: mib(peak.rss - baseline.rss) <= 512,
      },
    };
  } finally {
    clearInterval(memTimer);
    await cleanup();
  }
  if (interrupted) return;
  // ---- the pure costs, after the stack (so the bench's baseline above does not hold their states) ----
  pure();
  const g = (out.pure as { coordinationGate: { afterNodeChange: { p99Us: number } } }).coordinationGate.afterNodeChange;
  out.targets = { ...(out.targets as object), gateCheckPurePartP99Under10ms: { p99Ms: round3(g.p99Us / 1000), met: g.p99Us < 10_000 } };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main()
  .then(async () => {
    if (interrupted) return;
    await stopSharedSandbox();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    if (interrupted) return;
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopSharedSandbox().catch(() => undefined);
    process.exit(1);
  });
