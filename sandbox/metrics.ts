/**
 * Real usage metrics in the sandbox: metrics-server behind the apiserver's aggregation layer
 * (APIService v1beta1.metrics.k8s.io, so `kubectl top` works) and Prometheus, both reading the
 * kubelet resource-metrics endpoints that kwok simulates (sandbox/kwok/metrics/).
 *
 * Everything stays on loopback:
 * - the aggregator reaches metrics-server through a Service of type ExternalName `127.0.0.1`
 *   (k8s.io/apiserver's ResolveCluster turns it into https://127.0.0.1:<port>; Endpoints would
 *   refuse a loopback IP);
 * - metrics-server dials only node addresses of type InternalDNS, which the
 *   node-metrics-endpoint stage sets to 127.0.0.1, on kwok's port (`--kubelet-port`), never a
 *   node's InternalIP or ExternalIP;
 * - Prometheus finds its targets through kwok's HTTP service discovery, which names the host the
 *   discovery request came to (127.0.0.1:<kwok port>).
 *
 * Prometheus also loads the orchestrator's alerting rules as they are (k8s/monitoring/alerts.yaml,
 * evaluated every 5 s; alerts at /api/v1/alerts) and scrapes, as the job `vpa-nap-coordinator`
 * (the job the rules name, as k8s/monitoring/servicemonitor.yaml sets it in a cluster), whatever
 * target groups lie in its file_sd directory (`prometheus.targetsDir` in endpoints.json):
 * `addScrapeTarget` puts an orchestrator's metrics address there, and Prometheus picks it up
 * within seconds.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { z } from 'zod';
import { repoRoot, type MetricsServerEndpointSchema, type PrometheusEndpointSchema } from './endpoints';
import { METRICS_SERVER_SERVICE, type AggregationPki } from './pki';
import { freePort, SandboxError, startProcess, waitReady, type Managed } from './process';
import type { Progress, Toolchain } from './toolchain';

export type MetricsServerEndpoint = z.infer<typeof MetricsServerEndpointSchema>;
export type PrometheusEndpoint = z.infer<typeof PrometheusEndpointSchema>;

export const METRICS_API_SERVICE = 'v1beta1.metrics.k8s.io';
/** metrics-server's scrape period; 10 s is its minimum. */
export const METRIC_RESOLUTION_SECONDS = 10;
export const PROMETHEUS_SCRAPE_SECONDS = 5;
/** How often Prometheus evaluates the rule files. */
export const PROMETHEUS_EVALUATION_SECONDS = 5;
/** The orchestrator's alerting rules, loaded by the sandbox's Prometheus as they are. */
export const ALERT_RULES = path.join(repoRoot(), 'k8s', 'monitoring', 'alerts.yaml');
/** The scrape job of the orchestrator's targets (document 000's VPANAPCoordinatorDown names it). */
export const ORCHESTRATOR_JOB = 'vpa-nap-coordinator';

export interface MetricsStackOptions {
  dir: string;
  logDir: string;
  tools: Toolchain;
  pki: AggregationPki;
  kubeconfig: string;
  apiserverUrl: string;
  /** The apiserver's CA (its self-signed serving cert) and an admin token. */
  apiserverCa: string;
  token: string;
  /** The running kwok and the loopback port of its server (metrics, service discovery). */
  kwok: Managed;
  kwokPort: number;
  readyTimeoutMs: number;
  progress: Progress;
  /** Processes are handed over as soon as they start, so a failed start still stops them. */
  onStarted: (proc: Managed) => void;
}

export interface MetricsStack {
  metricsServer: MetricsServerEndpoint;
  prometheus: PrometheusEndpoint;
}

function get(url: string, opts: { ca?: Buffer; token?: string; insecure?: boolean } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.hostname !== '127.0.0.1') {
      reject(new SandboxError(`refusing to connect to ${u.host}: the sandbox stays on loopback`));
      return;
    }
    const onRes = (res: http.IncomingMessage): void => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
    const req =
      u.protocol === 'https:'
        ? https.get(url, { ca: opts.ca, rejectUnauthorized: !opts.insecure, headers, timeout: 2000 }, onRes)
        : http.get(url, { headers, timeout: 2000 }, onRes);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const ApiServiceStatus = z.object({
  status: z
    .object({
      conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() })).optional(),
    })
    .optional(),
});

