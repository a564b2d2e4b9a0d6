/**
 * The coordination configuration files, read and validated with zod:
 *   - k8s/config/coordinator-config.yaml (document 000 "Global Configuration"; env COORDINATOR_CONFIG
 *     names another file);
 *   - k8s/config/tenant-tier-config.yaml (document 000 "Tenant-Specific Configuration" with
 *     document 002's strategy, node pool and breaker thresholds per tier; env TENANT_TIER_CONFIG).
 * Percentages ("200%") become numbers, quantities ("2", "4Gi") millicores and bytes, durations
 * ("5m") milliseconds. A bad value fails with the file and the field named
 * (`tenant-tier-config.yaml: tenantTiers.dev.resources.maxCPU: …`).
 *
 * Also the generated parameters of the tier admission policies (the ConfigMap
 * platform-system/tenant-tier-limits that k8s/admission/tenant-tiers.yaml reads), so the tier
 * configuration has one source: `node --import tsx lib/coordination-config.ts tier-limits`
 * prints them as YAML for `kubectl apply -f -`.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { formatPath } from './crds/autoscaler/parse';
import { cpuMillis, memoryBytes, parseDuration } from './crds/optipod/quantity';
import { COORDINATION_STRATEGIES, TENANT_TIERS, TIER_LIMITS_CONFIGMAP, TIER_LIMITS_NAMESPACE, VPA_UPDATE_MODES } from './crds/platform/constants';
import { COORDINATION_BOUNDS } from './crds/platform/coordination';
import {
  ALERT_SEVERITIES,
  tierAdmissionLimits,
  type CoordinationConfig,
  type CoordinatorConfig,
  type TenantTierConfig,
  type TenantTierSettings,
} from './crds/platform/config-types';

export type { CoordinationConfig, CoordinatorConfig, TenantTierConfig, TenantTierSettings } from './crds/platform/config-types';

export const CONFIG_DIR = path.resolve(__dirname, '..', 'k8s', 'config');
export const DEFAULT_COORDINATOR_CONFIG_FILE = path.join(CONFIG_DIR, 'coordinator-config.yaml');
export const DEFAULT_TENANT_TIER_CONFIG_FILE = path.join(CONFIG_DIR, 'tenant-tier-config.yaml');

export interface ConfigIssue {
  /** The file (its base name) the issue is in. */
  file: string;
  /** `tenantTiers.dev.resources.maxCPU` */
  path: string;
  message: string;
}

export class CoordinationConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid coordination configuration: ${issues.map((i) => `${i.file}: ${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'CoordinationConfigError';
  }
}

// ---- value grammars --------------------------------------------------------------------------

const int = (min: number, max: number) => z.number({ error: 'must be a number' }).int('must be a whole number').min(min).max(max);
const [PCT_MIN, PCT_MAX] = COORDINATION_BOUNDS.maxResourceChangePercent;

/** "200%" (as the document writes it) or 200 → 200. */
const percent = z.union([z.string(), z.number()], { error: 'must be a percentage such as "50%"' }).transform((v, ctx) => {
  const m = typeof v === 'number' ? [String(v), String(v)] : /^([0-9]+(?:\.[0-9]+)?)%$/.exec(v.trim());
  const n = m === null ? NaN : Number(m[1]);
  if (!Number.isFinite(n) || n < PCT_MIN || n > PCT_MAX) {
    ctx.addIssue({ code: 'custom', message: `must be a percentage from ${PCT_MIN}% to ${PCT_MAX}% such as "50%" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return n;
});

/** A Kubernetes quantity ("2", "500m", "4Gi"; a bare YAML number is read as its decimal form). */
const quantity = (kind: 'cpu' | 'memory') =>
  z.union([z.string(), z.number()], { error: 'must be a Kubernetes quantity' }).transform((v, ctx) => {
    const text = String(v).trim();
    const n = kind === 'cpu' ? cpuMillis(text) : memoryBytes(text);
    if (n === undefined || n <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a positive Kubernetes quantity such as ${kind === 'cpu' ? '"2" or "500m"' : '"4Gi"'} (got ${JSON.stringify(v)})`,
      });
      return z.NEVER;
    }
    return { text, value: n };
  });

/** A Go duration ("5m", "1h30m", "30s") → ms. */
const duration = z.string({ error: 'must be a duration such as "5m"' }).transform((v, ctx) => {
  const ms = parseDuration(v.trim());
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `must be a positive duration such as "30s", "5m" or "1h" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }
  return ms;
});

