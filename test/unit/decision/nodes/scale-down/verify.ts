/**
 * Independent check of a scale-down decision: apply every removal (approved, then dry-run) to the
 * snapshot, evict the pods, count evictions per PDB over the whole decision, and replay every move
 * through the reference scheduling predicates (decision/scheduling/predicates filterNode). The
 * approved removals are replayed first and alone, as they happen: a dry-run removal never does.
 */
import { templateLabels } from '../../../../../decision/planner/templates';
import type { NodeSnapshot } from '../../../../../decision/scheduling/predicates';
import { filterNode } from '../../../../../decision/scheduling/predicates';
import type { SimNode, SimPod } from '../../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, podKey } from '../../../../../decision/scheduling/types';
import { budgetCount } from '../../../../../decision/nodes/scale-down/budget';
import { plannerGroup } from '../../../../../decision/nodes/scale-down/methods/consolidation';
import { allowedDisruptions, pdbMatches } from '../../../../../decision/nodes/scale-down/pdb';
import type { Removal, ScaleDownDecision, ScaleDownInput, ScaleDownPod } from '../../../../../decision/nodes/scale-down/types';

/** Evicted = not a DaemonSet or mirror pod, not terminating, not completed (written out again on purpose). */
function evicted(p: ScaleDownPod): boolean {
  if (p.ownerKind === 'DaemonSet') return false;
  if (p.annotations?.['kubernetes.io/config.mirror'] !== undefined) return false;
  if (p.terminating) return false;
  return p.phase !== 'Succeeded' && p.phase !== 'Failed';
}

