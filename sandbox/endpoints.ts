import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isSameProcess } from './process';
import { projectRoot } from '../lib/paths';

/** The `metricsServer` section: metrics-server, serving metrics.k8s.io through the apiserver. */
export const MetricsServerEndpointSchema = z.object({
  /** metrics-server's own HTTPS endpoint (its serving cert is signed by the sandbox's serving CA). */
  url: z.string(),
  /** The APIService through which the apiserver serves metrics.k8s.io. */
  apiService: z.string(),
  /** Seconds between two scrapes of the (fake) kubelets. */
  resolutionSeconds: z.number(),
});
/** The `prometheus` section: Prometheus scraping kwok's kubelet resource metrics. */
export const PrometheusEndpointSchema = z.object({
  /** Prometheus's base URL; its HTTP API is under `<url>/api/v1/`. */
  url: z.string(),
  /** Seconds between two scrapes of kwok's endpoints. */
  scrapeIntervalSeconds: z.number(),
  /** The rule files it loaded (k8s/monitoring/alerts.yaml): alerts at `<url>/api/v1/alerts`. */
  ruleFiles: z.array(z.string()).optional(),
  /** The file_sd directory of the job `vpa-nap-coordinator`: each `<name>.json` there is scraped (sandbox/metrics.ts `addScrapeTarget`). */
  targetsDir: z.string().optional(),
});

const VpaProcessSchema = z.object({ pid: z.number().int(), log: z.string() });
/** The `vpa` section: the upstream Kubernetes VPA's recommender, updater and admission controller. */
export const VpaEndpointSchema = z.object({
  /** k8s.io/autoscaler/vertical-pod-autoscaler module version. */
  version: z.string(),
  /** The CRD manifest applied (autoscaling.k8s.io/v1). */
  crds: z.string(),
  recommender: VpaProcessSchema.extend({
    /** Its Prometheus metrics URL (`/health-check` beside it). */
    metrics: z.string(),
    intervalSeconds: z.number(),
  }),
  updater: VpaProcessSchema.extend({
    metrics: z.string(),
    intervalSeconds: z.number(),
    /** It evicts nothing from workloads with fewer live pods. */
    minReplicas: z.number().int(),
  }),
  admissionController: VpaProcessSchema.extend({
    /** The webhook URL registered in the MutatingWebhookConfiguration `webhookConfiguration`. */
    webhook: z.string(),
    webhookConfiguration: z.string(),
    /** The CA that signed the webhook's serving certificate (the configuration's caBundle). */
    caFile: z.string(),
    /** `<namespace>/<name>` of the Lease it renews and the updater checks before evicting. */
    statusLease: z.string(),
    metrics: z.string(),
  }),
});

/**
 * `.sandbox/endpoints.json`: the contract through which people, tests and scripts find a
 * running sandbox. Components add their own sections; unknown sections are kept.
 */
export const EndpointsSchema = z
  .object({
    kubeconfig: z.string(),
    kubectl: z.string(),
    apiserver: z.string(),
    temporal: z.object({
      address: z.string(),
      namespace: z.string(),
      ui: z.string().nullable(),
      cli: z.string(),
    }),
    vpsie: z
      .object({
        url: z.string(),
        clientId: z.string(),
        clientSecret: z.string(),
        clusterIdentifier: z.string(),
        admin: z.string(),
      })
      .optional(),
    metricsServer: MetricsServerEndpointSchema.optional(),
    prometheus: PrometheusEndpointSchema.optional(),
    vpa: VpaEndpointSchema.optional(),
    orchestrator: z.object({ metrics: z.string(), healthz: z.string(), readyz: z.string() }).optional(),
    pids: z.record(z.string(), z.number().int()),
    /** Kernel start time of each pid (/proc/<pid>/stat), so a reused pid is never mistaken for ours. */
    processStarts: z.record(z.string(), z.number().int()).optional(),
    logs: z.string(),
    startedAt: z.string(),
  })
  .passthrough();
export type Endpoints = z.infer<typeof EndpointsSchema>;

/** The checkout (from the sources or from dist/ alike). */
export function repoRoot(): string {
  return projectRoot();
}

export function sandboxDir(): string {
  return path.resolve(process.env.SANDBOX_DIR ?? path.join(repoRoot(), '.sandbox'));
}

export function endpointsPath(dir = sandboxDir()): string {
  return path.join(dir, 'endpoints.json');
}

export function readEndpoints(dir = sandboxDir()): Endpoints | undefined {
  const file = endpointsPath(dir);
  if (!fs.existsSync(file)) return undefined;
  return EndpointsSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
}

export function writeEndpoints(e: Endpoints, dir = sandboxDir()): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = endpointsPath(dir);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(e, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

/** The endpoints of a sandbox whose owning process is still alive, else undefined. */
export function readLiveEndpoints(dir = sandboxDir()): Endpoints | undefined {
  let e: Endpoints | undefined;
  try {
    e = readEndpoints(dir);
  } catch {
    return undefined;
  }
  const owner = e?.pids.sandbox;
  if (e === undefined || owner === undefined) return undefined;
  return isSameProcess(owner, e.processStarts?.sandbox) ? e : undefined;
}

/** Removes a section (e.g. `orchestrator` when it stops) from a live sandbox's endpoints.json. */
export function unpublish(section: string, dir = sandboxDir()): void {
  const e = readLiveEndpoints(dir);
  if (!e || !(section in e)) return;
  const rest: Record<string, unknown> = { ...e };
  delete rest[section];
  writeEndpoints(EndpointsSchema.parse(rest), dir);
}
