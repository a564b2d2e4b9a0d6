/**
 * The pod cache keeps pods trimmed (#13, #19): whatever is dropped, the scheduling simulation and
 * the snapshot read the same pod from the trimmed form as from the whole object.
 */
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import fc from 'fast-check';
import { trimPod } from '../../../../lib/kube/pod-cache';
import { podFromK8s } from '../../../../decision/scheduling/from-k8s';
import { isUnschedulablePending } from '../../../../decision/nodes/scale-up/snapshot';

const quantity = fc.constantFrom('100m', '250m', '1', '2', '64Mi', '512Mi', '1Gi');
const resources = fc.record(
  {
    requests: fc.dictionary(fc.constantFrom('cpu', 'memory', 'ephemeral-storage'), quantity),
    limits: fc.dictionary(fc.constantFrom('cpu', 'memory'), quantity),
  },
  { requiredKeys: [] },
);
const container = (i: number) =>
  fc.record(
    {
      name: fc.constant(`c${i}`),
      image: fc.constant('registry.k8s.io/pause:3.10'),
      env: fc.array(fc.record({ name: fc.constant('A'), value: fc.string() }), { maxLength: 3 }),
      command: fc.array(fc.string(), { maxLength: 2 }),
      resources,
      restartPolicy: fc.constantFrom(undefined, 'Always'),
      volumeMounts: fc.constant([{ name: 'data', mountPath: '/data' }]),
      ports: fc.constantFrom(
        [{ containerPort: 80 }],
        [{ containerPort: 8080, hostPort: 8080, protocol: 'TCP' }],
        [
          { containerPort: 53, hostPort: 53, protocol: 'UDP', hostIP: '127.0.0.1' },
          { containerPort: 9090, name: 'metrics' },
        ],
      ),
    },
    { requiredKeys: ['name', 'image'] },
  );
const pod: fc.Arbitrary<k8s.V1Pod> = fc
  .record({
    containers: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 }).chain((ix) => fc.tuple(...ix.map((_, i) => container(i)))),
    init: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 2 }).chain((ix) => fc.tuple(...ix.map((_, i) => container(i + 10)))),
    nodeName: fc.constantFrom(undefined, 'node-a'),
    nodeSelector: fc.constantFrom(undefined, { pool: 'a' }),
    tolerations: fc.constantFrom(undefined, [{ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' }]),
    antiAffinity: fc.boolean(),
    spread: fc.boolean(),
    overhead: fc.constantFrom(undefined, { cpu: '50m', memory: '32Mi' }),
    podLevel: fc.constantFrom(undefined, { requests: { cpu: '1500m' } }),
    phase: fc.constantFrom('Pending', 'Running'),
    unschedulable: fc.boolean(),
    deleting: fc.boolean(),
    claims: fc.constantFrom(
      [],
      [{ name: 'pv', persistentVolumeClaim: { claimName: 'data', readOnly: true } }],
      [{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } }],
    ),
  })
  .map((r) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u1',
      generateName: 'p-',
      resourceVersion: '7',
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"object"}' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'rs', controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update' }],
      ...(r.deleting ? { deletionTimestamp: new Date(0) } : {}),
    },
    spec: {
      containers: r.containers,
      ...(r.init.length > 0 ? { initContainers: r.init } : {}),
      ...(r.nodeName ? { nodeName: r.nodeName } : {}),
      ...(r.nodeSelector ? { nodeSelector: r.nodeSelector } : {}),
      ...(r.tolerations ? { tolerations: r.tolerations } : {}),
      ...(r.antiAffinity
        ? {
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } }],
              },
            },
          }
        : {}),
      ...(r.spread
        ? {
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } },
            ],
          }
        : {}),
      ...(r.overhead ? { overhead: r.overhead } : {}),
      ...(r.podLevel ? { resources: r.podLevel } : {}),
      volumes: [{ name: 'data', emptyDir: {} }, ...r.claims],
    },
    status: {
      phase: r.phase,
      conditions: r.unschedulable
        ? [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' }]
        : [],
      containerStatuses: [{ name: 'c0', image: 'x', imageID: 'y', ready: true, restartCount: 0 }],
      podIPs: [{ ip: '10.0.0.1' }],
    },
  })) as fc.Arbitrary<k8s.V1Pod>;

describe('pod cache: trimmed pods', () => {
  it('the simulation reads the same pod from the trimmed form (property)', () => {
    fc.assert(
      fc.property(pod, (p) => {
        const whole = structuredClone(p);
        trimPod(p);
        expect(podFromK8s(p)).to.deep.equal(podFromK8s(whole));
        // Host ports and the claims of bound PersistentVolumes survive the trim.
        const pinned = { name: 'pv', nodeAffinity: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: ['node-a'] }] }] };
        expect(podFromK8s(p, () => pinned)).to.deep.equal(podFromK8s(whole, () => pinned));
        expect(isUnschedulablePending(p)).to.equal(isUnschedulablePending(whole));
        expect(p.metadata?.resourceVersion).to.equal(whole.metadata?.resourceVersion);
      }),
      { numRuns: 300 },
    );
  });

  it('drops managed fields, annotations, env, images, volumes other than claims and container statuses', () => {
    const p = fc.sample(pod, { numRuns: 1, seed: 7 })[0]!;
    const before = JSON.stringify(p).length;
    trimPod(p);
    const text = JSON.stringify(p);
    for (const gone of ['managedFields', 'last-applied', '"env"', '"image"', 'emptyDir', 'containerStatuses', 'podIPs', 'volumeMounts'])
      expect(text).to.not.include(gone);
    expect(text.length).to.be.lessThan(before);
  });
});