export function verifyScaleDown(input: ScaleDownInput, d: ScaleDownDecision): string[] {
  const errors: string[] = [];
  const all = [...d.removals, ...d.dryRunRemovals];
  const snaps = new Map<string, { node: SimNode; pods: SimPod[] }>();
  for (const n of input.nodes) {
    const node =
      n.ready === false ? { ...n.node, taints: [...(n.node.taints ?? []), { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' as const }] } : n.node;
    snaps.set(n.node.name, { node, pods: [...n.pods] });
  }
  const removedNames = new Set(all.map((r) => r.node));
  if (removedNames.size !== all.length) errors.push('a node is removed twice');
  // Replacement nodes of consolidations.
  for (const r of all) {
    for (const rep of r.replacements ?? []) {
      if (snaps.has(rep.name)) continue;
      const g = input.groups.find((x) => x.name === r.nodeGroup);
      const o = g?.offerings?.find((x) => x.id === rep.offeringId);
      if (!g || !o) {
        errors.push(`replacement ${rep.name}: unknown offering ${rep.offeringId}`);
        continue;
      }
      const pg = plannerGroup(g);
      const node: SimNode = {
        name: rep.name,
        labels: { ...templateLabels(pg, o), [LABEL_HOSTNAME]: rep.name },
        allocatable: { cpuMilli: o.cpuMilli, memoryBytes: o.memoryBytes, pods: o.pods, ephemeralStorageBytes: o.ephemeralStorageBytes },
      };
      if (pg.taints && pg.taints.length > 0) node.taints = pg.taints;
      snaps.set(rep.name, { node, pods: [] });
    }
  }

  // PDBs: evictions of the original pods of removed nodes, across the whole decision.
  const byPdb = new Map<string, number>();
  for (const name of removedNames) {
    const n = input.nodes.find((x) => x.node.name === name);
    if (!n) {
      errors.push(`removed node ${name} not in the snapshot`);
      continue;
    }
    for (const p of n.pods.filter(evicted)) {
      const m = input.pdbs.filter((b) => pdbMatches(b, p));
      if (m.length > 1) errors.push(`pod ${podKey(p)} with ${m.length} PDBs evicted`);
      for (const b of m) byPdb.set(`${b.namespace}/${b.name}`, (byPdb.get(`${b.namespace}/${b.name}`) ?? 0) + 1);
    }
  }
  for (const b of input.pdbs) {
    const used = byPdb.get(`${b.namespace}/${b.name}`) ?? 0;
    if (used > allowedDisruptions(b)) errors.push(`PDB ${b.namespace}/${b.name}: ${used} evictions > ${allowedDisruptions(b)} allowed`);
  }

  // Replay the moves step by step, in the decision's order. A 'delete' removal is a step of its own;
  // the nodes of one consolidation (one per group) are one step: the removal workflow cordons them
  // all and drains them in parallel, and the decision plans their pods as one set, so none of them
  // is still there while the others' pods move. Every pod on a leaving node must go somewhere valid.
  const steps: Removal[][] = [];
  const consolidationStep = new Map<string, Removal[]>();
  for (const r of all) {
    if (r.kind !== 'consolidate') {
      steps.push([r]);
      continue;
    }
    let s = consolidationStep.get(r.nodeGroup);
    if (!s) {
      s = [];
      consolidationStep.set(r.nodeGroup, s);
      steps.push(s);
    }
    s.push(r);
  }
  const stepOf = new Map<string, number>();
  steps.forEach((s, i) => s.forEach((r) => stepOf.set(r.node, i)));
  const leaving = new Set<string>();
  for (const r of all) leaving.add(r.node);
  for (const rf of input.inFlightRemovals) if (rf.nodeName) leaving.add(rf.nodeName);
  const removedBefore = new Set<string>();
  steps.forEach((step, i) => {
    const moving: { pod: ScaleDownPod; dest: string | undefined; from: string }[] = [];
    for (const r of step) {
      const src = snaps.get(r.node);
      if (!src) continue;
      const moveOf = new Map(r.moves.map((m) => [m.pod, m.node]));
      for (const p of src.pods.filter(evicted)) moving.push({ pod: p, dest: moveOf.get(podKey(p)), from: r.node });
      src.pods = src.pods.filter((p) => !evicted(p));
      removedBefore.add(r.node);
    }
    const cluster = (): NodeSnapshot[] => [...snaps.entries()].filter(([name]) => !removedBefore.has(name)).map(([, s]) => s);
    for (const { pod: p, dest, from } of moving) {
      if (dest === undefined) {
        errors.push(`pod ${podKey(p)} on removed node ${from} has no destination`);
        continue;
      }
      const ds = snaps.get(dest);
      // A move onto a node that a later step takes away again is fine (it moves again).
      if (!ds || removedBefore.has(dest) || (leaving.has(dest) && !((stepOf.get(dest) ?? -1) > i))) {
        errors.push(`pod ${podKey(p)} moved to ${dest}, which is leaving or unknown`);
        continue;
      }
      const q: SimPod = { ...p };
      delete q.nodeName;
      const f = filterNode(q, ds, cluster());
      if (f) errors.push(`pod ${podKey(p)} -> ${dest}: ${f}`);
      ds.pods.push({ ...q, nodeName: dest });
    }
  });

  // Groups: minNodes, budget, gates.
  for (const g of input.groups) {
    const removed = all.filter((r) => r.nodeGroup === g.name);
    if (removed.length === 0) continue;
    const added = new Set(removed.flatMap((r) => (r.replacements ?? []).map((x) => x.name))).size;
    const inFlight = input.inFlightRemovals.filter((x) => x.nodeGroup === g.name).length;
    if (g.currentNodes - inFlight - removed.length + added < g.spec.minNodes) errors.push(`group ${g.name} below minNodes`);
    if (inFlight + removed.length > budgetCount(g.spec.disruptionBudget.maxUnavailable, g.currentNodes))
      errors.push(`group ${g.name} over its disruption budget`);
    if (g.lastScaleUpAt !== undefined && input.now - g.lastScaleUpAt < g.spec.scaleDownPolicy.cooldownSeconds * 1000)
      errors.push(`group ${g.name} scaled down in cooldown`);
    for (const r of removed) {
      const n = input.nodes.find((x) => x.node.name === r.node);
      if (n?.nodeGroup !== g.name) errors.push(`node ${r.node} removed from a group it is not in`);
      if (n?.annotations?.['karpenter.sh/do-not-disrupt'] === 'true') errors.push(`node ${r.node} annotated do-not-disrupt removed`);
      for (const p of n?.pods ?? []) {
        const a = p.annotations ?? {};
        if (
          a['karpenter.sh/do-not-disrupt'] === 'true' ||
          a['autoscaler.vpsie.com/scale-down-disabled'] === 'true' ||
          a['cluster-autoscaler.kubernetes.io/safe-to-evict'] === 'false'
        ) {
          if (!p.terminating) errors.push(`node ${r.node} with opted-out pod ${podKey(p)} removed`);
        }
        if (evicted(p) && a['cluster-autoscaler.kubernetes.io/safe-to-evict'] !== 'true') {
          if (p.ownerKind === undefined) errors.push(`unreplicated pod ${podKey(p)} evicted`);
          if ((p.volumes ?? []).some((v) => v.kind === 'hostPath' || (v.kind === 'emptyDir' && v.medium !== 'Memory')))
            errors.push(`pod ${podKey(p)} with local storage evicted`);
          if (p.namespace === 'kube-system' && !input.pdbs.some((b) => pdbMatches(b, p))) errors.push(`kube-system pod ${podKey(p)} without PDB evicted`);
        }
      }
    }
  }
  for (const r of all) if (!input.groups.some((g) => g.name === r.nodeGroup)) errors.push(`removal ${r.node} of unknown group`);
  return errors;
}
