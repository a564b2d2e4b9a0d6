/**
 * What activity factories and starters are given by the orchestrator process. Activities are
 * built as `createXActivities(deps)` so tests can give them a real sandbox's clients.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import type { VPSieClient } from '../clients/vpsie';
import type { Config } from '../lib/config';
import type { NodeCache } from '../lib/kube/node-cache';
import type { PodCache } from '../lib/kube/pod-cache';

export interface OrchestratorDeps {
  config: Config;
  kc: k8s.KubeConfig;
  /** The VPSie API client (credentials from the configured Secret). */
  vpsie: VPSieClient;
  /** Temporal client, for starters and for activities that signal workflows. */
  temporal: Client;
  /** Where every Prometheus metric of this process is registered. */
  registry: Registry;
  /** The process's Node informer (lib/kube/node-cache.ts); without it, activities read Nodes from the apiserver. */
  nodes?: NodeCache;
  /** The process's informer of live pods (lib/kube/pod-cache.ts); without it, the scale-up snapshot lists pods. */
  pods?: PodCache;
}
