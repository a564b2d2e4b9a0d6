/** Pure scheduling simulation (no I/O; safe for Temporal workflow code). */
export * from './types';
export * from './quantity';
export * from './labels';
export * from './predicates';
export * from './state';
export { canonicalJson } from './canonical';
