import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import {
  COMMAND_LINE_FLAGS,
  ConfigError,
  DEFAULT_HEALTH_ADDR,
  durationSeconds,
  healthAddrOf,
  helpText,
  loadConfig,
  parseCommandLine,
  type Config,
} from '../../../lib/config';
import { logFormat } from '../../../lib/log';

/** A non-default value for every flag of document 004's "Configuration". */
const SAMPLES: Record<string, string | boolean> = {
  kubeconfig: '/etc/vpsie/kubeconfig',
  'metrics-addr': ':8080',
  'health-addr': ':8081',
  'leader-election': false,
  'vpsie-secret-name': 'vpsie-secret',
  'vpsie-secret-namespace': 'vpsie-system',
  'default-datacenter-id': 'eu-west-2',
  'default-offering-ids': 'offering-1,offering-2',
  'kubernetes-version': 'v1.28.0',
  'failed-vpsienode-ttl': '45m',
  'log-level': 'debug',
  'log-format': 'console',
  components: 'watchers',
};

const args = (flag: string, v: string | boolean): string[] => (typeof v === 'boolean' ? [v ? `--${flag}` : `--no-${flag}`] : [`--${flag}`, v]);

function run(argv: string[]): Record<string, string> {
  const r = parseCommandLine(argv);
  if (r.kind !== 'run') throw new Error(`expected run, got ${JSON.stringify(r)}`);
  return r.env;
}

