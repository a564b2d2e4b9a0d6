/**
 * `npm start`: the orchestrator. With KUBECONFIG and TEMPORAL_ADDRESS it runs against that
 * cluster and Temporal server; otherwise it uses the local sandbox, reusing one that
 * `npm run sandbox` keeps up or starting its own (stopped again on exit).
 */
import { readLiveEndpoints } from '../sandbox/endpoints';
import { startSandbox, type Sandbox } from '../sandbox/stack';
import { ConfigError, loadConfig } from '../lib/config';
import { loadKubeConfig } from '../lib/kube';
import { logger } from '../lib/log';
import { startOrchestrator } from './orchestrator';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = logger('main');
  let sandbox: Sandbox | undefined;
  let kubeconfig = config.KUBECONFIG;
  let temporalAddress = config.TEMPORAL_ADDRESS;
  let metricsAddr = config.METRICS_ADDR;
  if (!kubeconfig || !temporalAddress) {
    const running = readLiveEndpoints();
    if (running && kubeconfig === undefined && temporalAddress === undefined) {
      log.info('using the running sandbox', { kubeconfig: running.kubeconfig, temporal: running.temporal.address });
      kubeconfig = running.kubeconfig;
      temporalAddress = running.temporal.address;
    } else {
      sandbox = await startSandbox({ handleSignals: false, progress: (l) => log.info(l, { component: 'sandbox' }) });
      kubeconfig ??= sandbox.endpoints.kubeconfig;
      temporalAddress ??= sandbox.endpoints.temporal.address;
      if (process.env.METRICS_ADDR === undefined) metricsAddr = '127.0.0.1:0';
      log.info('sandbox ready', { seconds: sandbox.startSeconds, ui: sandbox.endpoints.temporal.ui, kubeconfig });
    }
  }
  const orchestrator = await startOrchestrator({
    config: { ...config, METRICS_ADDR: metricsAddr },
    kc: loadKubeConfig(kubeconfig),
    temporalAddress,
  });
  sandbox?.publish({
    orchestrator: {
      metrics: `${orchestrator.metricsUrl}/metrics`,
      healthz: `${orchestrator.metricsUrl}/healthz`,
      readyz: `${orchestrator.metricsUrl}/readyz`,
    },
  });
  const shutdown = (signal: string): void => {
    log.info('stopping', { signal });
    void orchestrator
      .stop()
      .then(() => sandbox?.stop())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const msg = err instanceof ConfigError || (err instanceof Error && err.name === 'SandboxError') ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  logger('main').error(msg);
  process.exit(1);
});
