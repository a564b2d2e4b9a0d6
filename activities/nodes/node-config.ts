/**
 * A NodeGroup's labels and taints on its existing Nodes.
 *
 * A node gets the group's labels and taints when it joins (the join configuration). When
 * spec.labels / spec.taints change later, `applyNodeGroupNodeConfig` brings the group's existing
 * Nodes to the new set: labels and taints the group sets are added or updated, the ones it set
 * before and no longer has are removed, and everything else on the Node (labels and taints of
 * kubelet, the scheduler, drains, other controllers or people) is left alone.
 *
 * What the group set is recorded on the Node in the annotation
 * `autoscaler.vpsie.com/managed-node-config` (JSON `{labels: [keys], taints: ["key:effect"]}`),
 * written in the same patch as the change. A Node without the annotation (never applied to yet)
 * counts as managing what its machine joined with — recorded on its VPSieNode at creation
 * (`autoscaler.vpsie.com/join-node-config`, activities/nodes/lifecycle/machines.ts) — plus what the
 * group wants now; without that record either, only what the group wants now (nothing removed). Patches carry the Node's resourceVersion and are retried on a
 * conflict, so a taint written meanwhile by someone else is never lost.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { GROUP, NODEGROUP_LABEL, NODEGROUP_PLURAL, VERSION, VPSIENODE_PLURAL, nodeLabelsFor, safeParseNodeGroup } from '../../lib/crds/autoscaler';
import { apiStatus } from '../../lib/kube/api';
import { recordEvent } from '../../lib/kube/events';
import { logger } from '../../lib/log';
import type { OrchestratorDeps } from '../../workers/deps';
import { JOIN_NODE_CONFIG_ANNOTATION } from './lifecycle/machines';

export const MANAGED_NODE_CONFIG_ANNOTATION = `${GROUP}/managed-node-config`;

const ManagedSchema = z.object({ labels: z.array(z.string()).default([]), taints: z.array(z.string()).default([]) });
export type ManagedNodeConfig = z.output<typeof ManagedSchema>;

export interface TaintSpec {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface NodeConfigInput {
  namespace: string;
  name: string;
  /** The Nodes of the group's VPSieNodes (status.nodeName). */
  nodeNames: string[];
}

export interface NodeConfigResult {
  /** Nodes patched. */
  changed: string[];
  /** Nodes already as the group wants them. */
  unchanged: number;
  /** Named Nodes that do not exist (yet, or any more). */
  missing: number;
}

const taintId = (t: { key: string; effect: string }): string => `${t.key}:${t.effect}`;

