/**
 * A rightsizing cycle under coordination (decision/rightsizing/cycle.ts with the verdicts of
 * decision/coordination/gate.ts): a "no" skips every workload that would change with the
 * verdict's reason and applies nothing; a "yes" allows at most its budget of applications per
 * namespace in the cycle; a namespace without a verdict is not coordinated.
 */
import { expect } from 'chai';
import { UpdateStrategySchema } from '../../../../lib/crds/optipod/policy';
import { coordinationGate } from '../../../../decision/coordination/gate';
import {
  runCycle,
  skipsByReason,
  type CycleInput,
  type GovernedWorkload,
  type UsageSeries,
  type WorkloadApplyFacts,
} from '../../../../decision/rightsizing/cycle';
import type { SeriesPoint } from '../../../../decision/rightsizing/model';
import type { CoordinationVerdict } from '../../../../lib/crds/platform/types';
import { MIB, MIN_MS, basePolicy } from './arbitraries';

const NOW = 130 * MIN_MS;

/** A Deployment asking 2 CPUs and 2 GiB that uses about 200m and 300 MiB: the gate would shrink it. */
const workload = (namespace: string, name: string): GovernedWorkload => ({
  kind: 'Deployment',
  namespace,
  name,
  containers: [{ name: 'app', requests: { cpu: '2', memory: '2Gi' } }],
});
const usage = (w: GovernedWorkload, cpu = 200, memMiB = 300): UsageSeries => {
  const c: SeriesPoint[] = [];
  const m: SeriesPoint[] = [];
  for (let i = 0; i < 120; i++) {
    c.push([i * MIN_MS, cpu + (i % 10) * 5]);
    m.push([i * MIN_MS, memMiB * MIB]);
  }
  return { workload: { kind: w.kind, namespace: w.namespace, name: w.name }, container: 'app', cpu: c, memory: m };
};
const facts: WorkloadApplyFacts = { replicas: 3, canUpdate: true, containers: { app: { cpuRequest: 2000, memoryRequest: 2048 * MIB } } };
const key = (w: GovernedWorkload): string => `${w.kind}/${w.namespace}/${w.name}`;

const web = workload('shop', 'web');
const api = workload('shop', 'api');
const db = workload('data', 'db');

function input(coordination?: Record<string, CoordinationVerdict>, governed: GovernedWorkload[] = [web, api, db]): CycleInput {
  const byNs: Record<string, UsageSeries[]> = {};
  for (const w of governed) (byNs[w.namespace] ??= []).push(usage(w));
  return {
    policy: 'shop/rightsize',
    mode: 'Auto',
    dryRun: false,
    now: NOW,
    recommender: basePolicy(),
    governed,
    overridden: [],
    usage: Object.fromEntries(Object.entries(byNs).map(([ns, containers]) => [ns, { ok: true, containers }])),
    ooms: [],
    models: {},
    apply: {
      strategy: UpdateStrategySchema.parse({ cooldown: '0s' }),
      inPlaceSupported: true,
      workloads: Object.fromEntries(governed.map((w) => [key(w), facts])),
      ...(coordination !== undefined ? { coordination } : {}),
    },
  };
}

const result = (out: ReturnType<typeof runCycle>, w: GovernedWorkload) => out.results.find((r) => r.namespace === w.namespace && r.name === w.name)!;

