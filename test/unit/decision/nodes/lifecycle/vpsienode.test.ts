import { expect } from 'chai';
import fc from 'fast-check';
import {
  PHASE_TRANSITIONS,
  TRANSITION_REASON,
  buildStatusPatch,
  canTransition,
  conditionsFor,
  errorReasonOf,
  machinesWaitingFor,
  matchNode,
  mergeConditions,
  mergeTaints,
  missingLabels,
  type NodeView,
} from '../../../../../decision/nodes/lifecycle/vpsienode';
import { podDisposition } from '../../../../../decision/nodes/drain/disposition';
import {
  VPSIENODE_CONDITION_TYPES,
  VPSIENODE_PHASES,
  VPSIENODE_REASONS_BY_CONDITION,
  type VPSieNodePhase,
  type VPSieNodeReason,
} from '../../../../../lib/crds/autoscaler/constants';
import { VPSieNodeStatusSchema } from '../../../../../lib/crds/autoscaler/vpsienode';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';

describe('VPSieNode lifecycle: phase transition table', () => {
  it('walks the happy path Pending → … → Deleted and nothing skips a step', () => {
    const path: VPSieNodePhase[] = ['Pending', 'Provisioning', 'Provisioned', 'Joining', 'Ready', 'Terminating', 'Deleted'];
    for (let i = 0; i + 1 < path.length; i++) expect(canTransition(path[i]!, path[i + 1]!), `${path[i]} -> ${path[i + 1]}`).to.equal(true);
    expect(canTransition('Pending', 'Ready')).to.equal(false);
    expect(canTransition('Provisioning', 'Joining')).to.equal(false);
    expect(canTransition('Ready', 'Provisioning')).to.equal(false);
  });

  it('every phase but Deleted and Failed can fail; Deleted is final; Failed only goes to Deleted', () => {
    for (const p of VPSIENODE_PHASES) {
      if (p === 'Deleted') expect(PHASE_TRANSITIONS[p]).to.deep.equal([]);
      else if (p === 'Failed') expect(PHASE_TRANSITIONS[p]).to.deep.equal(['Deleted']);
      else expect(canTransition(p, 'Failed'), p).to.equal(true);
    }
  });

  it('deletion reaches Terminating from every live phase', () => {
    for (const p of ['Pending', 'Provisioning', 'Provisioned', 'Joining', 'Ready'] as const) expect(canTransition(p, 'Terminating'), p).to.equal(true);
  });

  it('every condition a transition sets uses a reason the CRD allows for that condition type (even for an odd failure reason)', () => {
    const reasons: VPSieNodeReason[] = [...Object.values(TRANSITION_REASON), 'JoinTimeout', 'VPSCreateTimeout', 'DrainFailed', 'QuotaExceeded', 'NotDraining'];
    for (const to of VPSIENODE_PHASES)
      for (const r of reasons)
        for (const c of conditionsFor(to, r, 'm')) {
          expect(VPSIENODE_CONDITION_TYPES).to.include(c.type);
          expect(VPSIENODE_REASONS_BY_CONDITION[c.type] as readonly string[], `${to}/${r}: ${c.type}=${c.reason}`).to.include(c.reason);
        }
  });
});

