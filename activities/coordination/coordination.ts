/**
 * The coordination workflow's steps — the only coordination code that touches Kubernetes:
 *   readCoordination   the object (zod), its settled settings (spec > tier > global configuration),
 *                      its VPA's pause state, and (inspect) the facts found by looking: a workload
 *                      governed by both the VPA and an OptimizationPolicy (DualGovernance); under
 *                      the isolated strategy, governed pods outside a dedicated pool
 *                      (OutsideDedicatedPool); the VPA's drift and vpa_active.
 *   pauseVpa           updateMode → Off, the previous mode kept in an annotation on the VPA
 *                      (idempotent: an already paused VPA is left as it is).
 *   resumeVpa          the kept mode restored and the annotations removed (idempotent).
 *   recordCoordination the status (merge patch on /status), an Event per conflict and transition,
 *                      and the metrics, from the workflow's decision.
 */
import * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Fact, Transition } from '../../decision/coordination/decide';
import { fromEffective, type CoordinationSettings } from '../../decision/coordination/settings';
import { settingsFor, tierOf } from '../../decision/coordination/tiers';
import {
  COORDINATION_KIND,
  COORDINATION_PLURAL,
  NODE_POOL_LABEL,
  PAUSED_REASON_ANNOTATION,
  PAUSED_UPDATE_MODE_ANNOTATION,
  PLATFORM_API_VERSION,
  PLATFORM_GROUP,
  PLATFORM_VERSION,
  VPA_GROUP,
  VPA_MANAGED_TAINT,
  VPA_PLURAL,
  VPA_VERSION,
} from '../../lib/crds/platform/constants';
import type { CoordinationConfig } from '../../lib/crds/platform/config-types';
import { VPANAPCoordinationSpecSchema } from '../../lib/crds/platform/coordination';
import type { VPANAPCoordinationSpec, VPANAPCoordinationStatus } from '../../lib/crds/platform/types';
import { OPTIMIZATIONPOLICY_KIND, OPTIMIZATIONPOLICY_PLURAL, OPTIPOD_GROUP, OPTIPOD_VERSION, cpuMillis, memoryBytes } from '../../lib/crds/optipod';
import { activityDecisionId, audit } from '../../lib/audit';
import { apiStatus } from '../../lib/kube/api';
import { recordEvent } from '../../lib/kube/events';
import { logger } from '../../lib/log';
import type { ConflictRecord } from '../../workflows/coordination/contracts';
import { coordinationMetrics } from '../../lib/coordination-metrics';

export type CoordinationRead =
  | { found: false }
  | {
      found: true;
      generation: number;
      uid?: string;
      spec: VPANAPCoordinationSpec;
      settings: CoordinationSettings;
      /** The VPA's updates allowed in any hour (rateLimiting.maxVPAUpdatesPerNamespace). */
      vpaUpdatesPerHour: number;
      tier?: string;
      vpa: { exists: boolean; mode?: string; paused: boolean; restoreMode?: string };
      facts: Fact[];
      /** The object cannot be coordinated (phase Error): why. */
      error?: string;
    };

const VpaSchema = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    annotations: z.record(z.string(), z.string()).nullish(),
    labels: z.record(z.string(), z.string()).nullish(),
  }),
  spec: z
    .object({
      targetRef: z.object({ kind: z.string(), name: z.string(), apiVersion: z.string().optional() }).nullish(),
      updatePolicy: z.object({ updateMode: z.string().nullish() }).nullish(),
    })
    .passthrough(),
  status: z
    .object({
      recommendation: z
        .object({
          containerRecommendations: z.array(z.object({ containerName: z.string(), target: z.record(z.string(), z.string()).nullish() })).nullish(),
        })
        .nullish(),
    })
    .nullish(),
});
type Vpa = z.infer<typeof VpaSchema>;

export interface CoordinationActivityDeps {
  kc: k8s.KubeConfig;
  registry: Registry;
  /** The global and tier configuration (document 000's coordinator-config.yaml, tenant-tier-config.yaml). */
  config: () => CoordinationConfig;
}

