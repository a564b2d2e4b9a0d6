// Every workflow the worker registers (the worker bundles this file).
export * from './fake-capacity';
export * from './nodegroup';
export * from './garbage-collection';
export * from './vpsienode-lifecycle';
export * from './scale-up';
export * from './scale-down';
