/** Builders for scale-down inputs. */
import type { Offering } from '../../../../../decision/planner/types';
import type { Resources } from '../../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_INSTANCE_TYPE, LABEL_ZONE } from '../../../../../decision/scheduling/types';
import type { ScaleDownGroup, ScaleDownInput, ScaleDownNode, ScaleDownPod, ScaleDownSpec } from '../../../../../decision/nodes/scale-down/types';
import type { UtilizationTracker } from '../../../../../decision/nodes/scale-down/utilization';
import { createTracker, nodeSample, observe } from '../../../../../decision/nodes/scale-down/utilization';

export const Mi = 1024 * 1024;
export const Gi = 1024 * Mi;
/** 2025-06-04 (a Wednesday) 12:00 UTC. */
export const NOW = Date.UTC(2025, 5, 4, 12, 0, 0);

export function res(cpuMilli: number, memoryBytes: number, pods = 1): Resources {
  return { cpuMilli, memoryBytes, pods, ephemeralStorageBytes: 0 };
}

export function pod(name: string, extra: Partial<ScaleDownPod> = {}): ScaleDownPod {
  return {
    name,
    namespace: 'default',
    uid: `uid-${name}`,
    labels: { app: name.replace(/-\d+$/, '') },
    requests: res(100, 128 * Mi),
    ownerKind: 'ReplicaSet',
    phase: 'Running',
    ...extra,
  };
}

export function node(
  name: string,
  pods: ScaleDownPod[],
  extra: Partial<ScaleDownNode> & { cpu?: number; memGi?: number; labels?: Record<string, string> } = {},
): ScaleDownNode {
  const { cpu, memGi, labels, ...rest } = extra;
  return {
    node: {
      name,
      labels: { [LABEL_HOSTNAME]: name, [LABEL_ZONE]: 'z1', 'autoscaler.vpsie.com/nodegroup': 'g', ...(labels ?? {}) },
      allocatable: res(cpu ?? 4000, (memGi ?? 8) * Gi, 110),
    },
    nodeGroup: 'g',
    vpsieNode: `vn-${name}`,
    pods: pods.map((p) => ({ ...p, nodeName: name })),
    ...rest,
  };
}

export function spec(extra: Partial<ScaleDownSpec> = {}): ScaleDownSpec {
  return {
    minNodes: 0,
    maxNodes: 10,
    dryRun: false,
    scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 60, cooldownSeconds: 0, cpuThreshold: 80, memoryThreshold: 80 },
    scaleDownPolicy: {
      enabled: true,
      stabilizationWindowSeconds: 600,
      cooldownSeconds: 600,
      cpuThreshold: 50,
      memoryThreshold: 50,
      utilizationSource: 'requests' as const,
    },
    disruptionBudget: { maxUnavailable: 1 },
    consolidation: { enabled: false, savingsThresholdPercent: 20 },
    ...extra,
  };
}

export function group(name: string, currentNodes: number, extra: Partial<ScaleDownGroup> = {}, specExtra: Partial<ScaleDownSpec> = {}): ScaleDownGroup {
  return { name, namespace: 'kube-system', currentNodes, spec: spec(specExtra), ...extra };
}

export function offering(id: string, cpu: number, memGi: number, price: number): Offering {
  return { id, nickname: id, cpuMilli: cpu, memoryBytes: memGi * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: price };
}

/** A tracker that observed every node's current requests every 60 s for `seconds` up to `now`. */
export function steadyTracker(nodes: readonly ScaleDownNode[], now: number, seconds = 600): UtilizationTracker {
  let t = createTracker();
  for (let at = now - seconds * 1000; at <= now; at += 60_000) {
    t = observe(
      t,
      nodes.map((n) => nodeSample(n.node.name, n.node.allocatable, n.pods)),
      at,
    );
  }
  return t;
}

export function input(nodes: ScaleDownNode[], groups: ScaleDownGroup[], extra: Partial<ScaleDownInput> = {}): ScaleDownInput {
  return { now: NOW, nodes, pdbs: [], groups, inFlightRemovals: [], utilization: steadyTracker(nodes, NOW), ...extra };
}

export { LABEL_HOSTNAME, LABEL_INSTANCE_TYPE, LABEL_ZONE };
