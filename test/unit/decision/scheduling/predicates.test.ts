import { expect } from 'chai';

import {
  countIntolerablePreferNoSchedule,
  filterNode,
  interPodAffinityFailure,
  passesNodeAffinity,
  passesNodeUnschedulable,
  passesTaintToleration,
  resourcesFit,
  topologySpreadFailure,
} from '../../../../decision/scheduling/predicates';
import { matchesLabelSelector, toleratesTaint } from '../../../../decision/scheduling/labels';
import type { LabelSelector, NodeSelectorTerm, SimPod, Taint, Toleration } from '../../../../decision/scheduling/types';
import { FRESH_DOMAIN, LABEL_HOSTNAME, LABEL_ZONE } from '../../../../decision/scheduling/types';
import { Gi, Mi, node, pod, res, snap } from './fixtures';

describe('scheduling/predicates', () => {
  describe('NodeResourcesFit', () => {
    const alloc = res(1000, 1 * Gi, 3, 10 * Gi);
    const cases: { name: string; pod: ReturnType<typeof res>; used: ReturnType<typeof res>; fits: boolean }[] = [
      { name: 'fits exactly', pod: res(500, 512 * Mi), used: res(500, 512 * Mi, 2), fits: true },
      { name: 'cpu over', pod: res(501, 0), used: res(500, 0, 0), fits: false },
      { name: 'memory over', pod: res(0, 512 * Mi + 1), used: res(0, 512 * Mi, 0), fits: false },
      { name: 'pod count over', pod: res(0, 0), used: res(0, 0, 3), fits: false },
      { name: 'ephemeral over', pod: res(0, 0, 1, 6 * Gi), used: res(0, 0, 0, 5 * Gi), fits: false },
      { name: 'zero request ignores overcommitted cpu', pod: res(0, 0), used: res(2000, 0, 0), fits: true },
      { name: 'zero-request pod still needs a pod slot', pod: res(0, 0, 0), used: res(0, 0, 3), fits: false },
    ];
    for (const c of cases) {
      it(c.name, () => expect(resourcesFit(c.pod, alloc, c.used)).to.equal(c.fits));
    }
  });

  describe('NodeAffinity (nodeSelector + required terms)', () => {
    const n = node('n1', 'z1', { labels: { disk: 'ssd', cores: '8', gen: '3' } });
    const cases: { name: string; sel?: Record<string, string>; terms?: NodeSelectorTerm[]; ok: boolean }[] = [
      { name: 'no constraints', ok: true },
      { name: 'nodeSelector match', sel: { disk: 'ssd' }, ok: true },
      { name: 'nodeSelector mismatch', sel: { disk: 'hdd' }, ok: false },
      { name: 'nodeSelector missing key', sel: { gpu: 'yes' }, ok: false },
      { name: 'In', terms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd', 'nvme'] }] }], ok: true },
      { name: 'In miss', terms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['hdd'] }] }], ok: false },
      { name: 'NotIn', terms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['hdd'] }] }], ok: true },
      { name: 'NotIn absent key', terms: [{ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['a'] }] }], ok: true },
      { name: 'NotIn hit', terms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }] }], ok: false },
      { name: 'Exists', terms: [{ matchExpressions: [{ key: 'disk', operator: 'Exists' }] }], ok: true },
      { name: 'Exists miss', terms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }], ok: false },
      { name: 'DoesNotExist', terms: [{ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }], ok: true },
      { name: 'DoesNotExist miss', terms: [{ matchExpressions: [{ key: 'disk', operator: 'DoesNotExist' }] }], ok: false },
      { name: 'Gt', terms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }], ok: true },
      { name: 'Gt equal', terms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['8'] }] }], ok: false },
      { name: 'Lt', terms: [{ matchExpressions: [{ key: 'gen', operator: 'Lt', values: ['4'] }] }], ok: true },
      { name: 'Lt non-integer label', terms: [{ matchExpressions: [{ key: 'disk', operator: 'Lt', values: ['4'] }] }], ok: false },
      { name: 'Gt absent key', terms: [{ matchExpressions: [{ key: 'x', operator: 'Gt', values: ['1'] }] }], ok: false },
      {
        name: 'terms are ORed',
        terms: [
          { matchExpressions: [{ key: 'disk', operator: 'In', values: ['hdd'] }] },
          { matchExpressions: [{ key: 'gen', operator: 'In', values: ['3'] }] },
        ],
        ok: true,
      },
      {
        name: 'expressions are ANDed',
        terms: [
          {
            matchExpressions: [
              { key: 'disk', operator: 'In', values: ['ssd'] },
              { key: 'gen', operator: 'In', values: ['2'] },
            ],
          },
        ],
        ok: false,
      },
      { name: 'empty term matches nothing', terms: [{}], ok: false },
      { name: 'empty term list matches nothing', terms: [], ok: false },
      { name: 'matchFields metadata.name', terms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }], ok: true },
      {
        name: 'selector and affinity both required',
        sel: { disk: 'hdd' },
        terms: [{ matchExpressions: [{ key: 'disk', operator: 'Exists' }] }],
        ok: false,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const p = pod('p', { ...(c.sel ? { nodeSelector: c.sel } : {}), ...(c.terms ? { requiredNodeAffinity: c.terms } : {}) });
        expect(passesNodeAffinity(p, n)).to.equal(c.ok);
      });
    }
  });

  describe('TaintToleration', () => {
    const cases: { name: string; taint: Taint; tol: Toleration[]; ok: boolean }[] = [
      { name: 'untolerated NoSchedule', taint: { key: 'a', value: '1', effect: 'NoSchedule' }, tol: [], ok: false },
      { name: 'untolerated NoExecute', taint: { key: 'a', effect: 'NoExecute' }, tol: [], ok: false },
      { name: 'PreferNoSchedule is soft', taint: { key: 'a', effect: 'PreferNoSchedule' }, tol: [], ok: true },
      { name: 'Equal match', taint: { key: 'a', value: '1', effect: 'NoSchedule' }, tol: [{ key: 'a', value: '1' }], ok: true },
      { name: 'Equal value mismatch', taint: { key: 'a', value: '1', effect: 'NoSchedule' }, tol: [{ key: 'a', value: '2' }], ok: false },
      { name: 'Exists on key', taint: { key: 'a', value: '1', effect: 'NoSchedule' }, tol: [{ key: 'a', operator: 'Exists' }], ok: true },
      { name: 'Exists without key tolerates all', taint: { key: 'b', effect: 'NoExecute' }, tol: [{ operator: 'Exists' }], ok: true },
      {
        name: 'effect must match',
        taint: { key: 'a', value: '1', effect: 'NoSchedule' },
        tol: [{ key: 'a', value: '1', effect: 'NoExecute' }],
        ok: false,
      },
      { name: 'empty value equals absent value', taint: { key: 'a', effect: 'NoSchedule' }, tol: [{ key: 'a', operator: 'Equal' }], ok: true },
      { name: 'Equal with empty key tolerates nothing', taint: { key: 'a', effect: 'NoSchedule' }, tol: [{ operator: 'Equal' }], ok: false },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(passesTaintToleration(pod('p', { tolerations: c.tol }), { taints: [c.taint] })).to.equal(c.ok);
      });
    }
    it('counts intolerable PreferNoSchedule taints for scoring', () => {
      const taints: Taint[] = [
        { key: 'a', effect: 'PreferNoSchedule' },
        { key: 'b', effect: 'PreferNoSchedule' },
        { key: 'c', effect: 'NoSchedule' },
      ];
      expect(countIntolerablePreferNoSchedule(pod('p', { tolerations: [{ key: 'a', operator: 'Exists' }] }), { taints })).to.equal(1);
    });
    it('toleratesTaint: Exists with key ignores value', () => {
      expect(toleratesTaint({ key: 'k', operator: 'Exists' }, { key: 'k', value: 'v', effect: 'NoSchedule' })).to.equal(true);
    });
    it('NodeUnschedulable: cordoned node needs the unschedulable toleration', () => {
      const n = node('n', 'z', { unschedulable: true });
      expect(passesNodeUnschedulable(pod('p'), n)).to.equal(false);
      expect(passesNodeUnschedulable(pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] }), n)).to.equal(true);
    });
  });

  describe('label selectors', () => {
    const labels = { app: 'web', tier: 'fe' };
    const cases: { name: string; sel: LabelSelector | undefined; ok: boolean }[] = [
      { name: 'absent selector matches nothing', sel: undefined, ok: false },
      { name: 'empty selector matches everything', sel: {}, ok: true },
      { name: 'matchLabels', sel: { matchLabels: { app: 'web' } }, ok: true },
      { name: 'matchLabels miss', sel: { matchLabels: { app: 'db' } }, ok: false },
      { name: 'In', sel: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe', 'be'] }] }, ok: true },
      { name: 'NotIn', sel: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['fe'] }] }, ok: false },
      { name: 'Exists', sel: { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, ok: true },
      { name: 'DoesNotExist', sel: { matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, ok: true },
      {
        name: 'labels AND expressions',
        sel: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['be'] }] },
        ok: false,
      },
    ];
    for (const c of cases) it(c.name, () => expect(matchesLabelSelector(labels, c.sel)).to.equal(c.ok));
  });

  describe('InterPodAffinity (required)', () => {
    const web = (name: string, extra: Partial<SimPod> = {}) => pod(name, { labels: { app: 'web' }, ...extra });
    const antiWebHost: Partial<SimPod> = {
      podAntiAffinity: [{ topologyKey: LABEL_HOSTNAME, labelSelector: { matchLabels: { app: 'web' } } }],
    };
    const affWebZone: Partial<SimPod> = {
      podAffinity: [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: 'web' } } }],
    };
    const a = node('a', 'z1');
    const b = node('b', 'z1');
    const c = node('c', 'z2');

    const cases: { name: string; pod: SimPod; cand: string; cluster: Record<string, SimPod[]>; want: string | undefined }[] = [
      { name: 'anti: empty node ok', pod: web('p', antiWebHost), cand: 'a', cluster: {}, want: undefined },
      { name: 'anti: matching pod on same host', pod: web('p', antiWebHost), cand: 'a', cluster: { a: [web('x')] }, want: 'PodAntiAffinityViolated' },
      { name: 'anti: matching pod on other host', pod: web('p', antiWebHost), cand: 'a', cluster: { b: [web('x')] }, want: undefined },
      {
        name: 'anti: other namespace does not count',
        pod: web('p', antiWebHost),
        cand: 'a',
        cluster: { a: [web('x', { namespace: 'other' })] },
        want: undefined,
      },
      {
        name: 'anti: namespaces list widens the term',
        pod: web('p', {
          podAntiAffinity: [{ topologyKey: LABEL_HOSTNAME, labelSelector: { matchLabels: { app: 'web' } }, namespaces: ['other'] }],
        }),
        cand: 'a',
        cluster: { a: [web('x', { namespace: 'other' })] },
        want: 'PodAntiAffinityViolated',
      },
      {
        name: 'anti: symmetric (existing pod repels incoming)',
        pod: pod('p', { labels: { app: 'web' } }),
        cand: 'a',
        cluster: { a: [pod('x', { labels: { app: 'db' }, ...antiWebHost })] },
        want: 'ExistingPodAntiAffinityViolated',
      },
      {
        name: 'anti zone: same zone other host',
        pod: web('p', { podAntiAffinity: [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: 'web' } } }] }),
        cand: 'a',
        cluster: { b: [web('x')] },
        want: 'PodAntiAffinityViolated',
      },
      { name: 'affinity: first pod matching itself', pod: web('p', affWebZone), cand: 'a', cluster: {}, want: undefined },
      {
        name: 'affinity: first pod not matching itself',
        pod: pod('p', { labels: { app: 'db' }, ...affWebZone }),
        cand: 'a',
        cluster: {},
        want: 'PodAffinityUnsatisfied',
      },
      { name: 'affinity: target in same zone', pod: web('p', affWebZone), cand: 'a', cluster: { b: [web('x')] }, want: undefined },
      {
        name: 'affinity: target only in other zone',
        pod: web('p', affWebZone),
        cand: 'a',
        cluster: { c: [web('x')] },
        want: 'PodAffinityUnsatisfied',
      },
      {
        name: 'affinity: node without topology key',
        pod: web('p', affWebZone),
        cand: 'nozone',
        cluster: {},
        want: 'PodAffinityUnsatisfied',
      },
    ];
    for (const tc of cases) {
      it(tc.name, () => {
        const nodes = [a, b, c, node('nozone', undefined)];
        const snaps = nodes.map((n) => snap(n, tc.cluster[n.name] ?? []));
        const cand = snaps.find((s) => s.node.name === tc.cand);
        expect(cand).to.not.equal(undefined);
        if (!cand) return;
        expect(interPodAffinityFailure(tc.pod, cand, snaps)).to.equal(tc.want);
      });
    }
  });

  describe('PodTopologySpread (DoNotSchedule)', () => {
    const spread = (key: string, maxSkew = 1, minDomains?: number): Partial<SimPod> => ({
      labels: { app: 'web' },
      topologySpreadConstraints: [
        {
          maxSkew,
          topologyKey: key,
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: { app: 'web' } },
          ...(minDomains !== undefined ? { minDomains } : {}),
        },
      ],
    });
    const web = (n: string) => pod(n, { labels: { app: 'web' } });
    const z1a = node('z1a', 'z1');
    const z1b = node('z1b', 'z1');
    const z2a = node('z2a', 'z2');
    const cases: {
      name: string;
      pod: SimPod;
      cand: string;
      cluster: Record<string, SimPod[]>;
      hints?: Map<string, Set<string>>;
      want: string | undefined;
    }[] = [
      { name: 'zone: balanced, any zone', pod: pod('p', spread(LABEL_ZONE)), cand: 'z1a', cluster: {}, want: undefined },
      {
        name: 'zone: would exceed skew',
        pod: pod('p', spread(LABEL_ZONE)),
        cand: 'z1a',
        cluster: { z1b: [web('x')] },
        want: 'TopologySpreadViolated',
      },
      { name: 'zone: the emptier zone is fine', pod: pod('p', spread(LABEL_ZONE)), cand: 'z2a', cluster: { z1b: [web('x')] }, want: undefined },
      {
        name: 'zone: maxSkew 2 allows',
        pod: pod('p', spread(LABEL_ZONE, 2)),
        cand: 'z1a',
        cluster: { z1b: [web('x')] },
        want: undefined,
      },
      {
        name: 'zone: hinted empty zone lowers the minimum',
        pod: pod('p', spread(LABEL_ZONE)),
        cand: 'z1a',
        cluster: { z1b: [web('x')], z2a: [web('y')] },
        hints: new Map([[LABEL_ZONE, new Set(['z3'])]]),
        want: 'TopologySpreadViolated',
      },
      {
        name: 'zone: without the hint it is balanced',
        pod: pod('p', spread(LABEL_ZONE)),
        cand: 'z1a',
        cluster: { z1b: [web('x')], z2a: [web('y')] },
        want: undefined,
      },
      {
        name: 'hostname: fresh-node hint keeps min at 0',
        pod: pod('p', spread(LABEL_HOSTNAME)),
        cand: 'z1a',
        cluster: { z1a: [web('x')], z1b: [web('y')], z2a: [web('z')] },
        hints: new Map([[LABEL_HOSTNAME, new Set([FRESH_DOMAIN])]]),
        want: 'TopologySpreadViolated',
      },
      {
        name: 'hostname: all nodes at 1 without hint: ok',
        pod: pod('p', spread(LABEL_HOSTNAME)),
        cand: 'z1a',
        cluster: { z1a: [web('x')], z1b: [web('y')], z2a: [web('z')], nozone: [web('w')] },
        want: undefined,
      },
      {
        name: 'minDomains above domain count forces min 0',
        pod: pod('p', spread(LABEL_ZONE, 1, 3)),
        cand: 'z2a',
        cluster: { z1a: [web('x')], z2a: [web('y')] },
        want: 'TopologySpreadViolated',
      },
      {
        name: 'node lacking the topology key is rejected',
        pod: pod('p', spread(LABEL_ZONE)),
        cand: 'nozone',
        cluster: {},
        want: 'TopologySpreadViolated',
      },
      {
        name: 'non-matching pods do not count',
        pod: pod('p', spread(LABEL_ZONE)),
        cand: 'z1a',
        cluster: { z1b: [pod('x', { labels: { app: 'db' } })] },
        want: undefined,
      },
      {
        name: 'nodes outside the pod node affinity are not domains',
        pod: pod('p', { ...spread(LABEL_ZONE), nodeSelector: { [LABEL_ZONE]: 'z1' } }),
        cand: 'z1a',
        cluster: { z1b: [web('x')] },
        want: undefined,
      },
    ];
    for (const tc of cases) {
      it(tc.name, () => {
        const snaps = [z1a, z1b, z2a, node('nozone', undefined)].map((n) => snap(n, tc.cluster[n.name] ?? []));
        const cand = snaps.find((s) => s.node.name === tc.cand);
        if (!cand) throw new Error('bad case');
        expect(topologySpreadFailure(tc.pod, cand, snaps, tc.hints)).to.equal(tc.want);
      });
    }
    it('ScheduleAnyway constraints are ignored', () => {
      const p = pod('p', {
        labels: { app: 'web' },
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } },
        ],
      });
      const snaps = [snap(z1a), snap(z1b, [web('x')]), snap(z2a)];
      expect(topologySpreadFailure(p, snaps[0] as ReturnType<typeof snap>, snaps)).to.equal(undefined);
    });
  });

  describe('filterNode (plugin order)', () => {
    it('reports the first failing plugin', () => {
      const n = node('n', 'z', { taints: [{ key: 'k', effect: 'NoSchedule' }], allocatable: res(100, Gi, 110) });
      expect(filterNode(pod('p', { nodeSelector: { x: 'y' } }), snap(n), [])).to.equal('NodeAffinityMismatch');
      expect(filterNode(pod('p'), snap(n), [])).to.equal('TaintNotTolerated');
      expect(filterNode(pod('p', { tolerations: [{ operator: 'Exists' }], requests: res(200, 0) }), snap(n), [])).to.equal('InsufficientResources');
      expect(filterNode(pod('p', { tolerations: [{ operator: 'Exists' }], requests: res(100, 0) }), snap(n), [])).to.equal(undefined);
    });
    it('counts extraRequested (DaemonSet overhead)', () => {
      const n = node('n', 'z', { allocatable: res(1000, Gi, 110) });
      const s = { node: n, pods: [], extraRequested: res(600, 0, 1) };
      expect(filterNode(pod('p', { requests: res(500, 0) }), s, [])).to.equal('InsufficientResources');
      expect(filterNode(pod('p', { requests: res(400, 0) }), s, [])).to.equal(undefined);
    });
  });
});
