/**
 * The upstream Kubernetes Vertical Pod Autoscaler in the sandbox (k8s.io/autoscaler/vertical-pod-
 * autoscaler, built by the toolchain): its CRDs (autoscaling.k8s.io/v1 VerticalPodAutoscaler and
 * VerticalPodAutoscalerCheckpoint, from the module's deploy/vpa-v1-crd-gen.yaml) and its three
 * components, run as processes with the sandbox's admin kubeconfig:
 *
 * - the recommender reads metrics.k8s.io (the sandbox's metrics-server, so kwok's usage
 *   annotations) every 10 s and writes `status.recommendation`;
 * - the admission controller serves its mutating webhook over TLS on a loopback port (its own CA
 *   and a certificate for 127.0.0.1, made with openssl), registered by URL
 *   (`https://127.0.0.1:<port>/`, failurePolicy Ignore), and renews its status Lease
 *   `kube-system/vpa-admission-controller`;
 * - the updater evicts, every 10 s, pods of Recreate/Auto VPAs whose requests are outside the
 *   recommended range (or, after 12 h, far enough from the target) — only while that Lease is
 *   fresh, i.e. the admission controller is there to resize the replacements.
 *
 * Every other address is loopback too: each component's metrics and health server listens on
 * `--address=127.0.0.1:<port>`. One exception the binary does not let us change: the admission
 * controller's webhook server binds `:<port>` (all interfaces); only the apiserver, on loopback,
 * ever calls it.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import type { z } from 'zod';
import type { VpaEndpointSchema } from './endpoints';
import { createLoopbackServingPki } from './pki';
import { freePort, SandboxError, startProcess, waitReady, type Managed } from './process';
import type { Progress, Toolchain } from './toolchain';
import { VERSIONS } from './toolchain/versions';

export type VpaEndpoint = z.infer<typeof VpaEndpointSchema>;

/** How often the recommender fetches metrics and writes recommendations (upstream: 1 min). */
export const RECOMMENDER_INTERVAL_SECONDS = 10;
/** How often the updater looks for pods to evict (upstream: 1 min). */
export const UPDATER_INTERVAL_SECONDS = 10;
/**
 * The updater evicts nothing from a workload with fewer live pods (upstream: 2). 1, so that the
 * sandbox's single-replica workloads are updated too (one pod at a time, as always).
 */
export const UPDATER_MIN_REPLICAS = 1;
/** The Lease the admission controller renews and the updater checks (upstream's defaults, stated on both). */
export const VPA_STATUS_LEASE = { namespace: 'kube-system', name: 'vpa-admission-controller' } as const;
/** The names upstream's self-registration uses. */
export const VPA_WEBHOOK_CONFIGURATION = 'vpa-webhook-config';
export const VPA_WEBHOOK_NAME = 'vpa.k8s.io';
export const VPA_WEBHOOK_TIMEOUT_SECONDS = 10;
/** klog verbosity (upstream defaults to 4): 2 still logs every eviction and every pod accepted for update. */
const VERBOSITY = '--v=2';

export interface VpaPorts {
  recommenderMetrics: number;
  updaterMetrics: number;
  admissionMetrics: number;
  webhook: number;
}

export function recommenderArgs(kubeconfig: string, ports: Pick<VpaPorts, 'recommenderMetrics'>): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--address=127.0.0.1:${ports.recommenderMetrics}`,
    `--recommender-interval=${RECOMMENDER_INTERVAL_SECONDS}s`,
    // Checkpoints of deleted VPAs go within a minute (upstream: 10 min); tests create many VPAs.
    '--checkpoints-gc-interval=1m',
    // Every pod's usage is tracked, not only those of pods a VPA selects (upstream's default).
    '--memory-saver=false',
    VERBOSITY,
  ];
}

export function updaterArgs(kubeconfig: string, ports: Pick<VpaPorts, 'updaterMetrics'>): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--address=127.0.0.1:${ports.updaterMetrics}`,
    `--updater-interval=${UPDATER_INTERVAL_SECONDS}s`,
    `--min-replicas=${UPDATER_MIN_REPLICAS}`,
    `--admission-controller-status-lease-namespace=${VPA_STATUS_LEASE.namespace}`,
    `--admission-controller-status-lease-name=${VPA_STATUS_LEASE.name}`,
    VERBOSITY,
  ];
}

