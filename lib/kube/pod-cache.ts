/**
 * The process's informer of the pods that hold or want room (not Succeeded, not Failed), for the
 * scale-up snapshot (#13: "use the watchers' caches instead of lists per batch"): a batch reads
 * pods from here instead of listing every pod of the cluster. Each pod is kept in the small form
 * the scheduling simulation reads (#19: informer caches hold no whole objects): identity, labels,
 * owners, placement constraints, resource requests, host ports, the claims of PersistentVolumes,
 * phase and conditions — no managed fields, annotations, env, images, probes, other volumes or
 * container statuses.
 */
import * as k8s from '@kubernetes/client-node';
import { WatchCache } from './watch-cache';

export const LIVE_POD_SELECTOR = 'status.phase!=Succeeded,status.phase!=Failed';

/** Drops, in place, every field of a pod the scheduling simulation does not read. */
export function trimPod(p: k8s.V1Pod): void {
  const m = p.metadata;
  if (m) {
    delete m.managedFields;
    delete m.annotations;
    delete m.generateName;
    delete m.finalizers;
  }
  const s = p.spec;
  if (s) {
    const keep = (c: k8s.V1Container): k8s.V1Container => {
      // Host ports (NodePorts): a pod holding one leaves no room on its node for another.
      const ports = (c.ports ?? [])
        .filter((x) => x.hostPort !== undefined && x.hostPort > 0)
        .map((x) => ({
          containerPort: x.containerPort,
          hostPort: x.hostPort,
          ...(x.protocol ? { protocol: x.protocol } : {}),
          ...(x.hostIP ? { hostIP: x.hostIP } : {}),
        }));
      return {
        name: c.name,
        ...(c.resources ? { resources: c.resources } : {}),
        ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}),
        ...(ports.length > 0 ? { ports } : {}),
      };
    };
    s.containers = s.containers.map(keep);
    if (s.initContainers) s.initContainers = s.initContainers.map(keep);
    delete s.ephemeralContainers;
    // Claims only (a bound PersistentVolume's node affinity constrains where the pod can go).
    const claims = (s.volumes ?? []).flatMap((v): k8s.V1Volume[] =>
      v.persistentVolumeClaim
        ? [{ name: v.name, persistentVolumeClaim: { claimName: v.persistentVolumeClaim.claimName } }]
        : v.ephemeral
          ? [{ name: v.name, ephemeral: {} }]
          : [],
    );
    if (claims.length > 0) s.volumes = claims;
    else delete s.volumes;
    delete s.imagePullSecrets;
    delete s.securityContext;
    delete s.readinessGates;
    delete s.dnsConfig;
    delete s.hostAliases;
  }
  const st = p.status;
  if (st) {
    delete st.containerStatuses;
    delete st.initContainerStatuses;
    delete st.ephemeralContainerStatuses;
    delete st.podIPs;
    delete st.hostIPs;
  }
}

export class PodCache extends WatchCache<k8s.V1Pod> {
  constructor(kc: k8s.KubeConfig) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    super(kc, {
      what: 'Pod',
      path: '/api/v1/pods',
      list: () => core.listPodForAllNamespaces({ fieldSelector: LIVE_POD_SELECTOR }),
      fieldSelector: LIVE_POD_SELECTOR,
      trim: trimPod,
    });
  }

  /** Whether every one of these pod uids is in the cache (a just-created pod may still be on its way). */
  hasAll(uids: readonly string[]): boolean {
    if (uids.length === 0) return true;
    const all = this.list();
    if (!all) return false;
    const seen = new Set(all.map((p) => p.metadata?.uid));
    return uids.every((u) => seen.has(u));
  }
}
