/**
 * For every sample object, valid or not, the zod schemas and the CRD's OpenAPI schema agree:
 * the same objects are accepted with the same defaults, and the same objects are refused on the
 * same field. CEL rules are not evaluated here (the admission test does that on a real
 * apiserver); samples refused by CEL must pass the OpenAPI schema and be refused by zod.
 */
import { expect } from 'chai';
import { NODEGROUP_CRD_NAME, VERSION, VPSIENODE_CRD_NAME, safeParseNodeGroup, safeParseVPSieNode, type ParseResult } from '../../../../../lib/crds/autoscaler';
import { crdVersion, loadCrdManifest } from '../../../../../lib/crds/autoscaler/manifests';
import { INVALID_NODEGROUPS, INVALID_VPSIENODES, VALID_NODEGROUPS, VALID_VPSIENODES, type InvalidSample, type Sample } from '../../../../support/crd-samples';
import { applyDefaults, validateOpenAPI } from './openapi';

const KINDS = [
  {
    kind: 'NodeGroup',
    schema: crdVersion(loadCrdManifest(NODEGROUP_CRD_NAME), VERSION).schema.openAPIV3Schema,
    parse: (o: unknown): ParseResult<unknown> => safeParseNodeGroup(o),
    valid: VALID_NODEGROUPS,
    invalid: INVALID_NODEGROUPS,
  },
  {
    kind: 'VPSieNode',
    schema: crdVersion(loadCrdManifest(VPSIENODE_CRD_NAME), VERSION).schema.openAPIV3Schema,
    parse: (o: unknown): ParseResult<unknown> => safeParseVPSieNode(o),
    valid: VALID_VPSIENODES,
    invalid: INVALID_VPSIENODES,
  },
];

const pick = (o: unknown, keys: string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([k, v]) => keys.includes(k) && v !== undefined));

for (const k of KINDS) {
  describe(`${k.kind} samples: zod and the OpenAPI schema agree`, () => {
    describe('valid objects are accepted by both, with the same defaults', () => {
      for (const s of k.valid as Sample[]) {
        it(s.name, () => {
          const defaulted = applyDefaults(k.schema, s.object);
          expect(validateOpenAPI(k.schema, defaulted)).to.deep.equal([]);
          const r = k.parse(s.object);
          if (!r.ok) throw r.error;
          expect(pick(r.value, ['spec', 'status'])).to.deep.equal(pick(defaulted, ['spec', 'status']));
        });
      }
    });

    describe('invalid objects are refused by both, naming the field', () => {
      for (const s of k.invalid as InvalidSample[]) {
        it(`${s.name} → ${s.field} (${s.by})`, () => {
          const refusals = validateOpenAPI(k.schema, applyDefaults(k.schema, s.object));
          if (s.by === 'schema')
            expect(
              refusals.map((x) => x.path),
              'OpenAPI schema refusals',
            ).to.satisfy((ps: string[]) => ps.some((p) => p.startsWith(s.field)));
          else expect(refusals, 'a CEL sample must pass the OpenAPI schema').to.deep.equal([]);
          const r = k.parse(s.object);
          expect(r.ok, 'zod must refuse').to.equal(false);
          if (r.ok) return;
          expect(r.error.paths, 'zod refusals').to.satisfy((ps: string[]) => ps.some((p) => p.startsWith(s.field)));
          expect(r.error.message).to.include(s.field);
        });
      }
    });
  });
}