const bounded = (k: keyof typeof COORDINATION_BOUNDS) => int(COORDINATION_BOUNDS[k][0], COORDINATION_BOUNDS[k][1]);

// ---- the files -------------------------------------------------------------------------------

export const CoordinatorConfigFileSchema = z.strictObject({
  coordinatorConfig: z.strictObject({
    circuitBreaker: z.strictObject({
      nodeChurnThreshold: bounded('nodeChurnThreshold'),
      evictionThreshold: bounded('evictionThreshold'),
      resourceOscillationPercent: bounded('oscillationThreshold'),
      cooldownMinutes: bounded('cooldownMinutes'),
    }),
    delays: z.strictObject({ vpaUpdateDelay: duration, napActionDelay: duration }),
    rateLimiting: z.strictObject({ maxVPAUpdatesPerHour: int(1, 1_000_000), maxVPAUpdatesPerNamespace: int(1, 1_000_000) }),
    monitoring: z.strictObject({ metricsInterval: duration, healthCheckInterval: duration, conflictCheckInterval: duration }),
  }),
});

const TierSchema = z.strictObject({
  vpa: z.strictObject({
    updateMode: z.enum(VPA_UPDATE_MODES),
    maxResourceChange: percent,
    cooldownMinutes: bounded('cooldownMinutes'),
    coordinationStrategy: z.enum(COORDINATION_STRATEGIES),
  }),
  resources: z.strictObject({ maxCPU: quantity('cpu'), maxMemory: quantity('memory') }),
  monitoring: z.strictObject({ alertSeverity: z.enum(ALERT_SEVERITIES) }),
  nodePool: z
    .string()
    .min(1)
    .max(63)
    .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, 'must be a label value'),
  circuitBreaker: z.strictObject({
    nodeChurnPerHour: bounded('nodeChurnThreshold'),
    evictionRatePerMinute: int(1, 1000),
    cooldownMinutes: bounded('cooldownMinutes'),
  }),
});

export const TenantTierConfigFileSchema = z.strictObject({
  tenantTiers: z.strictObject({ dev: TierSchema, standard: TierSchema, premium: TierSchema }),
});

function tierSettings(t: z.output<typeof TierSchema>): TenantTierSettings {
  return {
    vpa: {
      updateMode: t.vpa.updateMode,
      maxResourceChangePercent: t.vpa.maxResourceChange,
      cooldownMinutes: t.vpa.cooldownMinutes,
      coordinationStrategy: t.vpa.coordinationStrategy,
    },
    resources: {
      maxCPU: t.resources.maxCPU.text,
      maxMemory: t.resources.maxMemory.text,
      maxCpuMilli: t.resources.maxCPU.value,
      maxMemoryBytes: t.resources.maxMemory.value,
    },
    monitoring: { alertSeverity: t.monitoring.alertSeverity },
    nodePool: t.nodePool,
    circuitBreaker: { ...t.circuitBreaker },
  };
}

function coordinatorSettings(c: z.output<typeof CoordinatorConfigFileSchema>['coordinatorConfig']): CoordinatorConfig {
  return {
    circuitBreaker: { ...c.circuitBreaker },
    delays: { vpaUpdateDelayMs: c.delays.vpaUpdateDelay, napActionDelayMs: c.delays.napActionDelay },
    rateLimiting: { ...c.rateLimiting },
    monitoring: {
      metricsIntervalMs: c.monitoring.metricsInterval,
      healthCheckIntervalMs: c.monitoring.healthCheckInterval,
      conflictCheckIntervalMs: c.monitoring.conflictCheckInterval,
    },
  };
}

function parseFile<S extends z.ZodType>(schema: S, text: string, file: string): { value?: z.output<S>; issues: ConfigIssue[] } {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    return { issues: [{ file, path: '<root>', message: `not YAML: ${e instanceof Error ? e.message : String(e)}` }] };
  }
  const r = schema.safeParse(doc ?? {});
  if (r.success) return { value: r.data, issues: [] };
  return {
    issues: r.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => ({ file, path: formatPath([...i.path, k]), message: 'unknown field' }))
        : [{ file, path: formatPath(i.path), message: i.message }],
    ),
  };
}

export interface ConfigTexts {
  /** The text of coordinator-config.yaml. */
  coordinator: string;
  /** The text of tenant-tier-config.yaml. */
  tiers: string;
}

