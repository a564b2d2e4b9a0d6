/**
 * Coordination's part of the rightsizing gate, as the rightsizing cycle activity sees it: one
 * question to the coordination hub per namespace and cycle (`admissionFactsQuery`), decided by
 * the pure decision/coordination/gate.ts, and the reservation of the updates the cycle makes
 * (`reserveUpdatesUpdate`, idempotent by key). Rightsizing reaches coordination only through
 * these contracts. No hub running (coordination not started): not coordinated, everything allowed.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { coordinationGate } from '../../decision/coordination/gate';
import type { CoordinationAdvisor } from '../../lib/crds/platform/types';

export type { CoordinationAdvisor } from '../../lib/crds/platform/types';
import { coordinationDurationHistogram } from '../../lib/coordination-metrics';
import { admissionFactsQuery, coordinationHubWorkflowId, reserveUpdatesUpdate } from '../../workflows/coordination/contracts';

function notRunning(err: unknown): boolean {
  return (
    err instanceof WorkflowNotFoundError || (err instanceof Error && /not found|already completed|workflow execution already completed/i.test(err.message))
  );
}

export function hubAdvisor(temporal: Client, registry?: Registry, scope = ''): CoordinationAdvisor {
  const hist = registry ? coordinationDurationHistogram(registry) : undefined;
  const hub = () => temporal.workflow.getHandle(coordinationHubWorkflowId(scope));
  return {
    async verdict(namespace, now) {
      const end = hist?.startTimer({ operation: 'gate_check' });
      try {
        const f = await hub().query(admissionFactsQuery, namespace);
        if (f.objects.length === 0) return undefined;
        return coordinationGate(f, Math.max(now, f.at));
      } catch (err) {
        if (notRunning(err)) return undefined;
        throw err;
      } finally {
        end?.();
      }
    },
    async reserve(namespace, count, key) {
      try {
        const r = await hub().executeUpdate(reserveUpdatesUpdate, { args: [{ namespace, count, key }] });
        return r.granted;
      } catch (err) {
        if (notRunning(err)) return count;
        throw err;
      }
    },
  };
}
