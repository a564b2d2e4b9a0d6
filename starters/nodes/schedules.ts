/**
 * Temporal Schedules the orchestrator owns. `ensureGarbageCollectionSchedule` creates the GC
 * schedule or, when it exists, updates its interval, task queue and arguments in place, so every
 * replica (and every restart) may call it: the result is one schedule with the latest settings.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { GarbageCollectionInput } from '../../workflows/nodes/garbage-collection';
import { logger } from '../../lib/log';

export interface GcScheduleOptions {
  /** Schedule id (default `garbage-collection:<taskQueue>`). */
  scheduleId?: string;
  taskQueue: string;
  intervalSeconds: number;
  input: GarbageCollectionInput;
}

export function gcScheduleId(taskQueue: string): string {
  return `garbage-collection:${taskQueue}`;
}

function options(o: GcScheduleOptions, id: string): ScheduleOptions {
  return {
    scheduleId: id,
    spec: { intervals: [{ every: `${o.intervalSeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'garbageCollectionWorkflow',
      workflowId: `gc:${o.taskQueue}`,
      taskQueue: o.taskQueue,
      args: [o.input],
      workflowExecutionTimeout: `${Math.max(60, o.intervalSeconds * 2)}s`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: `${Math.max(60, o.intervalSeconds)}s` },
    memo: { owner: 'vpsie-capacity-orchestrator' },
  };
}

/** Creates or updates the GC schedule; returns its id. Idempotent. */
export async function ensureGarbageCollectionSchedule(client: Client, o: GcScheduleOptions): Promise<string> {
  const id = o.scheduleId ?? gcScheduleId(o.taskQueue);
  const want = options(o, id);
  try {
    await client.schedule.create(want);
    logger('schedules').info('created the garbage-collection schedule', { scheduleId: id, everySeconds: o.intervalSeconds });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(id).update((prev) => ({
      ...prev,
      spec: want.spec,
      action: { ...prev.action, ...want.action } as typeof prev.action,
      policies: { ...prev.policies, ...want.policies },
    }));
    logger('schedules').info('updated the garbage-collection schedule', { scheduleId: id, everySeconds: o.intervalSeconds });
  }
  return id;
}

/** Deletes a schedule; a missing one counts as deleted. */
export async function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}
