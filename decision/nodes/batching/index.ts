/** Pure batching of scale-up signals (no I/O, time passed in). */
export * from './batcher';
export * from './reasons';
