import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { toPlannerInput, type RawSnapshot } from '../../../../../decision/nodes/scale-up/snapshot';
import { planOffering, KUBELET_MEMORY_RESERVE_BYTES } from '../../../../../decision/planner/vpsie-plans';
import { TRIGGERED_PODS_ANNOTATION, HELD_PODS_ANNOTATION } from '../../../../../lib/crds/autoscaler';
import type { Plan } from '../../../../../clients/vpsie/schemas';
import { planScaleUp } from '../../../../../decision/planner/planner';
import { parseNodeGroup, parseVPSieNode, type NodeGroup, type VPSieNode } from '../../../../../lib/crds/autoscaler';
import { defaultCatalogue } from '../../../../../sandbox/vpsie-sim/catalogue';
import { buildNode } from '../../../../../sandbox/vpsie-sim/node';
import { nodeFromK8s } from '../../../../../decision/scheduling/from-k8s';

const Mi = 1024 * 1024;
const catalogue = defaultCatalogue();
const PLANS: Plan[] = catalogue.plans.map((p) => ({
  identifier: p.identifier,
  nickname: p.nickname,
  cpu: p.cpu,
  ram: p.ram,
  ssd: p.ssd,
  traffic: p.traffic,
  price: p.price,
  id: p.id,
  category: catalogue.categories.find((c) => c.identifier === p.categoryIdentifier)!.name,
}));

function group(name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}): NodeGroup {
  return parseNodeGroup({
    apiVersion: 'autoscaler.vpsie.com/v1alpha1',
    kind: 'NodeGroup',
    metadata: { name, namespace: 'ng', uid: `uid-${name}` },
    spec: { minNodes: 0, maxNodes: 5, ...spec },
    status,
  });
}

function vpsieNode(name: string, groupName: string, offeringID: string, phase: string, nodeName?: string): VPSieNode {
  return parseVPSieNode({
    apiVersion: 'autoscaler.vpsie.com/v1alpha1',
    kind: 'VPSieNode',
    metadata: { name, namespace: 'ng' },
    spec: { nodeGroupName: groupName, offeringID, datacenterID: 'us-east-1', join: { method: 'UserData' }, hostname: name },
    status: {
      phase,
      ...(nodeName ? { nodeName } : {}),
      ...(phase === 'Failed' ? { lastError: { reason: 'VPSCreateFailed', message: 'x', time: '2026-01-01T00:00:00Z' } } : {}),
    },
  });
}

function pod(
  name: string,
  opts: {
    cpu?: string;
    memory?: string;
    node?: string;
    unschedulable?: boolean;
    nodeSelector?: Record<string, string>;
    tolerations?: k8s.V1Toleration[];
    phase?: string;
  } = {},
): k8s.V1Pod {
  return {
    metadata: { name, namespace: 'app', uid: `uid-${name}`, labels: { app: 'x' } },
    spec: {
      ...(opts.node ? { nodeName: opts.node } : {}),
      ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
      ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
      containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: opts.cpu ?? '500m', memory: opts.memory ?? '512Mi' } } }],
    },
    status: {
      phase: opts.phase ?? (opts.node ? 'Running' : 'Pending'),
      conditions:
        opts.unschedulable === false || opts.node
          ? []
          : [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' }],
    },
  };
}

function readyNode(name: string, cpu: number, ramMb: number, labels: Record<string, string> = {}): k8s.V1Node {
  const n = buildNode({
    hostname: name,
    identifier: name,
    cpu,
    ramMb,
    ssdGb: 80,
    instanceType: 'small-2cpu-4gb',
    region: 'us-east-1',
    labels,
    taints: [],
    privateIp: '10.0.0.1',
  } as never);
  n.status = { ...n.status, conditions: [{ type: 'Ready', status: 'True' }] };
  return n;
}

const opts = { maxClusterNodes: 100, defaultDatacenter: 'us-east-1', defaultOfferings: ['small-2cpu-4gb', 'medium-4cpu-8gb'] };

function raw(over: Partial<RawSnapshot>): RawSnapshot {
  return { pods: [], nodes: [], nodeGroups: [], vpsieNodes: [], daemonSets: [], plans: { 'us-east-1': PLANS }, ...over };
}

