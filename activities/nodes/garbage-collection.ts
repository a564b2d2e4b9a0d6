/**
 * Activities of the garbage-collection workflow (workflows/nodes/garbage-collection.ts), run by a
 * Temporal schedule (starters/nodes/schedules.ts):
 * - a VPS instance of this cluster (notes carry `orchestrator-request-id=<VPSieNode uid>` and this
 *   cluster's identity `orchestrator-cluster=<id>`, see activities/nodes/cluster-identity.ts) that
 *   no VPSieNode anywhere owns (by identifier, hostname or request id), or that is a second machine
 *   of a VPSieNode which records another one (duplicate), older than the grace period, is deleted
 *   (`vpsie_autoscaler_garbage_collected_total{kind="vps"}`). Machines without the request id are
 *   someone else's; with another cluster's identity, another orchestrator's; with the request id
 *   but no cluster identity (made before #12), unowned: all three are counted
 *   (`vpsie_autoscaler_garbage_collection_machines{verdict}`) and never touched;
 * - a Ready VPSieNode (UserData join) whose machine is missing from two consecutive scans gets a
 *   Warning Event `VPSNotFound` and its object is deleted, so its lifecycle goes Terminating →
 *   Deleted (deleting a missing machine is a no-op) and its NodeGroup replaces it
 *   (`vpsie_autoscaler_garbage_collected_total{kind="vpsienode"}`);
 * - a SPARE ManagedKubernetes worker (decision/nodes/garbage-collection/workers.ts: a worker of a
 *   VPSie group the orchestrator uses that no claim Lease of an existing VPSieNode holds and no
 *   VPSieNode records, beyond the lowest-id ones kept for VPSieNodes with an outstanding intent,
 *   unclaimed past the grace period and in two consecutive scans) is deleted by the scan activity
 *   itself (`vpsie_autoscaler_garbage_collected_total{kind="worker"}`, a Warning Event
 *   `SpareWorkerDeleted` on the NodeGroups using the group), so the workflow runs the same
 *   activities as before. The groups used are the ones in scope named by a ManagedKubernetes
 *   NodeGroup (spec.join.groupIdentifier or status.vpsieGroupID, in spec.join.clusterIdentifier or
 *   VPSIE_CLUSTER_IDENTIFIER) or by a VPSieNode's claim Lease or intent annotation; never another
 *   group of the cluster (a group found per offering is known by its claims and intents only).
 *   Pointing a NodeGroup at a VPSie group hands its unclaimed workers to the orchestrator, which
 *   claims them or collects them. Without a ManagedKubernetes NodeGroup in scope no VPSie
 *   managed-cluster call is made; otherwise one "list workers" per cluster used (plus "list
 *   groups" where a NodeGroup names its group). Before deleting, the activity holds the worker (a
 *   claim Lease of its own, holder `vpsie-autoscaler-garbage-collection`, in every namespace using
 *   the group: no VPSieNode can claim it meanwhile; a crashed run's hold expires after 5 min and
 *   is removed), lists the claims and VPSieNodes again and deletes only a worker still unclaimed
 *   and not reserved; then it removes the Leases naming it whose holder is no VPSieNode. A failure
 *   of this pass is logged and reported (`spareWorkers.problems`), never fails the scan;
 * - one run deletes at most max(1, GC_MAX_DELETE_PERCENT % of the cluster's machines) machines,
 *   as many of its Ready VPSieNodes, and max(1, that share of the workers of the groups looked at)
 *   spare workers; the rest is reported (`DeletionCapReached`, logged,
 *   `vpsie_autoscaler_garbage_collection_withheld_total{kind}`) and left for the next run.
 * Every action re-checks its facts just before acting.
 *
 * Memory between runs, per worker process (lost on restart, which only delays collection): when a
 * machine without a creation date was first seen (its age), which VPSieNodes missed their
 * machine in the previous scan, and which workers the previous scan saw unclaimed since when.
 */
import * as k8s from '@kubernetes/client-node';
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod';
import {
  classifyVm,
  findGarbage,
  parseCreatedOn,
  type DeletionCap,
  type GarbageReport,
  type GcVPSieNode,
  type GcVm,
  type LeakedVm,
  type VanishedNode,
} from '../../decision/nodes/garbage-collection/garbage';
import {
  GC_WORKER_HOLDER,
  SPARE_WORKER_DELETED_REASON,
  findSpareWorkers,
  outstandingIntents,
  workerClaimLeaseName,
  workerStandings,
  type GcWorker,
  type GcWorkerGroup,
  type IntentNode,
  type KeptWorker,
  type SpareWorker,
  type WorkerClaim,
  type WorkerGroupTally,
} from '../../decision/nodes/garbage-collection/workers';
import { ORPHAN_SINCE_ANNOTATION, findOrphanNodes, type OrphanNode } from '../../decision/nodes/garbage-collection/orphans';
import { API_VERSION, GROUP, NODEGROUP_KIND, NODEGROUP_LABEL, NODEGROUP_PLURAL, VERSION, VPSIENODE_KIND, VPSIENODE_PLURAL } from '../../lib/crds/autoscaler';
import { audit } from '../../lib/audit';
import { recordEvent } from '../../lib/kube/events';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';
import { autoscalerMetrics } from '../../lib/metrics';
import type { OrchestratorDeps } from '../../workers/deps';
import { clusterIdentity } from './cluster-identity';
import { WORKER_CLAIM_LABEL, WORKER_IDENTIFIER_ANNOTATION, WORKER_INTENT_ANNOTATION } from './lifecycle/machines';

export interface GcScanInput {
  /** Only this namespace's VPSieNodes and machines ('' = all). */
  namespace: string;
  graceSeconds: number;
  /** Overrides GC_MAX_DELETE_PERCENT. */
  maxDeletePercent?: number;
  /** Overrides GC_ORPHAN_NODE_GRACE_SECONDS. */
  orphanNodeGraceSeconds?: number;
}