describe('rightsizing cycle under coordination', () => {
  it('without a verdict (not coordinated): every workload that would change is applied, as before', () => {
    const out = runCycle(input());
    expect(out.applications.map((a) => `${a.namespace}/${a.name}`)).to.deep.equal(['shop/web', 'shop/api', 'data/db']);
    for (const w of [web, api, db]) {
      expect(result(out, w).outcome).to.equal('Recommended');
      expect(result(out, w).method).to.equal('InPlace');
    }
    // a verdict for another namespace changes nothing here
    const other = runCycle(input({ elsewhere: { allowed: false, reason: 'CircuitBreakerOpen', message: 'open', numbers: {} } }));
    expect(other.applications).to.deep.equal(out.applications);
    expect(other.results).to.deep.equal(out.results);
  });

  for (const reason of ['CircuitBreakerOpen', 'CoordinationDelay', 'RateLimited'] as const)
    it(`a "no" (${reason}) skips every change in the namespace with that reason and applies nothing there`, () => {
      const verdict: CoordinationVerdict = { allowed: false, reason, message: `held for ${reason}`, numbers: { secondsLeft: 60 }, retryAt: NOW + 60_000 };
      const out = runCycle(input({ shop: verdict }));
      expect(out.applications.map((a) => `${a.namespace}/${a.name}`)).to.deep.equal(['data/db']);
      for (const w of [web, api]) {
        const r = result(out, w);
        expect(r).to.deep.include({ outcome: 'Skipped', skipReason: reason });
        expect(r.method).to.equal(undefined);
        // the message says what the gate would have done and why it is held
        expect(r.message).to.match(new RegExp(`; held: held for ${reason}$`));
        // the recommendation is still shown
        expect(r.containers[0]!.recommendation?.ok).to.equal(true);
      }
      expect(skipsByReason(out.results)).to.deep.equal({ [reason]: 2 });
    });

  it('a budget of 1 with two changing workloads in the namespace: one application, one RateLimited', () => {
    const out = runCycle(input({ shop: { allowed: true, budget: 1 }, data: { allowed: true, budget: 5 } }));
    expect(out.applications.map((a) => `${a.namespace}/${a.name}`)).to.deep.equal(['shop/web', 'data/db']);
    expect(result(out, web).outcome).to.equal('Recommended');
    expect(result(out, api)).to.deep.include({ outcome: 'Skipped', skipReason: 'RateLimited' });
    expect(result(out, api).message).to.contain("the namespace's update budget for this hour (1) is used by this cycle");
    expect(skipsByReason(out.results)).to.deep.equal({ RateLimited: 1 });
  });

  it('the budget counts applications only: a workload that needs no change spends none', () => {
    // web already runs at its recommendation (the gate says NoChangeNeeded): api still gets the one update
    const rec = result(runCycle(input()), web).containers[0]!.recommendation!;
    if (!rec.ok) throw new Error('expected a recommendation');
    const atTarget: WorkloadApplyFacts = {
      replicas: 3,
      canUpdate: true,
      containers: { app: { cpuRequest: Math.round(rec.cpu.target), memoryRequest: Math.round(rec.memory.target) } },
    };
    const i = input({ shop: { allowed: true, budget: 1 } }, [web, api]);
    i.apply = { ...i.apply!, workloads: { ...i.apply!.workloads, [key(web)]: atTarget } };
    const out = runCycle(i);
    expect(result(out, web).skipReason).to.equal('NoChangeNeeded');
    expect(out.applications.map((a) => a.name)).to.deep.equal(['api']);
  });

  it('a "no" does not hide what would not change anyway: a workload the gate skips keeps the gate’s own reason', () => {
    const i = input({ shop: { allowed: false, reason: 'CircuitBreakerOpen', message: 'open', numbers: {} } }, [web]);
    i.apply = { ...i.apply!, workloads: { [key(web)]: { ...facts, canUpdate: false } } };
    const out = runCycle(i);
    expect(result(out, web).skipReason).to.equal('Forbidden');
    expect(out.applications).to.deep.equal([]);
  });

  it('with the verdicts of the coordination gate itself: an open breaker, then its budget once it has closed', () => {
    const gate = (paused: boolean, namespaceBudget: number): CoordinationVerdict =>
      coordinationGate(
        {
          namespace: 'shop',
          objects: [
            {
              object: 'shop/web',
              strategy: 'coordinated',
              enabled: true,
              paused,
              pauseReason: 'NodeChurn',
              pausedUntil: NOW + 600_000,
              vpaUpdateDelayMs: 300_000,
            },
          ],
          clusterBudget: 60,
          namespaceBudget,
        },
        NOW,
      );
    const open = runCycle(input({ shop: gate(true, 10) }, [web, api]));
    expect(open.applications).to.deep.equal([]);
    expect(result(open, web).message).to.contain('the circuit breaker of shop/web is open (NodeChurn); updates resume in 600 s');
    const closed = runCycle(input({ shop: gate(false, 1) }, [web, api]));
    expect(closed.applications.map((a) => a.name)).to.deep.equal(['web']);
    expect(result(closed, api).skipReason).to.equal('RateLimited');
  });
});
