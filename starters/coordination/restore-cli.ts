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

export const RESTORE_HELP = `Usage: vpsie-orchestrator restore [flags]

Restores a coordination backup through the orchestrator's worker; prints the report as JSON.
Each flag has an environment variable; a flag given wins over it.

  --at <RFC3339>        RESTORE_AT          the newest backup taken at or before this time (default: now)
  --backup <id>         RESTORE_BACKUP      this backup (not with --at)
  --namespace <ns>...   RESTORE_NAMESPACES  only these namespaces (comma-separated in the variable)
  --kind <Kind>...      RESTORE_KINDS       only these kinds (comma-separated in the variable)
  --dry-run             RESTORE_DRY_RUN     report what would be restored, change nothing (true/false)
  --overwrite           RESTORE_OVERWRITE   replace objects that exist (true/false)
  --help, -h                                print this and exit

Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE and TEMPORAL_TLS* as the orchestrator
reads them; without TEMPORAL_ADDRESS, the running sandbox.
`;

/** The flags' environment variables, as command-line arguments (flags given later win). */
export function restoreArgsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (env.RESTORE_AT) out.push('--at', env.RESTORE_AT);
  if (env.RESTORE_BACKUP) out.push('--backup', env.RESTORE_BACKUP);
  for (const n of (env.RESTORE_NAMESPACES ?? '').split(',').filter((s) => s.trim() !== '')) out.push('--namespace', n.trim());
  for (const k of (env.RESTORE_KINDS ?? '').split(',').filter((s) => s.trim() !== '')) out.push('--kind', k.trim());
  if (env.RESTORE_DRY_RUN === 'true') out.push('--dry-run');
  if (env.RESTORE_OVERWRITE === 'true') out.push('--overwrite');
  return out;
}

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

/** `vpsie-orchestrator restore`: flags over their environment variables. */
export async function restoreCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(RESTORE_HELP);
    return;
  }
  const fromEnv = restoreArgsFromEnv(env);
  // a flag wins: drop the variable's value of a flag given on the command line
  const given = new Set(argv.filter((a) => a.startsWith('--')));
  const kept: string[] = [];
  for (let i = 0; i < fromEnv.length; i++) {
    const flag = fromEnv[i]!;
    const takesValue = !['--dry-run', '--overwrite'].includes(flag);
    if (!given.has(flag)) kept.push(flag, ...(takesValue ? [fromEnv[i + 1]!] : []));
    if (takesValue) i++;
  }
  const input = restoreInputFromArgs([...kept, ...argv]);
  const report = await runOnce<RestoreReport>(temporalTarget(), 'coordinationRestoreWorkflow', oneOffWorkflowId('coordination-restore'), input);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if ((report.counts.failed ?? 0) > 0) process.exitCode = 2;
}

if (require.main === module)
  restoreCli(process.argv.slice(2)).catch((err: unknown) => {
    logger('coordination-restore-cli').error('the restore failed', { error: failureMessage(err) });
    process.exit(1);
  });
