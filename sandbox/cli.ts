/**
 * `npm run sandbox`: brings the local stack up for a person and keeps it up until Ctrl-C
 * (or SIGTERM), then stops every process it started.
 */
import { endpointsPath } from './endpoints';
import { SandboxError, startSandbox } from './stack';
import { ToolchainError } from './toolchain';

export const SANDBOX_HELP = `Usage: vpsie-orchestrator sandbox

Brings the local stack up (Kubernetes control plane, kwok, metrics-server, Prometheus, the VPSie
simulator, the Temporal dev server) and keeps it up until Ctrl-C. It takes no flags; settings are
environment variables:

  SANDBOX_DIR              state and logs (default .sandbox)
  VPSIE_TOOLCHAIN_CACHE    where the toolchain is cached (default ~/.cache/vpsie-orchestrator/toolchain)
  TEMPORAL_BIN, ETCD_BIN, KUBE_APISERVER_BIN, ... an existing binary instead of the toolchain's (README)
  --help, -h               print this and exit
`;

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(SANDBOX_HELP);
    process.exit(0);
  }
  const unknown = process.argv.slice(2)[0];
  if (unknown !== undefined) {
    console.error(`sandbox: unknown argument ${unknown} (see --help)`);
    process.exit(2);
  }
  const sb = await startSandbox({ handleSignals: false, progress: (l) => console.error(`sandbox: ${l}`) });
  const e = sb.endpoints;
  console.log(`
Sandbox ready in ${sb.startSeconds.toFixed(1)} s (state and logs in ${sb.dir}).

  Temporal Web UI   ${e.temporal.ui ?? '(headless)'}
  Temporal address  ${e.temporal.address}  (namespace ${e.temporal.namespace})
  temporal CLI      ${e.temporal.cli} workflow list --address ${e.temporal.address} --namespace ${e.temporal.namespace}
  kubectl           export KUBECONFIG=${e.kubeconfig}
                    ${e.kubectl} get nodes,pods -A
  endpoints         ${endpointsPath(sb.dir)}

Press Ctrl-C to stop everything.`);
  // npm forwards the terminal's Ctrl-C, so one press may arrive twice: repeats join the stop.
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    const t0 = Date.now();
    console.error('sandbox: stopping…');
    void sb.stop().then(() => {
      console.error(`sandbox: stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      process.exit(0);
    });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  const known = err instanceof SandboxError || err instanceof ToolchainError;
  console.error(`sandbox: ${known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
