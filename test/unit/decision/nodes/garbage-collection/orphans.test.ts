import { expect } from 'chai';
import {
  ORPHAN_SINCE_ANNOTATION,
  findOrphanNodes,
  identifierOfProviderID,
  type OrphanCandidateNode,
} from '../../../../../decision/nodes/garbage-collection/orphans';
import { NODEGROUP_LABEL } from '../../../../../lib/crds/autoscaler';

const NOW = Date.parse('2026-01-01T12:00:00Z');

function node(name: string, extra: Partial<OrphanCandidateNode> = {}): OrphanCandidateNode {
  return { name, labels: { [NODEGROUP_LABEL]: 'g' }, annotations: {}, deleting: false, ...extra };
}

describe('orphan Nodes (garbage collection)', () => {
  it('a labelled Node no VPSieNode names is newly seen; named by nodeName, hostname or providerID it is not', () => {
    const r = findOrphanNodes(
      [node('a'), node('b'), node('c', { providerID: 'vpsie://vm-c' }), node('Host-D'.toLowerCase()), node('e', { providerID: 'vpsie://vm-e' })],
      [{ nodeName: 'b' }, { vpsieIdentifier: 'vm-c' }, { hostname: 'Host-D' }],
      { nowMs: NOW, graceSeconds: 600 },
    );
    expect(r.newlySeen.map((o) => o.name)).to.deep.equal(['a', 'e']);
    expect(r.newlySeen[1]).to.include({ vpsieIdentifier: 'vm-e', nodeGroup: 'g', ageSeconds: 0 });
    expect(r.expired).to.deep.equal([]);
  });

  it('Nodes without the group label, being deleted, or of groups out of scope are never orphans', () => {
    const r = findOrphanNodes([node('x', { labels: {} }), node('y', { deleting: true }), node('z', { labels: { [NODEGROUP_LABEL]: 'other' } })], [], {
      nowMs: NOW,
      graceSeconds: 0,
      groups: new Set(['g']),
    });
    expect(r).to.deep.equal({ newlySeen: [], waiting: [], expired: [], adopted: [] });
  });

  it('a marked orphan waits out the grace from its mark, then expires; a marked Node named again is adopted', () => {
    const mark = (ms: number) => ({ [ORPHAN_SINCE_ANNOTATION]: new Date(NOW - ms).toISOString() });
    const r = findOrphanNodes(
      [node('young', { annotations: mark(599_000) }), node('old', { annotations: mark(600_000) }), node('back', { annotations: mark(10_000_000) })],
      [{ nodeName: 'back' }],
      {
        nowMs: NOW,
        graceSeconds: 600,
      },
    );
    expect(r.waiting.map((o) => [o.name, o.ageSeconds])).to.deep.equal([['young', 599]]);
    expect(r.expired.map((o) => [o.name, o.ageSeconds])).to.deep.equal([['old', 600]]);
    expect(r.adopted).to.deep.equal(['back']);
  });

  it('an unreadable mark counts as a first sighting (never infinitely old)', () => {
    const r = findOrphanNodes([node('a', { annotations: { [ORPHAN_SINCE_ANNOTATION]: 'yesterday' } })], [], { nowMs: NOW, graceSeconds: 0 });
    expect(r.newlySeen.map((o) => o.name)).to.deep.equal(['a']);
  });

  it('reads the identifier of a vpsie:// providerID only', () => {
    expect(identifierOfProviderID('vpsie://abc')).to.equal('abc');
    expect(identifierOfProviderID('kwok://abc')).to.equal(undefined);
    expect(identifierOfProviderID('vpsie://')).to.equal(undefined);
    expect(identifierOfProviderID(undefined)).to.equal(undefined);
  });
});