/** What the orphan-Node pass of one scan saw and did (decision/nodes/garbage-collection/orphans.ts). */
export interface OrphanNodeScan {
  graceSeconds: number;
  /** Orphans seen for the first time (marked, reported). */
  newlySeen: OrphanNode[];
  /** Orphans within the grace period. */
  waiting: OrphanNode[];
  /** Orphan Nodes deleted, with the VPS deleted with them (when one was found and was this cluster's garbage). */
  deleted: (OrphanNode & { vpsDeleted?: string })[];
  /** Marked Nodes a VPSieNode names again (unmarked). */
  adopted: string[];
  problems: string[];
}

/** What the spare-worker pass of one scan saw and did (see the header). */
export interface SpareWorkerScan {
  /** Set when the pass made no VPSie managed-cluster call at all. */
  skipped?: 'NoManagedKubernetesNodeGroup';
  /** Per VPSie group looked at: workers, claimed, recorded, unclaimed, outstanding intents, reserved, eligible. */
  groups: WorkerGroupTally[];
  /** Workers left alone, and why (Claimed, Recorded, ReservedForIntent, Young, FirstSighting). */
  kept: KeptWorker[];
  /** Spare workers deleted by this scan. */
  deleted: SpareWorker[];
  /** Spares chosen but not deleted: claimed or reserved at the re-check, already gone, or the delete failed. */
  notDeleted: { identifier: string; groupId: number; outcome: 'NoLongerSpare' | 'AlreadyGone' | 'Failed'; detail: string }[];
  /** What the per-run cap left for the next run (also in the report's `withheld`). */
  withheld: DeletionCap[];
  /** What could not be read (a cluster, a NodeGroup's group reference): those groups are left alone this scan. */
  problems: string[];
}

export interface GcScanResult extends GarbageReport {
  clusterId: string;
  spareWorkers: SpareWorkerScan;
  orphanNodes?: OrphanNodeScan;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** How long the Lease garbage collection holds on a worker it is deleting stays valid (a crashed run's expires). */
const GC_HOLD_SECONDS = 300;
const CLUSTER_ANNOTATION = `${GROUP}/cluster`;
const NUMERIC_ID = /^[0-9]{1,15}$/;

/** The parts of a join (NodeGroup or VPSieNode spec.join) this pass reads; anything else passes. */
const LooseJoinSchema = z.looseObject({
  method: z.string().optional(),
  clusterIdentifier: z.string().optional(),
  groupIdentifier: z.string().optional(),
});
const GcNodeGroupSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().default('') }),
  spec: z.looseObject({ join: LooseJoinSchema.optional() }).optional(),
  status: z.looseObject({ vpsieGroupID: z.string().optional() }).optional(),
});
/** Lenient on purpose: a VPSieNode must never be missed as a claim holder because some other field is odd. */
const GcManagedNodeSchema = z.looseObject({
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string().default(''),
    uid: z.string().min(1),
    deletionTimestamp: z.unknown().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.looseObject({ nodeGroupName: z.string().optional(), vpsieIdentifier: z.string().optional(), join: LooseJoinSchema.optional() }).optional(),
});

interface ManagedNode extends IntentNode {
  namespace: string;
  name: string;
  nodeGroupName?: string;
  joinMethod?: string;
  clusterIdentifier?: string;
}

interface ClaimLease extends WorkerClaim {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion?: string;
  groupId: number;
  clusterIdentifier?: string;
  /** renewTime + leaseDurationSeconds, when both are set (GC's own Leases carry them). */
  expiresAtMs?: number;
}

/** A VPSie group the orchestrator uses, with who uses it. */
interface UsedGroup {
  clusterIdentifier: string;
  groupId: number;
  /** Namespaces whose VPSieNodes may claim its workers (the claim Leases live there). */
  namespaces: Set<string>;
  /** `namespace/name` of the NodeGroups using it (the Event goes to them). */
  nodeGroups: Set<string>;
}

function micro(ms: number): k8s.V1MicroTime {
  return new k8s.V1MicroTime(ms);
}

