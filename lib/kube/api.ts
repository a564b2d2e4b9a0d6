import * as k8s from '@kubernetes/client-node';

/** A KubeConfig from a file, or from the usual places ($KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/** The HTTP status of an error thrown by @kubernetes/client-node, if it carries one. */
export function apiStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}
