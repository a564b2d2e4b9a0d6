/**
 * The metrics-server usage provider: one list of `metrics.k8s.io/v1beta1` PodMetrics per namespace
 * (through the apiserver's aggregation layer), validated with zod, each container's current usage
 * one sample per replica, mapped to its workload through owner references (owners.ts: one list of
 * pods and one of ReplicaSets per namespace). metrics-server keeps no history: each cycle gives the
 * current sample, and history is the usage model's.
 */
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { cpuMillis, memoryBytes } from '../../lib/crds/optipod';
import { throwIfAborted } from './http';
import { providerMetrics, type ProviderMetrics } from './metrics';
import { readOwnership, workloadOfPod, type KubeGet, type Ownership } from './owners';
import { groupByWorkload, type Series } from './prometheus';
import type { ProviderFailure, UsageOutcome, UsageProvider, UsageRequest } from './provider';

export const PodMetricsListSchema = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string(), namespace: z.string().optional() }),
      // null (Go's zero time) while metrics-server has fewer than two scrapes of the pod
      timestamp: z.string().nullable(),
      window: z.string().nullable().optional(),
      containers: z.array(z.object({ name: z.string(), usage: z.object({ cpu: z.string(), memory: z.string() }) })),
    }),
  ),
});
export type PodMetricsList = z.infer<typeof PodMetricsListSchema>;

/**
 * PodMetrics as series (one point per container: its CPU in cores as metrics-server gives it, and
 * its memory working set), ready for the same grouping as Prometheus's. Malformed quantities or
 * timestamps are dropped and counted.
 */
export function podMetricsSeries(namespace: string, list: PodMetricsList): { cpu: Series[]; memory: Series[]; droppedPoints: number } {
  const cpu: Series[] = [];
  const memory: Series[] = [];
  let dropped = 0;
  for (const pm of list.items) {
    const at = pm.timestamp === null ? NaN : Date.parse(pm.timestamp);
    for (const c of pm.containers) {
      const millis = cpuMillis(c.usage.cpu);
      const bytes = memoryBytes(c.usage.memory);
      if (!Number.isFinite(at) || millis === undefined || !Number.isFinite(millis)) dropped++;
      else cpu.push({ namespace, pod: pm.metadata.name, container: c.name, points: [[at, millis / 1000]] });
      if (!Number.isFinite(at) || bytes === undefined || !Number.isFinite(bytes)) dropped++;
      else memory.push({ namespace, pod: pm.metadata.name, container: c.name, points: [[at, bytes]] });
    }
  }
  return { cpu, memory, droppedPoints: dropped };
}

export interface MetricsServerProviderOptions {
  /** GETs of apiserver paths (owners.kubeGetter): PodMetrics, pods and ReplicaSets. */
  kube: KubeGet;
  registry?: Registry;
}

export class MetricsServerProvider implements UsageProvider {
  readonly name = 'metrics-server' as const;
  private readonly metrics: ProviderMetrics | undefined;

  constructor(private readonly o: MetricsServerProviderOptions) {
    this.metrics = o.registry ? providerMetrics(o.registry) : undefined;
  }

  async collect(req: UsageRequest, signal?: AbortSignal): Promise<UsageOutcome> {
    throwIfAborted(signal);
    const end = this.metrics?.collectionSeconds.startTimer({ provider: this.name });
    const unavailable = (failure: ProviderFailure, message: string): UsageOutcome => {
      this.metrics?.errors.inc({ policy: req.policy ?? '', error_type: failure });
      return { ok: false, provider: this.name, namespace: req.namespace, reason: 'MetricsUnavailable', failure, message };
    };
    try {
      const [raw, owners] = await Promise.all([
        this.o.kube(`/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(req.namespace)}/pods`, signal),
        readOwnership(this.o.kube, req.namespace, signal),
      ]);
      throwIfAborted(signal);
      if (!raw.ok) return unavailable(raw.failure, `metrics.k8s.io: ${raw.message}`);
      const list = PodMetricsListSchema.safeParse(raw.body);
      if (!list.success)
        return unavailable('InvalidResponse', `metrics.k8s.io answered a PodMetrics list that is malformed: ${list.error.issues[0]?.message ?? ''}`);
      if (!owners.ok) return unavailable(owners.failure, owners.message);
      const s = podMetricsSeries(req.namespace, list.data);
      const ownership: Ownership = owners.ownership;
      const grouped = groupByWorkload(s.cpu, s.memory, (pod) => workloadOfPod(ownership, pod));
      if (grouped.containers.length === 0) {
        const message =
          list.data.items.length === 0
            ? `metrics-server has no PodMetrics in namespace ${req.namespace}`
            : `PodMetrics of ${list.data.items.length} pod(s) in ${req.namespace}, none usable and owned by a Deployment, StatefulSet or DaemonSet`;
        return { ok: false, provider: this.name, namespace: req.namespace, reason: 'InsufficientData', message };
      }
      return {
        ok: true,
        provider: this.name,
        namespace: req.namespace,
        containers: grouped.containers,
        unowned: grouped.unowned,
        droppedPoints: s.droppedPoints,
      };
    } finally {
      end?.();
    }
  }
}
