/**
 * A default VPSie-like catalogue of plans, for the planner benchmark, tests and (later) the VPSie
 * simulator. Prices are monthly USD, realistic and deliberately not proportional: mid-size shared
 * plans with 2 GiB per vCPU (large-8cpu-16gb best) are the cheapest per vCPU and per GiB, small plans
 * carry a per-node premium, memory-heavy plans cost more per vCPU, and "Compute Optimized"
 * (dedicated vCPU) plans cost more than shared ones of the same shape.
 *
 * Capacities are used as node allocatable (no kubelet reservation is modelled here).
 */
import type { NodeGroup, Offering } from './types';
import { MAX_PODS_PER_NODE } from './vpsie-plans';

export interface CatalogPlan {
  id: string;
  nickname: string;
  category: 'Shared CPU' | 'Compute Optimized';
  vcpu: number;
  memoryGiB: number;
  diskGB: number;
  monthlyPrice: number;
}

const GiB = 1024 ** 3;
const GB = 1000 ** 3;

export const DEFAULT_PLANS: readonly CatalogPlan[] = [
  { id: 'sc-1-1', nickname: 'xsmall-1cpu-1gb', category: 'Shared CPU', vcpu: 1, memoryGiB: 1, diskGB: 25, monthlyPrice: 6.5 },
  { id: 'sc-1-2', nickname: 'xsmall-1cpu-2gb', category: 'Shared CPU', vcpu: 1, memoryGiB: 2, diskGB: 40, monthlyPrice: 8 },
  { id: 'sc-2-2', nickname: 'small-2cpu-2gb', category: 'Shared CPU', vcpu: 2, memoryGiB: 2, diskGB: 50, monthlyPrice: 13 },
  { id: 'sc-2-4', nickname: 'small-2cpu-4gb', category: 'Shared CPU', vcpu: 2, memoryGiB: 4, diskGB: 80, monthlyPrice: 15 },
  { id: 'sc-4-8', nickname: 'medium-4cpu-8gb', category: 'Shared CPU', vcpu: 4, memoryGiB: 8, diskGB: 160, monthlyPrice: 27 },
  { id: 'sc-6-12', nickname: 'large-6cpu-12gb', category: 'Shared CPU', vcpu: 6, memoryGiB: 12, diskGB: 240, monthlyPrice: 38 },
  { id: 'sc-8-16', nickname: 'large-8cpu-16gb', category: 'Shared CPU', vcpu: 8, memoryGiB: 16, diskGB: 320, monthlyPrice: 49 },
  { id: 'sc-8-32', nickname: 'xlarge-8cpu-32gb', category: 'Shared CPU', vcpu: 8, memoryGiB: 32, diskGB: 400, monthlyPrice: 104 },
  { id: 'sc-12-48', nickname: 'xlarge-12cpu-48gb', category: 'Shared CPU', vcpu: 12, memoryGiB: 48, diskGB: 600, monthlyPrice: 152 },
  { id: 'sc-16-64', nickname: '2xlarge-16cpu-64gb', category: 'Shared CPU', vcpu: 16, memoryGiB: 64, diskGB: 800, monthlyPrice: 200 },
  { id: 'co-2-4', nickname: 'cpu-2cpu-4gb', category: 'Compute Optimized', vcpu: 2, memoryGiB: 4, diskGB: 50, monthlyPrice: 24 },
  { id: 'co-4-8', nickname: 'cpu-4cpu-8gb', category: 'Compute Optimized', vcpu: 4, memoryGiB: 8, diskGB: 100, monthlyPrice: 46 },
  { id: 'co-8-16', nickname: 'cpu-8cpu-16gb', category: 'Compute Optimized', vcpu: 8, memoryGiB: 16, diskGB: 200, monthlyPrice: 88 },
  { id: 'co-16-32', nickname: 'cpu-16cpu-32gb', category: 'Compute Optimized', vcpu: 16, memoryGiB: 32, diskGB: 400, monthlyPrice: 172 },
];

export const DEFAULT_ZONES: readonly string[] = ['zone-a', 'zone-b', 'zone-c'];

/** A plan as a planner offering in one zone (capacities in base units). */
export function planToOffering(plan: CatalogPlan, zone?: string): Offering {
  const o: Offering = {
    id: plan.id,
    nickname: plan.nickname,
    category: plan.category,
    cpuMilli: plan.vcpu * 1000,
    memoryBytes: plan.memoryGiB * GiB,
    pods: MAX_PODS_PER_NODE,
    ephemeralStorageBytes: plan.diskGB * GB,
    monthlyPrice: plan.monthlyPrice,
  };
  if (zone !== undefined) {
    o.zone = zone;
    o.datacenter = zone;
  }
  return o;
}

export function defaultOfferings(zone?: string, category?: CatalogPlan['category']): Offering[] {
  return DEFAULT_PLANS.filter((p) => category === undefined || p.category === category).map((p) => planToOffering(p, zone));
}

/**
 * The benchmark's node groups: per zone one "Shared CPU" and one "Compute Optimized" group, all with
 * mixed instances allowed and the same priority (price decides).
 */
export function defaultNodeGroups(maxNodesPerGroup = 10_000, zones: readonly string[] = DEFAULT_ZONES): NodeGroup[] {
  const groups: NodeGroup[] = [];
  for (const zone of zones) {
    groups.push({
      name: `shared-${zone}`,
      namespace: 'kube-system',
      minNodes: 0,
      maxNodes: maxNodesPerGroup,
      currentNodes: 0,
      offerings: defaultOfferings(zone, 'Shared CPU'),
      allowMixedInstances: true,
      priority: 0,
      labels: { 'autoscaler.vpsie.com/category': 'shared' },
      zone,
    });
    groups.push({
      name: `compute-${zone}`,
      namespace: 'kube-system',
      minNodes: 0,
      maxNodes: maxNodesPerGroup,
      currentNodes: 0,
      offerings: defaultOfferings(zone, 'Compute Optimized'),
      allowMixedInstances: true,
      priority: 0,
      labels: { 'autoscaler.vpsie.com/category': 'compute' },
      zone,
    });
  }
  return groups;
}
