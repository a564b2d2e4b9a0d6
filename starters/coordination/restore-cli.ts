/**
 * `npm run restore -- [--at <RFC3339>] [--backup <id>] [--namespace <ns>]... [--kind <Kind>]...
 * [--dry-run] [--overwrite]`: restores a coordination backup — the one named, or the newest
 * taken at or before `--at` (default: now) that holds the namespaces asked for — through
 * `coordinationRestoreWorkflow` on the orchestrator's task queue. Missing objects are created;
 * existing ones are left alone unless `--overwrite`. Prints the report (one entry per object) as
 * JSON on stdout. Exit code 0, 2 when some object could not be restored, 1 when the restore
 * failed. Where it runs: as `npm run backup` (starters/coordination/backup-cli.ts).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { logger } from '../../lib/log';
import type { BackupKind, RestoreReport } from '../../activities/coordination/backup';
import type { CoordinationRestoreInput } from '../../workflows/coordination/backup';
import { failureMessage, oneOffWorkflowId, runOnce, temporalTarget } from './backup-cli';

const RestoreArgs = z.object({
  at: z.iso.datetime({ offset: true, message: '--at: expected an RFC 3339 time, e.g. 2026-12-01T06:00:00Z' }).optional(),
  backup: z.string().min(1).optional(),
  namespace: z.array(z.string().min(1)).optional(),
  kind: z.array(z.string().min(1)).optional(),
  'dry-run': z.boolean().optional(),
  overwrite: z.boolean().optional(),
});

/** The workflow's input from the command line; throws with the flag named. */
export function restoreInputFromArgs(argv: string[]): CoordinationRestoreInput {
  const { values } = parseArgs({
    args: argv,
    options: {
      at: { type: 'string' },
      backup: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      kind: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
      overwrite: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  const r = RestoreArgs.safeParse(values);
  if (!r.success) throw new Error(r.error.issues.map((i) => i.message).join('; '));
  const a = r.data;
  if (a.at !== undefined && a.backup !== undefined) throw new Error('give --backup or --at, not both');
  return {
    ...(a.backup !== undefined ? { backupId: a.backup } : {}),
    ...(a.at !== undefined ? { at: a.at } : {}),
    ...(a.namespace ? { namespaces: a.namespace } : {}),
    ...(a.kind ? { kinds: a.kind as BackupKind[] } : {}),
    ...(a['dry-run'] ? { dryRun: true } : {}),
    ...(a.overwrite ? { overwrite: true } : {}),
  };
}

async function main(): Promise<void> {
  const input = restoreInputFromArgs(process.argv.slice(2));
  const report = await runOnce<RestoreReport>(temporalTarget(), 'coordinationRestoreWorkflow', oneOffWorkflowId('coordination-restore'), input);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if ((report.counts.failed ?? 0) > 0) process.exitCode = 2;
}

if (require.main === module)
  main().catch((err: unknown) => {
    logger('coordination-restore-cli').error('the restore failed', { error: failureMessage(err) });
    process.exit(1);
  });
