/**
 * Where would the pods of a removed node go? A what-if over the cluster with the same scheduling
 * predicates as scale-up (decision/scheduling: resources, node selectors and affinity, taints, pod
 * affinity / anti-affinity, topology spread), pod by pod, so the answer is a placement, not an
 * aggregate sum of free capacity.
 */
import type { FilterFailure } from '../../scheduling/predicates';
import { volumeConflict } from '../../scheduling/predicates';
import { SchedulingState } from '../../scheduling/state';
import type { Resources, SimNode, SimPod } from '../../scheduling/types';
import { compareStrings, podKey } from '../../scheduling/types';
import { isMovable } from './pods';
import type { PodMove, ScaleDownNode, ScaleDownPod } from './types';

/** Taint kube's node lifecycle controller puts on NotReady nodes. */
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';

export interface SimNodeEntry {
  node: SimNode;
  pods: ScaleDownPod[];
  /** Requests on the node not carried by `pods` (DaemonSet overhead of a planned node). */
  extraRequested?: Resources;
  /** Moved pods are not placed here (it is leaving, or not a valid destination). */
  destination: boolean;
  /** Try this node only after the others (another removal candidate). */
  last: boolean;
}

export interface PlacementFailure {
  pod: string;
  reason: 'NoPlaceToMove' | 'AntiAffinityUnsatisfiable' | 'PersistentVolumeUnreachable';
  /** How many nodes refused the pod, per scheduling filter (and, for a PV, `persistentVolumes` and `nodesThePVsAllow`). */
  failures: Partial<Record<FilterFailure | 'persistentVolumes' | 'nodesThePVsAllow', number>>;
  requests: Resources;
}

export interface MoveResult {
  moves: PodMove[];
  failures: PlacementFailure[];
}

function podSize(p: SimPod): number {
  return p.requests.cpuMilli / 1000 + p.requests.memoryBytes / (1024 * 1024 * 1024);
}

/** The order pods are re-placed in: largest first (first-fit decreasing), then by key. */
export function placementOrder(pods: readonly ScaleDownPod[]): ScaleDownPod[] {
  return [...pods].sort((a, b) => podSize(b) - podSize(a) || compareStrings(podKey(a), podKey(b)));
}

export class ClusterSim {
  readonly entries = new Map<string, SimNodeEntry>();
  private readonly removed = new Set<string>();

  constructor(nodes: readonly ScaleDownNode[]) {
    for (const n of nodes) {
      const ready = n.ready ?? true;
      const node: SimNode = ready ? n.node : { ...n.node, taints: [...(n.node.taints ?? []), { key: TAINT_NOT_READY, effect: 'NoSchedule' }] };
      this.entries.set(n.node.name, { node, pods: [...n.pods], destination: true, last: false });
    }
  }

  /** Nodes tried only after the others as destinations (the removal candidates). */
  markLast(names: ReadonlySet<string>): void {
    for (const e of this.entries.values()) e.last = names.has(e.node.name);
  }

  isRemoved(name: string): boolean {
    return this.removed.has(name);
  }

  podsOf(name: string): readonly ScaleDownPod[] {
    return this.entries.get(name)?.pods ?? [];
  }

  /** Movable pods on the node right now (including pods moved onto it earlier in the decision). */
  movablePods(name: string): ScaleDownPod[] {
    return this.podsOf(name).filter(isMovable);
  }

  private orderedLiveEntries(excluded: ReadonlySet<string>): SimNodeEntry[] {
    const live = [...this.entries.values()].filter((e) => !this.removed.has(e.node.name) && !excluded.has(e.node.name));
    return live.sort((a, b) => Number(a.last) - Number(b.last) || compareStrings(a.node.name, b.node.name));
  }

  /** Places `pods` (leaving the `leaving` nodes) on the remaining nodes, without changing the simulation. */
  tryMove(leaving: ReadonlySet<string>, pods: readonly ScaleDownPod[]): MoveResult {
    const state = new SchedulingState();
    const entries = this.orderedLiveEntries(leaving);
    const stateNodes = entries.map((e) => ({ e, sn: state.addNode(e.node, e.pods, e.extraRequested) }));
    const moves: PodMove[] = [];
    const failures: PlacementFailure[] = [];
    for (const pod of placementOrder(pods)) {
      const moving: ScaleDownPod = { ...pod };
      delete moving.nodeName;
      let placed = false;
      for (const { e, sn } of stateNodes) {
        if (!e.destination) continue;
        if (state.check(moving, sn) === undefined) {
          state.place({ ...moving, nodeName: e.node.name }, sn);
          moves.push({ pod: podKey(pod), node: e.node.name });
          placed = true;
          break;
        }
      }
      if (placed) continue;
      const counts: PlacementFailure['failures'] = {};
      let pvAllowed = 0;
      for (const { e, sn } of stateNodes) {
        if (!e.destination) continue;
        const f = state.check(moving, sn) ?? 'InsufficientResources';
        counts[f] = (counts[f] ?? 0) + 1;
        if (volumeConflict(pod.persistentVolumes, e.node) === undefined) pvAllowed++;
      }
      const anti = (counts.PodAntiAffinityViolated ?? 0) + (counts.ExistingPodAntiAffinityViolated ?? 0) > 0;
      // Safety check 4 of doc 001: a pod whose PersistentVolume can be reached from no other node
      // (local PV pinned by node affinity, a zone no other node is in) has nowhere to go.
      const pvs = pod.persistentVolumes?.length ?? 0;
      if (pvs > 0 && pvAllowed === 0) {
        counts.persistentVolumes = pvs;
        counts.nodesThePVsAllow = 0;
        failures.push({ pod: podKey(pod), reason: 'PersistentVolumeUnreachable', failures: counts, requests: pod.requests });
        continue;
      }
      failures.push({ pod: podKey(pod), reason: anti ? 'AntiAffinityUnsatisfiable' : 'NoPlaceToMove', failures: counts, requests: pod.requests });
    }
    return { moves, failures };
  }

  /** The nodes leave; moved pods are bound to their destinations. */
  apply(leaving: readonly string[], moves: readonly PodMove[], podsByKey: ReadonlyMap<string, ScaleDownPod>): void {
    for (const name of leaving) this.removed.add(name);
    for (const m of moves) {
      const pod = podsByKey.get(m.pod);
      const dest = this.entries.get(m.node);
      if (pod && dest) dest.pods.push({ ...pod, nodeName: m.node });
    }
    for (const name of leaving) {
      const e = this.entries.get(name);
      if (e) e.pods = e.pods.filter((p) => !isMovable(p));
    }
  }

  /** Adds a node that does not exist yet (a consolidation replacement). */
  addNode(node: SimNode, extraRequested: Resources): void {
    this.entries.set(node.name, { node, pods: [], extraRequested, destination: true, last: false });
  }

  /** Surviving nodes, sorted by name. */
  liveEntries(): SimNodeEntry[] {
    return this.orderedLiveEntries(new Set()).sort((a, b) => compareStrings(a.node.name, b.node.name));
  }
}
