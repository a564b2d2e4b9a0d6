/**
 * Client identities other than the sandbox's admin for integration tests: a ServiceAccount's
 * token from the TokenRequest API, as a KubeConfig on the sandbox's apiserver. Used to show what
 * a user with RBAC rights (but not the orchestrator's identity) can and cannot do.
 */
import * as k8s from '@kubernetes/client-node';
import type { TestSandbox } from './sandbox';

/** A KubeConfig that authenticates as `token` on the sandbox's apiserver (same server and CA). */
export function tokenKubeConfig(sb: TestSandbox, user: string, token: string): k8s.KubeConfig {
  const cluster = sb.kc.getCurrentCluster();
  if (!cluster) throw new Error('the sandbox kubeconfig has no current cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kc;
}

/** A short-lived token of an existing ServiceAccount (TokenRequest API). */
export async function serviceAccountToken(sb: TestSandbox, namespace: string, name: string): Promise<string> {
  const tr = await sb.core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { expirationSeconds: 3600 } } });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  return token;
}

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/**
 * A ServiceAccount `name` in `namespace` granted `rules` there (a Role and RoleBinding of the same
 * name), as a KubeConfig. Its username is `system:serviceaccount:<namespace>:<name>`.
 */
export async function serviceAccountWithRole(sb: TestSandbox, namespace: string, name: string, rules: RbacRule[]): Promise<k8s.KubeConfig> {
  const rbac = sb.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await sb.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name, namespace }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  return tokenKubeConfig(sb, `system:serviceaccount:${namespace}:${name}`, await serviceAccountToken(sb, namespace, name));
}

/** Waits until `ok()` holds (RBAC and token caches take a moment), up to `ms`. */
export async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await ok()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
