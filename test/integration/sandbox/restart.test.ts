/**
 * The same checkout started, stopped and started again, as people use it: `npm start` (which
 * brings its own sandbox) twice in ONE sandbox directory, and `npm run sandbox` kept up with
 * `npm start` attached to it, restarted. Each run does a small scale-up with kubectl (a pod that
 * needs a node gets one). Every stop is a Ctrl-C as a terminal sends it: SIGINT to the whole
 * foreground process group (npm, its shell and node), which npm also forwards.
 *
 * The stop times are printed (they are measured by `npm run bench:restart`), never asserted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { endpointsPath, readEndpoints, type Endpoints } from '../../../sandbox/endpoints';
import { ctrlC, kubectl, orchestratorReady, running, sandboxJob as npm, sleep, waitFor, type Job } from '../../../sandbox/job';
import { isAlive } from '../../../sandbox/process';

/** A NodeGroup (minNodes 0, default join Secret) and a pod only its nodes can take. */
function manifests(group: string, pod: string): string {
  return `apiVersion: autoscaler.vpsie.com/v1alpha1
kind: NodeGroup
metadata: {name: ${group}, namespace: default}
spec:
  minNodes: 0
  maxNodes: 4
  datacenterID: us-east-1
  offeringIDs: [small-2cpu-4gb]
  osImageID: ubuntu-22.04-lts
  labels: {restart-test: ${group}}
---
apiVersion: v1
kind: Pod
metadata: {name: ${pod}, namespace: default}
spec:
  nodeSelector: {restart-test: ${group}}
  containers:
    - name: app
      image: registry.k8s.io/pause:3.10
      resources: {requests: {cpu: 1500m, memory: 256Mi}}
`;
}

