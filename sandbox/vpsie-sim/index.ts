/**
 * Programmatic entry of the VPSie simulator. The sandbox starts it in-process with
 * `startVPSieSimulator({...})`, or as a child process through `main.ts` (which prints the same
 * fields as one JSON line on stdout when ready).
 */
import fs from 'node:fs';
import { SimConfigSchema, mergeConfig, type SimConfigInput } from './config';
import { KubernetesNodeJoiner, type NodeJoiner } from './node';
import { SimHttp } from './server';
import { Simulator } from './sim';

export { RecordingNodeJoiner, KubernetesNodeJoiner, buildNode, parseJoinUserData, type NodeJoiner } from './node';
export { Simulator } from './sim';
export type { SimConfig, SimConfigInput, QueuedFault } from './config';

export interface VPSieSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** JSON state file; state survives restarts when given (the sandbox passes `.sandbox/vpsie-state.json`). */
  stateFile?: string;
  /** kubeconfig of the cluster booted machines join; without it (and without `nodeJoiner`) nothing joins. */
  kubeconfig?: string;
  /** Custom joiner (tests); wins over `kubeconfig`. */
  nodeJoiner?: NodeJoiner;
  /** Simulator configuration (delays, rate limit, faults, caps); partial, defaults filled in. */
  config?: SimConfigInput;
  /** Path of a JSON file holding a partial config (merged under `config`). */
  configFile?: string;
  /** Sandbox-only credentials; generated (and then kept in the state file) when omitted. */
  clientId?: string;
  clientSecret?: string;
  /** The managed cluster record standing for the sandbox cluster (created if no cluster exists). */
  cluster?: { name?: string; datacenter?: string; identifier?: string } | false;
}

export interface RunningVPSieSimulator {
  /** Host URL; the API is under `${url}/apps/v2` and `${url}/api/v2`. */
  url: string;
  /** Admin endpoint (state, config, faults, outage, token expiry). */
  adminUrl: string;
  clientId: string;
  clientSecret: string;
  /** Identifier of the managed cluster standing for the sandbox cluster ('' when none). */
  clusterIdentifier: string;
  port: number;
  /** Direct access to the simulated account (in-process users only). */
  simulator: Simulator;
  close(): Promise<void>;
}

export async function startVPSieSimulator(opts: VPSieSimulatorOptions = {}): Promise<RunningVPSieSimulator> {
  let config = SimConfigSchema.parse({});
  if (opts.configFile) config = mergeConfig(config, JSON.parse(fs.readFileSync(opts.configFile, 'utf8')));
  if (opts.config) config = mergeConfig(config, opts.config);
  const joiner = opts.nodeJoiner ?? (opts.kubeconfig ? new KubernetesNodeJoiner(opts.kubeconfig) : undefined);
  const sim = new Simulator({
    config,
    ...(opts.clientId ? { clientId: opts.clientId } : {}),
    ...(opts.clientSecret ? { clientSecret: opts.clientSecret } : {}),
    ...(opts.stateFile ? { stateFile: opts.stateFile } : {}),
    ...(joiner ? { joiner } : {}),
    ...(opts.cluster === false
      ? {}
      : {
          sandboxCluster: {
            name: opts.cluster?.name ?? 'sandbox',
            datacenter: opts.cluster?.datacenter ?? 'us-east-1',
            ...(opts.cluster?.identifier ? { identifier: opts.cluster.identifier } : {}),
          },
        }),
  });
  const http = new SimHttp(sim);
  const srv = await http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  const cluster = sim.state.clusters.find((c) => c.deletedAt === null);
  return {
    url: srv.url,
    adminUrl: srv.adminUrl,
    clientId: sim.state.clientId,
    clientSecret: sim.state.clientSecret,
    clusterIdentifier: cluster?.identifier ?? '',
    port: Number(new URL(srv.url).port),
    simulator: sim,
    close: srv.close,
  };
}
