import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';

import { planScaleUp } from '../../../../decision/planner/planner';
import type { NodeGroup, Offering, PlannerInput } from '../../../../decision/planner/types';
import { verifyDecision } from '../../../../decision/planner/verify';
import { ClusterSim } from '../../../../decision/nodes/scale-down/simulate';
import type { ScaleDownNode } from '../../../../decision/nodes/scale-down/types';
import { nodeFromK8s, podFromK8s, resourcesFromList, volumeLookup } from '../../../../decision/scheduling/from-k8s';
import { filterNode, hostPortsConflict, missingExtended, resourcesFit, staticFailure, volumeConflict } from '../../../../decision/scheduling/predicates';
import { SchedulingState } from '../../../../decision/scheduling/state';
import type { HostPort, VolumeConstraint } from '../../../../decision/scheduling/types';
import { LABEL_HOSTNAME, LABEL_ZONE } from '../../../../decision/scheduling/types';
import { Gi, node, pod, res, snap } from './fixtures';

const GPU = 'nvidia.com/gpu';

function hp(port: number, protocol = 'TCP', hostIP = ''): HostPort {
  return { port, protocol, hostIP };
}

function offering(id: string, cpu: number, memGi: number, price: number): Offering {
  return { id, nickname: id, cpuMilli: cpu, memoryBytes: memGi * Gi, pods: 110, ephemeralStorageBytes: 100 * Gi, monthlyPrice: price };
}

function group(name: string, offerings: Offering[]): NodeGroup {
  return { name, namespace: 'kube-system', minNodes: 0, maxNodes: 10, currentNodes: 0, offerings, allowMixedInstances: true };
}

function input(extra: Partial<PlannerInput>): PlannerInput {
  return { pendingPods: [], existingNodes: [], inFlightNodes: [], nodeGroups: [], daemonSetPods: [], maxClusterNodes: 100, ...extra };
}

