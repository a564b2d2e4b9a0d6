/**
 * The resize arbiter's pure decision (sandbox/resize-arbiter/fit.ts): a pod's requests as the
 * kubelet counts them, and whether a resize is Infeasible, Deferred or fits, with the kubelet's
 * messages.
 */
import { expect } from 'chai';
import { conditionsPatch } from '../../../sandbox/resize-arbiter/arbiter';
import { admitted, decideResize, podRequests, type ContainerSpec, type PodResources } from '../../../sandbox/resize-arbiter/fit';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const node = { cpuMilli: 4000, memoryBytes: 8 * GiB };

const c = (name: string, cpu: string | undefined, memory: string | undefined, restartPolicy?: string): ContainerSpec => ({
  name,
  ...(restartPolicy ? { restartPolicy } : {}),
  resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } },
});

describe('resize arbiter: does a resize fit the node', () => {
  describe('decideResize', () => {
    it('fits within what the other pods leave free, to the last millicore and byte', () => {
      expect(
        decideResize({ desired: { cpuMilli: 3000, memoryBytes: 6 * GiB }, allocatable: node, others: { cpuMilli: 1000, memoryBytes: 2 * GiB } }),
      ).to.deep.equal({
        fits: true,
      });
    });

    it('above the allocatable: Infeasible, naming cpu and its numbers as the kubelet does', () => {
      expect(decideResize({ desired: { cpuMilli: 64000, memoryBytes: MiB }, allocatable: node, others: { cpuMilli: 0, memoryBytes: 0 } })).to.deep.equal({
        fits: false,
        reason: 'Infeasible',
        message: "Node didn't have enough capacity: cpu, requested: 64000, capacity: 4000",
      });
    });

    it('memory is named first when both are above the allocatable', () => {
      const v = decideResize({ desired: { cpuMilli: 5000, memoryBytes: 9 * GiB }, allocatable: node, others: { cpuMilli: 0, memoryBytes: 0 } });
      expect(v).to.deep.equal({
        fits: false,
        reason: 'Infeasible',
        message: `Node didn't have enough capacity: memory, requested: ${9 * GiB}, capacity: ${8 * GiB}`,
      });
    });

    it('within the allocatable but above what is free: Deferred, with requested, used and capacity (cpu checked first)', () => {
      const others = { cpuMilli: 2000, memoryBytes: 7 * GiB };
      expect(decideResize({ desired: { cpuMilli: 2001, memoryBytes: 2 * GiB }, allocatable: node, others })).to.deep.equal({
        fits: false,
        reason: 'Deferred',
        message: "Node didn't have enough resource: cpu, requested: 2001, used: 2000, capacity: 4000",
      });
      expect(decideResize({ desired: { cpuMilli: 1000, memoryBytes: GiB + 1 }, allocatable: node, others })).to.deep.equal({
        fits: false,
        reason: 'Deferred',
        message: `Node didn't have enough resource: memory, requested: ${GiB + 1}, used: ${7 * GiB}, capacity: ${8 * GiB}`,
      });
    });

    it('a zero request always fits, even on an overcommitted node; a resize back to what the pod holds needs no room', () => {
      const full = { cpuMilli: 5000, memoryBytes: 9 * GiB };
      expect(decideResize({ desired: { cpuMilli: 0, memoryBytes: 0 }, allocatable: node, others: full }).fits).to.equal(true);
      const holds = { cpuMilli: 500, memoryBytes: GiB };
      expect(decideResize({ desired: holds, current: holds, allocatable: node, others: full }).fits).to.equal(true);
      expect(decideResize({ desired: holds, current: { ...holds, cpuMilli: 400 }, allocatable: node, others: full }).fits).to.equal(false);
    });

    it('a node with no allocatable reported takes no resize that requests anything', () => {
      const v = decideResize({
        desired: { cpuMilli: 1, memoryBytes: 0 },
        allocatable: { cpuMilli: 0, memoryBytes: 0 },
        others: { cpuMilli: 0, memoryBytes: 0 },
      });
      expect(v).to.include({ fits: false, reason: 'Infeasible' });
    });
  });

  describe('podRequests', () => {
    it('sums the containers, exactly and rounded up as Kubernetes does (0.5 = 500m, 1Gi, 1.5G, 1m of 0.0001)', () => {
      const pod: PodResources = {
        spec: { containers: [c('a', '0.5', '1Gi'), c('b', '250m', '1.5G'), c('c', '0.0001', undefined), c('d', undefined, undefined)] },
      };
      expect(podRequests(pod, 'desired')).to.deep.equal({ cpuMilli: 751, memoryBytes: GiB + 1_500_000_000 });
    });

    it('counts sidecars beside the containers and an init container alone after the sidecars before it; plus the overhead', () => {
      const pod: PodResources = {
        spec: {
          initContainers: [c('sidecar', '500m', '100Mi', 'Always'), c('migrate', '3', '64Mi'), c('late-sidecar', '100m', '10Mi', 'Always')],
          containers: [c('app', '1', '1Gi')],
          overhead: { cpu: '10m', memory: '1Mi' },
        },
      };
      // cpu: max(1 + 0.5 + 0.1, 3 + 0.5) = 3.5 (+10m); memory: max(1Gi + 110Mi, 64Mi + 100Mi) = 1Gi + 110Mi (+1Mi)
      expect(podRequests(pod, 'desired')).to.deep.equal({ cpuMilli: 3510, memoryBytes: GiB + 111 * MiB });
    });

    it('pod-level requests stand for the containers', () => {
      const pod: PodResources = { spec: { containers: [c('a', '1', '1Gi')], resources: { requests: { cpu: '2' } } } };
      expect(podRequests(pod, 'desired')).to.deep.equal({ cpuMilli: 2000, memoryBytes: GiB });
    });

    it('allocated: what the status allocated, or the actuated size when larger (a resize down holds its old size until actuated)', () => {
      const pod: PodResources = {
        metadata: { generation: 2 },
        spec: { containers: [c('up', '3', '1Gi'), c('down', '100m', '64Mi'), c('new', '200m', '32Mi')] },
        status: {
          containerStatuses: [
            { name: 'up', allocatedResources: { cpu: '1', memory: '1Gi' }, resources: { requests: { cpu: '1', memory: '1Gi' } } },
            { name: 'down', allocatedResources: { cpu: '100m', memory: '64Mi' }, resources: { requests: { cpu: '1', memory: '128Mi' } } },
          ],
        },
      };
      // up: 1 cpu (the resize up is not allocated), down: 1 cpu (still actuated), new (no status): its spec.
      expect(podRequests(pod, 'allocated')).to.deep.equal({ cpuMilli: 2200, memoryBytes: GiB + 160 * MiB });
      expect(podRequests(pod, 'desired')).to.deep.equal({ cpuMilli: 3300, memoryBytes: GiB + 96 * MiB });
    });

    it('allocated, once admitted (PodResizeInProgress for the generation): the new size, or the actuated one when larger', () => {
      const pod: PodResources = {
        metadata: { generation: 3 },
        spec: { containers: [c('app', '3', '256Mi')] },
        status: {
          conditions: [{ type: 'PodResizeInProgress', status: 'True', observedGeneration: 3 }],
          containerStatuses: [{ name: 'app', allocatedResources: { cpu: '1', memory: '512Mi' }, resources: { requests: { cpu: '1', memory: '512Mi' } } }],
        },
      };
      expect(admitted(pod)).to.equal(true);
      expect(podRequests(pod, 'allocated')).to.deep.equal({ cpuMilli: 3000, memoryBytes: 512 * MiB });
      // Admitted for an older generation: the newer resize is not allocated.
      const older: PodResources = { ...pod, metadata: { generation: 4 } };
      expect(admitted(older)).to.equal(false);
      expect(podRequests(older, 'allocated')).to.deep.equal({ cpuMilli: 1000, memoryBytes: 512 * MiB });
    });
  });

  describe('the conditions written', () => {
    const pod = (conditions: { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }[]) => ({
      metadata: { name: 'p', namespace: 'n', uid: 'u', generation: 2 },
      spec: { containers: [] },
      status: { phase: 'Running', observedGeneration: 1, conditions },
    });
    const now = new Date('2026-01-01T00:00:00Z');

    it('admitted: PodResizeInProgress for the generation, PodResizePending removed (merge by type: other conditions untouched)', () => {
      expect(conditionsPatch(pod([]), { fits: true }, now)).to.deep.equal([
        { type: 'PodResizeInProgress', status: 'True', observedGeneration: 2, lastTransitionTime: now.toISOString() },
        { type: 'PodResizePending', $patch: 'delete' },
      ]);
    });

    it('pending: written once; again only when the reason, the message or the generation changes', () => {
      const v = { fits: false as const, reason: 'Deferred' as const, message: 'm' };
      expect(conditionsPatch(pod([]), v, now)?.[0]).to.include({ type: 'PodResizePending', reason: 'Deferred', message: 'm', observedGeneration: 2 });
      expect(conditionsPatch(pod([{ type: 'PodResizePending', status: 'True', reason: 'Deferred', message: 'm', observedGeneration: 2 }]), v, now)).to.equal(
        undefined,
      );
      expect(
        conditionsPatch(pod([{ type: 'PodResizePending', status: 'True', reason: 'Deferred', message: 'm2', observedGeneration: 2 }]), v, now),
      ).to.not.equal(undefined);
      expect(
        conditionsPatch(pod([{ type: 'PodResizePending', status: 'True', reason: 'Deferred', message: 'm', observedGeneration: 1 }]), v, now),
      ).to.not.equal(undefined);
    });
  });
});
