import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { projectRoot } from '../paths';

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

/** The name and version every request of the orchestrator carries (package.json's version). */
export const USER_AGENT_PRODUCT = `vpsie-capacity-orchestrator/${packageVersion()}`;

function packageVersion(): string {
  try {
    const parsed = z.object({ version: z.string() }).safeParse(JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')));
    return parsed.success ? parsed.data.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const partsOf = new WeakMap<k8s.KubeConfig, Set<string>>();

/** The User-Agent of the requests made through `kc`: the product and the parts that use it. */
export function userAgentOf(kc: k8s.KubeConfig): string {
  const parts = partsOf.get(kc);
  return parts ? `${USER_AGENT_PRODUCT} (${[...parts].join(',')})` : USER_AGENT_PRODUCT;
}

/**
 * Makes every request through `kc` — its API clients (made from now on) and its watches — carry
 * the User-Agent `vpsie-capacity-orchestrator/<version> (<parts>)` instead of the library's, so
 * the apiserver's audit log and logs tell which part of the orchestrator asked (the parts' own
 * ServiceAccounts and FlowSchemas, k8s/flowcontrol.yaml, tell it in the metrics). A KubeConfig
 * used by several parts names them all. Returns `kc`.
 */
export function identifyClient(kc: k8s.KubeConfig, part: string): k8s.KubeConfig {
  const known = partsOf.get(kc);
  if (known) {
    known.add(part);
    return kc;
  }
  partsOf.set(kc, new Set([part]));
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    context.setHeaderParam('User-Agent', userAgentOf(kc));
  };
  kc.makeApiClient = <T extends k8s.ApiType>(apiClientType: k8s.ApiConstructor<T>): T => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    // As the library's makeApiClient, with this User-Agent (its middleware would set its own).
    const configuration = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      middleware: [
        {
          pre: (request: k8s.RequestContext) => k8s.setHeaderMiddleware('User-Agent', userAgentOf(kc)).pre(request),
          post: (response: k8s.ResponseContext) => k8s.setHeaderMiddleware('User-Agent', userAgentOf(kc)).post(response),
        },
      ],
    });
    return new apiClientType(configuration);
  };
  return kc;
}
