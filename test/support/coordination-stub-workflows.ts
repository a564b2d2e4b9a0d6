/**
 * Minimal workflows implementing the coordination contracts (workflows/coordination/contracts.ts)
 * for tests of the clients of those contracts (the REST API): an object whose breaker the
 * operator commands (trip/reset signals, circuitBreaker update) open and close, and a hub that
 * answers recentConflicts with what it was started with plus what it is told. No decisions, no
 * activities. Bundled on its own by `coordinationStubBundle()`.
 */
import { condition, setHandler } from '@temporalio/workflow';
import {
  circuitBreakerUpdate,
  circuitBreakerActionSchema,
  conflictReportSignal,
  coordinationChangedSignal,
  recentConflictsQuery,
  resetSignal,
  stateQuery,
  tripSignal,
  type BreakerView,
  type CircuitBreakerAction,
  type ConflictRecord,
  type CoordinationView,
  type CoordinationWorkflowInput,
} from '../../workflows/coordination/contracts';

export async function coordinationObjectStub(input: CoordinationWorkflowInput): Promise<void> {
  let breaker: BreakerView = { state: 'Closed', triggered: false };
  let deleted = false;
  const view = (): CoordinationView => ({
    apiVersion: 'platform.io/v1',
    kind: 'VPANAPCoordination',
    metadata: { namespace: input.namespace, name: input.name },
    status: {
      phase: breaker.triggered ? 'CircuitBreaker' : 'Active',
      circuitBreakerTriggered: breaker.triggered,
      ...(breaker.triggered ? { circuitBreakerReason: 'Manual' as const } : {}),
      ...(breaker.message ? { circuitBreakerMessage: breaker.message } : {}),
      conflictsDetected: 0,
    },
    breaker,
    recentConflicts: [],
  });
  const apply = (c: CircuitBreakerAction): void => {
    const message = `${c.action} by ${c.by ?? 'unknown'}: ${c.reason}`;
    breaker =
      c.action === 'trigger'
        ? { state: 'Open', triggered: true, reason: 'Manual', message, trippedAt: Date.now() }
        : { state: 'Closed', triggered: false, message };
  };
  setHandler(stateQuery, view);
  setHandler(tripSignal, (c) => apply({ action: 'trigger', ...c }));
  setHandler(resetSignal, (c) => apply({ action: 'reset', ...c }));
  setHandler(
    circuitBreakerUpdate,
    (a) => {
      apply(a);
      return view();
    },
    {
      validator: (a) => {
        circuitBreakerActionSchema().parse(a);
        if (a.reason === 'refuse me') throw new Error('the breaker refuses this command');
      },
    },
  );
  setHandler(coordinationChangedSignal, (s) => {
    if (s.deleted) deleted = true;
  });
  await condition(() => deleted);
}

export async function coordinationHubStub(input: { conflicts: ConflictRecord[] }): Promise<void> {
  const conflicts = [...input.conflicts];
  setHandler(recentConflictsQuery, () => conflicts);
  setHandler(conflictReportSignal, (cs) => {
    conflicts.push(...cs);
  });
  await condition(() => false);
}
