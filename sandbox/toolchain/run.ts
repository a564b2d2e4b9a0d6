import { spawn } from 'node:child_process';
import fs from 'node:fs';

export class ToolchainError extends Error {
  constructor(
    message: string,
    readonly logFile?: string,
  ) {
    super(logFile ? `${message} (log: ${logFile})` : message);
    this.name = 'ToolchainError';
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Appends stdout and stderr to this file. */
  logFile: string;
  /** What is being done, for the error message. */
  what: string;
}

/** Runs a command to completion, logging its output to a file; rejects with one clear line. */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(opts.logFile, 'a');
    fs.writeSync(log, `\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      fs.writeSync(log, d);
    });
    child.stderr.on('data', (d: Buffer) => fs.writeSync(log, d));
    child.on('error', (err) => {
      fs.closeSync(log);
      reject(new ToolchainError(`${opts.what}: cannot run ${cmd}: ${err.message}`, opts.logFile));
    });
    child.on('close', (code, signal) => {
      fs.closeSync(log);
      if (code === 0) resolve(stdout);
      else reject(new ToolchainError(`${opts.what} failed: ${cmd} exited with ${code ?? signal}`, opts.logFile));
    });
  });
}

/** Runs a command and returns its trimmed stdout, or undefined when it cannot run. */
export function probe(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? out.trim() : undefined));
  });
}