describe('Command line (document 004 "Configuration"): flags equal to their environment variables', () => {
  it('has exactly the flags of document 004 (and --components), each naming an environment variable the configuration reads', () => {
    expect(COMMAND_LINE_FLAGS.map((f) => f.flag)).to.have.members(Object.keys(SAMPLES));
    const keys = Object.keys(
      loadConfig({ KUBECONFIG: '/x', VPSIE_SECRET_NAME: 'a', VPSIE_SECRET_NAMESPACE: 'b', KUBERNETES_VERSION: 'v1.30', HEALTH_ADDR: ':1' }),
    );
    for (const f of COMMAND_LINE_FLAGS) expect(keys, f.flag).to.include(f.env);
  });

  for (const f of COMMAND_LINE_FLAGS) {
    it(`--${f.flag} gives the same configuration as ${f.env}`, () => {
      const v = SAMPLES[f.flag]!;
      const viaFlag = loadConfig(run(args(f.flag, v)));
      const viaEnv = loadConfig({ [f.env]: String(v) });
      expect(viaFlag).to.deep.equal(viaEnv);
      // ...and differs from the default: the flag does something.
      expect(viaFlag).to.not.deep.equal(loadConfig({}));
    });
  }

  it('a flag wins over its environment variable; variables without a flag are kept', () => {
    const env = { LOG_LEVEL: 'warn', DEFAULT_DATACENTER: 'us-east-1', DRY_RUN: 'true', LEADER_ELECTION: 'false' };
    const c = loadConfig({ ...env, ...run(['--log-level', 'error', '--default-datacenter-id', 'dc9', '--leader-election']) });
    expect(c).to.include({ LOG_LEVEL: 'error', DEFAULT_DATACENTER: 'dc9', DRY_RUN: true, LEADER_ELECTION: true });
    expect(run([])).to.deep.equal({});
  });

  it('the documented example reads as documented: --metrics-addr :8080 on every interface, --failed-vpsienode-ttl 30m = 1800 s, the Secret kube-system/vpsie-secret', () => {
    const c = loadConfig(
      run([
        '--metrics-addr',
        ':8080',
        '--health-addr',
        ':8081',
        '--leader-election',
        '--vpsie-secret-name',
        'vpsie-secret',
        '--vpsie-secret-namespace',
        'kube-system',
        '--default-datacenter-id',
        'us-east-1',
        '--default-offering-ids',
        'offering-1,offering-2',
        '--kubernetes-version',
        'v1.28.0',
        '--failed-vpsienode-ttl',
        '30m',
        '--log-level',
        'info',
        '--log-format',
        'json',
      ]),
    );
    expect(c).to.include({
      METRICS_ADDR: '0.0.0.0:8080',
      HEALTH_ADDR: '0.0.0.0:8081',
      LEADER_ELECTION: true,
      VPSIE_CREDENTIALS_SECRET: 'kube-system/vpsie-secret',
      DEFAULT_DATACENTER: 'us-east-1',
      KUBERNETES_VERSION: 'v1.28.0',
      FAILED_NODE_TTL_SECONDS: 1800,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    expect(c.DEFAULT_OFFERINGS).to.deep.equal(['offering-1', 'offering-2']);
    expect(loadConfig(run(['--vpsie-secret-name', 'other'])).VPSIE_CREDENTIALS_SECRET).to.equal('kube-system/other');
    expect(loadConfig({ VPSIE_CREDENTIALS_SECRET: 'ns1/creds', VPSIE_SECRET_NAMESPACE: 'ns2' }).VPSIE_CREDENTIALS_SECRET).to.equal('ns2/creds');
  });

  it('durations: seconds or Go syntax, in the flag and the variable alike; a bad one fails naming the variable', () => {
    expect(durationSeconds('1800')).to.equal(1800);
    expect(durationSeconds('30m')).to.equal(1800);
    expect(durationSeconds('1h30m')).to.equal(5400);
    expect(durationSeconds('90s')).to.equal(90);
    expect(durationSeconds('1.5h')).to.equal(5400);
    expect(loadConfig({ FAILED_NODE_TTL_SECONDS: '2h' }).FAILED_NODE_TTL_SECONDS).to.equal(7200);
    expect(loadConfig({}).FAILED_NODE_TTL_SECONDS).to.equal(1800);
    expect(() => loadConfig(run(['--failed-vpsienode-ttl', 'soon']))).to.throw(ConfigError, /FAILED_NODE_TTL_SECONDS/);
    expect(() => loadConfig(run(['--log-format', 'xml']))).to.throw(ConfigError, /LOG_FORMAT/);
    expect(() => loadConfig(run(['--metrics-addr', 'nohost']))).to.throw(ConfigError, /METRICS_ADDR/);
  });

  it('--help lists every flag with its environment variable and default; unknown flags, stray arguments and missing values are errors naming them', () => {
    const h = parseCommandLine(['--metrics-addr', ':1', '--help']);
    expect(h.kind).to.equal('help');
    expect(parseCommandLine(['-h']).kind).to.equal('help');
    const text = helpText();
    for (const f of COMMAND_LINE_FLAGS) {
      const line = text
        .split('\n')
        .find((l) => l.trimStart().startsWith(`--${f.flag} `) || l.trim() === `--${f.flag}` || l.trimStart().startsWith(`--${f.flag}  `));
      expect(line, f.flag).to.be.a('string');
      expect(line).to.contain(f.env).and.contain(`default: ${f.shownDefault}`);
    }
    const unknown = parseCommandLine(['--metrics-adr', ':1']);
    expect(unknown).to.deep.equal({ kind: 'error', message: 'unknown flag --metrics-adr (see --help)' });
    const stray = parseCommandLine(['start']);
    expect(stray.kind).to.equal('error');
    expect((stray as { message: string }).message).to.contain('start');
    const missing = parseCommandLine(['--log-level']);
    expect(missing.kind).to.equal('error');
    expect((missing as { message: string }).message).to.contain('--log-level');
    const valued = parseCommandLine(['--leader-election=false']);
    expect(valued.kind).to.equal('error');
    expect((valued as { message: string }).message).to.contain('--leader-election');
  });

  it('health has an address of its own: HEALTH_ADDR, else 127.0.0.1:8081, else a free port when metrics ask for one', () => {
    const cfg = (over: Partial<Config>) => ({ ...loadConfig({}), ...over });
    expect(healthAddrOf(cfg({}))).to.equal(DEFAULT_HEALTH_ADDR);
    expect(DEFAULT_HEALTH_ADDR).to.equal('127.0.0.1:8081');
    // Neither the coordination REST API's default nor the metrics default.
    expect(DEFAULT_HEALTH_ADDR).to.not.be.oneOf([loadConfig({}).COORDINATION_API_ADDR, loadConfig({}).METRICS_ADDR]);
    expect(healthAddrOf(cfg({ METRICS_ADDR: '127.0.0.1:0' }))).to.equal('127.0.0.1:0');
    expect(healthAddrOf(cfg({ METRICS_ADDR: '127.0.0.1:0', HEALTH_ADDR: '127.0.0.1:9999' }))).to.equal('127.0.0.1:9999');
  });
});

describe('Logging formats', () => {
  const render = (kind: 'json' | 'console', info: Record<string, unknown>): string => {
    const out = logFormat(kind).transform({ level: 'info', message: 'vpsienode phase transition', ...info }) as Record<string | symbol, unknown>;
    return String(out[Symbol.for('message')]);
  };

  it('json (default) is one JSON object a line; console is a human-readable line with the component and key=value fields; secrets are redacted in both', () => {
    const json = JSON.parse(render('json', { component: 'lifecycle', to: 'Ready', token: 's3cr3t' })) as Record<string, unknown>;
    expect(json).to.include({ level: 'info', message: 'vpsienode phase transition', component: 'lifecycle', to: 'Ready', token: '[redacted]' });
    const line = render('console', { component: 'lifecycle', to: 'Ready', detail: 'two words', token: 's3cr3t' });
    expect(line).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}\[lifecycle\] vpsienode phase transition /);
    expect(line).to.contain('to=Ready').and.contain('detail="two words"').and.contain('token=[redacted]');
    expect(line).to.not.contain('s3cr3t');
    expect(() => JSON.parse(line) as unknown).to.throw();
    expect(loadConfig({}).LOG_FORMAT).to.equal('json');
  });
});

