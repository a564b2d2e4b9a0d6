export { VpsieClient, hostnameForRequest, processIdForRequest, vmPhase, REQUEST_ID_NOTE_PREFIX } from './client';
export type {
  VpsieClientOptions,
  EnsureVmInput,
  EnsureVmResult,
  EnsureGroupWorkerInput,
  EnsureGroupWorkerResult,
  FindVmQuery,
  ListPage,
  MalformedItem,
  VmListing,
  VmLookup,
} from './client';
export { VpsieError, isVpsieError, toApplicationFailure, VPSIE_ERROR_TYPES, type VpsieErrorType } from './errors';
export {
  staticCredentials,
  kubernetesSecretCredentials,
  mountedSecretCredentials,
  credentialsFromSecretData,
  type CredentialsSource,
  type VpsieCredentials,
} from './credentials';
export { renderBootstrapUserData, renderBootstrapCloudConfig, type BootstrapInput } from './bootstrap';
export { systemClock, ManualClock, type Clock } from './clock';
export type { ApiBreakerState } from './api-breaker';
export * as schemas from './schemas';
