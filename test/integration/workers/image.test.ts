/**
 * The image's steps without a container engine (the Dockerfile's stages): build (compile and
 * bundle the workflows once), prune (a fresh install of production dependencies only), and start
 * from the compiled code and the prebuilt bundle — `node dist/workers/cli.js run` in a directory
 * holding nothing else. That process, against the sandbox, brings a NodeGroup's node to Ready.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { build } from '../../../workers/build';
import { gcScheduleId } from '../../../starters/nodes/schedules';
import { scaleDownWorkflowId } from '../../../workflows/nodes/scale-down/loop';
import { ensureCredentialsSecret } from '../../../workers/sandbox-setup';
import { createGroup, deleteGroup, eventually, groupVNs } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '../../..');

describe('The image, stage by stage: build, prune, start from the bundle', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let app: string;
  let child: ChildProcess | undefined;
  let tq: string;

  before(async () => {
    sb = await sharedSandbox();
    await ensureCredentialsSecret(sb.kc, 'kube-system/vpsie-credentials', sb.endpoints.vpsie!);
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'image-'));
  });
  after(async () => {
    child?.kill('SIGKILL');
    if (tq) {
      await sb.temporal.schedule
        .getHandle(gcScheduleId(tq))
        .delete()
        .catch(() => undefined);
    }
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  it('builds dist/ with the workflow bundle, installs production dependencies only, and the compiled orchestrator creates a Ready node', async () => {
    // build
    const built = await build(path.join(app, 'dist'));
    expect(built.bundled, 'the workflow bundle is built').to.equal(true);
    expect(fs.existsSync(path.join(app, 'dist', 'workflow-bundle.js'))).to.equal(true);
    expect(fs.existsSync(path.join(app, 'dist', 'workers', 'cli.js'))).to.equal(true);
    const again = await build(path.join(app, 'dist'));
    expect(again.bundled, 'a second build with nothing changed keeps the bundle').to.equal(false);
    expect(again.compiled, 'and compiles nothing (what npm start runs first)').to.equal(false);
    // the bundle the orchestrator holds in both of its threads: line maps, no sources' text
    const bundle = fs.readFileSync(path.join(app, 'dist', 'workflow-bundle.js'), 'utf8');
    const map = JSON.parse(Buffer.from(bundle.slice(bundle.indexOf('base64,', bundle.lastIndexOf('//# sourceMappingURL=data:')) + 7), 'base64').toString()) as {
      sources: string[];
      sourcesContent?: unknown[];
    };
    expect(
      map.sources.some((s) => s.includes('workflows/nodes/lifecycle/workflow.ts')),
      'the map names the workflow sources',
    ).to.equal(true);
    expect(map.sourcesContent ?? [], 'without their text').to.satisfy((c: unknown[]) => c.every((x) => x === null || x === undefined || x === ''));

    // prune: production dependencies only
    fs.copyFileSync(path.join(REPO, 'package.json'), path.join(app, 'package.json'));
    fs.copyFileSync(path.join(REPO, 'package-lock.json'), path.join(app, 'package-lock.json'));
    const npmBin = path.join(path.dirname(process.execPath), 'npm');
    await run(fs.existsSync(npmBin) ? npmBin : 'npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: app,
      env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      maxBuffer: 16 << 20,
    });
    for (const dev of ['tsx', 'typescript', 'mocha', 'eslint'])
      expect(fs.existsSync(path.join(app, 'node_modules', dev)), `${dev} is not installed`).to.equal(false);

    // start from the bundle: compiled code, no TypeScript at run time
    const ns = await sb.namespace('image');
    tq = sb.taskQueue('image');
    const v = sb.endpoints.vpsie!;
    let out = '';
    child = spawn(process.execPath, [path.join(app, 'dist', 'workers', 'cli.js'), 'run', '--no-leader-election', '--log-level', 'info'], {
      cwd: app,
      env: {
        PATH: process.env.PATH ?? '',
        KUBECONFIG: sb.kubeconfig,
        TEMPORAL_ADDRESS: sb.endpoints.temporal.address,
        TEMPORAL_NAMESPACE: sb.endpoints.temporal.namespace,
        TASK_QUEUE: tq,
        WATCH_NAMESPACE: ns,
        METRICS_ADDR: '127.0.0.1:0',
        HEALTH_ADDR: '127.0.0.1:0',
        COORDINATION_API_ADDR: '',
        BACKUP_INTERVAL_HOURS: '0',
        VPSIE_URL: v.url,
        VPSIE_CLUSTER_IDENTIFIER: v.clusterIdentifier,
        JOIN_API_SERVER: sb.endpoints.apiserver,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    await eventually('the compiled orchestrator runs', 90_000, async () => (out.includes('orchestrator running') ? true : undefined)).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${out}`);
    });
    expect(out, 'no webpack bundling at start').to.not.include('Workflow bundle created');
    const group = uniqueName('ng');
    await createGroup(sb, ns, group, { minNodes: 1, maxNodes: 1 });
    await eventually('a Ready node', 120_000, async () => ((await groupVNs(sb, ns, group)).some((v) => v.phase === 'Ready') ? true : undefined)).catch(
      (e: unknown) => {
        throw new Error(`${String(e)}\n${out.slice(-4000)}`);
      },
    );
    await deleteGroup(sb, ns, group);
    await sb.temporal.workflow
      .getHandle(scaleDownWorkflowId(ns))
      .terminate('test over')
      .catch(() => undefined);
  });
});
