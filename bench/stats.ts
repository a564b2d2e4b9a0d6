/** Small helpers the benchmarks share: rounding, percentiles, and running a benchmark on the shared sandbox. */
import { stopSharedSandbox } from '../test/support/sandbox';

export const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** The p-th percentile (nearest rank) of `values` (any order); NaN when empty. */
export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Runs a benchmark's main, then exits; on an error prints it and stops the shared sandbox first. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      void stopSharedSandbox().finally(() => process.exit(1));
    },
  );
}
