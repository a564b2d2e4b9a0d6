/**
 * `npm run bench:workflow-memory [-- --workflows 300 --bundle dist/workflow-bundle.js]`: resident
 * memory per cached workflow in a worker of this process. A Temporal dev server of its own (the
 * toolchain's, in memory), a worker on a task queue of its own with the given workflow bundle and
 * no activities, and `--workflows` VPSieNode lifecycles started on it: each runs to its first
 * activity and waits there, held in the worker's sticky cache, as a Ready node's lifecycle waits.
 * Prints one JSON object: RSS and heap before and after, and their difference per workflow.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ensureToolchain } from '../sandbox/toolchain';
import { temporalDevConfig } from '../sandbox/stack';
import { freePort } from '../sandbox/process';
import { projectRoot } from '../lib/paths';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;
const heapMiB = (): number => process.memoryUsage().heapUsed / 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round1 = (n: number): number => Math.round(n * 10) / 10;

async function main(): Promise<void> {
  const count = Number(arg('workflows', '300'));
  const bundle = path.resolve(projectRoot(), arg('bundle', 'dist/workflow-bundle.js'));
  const tools = await ensureToolchain();
  const port = await freePort();
  const tcfg = temporalDevConfig();
  const server = spawn(
    tools.temporal,
    [
      ...['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(await freePort()), '--log-level', 'error'],
      ...['--namespace', tcfg.namespace, ...Object.entries(tcfg.searchAttributes).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`])],
    ],
    { stdio: 'ignore' },
  );
  try {
    const address = `127.0.0.1:${port}`;
    let connection: Connection | undefined;
    for (let i = 0; i < 120 && !connection; i++)
      connection = await Connection.connect({ address }).catch(async () => {
        await sleep(500);
        return undefined;
      });
    if (!connection) throw new Error('the Temporal dev server did not start');
    const client = new Client({ connection, namespace: tcfg.namespace });
    const taskQueue = 'bench-workflow-memory';
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address }),
      namespace: tcfg.namespace,
      taskQueue,
      workflowBundle: { codePath: bundle },
      maxCachedWorkflows: count + 50,
    });
    const running = worker.run();
    await sleep(5000);
    const before = { rss: rssMiB(), heap: heapMiB() };
    for (let i = 0; i < count; i++)
      await client.workflow.start('vpsieNodeLifecycleWorkflow', {
        taskQueue,
        workflowId: `bench-lifecycle-${i}`,
        args: [{ namespace: 'default', name: `node-${i}`, nodeGroup: 'bench' }],
      });
    // every one has run its first task (it waits on its first activity, which no worker serves)
    for (let i = 0; i < 240; i++) {
      const open = await client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`);
      if (open.count >= count) break;
      await sleep(500);
    }
    await sleep(10_000);
    const after = { rss: rssMiB(), heap: heapMiB() };
    console.log(
      JSON.stringify({
        workflows: count,
        bundle: path.relative(projectRoot(), bundle),
        bundleBytes: fs.statSync(bundle).size,
        rssBeforeMiB: round1(before.rss),
        rssAfterMiB: round1(after.rss),
        rssPerWorkflowKiB: Math.round(((after.rss - before.rss) * 1024) / count),
        mainHeapPerWorkflowKiB: Math.round(((after.heap - before.heap) * 1024) / count),
      }),
    );
    worker.shutdown();
    await running;
    await connection.close();
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
