/**
 * The orchestrator's configuration, from the environment, validated with zod: a bad value
 * fails at start with the variable named.
 */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .transform((v) => v === 'true' || v === '1');

export const ConfigSchema = z.object({
  KUBECONFIG: z.string().min(1).optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('vpsie-autoscaler'),
  TASK_QUEUE: z.string().min(1).default('vpsie-autoscaler'),
  /** host:port for /metrics, /healthz and /readyz; port 0 picks a free one. */
  METRICS_ADDR: z
    .string()
    .regex(/^[\w.-]+:\d+$/, 'expected host:port')
    .default('127.0.0.1:9464'),
  DRY_RUN: bool.default(false),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.shape).filter((k) => env[k] !== undefined).map((k) => [k, env[k]]),
  );
  const r = ConfigSchema.safeParse(known);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return r.data;
}
