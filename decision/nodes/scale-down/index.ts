/** Pure scale-down decision code (no I/O, no clock; safe for Temporal workflow code). */
export * from './reasons';
export * from './types';
export * from './pods';
export * from './pdb';
export * from './utilization';
export * from './budget';
export * from './cooldown';
export * from './rules';
export { ClusterSim, placementOrder, TAINT_NOT_READY } from './simulate';
export type { MoveResult, PlacementFailure } from './simulate';
export { decideScaleDown } from './decide';
export { consolidateGroup, nodePrice, plannerGroup, MAX_CONSOLIDATION_NODES } from './methods/consolidation';
export * from './drain-plan';
export * from './records';
export * from './decision-record';
