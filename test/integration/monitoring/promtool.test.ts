/**
 * The alerting rules as Prometheus reads them, with the toolchain's promtool (offline, no
 * sandbox): `promtool check rules k8s/monitoring/alerts.yaml` accepts every rule, and `promtool
 * test rules k8s/monitoring/alerts.test.yaml` passes — series that make each alert fire, with its
 * labels and rendered annotations, and series that must not. The tests really evaluate the
 * expressions: in a copy whose breaker alert wants the gauge above 1, or whose scale-up failures
 * miss a counter series' first increment, exactly those tests fail. And every PromQL expression of
 * the Grafana dashboards parses (as recording rules promtool checks).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { z } from 'zod';
import { ensurePromtool } from '../../../sandbox/toolchain';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const MONITORING = path.join(ROOT, 'k8s', 'monitoring');

function promtool(bin: string, args: string[], cwd = ROOT): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, output: `${stdout}\n${stderr}` });
    });
  });
}

const RuleFile = z.object({
  groups: z.array(z.object({ name: z.string(), rules: z.array(z.object({ alert: z.string().optional(), record: z.string().optional(), expr: z.string() })) })),
});
const TestFile = z.object({
  rule_files: z.array(z.string()),
  tests: z.array(
    z.object({
      name: z.string(),
      alert_rule_test: z.array(z.object({ alertname: z.string(), eval_time: z.string(), exp_alerts: z.array(z.unknown()).nullish() })).optional(),
    }),
  ),
});

/** A copy of k8s/monitoring's rule file and its tests in a temporary directory, `edit` applied to the rules. */
function copyWith(tmp: string, edit: (rules: string) => string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'copy-'));
  const rules = fs.readFileSync(path.join(MONITORING, 'alerts.yaml'), 'utf8');
  const edited = edit(rules);
  expect(edited, 'the edit changed the rules').to.not.equal(rules);
  fs.writeFileSync(path.join(dir, 'alerts.yaml'), edited);
  fs.copyFileSync(path.join(MONITORING, 'alerts.test.yaml'), path.join(dir, 'alerts.test.yaml'));
  return dir;
}

describe('k8s/monitoring: promtool checks and unit-tests the alerting rules', function () {
  let bin = '';
  let tmp = '';
  const rules = RuleFile.parse(YAML.parse(fs.readFileSync(path.join(MONITORING, 'alerts.yaml'), 'utf8')));
  const ruleCount = rules.groups.reduce((n, g) => n + g.rules.length, 0);

  before(async function () {
    this.timeout(30 * 60_000); // a cold build of promtool by the toolchain takes minutes
    bin = await ensurePromtool((line) => console.error(`toolchain: ${line}`));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-test-'));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('promtool check rules accepts every rule of alerts.yaml', async () => {
    const r = await promtool(bin, ['check', 'rules', 'k8s/monitoring/alerts.yaml']);
    expect(r.code, r.output).to.equal(0);
    expect(r.output).to.contain(`SUCCESS: ${ruleCount} rules found`);
  });

  it('alerts.test.yaml makes every alert fire at least once', () => {
    const tests = TestFile.parse(YAML.parse(fs.readFileSync(path.join(MONITORING, 'alerts.test.yaml'), 'utf8')));
    expect(tests.rule_files).to.deep.equal(['alerts.yaml']);
    const firing = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname)));
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    expect(
      alerts.filter((a) => !firing.has(a)),
      'alerts no test makes fire',
    ).to.deep.equal([]);
  });

  it('promtool test rules passes alerts.test.yaml', async () => {
    const r = await promtool(bin, ['test', 'rules', 'k8s/monitoring/alerts.test.yaml']);
    expect(r.code, r.output).to.equal(0);
    expect(r.output).to.match(/SUCCESS/);
  });

  it('and fails when an expression is wrong: the breaker alert above 1, or a new counter series not counted', async () => {
    const breaker = copyWith(tmp, (s) => s.replace('expr: vpa_nap_circuit_breaker_active > 0', 'expr: vpa_nap_circuit_breaker_active > 1'));
    const r1 = await promtool(bin, ['test', 'rules', 'alerts.test.yaml'], breaker);
    expect(r1.code, r1.output).to.not.equal(0);
    expect(r1.output).to.contain('alertname: VPANAPCircuitBreakerActive');
    expect(r1.output).to.not.contain('alertname: VPSieScaleUpFailures');

    const increaseOnly = copyWith(tmp, (s) =>
      s.replace(
        /\(vpsie_autoscaler_scale_up_failures_total unless vpsie_autoscaler_scale_up_failures_total offset 15m\)\n\s*and on \(job, instance\) \(\(up offset 15m\) == 1 or \(time\(\) - process_start_time_seconds\) < 900\)\n\s*or\n/,
        '',
      ),
    );
    const r2 = await promtool(bin, ['test', 'rules', 'alerts.test.yaml'], increaseOnly);
    expect(r2.code, r2.output).to.not.equal(0);
    expect(r2.output).to.contain('name: a scale-up failure in a long-running process (its series is new)');
    expect(r2.output).to.contain('alertname: VPSieScaleUpFailures');
    expect(r2.output).to.not.contain('alertname: VPANAPCircuitBreakerActive');
  });

  it("every PromQL expression of the Grafana dashboards parses (promtool check rules on them as recording rules, Grafana's variables filled in)", async () => {
    const Dashboard = z.object({
      panels: z.array(z.looseObject({ targets: z.array(z.object({ expr: z.string() })).optional() })),
    });
    const dir = path.join(MONITORING, 'dashboards');
    const groups = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        const d = Dashboard.parse(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
        const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
        return {
          name: f,
          rules: exprs.map((e, i) => ({
            record: `dashboard:${path.basename(f, '.json').replaceAll('-', '_')}:expr${i}`,
            expr: e.replaceAll('$__rate_interval', '5m').replace(/\$\{?[A-Za-z_]\w*\}?/g, '.*'),
          })),
        };
      });
    expect(groups.reduce((n, g) => n + g.rules.length, 0)).to.be.greaterThan(50);
    const file = path.join(tmp, 'dashboards.rules.yaml');
    fs.writeFileSync(file, YAML.stringify({ groups }));
    const r = await promtool(bin, ['check', 'rules', '--lint=none', file]);
    expect(r.code, r.output).to.equal(0);
  });
});
