/**
 * Pure decisions about spare ManagedKubernetes workers (issue #12, "Spare ManagedKubernetes
 * workers are collected too").
 *
 * A VPSieNode with join method ManagedKubernetes gets its machine by CLAIMING a worker of a VPSie
 * managed-cluster node group (activities/nodes/lifecycle/machines.ts): a claim is a Lease
 * `vpsie-worker-<identifier>` labelled with the group id, annotated with the worker identifier,
 * whose holderIdentity is the VPSieNode's uid. "Add worker" answers no identifier, so a worker
 * added for a VPSieNode deleted before it claimed one, or whose claim Lease was lost, stays in
 * the group, paid for and unused: a SPARE. The next VPSieNode of the group claims the lowest-id
 * unclaimed worker, so a spare is only waste when no VPSieNode is waiting for one.
 *
 * Rules, per group the orchestrator uses (the caller says which):
 * - a worker is CLAIMED when a Lease whose holder is an existing VPSieNode (any namespace) claims
 *   it, and RECORDED when a VPSieNode names it in spec.vpsieIdentifier (a VPSieNode restored from
 *   a backup gets a new uid, so its old Lease's holder is gone while it still uses the worker);
 *   either way it is never touched. Every other worker is UNCLAIMED (a Lease whose holder no
 *   longer exists claims nothing);
 * - as many unclaimed workers as the group has OUTSTANDING INTENTS (VPSieNodes annotated with the
 *   group's id, no spec.vpsieIdentifier, not deleting, holding no claim of the group) are kept
 *   for them, the lowest ids first (what `ensureWorker` claims first): RESERVED;
 * - any other unclaimed worker is a spare, deleted only once its age is over the grace period
 *   (from its creation date, else from when this process first saw it unclaimed: a worker without
 *   a date is never "infinitely old") AND it was seen unclaimed by the previous scan too;
 * - at most max(1, ⌊maxDeletePercent % of the workers of the groups looked at⌋) per run, oldest
 *   first (ties: highest id first, ensureWorker claims the lowest); the rest is reported
 *   (`DeletionCapReached`, kind `worker`) and looked at again next run.
 * Time and the memory between scans (`unclaimedSinceMs`) are arguments; the next memory is part
 * of the answer.
 */
import { DEFAULT_MAX_DELETE_PERCENT, deletionAllowance, parseCreatedOn, type DeletionCap } from './garbage';

/** holderIdentity of the Lease garbage collection holds on a worker while deleting it (never a VPSieNode uid). */
export const GC_WORKER_HOLDER = 'vpsie-autoscaler-garbage-collection';
/** Event reason on the NodeGroup(s) using the group, when a spare worker was deleted. */
export const SPARE_WORKER_DELETED_REASON = 'SpareWorkerDeleted';

