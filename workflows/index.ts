// Every workflow the worker registers (the worker bundles this file).
export * from './nodes/fake-capacity';
export * from './nodes/nodegroup/workflow';
export * from './nodes/garbage-collection';
export * from './nodes/lifecycle/workflow';
export * from './nodes/scale-up';
export * from './nodes/scale-down/loop';
export * from './rightsizing/policy';
export * from './coordination/coordination';
export * from './coordination/hub';
export * from './coordination/backup';
