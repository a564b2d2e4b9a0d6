/**
 * Outgrowing one machine: many processes on one Temporal namespace and one cluster. Two worker
 * processes (COMPONENTS=worker) and two watcher processes (COMPONENTS=watchers, leader election on
 * a Lease) run a scale-up and a scale-down, and the leading watcher is SIGKILLed between them:
 * the other takes the Lease and the scale-down happens; every workflow of the task queue finished
 * or still runs, none failed, timed out or was terminated, and each did its work once (exactly the
 * machines the scale-up needed were created, each removed machine deleted once).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { ensureCredentialsSecret } from '../../../workers/sandbox-setup';
import { deleteGroup, eventually, grantLeaderLease, liveMachinesOfNamespace, simMachines } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';
import { workflowBundle } from '../../support/worker';
import { createIsolatedGroup, isolation, waitGroupSize } from '../nodes/scale-down/helpers';
import { scaleDownWorkflowId } from '../../../workflows/nodes/scale-down/loop';

describe('Two worker and two watcher processes on one Temporal and one cluster', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let bundlePath: string;
  const children = new Map<string, ChildProcess>();

  before(async function () {
    sb = await sharedSandbox();
    await ensureCredentialsSecret(sb.kc, 'kube-system/vpsie-credentials', sb.endpoints.vpsie!);
    const b = await workflowBundle();
    bundlePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ha-')), 'workflows.js');
    fs.writeFileSync(bundlePath, b.code);
  });
  after(() => {
    for (const c of children.values()) c.kill('SIGKILL');
  });

  function start(name: string, input: Record<string, unknown>): Promise<ChildProcess> {
    const c = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../../support/worker-process.ts')], {
      env: { ...process.env, LOG_LEVEL: 'error', ORCHESTRATOR_PROCESS: JSON.stringify({ endpoints: sb.endpoints, bundlePath, identity: name, ...input }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(name, c);
    let err = '';
    c.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name} not ready in 90 s: ${err}`)), 90_000);
      c.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve(c);
        }
      });
      c.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`${name} exited ${code}: ${err}`));
      });
    });
  }

  it('scale-up, SIGKILL of the leading watcher, scale-down: the other watcher leads, every workflow completes once', async () => {
    const ns = await sb.namespace('ha');
    const tq = sb.taskQueue('ha');
    const lease = uniqueName('ha-leader');
    await grantLeaderLease(sb, ns, lease);
    const env = { SCALE_DOWN_SAMPLE_SECONDS: '1', SCALE_DOWN_DRAIN_TIMEOUT_SECONDS: '20', SCALE_DOWN_MAX_GRACE_SECONDS: '0' };
    const leaderElection = { leaseName: lease, leaseNamespace: ns, leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 };
    await Promise.all([
      start('worker-1', { namespace: ns, taskQueue: tq, env: { ...env, COMPONENTS: 'worker' } }),
      start('worker-2', { namespace: ns, taskQueue: tq, env: { ...env, COMPONENTS: 'worker' } }),
      start('watcher-1', { namespace: ns, taskQueue: tq, env: { ...env, COMPONENTS: 'watchers' }, leaderElection }),
      start('watcher-2', { namespace: ns, taskQueue: tq, env: { ...env, COMPONENTS: 'watchers' }, leaderElection }),
    ]);
    const coord = sb.kc.makeApiClient(k8s.CoordinationV1Api);
    const holder = async (): Promise<string | undefined> => (await coord.readNamespacedLease({ name: lease, namespace: ns })).spec?.holderIdentity ?? undefined;
    const first = await eventually('a watcher leads', 30_000, async () => ((await holder())?.startsWith('watcher-') ? await holder() : undefined));

    // scale-up: three pods of 1200m on 2-CPU machines need three nodes
    const group = uniqueName('ng');
    await createIsolatedGroup(sb, ns, group, { minNodes: 0, maxNodes: 3 });
    const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    const labels = { app: 'ha-load' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'load', namespace: ns },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...isolation(group),
              containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '1200m', memory: '256Mi' } } }],
            },
          },
        },
      },
    });
    await waitGroupSize(sb, ns, group, 3, 240_000);
    await eventually('3 pods Running', 120_000, async () => {
      const pods = (await sb.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=ha-load' })).items;
      return pods.filter((p) => p.status?.phase === 'Running').length === 3 ? true : undefined;
    });
    expect((await liveMachinesOfNamespace(sb, ns)).length, 'machines after the scale-up').to.equal(3);

    // the leading watcher dies without releasing its Lease; the other takes it
    const leader = children.get(first!)!;
    const exited = new Promise((r) => leader.once('exit', r));
    leader.kill('SIGKILL');
    await exited;
    children.delete(first!);
    const second = await eventually('the other watcher leads', 60_000, async () => {
      const h = await holder();
      return h && h !== first ? h : undefined;
    });
    expect(second).to.match(/^watcher-/);

    // scale-down: one pod is left; two nodes go
    await apps.patchNamespacedDeployment(
      { namespace: ns, name: 'load', body: { spec: { replicas: 1 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitGroupSize(sb, ns, group, 1, 300_000);

    // exactly the machines needed were made; the two removed ones are deleted (once each)
    // (a removed VPSieNode's machine may still be being deleted when the group is down to one)
    const ours = async () => (await simMachines(sb)).filter((m) => (m.notes ?? '').split(/\s+/).some((t) => t.startsWith(`vpsienode=${ns}/`)));
    await eventually('the two removed machines deleted', 120_000, async () =>
      (await ours()).filter((m) => m.phase === 'deleted').length >= 2 ? true : undefined,
    );
    const made = await ours();
    expect(made.length, 'machines ever created').to.equal(3);
    expect(made.filter((m) => m.phase === 'deleted').length, 'machines deleted').to.equal(2);

    // every workflow of the task queue: none failed, timed out or was terminated
    const runs: { id: string; status: string; type: string }[] = [];
    for await (const w of sb.temporal.workflow.list({ query: `TaskQueue="${tq}"` })) runs.push({ id: w.workflowId, status: w.status.name, type: w.type });
    const bad = runs.filter((r) => ['FAILED', 'TIMED_OUT', 'TERMINATED', 'CANCELLED'].includes(r.status));
    expect(bad, 'workflows that did not complete').to.deep.equal([]);
    const completedTwice = Object.entries(
      runs.filter((r) => r.status === 'COMPLETED').reduce<Record<string, number>>((m, r) => ((m[r.id] = (m[r.id] ?? 0) + 1), m), {}),
    ).filter(([, n]) => n > 1);
    expect(completedTwice, 'a workflow id completed more than once').to.deep.equal([]);
    expect(
      runs.some((r) => r.type.toLowerCase().includes('scaleup')),
      `a scale-up workflow ran (${[...new Set(runs.map((r) => r.type))].join(', ')})`,
    ).to.equal(true);

    await apps.deleteNamespacedDeployment({ namespace: ns, name: 'load' });
    await deleteGroup(sb, ns, group);
    await eventually('machines gone', 180_000, async () => ((await liveMachinesOfNamespace(sb, ns)).length === 0 ? true : undefined));
    await sb.temporal.workflow
      .getHandle(scaleDownWorkflowId(ns))
      .terminate('test over')
      .catch(() => undefined);
  });
});
