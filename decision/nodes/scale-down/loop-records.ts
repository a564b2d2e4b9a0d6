/**
 * What the scale-down loop does with a decision, decided here (pure): which approved removals become
 * removal child workflows, which node Events are (re-)sent, which NodeGroups get a Scaling condition,
 * and how that condition merges with the one the NodeGroup workflow writes.
 */
import type { NodeGroupCondition } from '../../../lib/crds/autoscaler/nodegroup';
import { nodeEvent, nodeEvents, scalingCondition, type ScalingCondition } from './records';
import { SAFETY_REASONS, type ScaleDownReason } from './reasons';
import type { ReplacementNode, ScaleDownDecision } from './types';

/** One removal child per approved 'delete' node; one per consolidation (its nodes together). */
export function removalsOf(
  d: ScaleDownDecision,
): { nodeGroup: string; kind: 'delete' | 'consolidate'; nodes: { node: string; vpsieNode?: string }[]; replacements?: ReplacementNode[] }[] {
  const out: { nodeGroup: string; kind: 'delete' | 'consolidate'; nodes: { node: string; vpsieNode?: string }[]; replacements?: ReplacementNode[] }[] = [];
  const cons = new Map<string, (typeof out)[number]>();
  for (const r of d.removals) {
    const n = { node: r.node, ...(r.vpsieNode !== undefined ? { vpsieNode: r.vpsieNode } : {}) };
    if (r.kind === 'delete') {
      out.push({ nodeGroup: r.nodeGroup, kind: 'delete', nodes: [n] });
      continue;
    }
    let c = cons.get(r.nodeGroup);
    if (!c) {
      c = { nodeGroup: r.nodeGroup, kind: 'consolidate', nodes: [], replacements: r.replacements ?? [] };
      cons.set(r.nodeGroup, c);
      out.push(c);
    }
    c.nodes.push(n);
  }
  return out;
}

/**
 * Events to write: only for candidate nodes whose Event reason or set of failing rules changed since the last write
 * (non-candidates drop their key, so a node that becomes a candidate again gets a fresh Event).
 */
export function changedEvents(
  d: ScaleDownDecision,
  keys: Readonly<Record<string, string>>,
): { events: ReturnType<typeof nodeEvents>; keys: Record<string, string> } {
  const next: Record<string, string> = {};
  const events: ReturnType<typeof nodeEvents> = [];
  const blockers = new Map(d.nodes.map((v) => [v.node, [...new Set(v.blockers.map((b) => b.reason))].join(',')]));
  for (const e of nodeEvents(d)) {
    const key = `${e.reason}|${blockers.get(e.node) ?? ''}`;
    next[e.node] = key;
    if (keys[e.node] !== key) events.push(e);
  }
  return { events, keys: next };
}

/**
 * The Scaling conditions the scale-down writes: only for groups it has something to say about (a
 * candidate, a removal, a dry-run removal or a consolidation record). Other groups keep the
 * NodeGroup workflow's own condition.
 */
export function conditionsToWrite(d: ScaleDownDecision): { namespace: string; name: string; condition: ReturnType<typeof scalingCondition> }[] {
  const speaking = new Set<string>();
  for (const v of d.nodes) if (v.candidate && v.nodeGroup !== undefined) speaking.add(v.nodeGroup);
  for (const r of [...d.removals, ...d.dryRunRemovals]) speaking.add(r.nodeGroup);
  return d.groups
    .filter((g) => speaking.has(g.nodeGroup) || g.consolidation !== undefined)
    .map((g) => ({ namespace: g.namespace, name: g.nodeGroup, condition: scalingCondition(d, g) }));
}

/** Marks the Scaling conditions the scale-down wrote (so it may replace its own ScalingDown). */
export const SCALE_DOWN_CONDITION_PREFIX = 'scale-down: ';

