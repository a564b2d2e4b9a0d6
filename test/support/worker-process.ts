/**
 * The whole orchestrator (worker + watchers, leader election off, no HTTP) in a child process,
 * so crash tests can SIGKILL it at any point and start it again.
 * Input: env ORCHESTRATOR_PROCESS = JSON {endpoints, namespace, taskQueue, bundlePath} and,
 * optionally, `env` (configuration over the defaults, e.g. COMPONENTS), `identity` and
 * `leaderElection` (a Lease of the test's own; LEADER_ELECTION is then on).
 * Prints `ready` on stdout once the worker polls and the watchers have listed.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../../lib/config';
import { loadKubeConfig } from '../../lib/kube/api';
import { EndpointsSchema } from '../../sandbox/endpoints';
import { startOrchestrator } from '../../workers/orchestrator';
import { sandboxConfig } from '../../workers/sandbox-setup';
import { sandboxIdentities } from '../../sandbox/identities';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const input = JSON.parse(process.env.ORCHESTRATOR_PROCESS ?? '{}') as {
    endpoints: unknown;
    namespace: string;
    taskQueue: string;
    bundlePath: string;
    env?: Record<string, string>;
    identity?: string;
    leaderElection?: { leaseName: string; leaseNamespace: string; leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
  };
  const endpoints = EndpointsSchema.parse(input.endpoints);
  const config = {
    // VPSIE_RATE_LIMIT_PER_MINUTE from the parent: a test that lifts the simulator's limit lifts this one too.
    ...sandboxConfig(
      loadConfig({
        LOG_LEVEL: 'error',
        ...(process.env.VPSIE_RATE_LIMIT_PER_MINUTE ? { VPSIE_RATE_LIMIT_PER_MINUTE: process.env.VPSIE_RATE_LIMIT_PER_MINUTE } : {}),
        ...(input.env ?? {}),
      }),
      endpoints,
      {},
    ),
    TASK_QUEUE: input.taskQueue,
    WATCH_NAMESPACE: input.namespace,
    LEADER_ELECTION: input.leaderElection !== undefined,
    METRICS_ADDR: '127.0.0.1:0',
  };
  const kc = loadKubeConfig(endpoints.kubeconfig);
  await startOrchestrator({
    config,
    kc,
    // each part as its ServiceAccount of k8s/rbac.yaml, as `npm start` runs it in the sandbox
    identities: (await sandboxIdentities(kc)).identities,
    temporalAddress: endpoints.temporal.address,
    kubeconfigPath: endpoints.kubeconfig,
    workflowBundle: { codePath: input.bundlePath },
    gc: { enabled: false },
    http: false,
    ...(input.identity ? { identity: input.identity } : {}),
    ...(input.leaderElection ? { leaderElection: input.leaderElection } : {}),
    resyncSeconds: 10,
  });
  process.stdout.write('ready\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`orchestrator process failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