function timeMs(t: unknown): number | undefined {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export function createGarbageCollectionActivities(deps: Pick<OrchestratorDeps, 'kc' | 'vpsie' | 'registry' | 'config'>) {
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  const log = logger('garbage-collection');
  /** identifier → when this process first saw a machine without a (parsable) creation date. */
  const firstSeen = new Map<string, number>();
  /** scope (namespace, '' = all) → uids of the VPSieNodes missing their machine in the previous scan. */
  const missing = new Map<string, ReadonlySet<string>>();
  /** scope → workers the previous scan saw unclaimed (`workerKey` → when first seen unclaimed). */
  const unclaimedSince = new Map<string, ReadonlyMap<string, number>>();
  const coordination = deps.kc.makeApiClient(k8s.CoordinationV1Api);

  async function allVPSieNodes(): Promise<GcVPSieNode[]> {
    const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: VPSIENODE_PLURAL })) as { items?: Record<string, unknown>[] };
    return (list.items ?? []).map((o) => {
      const meta = (o.metadata ?? {}) as Record<string, unknown>;
      const spec = (o.spec ?? {}) as Record<string, unknown>;
      const status = (o.status ?? {}) as Record<string, unknown>;
      const join = (spec.join ?? {}) as Record<string, unknown>;
      const n: GcVPSieNode = { namespace: str(meta.namespace) ?? '', name: str(meta.name) ?? '', uid: str(meta.uid) ?? '', joinMethod: str(join.method) ?? '' };
      const phase = str(status.phase);
      if (phase) n.phase = phase;
      const nodeName = str(status.nodeName);
      if (nodeName) n.nodeName = nodeName;
      const id = str(spec.vpsieIdentifier);
      if (id) n.vpsieIdentifier = id;
      const hostname = str(spec.hostname);
      if (hostname) n.hostname = hostname;
      return n;
    });
  }

  async function allVms(): Promise<GcVm[]> {
    return (await deps.vpsie.listAllVms()).map((vm) => ({
      identifier: vm.identifier,
      hostname: vm.hostname,
      notes: vm.notes,
      ...(vm.created_on ? { createdOn: vm.created_on } : {}),
      deleted: vm.is_deleted === 1 || vm.is_terminated === 1,
    }));
  }

  // ---- spare ManagedKubernetes workers ------------------------------------------------------

  async function nodeGroups(): Promise<z.output<typeof GcNodeGroupSchema>[]> {
    const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: NODEGROUP_PLURAL })) as { items?: unknown[] };
    return (list.items ?? []).flatMap((o) => {
      const p = GcNodeGroupSchema.safeParse(o);
      return p.success ? [p.data] : [];
    });
  }

  /** Every VPSieNode (all namespaces); throws if one cannot be read at all (its claims would look stale). */
  async function managedNodes(): Promise<ManagedNode[]> {
    const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: VPSIENODE_PLURAL })) as { items?: unknown[] };
    return (list.items ?? []).map((o) => {
      const p = GcManagedNodeSchema.safeParse(o);
      if (!p.success) throw new Error(`a VPSieNode without name/uid was listed: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const { metadata: m, spec } = p.data;
      const intent = m.annotations?.[WORKER_INTENT_ANNOTATION];
      return {
        namespace: m.namespace,
        name: m.name,
        uid: m.uid,
        deleting: m.deletionTimestamp !== undefined && m.deletionTimestamp !== null,
        ...(intent !== undefined ? { intent } : {}),
        ...(spec?.vpsieIdentifier ? { vpsieIdentifier: spec.vpsieIdentifier } : {}),
        ...(spec?.nodeGroupName ? { nodeGroupName: spec.nodeGroupName } : {}),
        ...(spec?.join?.method ? { joinMethod: spec.join.method } : {}),
        ...(spec?.join?.clusterIdentifier ? { clusterIdentifier: spec.join.clusterIdentifier } : {}),
      };
    });
  }

  /** Every worker claim Lease (all namespaces), GC's own included. */
  async function claimLeases(): Promise<ClaimLease[]> {
    const list = await coordination.listLeaseForAllNamespaces({ labelSelector: WORKER_CLAIM_LABEL });
    return list.items.flatMap((l): ClaimLease[] => {
      const groupLabel = l.metadata?.labels?.[WORKER_CLAIM_LABEL];
      const identifier = l.metadata?.annotations?.[WORKER_IDENTIFIER_ANNOTATION];
      const holder = l.spec?.holderIdentity;
      if (!groupLabel || !NUMERIC_ID.test(groupLabel) || !identifier || !holder || !l.metadata?.name || !l.metadata.uid) return [];
      const renewed = timeMs(l.spec?.renewTime);
      const duration = l.spec?.leaseDurationSeconds;
      const cluster = l.metadata.annotations?.[CLUSTER_ANNOTATION];
      return [
        {
          namespace: l.metadata.namespace ?? '',
          name: l.metadata.name,
          uid: l.metadata.uid,
          ...(l.metadata.resourceVersion ? { resourceVersion: l.metadata.resourceVersion } : {}),
          groupId: Number(groupLabel),
          identifier,
          holder,
          ...(cluster ? { clusterIdentifier: cluster } : {}),
          ...(renewed !== undefined && duration !== undefined ? { expiresAtMs: renewed + duration * 1000 } : {}),
        },
      ];
    });
  }

  async function deleteLease(l: { namespace: string; name: string; uid: string }): Promise<void> {
    try {
      await coordination.deleteNamespacedLease({ name: l.name, namespace: l.namespace, body: { preconditions: { uid: l.uid } } });
    } catch (err) {
      const code = apiStatus(err);
      if (code !== 404 && code !== 409) throw err;
    }
  }

  /**
   * Holds `spare` for deletion in `namespace`: creates its claim Lease with GC as holder, so no
   * VPSieNode claims it while it is being deleted (creating a claim is atomic). 'present' when a
   * Lease of that name exists already (a claim, or a stale one): the re-check decides.
   */
  async function holdWorker(
    namespace: string,
    spare: SpareWorker,
  ): Promise<{ state: 'created'; lease: { namespace: string; name: string; uid: string } } | { state: 'present' }> {
    const name = workerClaimLeaseName(spare.identifier);
    const now = Date.now();
    try {
      const l = await coordination.createNamespacedLease({
        namespace,
        body: {
          metadata: {
            name,
            namespace,
            labels: { [WORKER_CLAIM_LABEL]: String(spare.groupId) },
            annotations: { [WORKER_IDENTIFIER_ANNOTATION]: spare.identifier, [CLUSTER_ANNOTATION]: spare.clusterIdentifier },
          },
          spec: { holderIdentity: GC_WORKER_HOLDER, leaseDurationSeconds: GC_HOLD_SECONDS, acquireTime: micro(now), renewTime: micro(now) },
        },
      });
      return { state: 'created', lease: { namespace, name, uid: l.metadata?.uid ?? '' } };
    } catch (err) {
      if (apiStatus(err) === 409) return { state: 'present' };
      throw err;
    }
  }

  /** The VPSie groups the orchestrator uses in `scope`, each with its listed workers; problems are reported, not thrown. */
  async function usedGroupsAndWorkers(
    scope: string,
    ngs: z.output<typeof GcNodeGroupSchema>[],
    nodes: ManagedNode[],
    claims: ClaimLease[],
    problems: string[],
  ): Promise<{ used: Map<string, UsedGroup>; workers: Map<string, GcWorker[]> }> {
    const inScope = (ns: string) => !scope || ns === scope;
    const defaultCluster = deps.config.VPSIE_CLUSTER_IDENTIFIER;
    const managedNg = ngs.filter((g) => (g.spec?.join?.method ?? deps.config.DEFAULT_JOIN_METHOD) === 'ManagedKubernetes');
    const ngCluster = (ns: string, name: string | undefined): string | undefined =>
      managedNg.find((g) => g.metadata.namespace === ns && g.metadata.name === name)?.spec?.join?.clusterIdentifier;
    const used = new Map<string, UsedGroup>();
    const use = (cluster: string, groupId: number): UsedGroup => {
      const key = `${cluster}#${groupId}`;
      let g = used.get(key);
      if (!g) used.set(key, (g = { clusterIdentifier: cluster, groupId, namespaces: new Set(), nodeGroups: new Set() }));
      return g;
    };
    // NodeGroups naming a group (by id, identifier or name: resolved against the cluster's groups).
    const refs = new Map<string, { namespace: string; name: string; ref: string }[]>();
    for (const g of managedNg) {
      const ref = g.spec?.join?.groupIdentifier ?? g.status?.vpsieGroupID;
      const cluster = g.spec?.join?.clusterIdentifier ?? defaultCluster;
      if (ref === undefined) continue; // a group found per offering: known by its claims and intents only
      if (!cluster) {
        if (inScope(g.metadata.namespace))
          problems.push(
            `NodeGroup ${g.metadata.namespace}/${g.metadata.name}: no cluster identifier (spec.join.clusterIdentifier or VPSIE_CLUSTER_IDENTIFIER)`,
          );
        continue;
      }
      const list = refs.get(cluster) ?? [];
      list.push({ namespace: g.metadata.namespace, name: g.metadata.name, ref });
      refs.set(cluster, list);
    }
    const byUid = new Map(nodes.map((n) => [n.uid, n]));
    // Claims and intents of VPSieNodes (ManagedKubernetes only).
    for (const c of claims) {
      if (c.holder === GC_WORKER_HOLDER) continue;
      const holder = byUid.get(c.holder);
      const cluster = c.clusterIdentifier ?? holder?.clusterIdentifier ?? defaultCluster;
      if (!cluster) continue;
      const g = inScope(c.namespace) ? use(cluster, c.groupId) : used.get(`${cluster}#${c.groupId}`);
      if (holder?.nodeGroupName) g?.nodeGroups.add(`${holder.namespace}/${holder.nodeGroupName}`);
    }
    for (const n of nodes) {
      if (n.joinMethod !== 'ManagedKubernetes' || n.intent === undefined || !NUMERIC_ID.test(n.intent) || !inScope(n.namespace)) continue;
      const cluster = n.clusterIdentifier ?? ngCluster(n.namespace, n.nodeGroupName) ?? defaultCluster;
      if (!cluster) continue;
      const g = use(cluster, Number(n.intent));
      if (n.nodeGroupName) g.nodeGroups.add(`${n.namespace}/${n.nodeGroupName}`);
    }
    const clusters = new Set([
      ...[...used.values()].map((g) => g.clusterIdentifier),
      ...[...refs.entries()].filter(([, r]) => r.some((x) => inScope(x.namespace))).map(([c]) => c),
    ]);
    const workers = new Map<string, GcWorker[]>();
    for (const cluster of clusters) {
      try {
        const named = refs.get(cluster) ?? [];
        if (named.length > 0) {
          const groups = await deps.vpsie.listNodeGroups(cluster);
          for (const r of named) {
            const g = groups.find((x) => String(x.id) === r.ref || x.identifier === r.ref || x.group_name === r.ref);
            if (!g) {
              if (inScope(r.namespace)) problems.push(`NodeGroup ${r.namespace}/${r.name}: no VPSie node group '${r.ref}' in cluster ${cluster}`);
              continue;
            }
            const u = inScope(r.namespace) ? use(cluster, g.id) : used.get(`${cluster}#${g.id}`);
            u?.nodeGroups.add(`${r.namespace}/${r.name}`);
            u?.namespaces.add(r.namespace);
          }
        }
        const ids = new Set([...used.values()].filter((g) => g.clusterIdentifier === cluster).map((g) => g.groupId));
        if (ids.size === 0) continue;
        const listed = await deps.vpsie.listClusterWorkers(cluster);
        for (const id of ids) workers.set(`${cluster}#${id}`, []);
        for (const w of listed) {
          if (w.identifier === undefined || w.identifier === '' || w.group_id === null || w.group_id === undefined || !ids.has(w.group_id)) continue;
          workers.get(`${cluster}#${w.group_id}`)?.push({
            identifier: w.identifier,
            id: w.id,
            hostname: w.hostname,
            ...(w.created_on ? { createdOn: w.created_on } : {}),
          });
        }
      } catch (err) {
        problems.push(`cluster ${cluster}: ${err instanceof Error ? err.message : String(err)}`);
        for (const [key, g] of used) if (g.clusterIdentifier === cluster) workers.delete(key);
      }
    }
    return { used, workers };
  }

  /** Claims (fresh) of one group and the VPSieNodes' view of them, as the decision wants them. */
  function groupFor(u: UsedGroup, workers: GcWorkerGroup['workers'], claims: ClaimLease[], nodes: ManagedNode[]): GcWorkerGroup {
    const own = claims.filter((c) => c.groupId === u.groupId);
    return { clusterIdentifier: u.clusterIdentifier, groupId: u.groupId, workers, claims: own, outstandingIntents: outstandingIntents(u.groupId, nodes, own) };
  }

  /**
   * Deletes one spare: holds it (GC's claim Lease in every namespace using the group), lists the
   * claims and VPSieNodes again and deletes it only if it is still unclaimed and not reserved for
   * an intent; then removes the Leases naming it whose holder is no VPSieNode (stale ones, its own).
   */
  async function deleteSpare(spare: SpareWorker, u: UsedGroup, workers: GcWorkerGroup['workers'], scan: SpareWorkerScan): Promise<void> {
    const held: { namespace: string; name: string; uid: string }[] = [];
    try {
      for (const ns of u.namespaces) {
        const h = await holdWorker(ns, spare);
        if (h.state === 'created') held.push(h.lease);
      }
      const claims = await claimLeases();
      const nodes = await managedNodes();
      const holders = new Set(nodes.map((n) => n.uid));
      const recorded = new Set(nodes.flatMap((n) => (n.vpsieIdentifier ? [n.vpsieIdentifier] : [])));
      const group = groupFor(u, workers, claims, nodes);
      const now = workerStandings(group, { existingHolders: holders, recordedIdentifiers: recorded }).get(spare.identifier);
      if (!now || now.standing !== 'Unclaimed') {
        const detail = now?.standing === 'Claimed' ? `claimed by VPSieNode ${now.holder ?? '?'}` : `now ${now?.standing ?? 'unlisted'}`;
        scan.notDeleted.push({ identifier: spare.identifier, groupId: spare.groupId, outcome: 'NoLongerSpare', detail });
        log.info('not deleting a worker that is no longer a spare', { worker: spare.identifier, groupId: spare.groupId, detail });
        return;
      }
      const deleted = await deps.vpsie.deleteGroupWorker(spare.clusterIdentifier, spare.identifier);
      for (const c of claims) if (c.identifier === spare.identifier && !holders.has(c.holder)) await deleteLease(c);
      if (!deleted) {
        scan.notDeleted.push({ identifier: spare.identifier, groupId: spare.groupId, outcome: 'AlreadyGone', detail: 'VPSie no longer has it' });
        return;
      }
      scan.deleted.push(spare);
      metrics.garbageCollected.inc({ kind: 'worker' });
      const why =
        spare.reason === 'HolderGone'
          ? `its claim Lease's holder (${(spare.staleHolders ?? []).join(', ')}) is no VPSieNode`
          : 'no VPSieNode claims it (a worker added for a VPSieNode deleted before it claimed one, or a lost claim)';
      audit({
        action: 'SpareWorkerDeleted',
        decision: `worker:${spare.clusterIdentifier}/${spare.identifier}`,
        object: { kind: 'ManagedKubernetesWorker', name: spare.identifier },
        reason: spare.reason,
        numbers: { ageSeconds: spare.ageSeconds, groupId: spare.groupId, outstandingIntents: group.outstandingIntents },
        detail: `spare worker ${spare.identifier} (${spare.hostname ?? '?'}) of VPSie group ${spare.groupId} in cluster ${spare.clusterIdentifier}, NodeGroups ${[...u.nodeGroups].join(', ') || 'none'}: ${why}`,
      });
      log.warn(`deleted a spare ManagedKubernetes worker (${why})`, {
        worker: spare.identifier,
        hostname: spare.hostname,
        cluster: spare.clusterIdentifier,
        groupId: spare.groupId,
        reason: spare.reason,
        ageSeconds: spare.ageSeconds,
        ageFrom: spare.ageFrom,
        outstandingIntents: group.outstandingIntents,
        nodeGroups: [...u.nodeGroups],
      });
      for (const ref of u.nodeGroups) {
        const [namespace, name] = ref.split('/') as [string, string];
        await recordEvent(deps.kc, {
          target: { apiVersion: API_VERSION, kind: NODEGROUP_KIND, namespace, name },
          type: 'Warning',
          reason: SPARE_WORKER_DELETED_REASON,
          message:
            `garbage collection deleted spare worker ${spare.identifier} (${spare.hostname ?? '?'}) of VPSie group ${spare.groupId} in cluster ${spare.clusterIdentifier}, ` +
            `unclaimed, age ${spare.ageSeconds}s (from ${spare.ageFrom === 'created' ? 'its creation' : 'first sighting'}): ${why}; ` +
            `${group.outstandingIntents} VPSieNode(s) waiting for a worker of the group`,
        });
      }
    } catch (err) {
      scan.notDeleted.push({
        identifier: spare.identifier,
        groupId: spare.groupId,
        outcome: 'Failed',
        detail: err instanceof Error ? err.message : String(err),
      });
      log.warn('could not delete a spare worker; the next run tries again', { worker: spare.identifier, groupId: spare.groupId, error: String(err) });
    } finally {
      for (const l of held)
        await deleteLease(l).catch((e: unknown) =>
          log.warn('could not remove the hold on a worker (it expires)', { lease: `${l.namespace}/${l.name}`, error: String(e) }),
        );
    }
  }

  /** The spare-worker pass of a scan (see the header). Never throws: what failed is in `problems`. */
  async function spareWorkerPass(scope: string, graceSeconds: number, maxDeletePercent: number): Promise<SpareWorkerScan> {
    const scan: SpareWorkerScan = { groups: [], kept: [], deleted: [], notDeleted: [], withheld: [], problems: [] };
    try {
      const ngs = await nodeGroups();
      const managed = ngs.some(
        (g) => (!scope || g.metadata.namespace === scope) && (g.spec?.join?.method ?? deps.config.DEFAULT_JOIN_METHOD) === 'ManagedKubernetes',
      );
      if (!managed) {
        unclaimedSince.delete(scope);
        return { ...scan, skipped: 'NoManagedKubernetesNodeGroup' };
      }
      const nowMs = Date.now();
      const initial = await claimLeases();
      // GC's own holds left by a crashed run: expired ones are removed.
      for (const c of initial) if (c.holder === GC_WORKER_HOLDER && c.expiresAtMs !== undefined && c.expiresAtMs < nowMs) await deleteLease(c);
      const { used, workers } = await usedGroupsAndWorkers(scope, ngs, await managedNodes(), initial, scan.problems);
      // Claims and VPSieNodes listed again AFTER the workers: a worker listed is never judged by older claims.
      const claims = await claimLeases();
      const nodes = await managedNodes();
      for (const c of claims) {
        const u = [...used.values()].find((g) => g.groupId === c.groupId);
        if (u && c.holder !== GC_WORKER_HOLDER) u.namespaces.add(c.namespace);
      }
      for (const n of nodes) {
        const u = n.intent !== undefined ? [...used.values()].find((g) => String(g.groupId) === n.intent) : undefined;
        u?.namespaces.add(n.namespace);
      }
      const groups = [...used.entries()].flatMap(([key, u]) => {
        const ws = workers.get(key);
        return ws ? [groupFor(u, ws, claims, nodes)] : [];
      });
      const report = findSpareWorkers(groups, {
        nowMs,
        graceSeconds,
        existingHolders: new Set(nodes.map((n) => n.uid)),
        recordedIdentifiers: new Set(nodes.flatMap((n) => (n.vpsieIdentifier ? [n.vpsieIdentifier] : []))),
        unclaimedSinceMs: unclaimedSince.get(scope) ?? new Map(),
        maxDeletePercent,
      });
      unclaimedSince.set(scope, new Map(Object.entries(report.unclaimedSinceMs)));
      scan.groups = report.groups;
      scan.kept = report.kept;
      scan.withheld = report.withheld;
      log.info('spare-worker scan', {
        namespace: scope || '*',
        groups: report.groups.length,
        workers: report.groups.reduce((n, g) => n + g.workers, 0),
        unclaimed: report.groups.reduce((n, g) => n + g.unclaimed, 0),
        reserved: report.groups.reduce((n, g) => n + g.reserved, 0),
        spares: report.spares.length,
        withheld: report.withheld.reduce((n, w) => n + w.withheld.length, 0),
        problems: scan.problems,
      });
      for (const spare of report.spares) {
        const key = `${spare.clusterIdentifier}#${spare.groupId}`;
        await deleteSpare(spare, used.get(key)!, workers.get(key) ?? [], scan);
      }
    } catch (err) {
      // What this scan saw is unknown: the next one starts the two-scan count afresh.
      unclaimedSince.delete(scope);
      scan.problems.push(err instanceof Error ? err.message : String(err));
      log.warn('spare-worker pass failed; the next run tries again', { namespace: scope || '*', error: String(err) });
    }
    return scan;
  }

  // ---- orphan Nodes ------------------------------------------------------------------------

  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const orphanGauge =
    (deps.registry.getSingleMetric('vpsie_autoscaler_orphan_nodes') as Gauge | undefined) ??
    new Gauge({
      name: 'vpsie_autoscaler_orphan_nodes',
      help: 'Nodes labelled for a NodeGroup that no VPSieNode names, at the last garbage-collection scan (within their grace period or just deleted).',
      registers: [deps.registry],
    });
  const orphanSeen =
    (deps.registry.getSingleMetric('vpsie_autoscaler_orphan_nodes_detected_total') as Counter | undefined) ??
    new Counter({
      name: 'vpsie_autoscaler_orphan_nodes_detected_total',
      help: 'Orphan Nodes (labelled for a NodeGroup, no VPSieNode names them) seen for the first time, by NodeGroup.',
      labelNames: ['nodegroup'],
      registers: [deps.registry],
    });

  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  /**
   * Marks and reports new orphan Nodes, deletes the ones older than the grace period (re-checked
   * against a fresh VPSieNode listing first) with their VPS when it is this cluster's garbage by the
   * ownership rules, and unmarks Nodes named again. Never throws: what failed is in `problems`.
   */
  async function orphanNodePass(scope: string, graceSeconds: number, clusterId: string): Promise<OrphanNodeScan> {
    const scan: OrphanNodeScan = { graceSeconds, newlySeen: [], waiting: [], deleted: [], adopted: [], problems: [] };
    try {
      const nodes = (await core.listNode({ labelSelector: NODEGROUP_LABEL })).items;
      // Listed after the Nodes: a VPSieNode created in between names its Node.
      const vns = await allVPSieNodes();
      const groups = scope ? new Set((await nodeGroups()).filter((g) => g.metadata.namespace === scope).map((g) => g.metadata.name)) : undefined;
      const report = findOrphanNodes(
        nodes.map((n) => ({
          name: n.metadata?.name ?? '',
          labels: n.metadata?.labels ?? {},
          annotations: n.metadata?.annotations ?? {},
          ...(n.spec?.providerID ? { providerID: n.spec.providerID } : {}),
          deleting: n.metadata?.deletionTimestamp !== undefined,
        })),
        vns,
        { nowMs: Date.now(), graceSeconds, ...(groups ? { groups } : {}) },
      );
      scan.waiting = report.waiting;
      for (const o of report.newlySeen) {
        try {
          await core.patchNode(
            { name: o.name, body: { metadata: { annotations: { [ORPHAN_SINCE_ANNOTATION]: new Date(o.sinceMs).toISOString() } } } },
            mergePatch,
          );
        } catch (err) {
          if (apiStatus(err) === 404) continue;
          throw err;
        }
        scan.newlySeen.push(o);
        orphanSeen.inc({ nodegroup: o.nodeGroup });
        const message = `Node ${o.name} is labelled for NodeGroup ${o.nodeGroup} but no VPSieNode names it${o.vpsieIdentifier ? ` (VPS ${o.vpsieIdentifier})` : ''}; garbage collection deletes it after ${graceSeconds}s unless a VPSieNode claims it`;
        log.warn('orphan Node found', { node: o.name, nodegroup: o.nodeGroup, vps: o.vpsieIdentifier, graceSeconds });
        await recordEvent(deps.kc, { target: { apiVersion: 'v1', kind: 'Node', name: o.name }, type: 'Warning', reason: 'OrphanNode', message });
      }
      for (const name of report.adopted) {
        await core
          .patchNode({ name, body: { metadata: { annotations: { [ORPHAN_SINCE_ANNOTATION]: null } } } }, mergePatch)
          .catch((err: unknown) => scan.problems.push(`unmarking Node ${name}: ${String(err)}`));
        scan.adopted.push(name);
        log.info('a Node marked orphan is named by a VPSieNode again', { node: name });
      }
      if (report.expired.length > 0) {
        // Re-check against a fresh listing: a VPSieNode that appeared meanwhile keeps its Node.
        const fresh = await allVPSieNodes();
        const still = findOrphanNodes(
          nodes
            .filter((n) => report.expired.some((o) => o.name === n.metadata?.name))
            .map((n) => ({
              name: n.metadata?.name ?? '',
              labels: n.metadata?.labels ?? {},
              annotations: n.metadata?.annotations ?? {},
              ...(n.spec?.providerID ? { providerID: n.spec.providerID } : {}),
              deleting: false,
            })),
          fresh,
          { nowMs: Date.now(), graceSeconds },
        ).expired;
        for (const o of still) {
          const uid = nodes.find((n) => n.metadata?.name === o.name)?.metadata?.uid;
          try {
            await core.deleteNode({ name: o.name, body: uid ? { preconditions: { uid } } : {} });
          } catch (err) {
            const code = apiStatus(err);
            if (code === 404 || code === 409) continue;
            throw err;
          }
          const entry: OrphanNodeScan['deleted'][number] = { ...o };
          if (o.vpsieIdentifier) {
            const vm = await deps.vpsie.findVm({ identifier: o.vpsieIdentifier });
            if (vm && vm.is_deleted !== 1 && vm.is_terminated !== 1) {
              const c = classifyVm({ identifier: vm.identifier, hostname: vm.hostname, notes: vm.notes, deleted: false }, fresh, {
                nowMs: Date.now(),
                graceSeconds: 0,
                clusterId,
              });
              if ((c.verdict === 'Leaked' || c.verdict === 'Duplicate') && (await deps.vpsie.deleteVm(vm.identifier, 'orphan-node-garbage-collected'))) {
                entry.vpsDeleted = vm.identifier;
                metrics.garbageCollected.inc({ kind: 'vps' });
              } else log.info("the VPS of an orphan Node is not this cluster's garbage; left alone", { node: o.name, vps: vm.identifier, verdict: c.verdict });
            }
          }
          scan.deleted.push(entry);
          metrics.garbageCollected.inc({ kind: 'node' });
          const message = `garbage collection deleted orphan Node ${o.name} of NodeGroup ${o.nodeGroup}: no VPSieNode named it for ${o.ageSeconds}s (grace ${graceSeconds}s)${entry.vpsDeleted ? `; its VPS ${entry.vpsDeleted} was deleted too` : ''}`;
          audit({
            action: 'OrphanNodeDeleted',
            decision: `node:${uid ?? o.name}`,
            object: { kind: 'Node', name: o.name, ...(uid ? { uid } : {}) },
            reason: 'OrphanNode',
            numbers: { ageSeconds: o.ageSeconds, graceSeconds },
            ...(scope ? { nodegroup: `${scope}/${o.nodeGroup}` } : {}),
            nodes: [o.name],
            detail: message,
          });
          log.warn('deleted an orphan Node', { node: o.name, nodegroup: o.nodeGroup, ageSeconds: o.ageSeconds, vps: entry.vpsDeleted });
          await recordEvent(deps.kc, { target: { apiVersion: 'v1', kind: 'Node', name: o.name }, type: 'Warning', reason: 'OrphanNodeDeleted', message });
        }
      }
      orphanGauge.set(scan.newlySeen.length + scan.waiting.length);
    } catch (err) {
      scan.problems.push(err instanceof Error ? err.message : String(err));
      log.warn('orphan-Node pass failed; the next run tries again', { namespace: scope || '*', error: String(err) });
    }
    return scan;
  }

  return {
    /** Lists machines and VPSieNodes and names the garbage (decides nothing irreversible). */
    async gcScan(input: GcScanInput): Promise<GcScanResult> {
      const clusterId = await clusterIdentity(deps);
      // VPSieNodes are listed after the machines: a VPSieNode created in between cannot make a
      // machine look leaked, and a leaked machine's uid never comes back.
      const vms = await allVms();
      const vns = await allVPSieNodes();
      const nowMs = Date.now();
      const listed = new Set(vms.map((v) => v.identifier));
      for (const id of firstSeen.keys()) if (!listed.has(id)) firstSeen.delete(id);
      for (const v of vms) if (parseCreatedOn(v.createdOn) === undefined && !firstSeen.has(v.identifier)) firstSeen.set(v.identifier, nowMs);
      const scope = input.namespace;
      const previouslyMissing = missing.get(scope) ?? new Set<string>();
      const maxDeletePercent = input.maxDeletePercent ?? deps.config.GC_MAX_DELETE_PERCENT;
      const report = findGarbage(vms, vns, {
        nowMs,
        graceSeconds: input.graceSeconds,
        clusterId,
        firstSeenMs: firstSeen,
        previouslyMissing,
        maxDeletePercent,
        ...(scope ? { namespace: scope } : {}),
      });
      missing.set(scope, new Set(report.missingUids));
      // Spare ManagedKubernetes workers: decided and deleted here (re-checked one by one), so the
      // workflow runs the same activities in the same order as before.
      const spareWorkers = await spareWorkerPass(scope, input.graceSeconds, maxDeletePercent);
      report.withheld.push(...spareWorkers.withheld);
      const eligible = report.leaked.length + report.withheld.filter((w) => w.kind === 'vps').reduce((n, w) => n + w.withheld.length, 0);
      const gauge = metrics.garbageMachines;
      gauge.set({ verdict: 'owned' }, report.owned);
      gauge.set({ verdict: 'young' }, report.young);
      gauge.set({ verdict: 'eligible' }, eligible);
      gauge.set({ verdict: 'foreign' }, report.foreign);
      gauge.set({ verdict: 'no_cluster_identity' }, report.noClusterIdentity);
      gauge.set({ verdict: 'other_cluster' }, report.otherCluster);
      log.info('garbage-collection scan', {
        namespace: scope || '*',
        clusterId,
        machines: vms.length,
        clusterMachines: report.clusterMachines,
        vpsieNodes: vns.length,
        leaked: report.leaked.filter((l) => l.reason === 'Leaked').length,
        duplicates: report.leaked.filter((l) => l.reason === 'Duplicate').length,
        young: report.young,
        foreign: report.foreign,
        noClusterIdentity: report.noClusterIdentity,
        otherCluster: report.otherCluster,
        vanished: report.vanished.length,
        missingOnce: report.missingOnce.length,
      });
      if (report.noClusterIdentity > 0)
        log.info('machines with the orchestrator request id but no cluster identity (made before #12) are unowned and never collected', {
          count: report.noClusterIdentity,
        });
      for (const w of report.withheld) {
        metrics.garbageWithheld.inc({ kind: w.kind }, w.withheld.length);
        log.warn('garbage collection deletion cap reached; the rest waits for the next run', { ...w });
      }
      // Orphan Nodes: marked, reported and (after their grace) deleted here, like spare workers.
      const orphanNodes = await orphanNodePass(scope, input.orphanNodeGraceSeconds ?? deps.config.GC_ORPHAN_NODE_GRACE_SECONDS, clusterId);
      return { ...report, clusterId, spareWorkers, orphanNodes };
    },

    /**
     * Deletes a leaked or duplicate machine after classifying it again against a fresh read of it
     * and of every VPSieNode (it must still be this cluster's and still be garbage).
     */
    async gcDeleteLeakedVm(vm: LeakedVm): Promise<boolean> {
      const clusterId = await clusterIdentity(deps);
      const current = await deps.vpsie.findVm({ identifier: vm.identifier });
      if (!current || current.is_deleted === 1 || current.is_terminated === 1) return false;
      const vns = await allVPSieNodes();
      const again = classifyVm(
        { identifier: current.identifier, hostname: current.hostname, notes: current.notes, deleted: false },
        vns,
        // The age was checked by the scan; an undated machine has age 0 here, hence grace 0.
        { nowMs: Date.now(), graceSeconds: 0, clusterId },
      );
      if (again.verdict !== 'Leaked' && again.verdict !== 'Duplicate') {
        log.info('not deleting a machine that is no longer garbage', { vps: vm.identifier, verdict: again.verdict });
        return false;
      }
      const deleted = await deps.vpsie.deleteVm(vm.identifier, 'garbage-collected');
      if (deleted) {
        metrics.garbageCollected.inc({ kind: 'vps' });
        const why =
          again.verdict === 'Duplicate'
            ? `a duplicate: its VPSieNode records VPS ${again.recordedIdentifier ?? '?'}`
            : 'no VPSieNode has its identifier, hostname or request id';
        audit({
          action: 'LeakedVPSDeleted',
          decision: `vps:${vm.identifier}`,
          object: { kind: 'VPS', name: vm.identifier },
          reason: again.verdict,
          numbers: { ageSeconds: vm.ageSeconds },
          detail: `VPS ${vm.identifier} (${vm.hostname}, request id ${vm.requestId}${vm.vpsieNode ? `, VPSieNode ${vm.vpsieNode}` : ''}): ${why}`,
        });
        log.warn(`deleted a ${again.verdict === 'Duplicate' ? 'duplicate' : 'leaked'} VPS (${why})`, {
          vps: vm.identifier,
          hostname: vm.hostname,
          reason: again.verdict,
          requestId: vm.requestId,
          clusterId,
          vpsieNode: vm.vpsieNode,
          ageSeconds: vm.ageSeconds,
        });
        if (vm.vpsieNode?.includes('/')) {
          const [namespace, name] = vm.vpsieNode.split('/') as [string, string];
          await recordEvent(deps.kc, {
            target: { apiVersion: API_VERSION, kind: VPSIENODE_KIND, namespace, name },
            type: 'Warning',
            reason: 'VPSDeleted',
            message: `garbage collection deleted ${again.verdict === 'Duplicate' ? 'duplicate' : 'leaked'} VPS ${vm.identifier} (${vm.hostname}, request id ${vm.requestId}, age ${vm.ageSeconds}s): ${why}`,
          });
        }
      }
      return deleted;
    },

    /** A Ready VPSieNode whose machine vanished: Event and deletion of the object (its lifecycle ends it). */
    async gcMarkVanished(node: VanishedNode): Promise<boolean> {
      let obj: Record<string, unknown>;
      try {
        obj = (await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: node.namespace,
          plural: VPSIENODE_PLURAL,
          name: node.name,
        })) as Record<string, unknown>;
      } catch (err) {
        if (apiStatus(err) === 404) return false;
        throw err;
      }
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      const spec = (obj.spec ?? {}) as Record<string, unknown>;
      if (meta.uid !== node.uid || meta.deletionTimestamp !== undefined) return false;
      const identifier = str(spec.vpsieIdentifier);
      const vm = identifier ? await deps.vpsie.findVm({ identifier }) : await deps.vpsie.findVm({ requestId: node.uid });
      if (vm && vm.is_deleted !== 1 && vm.is_terminated !== 1) return false;
      await recordEvent(deps.kc, {
        target: { apiVersion: API_VERSION, kind: VPSIENODE_KIND, namespace: node.namespace, name: node.name, uid: node.uid },
        type: 'Warning',
        reason: 'VPSNotFound',
        message: `garbage collection: the VPS of this Ready VPSieNode (${identifier ?? `request id ${node.uid}`}) no longer exists; deleting the VPSieNode so its group replaces it`,
      });
      try {
        await custom.deleteNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: node.namespace,
          plural: VPSIENODE_PLURAL,
          name: node.name,
          body: { preconditions: { uid: node.uid } },
        });
      } catch (err) {
        const code = apiStatus(err);
        if (code === 404 || code === 409) return false;
        throw err;
      }
      metrics.garbageCollected.inc({ kind: 'vpsienode' });
      log.warn('deleted a Ready VPSieNode whose VPS vanished', { vpsieNode: `${node.namespace}/${node.name}`, vps: identifier });
      audit({
        action: 'VanishedVPSieNodeDeleted',
        decision: `vpsienode:${node.uid}`,
        object: { kind: VPSIENODE_KIND, namespace: node.namespace, name: node.name, uid: node.uid },
        reason: 'VPSNotFound',
        numbers: {},
        nodes: [node.name],
        detail: `the VPS of this Ready VPSieNode (${identifier ?? `request id ${node.uid}`}) no longer exists; its NodeGroup replaces it`,
      });
      return true;
    },
  };
}

export type GarbageCollectionActivities = ReturnType<typeof createGarbageCollectionActivities>;
