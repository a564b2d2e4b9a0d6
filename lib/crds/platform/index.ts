/** The platform.io custom resources (VPANAPCoordination) and the coordination configuration types. Workflow-safe: no I/O. */
export * from './constants';
export * from './types';
export * from './coordination';
export * from './config-types';
