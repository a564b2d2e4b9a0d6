import { expect } from 'chai';
import {
  CrdValidationError,
  NODEGROUP_LABEL,
  checkVPSieNodeSpecUpdate,
  formatPath,
  nodeGroupOwnerReference,
  nodeLabelsFor,
  parseNodeGroup,
  parseVPSieNode,
  providerIDFor,
  safeParseNodeGroup,
} from '../../../../../lib/crds/autoscaler';
import { VPSIENODE_UPDATES, exampleNodeGroup, type JsonObject } from '../../../../support/crd-samples';

describe('the product document example NodeGroup', () => {
  it('parses as it is and gets every default', () => {
    const ng = parseNodeGroup(exampleNodeGroup());
    expect(ng.metadata).to.include({ name: 'general-purpose-nodes', namespace: 'kube-system' });
    expect(ng.spec).to.deep.equal({
      minNodes: 2,
      maxNodes: 10,
      datacenterID: 'us-east-1',
      offeringIDs: ['small-2cpu-4gb', 'medium-4cpu-8gb'],
      osImageID: 'ubuntu-22.04-lts',
      labels: { nodegroup: 'general-purpose', 'workload-type': 'stateless' },
      taints: [{ key: 'workload-type', value: 'general-purpose', effect: 'NoSchedule' }],
      scaleUpPolicy: { enabled: true, stabilizationWindowSeconds: 60, cooldownSeconds: 0, cpuThreshold: 80, memoryThreshold: 80 },
      scaleDownPolicy: {
        enabled: true,
        stabilizationWindowSeconds: 600,
        cooldownSeconds: 600,
        cpuThreshold: 50,
        memoryThreshold: 50,
        utilizationSource: 'both',
      },
      preferredInstanceType: 'small-2cpu-4gb',
      preferredInstanceTolerancePercent: 10,
      allowMixedInstances: true,
      priority: 0,
      dryRun: false,
      disruptionBudget: { maxUnavailable: 1 },
      consolidation: { enabled: false, savingsThresholdPercent: 20 },
    });
    expect(ng.spec.join, 'join is left to the configuration').to.equal(undefined);
  });

  it('a minimal NodeGroup gets the same policy defaults', () => {
    const ng = parseNodeGroup({ apiVersion: 'autoscaler.vpsie.com/v1alpha1', kind: 'NodeGroup', metadata: { name: 'm' }, spec: { minNodes: 0, maxNodes: 1 } });
    expect(ng.spec.scaleDownPolicy.cooldownSeconds).to.equal(600);
    expect(ng.spec.scaleUpPolicy.cpuThreshold).to.equal(80);
    expect(ng.spec.offeringIDs).to.equal(undefined);
  });
});

describe('parse errors name the field', () => {
  const bad = (mutate: (spec: JsonObject) => void): unknown => {
    const o = exampleNodeGroup();
    mutate(o.spec as JsonObject);
    return o;
  };

  it('throws CrdValidationError with kind, namespace/name and each bad path', () => {
    const o = bad((s) => {
      s.minNodes = -1;
      s.taints = [{ key: 'a', effect: 'Sometimes' }];
    });
    let err: unknown;
    try {
      parseNodeGroup(o);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(CrdValidationError);
    const e = err as CrdValidationError;
    expect(e.kind).to.equal('NodeGroup');
    expect(e.objectRef).to.equal('kube-system/general-purpose-nodes');
    expect(e.paths).to.include.members(['spec.minNodes', 'spec.taints[0].effect']);
    expect(e.message)
      .to.match(/^NodeGroup kube-system\/general-purpose-nodes is invalid: /)
      .and.include('spec.taints[0].effect: ');
  });

  it('reports an unknown field at its own path', () => {
    const r = safeParseNodeGroup(bad((s) => (s.maxNode = 3)));
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.issues).to.deep.include({ path: 'spec.maxNode', message: 'unknown field' });
  });

  it('reports cross-field rules on the field the CRD names', () => {
    const r = safeParseNodeGroup(bad((s) => Object.assign(s, { minNodes: 7, maxNodes: 3 })));
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.message).to.include('spec.minNodes: spec.minNodes (7) must be less than or equal to spec.maxNodes (3)');
  });

  it('refuses the wrong kind or apiVersion', () => {
    const o = exampleNodeGroup();
    o.kind = 'VPSieNode';
    o.apiVersion = 'autoscaler.vpsie.com/v1';
    const r = safeParseNodeGroup(o);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.paths).to.include.members(['kind', 'apiVersion']);
  });

  it('formats paths like the apiserver', () => {
    expect(formatPath(['spec', 'taints', 0, 'effect'])).to.equal('spec.taints[0].effect');
    expect(formatPath(['spec', 'labels', 'example.com/team'])).to.equal('spec.labels["example.com/team"]');
    expect(formatPath([])).to.equal('<root>');
  });
});

describe('VPSieNode transition rules in code', () => {
  for (const u of VPSIENODE_UPDATES) {
    it(`${u.field ? 'refuses' : 'allows'}: ${u.name}`, () => {
      const before = parseVPSieNode(u.before).spec;
      const after = parseVPSieNode(u.after).spec;
      const errors = checkVPSieNodeSpecUpdate(before, after);
      if (u.field === undefined) expect(errors).to.deep.equal([]);
      else expect(errors.map((e) => e.path)).to.deep.equal([u.field]);
    });
  }
});

describe('ownership helpers', () => {
  const ng = parseNodeGroup({ ...exampleNodeGroup(), metadata: { name: 'general-purpose-nodes', namespace: 'kube-system', uid: 'u-1' } });

  it('owner reference of a VPSieNode is the controlling NodeGroup', () => {
    expect(nodeGroupOwnerReference(ng)).to.deep.equal({
      apiVersion: 'autoscaler.vpsie.com/v1alpha1',
      kind: 'NodeGroup',
      name: 'general-purpose-nodes',
      uid: 'u-1',
      controller: true,
      blockOwnerDeletion: true,
    });
    expect(() => nodeGroupOwnerReference(parseNodeGroup(exampleNodeGroup()))).to.throw(/no metadata.uid/);
  });

  it('Node labels are the group labels plus the group label, which wins', () => {
    expect(nodeLabelsFor(ng)).to.deep.equal({ nodegroup: 'general-purpose', 'workload-type': 'stateless', [NODEGROUP_LABEL]: 'general-purpose-nodes' });
    expect(NODEGROUP_LABEL).to.equal('autoscaler.vpsie.com/nodegroup');
    expect(providerIDFor('55f06b85')).to.equal('vpsie://55f06b85');
  });
});
