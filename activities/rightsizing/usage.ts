/**
 * The usage-collection activity: the policy's provider (`metricsConfig.provider`, else the
 * configured default) asked for one namespace, the input validated with zod, Temporal's
 * cancellation passed down as the AbortSignal. Idempotent: `now` is an argument, so a retry asks
 * the same question (Prometheus) or reads the current sample again (metrics-server).
 */
import { Context } from '@temporalio/activity';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { METRICS_PROVIDERS, type MetricsProviderName } from '../../lib/crds/optipod';
import { providerMetrics } from './metrics';
import type { UsageOutcome, UsageProvider } from './provider';

export const CollectUsageInputSchema = z.object({
  provider: z.enum(METRICS_PROVIDERS).optional(),
  namespace: z.string().min(1),
  now: z.number().int().nonnegative(),
  windowMs: z.number().positive(),
  policy: z.string().optional(),
});
export type CollectUsageInput = z.infer<typeof CollectUsageInputSchema>;

export interface UsageActivityDeps {
  providers: Partial<Record<MetricsProviderName, UsageProvider>>;
  defaultProvider: MetricsProviderName;
  registry?: Registry;
}

/** The activity's cancellation signal, or none outside an activity (tests, scripts). */
function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

export function usageActivities(deps: UsageActivityDeps) {
  return {
    async collectUsage(input: CollectUsageInput): Promise<UsageOutcome> {
      const req = CollectUsageInputSchema.parse(input);
      const name = req.provider ?? deps.defaultProvider;
      const provider = deps.providers[name];
      if (provider === undefined) {
        if (deps.registry) providerMetrics(deps.registry).errors.inc({ policy: req.policy ?? '', error_type: 'NotConfigured' });
        return {
          ok: false,
          provider: name,
          namespace: req.namespace,
          reason: 'MetricsUnavailable',
          failure: 'NotConfigured',
          message: `metrics provider ${name} is not configured`,
        };
      }
      return provider.collect({ namespace: req.namespace, now: req.now, windowMs: req.windowMs, policy: req.policy }, activitySignal());
    },
  };
}
