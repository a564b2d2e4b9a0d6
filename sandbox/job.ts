/**
 * `npm run <script>` as a person runs it in a terminal: a foreground job in a process group of
 * its own, stopped with Ctrl-C (SIGINT to the whole group — npm, its shell and node — which npm
 * also forwards to its child). Used by the restart test and `npm run bench:restart`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readEndpoints, repoRoot, type Endpoints } from './endpoints';

export interface Job {
  child: ChildProcess;
  /** The file holding the job's stdout and stderr. */
  log: string;
  /** Exit code (null when ended by a signal). */
  exited: Promise<number | null>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function npmJob(script: string, log: string, env: NodeJS.ProcessEnv): Job {
  return commandJob('npm', ['run', '--silent', script], log, env);
}

/** Any command as such a terminal job, in the checkout. */
export function commandJob(command: string, args: string[], log: string, env: NodeJS.ProcessEnv): Job {
  const fd = fs.openSync(log, 'a');
  const child = spawn(command, args, { cwd: repoRoot(), detached: true, stdio: ['ignore', fd, fd], env });
  fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log, exited };
}

export function running(job: Job): boolean {
  return job.child.exitCode === null && job.child.signalCode === null;
}

/** Ctrl-C; resolves with the seconds until the job exited. SIGKILLs the group after `timeoutMs`. */
export async function ctrlC(job: Job, timeoutMs = 120_000): Promise<number> {
  const t0 = Date.now();
  const group = -(job.child.pid ?? 0);
  process.kill(group, 'SIGINT');
  const code = await Promise.race([job.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (code === 'timeout') {
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
    throw new Error(`still running ${timeoutMs / 1000} s after Ctrl-C (log: ${job.log})`);
  }
  return (Date.now() - t0) / 1000;
}

/** Polls `fn` until it gives a value; fails naming `what` on timeout or when `job` exits first. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, job?: Job, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (job && !running(job)) throw new Error(`${what}: the job exited first (log: ${job.log})`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${job ? ` (log: ${job.log})` : ''}`);
    await sleep(250);
  }
}

/** `npm run <script>` as a terminal job on the sandbox in `dir` (headless, log beside `dir`). */
export function sandboxJob(script: string, dir: string, logName: string): Job {
  return npmJob(script, path.join(path.dirname(dir), `${logName}.log`), sandboxJobEnv(dir));
}

/** The environment of such a job: the sandbox in `dir`, headless, info logs, a free metrics port. */
export function sandboxJobEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, SANDBOX_DIR: dir, SANDBOX_HEADLESS: '1', LOG_LEVEL: 'info', METRICS_ADDR: '127.0.0.1:0' };
}

/** The sandbox's endpoints once the orchestrator `job` runs on it has published itself and is ready. */
export function orchestratorReady(dir: string, job: Job): Promise<Endpoints> {
  return waitFor(
    'the orchestrator published and ready',
    async () => {
      const e = readEndpoints(dir);
      return e?.orchestrator && (await fetch(e.orchestrator.readyz)).ok ? e : undefined;
    },
    job,
  );
}

/** The sandbox's own kubectl; throws with its stderr on a non-zero exit. */
export function kubectl(e: Endpoints, args: string[], input?: string): string {
  const r = spawnSync(e.kubectl, [`--kubeconfig=${e.kubeconfig}`, ...args], { input, encoding: 'utf8', timeout: 200_000 });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}
