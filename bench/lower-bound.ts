/**
 * The price and node-count lower bounds the benchmarks compare a plan against: the summed requests
 * of the pending pods over the best per-node capacity and the best price per unit of CPU or memory
 * among the groups' offerings (no real plan can beat either).
 */
import { buildTemplates } from '../decision/planner/templates';
import type { PlannerInput } from '../decision/planner/types';

/** Lower bounds from summed requests over the best per-node capacity and the best price per unit. */
export function lowerBounds(input: PlannerInput): { nodes: number; price: number } {
  const templates = buildTemplates(input);
  let cpu = 0;
  let mem = 0;
  for (const p of input.pendingPods) {
    cpu += p.requests.cpuMilli;
    mem += p.requests.memoryBytes;
  }
  const n = input.pendingPods.length;
  let maxCpu = 0;
  let maxMem = 0;
  let maxPods = 0;
  let bestCpuPrice = Infinity;
  let bestMemPrice = Infinity;
  for (const t of templates) {
    const c = t.allocatable.cpuMilli - t.overhead.cpuMilli;
    const m = t.allocatable.memoryBytes - t.overhead.memoryBytes;
    maxCpu = Math.max(maxCpu, c);
    maxMem = Math.max(maxMem, m);
    maxPods = Math.max(maxPods, t.allocatable.pods - t.overhead.pods);
    bestCpuPrice = Math.min(bestCpuPrice, t.offering.monthlyPrice / c);
    bestMemPrice = Math.min(bestMemPrice, t.offering.monthlyPrice / m);
  }
  return {
    nodes: n === 0 ? 0 : Math.ceil(Math.max(cpu / maxCpu, mem / maxMem, n / maxPods)),
    price: Math.round(Math.max(cpu * bestCpuPrice, mem * bestMemPrice) * 100) / 100,
  };
}
