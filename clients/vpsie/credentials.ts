/**
 * Where the client gets its VPSie credentials. A `CredentialsSource` is called before every login
 * and on every 401, so a rotated Secret is picked up without a restart. Implementations cache
 * reads briefly; none of them logs or exposes the values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VPSieError } from './errors';

export type VPSieCredentials = { kind: 'client'; clientId: string; clientSecret: string } | { kind: 'token'; accessToken: string };

/** Returns the current credentials. Must be cheap to call repeatedly (cache inside). */
export type CredentialsSource = () => Promise<VPSieCredentials>;

/** A stable, non-reversible fingerprint used to notice rotation (never the secret itself). */
export function credentialsFingerprint(c: VPSieCredentials): string {
  const h = createHash('sha256');
  if (c.kind === 'client') h.update(`client\0${c.clientId}\0${c.clientSecret}`);
  else h.update(`token\0${c.accessToken}`);
  return h.digest('hex').slice(0, 16);
}

export function staticCredentials(c: VPSieCredentials): CredentialsSource {
  return () => Promise.resolve(c);
}

/**
 * The keys of the `vpsie-credentials` Secret (product documents): `clientId` + `clientSecret`, or a
 * ready token under `accessToken` (also accepted: `token`, `apiKey` as the CAPI provider names it).
 */
const SecretDataSchema = z.record(z.string(), z.string());

export function credentialsFromSecretData(data: Record<string, string>, origin: string): VPSieCredentials {
  const d = SecretDataSchema.parse(data);
  const clientId = d.clientId?.trim();
  const clientSecret = d.clientSecret?.trim();
  if (clientId && clientSecret) return { kind: 'client', clientId, clientSecret };
  const token = (d.accessToken ?? d.token ?? d.apiKey)?.trim();
  if (token) return { kind: 'token', accessToken: token };
  throw new VPSieError({
    type: 'credentials_missing',
    operation: 'credentials',
    message: `${origin} holds neither clientId+clientSecret nor accessToken`,
  });
}

/** Caches a source's answer for `ttlMs` (failures are not cached). */
export function cachedSource(load: () => Promise<VPSieCredentials>, ttlMs: number, now = () => Date.now()): CredentialsSource {
  let cached: { at: number; value: VPSieCredentials } | undefined;
  return async () => {
    if (cached && now() - cached.at < ttlMs) return cached.value;
    const value = await load();
    cached = { at: now(), value };
    return value;
  };
}

/**
 * Reads a Secret mounted as a volume (one file per key). Kubelet updates mounted Secrets in place,
 * so rotation is seen after at most `ttlMs`.
 */
export function mountedSecretCredentials(dir: string, ttlMs = 10_000): CredentialsSource {
  return cachedSource(async () => {
    const data: Record<string, string> = {};
    for (const key of ['clientId', 'clientSecret', 'accessToken', 'token', 'apiKey']) {
      const file = path.join(dir, key);
      try {
        data[key] = await fs.promises.readFile(file, 'utf8');
      } catch {
        // key absent
      }
    }
    return credentialsFromSecretData(data, `mounted secret ${dir}`);
  }, ttlMs);
}

export interface KubernetesSecretOptions {
  namespace?: string;
  name?: string;
  /** Path to a kubeconfig; in-cluster config (or $KUBECONFIG / ~/.kube/config) when omitted. */
  kubeconfig?: string;
  /** A ready KubeConfig (the worker's identity); wins over `kubeconfig`. */
  kubeConfig?: import('@kubernetes/client-node').KubeConfig;
  ttlMs?: number;
}

/** Reads the Secret through the Kubernetes API (default kube-system/vpsie-credentials). */
export function kubernetesSecretCredentials(opts: KubernetesSecretOptions = {}): CredentialsSource {
  const namespace = opts.namespace ?? 'kube-system';
  const name = opts.name ?? 'vpsie-credentials';
  let apiPromise: Promise<import('@kubernetes/client-node').CoreV1Api> | undefined;
  const api = () =>
    (apiPromise ??= import('@kubernetes/client-node').then((k8s) => {
      if (opts.kubeConfig) return opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
      const kc = new k8s.KubeConfig();
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
      return kc.makeApiClient(k8s.CoreV1Api);
    }));
  return cachedSource(async () => {
    let secret;
    try {
      secret = await (await api()).readNamespacedSecret({ namespace, name });
    } catch (e) {
      const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : 'unknown';
      // Transient (API server unreachable, RBAC being applied): retryable.
      throw new VPSieError({
        type: code === '404' ? 'credentials_missing' : 'network',
        operation: 'credentials',
        message: `cannot read Secret ${namespace}/${name} (status ${code})`,
      });
    }
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
    return credentialsFromSecretData(data, `Secret ${namespace}/${name}`);
  }, opts.ttlMs ?? 30_000);
}
