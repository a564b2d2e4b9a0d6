/**
 * k8s/monitoring's alerting rules as an operator relies on them: document 000's three alerts as
 * it writes them, every alert with a severity, a summary, a description and a runbook that exists,
 * every expression naming only metrics (and labels) the orchestrator exports; the
 * PrometheusRule holding exactly the groups of alerts.yaml; the ServiceMonitor scraping the
 * metrics port of each Service of the orchestrator, with the job the alerts name. (promtool checks
 * and unit-tests the same file: test/integration/monitoring/promtool.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { z } from 'zod';
import { exportedSeries, MONITORING, promqlProblems, promqlUses, ROOT, TARGET_LABELS, type Series } from './metric-names';

const Rule = z.union([
  z.strictObject({
    alert: z.string().regex(/^[A-Z][A-Za-z0-9]+$/),
    expr: z.string(),
    for: z.string().optional(),
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()),
  }),
  z.strictObject({ record: z.string().regex(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/), expr: z.string(), labels: z.record(z.string(), z.string()).optional() }),
]);
const Groups = z.array(z.strictObject({ name: z.string(), interval: z.string().optional(), rules: z.array(Rule).min(1) })).min(1);
type Rules = z.infer<typeof Groups>;
type AlertRule = Extract<Rules[number]['rules'][number], { alert: string }>;

function readYaml(file: string): unknown {
  return YAML.parse(fs.readFileSync(path.join(MONITORING, file), 'utf8'));
}
const groups = Groups.parse(z.object({ groups: z.unknown() }).parse(readYaml('alerts.yaml')).groups);
const alerts = groups.flatMap((g) => g.rules.filter((r): r is AlertRule => 'alert' in r));
const records = groups.flatMap((g) => g.rules.flatMap((r) => ('record' in r ? [r] : [])));

/** The exported series, plus the series the recording rules make (labels: their grouping). */
async function knownSeries(): Promise<Map<string, Series>> {
  const known = await exportedSeries();
  for (const r of records) known.set(r.record, { metric: r.record, labels: new Set([...promqlUses(r.expr).grouping, ...TARGET_LABELS]), from: 'alerts.yaml' });
  return known;
}

