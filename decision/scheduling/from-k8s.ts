/**
 * Converters from @kubernetes/client-node V1Pod / V1Node (JSON shapes) to the simulation types.
 * Type-only imports: nothing from the client library is loaded at runtime.
 */
import type {
  V1Container,
  V1LabelSelector,
  V1Node,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodAffinityTerm,
  V1Taint,
  V1Toleration,
  V1TopologySpreadConstraint,
} from '@kubernetes/client-node';

import { parseBytes, parseCount, parseCpuMilli } from './quantity';
import type {
  HostPort,
  LabelSelector,
  LabelSelectorOperator,
  NodeSelectorOperator,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  PodAffinityTerm,
  Resources,
  SimNode,
  SimPod,
  Taint,
  TaintEffect,
  Toleration,
  TopologySpreadConstraint,
  VolumeConstraint,
} from './types';
import { combineExtended, LABEL_ZONE, LABEL_ZONE_LEGACY, NODE_PRESSURES, PRESSURE_TAINTS } from './types';

type ResourceList = { [key: string]: string } | undefined;

const NODE_OPS: ReadonlySet<string> = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']);
const LABEL_OPS: ReadonlySet<string> = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const EFFECTS: ReadonlySet<string> = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);

function zero(): Resources {
  return { cpuMilli: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0 };
}

/** Resource names that are not scalar resources for NodeResourcesFit. */
const NATIVE: ReadonlySet<string> = new Set(['cpu', 'memory', 'pods', 'ephemeral-storage', 'storage']);

/**
 * Scalar resources kube-scheduler's NodeResourcesFit checks besides cpu/memory/ephemeral-storage:
 * extended resources (a domain-qualified name outside *kubernetes.io/, e.g. nvidia.com/gpu),
 * hugepages-*, and prefixed native ones (kubernetes.io/...).
 */
export function isScalarResource(name: string): boolean {
  if (NATIVE.has(name) || name.startsWith('requests.')) return false;
  return name.includes('/') || name.startsWith('hugepages-');
}

/** Parses the resources the simulation tracks out of a ResourceList. */
export function resourcesFromList(list: ResourceList): Resources {
  const r = zero();
  if (!list) return r;
  if (list['cpu'] !== undefined) r.cpuMilli = parseCpuMilli(list['cpu']);
  if (list['memory'] !== undefined) r.memoryBytes = parseBytes(list['memory']);
  if (list['pods'] !== undefined) r.pods = parseCount(list['pods']);
  if (list['ephemeral-storage'] !== undefined) r.ephemeralStorageBytes = parseBytes(list['ephemeral-storage']);
  let extended: Record<string, number> | undefined;
  for (const [name, q] of Object.entries(list)) {
    if (!isScalarResource(name)) continue;
    (extended ??= {})[name] = name.startsWith('hugepages-') ? parseBytes(q) : parseCount(q);
  }
  if (extended) r.extended = extended;
  return r;
}

function containerRequests(c: V1Container): Resources {
  // Requests default to limits when unset (API-server defaulting, for objects not yet defaulted).
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  const merged: Record<string, string> = { ...lim, ...req };
  return resourcesFromList(merged);
}

function add(a: Resources, b: Resources): Resources {
  const r: Resources = {
    cpuMilli: a.cpuMilli + b.cpuMilli,
    memoryBytes: a.memoryBytes + b.memoryBytes,
    pods: a.pods + b.pods,
    ephemeralStorageBytes: a.ephemeralStorageBytes + b.ephemeralStorageBytes,
  };
  const e = combineExtended(a.extended, b.extended, 1);
  if (e) r.extended = e;
  return r;
}

function max(a: Resources, b: Resources): Resources {
  const r: Resources = {
    cpuMilli: Math.max(a.cpuMilli, b.cpuMilli),
    memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
    pods: Math.max(a.pods, b.pods),
    ephemeralStorageBytes: Math.max(a.ephemeralStorageBytes, b.ephemeralStorageBytes),
  };
  if (a.extended || b.extended) {
    const e: Record<string, number> = { ...(a.extended ?? {}) };
    for (const [k, v] of Object.entries(b.extended ?? {})) e[k] = Math.max(e[k] ?? 0, v);
    r.extended = e;
  }
  return r;
}

