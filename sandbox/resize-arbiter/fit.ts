/**
 * The resize arbiter's decision (sandbox/resize-arbiter/arbiter.ts), pure: does an in-place
 * resize (pods/resize) of a running pod fit its node, as the kubelet's resize admission
 * decides it?
 *
 *   - the pod's new requests (the whole pod, counted as the scheduler counts a pod: the sum of its
 *     containers and of its sidecars — restartable init containers — or, when larger, an init
 *     container's requests plus the sidecars started before it; pod-level requests where the pod
 *     sets them; plus the pod overhead) above the node's allocatable cpu or memory → `Infeasible`,
 *     "Node didn't have enough capacity: cpu, requested: 64000, capacity: 4000" (memory is named
 *     when both are short, as the kubelet did);
 *   - within allocatable but above what the node's other active pods leave free (their allocated
 *     requests: what the kubelet admitted, or the actuated ones when larger — a resize down still
 *     holds its old size until it is actuated) → `Deferred`, "Node didn't have enough resource:
 *     cpu, requested: 3000, used: 2000, capacity: 4000" (the kubelet's admission message);
 *   - else it fits. A zero request always fits (the scheduler checks only what is requested), and
 *     so does a resize back to what the pod holds now (nothing to allocate).
 *
 * Quantities are read exactly (decision/scheduling/quantity.ts): cpu in millicores, memory in
 * bytes, rounded up as Kubernetes' MilliValue()/Value() do.
 */
import { parseBytes, parseCpuMilli } from '../../decision/scheduling/quantity';

/** CPU (millicores) and memory (bytes). */
export interface Amounts {
  cpuMilli: number;
  memoryBytes: number;
}

export const ZERO: Amounts = { cpuMilli: 0, memoryBytes: 0 };

export type ResourceList = Readonly<Record<string, string | undefined>> | null | undefined;

/** The parts of a Pod the decision reads (a V1Pod, or the arbiter's parsed form of one, fits). */
export interface PodResources {
  metadata?: { generation?: number | null } | null;
  spec?: {
    containers?: readonly ContainerSpec[] | null;
    initContainers?: readonly ContainerSpec[] | null;
    overhead?: ResourceList;
    resources?: { requests?: ResourceList } | null;
  } | null;
  status?: {
    conditions?: readonly { type: string; status: string; reason?: string | null; observedGeneration?: number | null }[] | null;
    containerStatuses?: readonly ContainerState[] | null;
    initContainerStatuses?: readonly ContainerState[] | null;
  } | null;
}

export interface ContainerSpec {
  name: string;
  restartPolicy?: string | null;
  resources?: { requests?: ResourceList } | null;
}

export interface ContainerState {
  name: string;
  allocatedResources?: ResourceList;
  resources?: { requests?: ResourceList } | null;
}

export function amounts(list: ResourceList): Amounts {
  const cpu = list?.cpu;
  const memory = list?.memory;
  return { cpuMilli: cpu === undefined ? 0 : parseCpuMilli(cpu), memoryBytes: memory === undefined ? 0 : parseBytes(memory) };
}

export function add(a: Amounts, b: Amounts): Amounts {
  return { cpuMilli: a.cpuMilli + b.cpuMilli, memoryBytes: a.memoryBytes + b.memoryBytes };
}

function max(a: Amounts, b: Amounts): Amounts {
  return { cpuMilli: Math.max(a.cpuMilli, b.cpuMilli), memoryBytes: Math.max(a.memoryBytes, b.memoryBytes) };
}

function condition(pod: PodResources, type: string): { status: string; reason?: string | null; observedGeneration?: number | null } | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/**
 * Whether the kubelet (here: the arbiter) has admitted the pod's current spec: a
 * `PodResizeInProgress` condition for the pod's generation. The resize is then allocated, even
 * while it is still being actuated.
 */
export function admitted(pod: PodResources): boolean {
  const c = condition(pod, 'PodResizeInProgress');
  return c?.status === 'True' && (c.observedGeneration ?? 0) === (pod.metadata?.generation ?? 1);
}

