/**
 * A generated large cluster as the Kubernetes API returns it (V1Node / V1Pod / V1PodDisruptionBudget
 * with the metadata real objects carry: managedFields, last-applied-configuration, many labels and
 * annotations), deterministic (no randomness), for the scale-down payload-size tests.
 */
import type { V1ManagedFieldsEntry, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { ScaleDownGroup } from '../../../../../decision/nodes/scale-down/types';
import { NODEGROUP_LABEL } from '../../../../../lib/crds/autoscaler/constants';
import { spec } from './fixtures';

const T0 = '2025-06-04T10:00:00Z';

function managedFields(manager: string, n: number): V1ManagedFieldsEntry[] {
  const out: V1ManagedFieldsEntry[] = [];
  for (let i = 0; i < n; i++) {
    const fields: Record<string, unknown> = {};
    for (let k = 0; k < 12; k++) fields[`f:field-${i}-${k}`] = { '.': {}, 'f:type': {}, 'f:status': {}, 'f:lastTransitionTime': {} };
    out.push({ manager: `${manager}-${i}`, operation: 'Update', apiVersion: 'v1', time: new Date(T0), fieldsType: 'FieldsV1', fieldsV1: fields });
  }
  return out;
}

function lastApplied(kind: string, name: string, size: number): string {
  return JSON.stringify({ apiVersion: 'v1', kind, metadata: { name, annotations: { note: 'x'.repeat(size) } } });
}

export function largeNode(i: number, groupName: string): V1Node {
  const name = `node-${String(i).padStart(4, '0')}`;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(100000 + i),
      creationTimestamp: new Date(T0),
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'standard-4-8',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
        'topology.kubernetes.io/region': 'region-1',
        [NODEGROUP_LABEL]: groupName,
        'team.example.com/owner': `team-${i % 7}`,
        'cost-center.example.com/id': `cc-${i % 11}`,
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'csi.volume.kubernetes.io/nodeid': JSON.stringify({ 'csi.example.com': `vol-${i}`, 'ebs.csi.example.com': `i-${i}` }),
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
        'projectcalico.org/IPv4Address': `10.${(i >> 8) & 255}.${i & 255}.1/16`,
        'projectcalico.org/IPv4IPIPTunnelAddr': `192.168.${i & 255}.0`,
        'kubectl.kubernetes.io/last-applied-configuration': lastApplied('Node', name, 1500),
      },
      managedFields: managedFields('kubelet', 4),
    },
    spec: { providerID: `vpsie://${i}`, podCIDR: `10.244.${i & 255}.0/24` },
    status: {
      capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastTransitionTime: new Date(T0) },
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
        { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
        { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
      ],
      addresses: [
        { type: 'InternalIP', address: `10.0.${(i >> 8) & 255}.${i & 255}` },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        machineID: 'm'.repeat(32),
        systemUUID: 's'.repeat(36),
        bootID: 'b'.repeat(36),
        kernelVersion: '6.8.0',
        osImage: 'Ubuntu 24.04 LTS',
        containerRuntimeVersion: 'containerd://2.0.0',
        kubeletVersion: 'v1.36.3',
        kubeProxyVersion: 'v1.36.3',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images: Array.from({ length: 20 }, (_, k) => ({ names: [`registry.example.com/app-${k}@sha256:${'a'.repeat(64)}`], sizeBytes: 100_000_000 + k })),
    },
  };
}

/**
 * Pod `j` of node `i`. Nodes whose index is a multiple of 25 are nearly idle (scale-down candidates);
 * a few pods are unreplicated, carry local storage or an opt-out annotation, so the decision has
 * blockers to report.
 */