/** The Service and APIService that put metrics-server behind the apiserver. */
function aggregationManifest(port: number, caBundle: string): string {
  const svc = METRICS_SERVER_SERVICE;
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: svc.name, namespace: svc.namespace, labels: { 'app.kubernetes.io/name': 'metrics-server' } },
          // ExternalName: the aggregator dials <externalName>:<APIService port>. A literal loopback
          // address, so nothing is resolved through DNS.
          spec: { type: 'ExternalName', externalName: '127.0.0.1' },
        },
        {
          apiVersion: 'apiregistration.k8s.io/v1',
          kind: 'APIService',
          metadata: { name: METRICS_API_SERVICE, labels: { 'app.kubernetes.io/name': 'metrics-server' } },
          spec: {
            group: 'metrics.k8s.io',
            version: 'v1beta1',
            service: { name: svc.name, namespace: svc.namespace, port },
            caBundle: Buffer.from(caBundle).toString('base64'),
            groupPriorityMinimum: 100,
            versionPriority: 100,
          },
        },
      ],
    },
    null,
    2,
  );
}

function prometheusConfig(kwokPort: number, ruleFiles: string[], targetsDir: string): string {
  // YAML is a superset of JSON: write the config as JSON.
  return JSON.stringify(
    {
      global: {
        scrape_interval: `${PROMETHEUS_SCRAPE_SECONDS}s`,
        scrape_timeout: `${PROMETHEUS_SCRAPE_SECONDS - 1}s`,
        evaluation_interval: `${PROMETHEUS_EVALUATION_SECONDS}s`,
      },
      rule_files: ruleFiles,
      scrape_configs: [
        {
          // The orchestrator's /metrics: target groups written by addScrapeTarget.
          job_name: ORCHESTRATOR_JOB,
          // As k8s/monitoring/servicemonitor.yaml: the series' own `namespace` label wins.
          honor_labels: true,
          file_sd_configs: [{ files: [path.join(targetsDir, '*.json')], refresh_interval: `${PROMETHEUS_SCRAPE_SECONDS}s` }],
          relabel_configs: [{ source_labels: ['__address__'], regex: '127\\.0\\.0\\.1:[0-9]+', action: 'keep' }],
        },
        {
          // One target per node and kwok Metric: /metrics/nodes/<node>/metrics/resource.
          job_name: 'kwok-resource-metrics',
          honor_labels: true,
          http_sd_configs: [{ url: `http://127.0.0.1:${kwokPort}/discovery/prometheus`, refresh_interval: `${PROMETHEUS_SCRAPE_SECONDS}s` }],
          relabel_configs: [
            {
              source_labels: ['__metrics_path__'],
              regex: '/metrics/nodes/([^/]+)/.*',
              target_label: 'node',
              replacement: '$1',
            },
            // Whatever kwok answers, only ever scrape loopback.
            { source_labels: ['__address__'], regex: '127\\.0\\.0\\.1:[0-9]+', action: 'keep' },
          ],
        },
      ],
    },
    null,
    2,
  );
}

async function kubectl(tools: Toolchain, kubeconfig: string, args: string[], what: string, logDir: string): Promise<void> {
  const p = startProcess('kubectl-metrics', tools.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], logDir);
  await p.exited;
  if (p.exitCode() !== 0) throw new SandboxError(`${what} failed (log: ${p.logFile})`);
}

/** kwok's ResourceUsage CRD (the sandbox's own minimal definition), for usage traces in CEL. */
export const RESOURCE_USAGE_CRD = path.join(repoRoot(), 'sandbox', 'kwok', 'crds', 'resourceusage.yaml');