/** The name machines.ts gives the claim Lease of a worker (`leaseName('vpsie-worker', identifier)`). */
export function workerClaimLeaseName(identifier: string): string {
  return `vpsie-worker-${identifier.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 253).replace(/-+$/, '');
}

/** Memory key of a worker: `<cluster identifier>/<worker identifier>`. */
export function workerKey(clusterIdentifier: string, identifier: string): string {
  return `${clusterIdentifier}/${identifier}`;
}

export interface GcWorker {
  identifier: string;
  /** VPSie's numeric id (ensureWorker claims the lowest first). */
  id: number;
  hostname?: string;
  /** VPSie's created_on, when it gives one (`YYYY-MM-DD HH:MM:SS` UTC or ISO). */
  createdOn?: string;
}

/** A claim Lease of the group: the worker identifier it names and its holderIdentity. */
export interface WorkerClaim {
  identifier: string;
  holder: string;
}

export interface GcWorkerGroup {
  clusterIdentifier: string;
  groupId: number;
  /** The group's listed workers. */
  workers: readonly GcWorker[];
  /** Every claim Lease labelled with this group id (all namespaces). */
  claims: readonly WorkerClaim[];
  /** VPSieNodes waiting for a worker of this group (see `outstandingIntents`). */
  outstandingIntents: number;
}

/** What `outstandingIntents` needs to know of a VPSieNode. */
export interface IntentNode {
  uid: string;
  /** The worker-intent annotation (a group id), if any. */
  intent?: string;
  vpsieIdentifier?: string;
  deleting: boolean;
}

/**
 * VPSieNodes with an outstanding intent for `groupId`: annotated with it, no spec.vpsieIdentifier,
 * not deleting, and not the holder of a claim of the group (the count ensureWorker adds workers for).
 */
export function outstandingIntents(groupId: number, nodes: readonly IntentNode[], claims: readonly WorkerClaim[]): number {
  const holders = new Set(claims.map((c) => c.holder));
  return nodes.filter((n) => n.intent === String(groupId) && n.vpsieIdentifier === undefined && !n.deleting && !holders.has(n.uid)).length;
}

export interface SpareWorkerOptions {
  nowMs: number;
  graceSeconds: number;
  /** uids of every VPSieNode (all namespaces): only their claims count. */
  existingHolders: ReadonlySet<string>;
  /** spec.vpsieIdentifier of every VPSieNode (all namespaces). */
  recordedIdentifiers: ReadonlySet<string>;
  /** Workers the previous scan saw unclaimed (`workerKey` → when first seen unclaimed, ms). */
  unclaimedSinceMs?: ReadonlyMap<string, number>;
  /** Share (percent) of the workers looked at one run may delete (at least one); default 10. */
  maxDeletePercent?: number;
}

/** Where a worker stands with respect to claims and intents, before age and cap. */
export type WorkerStanding = 'Claimed' | 'Recorded' | 'Reserved' | 'Unclaimed';

export interface WorkerStandingInfo {
  standing: WorkerStanding;
  /** Holders of Leases naming the worker that are not existing VPSieNodes (stale claims, GC's own Lease). */
  staleHolders: string[];
  /** Claimed: the existing VPSieNode holding it. */
  holder?: string;
}

/** Claimed / Recorded / Reserved / Unclaimed for every worker of `group` (identifier → standing). */
export function workerStandings(
  group: GcWorkerGroup,
  opts: Pick<SpareWorkerOptions, 'existingHolders' | 'recordedIdentifiers'>,
): Map<string, WorkerStandingInfo> {
  const out = new Map<string, WorkerStandingInfo>();
  const unclaimed: GcWorker[] = [];
  for (const w of group.workers) {
    const holders = group.claims.filter((c) => c.identifier === w.identifier).map((c) => c.holder);
    const live = holders.find((h) => opts.existingHolders.has(h));
    const staleHolders = holders.filter((h) => !opts.existingHolders.has(h));
    if (live !== undefined) out.set(w.identifier, { standing: 'Claimed', holder: live, staleHolders });
    else if (opts.recordedIdentifiers.has(w.identifier)) out.set(w.identifier, { standing: 'Recorded', staleHolders });
    else {
      out.set(w.identifier, { standing: 'Unclaimed', staleHolders });
      unclaimed.push(w);
    }
  }
  const reserve = Math.max(0, group.outstandingIntents);
  for (const w of [...unclaimed].sort((a, b) => a.id - b.id).slice(0, reserve)) out.get(w.identifier)!.standing = 'Reserved';
  return out;
}

export interface SpareWorker {
  clusterIdentifier: string;
  groupId: number;
  identifier: string;
  id: number;
  hostname?: string;
  /** NoClaim: no Lease names it; HolderGone: only Leases whose holder is no VPSieNode do. */
  reason: 'NoClaim' | 'HolderGone';
  staleHolders?: string[];
  ageSeconds: number;
  /** Where the age comes from: VPSie's creation date, or this process's first sighting (unclaimed). */
  ageFrom: 'created' | 'firstSeen';
}

export type KeptWorkerReason = 'Claimed' | 'Recorded' | 'ReservedForIntent' | 'Young' | 'FirstSighting';

export interface KeptWorker {
  clusterIdentifier: string;
  groupId: number;
  identifier: string;
  id: number;
  reason: KeptWorkerReason;
  /** Claimed: the VPSieNode uid holding it. */
  holder?: string;
  /** Unclaimed ones (Reserved, Young, FirstSighting). */
  ageSeconds?: number;
}

/** The numbers of one group. */
export interface WorkerGroupTally {
  clusterIdentifier: string;
  groupId: number;
  workers: number;
  claimed: number;
  recorded: number;
  unclaimed: number;
  outstandingIntents: number;
  reserved: number;
  /** Spares old enough and seen unclaimed twice (before the cap). */
  eligible: number;
}

export interface SpareWorkerReport {
  /** To delete this run (within the cap), oldest first. */
  spares: SpareWorker[];
  /** Eligible spares the cap left for the next run (at most one entry, kind `worker`). */
  withheld: DeletionCap[];
  kept: KeptWorker[];
  groups: WorkerGroupTally[];
  /** The next scan's `unclaimedSinceMs`: every worker unclaimed in this one (reserved included). */
  unclaimedSinceMs: Record<string, number>;
}

/** Which workers of `groups` are spares to delete now, which are kept and why. */
export function findSpareWorkers(groups: readonly GcWorkerGroup[], opts: SpareWorkerOptions): SpareWorkerReport {
  const pct = opts.maxDeletePercent ?? DEFAULT_MAX_DELETE_PERCENT;
  const report: SpareWorkerReport = { spares: [], withheld: [], kept: [], groups: [], unclaimedSinceMs: {} };
  const eligible: SpareWorker[] = [];
  let population = 0;
  for (const g of groups) {
    const tally: WorkerGroupTally = {
      clusterIdentifier: g.clusterIdentifier,
      groupId: g.groupId,
      workers: g.workers.length,
      claimed: 0,
      recorded: 0,
      unclaimed: 0,
      outstandingIntents: g.outstandingIntents,
      reserved: 0,
      eligible: 0,
    };
    population += g.workers.length;
    const standings = workerStandings(g, opts);
    for (const w of g.workers) {
      const s = standings.get(w.identifier)!;
      const ref = { clusterIdentifier: g.clusterIdentifier, groupId: g.groupId, identifier: w.identifier, id: w.id };
      if (s.standing === 'Claimed') {
        tally.claimed += 1;
        report.kept.push({ ...ref, reason: 'Claimed', ...(s.holder !== undefined ? { holder: s.holder } : {}) });
        continue;
      }
      if (s.standing === 'Recorded') {
        tally.recorded += 1;
        report.kept.push({ ...ref, reason: 'Recorded' });
        continue;
      }
      tally.unclaimed += 1;
      const key = workerKey(g.clusterIdentifier, w.identifier);
      const previously = opts.unclaimedSinceMs?.get(key);
      report.unclaimedSinceMs[key] = previously ?? opts.nowMs;
      const created = parseCreatedOn(w.createdOn);
      const since = created ?? previously ?? opts.nowMs;
      const ageSeconds = Math.round(Math.max(0, (opts.nowMs - since) / 1000));
      if (s.standing === 'Reserved') {
        tally.reserved += 1;
        report.kept.push({ ...ref, reason: 'ReservedForIntent', ageSeconds });
      } else if (ageSeconds < opts.graceSeconds) {
        report.kept.push({ ...ref, reason: 'Young', ageSeconds });
      } else if (previously === undefined) {
        report.kept.push({ ...ref, reason: 'FirstSighting', ageSeconds });
      } else {
        tally.eligible += 1;
        eligible.push({
          ...ref,
          ...(w.hostname !== undefined ? { hostname: w.hostname } : {}),
          reason: s.staleHolders.length > 0 ? 'HolderGone' : 'NoClaim',
          ...(s.staleHolders.length > 0 ? { staleHolders: s.staleHolders } : {}),
          ageSeconds,
          ageFrom: created !== undefined ? 'created' : 'firstSeen',
        });
      }
    }
    report.groups.push(tally);
  }
  eligible.sort((a, b) => b.ageSeconds - a.ageSeconds || b.id - a.id);
  const allowed = deletionAllowance(population, pct);
  report.spares = eligible.slice(0, allowed);
  if (eligible.length > allowed)
    report.withheld.push({
      reason: 'DeletionCapReached',
      kind: 'worker',
      eligible: eligible.length,
      allowed,
      population,
      maxDeletePercent: pct,
      withheld: eligible.slice(allowed).map((s) => s.identifier),
    });
  return report;
}
