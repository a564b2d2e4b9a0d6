/**
 * The one entry point: `vpsie-orchestrator [mode] [flags]` (`npm start -- …`, or
 * `node dist/workers/cli.js …` in the image). Modes:
 *
 *   run      (default) the orchestrator: the parts of COMPONENTS (workers/main.ts)
 *   sandbox  the local stack, kept up until Ctrl-C (sandbox/cli.ts)
 *   backup   one coordination backup now (starters/coordination/backup-cli.ts)
 *   restore  restore a coordination backup (starters/coordination/restore-cli.ts)
 *
 * `--help` after a mode lists its flags, each with its environment variable.
 */
export const MODES = ['run', 'sandbox', 'backup', 'restore'] as const;
export type Mode = (typeof MODES)[number];

export const TOP_HELP = `Usage: vpsie-orchestrator [mode] [flags]

Modes:
  run       the orchestrator (default when no mode is given): worker, watchers, coordination API
  sandbox   the local stack (Kubernetes, kwok, metrics-server, Prometheus, VPSie simulator, Temporal)
  backup    one coordination backup now
  restore   restore a coordination backup

vpsie-orchestrator <mode> --help lists the mode's flags and their environment variables.
`;

/** The mode and its own arguments; a first argument that is neither a mode nor a flag is an error. */
export function parseMode(argv: readonly string[]): { mode: Mode; rest: string[] } | { help: true } | { error: string } {
  const [first, ...rest] = argv;
  if (first === undefined || first.startsWith('-')) {
    if (first === '--help' || first === '-h') return { help: true };
    return { mode: 'run', rest: [...argv] };
  }
  if ((MODES as readonly string[]).includes(first)) return { mode: first as Mode, rest };
  return { error: `unknown mode ${first} (modes: ${MODES.join(', ')}; see --help)` };
}

async function main(): Promise<void> {
  const parsed = parseMode(process.argv.slice(2));
  if ('help' in parsed) {
    process.stdout.write(TOP_HELP);
    return;
  }
  if ('error' in parsed) {
    process.stderr.write(`vpsie-orchestrator: ${parsed.error}\n`);
    process.exit(2);
  }
  const { mode, rest } = parsed;
  if (mode === 'backup') return (await import('../starters/coordination/backup-cli')).backupCli(rest);
  if (mode === 'restore') return (await import('../starters/coordination/restore-cli')).restoreCli(rest);
  // run and sandbox read their arguments from process.argv when loaded
  process.argv = [process.argv[0]!, process.argv[1]!, ...rest];
  if (mode === 'sandbox') await import('../sandbox/cli');
  else await import('./main');
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(`vpsie-orchestrator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