/** Applies the group and a pod that fits no existing node; resolves when it runs on a new node of the group. */
async function scaleUpWorks(e: Endpoints, group: string, pod: string): Promise<string> {
  kubectl(e, ['apply', '-f', '-'], manifests(group, pod));
  kubectl(e, ['wait', '--for=condition=Ready', `pod/${pod}`, '-n', 'default', '--timeout=180s']);
  const nodeName = kubectl(e, ['get', 'pod', pod, '-n', 'default', '-o', 'jsonpath={.spec.nodeName}']).trim();
  const labels = JSON.parse(kubectl(e, ['get', 'node', nodeName, '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
  expect(labels['restart-test'], `node ${nodeName} is one of the group's`).to.equal(group);
  expect(labels['autoscaler.vpsie.com/nodegroup']).to.match(new RegExp(`${group}$`));
  return nodeName;
}

/** The simulator named in endpoints.json answers (401 without a token), the bug was a refused connection. */
async function vpsieAlive(e: Endpoints): Promise<number> {
  if (!e.vpsie) throw new Error('endpoints.json has no vpsie section');
  const r = await fetch(`${e.vpsie.url}/apps/v2/vms`);
  return r.status;
}

/** The orchestrator logged the end of its ordered stop and nothing uncaught; the log's tail names what went wrong. */
function stoppedInOrder(run: Job, round: number): void {
  const log = fs.readFileSync(run.log, 'utf8');
  const tail = log.trimEnd().split('\n').slice(-25).join('\n');
  const why = `round ${round}: the orchestrator stopped in order, to the end (exit ${run.child.exitCode ?? run.child.signalCode}); log ${run.log} ends:\n${tail}\n`;
  expect(/"message":"stopped"/.test(log), why).to.equal(true);
  expect(/uncaughtException|unhandledRejection/.test(log), why).to.equal(false);
}

function pidsOf(e: Endpoints): number[] {
  return Object.values(e.pids);
}

describe('the same checkout, started and stopped again', function () {
  this.timeout(900_000);
  let root: string;
  const runs: Job[] = [];
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-restart-'));
  });
  afterEach(async () => {
    // Leave nothing behind when an assertion failed mid-way.
    for (const r of runs.splice(0)) {
      if (running(r)) {
        try {
          process.kill(-(r.child.pid ?? 0), 'SIGINT');
        } catch {
          /* gone */
        }
        await Promise.race([r.exited, sleep(60_000)]);
      }
    }
  });
  after(() => {
    if (process.env.KEEP_TEST_SANDBOX !== '1') fs.rmSync(root, { recursive: true, force: true });
  });

  it('npm start twice in one sandbox directory: each run provisions, each Ctrl-C stops everything', async () => {
    const dir = path.join(root, 'own');
    const stops: number[] = [];
    let firstVPSieUrl = '';
    for (let round = 1; round <= 2; round++) {
      const run = npm('start', dir, `npm-start-${round}`);
      runs.push(run);
      const e = await orchestratorReady(dir, run);
      expect(await vpsieAlive(e), `round ${round}: the published VPSie simulator answers`).to.equal(401);
      if (round === 1) firstVPSieUrl = e.vpsie?.url ?? '';
      else expect(e.vpsie?.url, 'a new simulator (a fresh cloud) each start').to.not.equal(firstVPSieUrl);
      // A fresh cluster each start: nothing of the first run's objects is left to confuse the second.
      expect(kubectl(e, ['get', 'ng', '-A', '-o', 'name']).trim(), `round ${round}: no NodeGroup before we apply one`).to.equal('');
      await scaleUpWorks(e, 'restart', `needs-a-node-${round}`);
      const pids = pidsOf(e);
      stops.push(await ctrlC(run));
      await run.exited; // npm re-raises the SIGINT on itself once its child is done
      stoppedInOrder(run, round);
      expect(pids.filter(isAlive), `round ${round}: processes left running`).to.deep.equal([]);
      expect(fs.existsSync(endpointsPath(dir)), 'endpoints.json removed on stop').to.equal(false);
      const log = fs.readFileSync(run.log, 'utf8');
      expect(log, 'the Lease was released while the apiserver was up').to.match(/released the lease/);
      expect(log).to.not.match(/could not release the lease/);
    }
    process.stderr.write(`      npm start: Ctrl-C → exit in ${stops.map((s) => `${s.toFixed(1)} s`).join(', ')}\n`);
  });

  it('npm run sandbox kept up, npm start attached and restarted: scale-up works each time', async () => {
    const dir = path.join(root, 'shared');
    const sandbox = npm('sandbox', dir, 'npm-sandbox');
    runs.push(sandbox);
    const e0 = await waitFor('the sandbox up', () => readEndpoints(dir), sandbox);
    const sandboxPids = pidsOf(e0);
    const stops: number[] = [];
    for (let round = 1; round <= 2; round++) {
      const run = npm('start', dir, `npm-start-attached-${round}`);
      runs.push(run);
      const e = await orchestratorReady(dir, run);
      expect(e.apiserver, 'attached to the running sandbox').to.equal(e0.apiserver);
      expect(await vpsieAlive(e)).to.equal(401);
      await scaleUpWorks(e, 'attached', `attached-needs-a-node-${round}`);
      stops.push(await ctrlC(run));
      stoppedInOrder(run, round);
      // The sandbox stays up, and no longer names an orchestrator that is gone.
      expect(
        sandboxPids.filter((p) => !isAlive(p)),
        'sandbox processes stopped with the orchestrator',
      ).to.deep.equal([]);
      const after = readEndpoints(dir);
      expect(after?.orchestrator, 'orchestrator section removed on its stop').to.equal(undefined);
      const holder = kubectl(e, ['get', 'lease', 'vpsie-capacity-orchestrator', '-n', 'vpsie-system', '-o', 'jsonpath={.spec.holderIdentity}']).trim();
      expect(holder, 'the Lease is released').to.equal('');
    }
    // Both pods are still running on the group's nodes after the restarts.
    const e = readEndpoints(dir);
    if (!e) throw new Error('sandbox gone');
    for (const pod of ['attached-needs-a-node-1', 'attached-needs-a-node-2'])
      expect(kubectl(e, ['get', 'pod', pod, '-n', 'default', '-o', 'jsonpath={.status.phase}'])).to.equal('Running');
    const sandboxStop = await ctrlC(sandbox);
    expect(fs.readFileSync(sandbox.log, 'utf8')).to.match(/sandbox: stopped in/);
    expect(sandboxPids.filter(isAlive), 'processes left running').to.deep.equal([]);
    expect(fs.existsSync(endpointsPath(dir))).to.equal(false);
    process.stderr.write(
      `      attached npm start: Ctrl-C → exit in ${stops.map((s) => `${s.toFixed(1)} s`).join(', ')}; npm run sandbox: ${sandboxStop.toFixed(1)} s\n`,
    );
  });
});
