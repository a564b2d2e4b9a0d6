/**
 * The Prometheus usage provider: per namespace, two range queries over the policy's rolling window
 * (`/api/v1/query_range`), one per resource, grouped by (namespace, pod, container):
 *
 * - CPU: `rate(container_cpu_usage_seconds_total[<step>])` at that step — each point the usage of
 *   one step, never a rate over the whole window (which flattens every spike into the mean);
 * - memory: `max_over_time(container_memory_working_set_bytes[<interval>])` at step = interval —
 *   each point the peak of one interval, as the usage model's memory histogram wants.
 *
 * Pods are mapped to workloads through owner references (owners.ts). Requests are bounded in
 * number (a semaphore shared by every caller of one provider) and in time (a per-request timeout);
 * every answer is validated with zod, and what Prometheus can do wrong (refuse, hang, HTTP errors,
 * `status:"error"`, garbage, NaN/±Inf, no series) is a typed outcome, never a throw.
 */
import * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { DEFAULT_MODEL_OPTIONS, type SeriesPoint } from '../../decision/rightsizing/model';
import { httpGet, Semaphore, throwIfAborted } from './http';
import { providerMetrics, type ProviderMetrics } from './metrics';
import { readOwnership, workloadOfPod, type KubeGet } from './owners';
import { workloadKey, type ContainerUsage, type ProviderFailure, type UsageOutcome, type UsageProvider, type UsageRequest } from './provider';

// ---------------------------------------------------------------- queries (pure)

/** Prometheus answers at most 11,000 points per series; stay under. */
export const MAX_POINTS_PER_SERIES = 10_000;
export const DEFAULT_STEP_MS = 60_000;

export interface RangeQuery {
  query: string;
  /** Epoch seconds. */
  start: number;
  end: number;
  /** Seconds. */
  step: number;
}

export interface NamespaceQueries {
  cpu: RangeQuery;
  memory: RangeQuery;
  /** The range of the CPU rate (seconds): always the CPU step. */
  rateWindowSeconds: number;
  /** The range of the memory max_over_time (seconds): always the memory step. */
  memoryIntervalSeconds: number;
}

/** A PromQL string literal. */
export function promString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function selector(namespace: string): string {
  return `{namespace=${promString(namespace)},container!="",container!="POD"}`;
}

/**
 * The two range queries of one namespace. Both end at `now` aligned down to the CPU step, so a
 * retry asks the same question and the newest memory interval is always asked for; the step grows (whole seconds) when the window would need more points than
 * Prometheus gives; the memory interval is at most the window and at least the CPU step.
 */
export function namespaceQueries(namespace: string, now: number, windowMs: number, o: { stepMs?: number; memoryIntervalMs?: number } = {}): NamespaceQueries {
  const windowS = Math.max(1, Math.floor(windowMs / 1000));
  const minStep = Math.ceil(windowS / MAX_POINTS_PER_SERIES);
  const step = Math.max(1, minStep, Math.round((o.stepMs ?? DEFAULT_STEP_MS) / 1000));
  const interval = Math.max(step, Math.min(windowS, Math.round((o.memoryIntervalMs ?? DEFAULT_MODEL_OPTIONS.memoryIntervalMs) / 1000)));
  const nowS = Math.floor(now / 1000);
  // Both queries end at `now` aligned down to the CPU step (not to their own step: a memory
  // interval of an hour or a day aligned to its own grid would never ask for the newest interval,
  // the peaks since the last full hour or midnight).
  const end = Math.floor(nowS / step) * step;
  const range = (stepS: number): { start: number; end: number; step: number } => {
    // the first point whose range lies inside the window
    const points = Math.max(1, Math.floor(windowS / stepS));
    return { start: end - (points - 1) * stepS, end, step: stepS };
  };
  const sel = selector(namespace);
  return {
    cpu: { query: `sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total${sel}[${step}s]))`, ...range(step) },
    memory: { query: `max by (namespace, pod, container) (max_over_time(container_memory_working_set_bytes${sel}[${interval}s]))`, ...range(interval) },
    rateWindowSeconds: step,
    memoryIntervalSeconds: interval,
  };
}

export function queryRangeUrl(base: string, q: RangeQuery): string {
  const p = new URLSearchParams({ query: q.query, start: String(q.start), end: String(q.end), step: `${q.step}s` });
  return `${base.replace(/\/$/, '')}/api/v1/query_range?${p.toString()}`;
}

// ---------------------------------------------------------------- answers (pure)

const MatrixSuccess = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('matrix'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(z.tuple([z.number(), z.string()])) })),
  }),
  warnings: z.array(z.string()).optional(),
});
const ApiError = z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() });

export interface Series {
  namespace: string;
  pod: string;
  container: string;
  /** (epoch ms, value), finite values only. */
  points: SeriesPoint[];
}

