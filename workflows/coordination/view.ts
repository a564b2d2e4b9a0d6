/**
 * The coordination object's status and its REST/query view, from the decision state. Pure and
 * workflow-safe.
 */
import type { CoordinationPhase } from '../../lib/crds/platform/constants';
import { STATUS_EVENTS_CAP } from '../../lib/crds/platform/constants';
import type { VPANAPCoordinationStatus } from '../../lib/crds/platform/types';
import type { DecisionState } from '../../decision/coordination/decide';
import type { CoordinationSettings } from '../../decision/coordination/settings';
import type { CoordinationRead } from '../../activities/coordination/coordination';
import type { ConflictRecord, CoordinationView } from './contracts';

const iso = (ms: number): string => new Date(ms).toISOString();
const cpu = (m: number): string => `${Math.round(m)}m`;
const mem = (b: number): string => `${Math.round(b / 2 ** 20)}Mi`;

export function phaseOf(read: CoordinationRead | undefined, state: DecisionState): CoordinationPhase {
  if (read !== undefined && read.found && read.error !== undefined) return 'Error';
  if (state.breaker.state === 'Open') return 'CircuitBreaker';
  if (state.breaker.state === 'HalfOpen') return 'Cooldown';
  return 'Active';
}

export function toStatus(
  read: CoordinationRead | undefined,
  state: DecisionState,
  settings: CoordinationSettings,
  extra: { rateLimitedUntil?: number } = {},
): VPANAPCoordinationStatus {
  const b = state.breaker;
  const phase = phaseOf(read, state);
  const s: VPANAPCoordinationStatus = {
    phase,
    lastUpdate: iso(Date.now()),
    conflictsDetected: state.conflictsTotal,
    lastConflictTime: state.lastConflictAt !== undefined ? iso(state.lastConflictAt) : null,
    napEvents: state.nap.slice(-STATUS_EVENTS_CAP).map((e) => ({ timestamp: iso(e.at), event: e.kind, nodeCount: 1, node: e.node })),
    vpaEvents: state.vpa.slice(-STATUS_EVENTS_CAP).map((e) => ({
      timestamp: iso(e.at),
      event: e.kind,
      target: e.pod !== undefined ? `${e.workload} pod ${e.pod}` : e.workload,
      ...(e.recommendation !== undefined
        ? {
            recommendation: {
              ...(e.recommendation.cpu !== undefined ? { cpu: cpu(e.recommendation.cpu) } : {}),
              ...(e.recommendation.memory !== undefined ? { memory: mem(e.recommendation.memory) } : {}),
            },
          }
        : {}),
    })),
    circuitBreakerTriggered: b.state === 'Open',
    cooldownUntil: b.state === 'Open' && b.cooldownUntil !== undefined ? iso(b.cooldownUntil) : null,
  };
  if (state.lastConflictType !== undefined) s.lastConflictType = state.lastConflictType;
  if (b.reason !== undefined && b.state !== 'Closed') s.circuitBreakerReason = b.reason;
  if (b.message !== undefined && b.state !== 'Closed') s.circuitBreakerMessage = b.message.slice(0, 256);
  if (read?.found) {
    s.observedGeneration = read.generation;
    if (read.tier !== undefined) s.tenantTier = read.tier;
  }
  const ready =
    read?.found && read.error !== undefined
      ? { status: 'False' as const, reason: 'Error', message: read.error }
      : !settings.enabled || settings.strategy === 'disabled'
        ? { status: 'True' as const, reason: 'CoordinationDisabled', message: 'coordination is disabled: events are recorded, updates are never paused' }
        : b.state === 'Open'
          ? { status: 'False' as const, reason: b.reason ?? 'Manual', message: (b.message ?? '').slice(0, 256) }
          : extra.rateLimitedUntil !== undefined
            ? {
                status: 'False' as const,
                reason: 'RateLimited',
                message: `the VPA's hourly update limit is reached: paused until ${iso(extra.rateLimitedUntil)}`,
              }
            : {
                status: 'True' as const,
                reason: b.state === 'HalfOpen' ? 'HalfOpen' : 'Coordinating',
                message: b.state === 'HalfOpen' ? 'updates resumed; a new conflict trips the breaker again' : 'updates allowed',
              };
  s.conditions = [{ type: 'UpdatesAllowed', ...ready, lastTransitionTime: iso(b.trippedAt ?? Date.now()) }];
  return s;
}

export function toView(
  ref: { namespace: string; name: string },
  read: CoordinationRead | undefined,
  state: DecisionState,
  settings: CoordinationSettings,
  vpa: { vpaPaused: boolean; restoreMode?: string },
  recent: readonly ConflictRecord[],
): CoordinationView {
  const b = state.breaker;
  return {
    apiVersion: 'platform.io/v1',
    kind: 'VPANAPCoordination',
    metadata: { ...ref, ...(read?.found ? { generation: read.generation } : {}) },
    ...(read?.found ? { spec: read.spec } : {}),
    status: toStatus(read, state, settings),
    breaker: {
      state: b.state,
      triggered: b.state === 'Open',
      ...(b.reason !== undefined ? { reason: b.reason } : {}),
      ...(b.message !== undefined ? { message: b.message } : {}),
      ...(b.numbers !== undefined ? { numbers: b.numbers } : {}),
      ...(b.trippedAt !== undefined ? { trippedAt: b.trippedAt } : {}),
      ...(b.cooldownUntil !== undefined ? { cooldownUntil: b.cooldownUntil } : {}),
      ...(b.halfOpenUntil !== undefined ? { halfOpenUntil: b.halfOpenUntil } : {}),
    },
    vpa: { paused: vpa.vpaPaused, ...(vpa.restoreMode !== undefined ? { restoreMode: vpa.restoreMode } : {}) },
    recentConflicts: [...recent],
  };
}
