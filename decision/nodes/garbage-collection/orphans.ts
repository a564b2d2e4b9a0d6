/**
 * Orphan Nodes: Kubernetes Nodes labelled for a NodeGroup (`autoscaler.vpsie.com/nodegroup`) that
 * no VPSieNode names — e.g. a VPSieNode force-removed (finalizer stripped) while its machine ran, or
 * a worker that registered after its VPSieNode was gone. Pure decisions; time is an argument.
 *
 * A Node is NAMED by a VPSieNode when the VPSieNode's status.nodeName is the Node's name, or its
 * spec.hostname (lowercased, as the machine registers) is, or its spec.vpsieIdentifier is the
 * machine behind the Node's providerID (`vpsie://<identifier>`). Nodes being deleted are left to
 * their deletion.
 *
 * On first sight an orphan is marked (annotation `autoscaler.vpsie.com/orphan-since=<ISO time>`
 * on the Node, so the grace survives restarts and is visible), reported (Event, metric, log) and
 * left alone; once it has been an orphan longer than the grace period it is deleted. A Node that
 * is named again (a VPSieNode came back) loses the mark.
 */
import { GROUP, NODEGROUP_LABEL } from '../../../lib/crds/autoscaler/constants';

export const ORPHAN_SINCE_ANNOTATION = `${GROUP}/orphan-since`;
/** Default grace before an orphan Node is deleted (GC_ORPHAN_NODE_GRACE_SECONDS). */
export const DEFAULT_ORPHAN_NODE_GRACE_SECONDS = 600;

export interface OrphanCandidateNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  providerID?: string;
  deleting: boolean;
}

export interface NamingVPSieNode {
  nodeName?: string;
  hostname?: string;
  vpsieIdentifier?: string;
}

export interface OrphanNode {
  name: string;
  nodeGroup: string;
  /** The VPS behind the Node (from its providerID), when it says. */
  vpsieIdentifier?: string;
  /** When it was first seen an orphan (ms). */
  sinceMs: number;
  ageSeconds: number;
}

export interface OrphanNodeReport {
  /** Orphans seen for the first time: to mark and report. */
  newlySeen: OrphanNode[];
  /** Orphans within the grace period (marked before). */
  waiting: OrphanNode[];
  /** Orphans older than the grace period: to delete. */
  expired: OrphanNode[];
  /** Marked Nodes a VPSieNode names again: to unmark. */
  adopted: string[];
}

export interface OrphanOptions {
  nowMs: number;
  graceSeconds: number;
  /** Only Nodes of these NodeGroup names (a namespaced scan); undefined = every labelled Node. */
  groups?: ReadonlySet<string>;
}

/** The identifier of a `vpsie://<identifier>` providerID. */
export function identifierOfProviderID(providerID: string | undefined): string | undefined {
  if (!providerID?.startsWith('vpsie://')) return undefined;
  const id = providerID.slice('vpsie://'.length);
  return id === '' ? undefined : id;
}

/** Which labelled Nodes no VPSieNode names, and what to do with each. */
export function findOrphanNodes(nodes: readonly OrphanCandidateNode[], vpsieNodes: readonly NamingVPSieNode[], opts: OrphanOptions): OrphanNodeReport {
  const names = new Set<string>();
  const identifiers = new Set<string>();
  for (const v of vpsieNodes) {
    if (v.nodeName) names.add(v.nodeName);
    if (v.hostname) names.add(v.hostname.toLowerCase());
    if (v.vpsieIdentifier) identifiers.add(v.vpsieIdentifier);
  }
  const report: OrphanNodeReport = { newlySeen: [], waiting: [], expired: [], adopted: [] };
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const group = n.labels[NODEGROUP_LABEL];
    if (group === undefined || n.deleting) continue;
    if (opts.groups && !opts.groups.has(group)) continue;
    const identifier = identifierOfProviderID(n.providerID);
    const named = names.has(n.name) || (identifier !== undefined && identifiers.has(identifier));
    const marked = n.annotations[ORPHAN_SINCE_ANNOTATION];
    if (named) {
      if (marked !== undefined) report.adopted.push(n.name);
      continue;
    }
    const parsed = marked !== undefined ? Date.parse(marked) : Number.NaN;
    const sinceMs = Number.isNaN(parsed) ? opts.nowMs : Math.min(parsed, opts.nowMs);
    const orphan: OrphanNode = {
      name: n.name,
      nodeGroup: group,
      ...(identifier !== undefined ? { vpsieIdentifier: identifier } : {}),
      sinceMs,
      ageSeconds: Math.round((opts.nowMs - sinceMs) / 1000),
    };
    if (Number.isNaN(parsed)) report.newlySeen.push(orphan);
    else if (opts.nowMs - sinceMs >= opts.graceSeconds * 1000) report.expired.push(orphan);
    else report.waiting.push(orphan);
  }
  return report;
}
