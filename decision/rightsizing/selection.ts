/**
 * Which workloads each OptimizationPolicy governs.
 *
 * - Namespaces: `deny` beats `allow`; `namespaceSelector` must match the namespace's labels.
 * - Kinds: `workloadTypes.exclude` beats `include` (all three kinds when include is empty).
 * - Tenancy: a policy in an ordinary namespace reaches only its own namespace; a policy in the
 *   operator's namespace reaches the namespaces its selector names. So one tenant can never
 *   rightsize another's workloads.
 * - Overlaps: when several policies select a workload, the highest weight governs it, then the
 *   smallest `namespace/name`; the others learn which policy won. Disabled policies do not compete.
 *   The result does not depend on the order of the inputs.
 *
 * Pure: the caller lists namespaces, workloads and policies.
 */
import type { SelectorOperator, WorkloadKind } from '../../lib/crds/optipod/constants';
import { WORKLOAD_KINDS } from '../../lib/crds/optipod/constants';
import type { OptimizationPolicySpec } from '../../lib/crds/optipod/policy';

export interface LabelSelectorLike {
  matchLabels?: Record<string, string> | undefined;
  matchExpressions?: readonly { key: string; operator: SelectorOperator; values?: readonly string[] | undefined }[] | undefined;
}

export interface SelectablePolicy {
  namespace: string;
  name: string;
  spec: Pick<OptimizationPolicySpec, 'mode' | 'selector' | 'weight'>;
}

export interface NamespaceInfo {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface WorkloadInfo {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** `namespace/name` of a policy. */
export const policyKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;
/** `Kind/namespace/name` of a workload. */
export const workloadKey = (w: { kind: string; namespace: string; name: string }): string => `${w.kind}/${w.namespace}/${w.name}`;

/** Kubernetes label-selector semantics; an absent or empty selector matches everything. */
export function matchesSelector(sel: LabelSelectorLike | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (sel === undefined) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Why a policy does not reach a namespace. */
export type NamespaceRefusal = 'OtherTenant' | 'Denied' | 'NotAllowed' | 'NamespaceSelectorMismatch';

export function namespaceRefusal(policy: SelectablePolicy, ns: NamespaceInfo, operatorNamespace: string): NamespaceRefusal | undefined {
  const sel = policy.spec.selector;
  if (policy.namespace !== operatorNamespace && ns.name !== policy.namespace) return 'OtherTenant';
  if (sel.namespaces?.deny?.includes(ns.name)) return 'Denied';
  const allow = sel.namespaces?.allow;
  if (allow !== undefined && allow.length > 0 && !allow.includes(ns.name)) return 'NotAllowed';
  if (!matchesSelector(sel.namespaceSelector, ns.labels)) return 'NamespaceSelectorMismatch';
  return undefined;
}

export function kindSelected(policy: SelectablePolicy, kind: WorkloadKind): boolean {
  const t = policy.spec.selector.workloadTypes;
  if (t?.exclude?.includes(kind)) return false;
  const include = t?.include !== undefined && t.include.length > 0 ? t.include : WORKLOAD_KINDS;
  return include.includes(kind);
}

/** True when `policy` selects `w` (ignoring other policies). Unknown namespaces are never reached. */
export function selects(policy: SelectablePolicy, w: WorkloadInfo, namespaces: ReadonlyMap<string, NamespaceInfo>, operatorNamespace: string): boolean {
  const ns = namespaces.get(w.namespace);
  if (ns === undefined || namespaceRefusal(policy, ns, operatorNamespace) !== undefined) return false;
  return kindSelected(policy, w.kind) && matchesSelector(policy.spec.selector.workloadSelector, w.labels);
}

/** Does `a` beat `b` for a workload both select? Higher weight, then the smaller namespace/name. */
export function beats(a: SelectablePolicy, b: SelectablePolicy): boolean {
  if (a.spec.weight !== b.spec.weight) return a.spec.weight > b.spec.weight;
  const ka = policyKey(a);
  const kb = policyKey(b);
  return ka < kb;
}

export interface Overridden {
  workload: WorkloadInfo;
  /** The policy that governs it (namespace/name). */
  winner: string;
}

export interface PolicySelection {
  policy: string;
  /** Workloads this policy governs, sorted by kind/namespace/name. */
  governed: WorkloadInfo[];
  /** Workloads it selects that a stronger policy governs, with that policy. */
  overridden: Overridden[];
}

export interface Settlement {
  /** One entry per policy, sorted by namespace/name. */
  policies: PolicySelection[];
  /** Workload key → the governing policy (namespace/name). */
  governor: Map<string, string>;
}

const byWorkload = (a: WorkloadInfo, b: WorkloadInfo): number => {
  const ka = workloadKey(a);
  const kb = workloadKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** Settles every workload between the policies that select it. Independent of input order. */
export function settle(
  policies: readonly SelectablePolicy[],
  namespaces: readonly NamespaceInfo[],
  workloads: readonly WorkloadInfo[],
  operatorNamespace: string,
): Settlement {
  const nsMap = new Map(namespaces.map((n) => [n.name, n]));
  const active = policies.filter((p) => p.spec.mode !== 'Disabled');
  const result = new Map<string, PolicySelection>();
  for (const p of policies) result.set(policyKey(p), { policy: policyKey(p), governed: [], overridden: [] });
  const governor = new Map<string, string>();
  const seen = new Set<string>();
  for (const w of [...workloads].sort(byWorkload)) {
    const wk = workloadKey(w);
    if (seen.has(wk)) continue;
    seen.add(wk);
    const candidates = active.filter((p) => selects(p, w, nsMap, operatorNamespace));
    if (candidates.length === 0) continue;
    let winner = candidates[0]!;
    for (const c of candidates) if (beats(c, winner)) winner = c;
    const wkey = policyKey(winner);
    governor.set(wk, wkey);
    for (const c of candidates) {
      const entry = result.get(policyKey(c))!;
      if (c === winner) entry.governed.push(w);
      else entry.overridden.push({ workload: w, winner: wkey });
    }
  }
  return { policies: [...result.values()].sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0)), governor };
}
