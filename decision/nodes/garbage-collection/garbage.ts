/**
 * Pure garbage-collection decisions: which VPS instances are ours but have no VPSieNode (leaked,
 * e.g. a VPSieNode force-removed while its machine existed) or are a second machine made for one
 * VPSieNode (duplicate), and which Ready VPSieNodes lost their machine. Time is an argument; the
 * little memory GC needs between runs (when an undated machine was first seen, which VPSieNodes
 * were missing their machine last time) is an argument too.
 *
 * Ownership (issue #12). A machine is a candidate only when its notes carry BOTH
 * - the orchestrator's request id (`orchestrator-request-id=<VPSieNode uid>`, written by
 *   `VPSieClient.ensureVm`), and
 * - this cluster's identity (`orchestrator-cluster=<cluster id>`, written by the lifecycle's
 *   machine activity since #12; the id is CLUSTER_ID or the uid of the `kube-system` namespace).
 * Any other machine is never touched: without a request id it is someone else's (`Foreign`); with
 * another cluster's identity it belongs to another orchestrator on the same VPSie account
 * (`OtherCluster`); with a request id but no cluster identity it was made by a version before #12
 * and cannot be told apart from another cluster's (`NoClusterIdentity`: reported, never collected;
 * delete such machines by hand once no VPSieNode of any cluster names them).
 *
 * A candidate is `Owned` when any VPSieNode (all namespaces, whatever its uid: VPSieNodes restored
 * from a backup get new uids) names its identifier in spec.vpsieIdentifier, or carries its
 * hostname in spec.hostname without having recorded an identifier (the lifecycle adopts a machine
 * by hostname), or has its request id as uid and has not recorded an identifier yet (being
 * created). When the VPSieNode of its request id has recorded ANOTHER identifier it is a
 * `Duplicate`. Otherwise it is `Leaked`. Duplicates and leaks are collected only once older than
 * the grace period (`Young` before); a machine without a (parsable) creation date is as old as the
 * time it was first seen, never "infinitely old". At most max(1, ⌊maxDeletePercent % of this
 * cluster's machines⌋) are collected per run, oldest first; the rest is reported
 * (`DeletionCapReached`) and looked at again next run.
 */

/** The notes key `ensureVm` writes (clients/vpsie REQUEST_ID_NOTE_PREFIX, without '='). */
export const REQUEST_ID_NOTE_KEY = 'orchestrator-request-id';
/** The notes key the lifecycle's machine activity writes: `vpsienode=<namespace>/<name>`. */
export const VPSIENODE_NOTE_KEY = 'vpsienode';
/** The notes key of the cluster identity the lifecycle's machine activity writes (#12). */
export const CLUSTER_NOTE_KEY = 'orchestrator-cluster';
/** A cluster identity: one notes token (no whitespace, no '='). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Default share of this cluster's machines (and of its Ready VPSieNodes) one run may delete. */
export const DEFAULT_MAX_DELETE_PERCENT = 10;

/** `orchestrator-cluster=<id>`: the notes token stamped on every machine of the cluster. */
export function clusterNote(clusterId: string): string {
  return `${CLUSTER_NOTE_KEY}=${clusterId}`;
}

/** `orchestrator-cluster-<id>`: the tag stamped on every machine of the cluster (tags are not listed; GC reads the notes). */
export function clusterTag(clusterId: string): string {
  return `${CLUSTER_NOTE_KEY}-${clusterId}`;
}

export interface GcVm {
  identifier: string;
  hostname: string;
  notes: string | null | undefined;
  /** VPSie's created_on (`YYYY-MM-DD HH:MM:SS` UTC or ISO). */
  createdOn?: string;
  deleted: boolean;
}

export interface GcVPSieNode {
  namespace: string;
  name: string;
  uid: string;
  phase?: string;
  joinMethod: string;
  vpsieIdentifier?: string;
  hostname?: string;
  /** status.nodeName: the Node the VPSieNode names (orphan Nodes, orphans.ts). */
  nodeName?: string;
}

