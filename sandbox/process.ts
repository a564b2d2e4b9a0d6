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
  child: ChildProcess;
  /** Set once the process has exited. */
  exited: Promise<void>;
  exitCode(): number | string | null | undefined;
}

export function startProcess(name: string, bin: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = process.env): Managed {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n# ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env });
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
  return { name, pid: child.pid, logFile, child, exited, exitCode: () => code };
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