/**
 * The pod's total requests. `desired`: as its spec asks now (what a resize asks for). `allocated`:
 * what it holds on the node — per container the larger of the allocated requests (the spec's
 * when the resize was admitted, else `allocatedResources` of its status, else the spec's for a
 * container not started yet) and the actuated ones (`status.containerStatuses[].resources`).
 */
export function podRequests(pod: PodResources, mode: 'desired' | 'allocated'): Amounts {
  const useStatus = mode === 'allocated' && !admitted(pod);
  const statuses = new Map<string, ContainerState>();
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) statuses.set(s.name, s);
  const of = (c: ContainerSpec): Amounts => {
    const spec = amounts(c.resources?.requests);
    if (mode === 'desired') return spec;
    const st = statuses.get(c.name);
    const allocated = useStatus && st?.allocatedResources ? amounts(st.allocatedResources) : spec;
    return st?.resources?.requests ? max(allocated, amounts(st.resources.requests)) : allocated;
  };
  let total = ZERO;
  for (const c of pod.spec?.containers ?? []) total = add(total, of(c));
  // Sidecars run beside the containers; a plain init container runs alone, after the sidecars
  // declared before it have started: the pod needs the larger of the two phases.
  let sidecars = ZERO;
  let initPhase = ZERO;
  for (const c of pod.spec?.initContainers ?? []) {
    const r = of(c);
    if (c.restartPolicy === 'Always') {
      total = add(total, r);
      sidecars = add(sidecars, r);
      initPhase = max(initPhase, sidecars);
    } else initPhase = max(initPhase, add(r, sidecars));
  }
  total = max(total, initPhase);
  // Pod-level requests (PodLevelResources), where set, stand for the containers' sum.
  const podLevel = pod.spec?.resources?.requests;
  if (podLevel?.cpu !== undefined) total = { ...total, cpuMilli: parseCpuMilli(podLevel.cpu) };
  if (podLevel?.memory !== undefined) total = { ...total, memoryBytes: parseBytes(podLevel.memory) };
  return add(total, amounts(pod.spec?.overhead));
}

export type ResizeVerdict = { fits: true } | { fits: false; reason: 'Infeasible' | 'Deferred'; message: string };

/**
 * The kubelet's answer to a resize: `desired` is the resized pod's total requests, `current` what
 * it holds now (`podRequests(pod, 'allocated')`; a resize to it needs no room), `others` the sum
 * of what the node's other active pods hold (`podRequests(p, 'allocated')` each).
 */
export function decideResize(o: { desired: Amounts; current?: Amounts; allocatable: Amounts; others: Amounts }): ResizeVerdict {
  const { desired, current, allocatable, others } = o;
  if (current !== undefined && current.cpuMilli === desired.cpuMilli && current.memoryBytes === desired.memoryBytes) return { fits: true };
  if (desired.memoryBytes > allocatable.memoryBytes)
    return {
      fits: false,
      reason: 'Infeasible',
      message: `Node didn't have enough capacity: memory, requested: ${desired.memoryBytes}, capacity: ${allocatable.memoryBytes}`,
    };
  if (desired.cpuMilli > allocatable.cpuMilli)
    return {
      fits: false,
      reason: 'Infeasible',
      message: `Node didn't have enough capacity: cpu, requested: ${desired.cpuMilli}, capacity: ${allocatable.cpuMilli}`,
    };
  // The scheduler's fit check, in its order (cpu, then memory), on requested resources only.
  if (desired.cpuMilli > 0 && desired.cpuMilli > allocatable.cpuMilli - others.cpuMilli)
    return {
      fits: false,
      reason: 'Deferred',
      message: `Node didn't have enough resource: cpu, requested: ${desired.cpuMilli}, used: ${others.cpuMilli}, capacity: ${allocatable.cpuMilli}`,
    };
  if (desired.memoryBytes > 0 && desired.memoryBytes > allocatable.memoryBytes - others.memoryBytes)
    return {
      fits: false,
      reason: 'Deferred',
      message: `Node didn't have enough resource: memory, requested: ${desired.memoryBytes}, used: ${others.memoryBytes}, capacity: ${allocatable.memoryBytes}`,
    };
  return { fits: true };
}