/** Starts metrics-server and Prometheus next to a running kwok; resolves when both are ready. */
export async function startMetricsStack(o: MetricsStackOptions): Promise<MetricsStack> {
  const kwokUrl = `http://127.0.0.1:${o.kwokPort}`;
  // First, so kwok's ResourceUsage informer (--enable-crds=ResourceUsage) finds it soon.
  await kubectl(o.tools, o.kubeconfig, ['apply', '--server-side', '-f', RESOURCE_USAGE_CRD], 'applying the ResourceUsage CRD', o.logDir);
  await waitReady(o.kwok, 'its server answering /healthz', async () => (await get(`${kwokUrl}/healthz`)).status === 200, o.readyTimeoutMs);

  // ---- metrics-server ----
  const msPort = await freePort();
  const manifest = path.join(o.dir, 'metrics-server.json');
  fs.writeFileSync(manifest, aggregationManifest(msPort, fs.readFileSync(o.pki.servingCa, 'utf8')));
  o.progress('starting metrics-server and Prometheus…');
  const ms = startProcess(
    'metrics-server',
    o.tools.metricsServer,
    [
      '--bind-address=127.0.0.1',
      `--secure-port=${msPort}`,
      `--kubeconfig=${o.kubeconfig}`,
      `--authentication-kubeconfig=${o.kubeconfig}`,
      `--authorization-kubeconfig=${o.kubeconfig}`,
      `--tls-cert-file=${o.pki.metricsServerCert}`,
      `--tls-private-key-file=${o.pki.metricsServerKey}`,
      // kwok's server: a self-signed test certificate, on one loopback port for every node.
      '--kubelet-insecure-tls',
      `--kubelet-port=${o.kwokPort}`,
      '--kubelet-preferred-address-types=InternalDNS',
      `--metric-resolution=${METRIC_RESOLUTION_SECONDS}s`,
      // It must be shorter than the resolution; kwok answers on loopback in milliseconds.
      '--kubelet-request-timeout=5s',
      '--v=1',
    ],
    o.logDir,
  );
  o.onStarted(ms);

  // ---- Prometheus ----
  const promPort = await freePort();
  const promDir = path.join(o.dir, 'prometheus');
  fs.rmSync(promDir, { recursive: true, force: true });
  fs.mkdirSync(promDir, { recursive: true });
  const promConfig = path.join(promDir, 'prometheus.yml');
  const targetsDir = path.join(promDir, 'targets');
  fs.mkdirSync(targetsDir, { recursive: true });
  const ruleFiles = fs.existsSync(ALERT_RULES) ? [ALERT_RULES] : [];
  fs.writeFileSync(promConfig, prometheusConfig(o.kwokPort, ruleFiles, targetsDir));
  const promUrl = `http://127.0.0.1:${promPort}`;
  const prom = startProcess(
    'prometheus',
    o.tools.prometheus,
    [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${path.join(promDir, 'data')}`,
      '--storage.tsdb.retention.time=2d',
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    o.logDir,
  );
  o.onStarted(prom);

  await waitReady(ms, '/livez', async () => (await get(`https://127.0.0.1:${msPort}/livez`, { insecure: true })).status === 200, o.readyTimeoutMs);
  await kubectl(o.tools, o.kubeconfig, ['apply', '--server-side', '-f', manifest], 'applying the metrics-server Service and APIService', o.logDir);
  await kubectl(
    o.tools,
    o.kubeconfig,
    ['wait', '--for=condition=Established', '--timeout=60s', '-f', RESOURCE_USAGE_CRD],
    'waiting for the ResourceUsage CRD',
    o.logDir,
  );
  const ca = fs.readFileSync(o.apiserverCa);
  let lastCondition = '';
  try {
    await waitReady(
      ms,
      `APIService ${METRICS_API_SERVICE} Available`,
      async () => {
        const r = await get(`${o.apiserverUrl}/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`, { ca, token: o.token });
        if (r.status !== 200) return false;
        const cond = ApiServiceStatus.parse(JSON.parse(r.body)).status?.conditions?.find((c) => c.type === 'Available');
        lastCondition = cond ? `${cond.status} ${cond.reason ?? ''} ${cond.message ?? ''}`.trim() : '';
        return cond?.status === 'True';
      },
      o.readyTimeoutMs,
    );
  } catch (err) {
    if (err instanceof SandboxError && lastCondition) throw new SandboxError(`${err.message}; last Available condition: ${lastCondition}`);
    throw err;
  }
  await waitReady(prom, '/-/ready', async () => (await get(`${promUrl}/-/ready`)).status === 200, o.readyTimeoutMs);

  return {
    metricsServer: { url: `https://127.0.0.1:${msPort}`, apiService: METRICS_API_SERVICE, resolutionSeconds: METRIC_RESOLUTION_SECONDS },
    prometheus: { url: promUrl, scrapeIntervalSeconds: PROMETHEUS_SCRAPE_SECONDS, ruleFiles, targetsDir },
  };
}

const TARGET_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Has the sandbox's Prometheus scrape `metricsUrl` (an orchestrator's `http://127.0.0.1:<port>`,
 * with or without `/metrics`) as the job `vpa-nap-coordinator`, with `labels` on its series; the
 * file `<targetsDir>/<name>.json` is written whole (a rename), so Prometheus never reads half of it.
 * Returns a function that removes the target again.
 */
export function addScrapeTarget(prometheus: PrometheusEndpoint, name: string, metricsUrl: string, labels: Record<string, string> = {}): () => void {
  if (!prometheus.targetsDir)
    throw new SandboxError("this sandbox's Prometheus has no orchestrator scrape job (started by an older version): restart the sandbox");
  if (!TARGET_NAME.test(name)) throw new SandboxError(`scrape target name ${JSON.stringify(name)}: use lower-case letters, digits, '.', '_', '-'`);
  const u = new URL(metricsUrl);
  if (u.hostname !== '127.0.0.1') throw new SandboxError(`refusing to scrape ${u.host}: the sandbox stays on loopback`);
  if (u.pathname !== '/' && u.pathname !== '/metrics') throw new SandboxError(`scrape target ${metricsUrl}: the orchestrator serves /metrics`);
  const file = path.join(prometheus.targetsDir, `${name}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify([{ targets: [u.host], labels }], null, 2));
  fs.renameSync(`${file}.tmp`, file);
  return () => fs.rmSync(file, { force: true });
}