describe('k8s/monitoring: alerting rules', () => {
  it("holds document 000's alerting rules as it writes them (name, expression, for, severity, summary)", () => {
    const doc000 = [
      { alert: 'VPANAPCoordinatorDown', expr: 'up{job="vpa-nap-coordinator"} == 0', for: '1m', severity: 'critical', summary: 'VPA-NAP coordinator is down' },
      {
        alert: 'VPANAPConflictStorm',
        expr: 'rate(vpa_nap_conflicts_total[5m]) > 0.5',
        for: '5m',
        severity: 'critical',
        summary: 'High rate of VPA-NAP conflicts detected',
      },
      {
        alert: 'VPANAPCircuitBreakerActive',
        expr: 'vpa_nap_circuit_breaker_active > 0',
        for: '1m',
        severity: 'warning',
        summary: 'VPA-NAP circuit breaker is active',
      },
    ];
    const group = groups.find((g) => g.name === 'vpa-nap-critical');
    expect(group, 'the group vpa-nap-critical').to.not.equal(undefined);
    const got = (group?.rules ?? []).flatMap((r) =>
      'alert' in r ? [{ alert: r.alert, expr: r.expr.trim(), for: r.for, severity: r.labels.severity, summary: r.annotations.summary }] : [],
    );
    expect(got).to.deep.equal(doc000);
  });

  it('has the alerts operators asked for, each named once', () => {
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size, 'alert names are unique').to.equal(names.length);
    expect(names).to.include.members([
      'VPANAPCoordinatorDown',
      'VPANAPConflictStorm',
      'VPANAPCircuitBreakerActive',
      'VPSieScaleUpFailures',
      'VPSieAPIErrors',
      'NodesStuckProvisioning',
      'NodesStuckJoining',
      'PodsPendingTooLong',
    ]);
  });

  it('gives every alert a severity, a summary, a description and the runbook of docs/runbooks/ that exists', () => {
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], `${a.alert} severity`).to.include(a.labels.severity);
      expect(Object.keys(a.annotations).sort(), `${a.alert} annotations`).to.deep.equal(['description', 'runbook_url', 'summary']);
      const runbook = /^docs\/runbooks\/([a-z0-9-]+\.md)$/.exec(a.annotations.runbook_url ?? '');
      expect(runbook, `${a.alert} runbook_url ${a.annotations.runbook_url}`).to.not.equal(null);
      expect(fs.existsSync(path.join(ROOT, 'docs', 'runbooks', runbook?.[1] ?? '')), `${a.alert}: ${a.annotations.runbook_url} exists`).to.equal(true);
    }
  });

  it('names in its expressions only metrics the orchestrator exports (or its recording rules make), with their labels', async () => {
    const known = await knownSeries();
    const problems = groups.flatMap((g) => g.rules.flatMap((r) => promqlProblems(r.expr, known).map((p) => `${'alert' in r ? r.alert : r.record}: ${p}`)));
    expect(problems).to.deep.equal([]);
    // and the alerts' templates name labels their expressions keep
    for (const a of alerts)
      for (const text of Object.values(a.annotations))
        for (const m of text.matchAll(/\$labels\.([a-zA-Z_]+)/g)) {
          const label = m[1] ?? '';
          const top = /^\s*(?:sum|max|min|count|avg)\s*(by\s*\(([^)]*)\))?\s*\(/.exec(a.expr);
          const kept = top ? (top[2] ?? '').split(',').map((l) => l.trim()) : promqlUses(a.expr).metrics.flatMap((n) => [...(known.get(n)?.labels ?? [])]);
          expect(kept, `${a.alert}: {{ $labels.${label} }}`).to.include(label);
        }
  });

  it('the metric check catches a renamed metric and a renamed label', async () => {
    const known = await knownSeries();
    expect(promqlProblems('vpsie_autoscaler_nodegroup_node{state="Joining"} > 0', known)).to.deep.equal(['unknown metric vpsie_autoscaler_nodegroup_node']);
    expect(promqlProblems('max by (node_group) (vpsie_autoscaler_nodegroup_nodes{phase="Joining"}) > 0', known)).to.deep.equal([
      'vpsie_autoscaler_nodegroup_nodes has no label phase',
      'no metric of the expression has the label node_group it groups by',
    ]);
  });

  it('the PrometheusRule holds exactly the groups of alerts.yaml', () => {
    const PrometheusRule = z.object({
      apiVersion: z.literal('monitoring.coreos.com/v1'),
      kind: z.literal('PrometheusRule'),
      metadata: z.object({ name: z.string(), namespace: z.literal('vpsie-system'), labels: z.record(z.string(), z.string()) }),
      spec: z.object({ groups: z.unknown() }),
    });
    const pr = PrometheusRule.parse(readYaml('prometheusrule.yaml'));
    expect(pr.metadata.labels['app.kubernetes.io/name']).to.equal('vpsie-capacity-orchestrator');
    expect(pr.spec.groups).to.deep.equal(z.object({ groups: z.unknown() }).parse(readYaml('alerts.yaml')).groups);
  });

  it("the ServiceMonitor scrapes the metrics port of every Service of the orchestrator's Deployments, as the job the alerts name", () => {
    const ServiceMonitor = z.object({
      apiVersion: z.literal('monitoring.coreos.com/v1'),
      kind: z.literal('ServiceMonitor'),
      metadata: z.object({ namespace: z.string() }),
      spec: z.object({
        namespaceSelector: z.object({ matchNames: z.array(z.string()) }),
        selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
        endpoints: z.array(
          z.object({
            port: z.string(),
            path: z.string(),
            honorLabels: z.boolean().optional(),
            relabelings: z.array(z.object({ action: z.string(), targetLabel: z.string(), replacement: z.string() })),
          }),
        ),
      }),
    });
    const sm = ServiceMonitor.parse(readYaml('servicemonitor.yaml'));
    expect(sm.metadata.namespace).to.equal('vpsie-system');
    expect(sm.spec.namespaceSelector.matchNames).to.deep.equal(['vpsie-system']);
    expect(sm.spec.selector.matchLabels).to.deep.equal({ 'app.kubernetes.io/name': 'vpsie-capacity-orchestrator' });
    const [ep] = sm.spec.endpoints;
    expect(ep?.port).to.equal('metrics');
    expect(ep?.path).to.equal('/metrics');
    // the series' own `namespace` label (the VPA's) must not become exported_namespace
    expect(ep?.honorLabels).to.equal(true);
    const job = /job="([^"]+)"/.exec(alerts.find((a) => a.alert === 'VPANAPCoordinatorDown')?.expr ?? '')?.[1];
    expect(ep?.relabelings).to.deep.include({ action: 'replace', targetLabel: 'job', replacement: job });

    // the Services it selects: k8s/deploy's (one per Deployment), each with a port named metrics
    const Service = z.object({
      kind: z.literal('Service'),
      metadata: z.object({ name: z.string(), namespace: z.string(), labels: z.record(z.string(), z.string()) }),
      spec: z.object({ ports: z.array(z.object({ name: z.string(), port: z.number() })) }),
    });
    const deployDir = path.join(ROOT, 'k8s', 'deploy');
    const services = fs
      .readdirSync(deployDir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(deployDir, f), 'utf8')).map((d) => d.toJS() as unknown))
      .flatMap((d) => {
        const s = Service.safeParse(d);
        return s.success ? [s.data] : [];
      })
      .filter(
        (s) =>
          Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels[k] === v) &&
          sm.spec.namespaceSelector.matchNames.includes(s.metadata.namespace),
      );
    expect(services.map((s) => s.metadata.name)).to.include.members(['vpsie-orchestrator-worker', 'vpsie-orchestrator-watcher', 'vpsie-orchestrator-api']);
    for (const s of services)
      expect(
        s.spec.ports.map((p) => p.name),
        s.metadata.name,
      ).to.include('metrics');
  });
});
