/**
 * `npm run backup -- [--namespace <ns>]... [--at <RFC3339>] [--retention-days <n>]`: one
 * coordination backup now (then the pruning of old ones), as the schedule's ticks do — the
 * orchestrator's worker runs it. Prints the workflow's result (the manifest and what was pruned)
 * as JSON on stdout; logs go to stderr.
 *
 * Where: TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TASK_QUEUE) as the orchestrator reads them
 * (lib/config.ts); without TEMPORAL_ADDRESS, the running sandbox of .sandbox/endpoints.json
 * (SANDBOX_DIR elsewhere), as `npm start` finds it.
 */
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { loadConfig } from '../../lib/config';
import { clientConnectionOptions, temporalConnectionSettings, type TemporalAuthConfig } from '../../lib/temporal-connection';
import { logger } from '../../lib/log';
import { readLiveEndpoints, sandboxDir } from '../../sandbox/endpoints';
import type { CoordinationBackupInput } from '../../workflows/coordination/backup';

export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
  /** TLS / API key of the orchestrator's configuration (lib/temporal-connection.ts). */
  auth?: TemporalAuthConfig;
}

/** The orchestrator's Temporal server, namespace and task queue: from the environment, else the running sandbox. */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const config = loadConfig(env);
  const taskQueue = config.BACKUP_TASK_QUEUE ?? config.TASK_QUEUE;
  if (config.TEMPORAL_ADDRESS) return { address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE, taskQueue, auth: config };
  const sandbox = readLiveEndpoints();
  if (!sandbox) throw new Error(`no TEMPORAL_ADDRESS and no running sandbox in ${sandboxDir()} (start one with npm run sandbox, or set TEMPORAL_ADDRESS)`);
  return {
    address: sandbox.temporal.address,
    namespace: env.TEMPORAL_NAMESPACE ? config.TEMPORAL_NAMESPACE : sandbox.temporal.namespace,
    taskQueue,
  };
}

/** Runs `workflowType` once on the orchestrator's task queue and returns its result; the connection is closed after. */
export async function runOnce<R>(target: TemporalTarget, workflowType: string, workflowId: string, arg: unknown): Promise<R> {
  const connection = await Connection.connect(clientConnectionOptions(temporalConnectionSettings(target.address, target.auth ?? {})));
  try {
    const client = new Client({ connection, namespace: target.namespace });
    logger('coordination-backup-cli').info('starting', { workflowType, workflowId, taskQueue: target.taskQueue, temporal: target.address });
    return await client.workflow.execute<(a: unknown) => Promise<R>>(workflowType, {
      taskQueue: target.taskQueue,
      workflowId,
      args: [arg],
      workflowExecutionTimeout: '2h',
    });
  } finally {
    await connection.close();
  }
}

/** A workflow id no other run uses: `<prefix>:<time>-<random>`. */
export function oneOffWorkflowId(prefix: string, now = new Date()): string {
  return `${prefix}:${now.toISOString()}-${crypto.randomBytes(3).toString('hex')}`;
}

/** The error of a failed workflow, with its cause's message (the activity's). */
export function failureMessage(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = (e as { cause?: unknown }).cause) parts.push(e.message);
  return parts.length > 0 ? parts.join(': ') : String(err);
}

const BackupArgs = z.object({
  namespace: z.array(z.string().min(1)).optional(),
  at: z.iso.datetime({ offset: true }).optional(),
  'retention-days': z.coerce.number().positive().optional(),
});

export const BACKUP_HELP = `Usage: vpsie-orchestrator backup [flags]

Takes one coordination backup now (then prunes old ones) through the orchestrator's worker;
prints the manifest as JSON. Each flag has an environment variable; a flag given wins over it.

  --namespace <ns>...     BACKUP_NAMESPACES      only these namespaces (comma-separated in the variable)
  --at <RFC3339>          BACKUP_AT              the backup's time (default: now)
  --retention-days <n>    BACKUP_RETENTION_DAYS  prune backups older than this
  --help, -h                                     print this and exit

Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE and TEMPORAL_TLS* as the orchestrator
reads them; without TEMPORAL_ADDRESS, the running sandbox.
`;

/** `vpsie-orchestrator backup`: flags over their environment variables. */
export async function backupCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(BACKUP_HELP);
    return;
  }
  const { values } = parseArgs({
    args: argv,
    options: { namespace: { type: 'string', multiple: true }, at: { type: 'string' }, 'retention-days': { type: 'string' } },
    strict: true,
  });
  const envNamespaces = (env.BACKUP_NAMESPACES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const a = BackupArgs.parse({
    ...(envNamespaces.length ? { namespace: envNamespaces } : {}),
    ...(env.BACKUP_AT ? { at: env.BACKUP_AT } : {}),
    ...(env.BACKUP_RETENTION_DAYS ? { 'retention-days': env.BACKUP_RETENTION_DAYS } : {}),
    ...Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)),
  });
  const input: CoordinationBackupInput = {
    ...(a.namespace ? { namespaces: a.namespace } : {}),
    ...(a.at ? { at: a.at } : {}),
    ...(a['retention-days'] !== undefined ? { retentionDays: a['retention-days'] } : {}),
  };
  const result = await runOnce(temporalTarget(), 'coordinationBackupWorkflow', oneOffWorkflowId('coordination-backup:manual'), input);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

if (require.main === module)
  backupCli(process.argv.slice(2)).catch((err: unknown) => {
    logger('coordination-backup-cli').error('the backup failed', { error: failureMessage(err) });
    process.exit(1);
  });
