/**
 * The orchestrator process: a Temporal worker running every workflow and activity, the thin
 * Kubernetes watchers that start or signal workflows, and the metrics/health endpoint.
 */
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { NativeConnection, Worker } from '@temporalio/worker';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createFakeCapacityActivities } from '../activities/fake-capacity';
import type { Config } from '../lib/config';
import { logger } from '../lib/log';
import { serveHealth } from './http';

export interface Orchestrator {
  metricsUrl: string;
  stop(): Promise<void>;
}

export interface OrchestratorDeps {
  config: Config;
  kc: k8s.KubeConfig;
  temporalAddress: string;
  registry?: Registry;
}

export async function startOrchestrator({ config, kc, temporalAddress, registry = new Registry() }: OrchestratorDeps): Promise<Orchestrator> {
  const log = logger('orchestrator', { taskQueue: config.TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE });
  collectDefaultMetrics({ register: registry });
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TASK_QUEUE,
    workflowsPath: path.resolve(__dirname, '../workflows/index.ts'),
    activities: { ...createFakeCapacityActivities(kc) },
  });
  const running = worker.run();
  running.catch((err: unknown) => log.error('worker stopped with an error', { error: String(err) }));
  const health = await serveHealth(config.METRICS_ADDR, registry, () => {
    const state = worker.getState();
    return { ok: state === 'RUNNING', detail: `worker ${state}` };
  });
  log.info('orchestrator running', { metrics: `${health.url}/metrics`, temporal: temporalAddress, dryRun: config.DRY_RUN });
  return {
    metricsUrl: health.url,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown(); // Temporal's own signal handler may have begun it
      await running.catch(() => undefined);
      await health.close();
      await connection.close();
    },
  };
}
