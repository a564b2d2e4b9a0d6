export { VPSieClient, hostnameForRequest, processIdForRequest, vmPhase, matchVm, matchPending, REQUEST_ID_NOTE_PREFIX } from './client';
export { withinPerMinute, type TokenBucketOptions } from './token-bucket';
export type {
  VPSieClientOptions,
  EnsureVmInput,
  EnsureVmResult,
  EnsureGroupWorkerInput,
  EnsureGroupWorkerResult,
  FindVmQuery,
  ListPage,
  MalformedItem,
  VmListing,
  VmLookup,
  VmSnapshot,
  SnapshotAge,
} from './client';
export { VPSieError, isVPSieError, toApplicationFailure, VPSIE_ERROR_TYPES, type VPSieErrorType } from './errors';
export {
  staticCredentials,
  kubernetesSecretCredentials,
  mountedSecretCredentials,
  credentialsFromSecretData,
  type CredentialsSource,
  type VPSieCredentials,
} from './credentials';
export { renderBootstrapUserData, renderBootstrapCloudConfig, type BootstrapInput } from './bootstrap';
export { systemClock, ManualClock, type Clock } from './clock';
export type { ApiBreakerState } from './api-breaker';
export * as schemas from './schemas';
