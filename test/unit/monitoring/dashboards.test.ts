/**
 * The Grafana dashboards of k8s/monitoring/dashboards/: each a dashboard Grafana imports (unique
 * uid, panels on the 24-column grid, every query on the `datasource` variable), document 000's
 * dashboards and panels under their names, node and VPSie API panels, and every PromQL
 * expression (targets and variable queries) naming only metrics the orchestrator exports, with
 * labels those metrics have — so renaming a metric or a label in the code breaks this test. The
 * ConfigMap form (kustomization.yaml) carries every dashboard.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { z } from 'zod';
import { exportedSeries, MONITORING, promqlProblems, type Series } from './metric-names';

const DIR = path.join(MONITORING, 'dashboards');
const FILES = ['overview.json', 'node-autoscaling.json', 'rightsizing.json', 'coordination.json', 'performance.json'];

const Datasource = z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });
const Target = z.object({ refId: z.string(), expr: z.string().min(1), datasource: Datasource, legendFormat: z.string().optional() });
const GridPos = z.object({ h: z.number().int().positive(), w: z.number().int().positive(), x: z.number().int().min(0), y: z.number().int().min(0) });
interface PanelT {
  id: number;
  type: string;
  title: string;
  gridPos: z.infer<typeof GridPos>;
  targets?: z.infer<typeof Target>[];
  panels?: PanelT[];
}
const Panel: z.ZodType<PanelT> = z.lazy(() =>
  z.looseObject({
    id: z.number().int(),
    type: z.string(),
    title: z.string().min(1),
    gridPos: GridPos,
    datasource: Datasource.optional(),
    targets: z.array(Target).optional(),
    panels: z.array(Panel).optional(),
  }),
);
const Variable = z.looseObject({
  name: z.string(),
  type: z.string(),
  query: z.union([z.string(), z.object({ query: z.string() })]),
});
const Dashboard = z.looseObject({
  uid: z.string().min(1).max(40),
  title: z.string().min(1),
  schemaVersion: z.number().int(),
  panels: z.array(Panel).min(1),
  templating: z.object({ list: z.array(Variable) }),
});
type DashboardT = z.infer<typeof Dashboard>;

function read(file: string): DashboardT {
  return Dashboard.parse(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
}

function panelsOf(d: { panels: PanelT[] }): PanelT[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL expression of a dashboard: its targets' and its query variables' (label_values(metric, label) as metric{label!=""}). */
function expressions(d: DashboardT): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of panelsOf(d)) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const lv = /^label_values\(\s*([^,]+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(q);
    out.push({ where: `variable ${v.name}`, expr: lv ? `${lv[1]}{${lv[2]}!=""}` : q });
  }
  return out;
}

