/**
 * Activities of the garbage-collection workflow (workflows/nodes/garbage-collection.ts), run by a
 * Temporal schedule (starters/nodes/schedules.ts):
 * - a VPS instance that is ours (notes carry `orchestrator-request-id=<VPSieNode uid>`) but whose
 *   VPSieNode no longer exists anywhere in the cluster, older than the grace period, is deleted
 *   (`vpsie_autoscaler_garbage_collected_total{kind="vps"}`); machines without that note are
 *   someone else's and never touched;
 * - a Ready VPSieNode (UserData join) whose machine vanished gets a Warning Event `VPSNotFound`
 *   and its object is deleted, so its lifecycle goes Terminating → Deleted (deleting a missing
 *   machine is a no-op) and its NodeGroup replaces it
 *   (`vpsie_autoscaler_garbage_collected_total{kind="vpsienode"}`).
 * Every action re-checks its facts just before acting.
 */
import * as k8s from '@kubernetes/client-node';
import {
  findGarbage,
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

export interface GcScanInput {
  /** Only this namespace's VPSieNodes and machines ('' = all). */
  namespace: string;
  graceSeconds: number;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function createGarbageCollectionActivities(deps: Pick<OrchestratorDeps, 'kc' | 'vpsie' | 'registry'>) {
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const metrics = autoscalerMetrics(deps.registry);
  const log = logger('garbage-collection');

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
    async gcScan(input: GcScanInput): Promise<GarbageReport> {
      // VPSieNodes are listed after the machines: a VPSieNode created in between cannot make a
      // machine look leaked, and a leaked machine's uid never comes back.
      const vms = await allVms();
      const vns = await allVPSieNodes();
      const report = findGarbage(vms, vns, { nowMs: Date.now(), graceSeconds: input.graceSeconds, ...(input.namespace ? { namespace: input.namespace } : {}) });
      log.info('garbage-collection scan', {
        namespace: input.namespace || '*',
        machines: vms.length,
        vpsieNodes: vns.length,
        leaked: report.leaked.length,
        young: report.young,
        foreign: report.foreign,
        vanished: report.vanished.length,
      });
      return report;
    },

    /** Deletes a leaked machine after checking again that no VPSieNode has its request id. */
    async gcDeleteLeakedVm(vm: LeakedVm): Promise<boolean> {
      const vns = await allVPSieNodes();
      if (vns.some((n) => n.uid === vm.requestId)) return false;
      const deleted = await deps.vpsie.deleteVm(vm.identifier, 'garbage-collected');
      if (deleted) {
        metrics.garbageCollected.inc({ kind: 'vps' });
        log.warn('deleted a leaked VPS (no VPSieNode has its request id)', {
          vps: vm.identifier,
          hostname: vm.hostname,
          requestId: vm.requestId,
          vpsieNode: vm.vpsieNode,
          ageSeconds: vm.ageSeconds,
        });
        if (vm.vpsieNode?.includes('/')) {
          const [namespace, name] = vm.vpsieNode.split('/') as [string, string];
          await recordEvent(deps.kc, {
            target: { apiVersion: API_VERSION, kind: VPSIENODE_KIND, namespace, name },
            type: 'Warning',
            reason: 'VPSDeleted',
            message: `garbage collection deleted leaked VPS ${vm.identifier} (${vm.hostname}, request id ${vm.requestId}, age ${vm.ageSeconds}s): no VPSieNode has its request id`,
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
