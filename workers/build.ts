/**
 * `npm run build`: the production form of the orchestrator, in dist/ —
 *   dist/**.js                  the TypeScript compiled (tsconfig.build.json, incremental)
 *   dist/workflow-bundle.js     the workflow bundle (bundleWorkflowCode), built once here rather
 *                               than by webpack at every start; rebuilt only when a source of it
 *                               changed
 *   dist/k8s/{config,crds}      the files the code reads at run time
 * `node dist/workers/cli.js` then runs compiled code with the prebuilt bundle (the Dockerfile's
 * final stage). Prints one JSON line with what was done and how long it took.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = path.resolve(__dirname, '..');

/** The newest modification time among the .ts files under `dirs`. */
function newest(dirs: string[]): number {
  let t = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(path.join(ROOT, d));
  return t;
}

export async function build(outDir = path.join(ROOT, 'dist')): Promise<{ compileSeconds: number; bundleSeconds: number; bundled: boolean; outDir: string }> {
  const t0 = Date.now();
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir, '--tsBuildInfoFile', path.join(outDir, '.tsbuildinfo')],
    {
      stdio: 'inherit',
    },
  );
  const compileSeconds = (Date.now() - t0) / 1000;
  for (const sub of ['config', 'crds']) fs.cpSync(path.join(ROOT, 'k8s', sub), path.join(outDir, 'k8s', sub), { recursive: true });

  const bundleFile = path.join(outDir, 'workflow-bundle.js');
  const t1 = Date.now();
  // the workflow code imports workflows/, decision/ and lib/ only
  const stale = !fs.existsSync(bundleFile) || fs.statSync(bundleFile).mtimeMs < newest(['workflows', 'decision', 'lib']);
  if (stale) {
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(ROOT, 'workflows', 'index.ts'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    fs.writeFileSync(bundleFile, code);
  }
  return { compileSeconds, bundleSeconds: (Date.now() - t1) / 1000, bundled: stale, outDir };
}

if (require.main === module)
  build(process.argv[2] ? path.resolve(process.argv[2]) : undefined).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
