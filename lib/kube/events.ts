/**
 * Kubernetes Events from typed reasons. Every decision of the orchestrator is recorded as an
 * Event on the object it concerns (a Pod, a Node, a NodeGroup, a VPSieNode), with a reason from
 * a closed set and a message carrying the numbers.
 */
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, NODEGROUP_KIND, NODEGROUP_PLURAL, VERSION, VPSIENODE_KIND, VPSIENODE_PLURAL } from '../crds/autoscaler/constants';
import { logger } from '../log';

export const EVENT_SOURCE = 'vpsie-autoscaler';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for cluster-scoped objects (Nodes). */
  namespace?: string;
  uid?: string;
}

export interface EventRecord {
  target: EventTarget;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Stable key: the same key within one object updates one Event (count++) instead of adding. */
  dedupeKey?: string;
  /** Annotations on the Event object (machine-readable facts for the orchestrator's own watchers). */
  annotations?: Record<string, string>;
}

/** The plurals of the autoscaler's own kinds an Event may be about without its uid at hand. */
const OWN_PLURALS: ReadonlyMap<string, string> = new Map([
  [`${API_VERSION}/${NODEGROUP_KIND}`, NODEGROUP_PLURAL],
  [`${API_VERSION}/${VPSIENODE_KIND}`, VPSIENODE_PLURAL],
]);

/**
 * The uid of a NodeGroup or VPSieNode an Event is about, read when the caller did not give it:
 * `kubectl describe` selects an object's Events by its uid, so an Event without it is not shown
 * there. Undefined for other kinds, a gone object or a failed read (the Event is recorded anyway).
 */
async function ownObjectUid(kc: k8s.KubeConfig, t: EventTarget): Promise<string | undefined> {
  const plural = OWN_PLURALS.get(`${t.apiVersion}/${t.kind}`);
  if (plural === undefined || t.namespace === undefined) return undefined;
  try {
    const o = (await kc
      .makeApiClient(k8s.CustomObjectsApi)
      .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: t.namespace, plural, name: t.name })) as { metadata?: { uid?: unknown } };
    return typeof o.metadata?.uid === 'string' ? o.metadata.uid : undefined;
  } catch {
    return undefined;
  }
}

/** Records an Event (core/v1). Failures are logged, never thrown: an Event is a record, not a step. */
export async function recordEvent(kc: k8s.KubeConfig, e: EventRecord): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = e.target.namespace ?? 'default';
  const uid = e.target.uid ?? (await ownObjectUid(kc, e.target));
  const now = new Date();
  const base = `${e.target.name}.${(e.dedupeKey ?? `${e.reason}-${now.getTime().toString(36)}`).toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`;
  const name = base.slice(0, 253);
  const body: k8s.CoreV1Event = {
    metadata: { name, namespace, ...(e.annotations ? { annotations: e.annotations } : {}) },
    involvedObject: {
      apiVersion: e.target.apiVersion,
      kind: e.target.kind,
      name: e.target.name,
      namespace: e.target.namespace,
      uid,
    },
    reason: e.reason,
    message: e.message.slice(0, 1024),
    type: e.type,
    source: { component: EVENT_SOURCE },
    reportingComponent: EVENT_SOURCE,
    reportingInstance: EVENT_SOURCE,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
  try {
    await core.createNamespacedEvent({ namespace, body });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 409) {
      try {
        const old = await core.readNamespacedEvent({ name, namespace });
        await core.replaceNamespacedEvent({
          name,
          namespace,
          body: { ...old, message: body.message, lastTimestamp: now, count: (old.count ?? 1) + 1 },
        });
        return;
      } catch (e2) {
        err = e2;
      }
    }
    logger('events').warn('could not record an Event', { reason: e.reason, object: `${e.target.kind}/${namespace}/${e.target.name}`, error: String(err) });
  }
}

/**
 * The Event reasons of document 001 §2.5.3 beyond the per-object ones (on the NodeGroup):
 * `ConfigurationError` for a group the orchestrator cannot act on as configured (invalid spec,
 * unknown datacenter, offering or image), `VPSieAPIError` for the VPSie API failing or refusing.
 */
export const NODEGROUP_ERROR_EVENT_REASONS = ['ConfigurationError', 'VPSieAPIError'] as const;
export type NodeGroupErrorEventReason = (typeof NODEGROUP_ERROR_EVENT_REASONS)[number];

const CONFIGURATION_ERRORS: ReadonlySet<string> = new Set(['InvalidConfiguration', 'DatacenterNotFound', 'OfferingNotFound', 'ImageNotFound']);
const VPSIE_API_ERRORS: ReadonlySet<string> = new Set(['VPSieAPIError', 'QuotaExceeded']);

/** The Event reason of a NodeGroup Error condition reason (other failures keep their own reason). */
export function errorEventReason(conditionReason: string): string {
  if (CONFIGURATION_ERRORS.has(conditionReason)) return 'ConfigurationError';
  if (VPSIE_API_ERRORS.has(conditionReason)) return 'VPSieAPIError';
  return conditionReason;
}