export type ParsedMatrix =
  | { ok: true; series: Series[]; droppedPoints: number; warnings: string[] }
  | { ok: false; failure: Extract<ProviderFailure, 'HttpError' | 'QueryError' | 'InvalidResponse'>; message: string };

/**
 * A query_range answer (HTTP status and body) as series of finite points: NaN and ±Inf points are
 * dropped and counted, series left empty or without pod/container labels are left out.
 */
export function parseMatrix(httpStatus: number, body: string): ParsedMatrix {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return httpStatus >= 200 && httpStatus < 300
      ? { ok: false, failure: 'InvalidResponse', message: `Prometheus answered HTTP ${httpStatus} with a body that is not JSON` }
      : { ok: false, failure: 'HttpError', message: `Prometheus answered HTTP ${httpStatus}: ${body.slice(0, 200)}` };
  }
  const err = ApiError.safeParse(json);
  if (err.success)
    return {
      ok: false,
      failure: 'QueryError',
      message: `Prometheus answered HTTP ${httpStatus}, ${err.data.errorType ?? 'error'}: ${err.data.error ?? ''}`.trim(),
    };
  if (httpStatus < 200 || httpStatus >= 300) return { ok: false, failure: 'HttpError', message: `Prometheus answered HTTP ${httpStatus}` };
  const ok = MatrixSuccess.safeParse(json);
  if (!ok.success)
    return {
      ok: false,
      failure: 'InvalidResponse',
      message: `Prometheus's answer is not a matrix: ${ok.error.issues[0]?.message ?? ''} at ${ok.error.issues[0]?.path.join('.') ?? ''}`,
    };
  let dropped = 0;
  const series: Series[] = [];
  for (const r of ok.data.data.result) {
    const { namespace, pod, container } = r.metric;
    if (!namespace || !pod || !container) continue;
    const points: SeriesPoint[] = [];
    for (const [t, v] of r.values) {
      const x = Number(v); // "NaN", "+Inf", "-Inf" and garbage all fail the finite test
      if (Number.isFinite(x) && x >= 0 && Number.isFinite(t)) points.push([Math.round(t * 1000), x]);
      else dropped++;
    }
    if (points.length > 0) series.push({ namespace, pod, container, points });
  }
  return { ok: true, series, droppedPoints: dropped, warnings: ok.data.warnings ?? [] };
}

// ---------------------------------------------------------------- auth from a Secret

export interface PrometheusAuth {
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  /** PEM CA bundle for an https URL. */
  ca?: string;
}

const SecretData = z.record(z.string(), z.string());

/**
 * Prometheus credentials from a Secret: `token` (bearer), `username` + `password` (basic auth),
 * `ca.crt` (PEM). Throws when the Secret cannot be read (a configuration error, not a skip).
 */
export async function prometheusAuthFromSecret(core: Pick<k8s.CoreV1Api, 'readNamespacedSecret'>, namespace: string, name: string): Promise<PrometheusAuth> {
  const secret = await core.readNamespacedSecret({ name, namespace });
  const data = SecretData.parse(secret.data ?? {});
  const text = (k: string): string | undefined => (data[k] === undefined ? undefined : Buffer.from(data[k], 'base64').toString('utf8'));
  const auth: PrometheusAuth = {};
  const token = text('token')?.trim();
  if (token) auth.bearerToken = token;
  const username = text('username');
  const password = text('password');
  if (username !== undefined && password !== undefined) auth.basicAuth = { username, password };
  const ca = text('ca.crt');
  if (ca) auth.ca = ca;
  return auth;
}

/** The request headers of the credentials (bearer wins over basic auth when both are given). */
export function authHeaders(a: PrometheusAuth): Record<string, string> {
  if (a.bearerToken) return { authorization: `Bearer ${a.bearerToken}` };
  if (a.basicAuth) return { authorization: `Basic ${Buffer.from(`${a.basicAuth.username}:${a.basicAuth.password}`).toString('base64')}` };
  return {};
}

// ---------------------------------------------------------------- grouping (pure)

/**
 * A CPU series that begins inside the queried range (a pod started during the window) has a
 * first point whose rate window reaches back before its first sample: Prometheus extrapolates
 * only half a scrape interval past the first sample, so that point under-reads the usage (a pod
 * started 7 s into a 30 s window reads about 7/30 of its rate). Such first points are dropped;
 * every later point's window lies wholly after the series began.
 */
export function dropPartialFirstWindows(series: readonly Series[], rangeStartMs: number): Series[] {
  return series.map((s) => {
    const first = s.points[0];
    return first !== undefined && first[0] > rangeStartMs ? { ...s, points: s.points.slice(1) } : s;
  });
}

