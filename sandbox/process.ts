/** Child processes the sandbox owns: started with their output in a log file, stopped by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export class SandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxError';
  }
}

export interface Managed {
  name: string;
  pid: number;
  logFile: string;
  /** Byte offset in `logFile` where this run's output starts (the file is appended to by every run). */
  logOffset: number;
  child: ChildProcess;
  /** Set once the process has exited. */
  exited: Promise<void>;
  exitCode(): number | string | null | undefined;
}

export function startProcess(name: string, bin: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = process.env): Managed {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const logOffset = fs.fstatSync(fd).size;
  fs.writeSync(fd, `\n# ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  // Its own process group: a Ctrl-C in the terminal (SIGINT to the foreground group) reaches
  // only the owner, which stops its components in order (the orchestrator before etcd).
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env, detached: true });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new SandboxError(`${name}: could not start ${bin} (log: ${logFile})`);
  let code: number | string | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (c, signal) => {
      code = c ?? signal;
      resolve();
    });
    child.once('error', () => resolve());
  });
  return { name, pid: child.pid, logFile, logOffset, child, exited, exitCode: () => code };
}

/** What this run of `proc` has written to its log so far (never an earlier run's lines). */
export function ownLog(proc: Pick<Managed, 'logFile' | 'logOffset'>): string {
  const fd = fs.openSync(proc.logFile, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - proc.logOffset));
    fs.readSync(fd, buf, 0, buf.length, proc.logOffset);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The kernel's start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), so a
 * recorded pid can be told apart from a later process that reuses it. Undefined when the process
 * is gone or /proc is not there.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is still the process that was recorded: alive, and (where /proc tells) started at
 * the recorded time. Without a recorded start time only liveness is known.
 */
export function isSameProcess(pid: number, startTime: number | undefined): boolean {
  if (!isAlive(pid)) return false;
  if (startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops processes by their pids: SIGTERM to each (in the given order), waits up to `graceMs`
 * for all of them, then SIGKILLs what is left and waits for it to go.
 */
export async function stopPids(pids: number[], graceMs = 10_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(100);
  for (const pid of pids.filter(isAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  const killDeadline = Date.now() + 5_000;
  while (pids.some(isAlive) && Date.now() < killDeadline) await sleep(50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it answers true. Fails with one clear line naming the component and its
 * log when the deadline passes or the process dies first.
 */
export async function waitReady(proc: Managed, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode() !== undefined) throw new SandboxError(`${proc.name} exited (${String(proc.exitCode())}) before ${what} (log: ${proc.logFile})`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new SandboxError(`${proc.name}: ${what} did not happen within ${timeoutMs / 1000} s (log: ${proc.logFile})`);
    await sleep(200);
  }
}