/**
 * Effective pod requests as kube-scheduler computes them: sum of containers, restartable (sidecar)
 * init containers added to the sum, max with each regular init container (plus the sidecars started
 * before it), plus pod overhead. Pod-level `spec.resources.requests` override cpu/memory when set.
 * `pods` is always 1.
 */
export function podRequests(pod: V1Pod): Resources {
  const spec = pod.spec;
  let reqs = zero();
  for (const c of spec?.containers ?? []) reqs = add(reqs, containerRequests(c));
  let sidecars = zero();
  let initMax = zero();
  for (const c of spec?.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      reqs = add(reqs, r);
      sidecars = add(sidecars, r);
      initMax = max(initMax, sidecars);
    } else {
      initMax = max(initMax, add(r, sidecars));
    }
  }
  reqs = max(reqs, initMax);
  const podLevel = spec?.resources?.requests;
  if (podLevel) {
    if (podLevel['cpu'] !== undefined) reqs.cpuMilli = parseCpuMilli(podLevel['cpu']);
    if (podLevel['memory'] !== undefined) reqs.memoryBytes = parseBytes(podLevel['memory']);
  }
  reqs = add(reqs, resourcesFromList(spec?.overhead));
  reqs.pods = 1;
  return reqs;
}

function nodeRequirement(r: V1NodeSelectorRequirement): NodeSelectorRequirement {
  // Unknown operators can never match (In with no values).
  if (!NODE_OPS.has(r.operator)) return { key: r.key, operator: 'In', values: [] };
  return { key: r.key, operator: r.operator as NodeSelectorOperator, values: [...(r.values ?? [])] };
}

function nodeTerm(t: V1NodeSelectorTerm): NodeSelectorTerm {
  const term: NodeSelectorTerm = {};
  if (t.matchExpressions) term.matchExpressions = t.matchExpressions.map(nodeRequirement);
  if (t.matchFields) term.matchFields = t.matchFields.map(nodeRequirement);
  return term;
}

export function labelSelectorFromK8s(s: V1LabelSelector | undefined): LabelSelector | undefined {
  if (!s) return undefined;
  const sel: LabelSelector = {};
  if (s.matchLabels) sel.matchLabels = { ...s.matchLabels };
  if (s.matchExpressions) {
    sel.matchExpressions = s.matchExpressions.map((e) =>
      LABEL_OPS.has(e.operator)
        ? { key: e.key, operator: e.operator as LabelSelectorOperator, values: [...(e.values ?? [])] }
        : { key: e.key, operator: 'In' as const, values: [] },
    );
  }
  return sel;
}

/**
 * Pod affinity term. `matchLabelKeys` are folded into the selector using the owning pod's labels (as
 * the API server does). A non-empty namespaceSelector cannot be evaluated without namespace labels and
 * is approximated as "all namespaces" (conservative for anti-affinity).
 */
function affinityTerm(t: V1PodAffinityTerm, ownerLabels: Record<string, string>): PodAffinityTerm {
  const term: PodAffinityTerm = { topologyKey: t.topologyKey };
  let sel = labelSelectorFromK8s(t.labelSelector);
  if (sel && t.matchLabelKeys && t.matchLabelKeys.length > 0) {
    const extra = t.matchLabelKeys
      .filter((k) => ownerLabels[k] !== undefined)
      .map((k) => ({ key: k, operator: 'In' as const, values: [ownerLabels[k] as string] }));
    sel = { ...sel, matchExpressions: [...(sel.matchExpressions ?? []), ...extra] };
  }
  if (sel) term.labelSelector = sel;
  if (t.namespaces && t.namespaces.length > 0) term.namespaces = [...t.namespaces];
  if (t.namespaceSelector) term.allNamespaces = true;
  return term;
}

