/**
 * The pod sizing MutatingAdmissionPolicy (k8s/admission/optipod-pod-sizing.yaml) on the sandbox's
 * real kube-apiserver (issue #15): with the namespace's `optipod-pod-sizing` ConfigMap written as
 * lib/crds/optipod/pod-sizing.ts builds it, the pods that the Deployment, StatefulSet and DaemonSet
 * controllers create come up with the recommended requests (and limits, where the ConfigMap has
 * them), merged by container name:
 * - a container without an entry, and a plain init container, are left alone; a native sidecar
 *   (init container with restartPolicy: Always) is sized;
 * - a request above the container's limit is not set, and the pod is still admitted;
 * - a malformed or negative value is ignored (that key only), and the pod is still admitted;
 * - without a ConfigMap in the namespace, or for a workload that is not in it, or for a pod whose
 *   controller is not one of those workloads, pods are unchanged.
 *
 * The orchestrator does not run in this test at all: the ConfigMap is written by the test and the
 * policy runs inside the apiserver, so pod admission never depends on the orchestrator (and with
 * failurePolicy Ignore it fails open). Pods are pinned to a kwok node of this test; they need not
 * run, admission is what is looked at.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { cpuMillis, memoryBytes } from '../../../lib/crds/optipod';
import { POD_SIZING_CONFIGMAP, POD_SIZING_LABELS, buildPodSizingData, podSizingKey } from '../../../lib/crds/optipod/pod-sizing';
import { createKwokNode, sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';
import { eventually as poll } from '../../support/eventually';

const MiB = 2 ** 20;
const IMAGE = 'registry.k8s.io/pause:3.9';

const eventually = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 500): Promise<T> => poll(what, fn, timeoutMs, everyMs);

type Resources = k8s.V1ResourceRequirements;
/** Requests and limits as numbers (millicores, bytes), so "0.5" and "500m" compare equal. */
function amounts(r: Resources | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [side, list] of [
    ['requests', r?.requests],
    ['limits', r?.limits],
  ] as const)
    for (const [res, q] of Object.entries(list ?? {})) out[`${side}.${res}`] = res === 'cpu' ? cpuMillis(String(q))! : memoryBytes(String(q))!;
  return out;
}

