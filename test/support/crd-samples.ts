/**
 * Sample NodeGroups and VPSieNodes, valid and invalid, shared by the unit tests (zod and the
 * OpenAPI schema must agree on each) and the admission test (the real apiserver must agree too).
 * Every invalid sample names the field a refusal must name.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const EXAMPLE_NODEGROUP_FILE = path.resolve(__dirname, '..', '..', 'k8s', 'examples', 'nodegroup-general-purpose.yaml');

/** The product document's example NodeGroup, exactly as in k8s/examples/. */
export function exampleNodeGroup(): JsonObject {
  return YAML.parse(fs.readFileSync(EXAMPLE_NODEGROUP_FILE, 'utf8')) as JsonObject;
}

export function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

/** obj.a.b.c, creating objects on the way. */
export function at(obj: JsonObject, dotted: string): JsonObject {
  let cur = obj;
  for (const k of dotted.split('.')) {
    const next = cur[k];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as JsonObject;
  }
  return cur;
}

export interface Sample {
  name: string;
  object: JsonObject;
}

/**
 * `schema`: refused by the OpenAPI schema (types, required, enums, bounds, patterns, list types).
 * `cel`: structurally valid, refused by a CEL rule (x-kubernetes-validations).
 */
export type RefusedBy = 'schema' | 'cel';

export interface InvalidSample extends Sample {
  /** The field the refusal must name, as the apiserver prints it (`spec.taints[0].effect`). */
  field: string;
  by: RefusedBy;
}

function ng(name: string, mutate: (o: JsonObject) => void): JsonObject {
  const o = exampleNodeGroup();
  (o.metadata as JsonObject).name = name;
  mutate(o);
  return o;
}
const spec = (o: JsonObject): JsonObject => o.spec as JsonObject;

