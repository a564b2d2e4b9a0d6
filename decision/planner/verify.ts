/**
 * Independent re-verification of a decision record: replays every placement, in order, through the
 * reference predicates of `scheduling/predicates.ts` (not the planner's incremental state), with every
 * planned node present from the start at its final offering and DaemonSet overhead, and checks the
 * limits and price arithmetic. Returns the list of violations (empty = valid). Quadratic; for tests and
 * sanity checks on small inputs.
 */
import type { NodeSnapshot } from '../scheduling/predicates';
import { filterNode } from '../scheduling/predicates';
import type { SimPod } from '../scheduling/types';
import { podKey } from '../scheduling/types';
import { buildTemplates, domainHintsFor, newNodeFor, startingClusterNodes } from './templates';
import type { PlannerInput, ScaleUpDecision } from './types';

interface MutableSnapshot extends NodeSnapshot {
  pods: SimPod[];
}

export function verifyDecision(input: PlannerInput, decision: ScaleUpDecision): string[] {
  const errors: string[] = [];
  const templates = buildTemplates(input);
  const hints = domainHintsFor(input, templates);
  const snapshots: MutableSnapshot[] = [];
  const byName = new Map<string, MutableSnapshot>();
  const add = (s: MutableSnapshot): void => {
    if (byName.has(s.node.name)) errors.push(`duplicate node name ${s.node.name}`);
    snapshots.push(s);
    byName.set(s.node.name, s);
  };
  for (const n of [...input.existingNodes, ...input.inFlightNodes]) add({ node: n.node, pods: [...n.pods] });

  let newNodes = 0;
  let monthly = 0;
  const expectedOnNode = new Map<string, string[]>();
  for (const g of decision.groups) {
    const group = input.nodeGroups.find((x) => x.name === g.group && x.namespace === g.namespace);
    if (!group) {
      errors.push(`unknown group ${g.group}`);
      continue;
    }
    if (group.currentNodes + g.nodes.length > group.maxNodes) {
      errors.push(`group ${g.group} exceeds maxNodes: ${group.currentNodes} + ${g.nodes.length} > ${group.maxNodes}`);
    }
    if (g.newNodes !== g.nodes.length) errors.push(`group ${g.group} newNodes ${g.newNodes} != ${g.nodes.length}`);
    let groupMonthly = 0;
    for (const n of g.nodes) {
      const t = templates.find((x) => x.group === group && x.offering.id === n.offeringId);
      if (!t) {
        errors.push(`node ${n.name}: offering ${n.offeringId} not in group ${g.group}`);
        continue;
      }
      if (n.monthlyPrice !== t.offering.monthlyPrice) errors.push(`node ${n.name}: price mismatch`);
      groupMonthly += n.monthlyPrice;
      add({ node: newNodeFor(t, n.name), pods: [], extraRequested: t.overhead });
      expectedOnNode.set(n.name, n.pods);
      newNodes++;
    }
    if (!group.allowMixedInstances && new Set(g.nodes.map((n) => n.offeringId)).size > 1) {
      errors.push(`group ${g.group} mixes offerings although allowMixedInstances=false`);
    }
    if (Math.abs(groupMonthly - g.monthlyPrice) > 1e-6 * Math.max(1, groupMonthly)) {
      errors.push(`group ${g.group} monthly price ${g.monthlyPrice} != ${groupMonthly}`);
    }
    monthly += g.monthlyPrice;
  }
  if (newNodes !== decision.newNodes) errors.push(`newNodes ${decision.newNodes} != ${newNodes}`);
  if (Math.abs(monthly - decision.monthlyPrice) > 1e-6 * Math.max(1, monthly)) {
    errors.push(`monthly price ${decision.monthlyPrice} != ${monthly}`);
  }
  if (startingClusterNodes(input) + newNodes > input.maxClusterNodes && newNodes > 0) {
    errors.push(`cluster limit exceeded: ${startingClusterNodes(input)} + ${newNodes} > ${input.maxClusterNodes}`);
  }

  const pending = new Map<string, SimPod>();
  for (const p of input.pendingPods) pending.set(podKey(p), p);
  const seen = new Set<string>();
  const onNode = new Map<string, string[]>();
  for (const pl of decision.placements) {
    const pod = pending.get(pl.pod);
    if (!pod) {
      errors.push(`placement of unknown pod ${pl.pod}`);
      continue;
    }
    if (seen.has(pl.pod)) errors.push(`pod ${pl.pod} placed twice`);
    seen.add(pl.pod);
    if (pod.ownerKind === 'DaemonSet') errors.push(`DaemonSet pod ${pl.pod} placed`);
    const snap = byName.get(pl.node);
    if (!snap) {
      errors.push(`pod ${pl.pod} placed on unknown node ${pl.node}`);
      continue;
    }
    const failure = filterNode(pod, snap, snapshots, hints(pod));
    if (failure) errors.push(`pod ${pl.pod} does not fit node ${pl.node}: ${failure}`);
    snap.pods.push(pod);
    if (pl.target === 'new') {
      const l = onNode.get(pl.node) ?? [];
      l.push(pl.pod);
      onNode.set(pl.node, l);
    }
  }
  for (const u of decision.unplaced) {
    if (seen.has(u.pod)) errors.push(`pod ${u.pod} both placed and unplaced`);
    seen.add(u.pod);
  }
  for (const key of pending.keys()) if (!seen.has(key)) errors.push(`pod ${key} neither placed nor unplaced`);
  for (const [name, pods] of expectedOnNode) {
    const actual = onNode.get(name) ?? [];
    if (actual.join('\n') !== pods.join('\n')) errors.push(`node ${name} pod list differs from its placements`);
  }
  const fits = decision.placements.filter((p) => p.target !== 'new');
  if (fits.length !== decision.fitsExisting.length) errors.push('fitsExisting differs from non-new placements');
  return errors;
}
