/**
 * The pure parts of the application steps (activities/rightsizing/apply.ts): when a pod runs at
 * its new size, what a resize's state is from the conditions the kubelet writes, and which 403 is
 * the apiserver's node-capacity refusal (v1.36 PodResizeValidator) rather than RBAC.
 */
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { desiredQuantities, nodeCapacityRefusal, resizeState, runningAtSize, specAtSize } from '../../../../activities/rightsizing/apply';

const change = { name: 'app', requests: { cpu: 300, memory: 384 * 2 ** 20 }, changes: {} };

function pod(spec: { cpu: string; memory: string }, status?: { cpu: string; memory: string }, more: Record<string, unknown> = {}) {
  return {
    metadata: { name: 'p', generation: 2 },
    spec: { containers: [{ name: 'app', resources: { requests: spec } }] },
    status: {
      phase: 'Running',
      observedGeneration: 2,
      containerStatuses: [{ name: 'app', ...(status ? { resources: { requests: status } } : {}) }],
      ...more,
    },
  };
}

describe('rightsizing application steps', () => {
  it('the quantities a change carries are whole millicores and MiB, and compare by value', () => {
    expect(desiredQuantities(change)).to.deep.equal({ requests: { cpu: '300m', memory: '384Mi' }, limits: {} });
    expect(specAtSize(pod({ cpu: '0.3', memory: '402653184' }), [change])).to.equal(true);
    expect(specAtSize(pod({ cpu: '1', memory: '384Mi' }), [change])).to.equal(false);
  });

  it('a pod runs at its new size only when the kubelet reports it (the spec alone is not enough)', () => {
    expect(runningAtSize(pod({ cpu: '300m', memory: '384Mi' }, { cpu: '1', memory: '384Mi' }), [change])).to.equal(false);
    expect(runningAtSize(pod({ cpu: '300m', memory: '384Mi' }, { cpu: '300m', memory: '384Mi' }), [change])).to.equal(true);
  });

  it('the resize state follows PodResizePending / PodResizeInProgress and the observed generation', () => {
    const at = { cpu: '300m', memory: '384Mi' };
    expect(resizeState(pod(at, at), [change]).state).to.equal('Done');
    const cond = (type: string, reason: string) => ({ conditions: [{ type, status: 'True', reason, message: `${reason}!` }] });
    expect(resizeState(pod(at, { cpu: '1', memory: '1Gi' }, cond('PodResizePending', 'Infeasible')), [change])).to.deep.equal({
      state: 'Infeasible',
      message: 'Infeasible!',
    });
    expect(resizeState(pod(at, { cpu: '1', memory: '1Gi' }, cond('PodResizePending', 'Deferred')), [change])).to.deep.equal({
      state: 'Deferred',
      message: 'Deferred!',
    });
    expect(resizeState(pod(at, { cpu: '1', memory: '1Gi' }, cond('PodResizeInProgress', 'Error')), [change])).to.deep.equal({
      state: 'Error',
      message: 'Error!',
    });
    expect(resizeState(pod(at, at, { observedGeneration: 1 }), [change]).state).to.equal('Pending');
  });

  it("the apiserver's node-capacity 403 is told apart from an RBAC 403 (the cause's JSON key is reason)", () => {
    const capacity = new k8s.ApiException(
      403,
      'Forbidden',
      JSON.stringify({
        kind: 'Status',
        status: 'Failure',
        message: `pods "p" is forbidden: node didn't have enough allocatable resources: cpu, requested: 3000, allocatable: 2000`,
        reason: 'Forbidden',
        details: { name: 'p', kind: 'pods', causes: [{ reason: 'NodeCapacity' }] },
        code: 403,
      }),
      {},
    );
    const rbac = new k8s.ApiException(
      403,
      'Forbidden',
      JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'pods "p" is forbidden: User "x" cannot patch resource "pods/resize"', code: 403 }),
      {},
    );
    expect(nodeCapacityRefusal(capacity)).to.equal(true);
    expect(nodeCapacityRefusal(rbac)).to.equal(false);
  });
});
