/**
 * `npm run build`: the production form of the orchestrator, in dist/ —
 *   dist/**.js                  the TypeScript compiled (tsconfig.build.json, incremental)
 *   dist/workflow-bundle.js     the workflow bundle (bundleWorkflowCode), built once here rather
 *                               than by webpack at every start; rebuilt only when a source of it
 *                               changed
 *   dist/k8s/{config,crds}      the files the code reads at run time
 * `node dist/workers/cli.js` then runs compiled code with the prebuilt bundle (the Dockerfile's
 * final stage, and `npm start`, which runs this first with --start). Nothing is compiled when no
 * source, tsconfig or lock file is newer than the last build (dist/.build-stamp): a start with
 * nothing changed costs a directory walk. Prints one JSON line with what was done and how long it
 * took (with --start: one log line on stderr, so stdout stays the orchestrator's log).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { QUIET_BUNDLER, workflowBundleOptions } from './bundle-options';

const ROOT = path.resolve(__dirname, '..');
/** What the compiled code is made of (tsconfig.build.json's include). */
const SOURCE_DIRS = ['workflows', 'activities', 'workers', 'starters', 'clients', 'decision', 'sandbox', 'lib'];
/** What the workflow bundle is made of: the workflow code imports workflows/, decision/ and lib/ only. */
const BUNDLE_DIRS = ['workflows', 'decision', 'lib'];
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

/** The newest modification time among the .ts files under `dirs` (and the files `extra`). */
function newest(dirs: string[], extra: string[] = []): number {
  let t = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(path.join(ROOT, d));
  for (const f of extra) if (fs.existsSync(path.join(ROOT, f))) t = Math.max(t, fs.statSync(path.join(ROOT, f)).mtimeMs);
  return t;
}

const mtime = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);

export interface BuildResult {
  compileSeconds: number;
  /** False when nothing had changed since the last build (tsc not run). */
  compiled: boolean;
  bundleSeconds: number;
  bundled: boolean;
  outDir: string;
}

export async function build(outDir = path.join(ROOT, 'dist')): Promise<BuildResult> {
  const t0 = Date.now();
  const stamp = path.join(outDir, '.build-stamp');
  const started = Date.now();
  const compiled = !fs.existsSync(path.join(outDir, 'workers', 'cli.js')) || mtime(stamp) < newest(SOURCE_DIRS, BUILD_INPUTS);
  if (compiled) {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(
      process.execPath,
      [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir, '--tsBuildInfoFile', path.join(outDir, '.tsbuildinfo')],
      { stdio: 'inherit' },
    );
    // Stamped with the time the compile started: a source saved during it is compiled next time.
    fs.writeFileSync(stamp, '');
    fs.utimesSync(stamp, new Date(started), new Date(started));
  }
  const compileSeconds = (Date.now() - t0) / 1000;
  for (const sub of ['config', 'crds']) fs.cpSync(path.join(ROOT, 'k8s', sub), path.join(outDir, 'k8s', sub), { recursive: true });

  const bundleFile = path.join(outDir, 'workflow-bundle.js');
  const t1 = Date.now();
  // (and this file: how the bundle is made)
  const stale = mtime(bundleFile) < newest(BUNDLE_DIRS, ['workers/build.ts', 'workers/bundle-options.ts']);
  if (stale) {
    // loaded only when needed: the worker package (webpack and all) costs a second to load
    const { bundleWorkflowCode } = await import('@temporalio/worker');
    // shared modules, line maps without the sources' text (workers/bundle-options.ts)
    const { code } = await bundleWorkflowCode({ ...workflowBundleOptions(path.join(ROOT, 'workflows', 'index.ts')), logger: QUIET_BUNDLER });
    // Written whole and renamed, so a running orchestrator never reads half a bundle.
    fs.writeFileSync(`${bundleFile}.tmp`, code);
    fs.renameSync(`${bundleFile}.tmp`, bundleFile);
  }
  return { compileSeconds, compiled, bundleSeconds: (Date.now() - t1) / 1000, bundled: stale, outDir };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const start = args.includes('--start');
  const dir = args.find((a) => !a.startsWith('--'));
  build(dir ? path.resolve(dir) : undefined).then(
    (r) => {
      if (start)
        process.stderr.write(
          `${JSON.stringify({ component: 'build', level: 'info', message: r.compiled || r.bundled ? 'built' : 'up to date', ...r, timestamp: new Date().toISOString() })}\n`,
        );
      else process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
