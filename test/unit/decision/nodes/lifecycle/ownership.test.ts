import { expect } from 'chai';
import { checkOwnership, type OwnerRef, type OwnershipInput } from '../../../../../decision/nodes/lifecycle/ownership';

const UID = '11111111-2222-3333-4444-555555555555';
const owner = (over: Partial<OwnerRef> = {}): OwnerRef => ({
  apiVersion: 'autoscaler.vpsie.com/v1alpha1',
  kind: 'NodeGroup',
  name: 'workers',
  uid: UID,
  controller: true,
  ...over,
});
const input = (refs: OwnerRef[] | undefined, nodeGroup: OwnershipInput['nodeGroup'] | null = { uid: UID, deleting: false }): OwnershipInput => ({
  vpsieNode: { namespace: 'ns', name: 'workers-abc', nodeGroupName: 'workers', ...(refs ? { ownerReferences: refs } : {}) },
  ...(nodeGroup ? { nodeGroup } : {}),
});

describe('VPSieNode ownership at the start of its lifecycle', () => {
  it('a VPSieNode controlled by its existing NodeGroup (same name and uid) is owned', () => {
    expect(checkOwnership(input([owner()]))).to.deep.equal({ owned: true });
  });

  it('a VPSieNode without any ownerReference is refused (NoControllerOwner)', () => {
    const r = checkOwnership(input(undefined));
    expect(r).to.include({ owned: false, problem: 'NoControllerOwner' });
  });

  it('an ownerReference that is not the controller does not count', () => {
    expect(checkOwnership(input([owner({ controller: false })]))).to.include({ owned: false, problem: 'NoControllerOwner' });
  });

  it('a controller that is another NodeGroup, or not a NodeGroup, is refused (OwnerIsNotItsNodeGroup)', () => {
    expect(checkOwnership(input([owner({ name: 'other' })]))).to.include({ owned: false, problem: 'OwnerIsNotItsNodeGroup' });
    expect(checkOwnership(input([owner({ kind: 'Deployment', apiVersion: 'apps/v1' })]))).to.include({ owned: false, problem: 'OwnerIsNotItsNodeGroup' });
    expect(checkOwnership(input([owner({ apiVersion: 'evil.example.com/v1' })]))).to.include({ owned: false, problem: 'OwnerIsNotItsNodeGroup' });
  });

  it('a NodeGroup that does not exist is refused (NodeGroupNotFound): nothing is provisioned from defaults', () => {
    const r = checkOwnership(input([owner()], null));
    expect(r).to.include({ owned: false, problem: 'NodeGroupNotFound' });
    if (!r.owned) expect(r.message).to.include('ns/workers');
  });

  it('an owner uid that is not the NodeGroup uid (deleted and re-created, or forged) is refused (OwnerUidMismatch)', () => {
    const r = checkOwnership(input([owner({ uid: 'forged' })]));
    expect(r).to.include({ owned: false, problem: 'OwnerUidMismatch' });
    if (!r.owned) expect(r.message).to.include('forged').and.to.include(UID);
  });

  it('a NodeGroup being deleted gets no new machine (NodeGroupDeleting)', () => {
    expect(checkOwnership(input([owner()], { uid: UID, deleting: true }))).to.include({ owned: false, problem: 'NodeGroupDeleting' });
  });
});