describe('The entry point (workers/main.ts) on the command line', function () {
  this.timeout(120_000);
  const root = path.resolve(__dirname, '../../..');
  const node = path.join(root, 'node_modules/.bin/node');
  const start = (argv: string[]) => spawnSync(node, ['--import', 'tsx', 'workers/main.ts', ...argv], { cwd: root, encoding: 'utf8', timeout: 100_000 });

  it('--help prints every flag with its environment variable and exits 0 without starting anything', () => {
    const r = start(['--help']);
    expect(r.status, r.stderr).to.equal(0);
    for (const f of COMMAND_LINE_FLAGS) expect(r.stdout).to.contain(`--${f.flag}`).and.contain(f.env);
    expect(r.stderr).to.not.contain('sandbox');
  });

  it('in a pod (KUBERNETES_SERVICE_HOST, no KUBECONFIG) it never starts a sandbox: without TEMPORAL_ADDRESS it exits 1 naming it', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    delete env.KUBECONFIG;
    delete env.TEMPORAL_ADDRESS;
    const r = spawnSync(node, ['--import', 'tsx', 'workers/main.ts'], { cwd: root, encoding: 'utf8', timeout: 100_000, env });
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('TEMPORAL_ADDRESS: required when running in a cluster');
    expect(r.stderr).to.not.contain('sandbox ready');
  });

  it('an unknown flag exits 2 with an error naming it', () => {
    const r = start(['--metrics-adr', ':1']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('unknown flag --metrics-adr');
    expect(r.stdout).to.equal('');
  });

  it('a bad flag value exits 1 naming its variable, before starting anything', () => {
    const r = start(['--log-format', 'xml', '--kubeconfig', '/nonexistent', '--health-addr', '127.0.0.1:0']);
    expect(r.status).to.equal(1);
    expect(r.stdout + r.stderr).to.contain('LOG_FORMAT');
  });
});

describe('COMPONENTS: the parts a process runs', () => {
  it('defaults to all three; a list is read in any order, without repeats', () => {
    expect(loadConfig({}).COMPONENTS).to.deep.equal(['worker', 'watchers', 'api']);
    expect(loadConfig({ COMPONENTS: ' api, worker ,api' }).COMPONENTS).to.deep.equal(['api', 'worker']);
  });
  it('an unknown part or an empty list is refused, naming COMPONENTS', () => {
    expect(() => loadConfig({ COMPONENTS: 'worker,scheduler' })).to.throw(ConfigError, /COMPONENTS/);
    expect(() => loadConfig({ COMPONENTS: ' , ' })).to.throw(ConfigError, /COMPONENTS/);
  });
});

describe('COMPONENTS=backup: a worker of its own for backups', () => {
  it('needs BACKUP_TASK_QUEUE, different from TASK_QUEUE', () => {
    expect(() => loadConfig({ COMPONENTS: 'backup' })).to.throw(ConfigError, /BACKUP_TASK_QUEUE/);
    expect(() => loadConfig({ COMPONENTS: 'backup', BACKUP_TASK_QUEUE: 'vpsie-autoscaler' })).to.throw(ConfigError, /BACKUP_TASK_QUEUE: must differ/);
    expect(loadConfig({ COMPONENTS: 'backup', BACKUP_TASK_QUEUE: 'vpsie-autoscaler-backup' }).COMPONENTS).to.deep.equal(['backup']);
  });
});