function spreadConstraint(c: V1TopologySpreadConstraint, ownerLabels: Record<string, string>): TopologySpreadConstraint {
  const out: TopologySpreadConstraint = {
    maxSkew: c.maxSkew,
    topologyKey: c.topologyKey,
    whenUnsatisfiable: c.whenUnsatisfiable === 'ScheduleAnyway' ? 'ScheduleAnyway' : 'DoNotSchedule',
  };
  let sel = labelSelectorFromK8s(c.labelSelector);
  if (sel && c.matchLabelKeys && c.matchLabelKeys.length > 0) {
    const extra = c.matchLabelKeys
      .filter((k) => ownerLabels[k] !== undefined)
      .map((k) => ({ key: k, operator: 'In' as const, values: [ownerLabels[k] as string] }));
    sel = { ...sel, matchExpressions: [...(sel.matchExpressions ?? []), ...extra] };
  }
  if (sel) out.labelSelector = sel;
  if (c.minDomains !== undefined) out.minDomains = c.minDomains;
  return out;
}

export function tolerationFromK8s(t: V1Toleration): Toleration {
  const out: Toleration = {};
  if (t.key) out.key = t.key;
  if (t.operator === 'Exists' || t.operator === 'Equal') out.operator = t.operator;
  if (t.value !== undefined) out.value = t.value;
  if (t.effect && EFFECTS.has(t.effect)) out.effect = t.effect as TaintEffect;
  return out;
}

export function taintFromK8s(t: V1Taint): Taint | undefined {
  if (!EFFECTS.has(t.effect)) return undefined;
  const out: Taint = { key: t.key, effect: t.effect as TaintEffect };
  if (t.value !== undefined) out.value = t.value;
  return out;
}

/** Host ports of the pod's containers (init containers too, as kube-scheduler's NodePorts does). */
export function podHostPorts(pod: V1Pod): HostPort[] {
  const out: HostPort[] = [];
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue;
      out.push({ port: p.hostPort, protocol: p.protocol ?? 'TCP', hostIP: p.hostIP ?? '' });
    }
  }
  return out;
}

/** Resolves a pod's claim (namespace, claim name) to the constraint of its bound PV; undefined when not bound. */
export type VolumeLookup = (namespace: string, claim: string) => VolumeConstraint | undefined;

const PV_TOPOLOGY_LABELS: readonly string[] = [LABEL_ZONE, 'topology.kubernetes.io/region', LABEL_ZONE_LEGACY, 'failure-domain.beta.kubernetes.io/region'];

/** The node constraint of a PersistentVolume: its required node affinity and zone/region labels. */
export function volumeConstraint(name: string, pv: V1PersistentVolume): VolumeConstraint {
  const out: VolumeConstraint = { name };
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (terms && terms.length > 0) out.nodeAffinity = terms.map(nodeTerm);
  const topology: Record<string, string[]> = {};
  for (const key of PV_TOPOLOGY_LABELS) {
    const v = pv.metadata?.labels?.[key];
    if (v !== undefined && v !== '') topology[key] = v.split('__');
  }
  if (Object.keys(topology).length > 0) out.topology = topology;
  return out;
}

/** A VolumeLookup over listed claims and volumes: a claim bound to an existing PV resolves to it. */
export function volumeLookup(claims: readonly V1PersistentVolumeClaim[], volumes: readonly V1PersistentVolume[]): VolumeLookup {
  const pvs = new Map<string, V1PersistentVolume>();
  for (const pv of volumes) if (pv.metadata?.name) pvs.set(pv.metadata.name, pv);
  const byClaim = new Map<string, VolumeConstraint>();
  for (const c of claims) {
    const pvName = c.spec?.volumeName;
    const pv = pvName ? pvs.get(pvName) : undefined;
    if (!pv || !pvName) continue;
    const key = `${c.metadata?.namespace ?? 'default'}/${c.metadata?.name ?? ''}`;
    byClaim.set(key, volumeConstraint(`${key} -> ${pvName}`, pv));
  }
  return (namespace, claim) => byClaim.get(`${namespace}/${claim}`);
}

