/**
 * The alerting rules on the sandbox, as an operator's Prometheus runs them: the sandbox's
 * Prometheus loads k8s/monitoring/alerts.yaml itself (production `for` durations, evaluated every
 * 5 s) and scrapes the real orchestrator as the job vpa-nap-coordinator (a file_sd target). An
 * operator trips a coordination's circuit breaker: VPANAPCircuitBreakerActive goes pending, then
 * fires after its minute with the VPA's labels and annotations; the reset resolves it. The
 * orchestrator stops: VPANAPCoordinatorDown fires for its target; it starts again on the same
 * address: the alert resolves. Every dashboard expression is a query this Prometheus accepts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { z } from 'zod';
import { addScrapeTarget, ALERT_RULES, ORCHESTRATOR_JOB } from '../../../sandbox/metrics';
import { freePort } from '../../../sandbox/process';
import type { Orchestrator } from '../../../workers/orchestrator';
import { coordinationWorkflowId, resetSignal, tripSignal } from '../../../workflows/coordination/contracts';
import { coordinationStatus, createCoordination, createVpa } from '../../support/coordination';
import { eventually } from '../../support/eventually';
import { startTestOrchestrator, testConfig } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

const Alert = z.object({
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  state: z.enum(['pending', 'firing']),
  activeAt: z.string(),
});
type PromAlert = z.infer<typeof Alert>;
const AlertsAnswer = z.object({ status: z.literal('success'), data: z.object({ alerts: z.array(Alert) }) });
const RulesAnswer = z.object({
  status: z.literal('success'),
  data: z.object({
    groups: z.array(
      z.object({
        name: z.string(),
        file: z.string(),
        interval: z.number(),
        rules: z.array(z.object({ type: z.string(), name: z.string(), query: z.string(), duration: z.number().optional() })),
      }),
    ),
  }),
});
const QueryAnswer = z.object({
  status: z.literal('success'),
  data: z.object({ result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) })) }),
});

const RuleFile = z.object({
  groups: z.array(z.object({ name: z.string(), rules: z.array(z.object({ alert: z.string().optional(), for: z.string().optional() })) })),
});

describe('monitoring: the alerting rules fire and resolve on the sandbox', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let promUrl = '';
  let ns = '';
  let taskQueue = '';
  let metricsAddr = '';
  let orch: Orchestrator | undefined;
  let removeTarget: (() => void) | undefined;
  const target = uniqueName('alerts');

  async function prom<T>(schema: z.ZodType<T>, apiPath: string, params: Record<string, string> = {}): Promise<T> {
    const u = new URL(`${promUrl}${apiPath}`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const res = await fetch(u);
    const body: unknown = await res.json();
    if (!res.ok) throw new Error(`${apiPath}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return schema.parse(body);
  }
  const alertsNamed = async (name: string, match: Record<string, string>): Promise<PromAlert[]> =>
    (await prom(AlertsAnswer, '/api/v1/alerts')).data.alerts.filter(
      (a) => a.labels.alertname === name && Object.entries(match).every(([k, v]) => a.labels[k] === v),
    );
  const upValue = async (): Promise<string | undefined> =>
    (await prom(QueryAnswer, '/api/v1/query', { query: `up{job="${ORCHESTRATOR_JOB}",instance="${metricsAddr}"}` })).data.result[0]?.value[1];

  /** The orchestrator on the test's namespace, its metrics always on `metricsAddr`. */
  async function startOrch(): Promise<Orchestrator> {
    const env = { COORDINATION_API_ADDR: '127.0.0.1:0' };
    return startTestOrchestrator(sb, ns, taskQueue, { resyncSeconds: 30, env, config: { ...testConfig(sb, ns, taskQueue, env), METRICS_ADDR: metricsAddr } });
  }

  before(async () => {
    sb = await sharedSandbox();
    const p = sb.endpoints.prometheus;
    if (!p?.targetsDir) throw new Error("this sandbox's Prometheus has no orchestrator scrape job: start a sandbox of this version");
    promUrl = p.url;
    ns = await sb.namespace('alerts');
    taskQueue = sb.taskQueue('alerts');
    metricsAddr = `127.0.0.1:${await freePort()}`;
    orch = await startOrch();
    expect(orch.metricsUrl).to.equal(`http://${metricsAddr}`);
    removeTarget = addScrapeTarget(p, target, orch.metricsUrl, { test_target: target });
  });
  after(async () => {
    removeTarget?.();
    await orch?.stop();
  });

  it('Prometheus loaded alerts.yaml itself, every alert with the for of the file', async () => {
    expect(sb.endpoints.prometheus?.ruleFiles).to.deep.equal([ALERT_RULES]);
    const file = RuleFile.parse(YAML.parse(fs.readFileSync(ALERT_RULES, 'utf8')));
    const loaded = (await prom(RulesAnswer, '/api/v1/rules')).data.groups;
    expect(loaded.map((g) => g.name)).to.deep.equal(file.groups.map((g) => g.name));
    for (const g of loaded) {
      expect(path.resolve(g.file)).to.equal(ALERT_RULES);
      expect(g.interval, 'evaluated every 5 s').to.equal(5);
    }
    const seconds = (d: string | undefined): number => {
      const m = /^(\d+)([smh])$/.exec(d ?? '0s');
      return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] : 0;
    };
    const want = file.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [{ name: r.alert, duration: seconds(r.for) }] : [])));
    const got = loaded.flatMap((g) => g.rules.filter((r) => r.type === 'alerting').map((r) => ({ name: r.name, duration: r.duration ?? 0 })));
    expect(got).to.deep.equal(want);
  });

  it('scrapes the orchestrator as the job vpa-nap-coordinator', async () => {
    await eventually(`Prometheus scraping ${metricsAddr}`, async () => ((await upValue()) === '1' ? true : undefined), 60_000);
    const healthy = await eventually('vpa_nap_coordinator_healthy scraped', async () => {
      const r = await prom(QueryAnswer, '/api/v1/query', { query: `vpa_nap_coordinator_healthy{instance="${metricsAddr}"}` });
      return r.data.result[0];
    });
    expect(healthy.metric).to.include({ job: ORCHESTRATOR_JOB, instance: metricsAddr, test_target: target });
  });

  it('a tripped breaker makes VPANAPCircuitBreakerActive pending, then firing with the VPA named; the reset resolves it', async () => {
    await createVpa(sb, ns, 'web', 'web', 'Recreate');
    await createCoordination(sb, ns, 'web', {
      coordinationStrategy: 'coordinated',
      enabled: true,
      circuitBreaker: { enabled: true, nodeChurnThreshold: 50, evictionThreshold: 50, oscillationThreshold: 50, cooldownMinutes: 30 },
      conflictPrevention: { cooldownPeriodMinutes: 1, maxConflictsPerHour: 100 },
    });
    await eventually('the object Active', async () => ((await coordinationStatus(sb, ns, 'web')).phase === 'Active' ? true : undefined), 120_000);
    const labels = { namespace: ns, vpa_name: 'web', instance: metricsAddr };
    expect(await alertsNamed('VPANAPCircuitBreakerActive', labels), 'no alert while the breaker is closed').to.deep.equal([]);

    const handle = sb.temporal.workflow.getHandle(coordinationWorkflowId(ns, 'web'));
    await handle.signal(tripSignal, { reason: 'alert test', by: 'ops' });
    await eventually('the manual trip', async () => ((await coordinationStatus(sb, ns, 'web')).phase === 'CircuitBreaker' ? true : undefined));
    const pending = await eventually('the alert pending', async () =>
      (await alertsNamed('VPANAPCircuitBreakerActive', labels)).find((a) => a.state === 'pending'),
    );
    const firing = await eventually(
      'the alert firing after its for (1m)',
      async () => (await alertsNamed('VPANAPCircuitBreakerActive', labels)).find((a) => a.state === 'firing'),
      240_000,
    );
    expect(firing.activeAt, 'the same alert, pending first').to.equal(pending.activeAt);
    expect(firing.labels).to.deep.include({
      alertname: 'VPANAPCircuitBreakerActive',
      severity: 'warning',
      job: ORCHESTRATOR_JOB,
      namespace: ns,
      vpa_name: 'web',
    });
    expect(firing.annotations).to.deep.equal({
      summary: 'VPA-NAP circuit breaker is active',
      description: `The circuit breaker coordinating the VPA ${ns}/web has been open for 1 minute: its updates are paused (updateMode Off) until the cooldown ends or an operator resets it.`,
      runbook_url: 'docs/runbooks/breaker-tripped.md',
    });

    await handle.signal(resetSignal, { reason: 'alert test done', by: 'ops' });
    await eventually('the reset', async () => ((await coordinationStatus(sb, ns, 'web')).phase === 'Active' ? true : undefined));
    await eventually('the alert resolved', async () => ((await alertsNamed('VPANAPCircuitBreakerActive', labels)).length === 0 ? true : undefined), 120_000);
    const gauge = await prom(QueryAnswer, '/api/v1/query', { query: `vpa_nap_circuit_breaker_active{namespace="${ns}",vpa_name="web"}` });
    expect(gauge.data.result.map((r) => r.value[1])).to.deep.equal(['0']);
  });

  it('the orchestrator stopped makes VPANAPCoordinatorDown fire for its target; started again on the same address, it resolves', async () => {
    const labels = { instance: metricsAddr, job: ORCHESTRATOR_JOB };
    expect(await alertsNamed('VPANAPCoordinatorDown', labels)).to.deep.equal([]);
    await orch?.stop();
    orch = undefined;
    await eventually('the target down', async () => ((await upValue()) === '0' ? true : undefined), 60_000);
    const firing = await eventually(
      'VPANAPCoordinatorDown firing',
      async () => (await alertsNamed('VPANAPCoordinatorDown', labels)).find((a) => a.state === 'firing'),
      240_000,
    );
    expect(firing.labels).to.deep.include({ severity: 'critical', test_target: target });
    expect(firing.annotations.summary).to.equal('VPA-NAP coordinator is down');
    expect(firing.annotations.runbook_url).to.equal('docs/runbooks/temporal-unavailable.md');

    orch = await startOrch();
    await eventually('the target up again', async () => ((await upValue()) === '1' ? true : undefined), 60_000);
    await eventually(
      'VPANAPCoordinatorDown resolved',
      async () => ((await alertsNamed('VPANAPCoordinatorDown', labels)).length === 0 ? true : undefined),
      60_000,
    );
  });

  it('every dashboard expression is a query this Prometheus accepts', async () => {
    const Dashboard = z.object({ panels: z.array(z.looseObject({ title: z.string(), targets: z.array(z.object({ expr: z.string() })).optional() })) });
    const dir = path.resolve(__dirname, '..', '..', '..', 'k8s', 'monitoring', 'dashboards');
    let n = 0;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const d = Dashboard.parse(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
      for (const p of d.panels)
        for (const t of p.targets ?? []) {
          const query = t.expr.replaceAll('$__rate_interval', '1m').replace(/\$\{?[A-Za-z_]\w*\}?/g, '.*');
          const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query })}`);
          expect(res.status, `${f} "${p.title}": ${query}: ${await res.clone().text()}`).to.equal(200);
          n++;
        }
    }
    expect(n).to.be.greaterThan(50);
    // and the orchestrator's own series are there for the performance dashboard (a rate once the restarted process has two scrapes)
    await eventually(
      'the CPU rate of the orchestrator',
      async () => {
        const cpu = await prom(QueryAnswer, '/api/v1/query', {
          query: `rate(process_cpu_seconds_total{job="${ORCHESTRATOR_JOB}",instance="${metricsAddr}"}[1m])`,
        });
        return cpu.data.result.length === 1 ? true : undefined;
      },
      60_000,
    );
  });
});