/** Pure: the two files' texts → the typed configuration; throws CoordinationConfigError naming every bad field. */
export function parseCoordinationConfig(texts: ConfigTexts, files: { coordinator?: string; tiers?: string } = {}): CoordinationConfig {
  const c = parseFile(CoordinatorConfigFileSchema, texts.coordinator, files.coordinator ?? 'coordinator-config.yaml');
  const t = parseFile(TenantTierConfigFileSchema, texts.tiers, files.tiers ?? 'tenant-tier-config.yaml');
  const issues = [...c.issues, ...t.issues];
  if (issues.length > 0 || c.value === undefined || t.value === undefined) throw new CoordinationConfigError(issues);
  const tiers = Object.fromEntries(TENANT_TIERS.map((name) => [name, tierSettings(t.value!.tenantTiers[name])])) as TenantTierConfig;
  return { coordinator: coordinatorSettings(c.value.coordinatorConfig), tiers };
}

export interface ConfigPaths {
  coordinator?: string;
  tiers?: string;
}

/** The files the configuration comes from: the arguments, else COORDINATOR_CONFIG / TENANT_TIER_CONFIG, else k8s/config/. */
export function coordinationConfigPaths(paths: ConfigPaths = {}, env: NodeJS.ProcessEnv = process.env): Required<ConfigPaths> {
  return {
    coordinator: path.resolve(paths.coordinator ?? (env.COORDINATOR_CONFIG || DEFAULT_COORDINATOR_CONFIG_FILE)),
    tiers: path.resolve(paths.tiers ?? (env.TENANT_TIER_CONFIG || DEFAULT_TENANT_TIER_CONFIG_FILE)),
  };
}

/** Reads and validates both files (see coordinationConfigPaths for which). */
export function loadCoordinationConfig(paths: ConfigPaths = {}): CoordinationConfig {
  const p = coordinationConfigPaths(paths);
  const read = (file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new CoordinationConfigError([{ file, path: '<root>', message: `cannot be read: ${e instanceof Error ? e.message : String(e)}` }]);
    }
  };
  return parseCoordinationConfig({ coordinator: read(p.coordinator), tiers: read(p.tiers) }, { coordinator: p.coordinator, tiers: p.tiers });
}

// ---- the admission policies' parameters ------------------------------------------------------

/** `<tier>.<limit>` → value, every value a string (ConfigMap data). */
export function tierLimitsData(tiers: TenantTierConfig): Record<string, string> {
  const data: Record<string, string> = {};
  for (const tier of TENANT_TIERS) {
    const l = tierAdmissionLimits(tiers[tier]);
    const put = (k: string, v: string | number | boolean) => (data[`${tier}.${k}`] = String(v));
    put('maxCPU', l.maxCPU);
    put('maxMemory', l.maxMemory);
    put('updateMode', l.updateMode);
    put('updateModes', l.updateModes.join(','));
    put('optimizationPolicyAuto', l.optimizationPolicyAuto);
    put('maxResourceChangePercent', l.maxResourceChangePercent);
    put('maxNodeChurnThreshold', l.maxNodeChurnThreshold);
    put('maxEvictionThreshold', l.maxEvictionThreshold);
    put('minBreakerCooldownMinutes', l.minBreakerCooldownMinutes);
    put('minCooldownPeriodMinutes', l.minCooldownPeriodMinutes);
  }
  return data;
}

const PART_OF = { 'app.kubernetes.io/part-of': 'vpsie-capacity-orchestrator' };

/** The Namespace and the ConfigMap k8s/admission/tenant-tiers.yaml takes its parameters from. */
export function tierLimitsManifests(tiers: TenantTierConfig): [Record<string, unknown>, Record<string, unknown>] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TIER_LIMITS_NAMESPACE, labels: PART_OF } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: TIER_LIMITS_CONFIGMAP,
        namespace: TIER_LIMITS_NAMESPACE,
        labels: PART_OF,
        annotations: { 'platform.io/generated-from': 'k8s/config/tenant-tier-config.yaml' },
      },
      data: tierLimitsData(tiers),
    },
  ];
}

if (require.main === module) {
  const what = process.argv[2];
  if (what !== 'tier-limits') {
    process.stderr.write('usage: node --import tsx lib/coordination-config.ts tier-limits   (prints the admission parameters as YAML)\n');
    process.exit(2);
  }
  try {
    const manifests = tierLimitsManifests(loadCoordinationConfig().tiers);
    process.stdout.write(manifests.map((m) => YAML.stringify(m, { version: '1.1' })).join('---\n'));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
