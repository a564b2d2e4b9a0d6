import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';

import { nodeFromK8s, podFromK8s, podRequests } from '../../../../decision/scheduling/from-k8s';
import { LABEL_ZONE } from '../../../../decision/scheduling/types';

const Mi = 1024 * 1024;

describe('scheduling/from-k8s', () => {
  it('computes effective pod requests (containers, init max, sidecars, overhead)', () => {
    const pod: V1Pod = {
      metadata: { name: 'p', namespace: 'ns' },
      spec: {
        containers: [
          { name: 'a', resources: { requests: { cpu: '100m', memory: '128Mi' } } },
          { name: 'b', resources: { limits: { cpu: '200m', memory: '64Mi' } } }, // requests default to limits
        ],
        initContainers: [
          { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '50m', memory: '32Mi' } } },
          { name: 'init', resources: { requests: { cpu: '1', memory: '16Mi' } } },
        ],
        overhead: { cpu: '10m', memory: '1Mi' },
      },
    };
    // sum = 300m + 50m (sidecar) = 350m; init = 1000m + 50m = 1050m -> max 1050m; + 10m overhead.
    // memory: 192Mi + 32Mi = 224Mi vs 16Mi + 32Mi -> 224Mi; + 1Mi.
    expect(podRequests(pod)).to.deep.equal({ cpuMilli: 1060, memoryBytes: 225 * Mi, pods: 1, ephemeralStorageBytes: 0 });
  });

  it('converts scheduling constraints and owner kind', () => {
    const pod: V1Pod = {
      metadata: {
        name: 'web-1',
        namespace: 'shop',
        uid: 'u1',
        labels: { app: 'web', 'pod-template-hash': 'abc' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs', controller: true }],
      },
      spec: {
        containers: [{ name: 'c', resources: { requests: { cpu: '1.5', memory: '1G', 'ephemeral-storage': '1Gi' } } }],
        nodeSelector: { disk: 'ssd' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }, { operator: 'Exists' }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['2'] }] }],
            },
          },
          podAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: 'db' } }, namespaces: ['data'] }],
          },
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } }, namespaceSelector: {} },
            ],
          },
        },
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: LABEL_ZONE,
            whenUnsatisfiable: 'DoNotSchedule',
            labelSelector: { matchLabels: { app: 'web' } },
            matchLabelKeys: ['pod-template-hash'],
            minDomains: 3,
          },
        ],
      },
    };
    const p = podFromK8s(pod);
    expect(p.requests).to.deep.equal({ cpuMilli: 1500, memoryBytes: 1e9, pods: 1, ephemeralStorageBytes: 1024 ** 3 });
    expect(p.nodeSelector).to.deep.equal({ disk: 'ssd' });
    expect(p.requiredNodeAffinity).to.deep.equal([{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['2'] }] }]);
    expect(p.tolerations).to.deep.equal([{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }, { operator: 'Exists' }]);
    expect(p.podAffinity).to.deep.equal([{ topologyKey: LABEL_ZONE, labelSelector: { matchLabels: { app: 'db' } }, namespaces: ['data'] }]);
    expect(p.podAntiAffinity?.[0]?.allNamespaces).to.equal(true);
    expect(p.topologySpreadConstraints).to.deep.equal([
      {
        maxSkew: 1,
        topologyKey: LABEL_ZONE,
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: {
          matchLabels: { app: 'web' },
          matchExpressions: [{ key: 'pod-template-hash', operator: 'In', values: ['abc'] }],
        },
        minDomains: 3,
      },
    ]);
    expect(p.ownerKind).to.equal('ReplicaSet');
    expect(p.namespace).to.equal('shop');
  });

  it('maps unknown operators to never-matching requirements', () => {
    const p = podFromK8s({
      metadata: { name: 'p' },
      spec: {
        containers: [],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'Bogus' }] }],
            },
          },
        },
      },
    });
    expect(p.requiredNodeAffinity).to.deep.equal([{ matchExpressions: [{ key: 'k', operator: 'In', values: [] }] }]);
    expect(p.namespace).to.equal('default');
  });

  it('converts nodes: allocatable over capacity, taints, unschedulable', () => {
    const n: V1Node = {
      metadata: { name: 'n1', labels: { [LABEL_ZONE]: 'z1' } },
      spec: {
        unschedulable: true,
        taints: [
          { key: 'gpu', value: 'true', effect: 'NoSchedule' },
          { key: 'weird', effect: 'Unknown' },
        ],
      },
      status: {
        capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
        allocatable: { cpu: '3920m', memory: '7Gi' },
      },
    };
    expect(nodeFromK8s(n)).to.deep.equal({
      name: 'n1',
      labels: { [LABEL_ZONE]: 'z1' },
      allocatable: { cpuMilli: 3920, memoryBytes: 7 * 1024 ** 3, pods: 110, ephemeralStorageBytes: 100 * 1024 ** 3 },
      taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }],
      unschedulable: true,
    });
  });
});