/** The claims a pod uses: persistentVolumeClaim volumes and generic ephemeral volumes (`<pod>-<volume>`). */
export function podClaims(pod: V1Pod): string[] {
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
    else if (v.ephemeral) out.push(`${pod.metadata?.name ?? ''}-${v.name}`);
  }
  return out;
}

/** V1Pod -> SimPod. With `volumes`, bound PersistentVolumes constrain where the pod can go. */
export function podFromK8s(pod: V1Pod, volumes?: VolumeLookup): SimPod {
  const meta = pod.metadata ?? {};
  const spec = pod.spec;
  const labels: Record<string, string> = { ...(meta.labels ?? {}) };
  const out: SimPod = {
    name: meta.name ?? '',
    namespace: meta.namespace ?? 'default',
    uid: meta.uid ?? '',
    labels,
    requests: podRequests(pod),
  };
  if (spec?.nodeSelector && Object.keys(spec.nodeSelector).length > 0) out.nodeSelector = { ...spec.nodeSelector };
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) out.requiredNodeAffinity = required.nodeSelectorTerms.map(nodeTerm);
  if (spec?.tolerations && spec.tolerations.length > 0) out.tolerations = spec.tolerations.map(tolerationFromK8s);
  const aff = spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (aff && aff.length > 0) out.podAffinity = aff.map((t) => affinityTerm(t, labels));
  const anti = spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (anti && anti.length > 0) out.podAntiAffinity = anti.map((t) => affinityTerm(t, labels));
  if (spec?.topologySpreadConstraints && spec.topologySpreadConstraints.length > 0) {
    out.topologySpreadConstraints = spec.topologySpreadConstraints.map((c) => spreadConstraint(c, labels));
  }
  const hostPorts = podHostPorts(pod);
  if (hostPorts.length > 0) out.hostPorts = hostPorts;
  if (volumes) {
    const resolved: VolumeConstraint[] = [];
    const unresolved: string[] = [];
    for (const claim of podClaims(pod)) {
      const v = volumes(out.namespace, claim);
      if (v) resolved.push(v);
      else unresolved.push(claim);
    }
    if (resolved.length > 0) out.persistentVolumes = resolved;
    if (unresolved.length > 0) out.unresolvedClaims = unresolved;
  }
  const owner = (meta.ownerReferences ?? []).find((o) => o.controller) ?? meta.ownerReferences?.[0];
  if (owner) out.ownerKind = owner.kind;
  if (spec?.nodeName) out.nodeName = spec.nodeName;
  return out;
}

/** V1Node -> SimNode (allocatable, falling back to capacity per resource). */
/** The Node's Ready condition is True. */
export function nodeReady(n: V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function nodeFromK8s(node: V1Node): SimNode {
  const status = node.status;
  const list: Record<string, string> = { ...(status?.capacity ?? {}), ...(status?.allocatable ?? {}) };
  const out: SimNode = {
    name: node.metadata?.name ?? '',
    labels: { ...(node.metadata?.labels ?? {}) },
    allocatable: resourcesFromList(list),
  };
  const taints = (node.spec?.taints ?? []).map(taintFromK8s).filter((t): t is Taint => t !== undefined);
  // A pressure condition is the NoSchedule taint the node lifecycle controller adds for it
  // (TaintNodesByCondition) — the node is no room for pods not tolerating it even before the taint lands.
  const pressure = NODE_PRESSURES.filter((p) => (status?.conditions ?? []).some((c) => c.type === p && c.status === 'True'));
  for (const p of pressure) {
    const key = PRESSURE_TAINTS[p];
    if (!taints.some((t) => t.key === key && t.effect === 'NoSchedule')) taints.push({ key, effect: 'NoSchedule' });
  }
  if (pressure.length > 0) out.pressure = pressure;
  if (taints.length > 0) out.taints = taints;
  if (node.spec?.unschedulable) out.unschedulable = true;
  return out;
}
