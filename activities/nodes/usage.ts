/**
 * Node usage from metrics-server: one list of `metrics.k8s.io/v1beta1` NodeMetrics through the
 * apiserver's aggregation layer, validated with zod. Used by the scale-down loop's observation
 * (scale-down by usage, scaleDownPolicy.utilizationSource; scale-up by usage, scaleUpPolicy
 * thresholds). metrics-server keeps no history: each call gives the latest scrape (a CPU rate over
 * its window, the memory working set).
 *
 * Unavailable metrics (no metrics-server, APIService not Available, a malformed answer) are not an
 * error of the loop: every node's usage is then unknown, which the decisions treat conservatively
 * (no scale-down judged by usage, no scale-up by usage), and a warning is logged at most once per
 * `WARN_EVERY_MS`.
 */
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { apiStatus } from '../../lib/kube/api';
import { cpuMillis, memoryBytes } from '../../lib/crds/optipod/quantity';
import { logger } from '../../lib/log';

export const NodeMetricsListSchema = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string() }),
      // null (Go's zero time) before metrics-server has two scrapes of the node
      timestamp: z.string().nullable().optional(),
      window: z.string().nullable().optional(),
      usage: z.object({ cpu: z.string(), memory: z.string() }),
    }),
  ),
});
export type NodeMetricsList = z.infer<typeof NodeMetricsListSchema>;

export interface NodeUsage {
  cpuMilli: number;
  memoryBytes: number;
}

export type NodeUsageResult = { ok: true; usage: Map<string, NodeUsage> } | { ok: false; usage: Map<string, NodeUsage>; message: string };

/** NodeMetrics list -> usage per node name; entries with a null timestamp or a malformed quantity are left out. */
export function nodeUsageFromList(list: NodeMetricsList): Map<string, NodeUsage> {
  const out = new Map<string, NodeUsage>();
  for (const m of list.items) {
    if (m.timestamp === null || (m.timestamp !== undefined && !Number.isFinite(Date.parse(m.timestamp)))) continue;
    const cpu = cpuMillis(m.usage.cpu);
    const mem = memoryBytes(m.usage.memory);
    if (cpu === undefined || mem === undefined || !Number.isFinite(cpu) || !Number.isFinite(mem)) continue;
    out.set(m.metadata.name, { cpuMilli: Math.round(cpu), memoryBytes: Math.round(mem) });
  }
  return out;
}

const WARN_EVERY_MS = 10 * 60_000;

export function createNodeUsageReader(kc: k8s.KubeConfig): () => Promise<NodeUsageResult> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const log = logger('node-usage');
  let lastWarn = 0;
  return async () => {
    let message: string;
    try {
      const raw = await custom.listClusterCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', plural: 'nodes' });
      const parsed = NodeMetricsListSchema.safeParse(raw);
      if (parsed.success) return { ok: true, usage: nodeUsageFromList(parsed.data) };
      message = `metrics.k8s.io answered a malformed NodeMetrics list: ${parsed.error.issues[0]?.message ?? ''}`;
    } catch (err) {
      const code = apiStatus(err);
      message = `metrics.k8s.io NodeMetrics unavailable${code !== undefined ? ` (HTTP ${code})` : ''}: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() - lastWarn > WARN_EVERY_MS) {
      lastWarn = Date.now();
      log.warn('node usage unknown: scale-down by usage and scale-up by utilisation wait for metrics-server', { error: message.slice(0, 500) });
    }
    return { ok: false, usage: new Map(), message };
  };
}