describe('k8s/monitoring/dashboards: the Grafana dashboards', () => {
  let known: Map<string, Series>;
  const dashboards = new Map(FILES.map((f) => [f, read(f)]));
  before(async () => {
    known = await exportedSeries();
  });

  it('are the five dashboards, with unique uids, panel ids unique in each and every panel on the 24-column grid', () => {
    expect(
      fs
        .readdirSync(DIR)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).to.deep.equal([...FILES].sort());
    const uids = [...dashboards.values()].map((d) => d.uid);
    expect(new Set(uids).size).to.equal(uids.length);
    for (const [file, d] of dashboards) {
      const panels = panelsOf(d);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids`).to.equal(ids.length);
      for (const p of panels) expect(p.gridPos.x + p.gridPos.w, `${file}: "${p.title}" width`).to.be.at.most(24);
      for (const p of panels) if (p.type !== 'row') expect(p.targets?.length ?? 0, `${file}: "${p.title}" has queries`).to.be.greaterThan(0);
      expect(
        d.templating.list.find((v) => v.name === 'datasource'),
        `${file}: the datasource variable`,
      ).to.deep.include({ type: 'datasource', query: 'prometheus' });
    }
  });

  it("holds document 000's dashboards and panels under their names", () => {
    const overview = dashboards.get('overview.json');
    const performance = dashboards.get('performance.json');
    expect(overview?.title).to.equal('VPA-NAP Integration Overview');
    expect(performance?.title).to.equal('VPA-NAP Performance Metrics');
    const byTitle = (d: DashboardT | undefined, title: string) => panelsOf(d ?? { panels: [] }).find((p) => p.title === title);
    expect(byTitle(overview, 'Active VPAs by Tier')?.type).to.equal('stat');
    expect(byTitle(overview, 'Active VPAs by Tier')?.targets?.[0]?.expr).to.match(/count by \(tenant_tier\) \(.*vpa_active/);
    expect(byTitle(overview, 'Conflict Rate')?.targets?.[0]?.expr).to.equal('rate(vpa_nap_conflicts_total[5m])');
    expect(byTitle(overview, 'Circuit Breaker Status')?.type).to.equal('table');
    expect(byTitle(overview, 'Circuit Breaker Status')?.targets?.[0]?.expr).to.contain('vpa_nap_circuit_breaker_status');
    expect(byTitle(performance, 'Coordination Latency')?.type).to.equal('heatmap');
    expect(byTitle(performance, 'Coordination Latency')?.targets?.[0]?.expr).to.contain('vpa_nap_coordination_duration_seconds_bucket');
    expect(byTitle(performance, 'Resource Usage')?.type).to.equal('row');
  });

  it('show the nodes and the VPSie API', () => {
    const exprs = expressions(dashboards.get('node-autoscaling.json') ?? read('node-autoscaling.json')).map((e) => e.expr);
    for (const metric of [
      'vpsie_autoscaler_nodegroup_nodes',
      'vpsie_autoscaler_nodegroup_desired_nodes',
      'vpsie_autoscaler_pending_pods_gauge',
      'vpsie_autoscaler_node_provisioning_duration_seconds_bucket',
      'vpsie_autoscaler_node_joining_duration_seconds_bucket',
      'vpsie_autoscaler_scale_up_operations_total',
      'vpsie_autoscaler_scale_down_operations_total',
      'vpsie_autoscaler_vpsie_api_requests_total',
      'vpsie_autoscaler_vpsie_api_latency_seconds_bucket',
      'vpsie_autoscaler_vpsie_api_circuit_breaker_state',
    ])
      expect(
        exprs.some((e) => e.includes(metric)),
        metric,
      ).to.equal(true);
  });

  it('query only metrics the orchestrator exports, with labels those metrics have', () => {
    const problems = [...dashboards].flatMap(([file, d]) =>
      expressions(d).flatMap(({ where, expr }) => promqlProblems(expr, known).map((p) => `${file} ${where}: ${p}`)),
    );
    expect(problems).to.deep.equal([]);
  });

  it('a renamed metric or label breaks that check', () => {
    const text = fs.readFileSync(path.join(DIR, 'overview.json'), 'utf8');
    const renamed = Dashboard.parse(JSON.parse(text.replaceAll('vpa_nap_conflicts_total', 'vpa_nap_conflict_total').replaceAll('tenant_tier', 'tier')));
    const problems = expressions(renamed).flatMap(({ expr }) => promqlProblems(expr, known));
    expect(problems).to.include('unknown metric vpa_nap_conflict_total');
    expect(problems).to.include('no metric of the expression has the label tier it groups by');
  });

  it('the ConfigMap for the Grafana sidecar carries every dashboard', () => {
    const k = z
      .object({
        generatorOptions: z.object({ labels: z.record(z.string(), z.string()) }),
        configMapGenerator: z.array(z.object({ name: z.string(), namespace: z.string(), files: z.array(z.string()) })),
      })
      .parse(YAML.parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')));
    expect(k.generatorOptions.labels.grafana_dashboard).to.equal('1');
    expect(k.configMapGenerator.flatMap((c) => c.files).sort()).to.deep.equal([...FILES].sort());
  });
});
