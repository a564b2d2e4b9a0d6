/**
 * For every VPANAPCoordination sample, valid or not, the zod schema and the CRD's OpenAPI schema
 * agree: the same objects are accepted with the same defaults, and the same objects are refused on
 * the same field. The namespace rule (an admission policy, not the schema) is refused by zod and
 * passes the OpenAPI schema. The real apiserver is checked against the same samples by
 * test/integration/k8s/crds/vpanapcoordination.test.ts.
 */
import { expect } from 'chai';
import { safeParseVPANAPCoordination } from '../../../../../lib/crds/platform';
import { applyDefaults, validateOpenAPI } from '../autoscaler/openapi';
import { coordinationSchema, dropNullables } from './crd';
import { INVALID_COORDINATIONS, VALID_COORDINATIONS } from './samples';

const schema = coordinationSchema();
const pick = (o: unknown, keys: string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([k, v]) => keys.includes(k) && v !== undefined));

describe('VPANAPCoordination samples: zod and the OpenAPI schema agree', () => {
  describe('valid objects are accepted by both, with the same defaults', () => {
    for (const s of VALID_COORDINATIONS) {
      it(s.name, () => {
        const defaulted = applyDefaults(schema, s.object);
        expect(validateOpenAPI(schema, dropNullables(schema, defaulted))).to.deep.equal([]);
        const r = safeParseVPANAPCoordination(s.object);
        if (!r.ok) throw r.error;
        expect(pick(r.value, ['spec', 'status'])).to.deep.equal(pick(defaulted, ['spec', 'status']));
      });
    }
  });

  describe('invalid objects are refused by both, naming the field', () => {
    for (const s of INVALID_COORDINATIONS) {
      it(`${s.name} → ${s.field} (${s.by})`, () => {
        const refusals = validateOpenAPI(schema, dropNullables(schema, applyDefaults(schema, s.object)));
        if (s.by === 'admission') expect(refusals, 'an admission sample must pass the OpenAPI schema').to.deep.equal([]);
        else
          expect(
            refusals.map((x) => x.path),
            'OpenAPI schema refusals',
          ).to.satisfy((ps: string[]) => ps.some((p) => p.startsWith(s.field)));
        const r = safeParseVPANAPCoordination(s.object);
        expect(r.ok, 'zod must refuse').to.equal(false);
        if (r.ok) return;
        expect(r.error.paths, 'zod refusals').to.satisfy((ps: string[]) => ps.some((p) => p.startsWith(s.field)));
        expect(r.error.message).to.include(s.field);
      });
    }
  });
});
