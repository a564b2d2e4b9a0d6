/**
 * kube-scheduler's FailedScheduling message → a closed set of reasons. The message looks like
 * `0/5 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {k: v}, 2 node(s)
 * didn't match Pod's node affinity/selector. preemption: ...`. Pure; used by the trigger (to label
 * signals) and shown in the decision record.
 */

export const SCHEDULER_REASONS = [
  'InsufficientCPU',
  'InsufficientMemory',
  'InsufficientPods',
  'InsufficientEphemeralStorage',
  'InsufficientOther',
  'TaintNotTolerated',
  'NodeSelectorMismatch',
  'PodAffinityMismatch',
  'PodAntiAffinityMismatch',
  'TopologySpreadMismatch',
  'NodeUnschedulable',
  'NoNodes',
  'Other',
] as const;
export type SchedulerReason = (typeof SCHEDULER_REASONS)[number];

const RULES: readonly [RegExp, SchedulerReason][] = [
  [/Insufficient cpu/i, 'InsufficientCPU'],
  [/Insufficient memory/i, 'InsufficientMemory'],
  [/Insufficient pods|Too many pods/i, 'InsufficientPods'],
  [/Insufficient ephemeral-storage/i, 'InsufficientEphemeralStorage'],
  [/Insufficient (?!cpu|memory|pods|ephemeral-storage)[\w./-]+/i, 'InsufficientOther'],
  [/untolerated taint|taint.*(didn't|did not|that the pod didn't) tolerate/i, 'TaintNotTolerated'],
  [/didn't match Pod's node affinity|node\(s\) didn't match node selector|didn't match .*node selector/i, 'NodeSelectorMismatch'],
  [/didn't match pod affinity rules|didn't satisfy existing pods anti-affinity/i, 'PodAffinityMismatch'],
  [/didn't match pod anti-affinity rules/i, 'PodAntiAffinityMismatch'],
  [/didn't match pod topology spread constraints/i, 'TopologySpreadMismatch'],
  [/were unschedulable|node\(s\) had unschedulable/i, 'NodeUnschedulable'],
  [/no nodes available to schedule pods|0\/0 nodes are available/i, 'NoNodes'],
];

/** The reasons a FailedScheduling message names, in SCHEDULER_REASONS order; ['Other'] when none. */
export function parseSchedulerReasons(message: string): SchedulerReason[] {
  // Only the part before "preemption:" describes the filters.
  const head = message.split(/preemption:/i)[0] ?? message;
  const found = new Set<SchedulerReason>();
  for (const [re, reason] of RULES) if (re.test(head)) found.add(reason);
  if (found.size === 0) found.add('Other');
  return SCHEDULER_REASONS.filter((r) => found.has(r));
}

/** True when the message says the pod lacks resources (the PRD's classic trigger). */
export function isResourceShortage(reasons: readonly SchedulerReason[]): boolean {
  return reasons.some((r) => r.startsWith('Insufficient'));
}
