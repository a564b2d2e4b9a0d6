/**
 * How a booted simulated machine becomes a Kubernetes Node, the way kubelet + the VPSie
 * cloud-controller-manager would make it: name = VPS hostname, providerID `vpsie://<identifier>`,
 * capacity from the plan, kubelet-style labels and taints, and the kwok annotation so the kwok
 * fake kubelet keeps it Ready. The cluster is reached through the small `NodeJoiner` interface.
 */
import type { V1Node } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { JOIN_CONFIG_PATH, JoinConfigSchema, type JoinConfig, type Taint } from '../../clients/vpsie/schemas';

export interface NodeJoiner {
  /** Creates (or confirms) the Node. Must be idempotent. */
  join(node: V1Node): Promise<void>;
  /** Deletes the Node; absent is success. */
  leave(name: string): Promise<void>;
}

export interface NodeSpecInput {
  hostname: string;
  identifier: string;
  cpu: number;
  /** MB */
  ramMb: number;
  /** GB */
  ssdGb: number;
  privateIp: string;
  publicIp?: string;
  instanceType: string;
  region: string;
  labels: Record<string, string>;
  taints: Taint[];
  /** The version the machine joins with (join configuration / managed cluster); default v1.31.0. */
  kubernetesVersion?: string;
}

/** A version as kubelet reports it: `v` prefix, patch level (1.30 → v1.30.0). */
export function kubeletVersionOf(version: string | undefined): string {
  if (version === undefined) return 'v1.31.0';
  const v = version.startsWith('v') ? version.slice(1) : version;
  return `v${v.split('.').length === 2 ? `${v}.0` : v}`;
}

export const KWOK_ANNOTATION = 'kwok.x-k8s.io/node';

/** Lowercases and replaces characters a Node name may not hold. */
export function nodeNameFor(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 253);
}

/** The Node object a kubelet would register for this machine (status included, as kubelet does). */
export function buildNode(s: NodeSpecInput): V1Node {
  const name = nodeNameFor(s.hostname);
  const memKi = s.ramMb * 1024;
  const storageKi = s.ssdGb * 1024 * 1024;
  const capacity = {
    cpu: String(s.cpu),
    memory: `${memKi}Ki`,
    pods: '110',
    'ephemeral-storage': `${storageKi}Ki`,
  };
  // kubelet defaults: hard eviction memory.available<100Mi, nodefs.available<10%.
  const allocatable = {
    cpu: String(s.cpu),
    memory: `${Math.max(0, memKi - 100 * 1024)}Ki`,
    pods: '110',
    'ephemeral-storage': `${Math.floor(storageKi * 0.9)}Ki`,
  };
  const addresses = [{ type: 'InternalIP', address: s.privateIp }];
  if (s.publicIp) addresses.push({ type: 'ExternalIP', address: s.publicIp });
  addresses.push({ type: 'Hostname', address: name });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': s.instanceType,
        'topology.kubernetes.io/region': s.region,
        ...s.labels,
      },
      annotations: { [KWOK_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: {
      providerID: `vpsie://${s.identifier}`,
      ...(s.taints.length > 0 ? { taints: s.taints.map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })) } : {}),
    },
    status: {
      capacity,
      allocatable,
      addresses,
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'Ubuntu 22.04 LTS',
        kernelVersion: '5.15.0-vpsie-sim',
        kubeletVersion: kubeletVersionOf(s.kubernetesVersion),
        kubeProxyVersion: kubeletVersionOf(s.kubernetesVersion),
        containerRuntimeVersion: 'containerd://1.7.0',
        machineID: s.identifier.replace(/-/g, ''),
        systemUUID: s.identifier,
        bootID: s.identifier,
      },
    },
  };
}

export type ParsedUserData = { ok: true; config: JoinConfig } | { ok: false; reason: string };

/** Reads the join configuration out of base64 cloud-init user data (format: clients/vpsie/BOOTSTRAP.md). */
export function parseJoinUserData(userData: string | undefined): ParsedUserData {
  if (userData === undefined || userData.trim() === '') return { ok: false, reason: 'no user data' };
  const b64 = userData.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return { ok: false, reason: 'user data is not base64' };
  const text = Buffer.from(b64, 'base64').toString('utf8');
  if (!text.startsWith('#cloud-config')) return { ok: false, reason: 'user data is not a #cloud-config document' };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return { ok: false, reason: 'cloud-config is not valid YAML' };
  }
  const files = typeof doc === 'object' && doc !== null ? (doc as { write_files?: unknown }).write_files : undefined;
  if (!Array.isArray(files)) return { ok: false, reason: 'cloud-config has no write_files' };
  const entry = files.find(
    (f): f is { content?: unknown; encoding?: unknown } => typeof f === 'object' && f !== null && (f as { path?: unknown }).path === JOIN_CONFIG_PATH,
  );
  if (!entry || typeof entry.content !== 'string') return { ok: false, reason: `no ${JOIN_CONFIG_PATH} entry` };
  const content = entry.encoding === 'b64' || entry.encoding === 'base64' ? Buffer.from(entry.content, 'base64').toString('utf8') : entry.content;
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    return { ok: false, reason: 'join configuration is not JSON' };
  }
  const parsed = JoinConfigSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: `join configuration invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}` };
  return { ok: true, config: parsed.data };
}

/** Records joins and leaves in memory (tests; a simulator without a kubeconfig uses a no-op). */
export class RecordingNodeJoiner implements NodeJoiner {
  readonly nodes = new Map<string, V1Node>();
  readonly events: { op: 'join' | 'leave'; name: string }[] = [];
  join(node: V1Node): Promise<void> {
    const name = node.metadata?.name ?? '';
    this.nodes.set(name, node);
    this.events.push({ op: 'join', name });
    return Promise.resolve();
  }
  leave(name: string): Promise<void> {
    this.nodes.delete(name);
    this.events.push({ op: 'leave', name });
    return Promise.resolve();
  }
}

function httpCode(e: unknown): number | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'number') return (e as { code: number }).code;
  return undefined;
}

/** Creates and deletes Nodes in a real (kwok) cluster through @kubernetes/client-node. */
export class KubernetesNodeJoiner implements NodeJoiner {
  private api: Promise<import('@kubernetes/client-node').CoreV1Api>;

  constructor(kubeconfigPath: string) {
    this.api = import('@kubernetes/client-node').then((k8s) => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc.makeApiClient(k8s.CoreV1Api);
    });
  }

  async join(node: V1Node): Promise<void> {
    const api = await this.api;
    const name = node.metadata?.name ?? '';
    try {
      await api.createNode({ body: node });
    } catch (e) {
      if (httpCode(e) !== 409) throw e;
    }
    // kubelet registers with status; make sure it stuck (or was not replaced by defaults).
    for (let i = 0; i < 5; i++) {
      const current = await api.readNodeStatus({ name });
      const cap = current.status?.capacity ?? {};
      if (cap.cpu === node.status?.capacity?.cpu && cap.memory === node.status?.capacity?.memory) return;
      current.status = {
        ...current.status,
        capacity: node.status?.capacity,
        allocatable: node.status?.allocatable,
        addresses: node.status?.addresses,
        nodeInfo: node.status?.nodeInfo,
      };
      try {
        await api.replaceNodeStatus({ name, body: current });
        return;
      } catch (e) {
        if (httpCode(e) !== 409) throw e;
      }
    }
  }

  async leave(name: string): Promise<void> {
    const api = await this.api;
    try {
      await api.deleteNode({ name });
    } catch (e) {
      if (httpCode(e) !== 404) throw e;
    }
  }
}
