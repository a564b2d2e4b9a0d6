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
 * - one run deletes at most max(1, GC_MAX_DELETE_PERCENT % of the cluster's machines) machines and
 *   as many of its Ready VPSieNodes; the rest is reported (`DeletionCapReached`, logged,
 *   `vpsie_autoscaler_garbage_collection_withheld_total{kind}`) and left for the next run.
 * Every action re-checks its facts just before acting.
 *
 * Memory between runs, per worker process (lost on restart, which only delays collection): when a
 * machine without a creation date was first seen (its age), and which VPSieNodes missed their
 * machine in the previous scan.
 */
import * as k8s from '@kubernetes/client-node';
import {
  classifyVm,
  findGarbage,
  parseCreatedOn,
  type GarbageReport,
  type GcVPSieNode,
  type GcVm,
  type LeakedVm,
  type VanishedNode,
} from '../../decision/nodes/garbage-collection/garbage';
import { API_VERSION, GROUP, VERSION, VPSIENODE_KIND, VPSIENODE_PLURAL } from '../../lib/crds/autoscaler';
import { recordEvent } from '../../lib/kube/events';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';
import { autoscalerMetrics } from '../../lib/metrics';
import type { OrchestratorDeps } from '../../workers/deps';
import { clusterIdentity } from './cluster-identity';

export interface GcScanInput {
  /** Only this namespace's VPSieNodes and machines ('' = all). */
  namespace: string;
  graceSeconds: number;
  /** Overrides GC_MAX_DELETE_PERCENT. */
  maxDeletePercent?: number;
}

export interface GcScanResult extends GarbageReport {
  clusterId: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function createGarbageCollectionActivities(deps: Pick<OrchestratorDeps, 'kc' | 'vpsie' | 'registry' | 'config'>) {
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  const log = logger('garbage-collection');
  /** identifier → when this process first saw a machine without a (parsable) creation date. */
  const firstSeen = new Map<string, number>();
  /** scope (namespace, '' = all) → uids of the VPSieNodes missing their machine in the previous scan. */
  const missing = new Map<string, ReadonlySet<string>>();

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
      return { ...report, clusterId };
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
      return true;
    },
  };
}

export type GarbageCollectionActivities = ReturnType<typeof createGarbageCollectionActivities>;
