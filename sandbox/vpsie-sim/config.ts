import { z } from 'zod';

/** One-shot faults queued through the admin endpoint; each applies to the next matching request. */
export const QueuedFaultSchema = z.object({
  kind: z.enum([
    /** non-2xx JSON error envelope (status, default 500) */
    'status',
    /** HTTP 200 with `error: true` */
    'error200',
    /** HTML 502 from a "gateway" */
    'html502',
    /** 200 with a JSON body cut in half */
    'truncated',
    /** 429 with Retry-After */
    'rate429',
    /** close the connection before processing (request not applied) */
    'drop',
    /** process the request, then close the connection without answering (crash between request and answer) */
    'dropAfterCommit',
    /** add latency (ms) then answer normally */
    'latency',
  ]),
  /** Substring of `METHOD /path` the request must contain, e.g. `POST /api/v2/vm`. Empty matches all. */
  match: z.string().default(''),
  /** How many matching requests it applies to. */
  times: z.number().int().positive().default(1),
  status: z.number().int().min(400).max(599).default(500),
  message: z.string().default('Internal server error'),
  retryAfterSeconds: z.number().nonnegative().default(1),
  ms: z.number().nonnegative().default(0),
});
export type QueuedFault = z.output<typeof QueuedFaultSchema>;

export const SimConfigSchema = z.object({
  /** Time a created VM / added worker spends pending before it is listed. */
  provisioningDelayMs: z.number().nonnegative().default(2_000),
  /**
   * A created VM is in neither the pending queue nor the list for this long after its create was
   * accepted (VPSie answering creates slowly): a client that creates again when it sees nothing
   * makes a second machine.
   */
  createVisibilityDelayMs: z.number().nonnegative().default(0),
  /** Time from listed to booted (power on, is_active 1, joins the cluster). */
  bootDelayMs: z.number().nonnegative().default(5_000),
  tokenTtlSeconds: z.number().positive().default(3_600),
  /** Per-account sliding-window limit answering 429 with Retry-After; null disables. */
  rateLimit: z.object({ requests: z.number().int().positive(), windowMs: z.number().int().positive() }).nullable().default({ requests: 100, windowMs: 60_000 }),
  /** Which auth headers are honoured. */
  authHeaders: z.enum(['both', 'vpsie-auth', 'bearer']).default('both'),
  maxWorkersPerCluster: z.number().int().nonnegative().default(20),
  /** Account quota: machines (VMs + workers) alive at once. */
  maxMachines: z.number().int().nonnegative().default(200),
  /** When set, a join configuration with another bootstrap token never joins. */
  joinToken: z.string().nullable().default(null),
  faults: z
    .object({
      /** Fraction of API requests answered 500 JSON. */
      errorRate: z.number().min(0).max(1).default(0),
      /** Fraction answered HTTP 200 `error: true`. */
      error200Rate: z.number().min(0).max(1).default(0),
      /** Fraction answered HTML 502. */
      html502Rate: z.number().min(0).max(1).default(0),
      /** Added to every API answer. */
      latencyMs: z.number().nonnegative().default(0),
      /** Outage: every API request answers HTML 503 while active (or until the epoch ms). */
      outage: z.boolean().default(false),
      outageUntil: z.number().nullable().default(null),
      seed: z.number().int().default(42),
    })
    .default({ errorRate: 0, error200Rate: 0, html502Rate: 0, latencyMs: 0, outage: false, outageUntil: null, seed: 42 }),
});
export type SimConfig = z.output<typeof SimConfigSchema>;
export type SimConfigInput = z.input<typeof SimConfigSchema>;

/** Deep-ish merge of a partial config (one level into `faults` and `rateLimit`). */
export function mergeConfig(base: SimConfig, patch: unknown): SimConfig {
  const p = (typeof patch === 'object' && patch !== null ? patch : {}) as Record<string, unknown>;
  const faults = typeof p.faults === 'object' && p.faults !== null ? { ...base.faults, ...(p.faults as object) } : base.faults;
  return SimConfigSchema.parse({ ...base, ...p, faults });
}