describe('pod sizing at admission (MutatingAdmissionPolicy, no orchestrator)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let apps: k8s.AppsV1Api;
  let node: string;
  let ns: string;
  let bare: string;

  const container = (name: string, resources: Resources = {}, extra: Partial<k8s.V1Container> = {}): k8s.V1Container => ({
    name,
    image: IMAGE,
    resources,
    ...extra,
  });
  const podSpec = (containers: k8s.V1Container[], initContainers: k8s.V1Container[] = []): k8s.V1PodSpec => ({
    nodeName: node,
    terminationGracePeriodSeconds: 0,
    containers,
    ...(initContainers.length > 0 ? { initContainers } : {}),
  });
  const template = (app: string, spec: k8s.V1PodSpec): k8s.V1PodTemplateSpec => ({ metadata: { labels: { app } }, spec });
  const selector = (app: string) => ({ matchLabels: { app } });

  /** The first pod of `app` in `namespace` (created by its controller). */
  const podOf = (namespace: string, app: string): Promise<k8s.V1Pod> =>
    eventually(`a pod of ${namespace}/${app}`, async () => (await sb.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items[0]);
  const byName = (pod: k8s.V1Pod, init = false): Record<string, Record<string, number>> =>
    Object.fromEntries(((init ? pod.spec?.initContainers : pod.spec?.containers) ?? []).map((c) => [c.name, amounts(c.resources)]));

  // The web Deployment's template: also created, unchanged, where no entry applies.
  const webSpec = () =>
    podSpec(
      [container('app', { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } }), container('extra', { requests: { cpu: '50m' } })],
      [container('init', { requests: { cpu: '10m' } }), container('proxy', { requests: { cpu: '100m', memory: '64Mi' } }, { restartPolicy: 'Always' })],
    );

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    node = await createKwokNode(sb, 'sizing-node', { cpu: '64', memory: '128Gi' });
    ns = await sb.namespace('sizing');
    bare = await sb.namespace('sizing-bare');

    const { data, notStorable } = buildPodSizingData([
      {
        kind: 'Deployment',
        name: 'web',
        containers: [
          { name: 'app', cpu: 250, memory: 300 * MiB },
          { name: 'init', cpu: 20 },
          { name: 'proxy', cpu: 30, memory: 32 * MiB },
        ],
      },
      {
        kind: 'StatefulSet',
        name: 'db',
        containers: [
          { name: 'app', cpu: 500 },
          { name: 'b', memory: 128 * MiB },
        ],
      },
      {
        kind: 'DaemonSet',
        name: 'agent',
        containers: [
          { name: 'app', cpu: 150, memory: 100 * MiB, cpuLimit: 300, memoryLimit: 200 * MiB },
          { name: 'capped', cpu: 2000, cpuLimit: 1000 },
        ],
      },
    ]);
    expect(notStorable).to.deep.equal([]);
    await sb.core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: { name: POD_SIZING_CONFIGMAP, namespace: ns, labels: { ...POD_SIZING_LABELS } },
        data: {
          ...data,
          // not the builder's: malformed and negative values, ignored by the policy
          [podSizingKey('StatefulSet', 'db', 'app', 'memory')]: 'lots',
          [podSizingKey('StatefulSet', 'db', 'b', 'cpu')]: '-100m',
          // a probe StatefulSet that does not exist: shows when the policy sees this ConfigMap
          [podSizingKey('StatefulSet', 'sizing-probe', 'probe', 'cpu')]: '7m',
        },
      },
    });
    // The apiserver reads parameters through an informer: wait until a dry-run pod shows it
    // has this ConfigMap, so the controllers' pods below are admitted with it.
    await eventually('the policy to see the ConfigMap', async () => {
      const pod = await sb.core.createNamespacedPod({
        namespace: ns,
        dryRun: 'All',
        body: {
          metadata: {
            name: 'sizing-probe-0',
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'sizing-probe', uid: '00000000-0000-0000-0000-000000000001', controller: true },
            ],
          },
          spec: { containers: [container('probe')] },
        },
      });
      return pod.spec?.containers[0]?.resources?.requests?.cpu === '7m' ? true : undefined;
    });

    await apps.createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { replicas: 1, selector: selector('web'), template: template('web', webSpec()) } },
    });
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'db' },
        spec: {
          replicas: 1,
          serviceName: 'db',
          selector: selector('db'),
          template: template(
            'db',
            podSpec([container('app', { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '200m' } }), container('b', { requests: { cpu: '10m' } })]),
          ),
        },
      },
    });
    await apps.createNamespacedDaemonSet({
      namespace: ns,
      body: {
        metadata: { name: 'agent' },
        spec: {
          selector: selector('agent'),
          template: {
            metadata: { labels: { app: 'agent' } },
            spec: {
              // only this test's node (the DaemonSet controller places the pod itself)
              nodeSelector: { 'kubernetes.io/hostname': node },
              terminationGracePeriodSeconds: 0,
              containers: [
                container('app', { requests: { cpu: '50m', memory: '50Mi' }, limits: { cpu: '100m', memory: '100Mi' } }),
                container('capped', { requests: { cpu: '100m' }, limits: { cpu: '500m' } }),
              ],
            },
          },
        },
      },
    });
    // not in the ConfigMap
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'other' }, spec: { replicas: 1, selector: selector('other'), template: template('other', webSpec()) } },
    });
    // the same Deployment in a namespace without a ConfigMap
    await apps.createNamespacedDeployment({
      namespace: bare,
      body: { metadata: { name: 'web' }, spec: { replicas: 1, selector: selector('web'), template: template('web', webSpec()) } },
    });
  });

  after(async () => {
    await sb?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  const unchangedWeb = {
    containers: { app: { 'requests.cpu': 1000, 'requests.memory': 1024 * MiB, 'limits.memory': 2048 * MiB }, extra: { 'requests.cpu': 50 } },
    init: { init: { 'requests.cpu': 10 }, proxy: { 'requests.cpu': 100, 'requests.memory': 64 * MiB } },
  };

  it("a Deployment's pods get the recommended requests, limits unchanged; a container without an entry and a plain init container are left alone, a native sidecar is sized", async () => {
    const pod = await podOf(ns, 'web');
    expect(byName(pod)).to.deep.equal({
      app: { 'requests.cpu': 250, 'requests.memory': 300 * MiB, 'limits.memory': 2048 * MiB },
      extra: unchangedWeb.containers.extra,
    });
    expect(byName(pod, true)).to.deep.equal({
      init: unchangedWeb.init.init,
      proxy: { 'requests.cpu': 30, 'requests.memory': 32 * MiB },
    });
    // merged by name: order and everything else kept
    expect(pod.spec!.containers.map((c) => c.name)).to.deep.equal(['app', 'extra']);
    expect(pod.spec!.initContainers!.map((c) => [c.name, c.restartPolicy ?? null])).to.deep.equal([
      ['init', null],
      ['proxy', 'Always'],
    ]);
  });

  it("a StatefulSet's pod: a request above the limit is not set, a malformed or negative value is ignored, the rest applies, and the pod is admitted", async () => {
    const pod = await podOf(ns, 'db');
    expect(byName(pod)).to.deep.equal({
      app: { 'requests.cpu': 100, 'requests.memory': 256 * MiB, 'limits.cpu': 200 },
      b: { 'requests.cpu': 10, 'requests.memory': 128 * MiB },
    });
  });

  it("a DaemonSet's pod gets requests and limits; with a new limit below the new request, only the limit is set", async () => {
    const pod = await podOf(ns, 'agent');
    expect(byName(pod)).to.deep.equal({
      app: { 'requests.cpu': 150, 'requests.memory': 100 * MiB, 'limits.cpu': 300, 'limits.memory': 200 * MiB },
      capped: { 'requests.cpu': 100, 'limits.cpu': 1000 },
    });
  });

  it('a workload not in the ConfigMap, and a namespace without one: pods unchanged', async () => {
    for (const pod of [await podOf(ns, 'other'), await podOf(bare, 'web')]) {
      expect(byName(pod)).to.deep.equal(unchangedWeb.containers);
      expect(byName(pod, true)).to.deep.equal(unchangedWeb.init);
    }
  });

  it('pods whose controller is not such a workload are unchanged: no owner, a ReplicaSet without the hash, another API group', async () => {
    const owner = (apiVersion: string, kind: string, name: string): k8s.V1OwnerReference[] => [
      { apiVersion, kind, name, uid: '00000000-0000-0000-0000-000000000002', controller: true },
    ];
    const cases: { what: string; metadata: k8s.V1ObjectMeta }[] = [
      { what: 'no owner', metadata: { name: uniqueName('web') } },
      {
        what: 'a ReplicaSet named web-x without a pod-template-hash',
        metadata: { name: uniqueName('web'), ownerReferences: owner('apps/v1', 'ReplicaSet', 'web-x') },
      },
      {
        what: 'a ReplicaSet whose name does not end with the hash',
        metadata: { name: uniqueName('web'), labels: { 'pod-template-hash': 'y' }, ownerReferences: owner('apps/v1', 'ReplicaSet', 'web-x') },
      },
      { what: 'a StatefulSet of another API group', metadata: { name: 'db-1', ownerReferences: owner('apps.kruise.io/v1beta1', 'StatefulSet', 'db') } },
      { what: 'not the controller', metadata: { name: 'db-2', ownerReferences: [{ ...owner('apps/v1', 'StatefulSet', 'db')[0]!, controller: false }] } },
    ];
    for (const c of cases) {
      const pod = await sb.core.createNamespacedPod({
        namespace: ns,
        dryRun: 'All',
        body: { metadata: c.metadata, spec: podSpec([container('app', { requests: { cpu: '100m' } }), container('b')]) },
      });
      expect(byName(pod), c.what).to.deep.equal({ app: { 'requests.cpu': 100 }, b: {} });
    }
    // the positive control: the same pod as the StatefulSet's is sized
    const sized = await sb.core.createNamespacedPod({
      namespace: ns,
      dryRun: 'All',
      body: {
        metadata: { name: 'db-3', ownerReferences: owner('apps/v1', 'StatefulSet', 'db') },
        spec: podSpec([container('app', { requests: { cpu: '100m' } }), container('b')]),
      },
    });
    expect(byName(sized)).to.deep.equal({ app: { 'requests.cpu': 500 }, b: { 'requests.memory': 128 * MiB } });
  });

  it('a Deployment pod is found through its ReplicaSet and pod-template-hash', async () => {
    const pod = await podOf(ns, 'web');
    const ref = pod.metadata!.ownerReferences!.find((r) => r.controller)!;
    expect(ref.kind).to.equal('ReplicaSet');
    expect(ref.name).to.equal(`web-${pod.metadata!.labels!['pod-template-hash']}`);
  });
});
