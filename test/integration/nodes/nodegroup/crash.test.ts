import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { nodeGroupScaleDownUpdate, nodeGroupStateQuery, nodeGroupWorkflowId } from '../../../../workflows/nodes/contracts';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { workflowBundle } from '../../../support/worker';
import { ensureCredentialsSecret } from '../../../../workers/sandbox-setup';
import { createGroup, deleteGroup, eventually, groupVNs, liveMachinesOfNamespace, patchGroupSpec, readGroup, simMachines } from '../../../support/orchestrator';

const N = Number(process.env.CRASH_TEST_NODES ?? 50);

describe('Crash consistency: the orchestrator process SIGKILLed at random points of 50 lifecycles', function () {
  this.timeout(1_200_000);
  let sb: TestSandbox;
  let bundlePath: string;
  let child: ChildProcess | undefined;
  let simConfig: unknown;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    await ensureCredentialsSecret(sb.kc, 'kube-system/vpsie-credentials', sb.endpoints.vpsie!);
    const b = await workflowBundle();
    bundlePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ng-crash-')), 'workflows.js');
    fs.writeFileSync(bundlePath, b.code);
    // This test is about crash consistency, not VPSie's rate limit: lift it (simulator and orchestrator) for the run.
    simConfig = await (await fetch(`${sb.endpoints.vpsie!.admin}/config`)).json();
    await fetch(`${sb.endpoints.vpsie!.admin}/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimit: null }),
    });
  });
  after(async () => {
    child?.kill('SIGKILL');
    const rl = (simConfig as { rateLimit?: unknown } | undefined)?.rateLimit;
    if (sb && rl !== undefined)
      await fetch(`${sb.endpoints.vpsie!.admin}/config`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rateLimit: rl }),
      });
  });

  function startChild(ns: string, tq: string): Promise<ChildProcess> {
    const c = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../../../support/worker-process.ts')], {
      env: {
        ...process.env,
        LOG_LEVEL: 'error',
        VPSIE_RATE_LIMIT_PER_MINUTE: '6000',
        ORCHESTRATOR_PROCESS: JSON.stringify({ endpoints: sb.endpoints, namespace: ns, taskQueue: tq, bundlePath }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    c.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`orchestrator process not ready in 60 s: ${err}`)), 60_000);
      c.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve(c);
        }
      });
      c.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`orchestrator process exited ${code}: ${err}`));
      });
    });
  }

  async function killAndRestart(ns: string, tq: string, afterMs: number): Promise<void> {
    await new Promise((r) => setTimeout(r, afterMs));
    const c = child;
    if (c) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
    child = await startChild(ns, tq);
  }

  /** Random kill points, seeded per run and printed so a failure can be reproduced by reading the log. */
  function delays(count: number, maxMs: number): number[] {
    return Array.from({ length: count }, () => 500 + Math.floor(Math.random() * maxMs));
  }

  it('a NodeGroup scaled 0 → 50 → 0 with the worker killed and restarted repeatedly ends with exactly the expected machines: no duplicate, no leak, every workflow finished', async () => {
    const ns = await sb.namespace('ng-crash');
    const tq = sb.taskQueue('ng-crash');
    const group = uniqueName('ng');
    child = await startChild(ns, tq);
    await createGroup(sb, ns, group, { minNodes: 0, maxNodes: N });
    await eventually('group workflow running', 30_000, async () =>
      (await sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group)).describe()).status.name === 'RUNNING' ? true : undefined,
    );

    // 0 → 50, killing the process at random points while VPSieNodes are created and machines boot.
    await patchGroupSpec(sb, ns, group, { minNodes: N });
    const upKills = delays(3, 4000);
    process.stderr.write(`      kill points (scale-up): ${upKills.join(', ')} ms\n`);
    for (const d of upKills) await killAndRestart(ns, tq, d);
    let lastReport = 0;
    const up = await eventually(
      `${N} VPSieNodes Ready`,
      600_000,
      async () => {
        const vns = await groupVNs(sb, ns, group);
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          const phases: Record<string, number> = {};
          for (const v of vns) phases[v.phase ?? 'none'] = (phases[v.phase ?? 'none'] ?? 0) + 1;
          process.stderr.write(`      ${vns.length} VPSieNodes: ${JSON.stringify(phases)}; live machines ${(await liveMachinesOfNamespace(sb, ns)).length}\n`);
        }
        return vns.length === N && vns.every((v) => v.phase === 'Ready') ? vns : undefined;
      },
      1000,
    );
    // Exactly one live machine per VPSieNode (its request id is the VPSieNode uid), none else.
    const machines = await liveMachinesOfNamespace(sb, ns);
    const byUid = new Map<string, number>();
    for (const m of machines) {
      const id =
        (m.notes ?? '')
          .split(/\s+/)
          .find((t) => t.startsWith('orchestrator-request-id='))
          ?.split('=')[1] ?? '';
      byUid.set(id, (byUid.get(id) ?? 0) + 1);
    }
    expect(machines).to.have.length(N);
    expect([...byUid.keys()].sort()).to.deep.equal(up.map((v) => v.uid).sort());
    expect([...byUid.values()].every((c) => c === 1)).to.equal(true);

    // 50 → 0: min back to 0, then a scale-down of every node, killed again mid-way.
    await patchGroupSpec(sb, ns, group, { minNodes: 0 });
    const handle = sb.temporal.workflow.getHandle(nodeGroupWorkflowId(ns, group));
    await eventually('min 0 seen', 60_000, async () => ((await handle.query(nodeGroupStateQuery)).minNodes === 0 ? true : undefined));
    const down = await handle.executeUpdate(nodeGroupScaleDownUpdate, {
      args: [{ requestId: randomUUID(), vpsieNodes: up.map((v) => v.name), reason: 'Underutilized' }],
    });
    expect(down.removing).to.have.length(N);
    const downKills = delays(2, 3000);
    process.stderr.write(`      kill points (scale-down): ${downKills.join(', ')} ms\n`);
    for (const d of downKills) await killAndRestart(ns, tq, d);
    await eventually(
      'all VPSieNodes and machines gone',
      600_000,
      async () => ((await groupVNs(sb, ns, group)).length === 0 && (await liveMachinesOfNamespace(sb, ns)).length === 0 ? true : undefined),
      1000,
    );
    // Every lifecycle finished.
    const lifecycles: string[] = [];
    for await (const w of sb.temporal.workflow.list({ query: `NodeGroup = '${ns}/${group}' AND WorkflowId STARTS_WITH 'vpsienode:'` }))
      lifecycles.push(`${w.workflowId}:${w.status.name}`);
    expect(lifecycles.length).to.be.at.least(N);
    const unfinished = await eventually(
      'every lifecycle finished',
      120_000,
      async () => {
        const open: string[] = [];
        for await (const w of sb.temporal.workflow.list({
          query: `NodeGroup = '${ns}/${group}' AND WorkflowId STARTS_WITH 'vpsienode:' AND ExecutionStatus = 'Running'`,
        }))
          open.push(w.workflowId);
        return open.length === 0 ? open : undefined;
      },
      1000,
    );
    expect(unfinished).to.deep.equal([]);
    // Deleting the group ends its workflow; no machine of the namespace was ever duplicated or leaked.
    await deleteGroup(sb, ns, group);
    await eventually(
      'group gone and its workflow completed',
      120_000,
      async () => ((await readGroup(sb, ns, group)) === undefined && (await handle.describe()).status.name === 'COMPLETED' ? true : undefined),
      1000,
    );
    const all = (await simMachines(sb)).filter((m) => (m.notes ?? '').includes(`vpsienode=${ns}/`));
    expect(all.filter((m) => m.phase !== 'deleted')).to.have.length(0);
    expect(new Set(all.map((m) => m.hostname)).size).to.equal(all.length);
    expect(all.length).to.equal(N);
  });
});
