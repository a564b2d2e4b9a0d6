/**
 * Lint: the import rules of the layout (README "Layout"), checked on every import, export-from,
 * dynamic import and require, after resolving relative paths against the importing file:
 *
 * - `decision/**` is pure: no Temporal package, no client (`clients/`, `@kubernetes/client-node`
 *   values), no activity, workflow, starter or worker, no Node built-in that does I/O, and of
 *   `lib/` only the CRD schemas, the string comparison and the seeded PRNG. Time is an argument.
 * - `workflows/**` imports activities as types only, and no client: no `clients/`,
 *   `@temporalio/client|activity|worker`, `@kubernetes/client-node` values, Node built-ins, starters,
 *   workers, nor the parts of `lib/` that do I/O.
 * - `starters/**` never import activity implementations (types are fine).
 * - A capability (`nodes/`, `rightsizing/`, `coordination/`, `provisioning/` inside the role
 *   folders) reaches another only through that capability's contracts (`workflows/<capability>/contracts`).
 *   The shared cores (`decision/scheduling`, `decision/planner`) import no capability at all.
 *
 * test/unit/lint/import-rules.test.ts proves each rule reports a fixture that breaks it.
 */
import path from 'node:path';
import { builtinModules } from 'node:module';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const ROOT = path.dirname(new URL(import.meta.url).pathname);

/** Capabilities: one subfolder each in workflows/, activities/, decision/, starters/. */
export const CAPABILITIES = ['nodes', 'rightsizing', 'coordination', 'provisioning'];
const CAPABILITY_LAYERS = new Set(['workflows', 'activities', 'decision', 'starters']);
const SHARED_CORES = new Set(['scheduling', 'planner']);
/** Node built-ins that do I/O (or read the environment): never in decision code. */
const IO_BUILTINS = new Set([
  'fs',
  'fs/promises',
  'net',
  'http',
  'http2',
  'https',
  'child_process',
  'dgram',
  'dns',
  'dns/promises',
  'tls',
  'cluster',
  'worker_threads',
  'readline',
  'os',
  'process',
  'inspector',
]);
const BUILTINS = new Set(builtinModules);
const NOUN = { activities: 'activity', workflows: 'workflow', starters: 'starter', workers: 'worker', clients: 'client', sandbox: 'sandbox code' };
/** Parts of lib/ that decision code may use (pure). */
const DECISION_LIB = [/^lib\/crds(\/|$)/, /^lib\/prng$/, /^lib\/compare$/];
/** Parts of lib/ that workflow code may use (deterministic, no I/O). */
const WORKFLOW_LIB = [/^lib\/crds(\/|$)/, /^lib\/prng$/, /^lib\/compare$/, /^lib\/temporal\/(search-attributes|retry-profiles)$/];

/** `spec` as imported from `file`: `{ bare }` for a package, `{ local }` (repo path without extension) for a file. */
function target(file, spec) {
  if (!spec.startsWith('.')) {
    const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
    return { bare, builtin: spec.startsWith('node:') || BUILTINS.has(bare) };
  }
  const abs = path.resolve(path.dirname(file), spec);
  const local = path
    .relative(ROOT, abs)
    .split(path.sep)
    .join('/')
    .replace(/\.(ts|mjs|js)$/, '')
    .replace(/\/index$/, '');
  return { local };
}

/** Role folder and capability of a repo path (`decision/nodes/...` → decision, nodes). */
function place(local) {
  const [layer, second] = local.split('/');
  return { layer, capability: CAPABILITY_LAYERS.has(layer) && CAPABILITIES.includes(second) ? second : undefined, second };
}

