/**
 * The Temporal Schedule of the coordination backups (document 002: every 6 hours).
 * `ensureBackupSchedule` creates it or, when it exists, updates its interval, task queue and
 * input in place (as the garbage-collection schedule, starters/nodes/schedules.ts), so every
 * replica and every restart may call it: one schedule with the latest settings. A tick while the
 * previous backup still runs is skipped; ticks missed while Temporal was down are caught up for
 * at most an hour (one backup, not a burst).
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { z } from 'zod';
import { logger } from '../../lib/log';
import type { CoordinationBackupInput } from '../../workflows/coordination/backup';

export interface BackupScheduleOptions {
  taskQueue: string;
  /** Schedule id (default `coordination-backup:<taskQueue>`). */
  scheduleId?: string;
  /** The interval: `<n>s`, `<n>m` or `<n>h` (document 002: `6h`). */
  every: string;
  /** The backup workflow's input (default `{}`: every namespace, 30 days of retention). */
  input?: CoordinationBackupInput;
}

export function backupScheduleId(taskQueue: string): string {
  return `coordination-backup:${taskQueue}`;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;
const Every = z
  .string()
  .regex(/^[1-9]\d*[smh]$/, 'every: expected <n>s, <n>m or <n>h')
  .transform((s) => Number(s.slice(0, -1)) * UNIT_MS[s.slice(-1) as keyof typeof UNIT_MS])
  .refine((ms) => ms >= 60_000, 'every: at least one minute');

/** The interval in milliseconds; throws on a malformed one. */
export function backupIntervalMs(every: string): number {
  return Every.parse(every);
}

function options(o: BackupScheduleOptions, id: string): ScheduleOptions {
  const everyMs = backupIntervalMs(o.every);
  return {
    scheduleId: id,
    spec: { intervals: [{ every: everyMs }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'coordinationBackupWorkflow',
      workflowId: `coordination-backup:${o.taskQueue}`,
      taskQueue: o.taskQueue,
      args: [o.input ?? {}],
      workflowExecutionTimeout: Math.max(2 * 3_600_000, everyMs),
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: Math.min(everyMs, 3_600_000) },
    memo: { owner: 'vpsie-capacity-orchestrator' },
  };
}

/** Creates or updates the backup schedule; returns its id. Idempotent. */
export async function ensureBackupSchedule(client: Client, o: BackupScheduleOptions): Promise<string> {
  const id = o.scheduleId ?? backupScheduleId(o.taskQueue);
  const want = options(o, id);
  try {
    await client.schedule.create(want);
    logger('schedules').info('created the coordination backup schedule', { scheduleId: id, every: o.every });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(id).update((prev) => ({
      ...prev,
      spec: want.spec,
      action: { ...prev.action, ...want.action } as typeof prev.action,
      policies: { ...prev.policies, ...want.policies },
    }));
    logger('schedules').info('updated the coordination backup schedule', { scheduleId: id, every: o.every });
  }
  return id;
}
