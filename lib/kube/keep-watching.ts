/**
 * A ListWatch (informer) that ends with an error — a refused connection, a reset, the apiserver's
 * "storage is (re)initializing" 429 at start-up — emits ERROR once and stops for good; only a
 * clean end or a client timeout reconnects by itself. `keepWatching` restarts it after `delayMs`
 * (list and watch again), until `stopped()` says the owner is shutting down.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../log';

export interface Restartable {
  start(): Promise<void>;
  on(verb: typeof k8s.ERROR, cb: (err?: unknown) => void): void;
}

export function keepWatching(w: Restartable, o: { what: string; log: Logger; stopped: () => boolean; delayMs?: number }): void {
  w.on(k8s.ERROR, (err?: unknown) => {
    if (o.stopped()) return;
    o.log.warn(`${o.what} watch interrupted; restarting`, { error: String(err) });
    setTimeout(() => {
      if (!o.stopped()) w.start().catch((e: unknown) => o.log.error(`${o.what} watch restart failed`, { error: String(e) }));
    }, o.delayMs ?? 2000).unref();
  });
}