function violation(from, t, typeOnly) {
  const src = place(from);
  if (t.bare !== undefined) {
    const pkg = t.bare;
    if (src.layer === 'decision') {
      if (pkg.startsWith('@temporalio/')) return `decision code imports no Temporal package (${pkg})`;
      if (pkg === '@kubernetes/client-node' && !typeOnly) return 'decision code imports no client: only types of @kubernetes/client-node';
      if (pkg === 'prom-client' || pkg === 'winston') return `decision code does no I/O (${pkg})`;
      if (t.builtin && (IO_BUILTINS.has(pkg) || IO_BUILTINS.has(pkg.split('/')[0]))) return `decision code imports no Node built-in that does I/O (${pkg})`;
    }
    if (src.layer === 'workflows' && !typeOnly) {
      if (['@temporalio/client', '@temporalio/activity', '@temporalio/worker'].includes(pkg)) return `workflows import no client or activity runtime (${pkg})`;
      if (pkg === '@kubernetes/client-node') return 'workflows import no client: only types of @kubernetes/client-node';
      if (t.builtin) return `workflows import no Node built-in (${pkg})`;
    }
    return undefined;
  }
  const dst = place(t.local);
  if (src.layer === 'decision') {
    if (['activities', 'workflows', 'starters', 'workers', 'clients', 'sandbox'].includes(dst.layer))
      return `decision code imports no ${NOUN[dst.layer]} (${t.local})`;
    if (dst.layer === 'lib' && !DECISION_LIB.some((r) => r.test(t.local))) return `decision code imports only the pure parts of lib/ (${t.local})`;
    if (src.capability === undefined && SHARED_CORES.has(src.second) && dst.capability !== undefined)
      return `the shared core decision/${src.second} imports no capability (${t.local})`;
  }
  if (src.layer === 'workflows') {
    if (dst.layer === 'activities' && !typeOnly) return `workflows import activities as types only (import type … from '${t.local}')`;
    if (['clients', 'starters', 'workers', 'sandbox'].includes(dst.layer) && !typeOnly) return `workflows import no ${NOUN[dst.layer]} (${t.local})`;
    if (dst.layer === 'lib' && !typeOnly && !WORKFLOW_LIB.some((r) => r.test(t.local)))
      return `workflows import only the deterministic parts of lib/ (${t.local})`;
  }
  if (src.layer === 'starters' && dst.layer === 'activities' && !typeOnly) return `starters never import activity implementations (${t.local})`;
  if (src.capability !== undefined && dst.capability !== undefined && dst.capability !== src.capability) {
    const contracts = dst.layer === 'workflows' && t.local === `workflows/${dst.capability}/contracts`;
    if (!contracts) return `${src.capability} reaches ${dst.capability} only through workflows/${dst.capability}/contracts (${t.local})`;
  }
  return undefined;
}

const importRules = {
  meta: { type: 'problem', docs: { description: 'The import rules of the layout (see eslint.config.mjs)' }, schema: [] },
  create(context) {
    const file = context.filename;
    const from = path
      .relative(ROOT, file)
      .split(path.sep)
      .join('/')
      .replace(/\.(ts|mjs|js)$/, '');
    const check = (node, source, typeOnly) => {
      if (!source || typeof source.value !== 'string') return;
      const message = violation(from, target(file, source.value), typeOnly);
      if (message) context.report({ node: source, message });
    };
    const allTypes = (n) => n.importKind === 'type' || (n.specifiers.length > 0 && n.specifiers.every((s) => s.importKind === 'type'));
    return {
      ImportDeclaration: (n) => check(n, n.source, allTypes(n)),
      ExportNamedDeclaration: (n) =>
        n.source && check(n, n.source, n.exportKind === 'type' || (n.specifiers.length > 0 && n.specifiers.every((s) => s.exportKind === 'type'))),
      ExportAllDeclaration: (n) => check(n, n.source, n.exportKind === 'type'),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source, false),
      TSImportType: (n) => {
        const lit = n.argument?.type === 'TSLiteralType' ? n.argument.literal : n.source;
        if (lit?.type === 'Literal') check(n, lit, true);
      },
      CallExpression: (n) => {
        if (n.callee.type === 'Identifier' && n.callee.name === 'require' && n.arguments[0]?.type === 'Literal') check(n, n.arguments[0], false);
      },
    };
  },
};

export default defineConfig(
  {
    ignores: ['node_modules/**', '.sandbox/**', 'dist/**', 'test/unit/lint/fixtures/**'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' },
    // typescript-eslint's plugin is registered so the code's eslint-disable comments name known rules.
    plugins: { '@typescript-eslint': tseslint.plugin, layout: { rules: { 'import-rules': importRules } } },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: { 'layout/import-rules': 'error' },
  },
);
