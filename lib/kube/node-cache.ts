/**
 * The process's Node informer (#12: "watches instead of polling"): the lifecycle's join polls
 * (one per joining VPSieNode, every 2 s) and the scale-up snapshot read Nodes from this cache
 * instead of listing every Node from the apiserver each time, and the watchers wake a joining
 * lifecycle as soon as its Node appears or turns Ready (`onChange`).
 */
import * as k8s from '@kubernetes/client-node';
import { WatchCache, type Change } from './watch-cache';

export type NodeChange = Change<k8s.V1Node>;

export class NodeCache extends WatchCache<k8s.V1Node> {
  constructor(kc: k8s.KubeConfig) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    super(kc, {
      what: 'Node',
      path: '/api/v1/nodes',
      list: () => core.listNode(),
      trim: (n) => {
        if (n.metadata) delete n.metadata.managedFields;
        if (n.status) delete n.status.images;
      },
    });
  }
}
