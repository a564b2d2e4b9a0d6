/**
 * What `npm start` (and the integration tests) do to a sandbox so the product works out of the
 * box: the VPSie credentials Secret from the simulator's endpoints, and the configuration values
 * the sandbox knows (VPSie URL, cluster identifier, API server for joins).
 */
import crypto from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Endpoints } from '../sandbox/endpoints';
import type { Config } from '../lib/config';
import { apiStatus } from '../lib/kube/api';

/** Creates or updates the credentials Secret (`namespace/name`) with clientId/clientSecret. */
export async function ensureCredentialsSecret(kc: k8s.KubeConfig, ref: string, creds: { clientId: string; clientSecret: string }): Promise<void> {
  const [namespace, name] = ref.split('/') as [string, string];
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const body: k8s.V1Secret = {
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'vpsie-capacity-orchestrator' } },
    type: 'Opaque',
    stringData: { clientId: creds.clientId, clientSecret: creds.clientSecret },
  };
  try {
    await core.createNamespacedSecret({ namespace, body });
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
    await core.replaceNamespacedSecret({ name, namespace, body });
  }
}

/**
 * Creates the default join Secret (`namespace/name`, key `user-data`) if it is missing: a
 * bootstrap token machines join with when a NodeGroup names no Secret of its own. An existing
 * Secret is left as it is.
 */
export async function ensureBootstrapSecret(kc: k8s.KubeConfig, ref: string): Promise<void> {
  const [namespace, name] = ref.split('/') as [string, string];
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const id = crypto.randomBytes(3).toString('hex');
  const secret = crypto.randomBytes(8).toString('hex');
  const body: k8s.V1Secret = {
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'vpsie-capacity-orchestrator' } },
    type: 'Opaque',
    stringData: { 'user-data': JSON.stringify({ bootstrapToken: `${id}.${secret}` }) },
  };
  try {
    await core.createNamespacedSecret({ namespace, body });
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
  }
}

/** The configuration a sandbox implies, over `config` (values set in the environment win). */
export function sandboxConfig(config: Config, endpoints: Endpoints, env: NodeJS.ProcessEnv = process.env): Config {
  const v = endpoints.vpsie;
  return {
    ...config,
    TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE ?? endpoints.temporal.namespace,
    ...(v && env.VPSIE_URL === undefined ? { VPSIE_URL: v.url } : {}),
    ...(v && env.VPSIE_CLUSTER_IDENTIFIER === undefined ? { VPSIE_CLUSTER_IDENTIFIER: v.clusterIdentifier } : {}),
    ...(env.JOIN_API_SERVER === undefined ? { JOIN_API_SERVER: endpoints.apiserver } : {}),
    ...(endpoints.prometheus && env.PROMETHEUS_URL === undefined ? { PROMETHEUS_URL: endpoints.prometheus.url } : {}),
  };
}

/** Prepares a sandbox for the orchestrator; returns the configuration to run with. */
export async function prepareSandbox(kc: k8s.KubeConfig, config: Config, endpoints: Endpoints, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  if (endpoints.vpsie) await ensureCredentialsSecret(kc, config.VPSIE_CREDENTIALS_SECRET, endpoints.vpsie);
  await ensureBootstrapSecret(kc, config.JOIN_BOOTSTRAP_SECRET);
  return sandboxConfig(config, endpoints, env);
}