/** What one machine is to this cluster's garbage collection (a closed vocabulary). */
export const MACHINE_VERDICTS = ['Deleted', 'Foreign', 'NoClusterIdentity', 'OtherCluster', 'OutOfScope', 'Owned', 'Young', 'Leaked', 'Duplicate'] as const;
export type MachineVerdict = (typeof MACHINE_VERDICTS)[number];

export interface LeakedVm {
  identifier: string;
  hostname: string;
  /** Leaked: no VPSieNode has it; Duplicate: the VPSieNode of its request id records another machine. */
  reason: 'Leaked' | 'Duplicate';
  requestId: string;
  clusterId: string;
  /** `namespace/name` of the VPSieNode the machine was made for, when its notes say. */
  vpsieNode?: string;
  /** Duplicate: the identifier the VPSieNode of its request id records. */
  recordedIdentifier?: string;
  ageSeconds: number;
}

export interface VanishedNode {
  namespace: string;
  name: string;
  uid: string;
}

/** More was eligible for deletion than one run may delete: the rest waits for the next run. */
export interface DeletionCap {
  reason: 'DeletionCapReached';
  /** vps: leaked/duplicate machines; vpsienode: Ready VPSieNodes that lost theirs; worker: spare ManagedKubernetes workers (workers.ts). */
  kind: 'vps' | 'vpsienode' | 'worker';
  /** Eligible for deletion this run. */
  eligible: number;
  /** max(1, ⌊maxDeletePercent % of population⌋). */
  allowed: number;
  /** This cluster's machines (vps), Ready UserData VPSieNodes (vpsienode) in scope, or workers of the groups looked at (worker). */
  population: number;
  maxDeletePercent: number;
  /** Identifiers (vps, worker) or `namespace/name` (vpsienode) left for the next run. */
  withheld: string[];
}

export interface GarbageReport {
  /** To delete this run (within the cap), oldest first. */
  leaked: LeakedVm[];
  /** Leaked or duplicate but younger than the grace period (looked at again next round). */
  young: number;
  /** Machines a VPSieNode owns. */
  owned: number;
  /** Machines without the request-id note (someone else's). */
  foreign: number;
  /** Request id but no cluster identity (made before #12): unowned, never collected. */
  noClusterIdentity: number;
  /** Another cluster's machines. */
  otherCluster: number;
  /** Live machines with this cluster's identity in scope (the cap's population). */
  clusterMachines: number;
  /** Ready VPSieNodes whose machine is missing from this listing and the previous one. */
  vanished: VanishedNode[];
  /** Ready VPSieNodes whose machine is missing from this listing only (looked at again next run). */
  missingOnce: VanishedNode[];
  /** uids of every Ready VPSieNode missing its machine in this listing: the next run's `previouslyMissing`. */
  missingUids: string[];
  withheld: DeletionCap[];
}

export interface GcOptions {
  nowMs: number;
  graceSeconds: number;
  /** This cluster's identity. */
  clusterId: string;
  /** Only machines whose notes name a VPSieNode of this namespace, and only its VPSieNodes. */
  namespace?: string;
  /** When this process first saw each machine (identifier → ms): the age of a machine without creation date. */
  firstSeenMs?: ReadonlyMap<string, number>;
  /** uids of the VPSieNodes whose machine was missing from the previous listing. */
  previouslyMissing?: ReadonlySet<string>;
  /** Share (percent) of this cluster's machines one run may delete (at least one); default 10. */
  maxDeletePercent?: number;
}

