/**
 * Label selector, node selector and toleration matching with Kubernetes semantics.
 */
import type { LabelMap, LabelSelector, LabelSelectorRequirement, NodeSelectorRequirement, NodeSelectorTerm, SimNode, Taint, Toleration } from './types';

function has(labels: LabelMap, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

function labelValue(labels: LabelMap, key: string): string | undefined {
  return has(labels, key) ? labels[key] : undefined;
}

/** metav1.LabelSelectorRequirement. */
export function matchesLabelRequirement(labels: LabelMap, req: LabelSelectorRequirement): boolean {
  const v = labelValue(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return v !== undefined && values.includes(v);
    case 'NotIn':
      return v === undefined || !values.includes(v);
    case 'Exists':
      return v !== undefined;
    case 'DoesNotExist':
      return v === undefined;
    default:
      return false;
  }
}

/**
 * metav1.LabelSelector: an absent selector matches nothing, an empty one ({}) matches everything.
 */
export function matchesLabelSelector(labels: LabelMap, selector: LabelSelector | undefined): boolean {
  if (selector === undefined) return false;
  const ml = selector.matchLabels;
  if (ml) {
    for (const k of Object.keys(ml)) {
      if (labelValue(labels, k) !== ml[k]) return false;
    }
  }
  for (const req of selector.matchExpressions ?? []) {
    if (!matchesLabelRequirement(labels, req)) return false;
  }
  return true;
}

function parseIntStrict(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** v1.NodeSelectorRequirement against a value (label value or field value). */
export function matchesNodeSelectorRequirement(value: string | undefined, req: NodeSelectorRequirement): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1) return false;
      const a = parseIntStrict(value);
      const b = parseIntStrict(values[0] ?? '');
      if (a === undefined || b === undefined) return false;
      return req.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** One node selector term: all expressions and fields must match; an empty term matches nothing. */
export function matchesNodeSelectorTerm(node: Pick<SimNode, 'name' | 'labels'>, term: NodeSelectorTerm): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const req of exprs) {
    if (!matchesNodeSelectorRequirement(labelValue(node.labels, req.key), req)) return false;
  }
  for (const req of fields) {
    const v = req.key === 'metadata.name' ? node.name : undefined;
    if (!matchesNodeSelectorRequirement(v, req)) return false;
  }
  return true;
}

/** Required node affinity: terms are OR-ed; an empty list matches nothing; undefined matches everything. */
export function matchesNodeSelectorTerms(node: Pick<SimNode, 'name' | 'labels'>, terms: readonly NodeSelectorTerm[] | undefined): boolean {
  if (terms === undefined) return true;
  for (const t of terms) if (matchesNodeSelectorTerm(node, t)) return true;
  return false;
}

/** pod.spec.nodeSelector: every key must be present with an equal value. */
export function matchesNodeSelector(labels: LabelMap, nodeSelector: LabelMap | undefined): boolean {
  if (!nodeSelector) return true;
  for (const k of Object.keys(nodeSelector)) {
    if (labelValue(labels, k) !== nodeSelector[k]) return false;
  }
  return true;
}

/** v1.Toleration.ToleratesTaint. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== undefined && toleration.effect !== taint.effect) return false;
  const key = toleration.key ?? '';
  if (key !== '' && key !== taint.key) return false;
  const op = toleration.operator ?? 'Equal';
  if (op === 'Exists') return true;
  // Equal: an empty key requires Exists (validation), so key must match here.
  if (key === '') return false;
  return (toleration.value ?? '') === (taint.value ?? '');
}

export function taintTolerated(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  for (const t of tolerations ?? []) if (toleratesTaint(t, taint)) return true;
  return false;
}
