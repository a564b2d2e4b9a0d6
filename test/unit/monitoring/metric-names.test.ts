/**
 * The list of exported metrics the monitoring tests check against is the code's: the source scan
 * of metric-names.ts finds every metric the real registries of the orchestrator hold (the
 * factories of lib/metrics.ts, lib/coordination-metrics.ts, clients/vpsie/metrics.ts and
 * activities/rightsizing/metrics.ts), with the same type and labels, and the PromQL reader finds
 * the names an expression uses.
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { cycleMetrics } from '../../../activities/rightsizing/metrics';
import { vpsieClientMetrics } from '../../../clients/vpsie/metrics';
import { coordinationMetrics } from '../../../lib/coordination-metrics';
import { autoscalerMetrics } from '../../../lib/metrics';
import { declaredMetrics, promqlUses } from './metric-names';

const Registered = z.object({ name: z.string(), type: z.string(), labelNames: z.array(z.string()).default([]) });

describe('k8s/monitoring: the exported metrics the checks know', () => {
  it('the source scan finds every metric of the real registries, with its type and labels', () => {
    const registry = new Registry();
    autoscalerMetrics(registry);
    coordinationMetrics(registry);
    cycleMetrics(registry);
    vpsieClientMetrics(registry);
    const registered = registry.getMetricsAsArray().map((m) => Registered.parse(m));
    expect(registered.length).to.be.greaterThan(40);
    const declared = declaredMetrics();
    for (const m of registered) {
      const d = declared.get(m.name);
      expect(d, `${m.name} found in the source`).to.not.equal(undefined);
      expect({ type: d?.type, labels: [...(d?.labels ?? [])].sort() }, m.name).to.deep.equal({ type: m.type, labels: [...m.labelNames].sort() });
    }
    // and the metrics declared outside those factories (garbage collection, backups)
    for (const name of [
      'vpsie_autoscaler_orphan_nodes',
      'vpsie_autoscaler_orphan_nodes_detected_total',
      'vpa_nap_backups_total',
      'vpa_nap_backup_duration_seconds',
    ])
      expect(declared.has(name), name).to.equal(true);
  });

  it('the PromQL reader lists the metrics, matchers and grouping labels of an expression, $variables and all', () => {
    const use = promqlUses(
      'histogram_quantile(0.95, sum by (le, nodegroup) (rate(vpsie_autoscaler_node_joining_duration_seconds_bucket{nodegroup=~"$nodegroup"}[$__rate_interval]))) ' +
        'or on (job, instance) (up offset 15m) == 1 unless time() - process_start_time_seconds < 900',
    );
    expect(use.metrics).to.deep.equal(['vpsie_autoscaler_node_joining_duration_seconds_bucket', 'up', 'process_start_time_seconds']);
    expect(use.matchers).to.deep.equal([{ metric: 'vpsie_autoscaler_node_joining_duration_seconds_bucket', labels: ['nodegroup'] }]);
    expect(use.grouping).to.deep.equal(['le', 'nodegroup', 'job', 'instance']);
    expect(promqlUses('count by (tenant_tier) (vpa_active{namespace=~"a|b", vpa_name!="x"} == 1)').matchers).to.deep.equal([
      { metric: 'vpa_active', labels: ['namespace', 'vpa_name'] },
    ]);
    expect(promqlUses('vpsie_autoscaler:scale_up_failures:increase15m > 0').metrics).to.deep.equal(['vpsie_autoscaler:scale_up_failures:increase15m']);
  });
});