/** Series of pods grouped per (workload, container); pods without a workload are reported apart. */
export function groupByWorkload(
  cpu: readonly Series[],
  memory: readonly Series[],
  workloadOf: (pod: string) => ContainerUsage['workload'] | undefined,
): { containers: ContainerUsage[]; unowned: string[] } {
  const byKey = new Map<string, ContainerUsage & { podSet: Set<string> }>();
  const unowned = new Set<string>();
  const add = (s: Series, into: 'cpu' | 'memory', scale: number): void => {
    const w = workloadOf(s.pod);
    if (w === undefined) {
      unowned.add(s.pod);
      return;
    }
    const key = `${workloadKey(w)}/${s.container}`;
    let c = byKey.get(key);
    if (c === undefined) byKey.set(key, (c = { workload: w, container: s.container, pods: [], cpu: [], memory: [], podSet: new Set() }));
    c.podSet.add(s.pod);
    for (const [t, v] of s.points) c[into].push([t, v * scale]);
  };
  for (const s of cpu) add(s, 'cpu', 1000); // cores → millicores
  for (const s of memory) add(s, 'memory', 1);
  const containers = [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { podSet, ...c }]) => ({
      ...c,
      pods: [...podSet].sort(),
      cpu: c.cpu.sort((a, b) => a[0] - b[0] || a[1] - b[1]),
      memory: c.memory.sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    }));
  return { containers, unowned: [...unowned].sort() };
}

// ---------------------------------------------------------------- the provider

export interface PrometheusProviderOptions extends PrometheusAuth {
  /** Prometheus's base URL (its API under `<url>/api/v1/`). */
  url: string;
  /** Reads pods and ReplicaSets for the owner mapping (owners.kubeGetter). */
  kube: KubeGet;
  registry?: Registry;
  /** CPU step and rate range (default 60 s; grows for long windows). */
  stepMs?: number;
  /** Memory peak interval (default the model's, 24 h; at most the window). */
  memoryIntervalMs?: number;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Requests in flight at once over every caller of this provider (default 4). */
  concurrency?: number;
}

export class PrometheusProvider implements UsageProvider {
  readonly name = 'prometheus' as const;
  private readonly limiter: Semaphore;
  private readonly metrics: ProviderMetrics | undefined;

  constructor(private readonly o: PrometheusProviderOptions) {
    this.limiter = new Semaphore(o.concurrency ?? 4);
    this.metrics = o.registry ? providerMetrics(o.registry) : undefined;
  }

  /** The queries `collect` sends for a request (for logs and tests). */
  queries(req: UsageRequest): NamespaceQueries {
    return namespaceQueries(req.namespace, req.now, req.windowMs, { stepMs: this.o.stepMs, memoryIntervalMs: this.o.memoryIntervalMs });
  }

  private async range(q: RangeQuery, signal: AbortSignal | undefined): Promise<ParsedMatrix | { ok: false; failure: ProviderFailure; message: string }> {
    const r = await this.limiter.run(() =>
      httpGet(queryRangeUrl(this.o.url, q), { headers: authHeaders(this.o), ca: this.o.ca, timeoutMs: this.o.timeoutMs ?? 30_000, signal }),
    );
    return r.ok ? parseMatrix(r.status, r.body) : r;
  }

  async collect(req: UsageRequest, signal?: AbortSignal): Promise<UsageOutcome> {
    throwIfAborted(signal);
    const end = this.metrics?.collectionSeconds.startTimer({ provider: this.name });
    try {
      const q = this.queries(req);
      const [cpu, memory, owners] = await Promise.all([
        this.range(q.cpu, signal),
        this.range(q.memory, signal),
        readOwnership(this.o.kube, req.namespace, signal),
      ]);
      const unavailable = (f: { failure: ProviderFailure; message: string }): UsageOutcome => {
        this.metrics?.errors.inc({ policy: req.policy ?? '', error_type: f.failure });
        return { ok: false, provider: this.name, namespace: req.namespace, reason: 'MetricsUnavailable', failure: f.failure, message: f.message };
      };
      if (!cpu.ok) return unavailable(cpu);
      if (!memory.ok) return unavailable(memory);
      if (!owners.ok) return unavailable(owners);
      const cpuSeries = dropPartialFirstWindows(cpu.series, q.cpu.start * 1000);
      const grouped = groupByWorkload(cpuSeries, memory.series, (pod) => workloadOfPod(owners.ownership, pod));
      const droppedPoints = cpu.droppedPoints + memory.droppedPoints;
      if (grouped.containers.length === 0) {
        const seen = cpu.series.length + memory.series.length;
        const message =
          seen === 0
            ? `no usage series for namespace ${req.namespace} in the last ${Math.round(req.windowMs / 1000)} s${droppedPoints ? ` (${droppedPoints} NaN/Inf points dropped)` : ''}`
            : `usage series of ${grouped.unowned.length} pod(s) in ${req.namespace}, none owned by a Deployment, StatefulSet or DaemonSet`;
        return { ok: false, provider: this.name, namespace: req.namespace, reason: 'InsufficientData', message };
      }
      return { ok: true, provider: this.name, namespace: req.namespace, containers: grouped.containers, unowned: grouped.unowned, droppedPoints };
    } finally {
      end?.();
    }
  }
}
