/**
 * One tick of the scale-down loop, decided where the cluster was read (the `scaleDownDecide`
 * activity), so the workflow history holds the decision record and a few numbers per node, never
 * the cluster (a large cluster's snapshot is tens of MB, past Temporal's 2 MB payload limit):
 *
 *  - the workflow keeps the utilisation tracker; it observes the samples (`scaleDownObserve`) and
 *    sends the window views of every node (utilization.ts `windowViews`), its failed-drain times
 *    and the removals it has in flight;
 *  - this merges them with the snapshot exactly as the loop did in the workflow (groups' last
 *    failed drain, in-flight removals not already known from VPSieNodes being deleted), decides,
 *    finds the stray cordons (of nodes of its own groups), and returns the decision record (decision-record.ts).
 *
 * Pure: the same snapshot and request give the same result.
 */
import { strayCordons, type StrayCordon } from '../drain/cordon-sweep';
import { decideScaleDown } from './decide';
import { decisionRecord } from './decision-record';
import type { InFlightRemoval, PdbInfo, ScaleDownDecision, ScaleDownGroup, ScaleDownNode } from './types';
import type { UtilizationSample, WindowViews } from './utilization';
import type { GroupUsageSample } from '../scale-up/utilization';

/** What the activity reads of the cluster (kept in the worker between observe and decide, never recorded). */
export interface LoopSnapshot {
  nodes: ScaleDownNode[];
  pdbs: PdbInfo[];
  groups: ScaleDownGroup[];
  /** VPSieNodes whose deletion has begun. */
  inFlightRemovals: InFlightRemoval[];
  samples: UtilizationSample[];
  /** Per group: its used share over its Ready nodes and scale-up policy (the utilisation-driven scale-up, issue #17). */
  groupUsage?: GroupUsageSample[];
}

/** Result of `scaleDownObserve`: what the workflow's tracker needs. */
export interface LoopObservation {
  samples: UtilizationSample[];
  /** Distinct stabilisation windows (seconds) of the groups: the views the workflow sends. */
  windows: number[];
  /** Per group usage for the scale-up window (absent from observations before issue #17). */
  groupUsage?: GroupUsageSample[];
}

export interface LoopDecideRequest {
  now: number;
  views: WindowViews;
  /** `<ns>/<group>` -> epoch ms of the last failed drain (workflow state). */
  failedDrainAt: Record<string, number>;
  /** The workflow's own removals in flight (removal children). */
  inFlight: InFlightRemoval[];
  /** Minimum age of a cordon mark before the sweep undoes it (default cordon-sweep.ts). */
  strayCordonMinAgeSeconds?: number;
}

export interface LoopDecision {
  decision: ScaleDownDecision;
  /** NodeGroup name -> namespace, for the records the workflow writes. */
  namespaces: Record<string, string>;
  /** Nodes the orchestrator cordoned that no removal in flight accounts for: uncordon them. */
  strayCordons: StrayCordon[];
}

export function observation(snap: LoopSnapshot): LoopObservation {
  const windows = [...new Set(snap.groups.map((g) => g.spec.scaleDownPolicy.stabilizationWindowSeconds))].sort((a, b) => a - b);
  return { samples: snap.samples, windows, ...(snap.groupUsage ? { groupUsage: snap.groupUsage } : {}) };
}

export function decideLoop(snap: LoopSnapshot, req: LoopDecideRequest): LoopDecision {
  const groups = snap.groups.map((g) => {
    const at = req.failedDrainAt[`${g.namespace}/${g.name}`];
    return at === undefined ? g : { ...g, lastFailedDrainAt: at };
  });
  const known = new Set(snap.inFlightRemovals.map((r) => r.nodeName ?? `vn:${r.vpsieNode ?? ''}`));
  const inFlightRemovals: InFlightRemoval[] = [...snap.inFlightRemovals];
  for (const r of req.inFlight) if (r.nodeName === undefined || !known.has(r.nodeName)) inFlightRemovals.push(r);
  const d = decideScaleDown({ now: req.now, nodes: snap.nodes, pdbs: snap.pdbs, groups, inFlightRemovals, windowViews: req.views });
  const removing = new Set<string>();
  for (const r of inFlightRemovals) if (r.nodeName !== undefined) removing.add(r.nodeName);
  for (const r of d.removals) removing.add(r.node);
  // Only nodes of this loop's groups: another scope's loop has its own removals in flight.
  const mine = new Set(snap.groups.map((g) => g.name));
  const stray = strayCordons(
    snap.nodes
      .filter((n) => n.nodeGroup !== undefined && mine.has(n.nodeGroup))
      .map((n) => ({ name: n.node.name, ...(n.node.unschedulable ? { unschedulable: true } : {}), ...(n.annotations ? { annotations: n.annotations } : {}) })),
    removing,
    req.now,
    req.strayCordonMinAgeSeconds,
  );
  const namespaces: Record<string, string> = {};
  for (const g of snap.groups) namespaces[g.name] ??= g.namespace;
  return { decision: decisionRecord(d), namespaces, strayCordons: stray };
}
