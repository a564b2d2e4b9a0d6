/**
 * Workload selection and the settlement of overlapping policies (issue 14; document 003
 * Property 16 "Workload discovery" and Property 27 "Multi-tenant scoping"): deny beats allow,
 * exclude beats include, a tenant's policy never reaches another namespace, overlaps are settled
 * by weight then name whatever the input order, and the loser learns which policy won.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../../../lib/crds/optipod/constants';
import type { PolicySelector } from '../../../../lib/crds/optipod/policy';
import {
  matchesSelector,
  policyKey,
  selects,
  settle,
  workloadKey,
  type NamespaceInfo,
  type SelectablePolicy,
  type WorkloadInfo,
} from '../../../../decision/rightsizing/selection';

const OPERATOR_NS = 'optipod-system';
const NAMESPACES = ['team-a', 'team-b', 'prod', 'kube-system', OPERATOR_NS];
const LABEL_KEYS = ['env', 'optimize', 'tier'];
const LABEL_VALUES = ['production', 'staging', 'true', 'web'];

const labelsArb = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 });
const nsListArb = fc.uniqueArray(fc.constantFrom(...NAMESPACES), { maxLength: 3 });
const kindListArb = fc.uniqueArray(fc.constantFrom(...WORKLOAD_KINDS), { maxLength: 3 });
const selectorArb = fc.option(
  fc.record(
    {
      matchLabels: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 1 }),
      matchExpressions: fc.array(
        fc.oneof(
          fc.record({
            key: fc.constantFrom(...LABEL_KEYS),
            operator: fc.constantFrom('In' as const, 'NotIn' as const),
            values: fc.uniqueArray(fc.constantFrom(...LABEL_VALUES), { minLength: 1, maxLength: 2 }),
          }),
          fc.record({ key: fc.constantFrom(...LABEL_KEYS), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
        ),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const policySelectorArb: fc.Arbitrary<PolicySelector> = fc
  .record({
    namespaceSelector: selectorArb,
    workloadSelector: selectorArb,
    allow: nsListArb,
    deny: nsListArb,
    include: kindListArb,
    exclude: kindListArb,
  })
  .map((r) => {
    const s: PolicySelector = {};
    if (r.namespaceSelector) s.namespaceSelector = r.namespaceSelector;
    if (r.workloadSelector) s.workloadSelector = r.workloadSelector;
    s.namespaces = { allow: r.allow, deny: r.deny };
    s.workloadTypes = { include: r.include, exclude: r.exclude };
    return s;
  });

const policyArb: fc.Arbitrary<SelectablePolicy> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
  spec: fc.record({
    mode: fc.constantFrom('Auto' as const, 'Recommend' as const, 'Disabled' as const),
    selector: policySelectorArb,
    weight: fc.integer({ min: 1, max: 5 }),
  }),
});
const policiesArb = fc.uniqueArray(policyArb, { selector: (p) => policyKey(p), maxLength: 6 });
const namespacesArb: fc.Arbitrary<NamespaceInfo[]> = fc
  .tuple(...NAMESPACES.map(() => labelsArb))
  .map((ls) => NAMESPACES.map((name, i) => ({ name, labels: ls[i]! })));
const workloadArb: fc.Arbitrary<WorkloadInfo> = fc.record({
  kind: fc.constantFrom(...WORKLOAD_KINDS),
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('web', 'api', 'db', 'cache'),
  labels: labelsArb,
});
const workloadsArb = fc.uniqueArray(workloadArb, { selector: (w) => workloadKey(w), maxLength: 20 });

const nsMap = (ns: NamespaceInfo[]) => new Map(ns.map((n) => [n.name, n]));

describe('rightsizing: workload selection and settlement', () => {
  it('label selectors follow Kubernetes semantics', () => {
    const l = { env: 'production', tier: 'web' };
    expect(matchesSelector(undefined, l)).to.equal(true);
    expect(matchesSelector({}, l)).to.equal(true);
    expect(matchesSelector({ matchLabels: { env: 'production' } }, l)).to.equal(true);
    expect(matchesSelector({ matchLabels: { env: 'staging' } }, l)).to.equal(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'env', operator: 'In', values: ['staging', 'production'] }] }, l)).to.equal(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['production'] }] }, l)).to.equal(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, l)).to.equal(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, l)).to.equal(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, l)).to.equal(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'missing', operator: 'In', values: ['x'] }] }, l)).to.equal(false);
  });

  // Feature: k8s-workload-rightsizing, Property 27: Multi-tenant scoping
  it('Property 27: a namespace in deny is never reached, even when it is also allowed (deny beats allow)', () => {
    fc.assert(
      fc.property(policyArb, namespacesArb, workloadArb, (p, namespaces, w) => {
        const denied: SelectablePolicy = {
          ...p,
          namespace: OPERATOR_NS,
          spec: { ...p.spec, selector: { ...p.spec.selector, namespaces: { allow: [w.namespace], deny: [w.namespace] } } },
        };
        expect(selects(denied, w, nsMap(namespaces), OPERATOR_NS)).to.equal(false);
      }),
    );
  });

  it('a kind in exclude is never governed, even when it is also included (exclude beats include)', () => {
    fc.assert(
      fc.property(policyArb, namespacesArb, workloadArb, (p, namespaces, w) => {
        const excluded: SelectablePolicy = {
          ...p,
          spec: { ...p.spec, selector: { ...p.spec.selector, workloadTypes: { include: [w.kind], exclude: [w.kind] } } },
        };
        expect(selects(excluded, w, nsMap(namespaces), OPERATOR_NS)).to.equal(false);
      }),
    );
  });

  it('Property 27: a policy in an ordinary namespace never reaches another namespace, whatever its selector says', () => {
    fc.assert(
      fc.property(policiesArb, namespacesArb, workloadsArb, (policies, namespaces, workloads) => {
        const s = settle(policies, namespaces, workloads, OPERATOR_NS);
        for (const sel of s.policies) {
          const ns = sel.policy.split('/')[0];
          if (ns === OPERATOR_NS) continue;
          for (const w of [...sel.governed, ...sel.overridden.map((o) => o.workload)]) expect(w.namespace, sel.policy).to.equal(ns);
        }
      }),
    );
  });

  it('a policy in the operator namespace reaches exactly the namespaces its selector names', () => {
    const ns: NamespaceInfo[] = [
      { name: 'prod', labels: { env: 'production' } },
      { name: 'team-a', labels: { env: 'staging' } },
      { name: 'kube-system', labels: { env: 'production' } },
    ];
    const w = (namespace: string, kind: WorkloadKind = 'Deployment'): WorkloadInfo => ({ kind, namespace, name: 'web', labels: { optimize: 'true' } });
    const p: SelectablePolicy = {
      namespace: OPERATOR_NS,
      name: 'prod',
      spec: {
        mode: 'Recommend',
        weight: 100,
        selector: {
          namespaceSelector: { matchLabels: { env: 'production' } },
          namespaces: { deny: ['kube-system'] },
          workloadSelector: { matchLabels: { optimize: 'true' } },
        },
      },
    };
    const s = settle([p], ns, [w('prod'), w('team-a'), w('kube-system'), w('prod', 'DaemonSet')], OPERATOR_NS);
    expect(s.policies[0]!.governed.map(workloadKey)).to.deep.equal(['DaemonSet/prod/web', 'Deployment/prod/web']);
    const tenant: SelectablePolicy = { ...p, namespace: 'team-a', spec: { ...p.spec, selector: { workloadSelector: { matchLabels: { optimize: 'true' } } } } };
    expect(settle([tenant], ns, [w('prod'), w('team-a')], OPERATOR_NS).policies[0]!.governed.map(workloadKey)).to.deep.equal(['Deployment/team-a/web']);
  });

  it('the settlement of overlapping policies is independent of the input order', () => {
    fc.assert(
      fc.property(policiesArb, namespacesArb, workloadsArb, fc.integer(), (policies, namespaces, workloads, seed) => {
        const a = settle(policies, namespaces, workloads, OPERATOR_NS);
        const shuffle = <T>(xs: readonly T[], salt: number): T[] =>
          xs
            .map((x, i) => ({ x, k: Math.imul(i + 1 + salt, 2654435761) ^ seed }))
            .sort((p, q) => p.k - q.k)
            .map((e) => e.x);
        const b = settle(shuffle(policies, 1), shuffle(namespaces, 2), shuffle(workloads, 3).reverse(), OPERATOR_NS);
        expect(b.policies).to.deep.equal(a.policies);
        expect([...b.governor.entries()].sort()).to.deep.equal([...a.governor.entries()].sort());
      }),
    );
  });

  it('each selected workload is governed by exactly one policy: the highest weight, then the smallest name; every loser names it', () => {
    fc.assert(
      fc.property(policiesArb, namespacesArb, workloadsArb, (policies, namespaces, workloads) => {
        const s = settle(policies, namespaces, workloads, OPERATOR_NS);
        const m = nsMap(namespaces);
        for (const w of workloads) {
          const candidates = policies.filter((p) => p.spec.mode !== 'Disabled' && selects(p, w, m, OPERATOR_NS));
          const governedBy = s.policies.filter((sel) => sel.governed.some((g) => workloadKey(g) === workloadKey(w))).map((sel) => sel.policy);
          if (candidates.length === 0) {
            expect(governedBy).to.deep.equal([]);
            expect(s.governor.has(workloadKey(w))).to.equal(false);
            continue;
          }
          const best = [...candidates].sort((x, y) => y.spec.weight - x.spec.weight || (policyKey(x) < policyKey(y) ? -1 : 1))[0]!;
          expect(governedBy).to.deep.equal([policyKey(best)]);
          expect(s.governor.get(workloadKey(w))).to.equal(policyKey(best));
          for (const loser of candidates.filter((c) => c !== best)) {
            const entry = s.policies.find((sel) => sel.policy === policyKey(loser))!;
            expect(entry.overridden.filter((o) => workloadKey(o.workload) === workloadKey(w)).map((o) => o.winner)).to.deep.equal([policyKey(best)]);
          }
        }
      }),
    );
  });

  // Feature: k8s-workload-rightsizing, Property 19: Disabled mode stops processing
  it('Property 19: a Disabled policy governs nothing and takes nothing from other policies', () => {
    fc.assert(
      fc.property(policiesArb, namespacesArb, workloadsArb, (policies, namespaces, workloads) => {
        const s = settle(policies, namespaces, workloads, OPERATOR_NS);
        const withoutDisabled = settle(
          policies.filter((p) => p.spec.mode !== 'Disabled'),
          namespaces,
          workloads,
          OPERATOR_NS,
        );
        for (const p of policies.filter((x) => x.spec.mode === 'Disabled')) {
          const sel = s.policies.find((x) => x.policy === policyKey(p))!;
          expect(sel.governed).to.deep.equal([]);
          expect(sel.overridden).to.deep.equal([]);
        }
        expect([...s.governor.entries()].sort()).to.deep.equal([...withoutDisabled.governor.entries()].sort());
      }),
    );
  });
});