describe('scale-up snapshot → PlannerInput', () => {
  it('an offering from a VPSie plan has the allocatable the joined Node reports (kubelet reserves)', () => {
    const plan = PLANS.find((p) => p.nickname === 'small-2cpu-4gb')!;
    const o = planOffering('small-2cpu-4gb', plan, 'us-east-1');
    expect(o).to.include({
      id: 'small-2cpu-4gb',
      nickname: 'small-2cpu-4gb',
      cpuMilli: 2000,
      memoryBytes: 4096 * Mi - KUBELET_MEMORY_RESERVE_BYTES,
      pods: 110,
      monthlyPrice: 15,
    });
    // The simulator's Node for the same plan: same allocatable.
    const node = nodeFromK8s(
      buildNode({
        hostname: 'h',
        identifier: 'i',
        cpu: plan.cpu,
        ramMb: plan.ram,
        ssdGb: plan.ssd,
        instanceType: plan.nickname,
        region: 'us-east-1',
        labels: {},
        taints: [],
        privateIp: '10.0.0.1',
      } as never),
    );
    expect(node.allocatable).to.deep.equal({ cpuMilli: o.cpuMilli, memoryBytes: o.memoryBytes, pods: o.pods, ephemeralStorageBytes: o.ephemeralStorageBytes });
  });

  it('groups: spec fields, config defaults for absent ones, unknown offerings reported, disabled/deleting groups left out', () => {
    const snap = toPlannerInput(
      raw({
        nodeGroups: [
          group(
            'a',
            {
              offeringIDs: ['medium-4cpu-8gb', 'nope-1'],
              preferredInstanceType: 'medium-4cpu-8gb',
              allowMixedInstances: false,
              priority: 7,
              labels: { tier: 'a' },
              taints: [{ key: 'dedicated', value: 'a', effect: 'NoSchedule' }],
            },
            { lastScaleUpTime: '2026-01-01T00:00:00Z' },
          ),
          group('b', {}),
          group('off', { scaleUpPolicy: { enabled: false } }),
          group('elsewhere', { datacenterID: 'mars-1' }),
        ],
      }),
      opts,
    );
    const byName = new Map(snap.input.nodeGroups.map((g) => [g.name, g]));
    expect([...byName.keys()]).to.deep.equal(['a', 'b']);
    const a = byName.get('a')!;
    expect(a).to.include({ namespace: 'ng', maxNodes: 5, priority: 7, allowMixedInstances: false, preferredInstanceType: 'medium-4cpu-8gb' });
    expect(a.offerings.map((o) => o.id)).to.deep.equal(['medium-4cpu-8gb']);
    expect(a.labels).to.deep.equal({ tier: 'a' });
    expect(a.taints).to.deep.equal([{ key: 'dedicated', value: 'a', effect: 'NoSchedule' }]);
    expect(byName.get('b')!.offerings.map((o) => o.id)).to.deep.equal(['small-2cpu-4gb', 'medium-4cpu-8gb']);
    const meta = new Map(snap.groups.map((g) => [g.name, g]));
    expect(meta.get('a')).to.include({ lastScaleUpTime: '2026-01-01T00:00:00Z', stabilizationWindowSeconds: 60, planned: true });
    expect(meta.get('a')!.unknownOfferings).to.deep.equal(['nope-1']);
    expect(meta.get('off')).to.include({ planned: false, excludedBecause: 'ScaleUpDisabled' });
    expect(meta.get('elsewhere')).to.include({ planned: false, excludedBecause: 'NoKnownOffering' });
    expect(snap.input.maxClusterNodes).to.equal(100);
    expect(snap.input.enforceMinNodes).to.equal(false);
  });

  it('pending pods: only the batch, only while unbound; the rest are reported gone', () => {
    const snap = toPlannerInput(raw({ pods: [pod('p1'), pod('p2'), pod('p3', { node: 'n1' }), pod('other')], nodes: [readyNode('n1', 2, 4096)] }), {
      ...opts,
      podUids: ['uid-p1', 'uid-p2', 'uid-p3', 'uid-deleted'],
    });
    expect(snap.input.pendingPods.map((p) => p.name)).to.deep.equal(['p1', 'p2']);
    expect(snap.podUids).to.deep.equal({ 'app/p1': 'uid-p1', 'app/p2': 'uid-p2' });
    expect(snap.gone).to.deep.equal(['uid-deleted', 'uid-p3']);
    // without a batch: every unschedulable pending pod
    const all = toPlannerInput(
      raw({ pods: [pod('p1'), pod('fresh', { unschedulable: false }), pod('done', { phase: 'Succeeded', unschedulable: false })] }),
      opts,
    );
    expect(all.input.pendingPods.map((p) => p.name)).to.deep.equal(['p1']);
  });

  it('existing nodes are the Ready ones, with their bound pods; finished pods do not count', () => {
    const notReady = readyNode('n2', 4, 8192);
    notReady.status!.conditions = [{ type: 'Ready', status: 'False' }];
    const snap = toPlannerInput(
      raw({
        nodes: [readyNode('n1', 2, 4096, { 'autoscaler.vpsie.com/nodegroup': 'a' }), notReady],
        pods: [pod('b1', { node: 'n1' }), pod('b2', { node: 'n1', phase: 'Succeeded' })],
      }),
      opts,
    );
    expect(snap.input.existingNodes.map((n) => [n.node.name, n.nodeGroup, n.pods.map((p) => p.name)])).to.deep.equal([['n1', 'a', ['b1']]]);
  });

  it('in-flight nodes: VPSieNodes not yet Ready with the offering capacity and the group labels/taints; counted in currentNodes', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'], labels: { tier: 'a' }, taints: [{ key: 'd', effect: 'NoSchedule' }] });
    const snap = toPlannerInput(
      raw({
        nodeGroups: [g],
        nodes: [readyNode('vn-ready', 2, 4096)],
        vpsieNodes: [
          vpsieNode('vn-pending', 'a', 'small-2cpu-4gb', 'Pending'),
          vpsieNode('vn-joining', 'a', 'small-2cpu-4gb', 'Joining'),
          vpsieNode('vn-ready', 'a', 'small-2cpu-4gb', 'Ready', 'vn-ready'),
          vpsieNode('vn-failed', 'a', 'small-2cpu-4gb', 'Failed'),
          vpsieNode('vn-other-group', 'zzz', 'small-2cpu-4gb', 'Pending'),
        ],
      }),
      opts,
    );
    expect(snap.input.inFlightNodes.map((n) => n.node.name)).to.deep.equal(['vn-pending', 'vn-joining']);
    const n = snap.input.inFlightNodes[0]!;
    expect(n.node.labels).to.include({
      tier: 'a',
      'autoscaler.vpsie.com/nodegroup': 'a',
      'kubernetes.io/hostname': 'vn-pending',
      'node.kubernetes.io/instance-type': 'small-2cpu-4gb',
    });
    expect(n.node.taints).to.deep.equal([{ key: 'd', effect: 'NoSchedule' }]);
    expect(n.node.allocatable.cpuMilli).to.equal(2000);
    expect(snap.input.nodeGroups[0]!.currentNodes).to.equal(3); // pending, joining, ready (failed does not count)
  });

  it('pods that fit the nodes in flight trigger no second scale-up', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' })];
    const first = planScaleUp(toPlannerInput(raw({ nodeGroups: [g], pods }), opts).input);
    expect(first.newNodes).to.equal(1);
    const again = planScaleUp(
      toPlannerInput(raw({ nodeGroups: [g], pods, vpsieNodes: [vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Provisioning')] }), opts).input,
    );
    expect(again.newNodes).to.equal(0);
    expect(again.fitsExisting.map((p) => [p.pod, p.node, p.target])).to.deep.equal([
      ['app/p1', 'vn-1', 'inFlight'],
      ['app/p2', 'vn-1', 'inFlight'],
    ]);
  });

  it('pods a VPSieNode in flight was created for ride on it: no second scale-up for them, and their room is not given away', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Provisioning');
    vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1', 'uid-p2']) };
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' }), pod('p3', { cpu: '800m' })];
    const snap = toPlannerInput(raw({ nodeGroups: [g], pods, vpsieNodes: [vn] }), opts);
    expect(snap.assigned).to.deep.equal([
      { pod: 'app/p1', node: 'vn-1' },
      { pod: 'app/p2', node: 'vn-1' },
    ]);
    expect(snap.input.pendingPods.map((p) => p.name)).to.deep.equal(['p3']);
    expect(snap.input.inFlightNodes[0]!.pods.map((p) => p.name)).to.deep.equal(['p1', 'p2']);
    const d = planScaleUp(snap.input);
    expect(d.newNodes).to.equal(1); // 3 x 800m do not fit one 2-cpu node: p3 needs its own
    expect(d.groups[0]!.nodes[0]!.pods).to.deep.equal(['app/p3']);
    // The node failed: its pods are planned again.
    const failed = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Failed');
    failed.metadata.annotations = vn.metadata.annotations;
    const again = toPlannerInput(raw({ nodeGroups: [g], pods, vpsieNodes: [failed] }), opts);
    expect(again.assigned).to.deep.equal([]);
    expect(again.input.pendingPods.map((p) => p.name)).to.deep.equal(['p1', 'p2', 'p3']);
  });

  it("pods of another batch riding on an in-flight node take its room in this batch's snapshot, without being decided here", () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Provisioning');
    // vn-1 (2 cpu) was created for p1 and p2 by an earlier batch; p3 arrives in a batch of its own.
    vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1', 'uid-p2']) };
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' }), pod('p3', { cpu: '800m' })];
    const snap = toPlannerInput(raw({ nodeGroups: [g], pods, vpsieNodes: [vn] }), { ...opts, podUids: ['uid-p3'] });
    expect(snap.assigned).to.deep.equal([]);
    expect(Object.keys(snap.podUids)).to.deep.equal(['app/p3']);
    expect(snap.input.inFlightNodes[0]!.pods.map((p) => p.name)).to.deep.equal(['p1', 'p2']);
    const d = planScaleUp(snap.input);
    expect(d.newNodes).to.equal(1);
    expect(d.groups[0]!.nodes[0]!.pods).to.deep.equal(['app/p3']);
    // The same holds while vn-1 is Ready but the scheduler has not bound p1 and p2 yet.
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    const ready = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Ready', 'vn-1');
    ready.metadata.annotations = vn.metadata.annotations;
    ready.status = { ...ready.status, phase: 'Ready', nodeName: 'vn-1', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    const nominated = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [readyNode('vn-1', 2, 4096)], vpsieNodes: [ready] }), {
      ...opts,
      podUids: ['uid-p3'],
      nowMs: readyAt + 5_000,
    });
    expect(nominated.assigned).to.deep.equal([]);
    expect(planScaleUp(nominated.input).groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p3']);
  });

  it('pods a node was created for stay nominated to it for a grace period after it turns Ready, until the scheduler binds them', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Ready', 'vn-1');
    vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1', 'uid-p2']) };
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    vn.status = { ...vn.status, phase: 'Ready', nodeName: 'vn-1', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    const node = readyNode('vn-1', 2, 4096);
    // p1, p2 were the node's reason to exist; p0 arrives while the scheduler has not bound them
    // (and, by name, would take their room first).
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' }), pod('p0', { cpu: '800m' })];
    const within = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [node], vpsieNodes: [vn] }), { ...opts, nowMs: readyAt + 5_000 });
    expect(within.assigned.map((a) => a.pod)).to.deep.equal(['app/p1', 'app/p2']);
    expect(within.input.pendingPods.map((p) => p.name)).to.deep.equal(['p0']);
    const d = planScaleUp(within.input);
    // p0 gets its own node; p1 and p2 are not planned a second time.
    expect(d.groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p0']);
    // After the grace period they are ordinary pending pods again.
    const later = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [node], vpsieNodes: [vn] }), { ...opts, nowMs: readyAt + 120_000 });
    expect(later.assigned).to.deep.equal([]);
    expect(later.input.pendingPods.map((p) => p.name)).to.deep.equal(['p0', 'p1', 'p2']);
    // Without the nomination p0 would take p1's room and p2 would trigger a second node.
    expect(planScaleUp(later.input).groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p2']);
  });

  it('a claim whose room the scheduler gave to other pods is released at once: the pod is planned in this run, not after the nomination lapses', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Ready', 'vn-1');
    vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1', 'uid-p2']) };
    vn.status = { ...vn.status, phase: 'Ready', nodeName: 'vn-1', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    const node = readyNode('vn-1', 2, 4096);
    const nowMs = readyAt + 5_000; // well inside the nomination grace period
    // The scheduler bound q1 and q2 (other pods of the burst) to the node made for p1 and p2.
    const taken = [pod('q1', { cpu: '800m', node: 'vn-1' }), pod('q2', { cpu: '800m', node: 'vn-1' })];
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' }), ...taken];
    const snap = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [node], vpsieNodes: [vn] }), { ...opts, nowMs });
    expect(snap.assigned).to.deep.equal([]);
    expect(snap.released).to.deep.equal([
      { pod: 'app/p1', node: 'vn-1' },
      { pod: 'app/p2', node: 'vn-1' },
    ]);
    expect(snap.input.pendingPods.map((p) => p.name)).to.deep.equal(['p1', 'p2']);
    const d = planScaleUp(snap.input);
    expect(d.groups[0]!.nodes.flatMap((n) => n.pods).sort()).to.deep.equal(['app/p1', 'app/p2']);
    expect(d.fitsExisting).to.deep.equal([]);

    // Only part of the room was given away (q1 bound): p1 still rides on it, p2 is planned.
    const part = toPlannerInput(
      raw({ nodeGroups: [g], pods: [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' }), taken[0]!], nodes: [node], vpsieNodes: [vn] }),
      {
        ...opts,
        nowMs,
      },
    );
    expect(part.assigned).to.deep.equal([{ pod: 'app/p1', node: 'vn-1' }]);
    expect(part.released).to.deep.equal([{ pod: 'app/p2', node: 'vn-1' }]);
    expect(planScaleUp(part.input).groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p2']);

    // The room is still there (nothing else bound): both ride on it and nothing is planned.
    const kept = toPlannerInput(raw({ nodeGroups: [g], pods: [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' })], nodes: [node], vpsieNodes: [vn] }), {
      ...opts,
      nowMs,
    });
    expect(kept.released).to.deep.equal([]);
    expect(planScaleUp(kept.input).newNodes).to.equal(0);
  });

  it('a claim is released when the scheduler bound a pod holding the same host port to its node, though resources remain', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Ready', 'vn-1');
    vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1']) };
    vn.status = { ...vn.status, phase: 'Ready', nodeName: 'vn-1', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    const node = readyNode('vn-1', 2, 4096);
    const withPort = (p: k8s.V1Pod, port: number): k8s.V1Pod => {
      p.spec!.containers[0]!.ports = [{ containerPort: port, hostPort: port }];
      return p;
    };
    const nowMs = readyAt + 5_000;
    const taken = withPort(pod('q1', { cpu: '100m', node: 'vn-1' }), 8080);
    const snap = toPlannerInput(raw({ nodeGroups: [g], pods: [withPort(pod('p1', { cpu: '100m' }), 8080), taken], nodes: [node], vpsieNodes: [vn] }), {
      ...opts,
      nowMs,
    });
    expect(snap.assigned).to.deep.equal([]);
    expect(snap.released).to.deep.equal([{ pod: 'app/p1', node: 'vn-1' }]);
    expect(planScaleUp(snap.input).groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p1']);
    // Another port: p1 still rides on its node.
    const other = toPlannerInput(
      raw({
        nodeGroups: [g],
        pods: [withPort(pod('p1', { cpu: '100m' }), 8080), withPort(pod('q1', { cpu: '100m', node: 'vn-1' }), 9090)],
        nodes: [node],
        vpsieNodes: [vn],
      }),
      { ...opts, nowMs },
    );
    expect(other.assigned).to.deep.equal([{ pod: 'app/p1', node: 'vn-1' }]);
    expect(other.released).to.deep.equal([]);
  });

  it('a pod claimed by two nodes rides on the one that still has room; a pending pod of another batch whose room is gone takes none', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    const full = vpsieNode('full', 'a', 'small-2cpu-4gb', 'Ready', 'full');
    full.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1', 'uid-other']) };
    full.status = { ...full.status, phase: 'Ready', nodeName: 'full', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    full.metadata.creationTimestamp = '2026-01-01T00:10:00Z';
    const roomy = vpsieNode('roomy', 'a', 'small-2cpu-4gb', 'Ready', 'roomy');
    roomy.metadata.annotations = { [HELD_PODS_ANNOTATION]: JSON.stringify(['uid-p1']) };
    roomy.status = { ...roomy.status, phase: 'Ready', nodeName: 'roomy', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    roomy.metadata.creationTimestamp = '2026-01-01T00:00:00Z';
    const pods = [pod('p1', { cpu: '800m' }), pod('other', { cpu: '800m' }), pod('q', { cpu: '1900m', node: 'full' }), pod('p3', { cpu: '1500m' })];
    const snap = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [readyNode('full', 2, 4096), readyNode('roomy', 2, 4096)], vpsieNodes: [full, roomy] }), {
      ...opts,
      podUids: ['uid-p1', 'uid-p3'],
      nowMs: readyAt + 5_000,
    });
    expect(snap.assigned).to.deep.equal([{ pod: 'app/p1', node: 'roomy' }]);
    // "other" (not in the batch) lost its room on "full" and is counted nowhere.
    expect(snap.released).to.deep.equal([{ pod: 'app/other', node: 'full' }]);
    const roomyNode = snap.input.existingNodes.find((n) => n.node.name === 'roomy')!;
    expect(roomyNode.pods.map((p) => p.name)).to.deep.equal(['p1']);
    // p3 (1500m) no longer fits "roomy" (p1 holds 800m of 2000m): a node of its own.
    expect(planScaleUp(snap.input).groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p3']);
  });

  it("the nomination lasts the group's scale-up stabilization window, at least the scheduler's longest back-off (10 s)", () => {
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    const node = readyNode('vn-1', 2, 4096);
    const pods = [pod('p1', { cpu: '800m' })];
    const nominatedAt = (windowSeconds: number, afterMs: number): string[] => {
      const g = group('a', { offeringIDs: ['small-2cpu-4gb'], scaleUpPolicy: { stabilizationWindowSeconds: windowSeconds } });
      const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Ready', 'vn-1');
      vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1']) };
      vn.status = { ...vn.status, phase: 'Ready', nodeName: 'vn-1', phaseTimes: { ready: new Date(readyAt).toISOString() } };
      return toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [node], vpsieNodes: [vn] }), { ...opts, nowMs: readyAt + afterMs }).assigned.map((a) => a.pod);
    };
    expect(nominatedAt(0, 9_000)).to.deep.equal(['app/p1']);
    expect(nominatedAt(0, 11_000)).to.deep.equal([]);
    expect(nominatedAt(60, 59_000)).to.deep.equal(['app/p1']);
    expect(nominatedAt(60, 61_000)).to.deep.equal([]);
    expect(nominatedAt(300, 200_000)).to.deep.equal(['app/p1']);
  });

  it("a Node that turned Ready before its VPSieNode left Joining nominates its pods from the Node's Ready transition", () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const vn = vpsieNode('vn-1', 'a', 'small-2cpu-4gb', 'Joining');
    vn.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1', 'uid-p2']) };
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    const node = readyNode('vn-1', 2, 4096);
    node.status = { ...node.status, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(readyAt) }] };
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' })];
    const within = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [node], vpsieNodes: [vn] }), { ...opts, nowMs: readyAt + 10_000 });
    expect(within.assigned.map((a) => a.pod)).to.deep.equal(['app/p1', 'app/p2']);
    expect(within.input.inFlightNodes).to.deep.equal([]);
    expect(planScaleUp(within.input).newNodes).to.equal(0);
    const later = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [node], vpsieNodes: [vn] }), { ...opts, nowMs: readyAt + 120_000 });
    expect(later.input.pendingPods.map((p) => p.name)).to.deep.equal(['p1', 'p2']);
  });

  it('a pod claimed by several VPSieNodes rides on the one in flight; pods held in spare room (held-pods) count like the ones a node was made for', () => {
    const g = group('a', { offeringIDs: ['small-2cpu-4gb'] });
    const readyAt = Date.parse('2026-01-01T00:00:00Z');
    // old: Ready long ago, made for p1 (which never landed there); young: in flight, made for p1 again, and holding p2.
    const old = vpsieNode('old', 'a', 'small-2cpu-4gb', 'Ready', 'old');
    old.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1']) };
    old.metadata.creationTimestamp = '2026-01-01T00:00:00Z';
    old.status = { ...old.status, phase: 'Ready', nodeName: 'old', phaseTimes: { ready: new Date(readyAt).toISOString() } };
    const young = vpsieNode('young', 'a', 'small-2cpu-4gb', 'Provisioning');
    young.metadata.annotations = { [TRIGGERED_PODS_ANNOTATION]: JSON.stringify(['uid-p1']), [HELD_PODS_ANNOTATION]: JSON.stringify(['uid-p2']) };
    young.metadata.creationTimestamp = '2026-01-01T00:10:00Z';
    const full = readyNode('old', 2, 4096);
    const pods = [pod('p1', { cpu: '800m' }), pod('p2', { cpu: '800m' }), pod('p3', { cpu: '800m' }), pod('filler', { cpu: '1900m', node: 'old' })];
    for (const vns of [
      [old, young],
      [young, old],
    ]) {
      const snap = toPlannerInput(raw({ nodeGroups: [g], pods, nodes: [full], vpsieNodes: vns }), { ...opts, nowMs: readyAt + 3_600_000 });
      expect(snap.assigned).to.deep.equal([
        { pod: 'app/p1', node: 'young' },
        { pod: 'app/p2', node: 'young' },
      ]);
      expect(snap.inFlightVpsieNodes).to.deep.equal({ young: 'ng/young' });
      // p3 finds no room on "young" (p1 + p2 hold 1600m of 2000m) nor on the full old node.
      const d = planScaleUp(snap.input);
      expect(d.groups[0]!.nodes.flatMap((n) => n.pods)).to.deep.equal(['app/p3']);
    }
  });

  it('DaemonSet templates become per-node overhead pods', () => {
    const ds: k8s.V1DaemonSet = {
      metadata: { name: 'proxy', namespace: 'kube-system', uid: 'ds1' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: {
          metadata: { labels: { a: 'b' } },
          spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '100m', memory: '128Mi' } } }], tolerations: [{ operator: 'Exists' }] },
        },
      },
    };
    const snap = toPlannerInput(raw({ daemonSets: [ds] }), opts);
    expect(snap.input.daemonSetPods).to.have.length(1);
    expect(snap.input.daemonSetPods[0]).to.include({ ownerKind: 'DaemonSet', namespace: 'kube-system' });
    expect(snap.input.daemonSetPods[0]!.requests).to.include({ cpuMilli: 100, memoryBytes: 128 * Mi });
  });

  it('selectors and taints decide which group can host which pod; a pod no group can host is reported with its reason', () => {
    const groups = [
      group('web', { offeringIDs: ['small-2cpu-4gb'], labels: { pool: 'web' } }),
      group('gpu', { offeringIDs: ['medium-4cpu-8gb'], labels: { pool: 'gpu' }, taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] }),
    ];
    const pods = [
      pod('w1', { nodeSelector: { pool: 'web' } }),
      pod('g1', { nodeSelector: { pool: 'gpu' }, tolerations: [{ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }] }),
      pod('g-untolerated', { nodeSelector: { pool: 'gpu' } }),
      pod('nowhere', { nodeSelector: { pool: 'db' } }),
    ];
    const d = planScaleUp(toPlannerInput(raw({ nodeGroups: groups, pods }), opts).input);
    const podsOf = (name: string) => d.groups.find((g) => g.group === name)?.nodes.flatMap((n) => n.pods) ?? [];
    expect(podsOf('web')).to.deep.equal(['app/w1']);
    expect(podsOf('gpu')).to.deep.equal(['app/g1']);
    expect(d.unplaced.map((u) => [u.pod, u.reason])).to.deep.equal([
      ['app/g-untolerated', 'TaintNotTolerated'],
      ['app/nowhere', 'NoGroupMatchesSelector'],
    ]);
  });
});
