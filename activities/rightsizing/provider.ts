/**
 * The usage-metrics provider contract of OptiPod (document 003, "Metrics Provider"): one namespace
 * per call, the answer per (workload, container) as the usage model ingests it (CPU in millicores,
 * memory in bytes, as `SeriesPoint`s), or a typed skip — never a throw for a backend that is down,
 * answers an HTTP error or garbage, or has no data. Only cancellation of the caller's signal throws.
 *
 * Plain JSON in and out, so the outcome is an activity result as it stands.
 */
import type { SeriesPoint } from '../../decision/rightsizing/model';
import type { MetricsProviderName, SkipReason, WorkloadKind } from '../../lib/crds/optipod';

/** The skip reasons a provider gives: the policy status's own vocabulary (SKIP_REASONS). */
export type ProviderSkipReason = Extract<SkipReason, 'MetricsUnavailable' | 'InsufficientData'>;

/** Why a provider was unavailable (the `error_type` of optipod_reconciliation_errors_total). */
export const PROVIDER_FAILURES = ['Unreachable', 'Timeout', 'HttpError', 'QueryError', 'InvalidResponse', 'KubernetesError', 'NotConfigured'] as const;
export type ProviderFailure = (typeof PROVIDER_FAILURES)[number];

export interface WorkloadRef {
  kind: WorkloadKind;
  namespace: string;
  name: string;
}

/** The usage of one (workload, container), over all the workload's replicas. */
export interface ContainerUsage {
  workload: WorkloadRef;
  container: string;
  /** The pods the samples came from (sorted). */
  pods: string[];
  /** CPU usage samples: (epoch ms, millicores), one per replica and instant, in time order. */
  cpu: SeriesPoint[];
  /** Memory samples: (epoch ms, bytes) — per-interval peaks (Prometheus) or working sets (metrics-server). */
  memory: SeriesPoint[];
}

export interface UsageRequest {
  namespace: string;
  /** The end of the window (epoch ms): an argument, so a retried activity asks the same question. */
  now: number;
  /** The policy's rolling window (ms); metrics-server ignores it (it keeps no history). */
  windowMs: number;
  /** For the error counter's `policy` label (namespace/name), when known. */
  policy?: string;
}

export type UsageOutcome =
  | {
      ok: true;
      provider: MetricsProviderName;
      namespace: string;
      containers: ContainerUsage[];
      /** Pods with samples but no Deployment/StatefulSet/DaemonSet owner (bare pods, Jobs …), sorted. */
      unowned: string[];
      /** Points dropped because the backend answered NaN or ±Inf. */
      droppedPoints: number;
    }
  | {
      ok: false;
      provider: MetricsProviderName;
      namespace: string;
      reason: ProviderSkipReason;
      /** Set when reason is MetricsUnavailable. */
      failure?: ProviderFailure;
      message: string;
    };

export interface UsageProvider {
  readonly name: MetricsProviderName;
  /** Usage of every (workload, container) of one namespace. Throws only when `signal` is aborted. */
  collect(request: UsageRequest, signal?: AbortSignal): Promise<UsageOutcome>;
}

export const workloadKey = (w: WorkloadRef): string => `${w.kind}/${w.namespace}/${w.name}`;
