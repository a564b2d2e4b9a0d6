import { expect } from 'chai';
import { MANAGED_NODE_CONFIG_ANNOTATION, planNodeConfig } from '../../../../activities/nodes/node-config';

const managed = (labels: string[], taints: string[]) => ({ [MANAGED_NODE_CONFIG_ANNOTATION]: JSON.stringify({ labels, taints }) });

describe("a NodeGroup's labels and taints on its Nodes (planNodeConfig)", () => {
  it('sets changed labels, removes the ones the group set before and no longer has, and leaves the others', () => {
    const p = planNodeConfig(
      { labels: { tier: 'web', legacy: 'yes', owner: 'ops', 'kubernetes.io/hostname': 'n1' }, taints: [], annotations: managed(['tier', 'legacy'], []) },
      { labels: { tier: 'api', role: 'edge' }, taints: [] },
    );
    expect(p.labels).to.deep.equal({ tier: 'api', role: 'edge', legacy: null });
    expect(p.managed).to.deep.equal({ labels: ['role', 'tier'], taints: [] });
    expect(p.annotate).to.equal(true);
  });

  it("replaces the group's taints (value changes by key and effect), keeps taints others set", () => {
    const p = planNodeConfig(
      {
        labels: {},
        taints: [
          { key: 'dedicated', value: 'web', effect: 'NoSchedule' },
          { key: 'retired', effect: 'PreferNoSchedule' },
          { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
        ],
        annotations: managed([], ['dedicated:NoSchedule', 'retired:PreferNoSchedule']),
      },
      {
        labels: {},
        taints: [
          { key: 'dedicated', value: 'api', effect: 'NoSchedule' },
          { key: 'edge', effect: 'NoExecute' },
        ],
      },
    );
    expect(p.taints).to.deep.equal([
      { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
      { key: 'dedicated', value: 'api', effect: 'NoSchedule' },
      { key: 'edge', effect: 'NoExecute' },
    ]);
  });

  it("without the annotation, what the machine joined with (its VPSieNode's join record) is replaced", () => {
    const p = planNodeConfig(
      {
        labels: { legacy: 'yes', tier: 'web', owner: 'ops' },
        taints: [
          { key: 'retired', effect: 'PreferNoSchedule' },
          { key: 'x', effect: 'NoSchedule' },
        ],
        annotations: undefined,
      },
      { labels: { tier: 'api' }, taints: [] },
      { labels: ['legacy', 'tier'], taints: ['retired:PreferNoSchedule'] },
    );
    expect(p.labels).to.deep.equal({ tier: 'api', legacy: null });
    expect(p.taints).to.deep.equal([{ key: 'x', effect: 'NoSchedule' }]);
  });

  it('without the annotation (joined before it existed) nothing is removed; a Node as wanted needs no change', () => {
    const first = planNodeConfig(
      { labels: { legacy: 'yes' }, taints: [{ key: 'other', effect: 'NoSchedule' }], annotations: undefined },
      { labels: { tier: 'api' }, taints: [] },
    );
    expect(first.labels).to.deep.equal({ tier: 'api' });
    expect(first.taints).to.equal(undefined);
    const same = planNodeConfig(
      { labels: { tier: 'api' }, taints: [{ key: 'a', effect: 'NoSchedule' }], annotations: managed(['tier'], ['a:NoSchedule']) },
      { labels: { tier: 'api' }, taints: [{ key: 'a', effect: 'NoSchedule' }] },
    );
    expect(same).to.deep.include({ labels: {}, annotate: false });
    expect(same.taints).to.equal(undefined);
  });
});