export const VALID_NODEGROUPS: Sample[] = [
  { name: 'the product document example', object: exampleNodeGroup() },
  {
    name: 'only the required fields',
    object: { apiVersion: 'autoscaler.vpsie.com/v1alpha1', kind: 'NodeGroup', metadata: { name: 'minimal' }, spec: { minNodes: 0, maxNodes: 1 } },
  },
  { name: 'minNodes equal to maxNodes', object: ng('fixed-size', (o) => Object.assign(spec(o), { minNodes: 3, maxNodes: 3 })) },
  {
    name: 'every optional field, joining a managed-Kubernetes group',
    object: ng('everything', (o) =>
      Object.assign(spec(o), {
        kubernetesVersion: 'v1.36.3',
        allowMixedInstances: false,
        priority: 50,
        dryRun: true,
        join: { method: 'ManagedKubernetes', clusterIdentifier: '55f06b85-c9ee-11e3-9845-005056aa8af7', groupIdentifier: '42' },
        scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 0, cooldownSeconds: 30, cpuThreshold: 90, memoryThreshold: 90 },
        scaleDownPolicy: {
          enabled: false,
          stabilizationWindowSeconds: 1200,
          cooldownSeconds: 300,
          cpuThreshold: 30,
          memoryThreshold: 40,
          utilizationThreshold: 35,
        },
        disruptionBudget: {
          maxUnavailable: '20%',
          windows: [
            { days: ['Sat', 'Sun'], start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' },
            { start: '12:00', end: '13:00' },
          ],
        },
        consolidation: { enabled: true, savingsThresholdPercent: 10 },
      }),
    ),
  },
  {
    name: 'plain VMs with bootstrap user data from a Secret',
    object: ng('userdata', (o) => Object.assign(spec(o), { join: { method: 'UserData', userDataSecretRef: { name: 'bootstrap' } } })),
  },
  {
    name: 'join method only (configuration supplies the rest)',
    object: ng('join-method-only', (o) => Object.assign(spec(o), { join: { method: 'ManagedKubernetes' } })),
  },
  {
    name: 'maxUnavailable 0 (no voluntary disruption)',
    object: ng('no-disruption', (o) => Object.assign(spec(o), { disruptionBudget: { maxUnavailable: 0 } })),
  },
  { name: 'maxUnavailable 100%', object: ng('all-at-once', (o) => Object.assign(spec(o), { disruptionBudget: { maxUnavailable: '100%' } })) },
  { name: 'labels with a prefixed key', object: ng('prefixed-label', (o) => Object.assign(spec(o), { labels: { 'example.com/team': 'payments', tier: '' } })) },
  {
    name: 'the same taint key with two effects',
    object: ng('two-effects', (o) =>
      Object.assign(spec(o), {
        taints: [
          { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
          { key: 'dedicated', effect: 'NoExecute' },
        ],
      }),
    ),
  },
  { name: 'a 50-character name', object: ng('a'.repeat(50), () => undefined) },
];

export const INVALID_NODEGROUPS: InvalidSample[] = [
  // ---- refused by the OpenAPI schema
  { name: 'negative minNodes', by: 'schema', field: 'spec.minNodes', object: ng('neg-min', (o) => (spec(o).minNodes = -1)) },
  { name: 'minNodes as a string', by: 'schema', field: 'spec.minNodes', object: ng('string-min', (o) => (spec(o).minNodes = '2')) },
  { name: 'missing maxNodes', by: 'schema', field: 'spec.maxNodes', object: ng('no-max', (o) => delete spec(o).maxNodes) },
  { name: 'maxNodes 0', by: 'schema', field: 'spec.maxNodes', object: ng('zero-max', (o) => Object.assign(spec(o), { minNodes: 0, maxNodes: 0 })) },
  { name: 'maxNodes above 500', by: 'schema', field: 'spec.maxNodes', object: ng('huge-max', (o) => (spec(o).maxNodes = 501)) },
  {
    name: 'empty offeringIDs',
    by: 'schema',
    field: 'spec.offeringIDs',
    object: ng('no-offerings', (o) => {
      spec(o).offeringIDs = [];
      delete spec(o).preferredInstanceType;
    }),
  },
  {
    name: 'duplicate offeringIDs',
    by: 'schema',
    field: 'spec.offeringIDs[1]',
    object: ng('dup-offerings', (o) => (spec(o).offeringIDs = ['small-2cpu-4gb', 'small-2cpu-4gb'])),
  },
  {
    name: 'offering id with a space',
    by: 'schema',
    field: 'spec.offeringIDs[0]',
    object: ng('space-offering', (o) => {
      spec(o).offeringIDs = ['small 2cpu'];
      delete spec(o).preferredInstanceType;
    }),
  },
  { name: 'datacenterID with a space', by: 'schema', field: 'spec.datacenterID', object: ng('space-dc', (o) => (spec(o).datacenterID = 'us east')) },
  {
    name: 'unknown taint effect',
    by: 'schema',
    field: 'spec.taints[0].effect',
    object: ng('bad-effect', (o) => (spec(o).taints = [{ key: 'a', effect: 'NoWay' }])),
  },
  {
    name: 'taint without key',
    by: 'schema',
    field: 'spec.taints[0].key',
    object: ng('no-taint-key', (o) => (spec(o).taints = [{ value: 'x', effect: 'NoSchedule' }])),
  },
  {
    name: 'taint key not a qualified name',
    by: 'schema',
    field: 'spec.taints[0].key',
    object: ng('bad-taint-key', (o) => (spec(o).taints = [{ key: 'bad key', effect: 'NoSchedule' }])),
  },
  {
    name: 'duplicate taint key and effect',
    by: 'schema',
    field: 'spec.taints[1]',
    object: ng(
      'dup-taints',
      (o) =>
        (spec(o).taints = [
          { key: 'a', value: '1', effect: 'NoSchedule' },
          { key: 'a', value: '2', effect: 'NoSchedule' },
        ]),
    ),
  },
  { name: 'label value too long', by: 'schema', field: 'spec.labels', object: ng('long-label', (o) => (spec(o).labels = { a: 'x'.repeat(64) })) },
  {
    name: 'scale-up cpuThreshold above 100',
    by: 'schema',
    field: 'spec.scaleUpPolicy.cpuThreshold',
    object: ng('cpu-150', (o) => (at(o, 'spec.scaleUpPolicy').cpuThreshold = 150)),
  },
  {
    name: 'negative stabilization window',
    by: 'schema',
    field: 'spec.scaleDownPolicy.stabilizationWindowSeconds',
    object: ng('neg-window', (o) => (at(o, 'spec.scaleDownPolicy').stabilizationWindowSeconds = -5)),
  },
  { name: 'unknown join method', by: 'schema', field: 'spec.join.method', object: ng('bad-join', (o) => (spec(o).join = { method: 'Telepathy' })) },
  { name: 'join without method', by: 'schema', field: 'spec.join.method', object: ng('join-no-method', (o) => (spec(o).join = { clusterIdentifier: 'c1' })) },
  {
    name: 'window start not HH:MM',
    by: 'schema',
    field: 'spec.disruptionBudget.windows[0].start',
    object: ng('bad-window', (o) => (spec(o).disruptionBudget = { windows: [{ start: '25:00', end: '06:00' }] })),
  },
  {
    name: 'unknown weekday',
    by: 'schema',
    field: 'spec.disruptionBudget.windows[0].days[0]',
    object: ng('bad-day', (o) => (spec(o).disruptionBudget = { windows: [{ days: ['Funday'], start: '01:00', end: '02:00' }] })),
  },
  {
    name: 'consolidation savings threshold 0',
    by: 'schema',
    field: 'spec.consolidation.savingsThresholdPercent',
    object: ng('zero-savings', (o) => (spec(o).consolidation = { savingsThresholdPercent: 0 })),
  },
  { name: 'priority above 1000', by: 'schema', field: 'spec.priority', object: ng('high-priority', (o) => (spec(o).priority = 2000)) },
  {
    name: 'kubernetesVersion not a version',
    by: 'schema',
    field: 'spec.kubernetesVersion',
    object: ng('bad-version', (o) => (spec(o).kubernetesVersion = 'latest')),
  },
  { name: 'unknown field (typo)', by: 'schema', field: 'spec.minNode', object: ng('typo', (o) => (spec(o).minNode = 1)) },
  // ---- refused by CEL rules
  {
    name: 'minNodes greater than maxNodes',
    by: 'cel',
    field: 'spec.minNodes',
    object: ng('min-gt-max', (o) => Object.assign(spec(o), { minNodes: 5, maxNodes: 3 })),
  },
  {
    name: 'preferredInstanceType not among offeringIDs',
    by: 'cel',
    field: 'spec.preferredInstanceType',
    object: ng('bad-preferred', (o) => (spec(o).preferredInstanceType = 'large-8cpu-16gb')),
  },
  {
    name: 'scale-down cpu threshold not below scale-up',
    by: 'cel',
    field: 'spec.scaleDownPolicy.cpuThreshold',
    object: ng('cpu-overlap', (o) => (at(o, 'spec.scaleDownPolicy').cpuThreshold = 85)),
  },
  {
    name: 'scale-down memory threshold not below scale-up',
    by: 'cel',
    field: 'spec.scaleDownPolicy.memoryThreshold',
    object: ng('mem-overlap', (o) => (at(o, 'spec.scaleDownPolicy').memoryThreshold = 80)),
  },
  { name: 'label key not a qualified name', by: 'cel', field: 'spec.labels', object: ng('bad-label-key', (o) => (spec(o).labels = { 'bad key!': 'x' })) },
  {
    name: 'label sets the group label',
    by: 'cel',
    field: 'spec.labels',
    object: ng('reserved-label', (o) => (spec(o).labels = { 'autoscaler.vpsie.com/nodegroup': 'other' })),
  },
  {
    name: 'clusterIdentifier with UserData',
    by: 'cel',
    field: 'spec.join.clusterIdentifier',
    object: ng('userdata-cluster', (o) => (spec(o).join = { method: 'UserData', clusterIdentifier: 'c1' })),
  },
  {
    name: 'groupIdentifier with UserData',
    by: 'cel',
    field: 'spec.join.groupIdentifier',
    object: ng('userdata-group', (o) => (spec(o).join = { method: 'UserData', groupIdentifier: 'g1' })),
  },
  {
    name: 'userDataSecretRef with ManagedKubernetes',
    by: 'cel',
    field: 'spec.join.userDataSecretRef',
    object: ng('managed-secret', (o) => (spec(o).join = { method: 'ManagedKubernetes', userDataSecretRef: { name: 'boot' } })),
  },
  {
    name: 'maxUnavailable above 100%',
    by: 'cel',
    field: 'spec.disruptionBudget.maxUnavailable',
    object: ng('pct-150', (o) => (spec(o).disruptionBudget = { maxUnavailable: '150%' })),
  },
  {
    name: 'maxUnavailable negative',
    by: 'cel',
    field: 'spec.disruptionBudget.maxUnavailable',
    object: ng('neg-budget', (o) => (spec(o).disruptionBudget = { maxUnavailable: -1 })),
  },
  {
    name: 'maxUnavailable not a percentage',
    by: 'cel',
    field: 'spec.disruptionBudget.maxUnavailable',
    object: ng('word-budget', (o) => (spec(o).disruptionBudget = { maxUnavailable: 'some' })),
  },
  {
    name: 'window that opens and closes at once',
    by: 'cel',
    field: 'spec.disruptionBudget.windows[0].end',
    object: ng('empty-window', (o) => (spec(o).disruptionBudget = { windows: [{ start: '02:00', end: '02:00' }] })),
  },
  { name: 'name longer than 50 characters', by: 'cel', field: 'metadata.name', object: ng('a'.repeat(51), () => undefined) },
  { name: 'name with a dot', by: 'cel', field: 'metadata.name', object: ng('general.purpose', () => undefined) },
];

// ---- VPSieNode

export function vpsieNode(name = 'general-purpose-nodes-x7k2p'): JsonObject {
  return {
    apiVersion: 'autoscaler.vpsie.com/v1alpha1',
    kind: 'VPSieNode',
    metadata: { name, labels: { 'autoscaler.vpsie.com/nodegroup': 'general-purpose-nodes' } },
    spec: {
      nodeGroupName: 'general-purpose-nodes',
      offeringID: 'small-2cpu-4gb',
      datacenterID: 'us-east-1',
      osImageID: 'ubuntu-22.04-lts',
      join: { method: 'UserData' },
      hostname: name,
    },
  };
}

function vn(mutate: (o: JsonObject) => void): JsonObject {
  const o = vpsieNode();
  mutate(o);
  return o;
}

const T = '2025-10-12T10:30:00Z';

export const VALID_VPSIENODES: Sample[] = [
  { name: 'just requested', object: vpsieNode() },
  {
    name: 'managed-Kubernetes worker before its hostname is known',
    object: vn((o) => {
      const s = o.spec as JsonObject;
      delete s.hostname;
      delete s.osImageID;
      s.join = { method: 'ManagedKubernetes', clusterIdentifier: 'c1', groupIdentifier: '7' };
    }),
  },
  {
    name: 'ready, with every status field',
    object: vn((o) => {
      Object.assign(o.spec as JsonObject, { vpsieIdentifier: '55f06b85-c9ee-11e3-9845-005056aa8af7', vpsID: 6266 });
      o.status = {
        observedGeneration: 1,
        phase: 'Ready',
        phaseTimes: { pending: T, provisioning: T, provisioned: T, joining: T, ready: T },
        nodeName: 'general-purpose-nodes-x7k2p',
        vpsieStatus: 'running',
        publicIPv4: '203.0.113.7',
        publicIPv6: '2001:db8::7',
        privateIPv4: '10.0.0.7',
        conditions: [
          { type: 'VPSRunning', status: 'True', lastTransitionTime: T, reason: 'VPSRunning', message: '' },
          { type: 'Ready', status: 'True', lastTransitionTime: T, reason: 'NodeReady', message: 'kubelet is posting ready status', observedGeneration: 1 },
        ],
      };
    }),
  },
  {
    name: 'failed with its error',
    object: vn(
      (o) =>
        (o.status = {
          phase: 'Failed',
          phaseTimes: { pending: T, failed: T },
          lastError: { reason: 'QuotaExceeded', message: 'Worker nodes count exceeds the allowed limit', phase: 'Provisioning', time: T },
        }),
    ),
  },
];

export const INVALID_VPSIENODES: InvalidSample[] = [
  { name: 'missing join', by: 'schema', field: 'spec.join', object: vn((o) => delete (o.spec as JsonObject).join) },
  { name: 'missing nodeGroupName', by: 'schema', field: 'spec.nodeGroupName', object: vn((o) => delete (o.spec as JsonObject).nodeGroupName) },
  { name: 'hostname with upper case', by: 'schema', field: 'spec.hostname', object: vn((o) => ((o.spec as JsonObject).hostname = 'Node-1')) },
  { name: 'unknown phase', by: 'schema', field: 'status.phase', object: vn((o) => (o.status = { phase: 'Exploded' })) },
  { name: 'public IPv4 not an address', by: 'schema', field: 'status.publicIPv4', object: vn((o) => (o.status = { phase: 'Ready', publicIPv4: '300.1.1.1' })) },
  {
    name: 'unknown condition type',
    by: 'schema',
    field: 'status.conditions[0].type',
    object: vn((o) => (o.status = { conditions: [{ type: 'Happy', status: 'True', lastTransitionTime: T, reason: 'NodeReady', message: '' }] })),
  },
  {
    name: 'unknown condition reason',
    by: 'schema',
    field: 'status.conditions[0].reason',
    object: vn((o) => (o.status = { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: T, reason: 'Vibes', message: '' }] })),
  },
  {
    name: 'duplicate condition type',
    by: 'schema',
    field: 'status.conditions[1]',
    object: vn(
      (o) =>
        (o.status = {
          conditions: [
            { type: 'Ready', status: 'True', lastTransitionTime: T, reason: 'NodeReady', message: '' },
            { type: 'Ready', status: 'False', lastTransitionTime: T, reason: 'NodeNotReady', message: '' },
          ],
        }),
    ),
  },
  {
    name: 'unknown error reason',
    by: 'schema',
    field: 'status.lastError.reason',
    object: vn((o) => (o.status = { phase: 'Failed', lastError: { reason: 'Oops', message: 'x', time: T } })),
  },
  { name: 'Failed without lastError', by: 'cel', field: 'status.lastError', object: vn((o) => (o.status = { phase: 'Failed' })) },
  {
    name: 'clusterIdentifier with UserData',
    by: 'cel',
    field: 'spec.join.clusterIdentifier',
    object: vn((o) => ((o.spec as JsonObject).join = { method: 'UserData', clusterIdentifier: 'c1' })),
  },
  {
    name: 'groupIdentifier with UserData',
    by: 'cel',
    field: 'spec.join.groupIdentifier',
    object: vn((o) => ((o.spec as JsonObject).join = { method: 'UserData', groupIdentifier: 'g1' })),
  },
  {
    name: 'userDataSecretRef with ManagedKubernetes',
    by: 'cel',
    field: 'spec.join.userDataSecretRef',
    object: vn((o) => ((o.spec as JsonObject).join = { method: 'ManagedKubernetes', userDataSecretRef: { name: 'boot' } })),
  },
];

