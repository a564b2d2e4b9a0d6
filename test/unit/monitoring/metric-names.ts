/**
 * What the monitoring files may name: the metrics the orchestrator's code declares (every
 * `new Counter|Gauge|Histogram|Summary({ name: '…', labelNames: […] })` in its source, with the
 * series a histogram or summary exposes), prom-client's default process and Node.js metrics
 * (registered by workers/orchestrator.ts), and the series Prometheus makes itself (`up`,
 * `ALERTS`); and a reader of PromQL that lists the metric names and label names an expression uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { z } from 'zod';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const MONITORING = path.join(ROOT, 'k8s', 'monitoring');

/** Where the exporting code lives (decision/ and workflows/ touch no metrics). */
const SOURCE_DIRS = ['lib', 'activities', 'clients', 'starters', 'workers'];

/** Labels every scraped series may carry: the target's (sandbox file_sd, ServiceMonitor). */
export const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint', 'app_kubernetes_io_component'];

export interface Series {
  /** The metric as declared (a histogram's base name for its `_bucket`). */
  metric: string;
  labels: Set<string>;
  /** Where it is declared, for messages. */
  from: string;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const CONSTRUCTOR = /new (Counter|Gauge|Histogram|Summary)\b(?:<[^>(]*>)?\(\{([\s\S]*?)\}\)/g;

/** The metrics the source declares: name → type, labels, file. */
export function declaredMetrics(): Map<string, { type: string; labels: string[]; file: string }> {
  const out = new Map<string, { type: string; labels: string[]; file: string }>();
  for (const dir of SOURCE_DIRS)
    for (const file of tsFiles(path.join(ROOT, dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(CONSTRUCTOR)) {
        const body = m[2] ?? '';
        const name = /\bname:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/.exec(body)?.[1];
        if (!name) continue;
        const labelList = /\blabelNames:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '';
        const labels = [...labelList.matchAll(/'([a-zA-Z_][a-zA-Z0-9_]*)'/g)].map((x) => x[1] ?? '');
        out.set(name, { type: (m[1] ?? '').toLowerCase(), labels, file: path.relative(ROOT, file) });
      }
    }
  return out;
}

const RegisteredMetric = z.object({ name: z.string(), type: z.string(), labelNames: z.array(z.string()).default([]) });

/** prom-client's default metrics, from a real registry: name → type and labels. */
export async function defaultMetrics(): Promise<Map<string, { type: string; labels: string[] }>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const out = new Map<string, { type: string; labels: string[] }>();
  for (const raw of registry.getMetricsAsArray()) {
    const m = RegisteredMetric.parse(raw);
    out.set(m.name, { type: m.type, labels: m.labelNames });
  }
  // labels a default metric sets on its values without declaring them
  for (const m of await registry.getMetricsAsJSON()) {
    const d = out.get(m.name);
    for (const v of m.values) for (const k of Object.keys(v.labels)) if (k !== 'le' && d && !d.labels.includes(k)) d.labels.push(k);
  }
  return out;
}

/** Every series name the orchestrator exports or Prometheus makes, with the labels it may carry. */
export async function exportedSeries(): Promise<Map<string, Series>> {
  const out = new Map<string, Series>();
  const add = (metric: string, type: string, labels: string[], from: string): void => {
    const base = new Set([...labels, ...TARGET_LABELS]);
    out.set(metric, { metric, labels: base, from });
    if (type === 'histogram' || type === 'summary') {
      out.set(`${metric}_sum`, { metric, labels: base, from });
      out.set(`${metric}_count`, { metric, labels: base, from });
    }
    if (type === 'histogram') out.set(`${metric}_bucket`, { metric, labels: new Set([...base, 'le']), from });
    if (type === 'summary') out.get(metric)?.labels.add('quantile');
  };
  for (const [name, m] of declaredMetrics()) add(name, m.type, m.labels, m.file);
  for (const [name, m] of await defaultMetrics()) add(name, m.type, m.labels, 'prom-client default metrics');
  add('up', 'gauge', [], 'Prometheus');
  add('ALERTS', 'gauge', ['alertname', 'alertstate', 'severity', 'nodegroup', 'reason', 'vpa_name', 'conflict_type'], 'Prometheus');
  return out;
}

export interface PromqlUse {
  /** Metric names the expression selects. */
  metrics: string[];
  /** Label names used in each selector's matchers, by metric. */
  matchers: { metric: string; labels: string[] }[];
  /** Label names of by/without/on/ignoring/group_left/group_right clauses. */
  grouping: string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric and label names a PromQL expression (or Grafana target: `$variables` allowed) uses.
 * Not a full parser: strings, label matchers, grouping clauses and range selectors are taken out
 * first; what is left that looks like a name and is not a function call or keyword is a metric.
 */
export function promqlUses(expr: string): PromqlUse {
  let e = expr.replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, 'VAR');
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const matchers: PromqlUse['matchers'] = [];
  e = e.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_all, name: string | undefined, body: string) => {
    const labels = [...body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1] ?? '');
    matchers.push({ metric: name ?? '', labels });
    return name ? ` ${name} ` : ' ';
  });
  const grouping: string[] = [];
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, _kw: string, list: string) => {
    grouping.push(
      ...list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' ');
  const metrics: string[] = [];
  for (const m of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = m[0];
    const at = m.index;
    const before = at > 0 ? e[at - 1] : ' ';
    if (before !== undefined && /[0-9.]/.test(before)) continue; // a duration's unit (15m), an exponent
    if (KEYWORDS.has(name.toLowerCase()) || name === 'VAR') continue;
    if (/^\s*\(/.test(e.slice(at + name.length))) continue; // a function or an aggregation
    metrics.push(name);
  }
  return { metrics, matchers, grouping };
}

/**
 * What is wrong with an expression against `known` (series name → labels): unknown metrics,
 * matchers naming a label the metric does not have, grouping by a label none of its metrics has.
 */
export function promqlProblems(expr: string, known: Map<string, Series>): string[] {
  const use = promqlUses(expr);
  const problems: string[] = [];
  if (use.metrics.length === 0) problems.push('names no metric');
  for (const m of use.metrics) if (!known.has(m)) problems.push(`unknown metric ${m}`);
  for (const { metric, labels } of use.matchers) {
    const s = known.get(metric);
    if (!s) continue;
    for (const l of labels) if (l !== '__name__' && !s.labels.has(l)) problems.push(`${metric} has no label ${l}`);
  }
  const all = new Set(use.metrics.flatMap((m) => [...(known.get(m)?.labels ?? [])]));
  for (const l of use.grouping) if (!all.has(l)) problems.push(`no metric of the expression has the label ${l} it groups by`);
  return problems;
}
