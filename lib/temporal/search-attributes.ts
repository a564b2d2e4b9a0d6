/**
 * The search attributes of the orchestrator's workflows (registered on the namespace by
 * temporal-dev.yaml, or by the operator on an existing server): one definition each, used by the
 * starters (typed attributes at start) and the workflows (upserts). Workflow-safe.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** `<namespace>/<name>` of the NodeGroup a node-autoscaling workflow belongs to. */
export const NODEGROUP_SEARCH_ATTRIBUTE = 'NodeGroup';
export const SA_NODEGROUP = defineSearchAttributeKey(NODEGROUP_SEARCH_ATTRIBUTE, SearchAttributeType.KEYWORD);
/** `<namespace>/<name>` of the VPSieNode of a lifecycle workflow. */
export const SA_VPSIENODE = defineSearchAttributeKey('VPSieNode', SearchAttributeType.KEYWORD);
/** The VPSieNode phase a lifecycle workflow is in. */
export const SA_PHASE = defineSearchAttributeKey('Phase', SearchAttributeType.KEYWORD);
/** `<namespace>/<name>` of the OptimizationPolicy a rightsizing run belongs to. */
export const SA_OPTIMIZATION_POLICY = defineSearchAttributeKey('OptimizationPolicy', SearchAttributeType.KEYWORD);
/** `Kind/namespace/name` of the workloads a rightsizing run governs (capped). */
export const SA_WORKLOAD = defineSearchAttributeKey('Workload', SearchAttributeType.KEYWORD_LIST);
/** `<namespace>/<name>` of the VPANAPCoordination a coordination run acts on. */
export const SA_COORDINATION = defineSearchAttributeKey('VPANAPCoordination', SearchAttributeType.KEYWORD);
/** A coordination run's circuit breaker: Closed, Open or HalfOpen. */
export const SA_CIRCUIT_BREAKER = defineSearchAttributeKey('CircuitBreaker', SearchAttributeType.KEYWORD);
/**
 * The typed reason of the last decision a node-autoscaling run made (a scale-up's outcome such as
 * TriggeredScaleUp or ScaleUpRefused, a removal's Underutilized or Consolidation, a drain's
 * outcome, a garbage collection's verdict), so the Web UI filters runs by why as well as by group.
 */
export const DECISION_REASON_SEARCH_ATTRIBUTE = 'DecisionReason';
export const SA_DECISION_REASON = defineSearchAttributeKey(DECISION_REASON_SEARCH_ATTRIBUTE, SearchAttributeType.KEYWORD);
