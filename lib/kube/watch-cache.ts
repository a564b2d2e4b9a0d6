/**
 * One informer per kind per orchestrator process, read instead of listing from the apiserver
 * (#12 "watches instead of polling", #13 "the watchers' caches instead of lists per batch").
 * Until the first list has arrived — or when it failed — `list()` answers undefined and callers
 * read the apiserver themselves. A watch that ends with an error is started again (keepWatching).
 * `trim`, when given, drops what no reader needs from every object as it arrives, so the cache
 * holds a small form (the informer keeps the same object).
 */
import * as k8s from '@kubernetes/client-node';
import { logger } from '../log';
import { keepWatching } from './keep-watching';

export type Change<T> = (obj: T, kind: 'add' | 'update' | 'delete') => void;

export interface WatchCacheOptions<T extends k8s.KubernetesObject> {
  /** For logs: "Node", "Pod". */
  what: string;
  path: string;
  list: () => Promise<k8s.KubernetesListObject<T>>;
  fieldSelector?: string;
  trim?: (obj: T) => void;
}

export class WatchCache<T extends k8s.KubernetesObject> {
  private readonly informer: k8s.ListWatch<T>;
  private readonly listeners = new Set<Change<T>>();
  private readonly log;
  private synced = false;
  private errorSinceStart = false;
  private stopped = false;
  private starting: Promise<void> | undefined;

  constructor(kc: k8s.KubeConfig, o: WatchCacheOptions<T>) {
    this.log = logger(`${o.what.toLowerCase()}-cache`);
    this.informer = new k8s.ListWatch<T>(o.path, new k8s.Watch(kc), o.list, false, undefined, o.fieldSelector);
    const emit = (kind: 'add' | 'update' | 'delete') => (obj: T) => {
      if (kind !== 'delete') o.trim?.(obj);
      for (const l of this.listeners) {
        try {
          l(obj, kind);
        } catch (err) {
          this.log.warn(`a ${o.what} change listener failed`, { name: obj.metadata?.name, error: String(err) });
        }
      }
    };
    // Registered first, so `trim` runs before any other listener sees the object.
    this.informer.on(k8s.ADD, emit('add'));
    this.informer.on(k8s.UPDATE, emit('update'));
    this.informer.on(k8s.DELETE, emit('delete'));
    // A failed first list leaves the cache unsynced (callers read the apiserver); restarts list again.
    this.informer.on(k8s.ERROR, () => {
      this.errorSinceStart = true;
    });
    keepWatching({ start: () => this.startOnce(), on: (verb, cb) => this.informer.on(verb, cb) }, { what: o.what, log: this.log, stopped: () => this.stopped });
  }

  /** Starts the informer (once); resolves after the first list. */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    this.errorSinceStart = false;
    await this.informer.start();
    if (!this.errorSinceStart) this.synced = true;
  }

  /** Every cached object, or undefined before the first list (read the apiserver then). */
  list(): readonly T[] | undefined {
    return this.synced && !this.stopped ? this.informer.list() : undefined;
  }

  /** The cached object `name` (in `namespace`); undefined when absent or before the first list. */
  get(name: string, namespace?: string): T | undefined {
    return this.synced && !this.stopped ? this.informer.get(name, namespace) : undefined;
  }

  onChange(l: Change<T>): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listeners.clear();
    await this.informer.stop();
  }
}
