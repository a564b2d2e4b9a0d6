import type { NodeSnapshot } from '../../../../decision/scheduling/predicates';
import type { Resources, SimNode, SimPod } from '../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_ZONE } from '../../../../decision/scheduling/types';

export const Mi = 1024 * 1024;
export const Gi = 1024 * Mi;

export function res(cpuMilli: number, memoryBytes: number, pods = 1, ephemeralStorageBytes = 0): Resources {
  return { cpuMilli, memoryBytes, pods, ephemeralStorageBytes };
}

export function pod(name: string, extra: Partial<SimPod> = {}): SimPod {
  return {
    name,
    namespace: 'default',
    uid: `uid-${name}`,
    labels: {},
    requests: res(100, 128 * Mi),
    ...extra,
  };
}

export function node(name: string, zone: string | undefined, extra: Partial<SimNode> = {}): SimNode {
  const labels: Record<string, string> = { [LABEL_HOSTNAME]: name };
  if (zone !== undefined) labels[LABEL_ZONE] = zone;
  return {
    name,
    labels: { ...labels, ...(extra.labels ?? {}) },
    allocatable: res(4000, 8 * Gi, 110),
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'labels')),
  };
}

export function snap(n: SimNode, pods: SimPod[] = []): NodeSnapshot {
  return { node: n, pods };
}