/** `key=value` tokens of a VM's notes. */
export function parseNotes(notes: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of (notes ?? '').split(/\s+/)) {
    const i = tok.indexOf('=');
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

/** Milliseconds since epoch of VPSie's created_on; undefined when unparsable. */
export function parseCreatedOn(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s) ? `${s.replace(' ', 'T')}Z` : s;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** How many deletions one run may make among `population`: max(1, ⌊percent % of it⌋). */
export function deletionAllowance(population: number, maxDeletePercent: number): number {
  return Math.max(1, Math.floor((population * maxDeletePercent) / 100));
}

export interface MachineClassification {
  verdict: MachineVerdict;
  requestId?: string;
  vpsieNode?: string;
  recordedIdentifier?: string;
  /** Known for candidates (Owned, Young, Leaked, Duplicate). */
  ageSeconds?: number;
}

/** Age of a machine: from its creation date, else from when it was first seen, else 0 (just seen). */
function ageOf(vm: GcVm, opts: GcOptions): number {
  const since = parseCreatedOn(vm.createdOn) ?? opts.firstSeenMs?.get(vm.identifier) ?? opts.nowMs;
  return Math.max(0, (opts.nowMs - since) / 1000);
}

/** What `vm` is to this cluster, given every VPSieNode of the cluster (all namespaces). */
export function classifyVm(vm: GcVm, vpsieNodes: readonly GcVPSieNode[], opts: GcOptions): MachineClassification {
  if (vm.deleted) return { verdict: 'Deleted' };
  const notes = parseNotes(vm.notes);
  const requestId = notes[REQUEST_ID_NOTE_KEY];
  if (!requestId) return { verdict: 'Foreign' };
  const owner = notes[VPSIENODE_NOTE_KEY];
  const ref = owner ? { vpsieNode: owner } : {};
  if (opts.namespace && (owner === undefined || owner.split('/')[0] !== opts.namespace)) return { verdict: 'OutOfScope', requestId, ...ref };
  const cluster = notes[CLUSTER_NOTE_KEY];
  if (cluster === undefined) return { verdict: 'NoClusterIdentity', requestId, ...ref };
  if (cluster !== opts.clusterId) return { verdict: 'OtherCluster', requestId, ...ref };
  const ageSeconds = ageOf(vm, opts);
  const owned = { verdict: 'Owned' as const, requestId, ...ref, ageSeconds };
  if (vpsieNodes.some((n) => n.vpsieIdentifier === vm.identifier)) return owned;
  if (vpsieNodes.some((n) => n.vpsieIdentifier === undefined && n.hostname !== undefined && n.hostname === vm.hostname)) return owned;
  const requester = vpsieNodes.find((n) => n.uid === requestId);
  if (requester && requester.vpsieIdentifier === undefined) return owned;
  const garbage =
    requester?.vpsieIdentifier !== undefined
      ? { verdict: 'Duplicate' as const, requestId, ...ref, recordedIdentifier: requester.vpsieIdentifier, ageSeconds }
      : { verdict: 'Leaked' as const, requestId, ...ref, ageSeconds };
  return ageSeconds < opts.graceSeconds ? { ...garbage, verdict: 'Young' } : garbage;
}

/**
 * The garbage among `vms` given every VPSieNode of the cluster (all namespaces: a machine is
 * leaked only if NO VPSieNode anywhere owns it). With `namespace` set, only machines whose notes
 * name a VPSieNode of that namespace, and only VPSieNodes of it, are considered.
 */
export function findGarbage(vms: readonly GcVm[], vpsieNodes: readonly GcVPSieNode[], opts: GcOptions): GarbageReport {
  const pct = opts.maxDeletePercent ?? DEFAULT_MAX_DELETE_PERCENT;
  const report: GarbageReport = {
    leaked: [],
    young: 0,
    owned: 0,
    foreign: 0,
    noClusterIdentity: 0,
    otherCluster: 0,
    clusterMachines: 0,
    vanished: [],
    missingOnce: [],
    missingUids: [],
    withheld: [],
  };
  const eligible: LeakedVm[] = [];
  for (const vm of vms) {
    const c = classifyVm(vm, vpsieNodes, opts);
    switch (c.verdict) {
      case 'Deleted':
      case 'OutOfScope':
        break;
      case 'Foreign':
        report.foreign += 1;
        break;
      case 'NoClusterIdentity':
        report.noClusterIdentity += 1;
        break;
      case 'OtherCluster':
        report.otherCluster += 1;
        break;
      case 'Owned':
        report.owned += 1;
        report.clusterMachines += 1;
        break;
      case 'Young':
        report.young += 1;
        report.clusterMachines += 1;
        break;
      case 'Leaked':
      case 'Duplicate':
        report.clusterMachines += 1;
        eligible.push({
          identifier: vm.identifier,
          hostname: vm.hostname,
          reason: c.verdict,
          requestId: c.requestId!,
          clusterId: opts.clusterId,
          ...(c.vpsieNode ? { vpsieNode: c.vpsieNode } : {}),
          ...(c.recordedIdentifier ? { recordedIdentifier: c.recordedIdentifier } : {}),
          ageSeconds: Math.round(c.ageSeconds ?? 0),
        });
        break;
    }
  }
  eligible.sort((a, b) => b.ageSeconds - a.ageSeconds || (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
  const allowedVms = deletionAllowance(report.clusterMachines, pct);
  report.leaked = eligible.slice(0, allowedVms);
  if (eligible.length > allowedVms)
    report.withheld.push({
      reason: 'DeletionCapReached',
      kind: 'vps',
      eligible: eligible.length,
      allowed: allowedVms,
      population: report.clusterMachines,
      maxDeletePercent: pct,
      withheld: eligible.slice(allowedVms).map((l) => l.identifier),
    });

  const live = vms.filter((v) => !v.deleted);
  const byRequest = new Set(live.map((v) => parseNotes(v.notes)[REQUEST_ID_NOTE_KEY]).filter((x): x is string => x !== undefined));
  const byIdentifier = new Set(live.map((v) => v.identifier));
  const watched = vpsieNodes.filter((n) => (!opts.namespace || n.namespace === opts.namespace) && n.phase === 'Ready' && n.joinMethod === 'UserData');
  const missing: VanishedNode[] = [];
  for (const n of watched) {
    if (byRequest.has(n.uid) || (n.vpsieIdentifier !== undefined && byIdentifier.has(n.vpsieIdentifier))) continue;
    const ref = { namespace: n.namespace, name: n.name, uid: n.uid };
    report.missingUids.push(n.uid);
    if (opts.previouslyMissing?.has(n.uid)) missing.push(ref);
    else report.missingOnce.push(ref);
  }
  const allowedNodes = deletionAllowance(watched.length, pct);
  report.vanished = missing.slice(0, allowedNodes);
  if (missing.length > allowedNodes)
    report.withheld.push({
      reason: 'DeletionCapReached',
      kind: 'vpsienode',
      eligible: missing.length,
      allowed: allowedNodes,
      population: watched.length,
      maxDeletePercent: pct,
      withheld: missing.slice(allowedNodes).map((n) => `${n.namespace}/${n.name}`),
    });
  return report;
}

/** The typed verdict of one garbage-collection run (its DecisionReason search attribute). */
export type GarbageCollectionVerdict = 'GarbageDeleted' | 'OrphanNodesReported' | 'WithheldByCap' | 'NoGarbage';

/**
 * The verdict of a run from what it did: machines deleted, VPSieNodes ended or orphan Nodes deleted
 * is GarbageDeleted; else orphan Nodes seen or waiting out their grace is OrphanNodesReported; else
 * garbage the per-run cap left for later is WithheldByCap; else NoGarbage.
 */
export function garbageCollectionVerdict(r: {
  leakedDeleted: readonly string[];
  vanishedEnded: readonly string[];
  withheld?: readonly unknown[];
  orphanNodes?: { newlySeen: readonly string[]; waiting: readonly string[]; deleted: readonly string[] };
}): GarbageCollectionVerdict {
  if (r.leakedDeleted.length > 0 || r.vanishedEnded.length > 0 || (r.orphanNodes?.deleted.length ?? 0) > 0) return 'GarbageDeleted';
  if ((r.orphanNodes?.newlySeen.length ?? 0) + (r.orphanNodes?.waiting.length ?? 0) > 0) return 'OrphanNodesReported';
  if ((r.withheld?.length ?? 0) > 0) return 'WithheldByCap';
  return 'NoGarbage';
}
