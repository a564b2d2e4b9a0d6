/** Pods → workloads through owner references (one pod list and one ReplicaSet list per namespace). */
import { expect } from 'chai';
import { ownership, workloadOfPod, type OwnedObject } from '../../../../activities/rightsizing/owners';

const owned = (name: string, kind?: string, owner?: string, apiVersion = 'apps/v1', controller: boolean | undefined = true): OwnedObject => ({
  metadata: { name, ownerReferences: kind && owner ? [{ apiVersion, kind, name: owner, controller }] : undefined },
});

describe('rightsizing providers: owner mapping', () => {
  const replicaSets = [owned('web-6d4cf56db6', 'Deployment', 'web'), owned('web-55bd7d8f9c', 'Deployment', 'web'), owned('bare-rs', undefined, undefined)];
  const pods = [
    owned('web-6d4cf56db6-abcde', 'ReplicaSet', 'web-6d4cf56db6'),
    owned('web-55bd7d8f9c-xyz12', 'ReplicaSet', 'web-55bd7d8f9c'),
    owned('db-0', 'StatefulSet', 'db'),
    owned('agent-k2j4p', 'DaemonSet', 'agent'),
    owned('bare-rs-aaaaa', 'ReplicaSet', 'bare-rs'),
    owned('job-x-q1w2e', 'Job', 'job-x', 'batch/v1'),
    owned('lonely'),
    owned('foreign-0', 'StatefulSet', 'db', 'example.com/v1'),
  ];
  const o = ownership('ns1', pods, replicaSets);

  it('maps Pod → ReplicaSet → Deployment, Pod → StatefulSet, Pod → DaemonSet', () => {
    expect(o.pods.get('web-6d4cf56db6-abcde')).to.deep.equal({ kind: 'Deployment', namespace: 'ns1', name: 'web' });
    expect(o.pods.get('web-55bd7d8f9c-xyz12'), 'a pod of the previous revision is the same Deployment').to.deep.equal({
      kind: 'Deployment',
      namespace: 'ns1',
      name: 'web',
    });
    expect(o.pods.get('db-0')).to.deep.equal({ kind: 'StatefulSet', namespace: 'ns1', name: 'db' });
    expect(o.pods.get('agent-k2j4p')).to.deep.equal({ kind: 'DaemonSet', namespace: 'ns1', name: 'agent' });
  });

  it('leaves out pods with no workload: a ReplicaSet no Deployment owns, a Job, a bare pod, an owner of another API group', () => {
    for (const p of ['bare-rs-aaaaa', 'job-x-q1w2e', 'lonely', 'foreign-0']) expect(o.pods.has(p), p).to.equal(false);
    expect(o.pods.size).to.equal(4);
  });

  it('follows the controller reference when a pod has several owners', () => {
    const p: OwnedObject = {
      metadata: {
        name: 'multi-abcde',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'not-controller', controller: false },
          { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'the-controller', controller: true },
        ],
      },
    };
    expect(ownership('ns1', [p], []).pods.get('multi-abcde')).to.deep.equal({ kind: 'StatefulSet', namespace: 'ns1', name: 'the-controller' });
  });

  it('a pod of the window that is gone is found by its ReplicaSet name; unknown names are not guessed', () => {
    expect(workloadOfPod(o, 'web-6d4cf56db6-zzzzz')).to.deep.equal({ kind: 'Deployment', namespace: 'ns1', name: 'web' });
    expect(workloadOfPod(o, 'web-zzzzz')).to.equal(undefined);
    expect(workloadOfPod(o, 'bare-rs-bbbbb'), 'a ReplicaSet without a Deployment').to.equal(undefined);
    expect(workloadOfPod(o, 'db-1'), 'StatefulSets are not guessed from names').to.equal(undefined);
  });
});