export function admissionControllerArgs(
  kubeconfig: string,
  ports: Pick<VpaPorts, 'admissionMetrics' | 'webhook'>,
  pki: { ca: string; cert: string; key: string },
): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--address=127.0.0.1:${ports.admissionMetrics}`,
    `--port=${ports.webhook}`,
    `--client-ca-file=${pki.ca}`,
    `--tls-cert-file=${pki.cert}`,
    `--tls-private-key=${pki.key}`,
    // The sandbox registers the webhook itself (webhookConfiguration): upstream's self-registration
    // sleeps 10 s first and starts the status Lease only after it.
    '--register-webhook=false',
    `--status-lease-namespace=${VPA_STATUS_LEASE.namespace}`,
    `--status-lease-name=${VPA_STATUS_LEASE.name}`,
    VERBOSITY,
  ];
}

/**
 * The MutatingWebhookConfiguration upstream's self-registration (`--register-by-url`) creates —
 * same name, webhook, rules — pointing at the loopback URL, with the sandbox's timeout and
 * failurePolicy Ignore (a stopped admission controller never blocks pod creation).
 */
export function webhookConfiguration(url: string, caBundlePem: string): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: VPA_WEBHOOK_CONFIGURATION, labels: { 'app.kubernetes.io/name': 'vpa-admission-controller' } },
    webhooks: [
      {
        name: VPA_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: { url, caBundle: Buffer.from(caBundlePem).toString('base64') },
        rules: [
          { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
          { operations: ['CREATE', 'UPDATE'], apiGroups: ['autoscaling.k8s.io'], apiVersions: ['*'], resources: ['verticalpodautoscalers'] },
        ],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: VPA_WEBHOOK_TIMEOUT_SECONDS,
      },
    ],
  };
}

export interface VpaOptions {
  dir: string;
  logDir: string;
  tools: Toolchain;
  kubeconfig: string;
  readyTimeoutMs: number;
  progress: Progress;
  /** The recommender starts once this resolves (metrics-server serving metrics.k8s.io). */
  metricsReady?: Promise<unknown>;
  /** Processes are handed over as soon as they start, so a failed start still stops them. */
  onStarted: (proc: Managed) => void;
}

/** Whether a TLS handshake with 127.0.0.1:<port> succeeds, verifying its certificate against `ca`. */
function handshakes(port: number, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, timeout: 2000 }, () => {
      socket.end();
      resolve(socket.authorized);
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

/** The status of a plain HTTP GET of a loopback URL; rejects on a connection error. */
function answers(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.hostname !== '127.0.0.1') {
      reject(new SandboxError(`refusing to connect to ${u.host}: the sandbox stays on loopback`));
      return;
    }
    const onRes = (res: http.IncomingMessage): void => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    };
    const req = http.get(url, { timeout: 2000 }, onRes);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function kubectl(o: VpaOptions, args: string[], what: string): Promise<void> {
  const p = startProcess('kubectl-vpa', o.tools.kubectl, [`--kubeconfig=${o.kubeconfig}`, ...args], o.logDir);
  await p.exited;
  if (p.exitCode() !== 0) throw new SandboxError(`${what} failed (log: ${p.logFile})`);
}

/** Applies the VPA CRDs and starts the three components; resolves when all are serving and the webhook is registered. */
export async function startVpa(o: VpaOptions): Promise<VpaEndpoint> {
  o.progress('starting the VPA (recommender, updater, admission controller)…');
  const pkiDir = path.join(o.dir, 'pki');
  fs.mkdirSync(pkiDir, { recursive: true });
  const [pki, ports] = await Promise.all([
    createLoopbackServingPki(pkiDir, 'vpa-webhook', o.logDir),
    (async (): Promise<VpaPorts> => ({
      recommenderMetrics: await freePort(),
      updaterMetrics: await freePort(),
      admissionMetrics: await freePort(),
      webhook: await freePort(),
    }))(),
    (async () => {
      await kubectl(o, ['apply', '--server-side', '-f', o.tools.vpaCrds], 'applying the VPA CRDs');
      await kubectl(o, ['wait', '--for=condition=Established', '--timeout=60s', '-f', o.tools.vpaCrds], 'waiting for the VPA CRDs');
    })(),
  ]);

  // Their informers list VerticalPodAutoscalers from the start: only now that the CRDs are served.
  const admission = startProcess('vpa-admission-controller', o.tools.vpaAdmissionController, admissionControllerArgs(o.kubeconfig, ports, pki), o.logDir);
  o.onStarted(admission);
  const updater = startProcess('vpa-updater', o.tools.vpaUpdater, updaterArgs(o.kubeconfig, ports), o.logDir);
  o.onStarted(updater);
  // Its first samples come from metrics.k8s.io, so it starts once that is served.
  await o.metricsReady;
  const recommender = startProcess('vpa-recommender', o.tools.vpaRecommender, recommenderArgs(o.kubeconfig, ports), o.logDir);
  o.onStarted(recommender);

  const webhookUrl = `https://127.0.0.1:${ports.webhook}/`;
  const metrics = (port: number): string => `http://127.0.0.1:${port}/metrics`;
  const health = (port: number) => async () => (await answers(`http://127.0.0.1:${port}/health-check`)) === 200;
  const ca = fs.readFileSync(pki.ca);
  const manifest = path.join(o.dir, 'vpa-webhook.json');
  fs.writeFileSync(manifest, JSON.stringify(webhookConfiguration(webhookUrl, ca.toString('utf8')), null, 2));
  await Promise.all([
    (async () => {
      // It serves only once its informers have synced. A handshake, not a request: a request
      // that is no AdmissionReview is logged as an error.
      await waitReady(admission, `its webhook serving TLS at ${webhookUrl}`, () => handshakes(ports.webhook, ca), o.readyTimeoutMs);
      await kubectl(o, ['apply', '--server-side', '-f', manifest], `registering the VPA webhook (${VPA_WEBHOOK_CONFIGURATION})`);
    })(),
    waitReady(recommender, '/health-check', health(ports.recommenderMetrics), o.readyTimeoutMs),
    waitReady(updater, '/health-check', health(ports.updaterMetrics), o.readyTimeoutMs),
  ]);

  return {
    version: VERSIONS.vpa,
    crds: o.tools.vpaCrds,
    recommender: {
      metrics: metrics(ports.recommenderMetrics),
      intervalSeconds: RECOMMENDER_INTERVAL_SECONDS,
      pid: recommender.pid,
      log: recommender.logFile,
    },
    updater: {
      metrics: metrics(ports.updaterMetrics),
      intervalSeconds: UPDATER_INTERVAL_SECONDS,
      minReplicas: UPDATER_MIN_REPLICAS,
      pid: updater.pid,
      log: updater.logFile,
    },
    admissionController: {
      webhook: webhookUrl,
      webhookConfiguration: VPA_WEBHOOK_CONFIGURATION,
      caFile: pki.ca,
      statusLease: `${VPA_STATUS_LEASE.namespace}/${VPA_STATUS_LEASE.name}`,
      metrics: metrics(ports.admissionMetrics),
      pid: admission.pid,
      log: admission.logFile,
    },
  };
}
