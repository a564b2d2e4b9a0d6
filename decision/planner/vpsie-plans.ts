/**
 * VPSie plans as planner offerings: the one conversion of a catalogue plan (the figures the VPSie
 * API lists) into the capacity a node of that plan brings, used by the scale-up snapshot, the
 * scale-down snapshot (replacements of a consolidation) and the default catalogue.
 */
import type { Offering } from './types';

const MiB = 1024 * 1024;
/** kubelet's default hard eviction threshold (memory.available<100Mi) comes off allocatable. */
export const KUBELET_MEMORY_RESERVE_BYTES = 100 * MiB;
/** kubelet's default nodefs.available<10%: 90% of the disk is allocatable ephemeral storage. */
export const EPHEMERAL_ALLOCATABLE_SHARE = 0.9;
/** kubelet's default maxPods: the pods a node of any plan takes. */
export const MAX_PODS_PER_NODE = 110;

/** The figures of a VPSie plan the conversion reads (the API's Plan, structurally). */
export interface VPSiePlanFigures {
  identifier: string;
  nickname: string;
  /** vCPUs. */
  cpu: number;
  /** MiB. */
  ram: number;
  /** GiB. */
  ssd: number;
  /** Monthly price. */
  price: number;
  id?: number | undefined;
  category?: string | undefined;
}

/** A VPSie plan as a planner offering (allocatable as the kubelet reports it with default eviction thresholds). */
export function planOffering(ref: string, plan: VPSiePlanFigures, datacenter: string): Offering {
  const ramBytes = Number(plan.ram) * MiB;
  const diskKi = Number(plan.ssd) * 1024 * 1024;
  const o: Offering = {
    id: ref,
    nickname: plan.nickname,
    cpuMilli: Math.round(Number(plan.cpu) * 1000),
    memoryBytes: Math.max(0, ramBytes - KUBELET_MEMORY_RESERVE_BYTES),
    pods: MAX_PODS_PER_NODE,
    ephemeralStorageBytes: Math.floor(diskKi * EPHEMERAL_ALLOCATABLE_SHARE) * 1024,
    monthlyPrice: Number(plan.price),
    datacenter,
  };
  if (plan.category !== undefined) o.category = plan.category;
  return o;
}

/** The plan a NodeGroup's offering reference names: by identifier, nickname or numeric id. */
export function findPlan<P extends VPSiePlanFigures>(plans: readonly P[] | undefined, ref: string): P | undefined {
  return plans?.find((p) => p.identifier === ref || p.nickname === ref || (p.id !== undefined && String(p.id) === ref));
}