describe('scheduling/constraints (NodePorts, extended resources, volumes, node pressure)', () => {
  describe('NodePorts: hostPort conflicts', () => {
    const cases: { name: string; a: HostPort; b: HostPort; conflict: boolean }[] = [
      { name: 'same port, protocol, wildcard IP', a: hp(80), b: hp(80), conflict: true },
      { name: 'different port', a: hp(80), b: hp(81), conflict: false },
      { name: 'same port, other protocol', a: hp(53, 'UDP'), b: hp(53, 'TCP'), conflict: false },
      { name: 'wildcard vs a specific IP', a: hp(80, 'TCP', '0.0.0.0'), b: hp(80, 'TCP', '10.0.0.1'), conflict: true },
      { name: 'empty IP is the wildcard', a: hp(80, 'TCP', ''), b: hp(80, 'TCP', '10.0.0.1'), conflict: true },
      { name: 'two different specific IPs', a: hp(80, 'TCP', '10.0.0.1'), b: hp(80, 'TCP', '10.0.0.2'), conflict: false },
      { name: 'the same specific IP', a: hp(80, 'TCP', '10.0.0.1'), b: hp(80, 'TCP', '10.0.0.1'), conflict: true },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(hostPortsConflict(c.a, c.b)).to.equal(c.conflict);
        expect(hostPortsConflict(c.b, c.a)).to.equal(c.conflict);
      });
    }

    it('the reference filter and the incremental state refuse a node whose pod holds the port', () => {
      const n = node('n1', 'z1');
      const holder = pod('a', { hostPorts: [hp(8080)], nodeName: 'n1' });
      const incoming = pod('b', { hostPorts: [hp(8080)] });
      const other = pod('c', { hostPorts: [hp(8081)] });
      expect(filterNode(incoming, snap(n, [holder]), [snap(n, [holder])])).to.equal('HostPortConflict');
      expect(filterNode(other, snap(n, [holder]), [snap(n, [holder])])).to.equal(undefined);
      const state = new SchedulingState();
      const sn = state.addNode(n, [holder]);
      expect(state.check(incoming, sn)).to.equal('HostPortConflict');
      expect(state.check(other, sn)).to.equal(undefined);
      expect(state.relevantKeys(incoming)).to.include(LABEL_HOSTNAME);
    });

    it('podFromK8s reads host ports of containers and init containers (protocol defaults to TCP)', () => {
      const p = podFromK8s({
        metadata: { name: 'p' },
        spec: {
          initContainers: [{ name: 'i', ports: [{ containerPort: 1, hostPort: 9000, protocol: 'UDP' }] }],
          containers: [{ name: 'c', ports: [{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.1' }, { containerPort: 81 }] }],
        },
      });
      expect(p.hostPorts).to.deep.equal([hp(9000, 'UDP'), hp(8080, 'TCP', '10.0.0.1')]);
    });

    it('the planner opens one node per pod holding the same host port', () => {
      const pods = [pod('a', { hostPorts: [hp(8080)] }), pod('b', { hostPorts: [hp(8080)] })];
      const i = input({ pendingPods: pods, nodeGroups: [group('g', [offering('big', 8000, 16, 50)])] });
      const d = planScaleUp(i);
      expect(d.unplaced).to.deep.equal([]);
      expect(d.newNodes).to.equal(2);
      expect(verifyDecision(i, d)).to.deep.equal([]);
      const noPorts = input({ pendingPods: [pod('a'), pod('b')], nodeGroups: [group('g', [offering('big', 8000, 16, 50)])] });
      expect(planScaleUp(noPorts).newNodes).to.equal(1);
    });
  });

  describe('NodeResourcesFit: extended resources', () => {
    it('parses extended and hugepages resources, not the native ones', () => {
      const r = resourcesFromList({ cpu: '1', memory: '1Gi', [GPU]: '2', 'hugepages-2Mi': '4Mi', 'example.com/foo': '3' });
      expect(r.extended).to.deep.equal({ [GPU]: 2, 'hugepages-2Mi': 4 * 1024 * 1024, 'example.com/foo': 3 });
      expect(resourcesFromList({ cpu: '1', memory: '1Gi' }).extended).to.equal(undefined);
    });

    it('a pod requesting a GPU fits only a node with a free GPU', () => {
      const want = { ...res(100, 0), extended: { [GPU]: 1 } };
      expect(resourcesFit(want, res(4000, 8 * Gi, 110), res(0, 0, 0))).to.equal(false);
      expect(missingExtended(want, res(4000, 8 * Gi, 110), res(0, 0, 0))).to.deep.equal([GPU]);
      const withGpu = { ...res(4000, 8 * Gi, 110), extended: { [GPU]: 1 } };
      expect(resourcesFit(want, withGpu, res(0, 0, 0))).to.equal(true);
      expect(resourcesFit(want, withGpu, { ...res(0, 0, 0), extended: { [GPU]: 1 } })).to.equal(false);
      // A node's extended resources do not matter to a pod that does not ask for them.
      expect(resourcesFit(res(100, 0), { ...res(4000, 8 * Gi, 110), extended: { [GPU]: 0 } }, res(0, 0, 0))).to.equal(true);
    });

    it('the state counts GPUs of placed pods', () => {
      const gpuPod = (name: string) => pod(name, { requests: { ...res(100, 0), extended: { [GPU]: 1 } } });
      const state = new SchedulingState();
      const sn = state.addNode(node('n1', 'z1', { allocatable: { ...res(4000, 8 * Gi, 110), extended: { [GPU]: 1 } } }));
      expect(state.check(gpuPod('a'), sn)).to.equal(undefined);
      state.place(gpuPod('a'), sn);
      expect(state.check(gpuPod('b'), sn)).to.equal('InsufficientResources');
    });

    it('a GPU pod never gets a node of an offering without GPUs: ExtendedResourceNotOffered naming the resource', () => {
      const gpu = pod('gpu', { requests: { ...res(100, 0), extended: { [GPU]: 1 } } });
      const i = input({
        pendingPods: [gpu],
        existingNodes: [{ node: node('n1', 'z1'), pods: [] }],
        nodeGroups: [group('g', [offering('big', 8000, 16, 50)])],
      });
      const d = planScaleUp(i);
      expect(d.newNodes).to.equal(0);
      expect(d.unplaced.map((u) => u.reason)).to.deep.equal(['ExtendedResourceNotOffered']);
      expect(d.unplaced[0]?.message).to.contain(GPU);
      expect(d.unplaced[0]?.numbers[`requested:${GPU}`]).to.equal(1);
      expect(d.unplaced[0]?.numbers[`largestOffered:${GPU}`]).to.equal(0);
    });
  });

  describe('VolumeBinding / VolumeZone: bound PersistentVolumes', () => {
    const local: VolumeConstraint = {
      name: 'default/data -> pv-1',
      nodeAffinity: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: ['n1'] }] }],
    };
    const zonal: VolumeConstraint = { name: 'default/data -> pv-2', topology: { [LABEL_ZONE]: ['z1', 'z2'] } };

    it('PV node affinity admits only the nodes it names', () => {
      expect(volumeConflict([local], node('n1', 'z1'))).to.equal(undefined);
      expect(volumeConflict([local], node('n2', 'z1'))).to.equal(local);
      expect(staticFailure(pod('p', { persistentVolumes: [local] }), node('n2', 'z1'))).to.equal('VolumeNodeAffinityConflict');
    });

    it('PV zone labels admit nodes of those zones; a node without zone labels is not constrained', () => {
      expect(volumeConflict([zonal], node('n1', 'z2'))).to.equal(undefined);
      expect(volumeConflict([zonal], node('n1', 'z3'))).to.equal(zonal);
      expect(volumeConflict([zonal], node('n1', undefined))).to.equal(undefined);
    });

    it('every volume of the pod must allow the node', () => {
      expect(volumeConflict([zonal, local], node('n2', 'z1'))).to.equal(local);
      expect(volumeConflict([zonal, local], node('n1', 'z1'))).to.equal(undefined);
    });

    it('podFromK8s resolves claims (and generic ephemeral volumes) to their bound PVs', () => {
      const pvcs: V1PersistentVolumeClaim[] = [
        { metadata: { name: 'data', namespace: 'ns' }, spec: { volumeName: 'pv-1' } },
        { metadata: { name: 'p-scratch', namespace: 'ns' }, spec: { volumeName: 'pv-2' } },
        { metadata: { name: 'unbound', namespace: 'ns' }, spec: {} },
      ];
      const pvs: V1PersistentVolume[] = [
        {
          metadata: { name: 'pv-1' },
          spec: { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: ['n1'] }] }] } } },
        },
        { metadata: { name: 'pv-2', labels: { [LABEL_ZONE]: 'z1__z2' } }, spec: {} },
      ];
      const p: V1Pod = {
        metadata: { name: 'p', namespace: 'ns' },
        spec: {
          containers: [{ name: 'c' }],
          volumes: [
            { name: 'a', persistentVolumeClaim: { claimName: 'data' } },
            { name: 'scratch', ephemeral: {} },
            { name: 'b', persistentVolumeClaim: { claimName: 'unbound' } },
            { name: 'cfg', configMap: { name: 'x' } },
          ],
        },
      };
      const sp = podFromK8s(p, volumeLookup(pvcs, pvs));
      expect(sp.persistentVolumes).to.deep.equal([
        { name: 'ns/data -> pv-1', nodeAffinity: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: ['n1'] }] }] },
        { name: 'ns/p-scratch -> pv-2', topology: { [LABEL_ZONE]: ['z1', 'z2'] } },
      ]);
      expect(sp.unresolvedClaims).to.deep.equal(['unbound']);
      expect(podFromK8s(p).persistentVolumes).to.equal(undefined);
    });

    it('the planner puts a pod with a local PV on its node or nowhere (no new node)', () => {
      const p = pod('p', { persistentVolumes: [local] });
      const groups = [group('g', [offering('big', 8000, 16, 50)])];
      const room = input({
        pendingPods: [p],
        existingNodes: [
          { node: node('n1', 'z1'), pods: [] },
          { node: node('n0', 'z1'), pods: [] },
        ],
        nodeGroups: groups,
      });
      const d = planScaleUp(room);
      expect(d.newNodes).to.equal(0);
      expect(d.unplaced).to.deep.equal([]);
      expect(d.placements.map((x) => x.node)).to.deep.equal(['n1']);
      expect(verifyDecision(room, d)).to.deep.equal([]);
      const none = planScaleUp(input({ pendingPods: [p], existingNodes: [{ node: node('n0', 'z1'), pods: [] }], nodeGroups: groups }));
      expect(none.newNodes).to.equal(0);
      expect(none.unplaced).to.have.length(1);
    });

    it('scale-down: a pod whose PV allows no remaining node blocks with PersistentVolumeUnreachable', () => {
      const moving = { ...pod('p', { persistentVolumes: [local], nodeName: 'n1' }), ownerKind: 'StatefulSet' };
      const nodes: ScaleDownNode[] = [
        { node: node('n1', 'z1'), pods: [moving] },
        { node: node('n2', 'z1'), pods: [] },
      ];
      const r = new ClusterSim(nodes).tryMove(new Set(['n1']), [moving]);
      expect(r.moves).to.deep.equal([]);
      expect(r.failures).to.have.length(1);
      expect(r.failures[0]?.reason).to.equal('PersistentVolumeUnreachable');
      expect(r.failures[0]?.failures).to.deep.include({ VolumeNodeAffinityConflict: 1, persistentVolumes: 1, nodesThePVsAllow: 0 });
      // A zonal PV with a node of its zone left moves there.
      const zonalPod = { ...pod('q', { persistentVolumes: [zonal], nodeName: 'n1' }), ownerKind: 'StatefulSet' };
      const ok = new ClusterSim([
        { node: node('n1', 'z1'), pods: [zonalPod] },
        { node: node('n2', 'z3'), pods: [] },
        { node: node('n3', 'z2'), pods: [] },
      ]).tryMove(new Set(['n1']), [zonalPod]);
      expect(ok.failures).to.deep.equal([]);
      expect(ok.moves).to.deep.equal([{ pod: 'default/q', node: 'n3' }]);
    });
  });

  describe('node pressure', () => {
    const base: V1Node = {
      metadata: { name: 'n1', labels: { [LABEL_HOSTNAME]: 'n1' } },
      status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
    };
    it('a pressure condition is the NoSchedule taint of TaintNodesByCondition', () => {
      const n = nodeFromK8s({
        ...base,
        status: {
          ...base.status,
          conditions: [
            { type: 'Ready', status: 'True' },
            { type: 'MemoryPressure', status: 'True' },
            { type: 'DiskPressure', status: 'False' },
            { type: 'PIDPressure', status: 'True' },
          ],
        },
      });
      expect(n.pressure).to.deep.equal(['MemoryPressure', 'PIDPressure']);
      expect(n.taints).to.deep.equal([
        { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' },
      ]);
      expect(staticFailure(pod('p'), n)).to.equal('TaintNotTolerated');
      // DaemonSet pods tolerate it (the DaemonSet controller adds the tolerations).
      const ds = pod('ds', {
        tolerations: [
          { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists' },
          { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists' },
        ],
      });
      expect(staticFailure(ds, n)).to.equal(undefined);
    });

    it('the taint is not doubled when the node lifecycle controller already added it', () => {
      const n = nodeFromK8s({
        ...base,
        spec: { taints: [{ key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }] },
        status: { ...base.status, conditions: [{ type: 'DiskPressure', status: 'True' }] },
      });
      expect(n.taints).to.deep.equal([{ key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }]);
      expect(nodeFromK8s(base).taints).to.equal(undefined);
    });

    it('the planner does not count a node under pressure as room: it adds a node', () => {
      const pressured = nodeFromK8s({ ...base, status: { ...base.status, conditions: [{ type: 'MemoryPressure', status: 'True' }] } });
      const i = input({ pendingPods: [pod('p')], existingNodes: [{ node: pressured, pods: [] }], nodeGroups: [group('g', [offering('big', 8000, 16, 50)])] });
      expect(planScaleUp(i).newNodes).to.equal(1);
      const healthy = input({
        pendingPods: [pod('p')],
        existingNodes: [{ node: nodeFromK8s(base), pods: [] }],
        nodeGroups: [group('g', [offering('big', 8000, 16, 50)])],
      });
      expect(planScaleUp(healthy).newNodes).to.equal(0);
    });
  });
});
