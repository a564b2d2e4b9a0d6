/**
 * The orchestrator's parts run in the sandbox as they run in a cluster: each as its own
 * ServiceAccount of k8s/rbac.yaml (applied by the sandbox at start), never as the sandbox's admin.
 * A part's KubeConfig carries a token of its ServiceAccount from the TokenRequest API, renewed in
 * place well before it expires (clients made from the KubeConfig read its user on every request).
 */
import * as k8s from '@kubernetes/client-node';
import type { KubeIdentities, KubeIdentity } from '../workers/orchestrator';

/** The orchestrator's namespace (k8s/namespace.yaml) and each part's ServiceAccount there (k8s/rbac.yaml). */
export const ORCHESTRATOR_NAMESPACE = 'vpsie-system';
export const SERVICE_ACCOUNTS: Record<KubeIdentity, string> = {
  worker: 'vpsie-orchestrator-worker',
  watchers: 'vpsie-orchestrator-watcher',
  api: 'vpsie-orchestrator-api',
  backup: 'vpsie-orchestrator-backup',
};

/** `system:serviceaccount:<ns>:<name>` of a part. */
export function serviceAccountUser(part: KubeIdentity): string {
  return `system:serviceaccount:${ORCHESTRATOR_NAMESPACE}:${SERVICE_ACCOUNTS[part]}`;
}

const TOKEN_SECONDS = 24 * 3600;

async function mint(admin: k8s.KubeConfig, name: string): Promise<string> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: ORCHESTRATOR_NAMESPACE,
    name,
    body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${ORCHESTRATOR_NAMESPACE}/${name} returned no token`);
  return token;
}

function load(kc: k8s.KubeConfig, cluster: k8s.Cluster, user: string, token: string): void {
  kc.loadFromOptions({ clusters: [cluster], users: [{ name: user, token }], contexts: [{ name: user, cluster: cluster.name, user }], currentContext: user });
}

export interface SandboxIdentities {
  identities: Required<KubeIdentities>;
  stop(): void;
}

/**
 * A KubeConfig per part, each authenticating as the part's ServiceAccount on the admin's
 * apiserver (same server and CA), renewed every `renewMs` (default 6 h of a 24 h token).
 */
export async function sandboxIdentities(admin: k8s.KubeConfig, renewMs = 6 * 3600_000): Promise<SandboxIdentities> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the sandbox kubeconfig has no current cluster');
  const parts = Object.keys(SERVICE_ACCOUNTS) as KubeIdentity[];
  const entries = await Promise.all(
    parts.map(async (part) => {
      const kc = new k8s.KubeConfig();
      load(kc, cluster, serviceAccountUser(part), await mint(admin, SERVICE_ACCOUNTS[part]));
      return [part, kc] as const;
    }),
  );
  const identities = Object.fromEntries(entries) as Required<KubeIdentities>;
  const timer = setInterval(() => {
    for (const part of parts)
      mint(admin, SERVICE_ACCOUNTS[part]).then(
        (token) => load(identities[part], cluster, serviceAccountUser(part), token),
        () => undefined, // the old token is good for hours yet; the next round retries
      );
  }, renewMs);
  timer.unref();
  return { identities, stop: () => clearInterval(timer) };
}
