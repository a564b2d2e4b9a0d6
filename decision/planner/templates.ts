/**
 * Node templates (NodeGroup x Offering): the labels, taints, allocatable and DaemonSet overhead a new
 * node would have, and the topology-domain hints derived from them. Shared by the planner and the
 * verifier so both evaluate topology spread over the same domains.
 */
import type { DomainHints } from '../scheduling/predicates';
import { hardSpreadConstraints, passesNodeAffinity, staticFailure } from '../scheduling/predicates';
import type { Resources, SimNode, SimPod, Taint } from '../scheduling/types';
import { compareStrings, FRESH_DOMAIN, LABEL_HOSTNAME, LABEL_INSTANCE_TYPE, LABEL_NODE_GROUP, LABEL_ZONE } from '../scheduling/types';
import type { NodeGroup, Offering, PlannerInput } from './types';

export interface Template {
  index: number;
  group: NodeGroup;
  groupIndex: number;
  priority: number;
  offering: Offering;
  zone: string | undefined;
  /** Labels of a new node, without the hostname. */
  labels: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  allocatable: Resources;
  overhead: Resources;
  preferred: boolean;
  /** A node of this template with the FRESH_DOMAIN hostname, for static checks. */
  probe: SimNode;
}

export function offeringZone(group: NodeGroup, offering: Offering): string | undefined {
  return offering.zone ?? group.zone;
}

/** Labels a new node of (group, offering) carries, without its hostname. */
export function templateLabels(group: NodeGroup, offering: Offering): Record<string, string> {
  const labels: Record<string, string> = { ...(group.labels ?? {}) };
  const zone = offeringZone(group, offering);
  if (zone !== undefined) labels[LABEL_ZONE] = zone;
  labels[LABEL_INSTANCE_TYPE] = offering.nickname;
  labels[LABEL_NODE_GROUP] = group.name;
  return labels;
}

export function offeringAllocatable(o: Offering): Resources {
  return {
    cpuMilli: o.cpuMilli,
    memoryBytes: o.memoryBytes,
    pods: o.pods,
    ephemeralStorageBytes: o.ephemeralStorageBytes,
  };
}

export function isPreferred(group: NodeGroup, o: Offering): boolean {
  const p = group.preferredInstanceType;
  return p !== undefined && (p === o.id || p === o.nickname);
}

/** A SimNode for a new node of the template with the given name. */
export function newNodeFor(t: Pick<Template, 'labels' | 'taints' | 'allocatable'>, name: string): SimNode {
  return {
    name,
    labels: { ...t.labels, [LABEL_HOSTNAME]: name },
    taints: t.taints,
    allocatable: t.allocatable,
  };
}

/** Requests of the DaemonSet pods that would run on `node`. */
export function daemonSetOverhead(daemonSetPods: readonly SimPod[], node: SimNode): Resources {
  const r: Resources = { cpuMilli: 0, memoryBytes: 0, pods: 0, ephemeralStorageBytes: 0 };
  for (const ds of daemonSetPods) {
    if (staticFailure(ds, node) !== undefined) continue;
    r.cpuMilli += ds.requests.cpuMilli;
    r.memoryBytes += ds.requests.memoryBytes;
    r.pods += Math.max(1, ds.requests.pods);
    r.ephemeralStorageBytes += ds.requests.ephemeralStorageBytes;
  }
  return r;
}

/**
 * All templates, ordered by group priority (desc), group name, offering id. Groups with the same name
 * keep input order after sorting by namespace.
 */
export function buildTemplates(input: Pick<PlannerInput, 'nodeGroups' | 'daemonSetPods'>): Template[] {
  const groups = [...input.nodeGroups].sort(
    (a, b) => (b.priority ?? 0) - (a.priority ?? 0) || compareStrings(a.name, b.name) || compareStrings(a.namespace, b.namespace),
  );
  const out: Template[] = [];
  groups.forEach((group, groupIndex) => {
    const offerings = [...group.offerings].sort((a, b) => compareStrings(a.id, b.id) || compareStrings(a.nickname, b.nickname));
    for (const offering of offerings) {
      const labels = templateLabels(group, offering);
      const allocatable = offeringAllocatable(offering);
      const taints = group.taints ?? [];
      const probe = newNodeFor({ labels, taints, allocatable }, FRESH_DOMAIN);
      out.push({
        index: out.length,
        group,
        groupIndex,
        priority: group.priority ?? 0,
        offering,
        zone: offeringZone(group, offering),
        labels,
        taints,
        allocatable,
        overhead: daemonSetOverhead(input.daemonSetPods, probe),
        preferred: isPreferred(group, offering),
        probe,
      });
    }
  });
  return out;
}

/** Node count at the start of planning (existing + in-flight). */
export function startingClusterNodes(input: Pick<PlannerInput, 'existingNodes' | 'inFlightNodes'>): number {
  return input.existingNodes.length + input.inFlightNodes.length;
}

/**
 * Topology-spread domain hints: for each hard spread constraint of a pod, the domains that nodes of
 * groups that can still grow (and match the pod's node affinity; taints are ignored, as
 * kube-scheduler's default NodeTaintsPolicy=Ignore does) would have. Hostname becomes FRESH_DOMAIN.
 */
export function domainHintsFor(input: PlannerInput, templates: readonly Template[] = buildTemplates(input)): DomainHints {
  const clusterRoom = startingClusterNodes(input) < input.maxClusterNodes;
  const growable = templates.filter((t) => clusterRoom && t.group.currentNodes < t.group.maxNodes);
  return (pod: SimPod) => {
    const constraints = hardSpreadConstraints(pod);
    if (constraints.length === 0) return undefined;
    const out = new Map<string, Set<string>>();
    for (const c of constraints) {
      const set = new Set<string>();
      for (const t of growable) {
        if (!passesNodeAffinity(pod, t.probe)) continue;
        if (!constraints.every((k) => t.probe.labels[k.topologyKey] !== undefined)) continue;
        if (c.topologyKey === LABEL_HOSTNAME) set.add(FRESH_DOMAIN);
        else {
          const v = t.labels[c.topologyKey];
          if (v !== undefined) set.add(v);
        }
      }
      out.set(c.topologyKey, set);
    }
    return out;
  };
}
