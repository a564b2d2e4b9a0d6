/**
 * `npm run vpsie-sim -- [--port N] [--host H] [--state-file F] [--kubeconfig K] [--config C.json]
 *  [--client-id ID] [--client-secret S] [--cluster-name NAME] [--cluster-identifier UUID]`
 * (env: VPSIE_SIM_PORT, VPSIE_SIM_HOST, VPSIE_SIM_STATE_FILE, KUBECONFIG, VPSIE_SIM_CONFIG,
 * VPSIE_SIM_CLIENT_ID, VPSIE_SIM_CLIENT_SECRET). Prints one JSON line when ready:
 * {"url","admin","clientId","clientSecret","clusterIdentifier","port","pid"}; stops on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { logger } from '../../lib/log';
import { startVPSieSimulator } from './index';

const log = logger('vpsie-sim');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'state-file': { type: 'string' },
      kubeconfig: { type: 'string' },
      config: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'cluster-name': { type: 'string' },
      'cluster-identifier': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const port = Number(values.port ?? env.VPSIE_SIM_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${values.port ?? env.VPSIE_SIM_PORT}`);
  const stateFile = values['state-file'] ?? env.VPSIE_SIM_STATE_FILE;
  const kubeconfig = values.kubeconfig ?? env.VPSIE_SIM_KUBECONFIG;
  const configFile = values.config ?? env.VPSIE_SIM_CONFIG;
  const clientId = values['client-id'] ?? env.VPSIE_SIM_CLIENT_ID;
  const clientSecret = values['client-secret'] ?? env.VPSIE_SIM_CLIENT_SECRET;
  const sim = await startVPSieSimulator({
    port,
    host: values.host ?? env.VPSIE_SIM_HOST ?? '127.0.0.1',
    ...(stateFile ? { stateFile } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(configFile ? { configFile } : {}),
    ...(clientId ? { clientId } : {}),
    ...(clientSecret ? { clientSecret } : {}),
    cluster: {
      ...(values['cluster-name'] ? { name: values['cluster-name'] } : {}),
      ...(values['cluster-identifier'] ? { identifier: values['cluster-identifier'] } : {}),
    },
  });
  process.stdout.write(
    `${JSON.stringify({
      url: sim.url,
      admin: sim.adminUrl,
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      clusterIdentifier: sim.clusterIdentifier,
      port: sim.port,
      pid: process.pid,
    })}\n`,
  );
  log.info('vpsie simulator ready', { url: sim.url, admin: sim.adminUrl, stateFile: stateFile ?? null, joinsCluster: Boolean(kubeconfig) });
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  log.error('vpsie simulator failed to start', { error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
