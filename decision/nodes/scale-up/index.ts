/** Pure scale-up record building and stabilization (workflow-safe). */
export * from './record';