export function createCoordinationActivities(deps: CoordinationActivityDeps) {
  const custom = deps.kc.makeApiClient(k8s.CustomObjectsApi);
  const core = deps.kc.makeApiClient(k8s.CoreV1Api);
  const metrics = coordinationMetrics(deps.registry);
  const log = logger('coordination');

  async function getVpa(namespace: string, name: string): Promise<Vpa | undefined> {
    try {
      const raw = await custom.getNamespacedCustomObject({ group: VPA_GROUP, version: VPA_VERSION, namespace, plural: VPA_PLURAL, name });
      const p = VpaSchema.safeParse(raw);
      if (!p.success)
        throw new Error(`VerticalPodAutoscaler ${namespace}/${name} is malformed: ${p.error.issues[0]?.path.join('.')}: ${p.error.issues[0]?.message}`);
      return p.data;
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async function inspect(spec: VPANAPCoordinationSpec, settings: CoordinationSettings, vpa: Vpa | undefined, tier: string | undefined): Promise<Fact[]> {
    const facts: Fact[] = [];
    const target = vpa?.spec.targetRef;
    metrics.vpaActive.set({ tenant_tier: tier ?? 'none', namespace: spec.namespace, vpa_name: spec.vpaName }, vpa !== undefined && settings.enabled ? 1 : 0);
    if (target === undefined || target === null) return facts;
    const wk = `${target.kind}/${spec.namespace}/${target.name}`;
    // dual governance: the VPA's target is also governed by an OptimizationPolicy (its status lists it)
    try {
      const list = (await custom.listNamespacedCustomObject({
        group: OPTIPOD_GROUP,
        version: OPTIPOD_VERSION,
        namespace: spec.namespace,
        plural: OPTIMIZATIONPOLICY_PLURAL,
      })) as {
        items?: { metadata?: { name?: string }; status?: { workloads?: { kind?: string; name?: string; namespace?: string; policy?: string }[] } }[];
      };
      for (const p of list.items ?? [])
        for (const w of p.status?.workloads ?? [])
          if (
            w.kind === target.kind &&
            w.name === target.name &&
            (w.namespace ?? spec.namespace) === spec.namespace &&
            (w.policy ?? '').endsWith(`/${p.metadata?.name ?? ''}`)
          )
            facts.push({
              type: 'DualGovernance',
              subject: wk,
              message: `${wk} is governed by VerticalPodAutoscaler ${spec.vpaName} and by ${OPTIMIZATIONPOLICY_KIND} ${spec.namespace}/${p.metadata?.name ?? ''}: two rightsizers fight over its requests`,
            });
    } catch (err) {
      if (apiStatus(err) !== 404) log.warn('OptimizationPolicies not read for the dual-governance check', { namespace: spec.namespace, error: String(err) });
    }
    // the pods of the target, for the drift and (isolated) the pools
    const pods = (await core.listNamespacedPod({ namespace: spec.namespace })).items.filter(
      (p) => p.metadata?.name?.startsWith(`${target.name}-`) && p.status?.phase === 'Running',
    );
    const rec = vpa?.status?.recommendation?.containerRecommendations ?? [];
    for (const res of ['cpu', 'memory'] as const) {
      let targetSum = 0;
      let reqSum = 0;
      for (const p of pods.slice(0, 1))
        for (const c of p.spec?.containers ?? []) {
          const t = rec.find((r) => r.containerName === c.name)?.target?.[res];
          const q = c.resources?.requests?.[res];
          if (t !== undefined && q !== undefined) {
            targetSum += (res === 'cpu' ? cpuMillis(t) : memoryBytes(t)) ?? 0;
            reqSum += (res === 'cpu' ? cpuMillis(String(q)) : memoryBytes(String(q))) ?? 0;
          }
        }
      if (reqSum > 0)
        metrics.drift.set({ namespace: spec.namespace, vpa_name: spec.vpaName, resource: res }, Math.round(((targetSum - reqSum) / reqSum) * 1000) / 10);
    }
    if (settings.strategy === 'isolated') {
      const nodeNames = [...new Set(pods.map((p) => p.spec?.nodeName).filter((n): n is string => n !== undefined))];
      for (const n of nodeNames) {
        const node = await core.readNode({ name: n }).catch(() => undefined);
        if (node === undefined) continue;
        const pool = node.metadata?.labels?.[NODE_POOL_LABEL];
        const tainted = (node.spec?.taints ?? []).some((t) => t.key === VPA_MANAGED_TAINT && t.effect === 'NoSchedule');
        if (!tainted || pool === undefined || !pool.startsWith('vpa-'))
          facts.push({
            type: 'OutsideDedicatedPool',
            subject: `${wk}@${n}`,
            message: `${wk} runs on node ${n} (node-pool ${pool ?? 'unset'}${tainted ? '' : `, no ${VPA_MANAGED_TAINT} taint`}), outside a dedicated vpa-* pool (isolated strategy)`,
          });
      }
    }
    return facts;
  }

  return {
    async readCoordination(input: { namespace: string; name: string; inspect?: boolean }): Promise<CoordinationRead> {
      let raw: unknown;
      try {
        raw = await custom.getNamespacedCustomObject({
          group: PLATFORM_GROUP,
          version: PLATFORM_VERSION,
          namespace: input.namespace,
          plural: COORDINATION_PLURAL,
          name: input.name,
        });
      } catch (err) {
        if (apiStatus(err) === 404) return { found: false };
        throw err;
      }
      const obj = raw as { metadata?: { generation?: number; uid?: string; labels?: Record<string, string>; deletionTimestamp?: string }; spec?: unknown };
      if (obj.metadata?.deletionTimestamp) return { found: false };
      const p = VPANAPCoordinationSpecSchema.safeParse(obj.spec);
      const fallback: VPANAPCoordinationSpec = { vpaName: input.name, namespace: input.namespace, coordinationStrategy: 'coordinated', enabled: true };
      const spec: VPANAPCoordinationSpec = p.success ? (p.data as VPANAPCoordinationSpec) : fallback;
      const ns = await core.readNamespace({ name: input.namespace }).catch(() => undefined);
      const tier = tierOf({
        ...(obj.metadata?.labels ? { objectLabels: obj.metadata.labels } : {}),
        ...(ns?.metadata?.labels ? { namespaceLabels: ns.metadata.labels } : {}),
        namespace: input.namespace,
      });
      const effective = settingsFor(spec, tier, deps.config());
      const settings = fromEffective(effective);
      const vpa = await getVpa(spec.namespace, spec.vpaName);
      const mode = vpa?.spec.updatePolicy?.updateMode ?? undefined;
      const restore = vpa?.metadata.annotations?.[PAUSED_UPDATE_MODE_ANNOTATION];
      let error: string | undefined;
      if (!p.success) error = `spec is invalid: ${p.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ')}`.slice(0, 256);
      let facts: Fact[] = [];
      if (input.inspect === true && p.success)
        try {
          facts = await inspect(spec, settings, vpa, tier);
        } catch (err) {
          log.warn('inspection failed; tried again at the next interval', { object: `${input.namespace}/${input.name}`, error: String(err) });
        }
      return {
        found: true,
        generation: obj.metadata?.generation ?? 0,
        ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
        spec,
        settings,
        vpaUpdatesPerHour: effective.rateLimits.maxUpdatesPerNamespacePerHour,
        ...(tier !== undefined ? { tier } : {}),
        vpa: {
          exists: vpa !== undefined,
          ...(mode ? { mode } : {}),
          paused: restore !== undefined,
          ...(restore !== undefined ? { restoreMode: restore } : {}),
        },
        facts,
        ...(error !== undefined ? { error } : {}),
      };
    },

    async pauseVpa(input: { namespace: string; vpaName: string; reason: string }): Promise<{ paused: boolean; restoreMode?: string }> {
      const end = metrics.duration.startTimer({ operation: 'pause' });
      try {
        const vpa = await getVpa(input.namespace, input.vpaName);
        if (vpa === undefined) return { paused: false };
        const kept = vpa.metadata.annotations?.[PAUSED_UPDATE_MODE_ANNOTATION];
        if (kept !== undefined) return { paused: true, restoreMode: kept };
        const mode = vpa.spec.updatePolicy?.updateMode ?? 'Auto'; // the VPA's default mode
        if (mode === 'Off') return { paused: false }; // nothing to pause, nothing to restore
        await custom.patchNamespacedCustomObject(
          {
            group: VPA_GROUP,
            version: VPA_VERSION,
            namespace: input.namespace,
            plural: VPA_PLURAL,
            name: input.vpaName,
            body: {
              metadata: {
                annotations: { [PAUSED_UPDATE_MODE_ANNOTATION]: mode, [PAUSED_REASON_ANNOTATION]: `${new Date().toISOString()} ${input.reason}`.slice(0, 512) },
              },
              spec: { updatePolicy: { updateMode: 'Off' } },
            },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        log.info('VPA paused', { vpa: `${input.namespace}/${input.vpaName}`, previousMode: mode, reason: input.reason });
        audit({
          action: 'VPAPaused',
          decision: activityDecisionId(`pause:${input.namespace}/${input.vpaName}:${Date.now()}`),
          object: { kind: 'VerticalPodAutoscaler', namespace: input.namespace, name: input.vpaName },
          reason: /^[A-Za-z]+/.exec(input.reason)?.[0] ?? 'Paused',
          numbers: {},
          detail: `updateMode ${mode} -> Off: ${input.reason}`,
        });
        return { paused: true, restoreMode: mode };
      } finally {
        end();
      }
    },

    async resumeVpa(input: { namespace: string; vpaName: string }): Promise<{ restored?: string }> {
      const end = metrics.duration.startTimer({ operation: 'resume' });
      try {
        const vpa = await getVpa(input.namespace, input.vpaName);
        const kept = vpa?.metadata.annotations?.[PAUSED_UPDATE_MODE_ANNOTATION];
        if (vpa === undefined || kept === undefined) return {};
        await custom.patchNamespacedCustomObject(
          {
            group: VPA_GROUP,
            version: VPA_VERSION,
            namespace: input.namespace,
            plural: VPA_PLURAL,
            name: input.vpaName,
            body: {
              metadata: { annotations: { [PAUSED_UPDATE_MODE_ANNOTATION]: null, [PAUSED_REASON_ANNOTATION]: null } },
              spec: { updatePolicy: { updateMode: kept } },
            },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        log.info('VPA resumed', { vpa: `${input.namespace}/${input.vpaName}`, mode: kept });
        audit({
          action: 'VPARestored',
          decision: activityDecisionId(`resume:${input.namespace}/${input.vpaName}:${Date.now()}`),
          object: { kind: 'VerticalPodAutoscaler', namespace: input.namespace, name: input.vpaName },
          reason: 'Resumed',
          numbers: {},
          detail: `updateMode Off -> ${kept}`,
        });
        return { restored: kept };
      } finally {
        end();
      }
    },

    async recordCoordination(input: {
      ref: { namespace: string; name: string };
      vpaName: string;
      status: VPANAPCoordinationStatus;
      conflicts: ConflictRecord[];
      transitions: Transition[];
      /** Other decisions worth an Event (the VPA's hourly limit). */
      notices?: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
      cause: string;
      /** The workflow's clock when it decided (event → decision latency). */
      decidedAt: number;
    }): Promise<void> {
      const { ref } = input;
      const labels = { namespace: ref.namespace, vpa_name: input.vpaName };
      try {
        await custom.patchNamespacedCustomObjectStatus(
          {
            group: PLATFORM_GROUP,
            version: PLATFORM_VERSION,
            namespace: ref.namespace,
            plural: COORDINATION_PLURAL,
            name: ref.name,
            body: { status: input.status },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
        return;
      }
      const target = { apiVersion: PLATFORM_API_VERSION, kind: COORDINATION_KIND, namespace: ref.namespace, name: ref.name };
      for (const c of input.conflicts) {
        metrics.conflicts.inc({ ...labels, conflict_type: c.type });
        metrics.duration.observe({ operation: 'conflict_detection' }, Math.max(0, input.decidedAt - c.at) / 1000);
        await recordEvent(deps.kc, { target, type: 'Warning', reason: `Conflict${c.type}`, message: c.message, dedupeKey: `conflict-${c.type}-${c.at}` });
      }
      for (const t of input.transitions) {
        // The audit line of the transition, once per object and transition time (retries of this activity write none again).
        audit({
          action: t.to === 'Open' ? 'CircuitBreakerTripped' : t.to === 'HalfOpen' ? 'CircuitBreakerHalfOpen' : 'CircuitBreakerReset',
          decision: `breaker-${t.to}-${t.at}`,
          object: { kind: COORDINATION_KIND, namespace: ref.namespace, name: ref.name },
          reason: t.to === 'Open' ? t.trip.reason : t.reason,
          numbers:
            t.to === 'Open'
              ? { ...t.trip.numbers, cooldownSeconds: Math.max(0, Math.round((t.cooldownUntil - t.at) / 1000)) }
              : t.to === 'HalfOpen'
                ? { halfOpenSeconds: Math.max(0, Math.round((t.halfOpenUntil - t.at) / 1000)) }
                : {},
          detail: `VPA ${input.vpaName}: ${t.to === 'Open' ? t.trip.message : t.to === 'Closed' ? t.message : 'updates resume on probation'} (${input.cause})`,
        });
        if (t.to === 'Open') {
          metrics.trips.inc({ namespace: ref.namespace, reason: t.trip.reason });
          await recordEvent(deps.kc, {
            target,
            type: 'Warning',
            reason: 'CircuitBreakerTriggered',
            message: `${t.trip.reason}: ${t.trip.message}; updates paused until ${new Date(t.cooldownUntil).toISOString()}`,
            dedupeKey: `breaker-open-${t.at}`,
          });
        } else
          await recordEvent(deps.kc, {
            target,
            type: 'Normal',
            reason: t.to === 'HalfOpen' ? 'CircuitBreakerHalfOpen' : 'CircuitBreakerReset',
            message:
              t.to === 'HalfOpen'
                ? `${t.reason}: updates resume; a new conflict before ${new Date(t.halfOpenUntil).toISOString()} trips the breaker again`
                : `${t.reason}: ${t.message}`,
            dedupeKey: `breaker-${t.to.toLowerCase()}-${t.at}`,
          });
      }
      for (const n of input.notices ?? [])
        await recordEvent(deps.kc, { target, type: n.type, reason: n.reason, message: n.message, dedupeKey: `${n.reason}-${input.decidedAt}` });
      const phase = input.status.phase ?? 'Active';
      metrics.active.set(labels, phase === 'CircuitBreaker' ? 1 : 0);
      for (const p of ['Active', 'CircuitBreaker', 'Cooldown', 'Error'])
        metrics.status.set({ ...labels, phase: p }, p === phase ? (p === 'CircuitBreaker' ? 1 : p === 'Cooldown' ? 0.5 : p === 'Error' ? -1 : 0) : 0);
      if (input.conflicts.length > 0 || input.transitions.length > 0)
        log.info('coordination decision recorded', {
          object: `${ref.namespace}/${ref.name}`,
          cause: input.cause,
          conflicts: input.conflicts.map((c) => c.type),
          transitions: input.transitions.map((t) => (t.to === 'Open' ? `Open:${t.trip.reason}` : `${t.to}:${t.reason}`)),
        });
    },
  };
}
