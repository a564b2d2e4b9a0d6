/**
 * Kubernetes quantities ("250m", "512Mi", "1.5", "2e3") and Go durations ("1h30m", "90s") as the
 * CRD accepts them, turned into numbers. Pure (no I/O): used by zod refinements and decision code.
 */

/** Non-negative Kubernetes quantity (resource.Quantity's grammar without a sign). */
export const QUANTITY_PATTERN = /^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
/** Go duration with the units the CRD allows (ms, s, m, h). */
export const DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a quantity in base units (cores, bytes); undefined when malformed. */
export function parseQuantity(q: string): number | undefined {
  if (!QUANTITY_PATTERN.test(q)) return undefined;
  const m = /^([0-9.]+)(.*)$/.exec(q);
  if (m === null) return undefined;
  const num = Number(m[1]);
  const suffix = m[2] ?? '';
  if (suffix.startsWith('e') || suffix.startsWith('E')) return Number(q);
  const mult = SUFFIX[suffix];
  return mult === undefined || !Number.isFinite(num) ? undefined : num * mult;
}

/** CPU quantity → millicores (undefined when malformed). */
export function cpuMillis(q: string): number | undefined {
  const v = parseQuantity(q);
  return v === undefined ? undefined : v * 1000;
}

/** Memory quantity → bytes (undefined when malformed). */
export function memoryBytes(q: string): number | undefined {
  return parseQuantity(q);
}

/** Millicores → the smallest whole-millicore quantity not below it ("250m"). */
export function formatCpu(millicores: number): string {
  return `${Math.max(0, Math.ceil(millicores - 1e-9))}m`;
}

const MI = 2 ** 20;
/** Bytes → the smallest whole-MiB quantity not below it ("512Mi"). */
export function formatMemory(bytes: number): string {
  return `${Math.max(0, Math.ceil(bytes / MI - 1e-9))}Mi`;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration in milliseconds; undefined when malformed. */
export function parseDuration(d: string): number | undefined {
  if (!DURATION_PATTERN.test(d)) return undefined;
  let total = 0;
  for (const m of d.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
  return total;
}