/**
 * The Scaling condition list after the scale-down writes `mine`, or undefined when nothing should
 * be written: the NodeGroup workflow owns the condition while it scales (status True, unless the
 * True condition is the scale-down's own), and an identical condition is not rewritten. lastTransitionTime is kept when the status is unchanged.
 */
export function mergeScalingCondition(
  previous: readonly NodeGroupCondition[],
  condition: ScalingCondition,
  generation: number,
  now: string,
): NodeGroupCondition[] | undefined {
  const mine = { ...condition, message: `${SCALE_DOWN_CONDITION_PREFIX}${condition.message}` };
  const prev = previous.find((c) => c.type === 'Scaling');
  if (prev && prev.status === 'True' && mine.status !== 'True' && !prev.message.startsWith(SCALE_DOWN_CONDITION_PREFIX)) return undefined;
  if (prev && prev.status === mine.status && prev.reason === mine.reason && prev.message === mine.message.slice(0, 4000)) return undefined;
  const next: NodeGroupCondition = {
    type: 'Scaling',
    status: mine.status,
    observedGeneration: prev?.observedGeneration ?? generation,
    lastTransitionTime: prev && prev.status === mine.status ? prev.lastTransitionTime : now,
    reason: mine.reason,
    message: mine.message.slice(0, 4000),
  };
  const out = previous.filter((c) => c.type !== 'Scaling');
  out.push(next);
  return out;
}

/**
 * Safety checks that start failing in this decision: for every blocked node, the safety reasons
 * it fails now and did not fail at the last written Event (its key in `keys`, as `changedEvents`
 * keeps them), counted per NodeGroup and reason. A check that keeps failing tick after tick is
 * counted once; one that passes and fails again is counted again.
 */
export function safetyFailureTransitions(
  d: ScaleDownDecision,
  keys: Readonly<Record<string, string>>,
): { nodeGroup: string; reason: ScaleDownReason; count: number }[] {
  const counts = new Map<string, { nodeGroup: string; reason: ScaleDownReason; count: number }>();
  for (const v of d.nodes) {
    if (v.outcome !== 'blocked') continue;
    const before = new Set((keys[v.node]?.split('|')[1] ?? '').split(',').filter((x) => x !== ''));
    for (const r of new Set(v.blockers.map((b) => b.reason))) {
      if (!SAFETY_REASONS.includes(r) || before.has(r)) continue;
      const g = v.nodeGroup ?? 'none';
      const k = `${g}|${r}`;
      const c = counts.get(k) ?? { nodeGroup: g, reason: r, count: 0 };
      c.count += 1;
      counts.set(k, c);
    }
  }
  return [...counts.values()].sort((a, b) => (a.nodeGroup < b.nodeGroup ? -1 : a.nodeGroup > b.nodeGroup ? 1 : a.reason < b.reason ? -1 : 1));
}

/** The typed reason of a removal's decision (the DecisionReason search attribute, the NodeGroup status). */
export function removalDecisionReason(kind: 'delete' | 'consolidate'): 'Underutilized' | 'Consolidation' {
  return kind === 'consolidate' ? 'Consolidation' : 'Underutilized';
}

/**
 * The scale-down decision of one removal, as it travels with the removal (its history) and lands
 * in the NodeGroup status: the typed reason and, per node, the verdict's numbers (window
 * utilisation against the thresholds, pods to evict and where they go).
 */
export function removalDecision(
  d: ScaleDownDecision,
  r: { kind: 'delete' | 'consolidate'; nodes: readonly { node: string }[] },
  at: string,
): { reason: 'Underutilized' | 'Consolidation'; message: string; at: string } {
  const verdicts = new Map(d.nodes.map((v) => [v.node, v]));
  const parts = r.nodes.map((n) => {
    const v = verdicts.get(n.node);
    return v ? `${n.node}: ${nodeEvent(v).message}` : `${n.node}: approved`;
  });
  return { reason: removalDecisionReason(r.kind), message: `scale-down decision of ${at}: ${parts.join('; ')}`.slice(0, 1500), at };
}
