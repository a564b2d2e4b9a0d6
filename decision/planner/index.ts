/** Pure scale-up planner (no I/O; safe for Temporal workflow code). */
export * from './types';
export { planScaleUp, planFirstFitDecreasing, planCostDirected, compareDecisions } from './planner';
export { verifyDecision } from './verify';
export { buildTemplates, domainHintsFor, templateLabels, daemonSetOverhead } from './templates';
export type { Template } from './templates';
export { DEFAULT_HOURS_PER_MONTH } from './engine';
