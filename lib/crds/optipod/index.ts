/** OptiPod's custom resource. Workflow-safe: no I/O (the manifest loader is ./manifest). */
export * from './constants';
export * from './quantity';
export * from './policy';
export * from './parse';
export * from './checkpoint';
export * from './pod-sizing';
