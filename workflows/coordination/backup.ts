/**
 * Backups of the VPA state (document 002, "Backup and Recovery"): `coordinationBackupWorkflow`
 * takes one backup and prunes those past retention, once per tick of its Temporal Schedule
 * (starters/coordination/backup-schedule.ts, every 6 hours) or on demand (`npm run backup`);
 * `coordinationRestoreWorkflow` restores a backup — the one named, or the newest at or before a
 * point in time — and returns the per-object report (`npm run restore`). The activities are in
 * activities/coordination/backup.ts.
 *
 * The backup's time is the schedule's (search attribute TemporalScheduledStartTime), else the
 * input's `at`, else the workflow's start: every attempt of its activity writes the same backup.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { proxyActivities, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { BackupActivities, BackupManifest, PruneBackupsResult, RestoreBackupInput, RestoreReport } from '../../activities/coordination/backup';

/** Set by the Temporal server on the workflows a Schedule starts: the tick's nominal time. */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** Kubernetes lists and writes and the store's file writes: retried with backoff; every step is idempotent. */
const RETRY: RetryPolicy = { initialInterval: '2s', maximumInterval: '1m', backoffCoefficient: 2, maximumAttempts: 8 };

const acts = proxyActivities<BackupActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { ...RETRY, nonRetryableErrorTypes: ['InvalidInput', 'BackupNotFound'] },
});

export const COORDINATION_BACKUP_RETENTION_DAYS = 30;

export interface CoordinationBackupInput {
  /** Only these namespaces (default: all). */
  namespaces?: string[];
  /** Backups older than this are deleted (the newest always stays). Default 30. */
  retentionDays?: number;
  /** The time the backup stands for (RFC 3339); default: the schedule's time, else now. */
  at?: string;
}

export interface CoordinationBackupResult {
  backup: BackupManifest;
  pruned: PruneBackupsResult;
}

function scheduledTime(): Date | undefined {
  try {
    return workflowInfo().typedSearchAttributes.get(SCHEDULED_START_TIME);
  } catch {
    return undefined;
  }
}

export async function coordinationBackupWorkflow(input: CoordinationBackupInput = {}): Promise<CoordinationBackupResult> {
  const at = input.at ?? (scheduledTime() ?? new Date()).toISOString();
  const backup = await acts.takeBackup({ at, ...(input.namespaces ? { namespaces: input.namespaces } : {}) });
  const pruned = await acts.pruneBackups({ now: at, retentionDays: input.retentionDays ?? COORDINATION_BACKUP_RETENTION_DAYS });
  return { backup, pruned };
}

export type CoordinationRestoreInput = RestoreBackupInput;

export async function coordinationRestoreWorkflow(input: CoordinationRestoreInput = {}): Promise<RestoreReport> {
  // A point in time fixed once, so a retried activity picks the same backup.
  const at = input.backupId === undefined ? (input.at ?? new Date().toISOString()) : undefined;
  return acts.restoreBackup({ ...input, ...(at !== undefined ? { at } : {}) });
}
