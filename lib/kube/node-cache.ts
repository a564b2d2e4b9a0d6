/**
 * One Node informer per orchestrator process (#12: "watches instead of polling"): the lifecycle's
 * join polls (one per joining VPSieNode, every 2 s) read Nodes from this cache instead of listing
 * every Node from the apiserver each time, and the watchers wake a joining lifecycle as soon as
 * its Node appears or turns Ready (`onChange`). Until the first list has arrived `list()` answers
 * undefined and callers read the apiserver themselves.
 */
import * as k8s from '@kubernetes/client-node';
import { logger } from '../log';
import { keepWatching } from './keep-watching';

export type NodeChange = (node: k8s.V1Node, kind: 'add' | 'update' | 'delete') => void;

export class NodeCache {
  private readonly informer: k8s.Informer<k8s.V1Node> & k8s.ObjectCache<k8s.V1Node>;
  private readonly listeners = new Set<NodeChange>();
  private readonly log = logger('node-cache');
  private synced = false;
  private errorSinceStart = false;
  private stopped = false;
  private starting: Promise<void> | undefined;

  constructor(kc: k8s.KubeConfig) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    this.informer = k8s.makeInformer<k8s.V1Node>(kc, '/api/v1/nodes', () => core.listNode());
    const emit = (kind: 'add' | 'update' | 'delete') => (n: k8s.V1Node) => {
      for (const l of this.listeners) {
        try {
          l(n, kind);
        } catch (err) {
          this.log.warn('a Node change listener failed', { node: n.metadata?.name, error: String(err) });
        }
      }
    };
    this.informer.on(k8s.ADD, emit('add'));
    this.informer.on(k8s.UPDATE, emit('update'));
    this.informer.on(k8s.DELETE, emit('delete'));
    // A failed first list leaves the cache unsynced (callers read the apiserver); restarts list again.
    this.informer.on(k8s.ERROR, () => {
      this.errorSinceStart = true;
    });
    keepWatching({ start: () => this.startOnce(), on: (verb, cb) => this.informer.on(verb, cb) }, { what: 'Node', log: this.log, stopped: () => this.stopped });
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

  /** Every cached Node, or undefined before the first list (read the apiserver then). */
  list(): readonly k8s.V1Node[] | undefined {
    return this.synced && !this.stopped ? this.informer.list() : undefined;
  }

  /** The cached Node `name` (undefined when absent or before the first list). */
  get(name: string): k8s.V1Node | undefined {
    return this.synced && !this.stopped ? this.informer.get(name) : undefined;
  }

  onChange(l: NodeChange): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listeners.clear();
    await this.informer.stop();
  }
}
