// Every workflow the worker registers (the worker bundles this file).
export * from './fake-capacity';
export * from './nodegroup';
export * from './vpsienode-lifecycle';
