/**
 * A thin watcher: it sees the scheduler's `FailedScheduling` Events and hands each one, parsed,
 * to a callback (which starts or signals a workflow). It decides nothing itself.
 */
import * as k8s from '@kubernetes/client-node';
import { parseSchedulerReasons, type SchedulerReason } from '../../decision/nodes/batching/reasons';
import { keepWatching } from '../../lib/kube/keep-watching';
import { logger } from '../../lib/log';

export interface FailedScheduling {
  namespace: string;
  podName: string;
  podUid: string | undefined;
  message: string;
  /** The scheduler's reasons, parsed from the message (closed set). */
  reasons: SchedulerReason[];
  /** When the event was first or last seen by the scheduler (ISO). */
  lastSeen: string | undefined;
  eventUid: string;
}

export type Stop = () => Promise<void>;

/** Watches Events with reason FailedScheduling on Pods, cluster-wide. */
export async function watchFailedScheduling(kc: k8s.KubeConfig, onEvent: (e: FailedScheduling) => void | Promise<void>): Promise<Stop> {
  const log = logger('failed-scheduling-watcher');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const fieldSelector = 'reason=FailedScheduling,involvedObject.kind=Pod';
  const informer = new k8s.ListWatch<k8s.CoreV1Event>(
    '/api/v1/events',
    new k8s.Watch(kc),
    () => core.listEventForAllNamespaces({ fieldSelector }),
    false,
    undefined,
    fieldSelector,
  );
  const handle = (ev: k8s.CoreV1Event): void => {
    const obj = ev.involvedObject;
    if (!obj.name || !obj.namespace || !ev.metadata.uid) return;
    const e: FailedScheduling = {
      namespace: obj.namespace,
      podName: obj.name,
      podUid: obj.uid,
      message: ev.message ?? '',
      reasons: parseSchedulerReasons(ev.message ?? ''),
      lastSeen: toIso(ev.lastTimestamp ?? ev.eventTime ?? ev.firstTimestamp),
      eventUid: ev.metadata.uid,
    };
    Promise.resolve(onEvent(e)).catch((err: unknown) =>
      log.error('handling a FailedScheduling event failed', { pod: `${e.namespace}/${e.podName}`, error: String(err) }),
    );
  };
  informer.on(k8s.ADD, handle);
  informer.on(k8s.UPDATE, handle);
  let stopped = false;
  keepWatching(informer, { what: 'FailedScheduling Event', log, stopped: () => stopped });
  await informer.start();
  log.info('watching FailedScheduling events');
  return async () => {
    stopped = true;
    await informer.stop();
  };
}

function toIso(t: Date | string | undefined): string | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? t.toISOString() : t;
}