/** The annotation's value, or undefined when absent or unreadable. */
export function readManaged(annotations: Record<string, string> | undefined): ManagedNodeConfig | undefined {
  const raw = annotations?.[MANAGED_NODE_CONFIG_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const r = ManagedSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export interface NodeConfigPlan {
  /** Label changes: a value to set, null to remove. Empty when nothing changes. */
  labels: Record<string, string | null>;
  /** The Node's full taint list after the change, when it changes. */
  taints?: TaintSpec[];
  managed: ManagedNodeConfig;
  /** True when the annotation must be (re)written. */
  annotate: boolean;
}

/** What to change on one Node so it carries the group's labels and taints (pure). */
export function planNodeConfig(
  node: { labels: Record<string, string>; taints: readonly TaintSpec[]; annotations: Record<string, string> | undefined },
  want: { labels: Record<string, string>; taints: readonly TaintSpec[] },
  /** What the node's machine joined with (its VPSieNode's join record), when known. */
  joined?: ManagedNodeConfig,
): NodeConfigPlan {
  const managedBefore = readManaged(node.annotations) ?? {
    labels: [...new Set([...Object.keys(want.labels), ...(joined?.labels ?? [])])],
    taints: [...new Set([...want.taints.map(taintId), ...(joined?.taints ?? [])])],
  };
  const labels: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want.labels)) if (node.labels[k] !== v) labels[k] = v;
  for (const k of managedBefore.labels) if (!(k in want.labels) && k in node.labels) labels[k] = null;
  const wantIds = new Set(want.taints.map(taintId));
  const dropIds = new Set(managedBefore.taints.filter((id) => !wantIds.has(id)));
  const kept = node.taints.filter((t) => !dropIds.has(taintId(t)) && !wantIds.has(taintId(t)));
  const next: TaintSpec[] = [...kept, ...want.taints.map((t) => ({ ...t }))];
  const same = (a: readonly TaintSpec[], b: readonly TaintSpec[]): boolean => {
    const f = (l: readonly TaintSpec[]) =>
      l
        .map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`)
        .sort()
        .join(',');
    return f(a) === f(b);
  };
  const managed: ManagedNodeConfig = { labels: Object.keys(want.labels).sort(), taints: [...wantIds].sort() };
  const before = readManaged(node.annotations);
  const annotate =
    before === undefined ||
    JSON.stringify(before.labels.slice().sort()) !== JSON.stringify(managed.labels) ||
    JSON.stringify(before.taints.slice().sort()) !== JSON.stringify(managed.taints);
  const out: NodeConfigPlan = { labels, managed, annotate };
  if (!same(node.taints, next)) out.taints = next;
  return out;
}

export function createNodeConfigActivities(deps: Pick<OrchestratorDeps, 'kc'>) {
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const log = logger('node-config');

  return {
    /** Brings the group's existing Nodes to its current spec.labels and spec.taints. */
    async applyNodeGroupNodeConfig(input: NodeConfigInput): Promise<NodeConfigResult> {
      let raw: unknown;
      try {
        raw = await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: input.namespace,
          plural: NODEGROUP_PLURAL,
          name: input.name,
        });
      } catch (e) {
        if (apiStatus(e) === 404) return { changed: [], unchanged: 0, missing: input.nodeNames.length };
        throw e;
      }
      const parsed = safeParseNodeGroup(raw);
      if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, 'InvalidConfiguration');
      const ng = parsed.value;
      const want = {
        labels: nodeLabelsFor(ng),
        taints: (ng.spec.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
      };
      // The join records of the group's VPSieNodes, by the Node they name.
      const joinedByNode = new Map<string, ManagedNodeConfig>();
      const vns = (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: input.namespace,
        plural: VPSIENODE_PLURAL,
        labelSelector: `${NODEGROUP_LABEL}=${input.name}`,
      })) as { items?: { metadata?: { annotations?: Record<string, string> }; status?: { nodeName?: string } }[] };
      for (const vn of vns.items ?? []) {
        const nodeName = vn.status?.nodeName;
        const raw = vn.metadata?.annotations?.[JOIN_NODE_CONFIG_ANNOTATION];
        if (!nodeName || raw === undefined) continue;
        const rec = readManaged({ [MANAGED_NODE_CONFIG_ANNOTATION]: raw });
        if (rec) joinedByNode.set(nodeName, rec);
      }
      const result: NodeConfigResult = { changed: [], unchanged: 0, missing: 0 };
      for (const name of [...new Set(input.nodeNames)].sort()) {
        let done = false;
        for (let attempt = 0; attempt < 5 && !done; attempt++) {
          let node: k8s.V1Node;
          try {
            node = await core.readNode({ name });
          } catch (e) {
            if (apiStatus(e) === 404) {
              result.missing++;
              done = true;
              break;
            }
            throw e;
          }
          if (node.metadata?.deletionTimestamp) {
            done = true;
            break;
          }
          const plan = planNodeConfig(
            {
              labels: node.metadata?.labels ?? {},
              taints: (node.spec?.taints ?? []).map((t) => ({
                key: t.key,
                effect: t.effect as TaintSpec['effect'],
                ...(t.value !== undefined ? { value: t.value } : {}),
              })),
              annotations: node.metadata?.annotations,
            },
            want,
            joinedByNode.get(name),
          );
          if (Object.keys(plan.labels).length === 0 && plan.taints === undefined && !plan.annotate) {
            result.unchanged++;
            done = true;
            break;
          }
          const body: Record<string, unknown> = {
            metadata: {
              resourceVersion: node.metadata?.resourceVersion,
              labels: plan.labels,
              annotations: { [MANAGED_NODE_CONFIG_ANNOTATION]: JSON.stringify(plan.managed) },
            },
            ...(plan.taints !== undefined ? { spec: { taints: plan.taints } } : {}),
          };
          try {
            await core.patchNode({ name, body }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
          } catch (e) {
            if (apiStatus(e) === 409) continue;
            if (apiStatus(e) === 404) {
              result.missing++;
              done = true;
              break;
            }
            throw e;
          }
          done = true;
          if (Object.keys(plan.labels).length > 0 || plan.taints !== undefined) {
            result.changed.push(name);
            const removed = Object.entries(plan.labels)
              .filter(([, v]) => v === null)
              .map(([k]) => k);
            const set = Object.entries(plan.labels)
              .filter(([, v]) => v !== null)
              .map(([k]) => k);
            const message = `NodeGroup ${input.namespace}/${input.name} labels/taints applied: labels set [${set.join(', ')}], removed [${removed.join(', ')}]${plan.taints !== undefined ? `; taints now [${plan.taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`).join(', ')}]` : ''}`;
            log.info('node labels/taints updated to the NodeGroup spec', {
              nodegroup: `${input.namespace}/${input.name}`,
              node: name,
              set,
              removed,
              taints: plan.taints?.map(taintId),
            });
            await recordEvent(deps.kc, {
              target: { kind: 'Node', name, apiVersion: 'v1', uid: node.metadata?.uid },
              type: 'Normal',
              reason: 'NodeConfigUpdated',
              message,
            }).catch((e: unknown) => log.warn('could not record the NodeConfigUpdated Event', { node: name, error: String(e) }));
          } else result.unchanged++;
        }
        if (!done) throw ApplicationFailure.retryable(`Node ${name} kept changing while its labels/taints were applied`, 'Conflict');
      }
      return result;
    },
  };
}

export type NodeConfigActivities = ReturnType<typeof createNodeConfigActivities>;
