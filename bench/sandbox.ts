/**
 * `npm run bench:sandbox [-- --rounds N --idle-seconds S]`: measures the sandbox with a warm
 * toolchain — seconds from start to every component ready, resident memory of each process
 * once idle, seconds to stop — and prints one JSON object.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureToolchain } from '../sandbox/toolchain';
import { startSandbox } from '../sandbox/stack';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 3);
  const idleSeconds = arg('idle-seconds', 15);
  const t0 = Date.now();
  await ensureToolchain();
  const toolchainSeconds = (Date.now() - t0) / 1000;
  const starts: number[] = [];
  const stops: number[] = [];
  let rss: Record<string, number | null> = {};
  for (let i = 0; i < rounds; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-bench-sandbox-'));
    const sb = await startSandbox({ dir, headless: true });
    starts.push(sb.startSeconds);
    if (i === rounds - 1) {
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      rss = Object.fromEntries(Object.entries(sb.endpoints.pids).map(([name, pid]) => [name, rssMiB(pid)]));
    }
    const s = Date.now();
    await sb.stop();
    stops.push((Date.now() - s) / 1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const sorted = [...starts].sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      toolchainCachedSeconds: toolchainSeconds,
      rounds,
      startSeconds: starts,
      startSecondsMedian: sorted[Math.floor(sorted.length / 2)],
      stopSeconds: stops,
      idleSeconds,
      rssMiB: rss,
    }),
  );
}

void main();