export interface UpdateSample {
  name: string;
  before: JsonObject;
  after: JsonObject;
  /** The field a refusal names; undefined when the update is allowed. */
  field?: string;
}

function update(name: string, field: string | undefined, mutate: (spec: JsonObject) => void, prepare?: (spec: JsonObject) => void): UpdateSample {
  const before = vpsieNode();
  if (prepare) prepare(before.spec as JsonObject);
  const after = clone(before);
  mutate(after.spec as JsonObject);
  return field === undefined ? { name, before, after } : { name, before, after, field };
}

const withIds = (s: JsonObject) => Object.assign(s, { vpsieIdentifier: 'vm-1', vpsID: 1 });

/** Updates of VPSieNode.spec: transition rules (immutable and set-once fields). */
export const VPSIENODE_UPDATES: UpdateSample[] = [
  update('set vpsieIdentifier and vpsID the first time', undefined, withIds),
  update('keep everything', undefined, () => undefined, withIds),
  update('change nodeGroupName', 'spec.nodeGroupName', (s) => (s.nodeGroupName = 'other')),
  update('change offeringID', 'spec.offeringID', (s) => (s.offeringID = 'medium-4cpu-8gb')),
  update('change datacenterID', 'spec.datacenterID', (s) => (s.datacenterID = 'eu-west-1')),
  update('change join', 'spec.join', (s) => (s.join = { method: 'ManagedKubernetes' })),
  update('change vpsieIdentifier', 'spec.vpsieIdentifier', (s) => (s.vpsieIdentifier = 'vm-2'), withIds),
  update('remove vpsieIdentifier', 'spec.vpsieIdentifier', (s) => delete s.vpsieIdentifier, withIds),
  update('change vpsID', 'spec.vpsID', (s) => (s.vpsID = 2), withIds),
  update('change hostname', 'spec.hostname', (s) => (s.hostname = 'renamed')),
];
