import { expect } from 'chai';
import fc from 'fast-check';

import { interPodAffinityFailure, topologySpreadFailure } from '../../../../decision/scheduling/predicates';
import type { NodeSnapshot } from '../../../../decision/scheduling/predicates';
import { SchedulingState } from '../../../../decision/scheduling/state';
import type { LabelSelector, PodAffinityTerm, SimNode, SimPod, TopologySpreadConstraint } from '../../../../decision/scheduling/types';
import { FRESH_DOMAIN, LABEL_HOSTNAME, LABEL_ZONE } from '../../../../decision/scheduling/types';
import { node, pod } from './fixtures';

const APPS = ['a', 'b'];
const selector: fc.Arbitrary<LabelSelector> = fc.constantFrom(...APPS).map((a) => ({ matchLabels: { app: a } }));
const term: fc.Arbitrary<PodAffinityTerm> = fc
  .record({
    topologyKey: fc.constantFrom(LABEL_HOSTNAME, LABEL_ZONE),
    labelSelector: selector,
    namespaces: fc.constantFrom(undefined, ['ns1'], ['ns1', 'ns2']),
  })
  .map((t) => (t.namespaces ? t : { topologyKey: t.topologyKey, labelSelector: t.labelSelector }));
const spread: fc.Arbitrary<TopologySpreadConstraint> = fc
  .record({
    maxSkew: fc.integer({ min: 1, max: 2 }),
    topologyKey: fc.constantFrom(LABEL_HOSTNAME, LABEL_ZONE),
    whenUnsatisfiable: fc.constant('DoNotSchedule' as const),
    labelSelector: selector,
    minDomains: fc.constantFrom(undefined, 2, 4),
  })
  .map((c) => (c.minDomains === undefined ? { ...c, minDomains: undefined } : c));

const podArb = (i: number): fc.Arbitrary<SimPod> =>
  fc
    .record({
      app: fc.constantFrom(...APPS),
      ns: fc.constantFrom('ns1', 'ns2'),
      aff: fc.array(term, { maxLength: 2 }),
      anti: fc.array(term, { maxLength: 1 }),
      spread: fc.array(spread, { maxLength: 2 }),
      zoneSel: fc.boolean(),
    })
    .map((r) => {
      const p = pod(`p${i}`, { namespace: r.ns, labels: { app: r.app } });
      if (r.aff.length) p.podAffinity = r.aff;
      if (r.anti.length) p.podAntiAffinity = r.anti;
      if (r.spread.length) {
        p.topologySpreadConstraints = r.spread.map((c) => {
          const { minDomains, ...rest } = c;
          return minDomains === undefined ? rest : { ...rest, minDomains };
        });
      }
      if (r.zoneSel) p.requiredNodeAffinity = [{ matchExpressions: [{ key: LABEL_ZONE, operator: 'In', values: ['z1', 'z2'] }] }];
      return p;
    });

describe('scheduling/state (incremental) agrees with the reference predicates', () => {
  it('inter-pod verdicts are equal on random clusters, for registered and fresh candidate nodes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('z1', 'z2', 'z3', undefined), { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 12 }),
        fc.array(fc.constantFrom('z1', 'z2', 'z3'), { maxLength: 2 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 11 }).chain((n) => fc.tuple(...Array.from({ length: n + 1 }, (_, i) => podArb(i)))),
        (zones, placements, hintZones, freshHint, pods) => {
          const nodes: SimNode[] = zones.map((z, i) => node(`n${i}`, z));
          const hints = (p: SimPod) => {
            const m = new Map<string, Set<string>>();
            for (const c of p.topologySpreadConstraints ?? []) {
              m.set(c.topologyKey, c.topologyKey === LABEL_HOSTNAME ? new Set(freshHint ? [FRESH_DOMAIN] : []) : new Set(hintZones));
            }
            return m;
          };
          const state = new SchedulingState(hints);
          const snaps: { node: SimNode; pods: SimPod[] }[] = nodes.map((n) => ({ node: n, pods: [] }));
          const sns = nodes.map((n) => state.addNode(n));
          const fresh = node('fresh', 'z2');
          // Place a prefix of the pods wherever the generator says, checking agreement before each.
          for (let k = 0; k < pods.length; k++) {
            const p = pods[k] as SimPod;
            for (let i = 0; i < nodes.length; i++) {
              const ref = interPodAffinityFailure(p, snaps[i] as NodeSnapshot, snaps) ?? topologySpreadFailure(p, snaps[i] as NodeSnapshot, snaps, hints(p));
              expect(state.interPodFailure(p, sns[i] as never), `pod ${k} node ${i}`).to.equal(ref);
            }
            const freshSnap = { node: fresh, pods: [] };
            const refFresh = interPodAffinityFailure(p, freshSnap, snaps) ?? topologySpreadFailure(p, freshSnap, snaps, hints(p));
            expect(state.interPodFailure(p, { node: fresh }), `pod ${k} fresh`).to.equal(refFresh);
            const [target] = placements[k] ?? [0, 0];
            const i = target % nodes.length;
            state.place(p, sns[i] as never);
            (snaps[i] as { pods: SimPod[] }).pods.push(p);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