describe('VPSieNode lifecycle: status patch builder', () => {
  it('sets phase, the phase time, conditions; Failed carries lastError with the phase it failed in; the result passes the CRD schema', () => {
    const s1 = buildStatusPatch(undefined, { from: 'Pending', to: 'Provisioning', reason: 'VPSCreating', message: 'creating', at: T0 });
    expect(s1).to.include({ phase: 'Provisioning' });
    expect(s1.phaseTimes).to.deep.equal({ provisioning: T0 });
    expect(VPSieNodeStatusSchema.safeParse(s1).success).to.equal(true);
    const s2 = buildStatusPatch(s1, { from: 'Joining', to: 'Failed', reason: 'JoinTimeout', message: 'no node after 900s', at: T1 });
    expect(s2.lastError).to.deep.equal({ reason: 'JoinTimeout', message: 'no node after 900s', phase: 'Joining', time: T1 });
    expect(s2.phaseTimes).to.deep.equal({ provisioning: T0, failed: T1 });
    expect(s2.conditions!.find((c) => c.type === 'Error')).to.include({ status: 'True', reason: 'JoinTimeout' });
    expect(VPSieNodeStatusSchema.safeParse(s2).success).to.equal(true);
  });

  it('records IPs only when they are addresses, and the node name', () => {
    const s = buildStatusPatch(undefined, {
      from: 'Provisioning',
      to: 'Provisioned',
      reason: 'VPSRunning',
      message: '',
      at: T0,
      publicIPv4: '203.0.1.2',
      privateIPv4: 'not-an-ip',
      nodeName: 'n1',
    });
    expect(s.publicIPv4).to.equal('203.0.1.2');
    expect(s.privateIPv4).to.equal(undefined);
    expect(s.nodeName).to.equal('n1');
  });

  it('a condition keeps its lastTransitionTime while its status does not change', () => {
    const a = mergeConditions(undefined, [{ type: 'Error', status: 'False', reason: 'NoError', message: '' }], T0);
    const b = mergeConditions(a, [{ type: 'Error', status: 'False', reason: 'NoError', message: '' }], T1);
    expect(b[0]!.lastTransitionTime).to.equal(T0);
    const c = mergeConditions(b, [{ type: 'Error', status: 'True', reason: 'JoinTimeout', message: 'x' }], T1);
    expect(c[0]!.lastTransitionTime).to.equal(T1);
  });

  it('property: any valid walk of the table yields a status the CRD schema accepts, with one entry per condition type', () => {
    const live = ['Pending', 'Provisioning', 'Provisioned', 'Joining', 'Ready', 'Terminating'] as const;
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom(...live), (choices, start) => {
        let phase: VPSieNodePhase = start;
        let status = buildStatusPatch(undefined, { from: start, to: start, reason: 'VPSRequested', message: '', at: T0 });
        for (const ch of choices) {
          const next: readonly VPSieNodePhase[] = PHASE_TRANSITIONS[phase];
          if (next.length === 0) break;
          const to: VPSieNodePhase = next[ch % next.length]!;
          const reason: VPSieNodeReason = to === 'Failed' ? 'VPSCreateTimeout' : TRANSITION_REASON[to];
          status = buildStatusPatch(status, { from: phase, to, reason, message: `${phase}->${to}`, at: T1 });
          phase = to;
        }
        expect(status.phase).to.equal(phase);
        const types = (status.conditions ?? []).map((c) => c.type);
        expect(new Set(types).size).to.equal(types.length);
        const r = VPSieNodeStatusSchema.safeParse(status);
        expect(r.success, JSON.stringify(r.error?.issues)).to.equal(true);
      }),
    );
  });
});

describe('VPSieNode lifecycle: Node matching', () => {
  const node = (name: string, providerID?: string, ips: string[] = []): NodeView => ({
    name,
    ...(providerID ? { providerID } : {}),
    addresses: [...ips.map((a) => ({ type: 'InternalIP', address: a })), { type: 'Hostname', address: name }],
    labels: { 'kubernetes.io/hostname': name },
  });

  it('prefers providerID, then hostname, then IP', () => {
    const nodes = [node('host-a', undefined, ['10.0.0.9']), node('other', 'vpsie://id-1'), node('host-b', undefined, ['10.0.0.5'])];
    expect(matchNode(nodes, { vpsieIdentifier: 'id-1', hostname: 'host-a' })).to.deep.include({ by: 'providerID' });
    expect(matchNode(nodes, { vpsieIdentifier: 'id-1', hostname: 'host-a' })!.node.name).to.equal('other');
    expect(matchNode(nodes, { vpsieIdentifier: 'id-x', hostname: 'host-a' })!.node.name).to.equal('host-a');
    expect(matchNode(nodes, { ips: ['10.0.0.5'] })).to.deep.include({ by: 'ip' });
    expect(matchNode(nodes, { hostname: 'nope', ips: ['1.1.1.1'] })).to.equal(undefined);
  });

  it('never matches by hostname or IP a Node that belongs to another VPSie machine', () => {
    const nodes = [node('host-a', 'vpsie://someone-else', ['10.0.0.9'])];
    expect(matchNode(nodes, { vpsieIdentifier: 'mine', hostname: 'host-a', ips: ['10.0.0.9'] })).to.equal(undefined);
    // A Node without a providerID yet (cloud controller not done) can be matched by hostname.
    expect(matchNode([node('host-a')], { vpsieIdentifier: 'mine', hostname: 'HOST-A' })!.by).to.equal('hostname');
  });

  it('a Node that appears wakes exactly the VPSieNodes waiting for it (the Node watcher, #12)', () => {
    const machines = [
      { namespace: 'a', name: 'joining', phase: 'Joining', vpsieIdentifier: 'id-1' },
      { namespace: 'a', name: 'provisioned', phase: 'Provisioned', hostname: 'host-b' },
      { namespace: 'a', name: 'ready', phase: 'Ready', vpsieIdentifier: 'id-1' },
      { namespace: 'a', name: 'other', phase: 'Joining', vpsieIdentifier: 'id-2', hostname: 'host-z' },
      { namespace: 'b', name: 'by-name', phase: 'Joining', nodeName: 'host-b' },
      { namespace: 'b', name: 'by-ip', phase: 'Provisioned', ips: ['10.0.0.7'] },
    ];
    expect(machinesWaitingFor(node('host-x', 'vpsie://id-1'), machines).map((m) => m.name)).to.deep.equal(['joining']);
    expect(machinesWaitingFor(node('host-b'), machines).map((m) => m.name)).to.deep.equal(['provisioned', 'by-name']);
    expect(machinesWaitingFor(node('host-q', undefined, ['10.0.0.7']), machines).map((m) => m.name)).to.deep.equal(['by-ip']);
    // Another machine's Node is nobody else's by hostname.
    expect(machinesWaitingFor(node('host-z', 'vpsie://id-9'), machines)).to.deep.equal([]);
  });
});

