/** Workflow-safe: no I/O. File access to the manifests is in ./manifests. */
export * from './constants';
export * from './common';
export * from './nodegroup';
export * from './vpsienode';
export * from './parse';
export * from './ownership';
