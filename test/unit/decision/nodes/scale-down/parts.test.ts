import { expect } from 'chai';
import fc from 'fast-check';

import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { budgetCount, insideAnyWindow, insideWindow } from '../../../../../decision/nodes/scale-down/budget';
import { actionAllowed, historyFromEvents } from '../../../../../decision/nodes/scale-down/cooldown';
import { decideScaleDown } from '../../../../../decision/nodes/scale-down/decide';
import { planDrain } from '../../../../../decision/nodes/scale-down/drain-plan';
import { pdbFromK8s, scaleDownNodeFromK8s, scaleDownPodFromK8s } from '../../../../../decision/nodes/scale-down/from-k8s';
import { allowedDisruptions } from '../../../../../decision/nodes/scale-down/pdb';
import { metricSamples, nodeEvents, scalingCondition } from '../../../../../decision/nodes/scale-down/records';
import { createTracker, observe, windowView } from '../../../../../decision/nodes/scale-down/utilization';
import { Gi, group, input, Mi, node, NOW, pod, res } from './fixtures';

describe('scale-down parts', () => {
  describe('utilisation tracker', () => {
    it('stays bounded and JSON-serialisable over a day of samples, and keeps the window conservative', () => {
      let t = createTracker({ maxBuckets: 32, retentionSeconds: 3600 });
      for (let s = 0; s < 24 * 60; s++) {
        const at = NOW + s * 60_000;
        t = observe(t, [{ node: 'n', cpu: s === 24 * 60 - 5 ? 0.9 : 0.1, memory: 0.1 }], at);
      }
      const h = t.nodes['n'];
      expect(h?.buckets.length).to.be.at.most(32);
      expect(JSON.parse(JSON.stringify(t))).to.deep.equal(t);
      const end = NOW + (24 * 60 - 1) * 60_000;
      expect(windowView(t, 'n', 600, end).maxCpu).to.equal(0.9);
      // History beyond the retention (1 h) is dropped, so a 2-hour window is never claimed as observed.
      expect(windowView(t, 'n', 7200, end).observedSeconds).to.be.below(7200);
    });

    it('the window maximum is never below the true maximum of the samples inside the window (property)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 1, max: 120 }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 200 }),
          fc.integer({ min: 0, max: 3600 }),
          (steps, window) => {
            let t = createTracker({ maxBuckets: 8, maxGapSeconds: 1000, retentionSeconds: 7200 });
            let at = NOW;
            const samples: [number, number][] = [];
            for (const [dt, v] of steps) {
              at += dt * 1000;
              t = observe(t, [{ node: 'n', cpu: v, memory: 0 }], at);
              samples.push([at, v]);
            }
            const truth = samples.filter(([a]) => a >= at - window * 1000 && a >= at - 7200_000).reduce((m, [, v]) => Math.max(m, v), 0);
            expect(windowView(t, 'n', window, at).maxCpu).to.be.at.least(truth);
            expect(t.nodes['n']?.buckets.length).to.be.at.most(8);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('a gap longer than maxGapSeconds restarts the observation; vanished nodes are forgotten', () => {
      let t = createTracker({ maxGapSeconds: 120 });
      t = observe(
        t,
        [
          { node: 'a', cpu: 0.1, memory: 0.1 },
          { node: 'b', cpu: 0.1, memory: 0.1 },
        ],
        NOW,
      );
      t = observe(t, [{ node: 'a', cpu: 0.1, memory: 0.1 }], NOW + 60_000, ['a']);
      expect(Object.keys(t.nodes)).to.deep.equal(['a']);
      expect(windowView(t, 'a', 600, NOW + 60_000).observedSeconds).to.equal(60);
      t = observe(t, [{ node: 'a', cpu: 0.1, memory: 0.1 }], NOW + 600_000);
      expect(windowView(t, 'a', 600, NOW + 600_000).observedSeconds).to.equal(0);
    });
  });

  describe('disruption budget', () => {
    it('counts and percentages (rounded up)', () => {
      expect([budgetCount(0, 5), budgetCount(2, 5), budgetCount('0%', 5), budgetCount('10%', 5), budgetCount('50%', 5), budgetCount('100%', 3)]).to.deep.equal([
        0, 2, 0, 1, 3, 3,
      ]);
    });

    it('windows: start inclusive, end exclusive, crossing midnight, days, time zones, unknown zone closed', () => {
      const at = (iso: string) => Date.parse(iso);
      const w = { start: '22:00', end: '02:00', timeZone: 'UTC', days: ['Fri' as const] };
      expect(insideWindow(w, at('2025-06-06T22:00:00Z'))).to.equal(true); // Fri 22:00
      expect(insideWindow(w, at('2025-06-07T01:59:00Z'))).to.equal(true); // Sat 01:59, opened Friday
      expect(insideWindow(w, at('2025-06-07T02:00:00Z'))).to.equal(false);
      expect(insideWindow(w, at('2025-06-07T22:30:00Z'))).to.equal(false); // Saturday night
      expect(insideWindow({ start: '09:00', end: '17:00', timeZone: 'America/New_York' }, at('2025-06-04T14:00:00Z'))).to.equal(true); // 10:00 EDT
      expect(insideWindow({ start: '09:00', end: '17:00', timeZone: 'America/New_York' }, at('2025-06-04T22:00:00Z'))).to.equal(false); // 18:00 EDT
      expect(insideWindow({ start: '09:00', end: '17:00', timeZone: 'Nowhere/Atlantis' }, at('2025-06-04T14:00:00Z'))).to.equal(false);
      expect(insideAnyWindow(undefined, NOW)).to.equal(true);
    });

    it('two idle nodes: a budget of 2 removes both in one decision, a budget of 1 only the emptier', () => {
      const mk = (budget: number) =>
        input(
          [
            node('a', [pod('w-1', { requests: res(200, 256 * Mi) })]),
            node('b', [pod('w-2', { requests: res(100, 128 * Mi) })]),
            node('c', [pod('x-1', { requests: res(1000, Gi) })], { labels: {} }),
          ],
          [
            group(
              'g',
              3,
              {},
              {
                disruptionBudget: { maxUnavailable: budget },
                scaleDownPolicy: {
                  enabled: true,
                  stabilizationWindowSeconds: 600,
                  cooldownSeconds: 600,
                  cpuThreshold: 20,
                  memoryThreshold: 20,
                  utilizationSource: 'requests' as const,
                },
              },
            ),
          ],
        );
      expect(decideScaleDown(mk(2)).removals.map((r) => r.node)).to.deep.equal(['b', 'a']);
      const one = decideScaleDown(mk(1));
      expect(one.removals.map((r) => r.node)).to.deep.equal(['b']);
      expect(one.nodes.find((v) => v.node === 'a')?.reason).to.equal('DisruptionBudgetExhausted');
    });

    it('PDB allowances are counted across all removals of one decision', () => {
      const i = input(
        [node('a', [pod('w-1')]), node('b', [pod('w-2')]), node('c', [pod('x-1', { requests: res(1000, Gi) })])],
        [
          group(
            'g',
            3,
            {},
            {
              disruptionBudget: { maxUnavailable: 3 },
              scaleDownPolicy: {
                enabled: true,
                stabilizationWindowSeconds: 600,
                cooldownSeconds: 600,
                cpuThreshold: 20,
                memoryThreshold: 20,
                utilizationSource: 'requests' as const,
              },
            },
          ),
        ],
        { pdbs: [{ name: 'w', namespace: 'default', selector: { matchLabels: { app: 'w' } }, disruptionsAllowed: 1 }] },
      );
      const d = decideScaleDown(i);
      expect(d.removals.map((r) => r.node)).to.deep.equal(['a']);
      const b = d.nodes.find((v) => v.node === 'b');
      expect(b?.reason).to.equal('PodDisruptionBudget');
      expect(b?.blockers[0]?.numbers).to.deep.equal({ disruptionsAllowed: 1, usedByDecision: 1, needed: 1 });
    });
  });

  describe('PDB allowances', () => {
    it('from status, from minAvailable/maxUnavailable (percent rounded up), the smaller of both, 0 when unknown', () => {
      const sel = { matchLabels: { app: 'x' } };
      expect(allowedDisruptions({ name: 'p', namespace: 'd', selector: sel, disruptionsAllowed: 2 })).to.equal(2);
      expect(allowedDisruptions({ name: 'p', namespace: 'd', selector: sel, minAvailable: 2, currentHealthy: 3, expectedPods: 3 })).to.equal(1);
      expect(allowedDisruptions({ name: 'p', namespace: 'd', selector: sel, minAvailable: '50%', currentHealthy: 3, expectedPods: 3 })).to.equal(1);
      expect(allowedDisruptions({ name: 'p', namespace: 'd', selector: sel, maxUnavailable: 0, currentHealthy: 3, expectedPods: 3 })).to.equal(0);
      expect(allowedDisruptions({ name: 'p', namespace: 'd', selector: sel, maxUnavailable: '34%', currentHealthy: 3, expectedPods: 3 })).to.equal(2);
      expect(
        allowedDisruptions({ name: 'p', namespace: 'd', selector: sel, disruptionsAllowed: 3, maxUnavailable: 1, currentHealthy: 3, expectedPods: 3 }),
      ).to.equal(1);
      expect(allowedDisruptions({ name: 'p', namespace: 'd', selector: sel })).to.equal(0);
    });
  });

  describe('flapping guard', () => {
    const policies = { scaleUpPolicy: { cooldownSeconds: 120 }, scaleDownPolicy: { cooldownSeconds: 600 } };
    it('scale-down waits for the cooldown after a scale-up and after a failed drain, never during a scale-up', () => {
      const h = historyFromEvents([
        { kind: 'scaleUp', at: NOW - 300_000 },
        { kind: 'drainFailed', at: NOW - 100_000 },
      ]);
      const r = actionAllowed('scaleDown', h, policies, NOW);
      expect(r.blocks.map((b) => [b.reason, b.until])).to.deep.equal([
        ['ScaleUpCooldown', NOW + 300_000],
        ['FailedDrainCooldown', NOW + 500_000],
      ]);
      expect(actionAllowed('scaleDown', h, policies, NOW + 500_000).allowed).to.equal(true);
      expect(actionAllowed('scaleDown', { scaleUpInProgress: true }, policies, NOW).blocks.map((b) => b.reason)).to.deep.equal(['ScaleUpInProgress']);
    });
    it('scale-up waits only for its own cooldown, never because of a scale-down', () => {
      expect(actionAllowed('scaleUp', historyFromEvents([{ kind: 'scaleDown', at: NOW - 1000 }]), policies, NOW).allowed).to.equal(true);
      expect(actionAllowed('scaleUp', historyFromEvents([{ kind: 'scaleUp', at: NOW - 60_000 }]), policies, NOW).allowed).to.equal(false);
    });
  });

  describe('drain plan', () => {
    it('evicts workloads (kube-system last) with grace capped, skips DaemonSet, mirror, terminating and completed pods', () => {
      const plan = planDrain(
        'n1',
        [
          pod('web-1', { terminationGracePeriodSeconds: 3600 }),
          pod('dns-1', { namespace: 'kube-system' }),
          pod('api-1', { terminationGracePeriodSeconds: 5 }),
          pod('proxy-1', { ownerKind: 'DaemonSet' }),
          pod('etcd-n1', { annotations: { 'kubernetes.io/config.mirror': 'h' }, ownerKind: 'Node' }),
          pod('old-1', { terminating: true }),
          pod('job-1', { phase: 'Succeeded', ownerKind: 'Job' }),
        ],
        { maxGracePeriodSeconds: 120, evictionDeadlineSeconds: 300 },
      );
      expect(plan.evict.map((e) => [e.pod, e.gracePeriodSeconds])).to.deep.equal([
        ['default/api-1', 5],
        ['default/web-1', 120],
        ['kube-system/dns-1', 30],
      ]);
      expect(plan.skip).to.deep.equal([
        { pod: 'default/etcd-n1', reason: 'MirrorPod' },
        { pod: 'default/job-1', reason: 'Completed' },
        { pod: 'default/old-1', reason: 'Terminating' },
        { pod: 'default/proxy-1', reason: 'DaemonSetPod' },
      ]);
      expect(plan.waitSeconds).to.equal(420);
    });
  });

  describe('records', () => {
    it('Events on candidate nodes, safety-failure counts by reason, group utilisation, the Scaling condition', () => {
      const i = input(
        [node('a', [pod('w-1', { ownerKind: undefined })]), node('b', [pod('w-2')]), node('c', [pod('x-1', { requests: res(1500, 3 * Gi) })])],
        [
          group(
            'g',
            3,
            {},
            {
              disruptionBudget: { maxUnavailable: 2 },
              scaleDownPolicy: {
                enabled: true,
                stabilizationWindowSeconds: 600,
                cooldownSeconds: 600,
                cpuThreshold: 20,
                memoryThreshold: 20,
                utilizationSource: 'requests' as const,
              },
            },
          ),
        ],
      );
      const d = decideScaleDown(i);
      const ev = nodeEvents(d);
      expect(ev.map((e) => [e.node, e.reason])).to.deep.equal([
        ['a', 'UnreplicatedPod'],
        ['b', 'ScaleDownApproved'],
      ]);
      expect(ev[0]?.message)
        .to.match(/no controller/)
        .and.match(/cpu 2\.5%/);
      const m = metricSamples(d);
      expect(m.safetyCheckFailures).to.deep.equal([{ reason: 'UnreplicatedPod', count: 1 }]);
      expect(m.scaleDowns).to.deep.equal([{ nodegroup: 'g', count: 1 }]);
      expect(m.utilization.find((u) => u.resource === 'cpu')?.value).to.equal(round4((100 + 100 + 1500) / 12000));
      const c = scalingCondition(d, d.groups[0]!);
      expect(c).to.include({ status: 'True', reason: 'ScalingDown' });
      expect(c.message).to.match(/removing b \(delete\)/);
    });
  });

  describe('from Kubernetes objects', () => {
    it('pods: controller owner, annotations, volumes, terminating, grace; nodes: group label, readiness; PDBs: observed status', () => {
      const v1pod: V1Pod = {
        metadata: {
          name: 'w',
          namespace: 'default',
          uid: 'u',
          labels: { app: 'w' },
          annotations: { 'karpenter.sh/do-not-disrupt': 'true' },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r' }],
          deletionTimestamp: new Date(NOW),
        },
        spec: {
          containers: [{ name: 'c', resources: { requests: { cpu: '250m', memory: '64Mi' } } }],
          volumes: [
            { name: 'e', emptyDir: {} },
            { name: 'm', emptyDir: { medium: 'Memory' } },
            { name: 'h', hostPath: { path: '/x' } },
            { name: 'p', persistentVolumeClaim: { claimName: 'c' } },
          ],
          terminationGracePeriodSeconds: 45,
        },
        status: { phase: 'Running' },
      };
      const p = scaleDownPodFromK8s(v1pod);
      expect(p.ownerKind).to.equal(undefined); // an owner that is not the controller does not replicate the pod
      expect(p.volumes).to.deep.equal([
        { name: 'e', kind: 'emptyDir', medium: '' },
        { name: 'm', kind: 'emptyDir', medium: 'Memory' },
        { name: 'h', kind: 'hostPath' },
        { name: 'p', kind: 'other' },
      ]);
      expect(p).to.include({ terminating: true, phase: 'Running', terminationGracePeriodSeconds: 45 });
      expect(p.requests.cpuMilli).to.equal(250);
      const v1node: V1Node = {
        metadata: { name: 'n', labels: { 'autoscaler.vpsie.com/nodegroup': 'g' } },
        status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'False' }] },
      };
      const n = scaleDownNodeFromK8s(v1node, [v1pod], { vpsieNode: 'vn' });
      expect(n).to.include({ nodeGroup: 'g', ready: false, vpsieNode: 'vn' });
      const pdb: V1PodDisruptionBudget = {
        metadata: { name: 'b', namespace: 'default', generation: 2 },
        spec: { selector: { matchLabels: { app: 'w' } }, maxUnavailable: 0 },
        status: { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 2, expectedPods: 2 },
      };
      // Not yet observed: the stale disruptionsAllowed is ignored, the spec decides.
      expect(allowedDisruptions(pdbFromK8s(pdb))).to.equal(0);
    });
  });
});

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
