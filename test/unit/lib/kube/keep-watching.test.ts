/**
 * A ListWatch whose list or watch fails (the apiserver's "storage is (re)initializing" 429 at
 * start-up, a reset connection) emits ERROR once and never reconnects by itself; the scale-up
 * trigger's pending-pod, node-pressure and FailedScheduling watches stopped for good that way.
 * The real client-node ListWatch here, on a scripted list function and watch transport.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { keepWatching } from '../../../../lib/kube/keep-watching';
import { logger } from '../../../../lib/log';

type Done = (err: unknown) => void;

function scripted(failFirstLists: number) {
  let lists = 0;
  const dones: Done[] = [];
  const listFn = async (): Promise<k8s.KubernetesListObject<k8s.V1Namespace>> => {
    lists++;
    if (lists <= failFirstLists) throw Object.assign(new Error('HTTP-Code: 429 storage is (re)initializing'), { code: 429 });
    return {
      apiVersion: 'v1',
      kind: 'NamespaceList',
      metadata: { resourceVersion: String(lists) },
      items: [{ metadata: { name: `ns-${lists}`, uid: `u-${lists}` } }],
    };
  };
  const watch = {
    watch: async (_path: string, _q: unknown, _cb: unknown, done: Done) => {
      dones.push(done);
      return { abort: () => undefined };
    },
  } as unknown as k8s.Watch;
  return { listFn, watch, lists: () => lists, dones };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keepWatching: a watch that ends with an error is started again', () => {
  const log = logger('test');

  it('without it, a failed first list leaves the ListWatch dead (the bug)', async () => {
    const s = scripted(1);
    const lw = new k8s.ListWatch<k8s.V1Namespace>('/api/v1/namespaces', s.watch, s.listFn, false);
    let errors = 0;
    lw.on(k8s.ERROR, () => errors++);
    await lw.start();
    await sleep(60);
    expect(errors).to.equal(1);
    expect(s.lists()).to.equal(1);
    expect(lw.list()).to.deep.equal([]);
    await lw.stop();
  });

  it('a failed first list is listed again and the objects arrive', async () => {
    const s = scripted(2);
    const lw = new k8s.ListWatch<k8s.V1Namespace>('/api/v1/namespaces', s.watch, s.listFn, false);
    let stopped = false;
    const added: string[] = [];
    lw.on(k8s.ADD, (o) => added.push(o.metadata?.name ?? ''));
    keepWatching(lw, { what: 'Namespace', log, stopped: () => stopped, delayMs: 20 });
    await lw.start();
    for (let i = 0; i < 100 && added.length === 0; i++) await sleep(10);
    expect(s.lists()).to.equal(3);
    expect(added).to.deep.equal(['ns-3']);
    stopped = true;
    await lw.stop();
  });

  it('a watch that breaks later (connection reset) is restarted; none after the owner stopped', async () => {
    const s = scripted(0);
    const lw = new k8s.ListWatch<k8s.V1Namespace>('/api/v1/namespaces', s.watch, s.listFn, false);
    let stopped = false;
    keepWatching(lw, { what: 'Namespace', log, stopped: () => stopped, delayMs: 20 });
    await lw.start();
    expect(s.dones).to.have.length(1);
    s.dones[0]!(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    for (let i = 0; i < 100 && s.dones.length < 2; i++) await sleep(10);
    expect(s.dones, 'watching again').to.have.length(2);
    stopped = true;
    s.dones[1]!(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await sleep(80);
    expect(s.dones, 'no restart once stopped').to.have.length(2);
    await lw.stop();
  });
});