export function largePod(i: number, j: number, nodeName: string): V1Pod {
  const app = `app-${(i * 31 + j) % 200}`;
  const name = `${app}-${String(i).padStart(4, '0')}-${String(j).padStart(2, '0')}-7d9f8c6b5d`;
  const ns = `ns-${(i + j) % 20}`;
  const idle = i % 25 === 0;
  const cpu = idle ? '10m' : '100m';
  const mem = idle ? '16Mi' : '200Mi';
  const annotations: Record<string, string> = {
    'kubectl.kubernetes.io/last-applied-configuration': lastApplied('Pod', name, 1200),
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '9090',
    'checksum/config': 'c'.repeat(64),
    'kubectl.kubernetes.io/restartedAt': T0,
  };
  if (j === 1 && i % 50 === 0) annotations['karpenter.sh/do-not-disrupt'] = 'true';
  if (j === 2 && i % 100 === 0) annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'] = 'false';
  const unreplicated = j === 3 && i % 75 === 0;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      uid: `11111111-0000-4000-8000-${String(i * 100 + j).padStart(12, '0')}`,
      resourceVersion: String(200000 + i * 100 + j),
      creationTimestamp: new Date(T0),
      generateName: `${app}-7d9f8c6b5d-`,
      labels: {
        app,
        'app.kubernetes.io/name': app,
        'app.kubernetes.io/part-of': `suite-${i % 9}`,
        'pod-template-hash': '7d9f8c6b5d',
        tier: j % 2 ? 'web' : 'worker',
      },
      annotations,
      ...(unreplicated
        ? {}
        : {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-7d9f8c6b5d`, uid: `rs-${app}`, controller: true, blockOwnerDeletion: true },
            ],
          }),
      managedFields: managedFields('kube-controller-manager', 3),
    },
    spec: {
      nodeName,
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      containers: [
        {
          name: 'main',
          image: `registry.example.com/${app}:1.2.3`,
          resources: { requests: { cpu, memory: mem }, limits: { memory: '512Mi' } },
          env: Array.from({ length: 8 }, (_, k) => ({ name: `ENV_${k}`, value: `value-${k}` })),
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
        },
      ],
      volumes: [
        { name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } },
        ...(j === 4 && i % 125 === 0 ? [{ name: 'scratch', emptyDir: {} }] : []),
      ],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
    status: {
      phase: 'Running',
      podIP: `10.244.${i & 255}.${j + 2}`,
      hostIP: `10.0.${(i >> 8) & 255}.${i & 255}`,
      startTime: new Date(T0),
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: new Date(T0) },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: new Date(T0) },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date(T0) },
      ],
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 0,
          image: `registry.example.com/${app}:1.2.3`,
          imageID: `registry.example.com/${app}@sha256:${'d'.repeat(64)}`,
          containerID: `containerd://${'e'.repeat(64)}`,
          state: { running: { startedAt: new Date(T0) } },
        },
      ],
    },
  };
}

export interface LargeCluster {
  nodes: V1Node[];
  pods: V1Pod[];
  pdbs: V1PodDisruptionBudget[];
  groups: ScaleDownGroup[];
}

/** `nodeCount` nodes in groups of 100, `podsPerNode` pods each, one PDB per 10 apps. */
export function largeCluster(nodeCount = 1000, podsPerNode = 30): LargeCluster {
  const nodes: V1Node[] = [];
  const pods: V1Pod[] = [];
  const groupCount = Math.ceil(nodeCount / 100);
  for (let i = 0; i < nodeCount; i++) {
    const n = largeNode(i, `group-${i % groupCount}`);
    nodes.push(n);
    for (let j = 0; j < podsPerNode; j++) pods.push(largePod(i, j, n.metadata?.name ?? ''));
  }
  const pdbs: V1PodDisruptionBudget[] = Array.from({ length: 20 }, (_, k) => ({
    metadata: { name: `pdb-app-${k * 10}`, namespace: `ns-${k}`, generation: 1 },
    spec: { maxUnavailable: 1, selector: { matchLabels: { app: `app-${k * 10}` } } },
    status: { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 10, desiredHealthy: 9, expectedPods: 10 },
  }));
  const groups: ScaleDownGroup[] = Array.from({ length: groupCount }, (_, k) => ({
    name: `group-${k}`,
    namespace: 'kube-system',
    currentNodes: Math.ceil(nodeCount / groupCount),
    spec: spec({ minNodes: 1, maxNodes: 200, disruptionBudget: { maxUnavailable: 3 } }),
  }));
  return { nodes, pods, pdbs, groups };
}
