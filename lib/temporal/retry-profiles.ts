/**
 * Activity retry profiles, one per kind of call, for the workflows' `proxyActivities` options.
 * The values are those the workflows used inline before; changing one changes the retry policy
 * of every new ScheduleActivityTask command that uses it (replay does not compare them, but keep
 * a change deliberate). Two profiles may share values when they stand for different kinds of call.
 * Deterministic and Temporal-free at runtime (a type import only), so workflows may import it.
 */
import type { RetryPolicy } from '@temporalio/common';

/** Kubernetes reads and writes (VPSieNode status, finalizers, Nodes, events): retried until the timeout. */
export const KUBERNETES_WRITE: RetryPolicy = { initialInterval: '1s', maximumInterval: '15s', backoffCoefficient: 2 };

/** The NodeGroup workflow's own Kubernetes calls: retried until the timeout, slower backoff ceiling. */
export const NODEGROUP_KUBERNETES: RetryPolicy = { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 };

/** Cordon, uncordon and eviction calls of a drain: bounded, so a drain's deadline stays meaningful. */
export const KUBERNETES_DRAIN: RetryPolicy = { initialInterval: '1s', maximumInterval: '10s', backoffCoefficient: 2, maximumAttempts: 10 };

/** VPSie machine creation and status calls: few attempts, terminal VPSie errors fail at once. */
export const VPSIE_CALL: RetryPolicy = { initialInterval: '1s', maximumInterval: '10s', backoffCoefficient: 2, maximumAttempts: 4 };

/** VPSie machine deletion: retried until the timeout (a leaked machine costs money). */
export const VPSIE_DELETE: RetryPolicy = { initialInterval: '1s', maximumInterval: '15s', backoffCoefficient: 2 };

/** Scale-down's updates on the NodeGroup workflow (they wait for its Kubernetes work): bounded, retried. */
export const NODEGROUP_UPDATE_SCALE_DOWN: RetryPolicy = {
  initialInterval: '1s',
  maximumInterval: '15s',
  backoffCoefficient: 2,
  maximumAttempts: 20,
};

/** Scale-up's snapshot and pod holds: fast first retry, on the scale-up latency path. */
export const SCALE_UP_FAST: RetryPolicy = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 10 };

/** Scale-up's updates on the NodeGroup workflow: fast first retry, bounded. */
export const NODEGROUP_UPDATE_SCALE_UP: RetryPolicy = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '3s',
  maximumAttempts: 8,
};

/** Recording a scale-up outcome (waits for the first create): a few attempts. */
export const SCALE_UP_OUTCOME: RetryPolicy = { initialInterval: '1s', maximumAttempts: 3 };

/** Garbage collection's scans and deletions: bounded; the next schedule tick retries anyway. */
export const GARBAGE_COLLECTION: RetryPolicy = { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 };

/** The fake-capacity demo's calls: a few attempts with the default backoff. */
export const FAKE_CAPACITY: RetryPolicy = { maximumAttempts: 5 };