describe('VPSieNode lifecycle: labels and taints for the Node', () => {
  it('adds missing taints, replaces a value by key+effect, keeps foreign taints; no change → undefined', () => {
    const cur = [
      { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
      { key: 'dedicated', value: 'old', effect: 'NoSchedule' },
    ];
    const out = mergeTaints(cur, [
      { key: 'dedicated', value: 'new', effect: 'NoSchedule' },
      { key: 'gpu', effect: 'NoExecute' },
    ]);
    expect(out).to.deep.equal([
      { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
      { key: 'dedicated', value: 'new', effect: 'NoSchedule' },
      { key: 'gpu', effect: 'NoExecute' },
    ]);
    expect(mergeTaints(out!, [{ key: 'gpu', effect: 'NoExecute' }])).to.equal(undefined);
  });

  it('labels to write are only the missing or different ones', () => {
    expect(missingLabels({ a: '1', b: '2' }, { a: '1', b: '3', c: '4' })).to.deep.equal({ b: '3', c: '4' });
    expect(missingLabels({ a: '1' }, { a: '1' })).to.deep.equal({});
  });
});

describe('VPSieNode lifecycle: typed failure reasons', () => {
  it('maps VPSie client failures to the closed error reasons', () => {
    expect(errorReasonOf('VpsieError.not_found', 'datacenter.resolve')).to.equal('DatacenterNotFound');
    expect(errorReasonOf('VpsieError.not_found', 'plan.resolve')).to.equal('OfferingNotFound');
    expect(errorReasonOf('VpsieError.not_found', 'image.resolve')).to.equal('ImageNotFound');
    expect(errorReasonOf('VpsieError.quota_exceeded', 'vm.create')).to.equal('QuotaExceeded');
    expect(errorReasonOf('VpsieError.worker_cap', 'k8s.group.addWorker')).to.equal('QuotaExceeded');
    expect(errorReasonOf('VpsieError.bad_request', 'vm.create')).to.equal('VPSCreateFailed');
    expect(errorReasonOf('VpsieError.auth_failed', 'auth.login')).to.equal('VPSieAPIError');
    expect(errorReasonOf('InvalidConfiguration')).to.equal('InvalidConfiguration');
    expect(errorReasonOf('VPSNotFound')).to.equal('VPSNotFound');
    expect(errorReasonOf(undefined)).to.equal('VPSieAPIError');
  });
});

describe('drain: pod disposition', () => {
  const pod = { namespace: 'ns', name: 'p', uid: 'u', ownerKinds: [] as string[], mirror: false, deleting: false };
  it('skips DaemonSet, mirror and finished pods; waits for deleting pods; evicts the rest with their grace capped', () => {
    expect(podDisposition({ ...pod, ownerKinds: ['DaemonSet'] }, 60)).to.deep.equal({ action: 'skip', reason: 'DaemonSetPod' });
    expect(podDisposition({ ...pod, mirror: true }, 60)).to.deep.equal({ action: 'skip', reason: 'MirrorPod' });
    expect(podDisposition({ ...pod, phase: 'Succeeded' }, 60)).to.deep.equal({ action: 'skip', reason: 'Completed' });
    expect(podDisposition({ ...pod, deleting: true }, 60)).to.deep.equal({ action: 'wait' });
    expect(podDisposition({ ...pod, ownerKinds: ['ReplicaSet'], terminationGracePeriodSeconds: 600 }, 60)).to.deep.equal({
      action: 'evict',
      gracePeriodSeconds: 60,
    });
    expect(podDisposition({ ...pod, terminationGracePeriodSeconds: 5 }, 60)).to.deep.equal({ action: 'evict', gracePeriodSeconds: 5 });
    expect(podDisposition(pod, 60)).to.deep.equal({ action: 'evict', gracePeriodSeconds: 30 });
  });
});
