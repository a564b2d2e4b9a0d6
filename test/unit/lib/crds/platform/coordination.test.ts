/** The VPANAPCoordination zod schemas: defaults, the namespace rule, nulls, and errors that name the field. */
import { expect } from 'chai';
import {
  NAMESPACE_MISMATCH_MESSAGE,
  VPANAPCoordinationSpecSchema,
  VPANAPCoordinationStatusSchema,
  parseVPANAPCoordination,
  safeParseVPANAPCoordination,
  type VPANAPCoordinationSpec,
} from '../../../../../lib/crds/platform';
import { CrdValidationError } from '../../../../../lib/crds/autoscaler/parse';
import { coordination, exampleCoordination } from './samples';

describe('VPANAPCoordination zod schema', () => {
  it('parses the document example into the types of lib/crds/platform/types.ts', () => {
    const o = parseVPANAPCoordination(exampleCoordination());
    const spec: VPANAPCoordinationSpec = o.spec;
    expect(spec).to.deep.include({ vpaName: 'example-vpa', namespace: 'tenant-std-app1', coordinationStrategy: 'coordinated', enabled: true });
    expect(o.status?.cooldownUntil).to.equal(null);
    expect(o.status?.napEvents?.[0]).to.deep.equal({ timestamp: '2024-01-01T12:00:00Z', event: 'NodeScaleUp', nodeCount: 5 });
  });

  it('fills in the strategy, enabled and circuitBreaker.enabled, and no threshold', () => {
    const spec = VPANAPCoordinationSpecSchema.parse({ vpaName: 'web', namespace: 'team-a', circuitBreaker: {} });
    expect(spec).to.deep.equal({ vpaName: 'web', namespace: 'team-a', coordinationStrategy: 'coordinated', enabled: true, circuitBreaker: { enabled: true } });
    expect(VPANAPCoordinationSpecSchema.parse({ vpaName: 'web', namespace: 'team-a' })).to.not.have.property('conflictPrevention');
  });

  it('refuses spec.namespace other than the object namespace, with the admission policy message', () => {
    const r = safeParseVPANAPCoordination(coordination('x', (o) => ((o.spec as { namespace: string }).namespace = 'elsewhere')));
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.error.paths).to.deep.equal(['spec.namespace']);
    expect(r.error.message).to.include(NAMESPACE_MISMATCH_MESSAGE).and.include('got elsewhere, object in tenant-std-app1');
  });

  it('an object read without metadata.namespace is not held to the namespace rule', () => {
    const o = coordination('x');
    delete (o.metadata as Record<string, unknown>).namespace;
    expect(safeParseVPANAPCoordination(o).ok).to.equal(true);
  });

  it('names every bad field at once, unknown fields at their own path', () => {
    const o = coordination('x', (c) => {
      Object.assign(c.spec as object, { coordinationStrategy: 'chaos', surprise: true });
      (c.spec as { circuitBreaker: Record<string, unknown> }).circuitBreaker.evictionThreshold = 0;
    });
    try {
      parseVPANAPCoordination(o);
      expect.fail('parsed');
    } catch (e) {
      expect(e).to.be.instanceOf(CrdValidationError);
      expect((e as CrdValidationError).paths.sort()).to.deep.equal(['spec.circuitBreaker.evictionThreshold', 'spec.coordinationStrategy', 'spec.surprise']);
      expect((e as CrdValidationError).message).to.match(/^VPANAPCoordination tenant-std-app1\/x is invalid: /);
    }
  });

  it('status: null times are kept, 21 events refused, a condition type map refuses duplicates', () => {
    expect(VPANAPCoordinationStatusSchema.parse({ lastConflictTime: null, cooldownUntil: null })).to.deep.equal({
      lastConflictTime: null,
      cooldownUntil: null,
    });
    const ev = { timestamp: '2026-01-01T00:00:00Z', event: 'Eviction' };
    expect(VPANAPCoordinationStatusSchema.safeParse({ vpaEvents: Array(20).fill(ev) }).success).to.equal(true);
    expect(VPANAPCoordinationStatusSchema.safeParse({ vpaEvents: Array(21).fill(ev) }).success).to.equal(false);
    const cond = { type: 'Ready', status: 'True', reason: 'Ok', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' };
    expect(VPANAPCoordinationStatusSchema.safeParse({ conditions: [cond, cond] }).success).to.equal(false);
  });
});
