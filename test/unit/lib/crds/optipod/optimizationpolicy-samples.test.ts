/**
 * For every OptimizationPolicy sample, valid or not, the zod schema and the CRD's OpenAPI schema
 * agree: the same objects are accepted with the same defaults, and the same objects are refused
 * on the same field. CEL rules are evaluated by the admission test on a real apiserver
 * (test/integration/rightsizing/admission.test.ts); samples refused by CEL must pass the OpenAPI
 * schema and be refused by zod.
 */
import { expect } from 'chai';
import { OPTIPOD_VERSION, POLICY_DEFAULTS, parseOptimizationPolicy, safeParseOptimizationPolicy } from '../../../../../lib/crds/optipod';
import { loadOptimizationPolicyCrd } from '../../../../../lib/crds/optipod/manifest';
import { crdVersion } from '../../../../../lib/crds/autoscaler/manifests';
import { DEFAULT_UPDATE_STRATEGY, INVALID_POLICIES, VALID_POLICIES, examplePolicy } from '../../../../support/optimizationpolicy-samples';
import { applyDefaults, validateOpenAPI } from '../autoscaler/openapi';

const schema = crdVersion(loadOptimizationPolicyCrd(), OPTIPOD_VERSION).schema.openAPIV3Schema;
const pick = (o: unknown, keys: string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([k, v]) => keys.includes(k) && v !== undefined));

describe('OptimizationPolicy samples: zod and the OpenAPI schema agree', () => {
  describe('valid objects are accepted by both, with the same defaults', () => {
    for (const s of VALID_POLICIES) {
      it(s.name, () => {
        const defaulted = applyDefaults(schema, s.object);
        expect(validateOpenAPI(schema, defaulted)).to.deep.equal([]);
        const r = safeParseOptimizationPolicy(s.object);
        if (!r.ok) throw r.error;
        expect(pick(r.value, ['spec', 'status'])).to.deep.equal(pick(defaulted, ['spec', 'status']));
      });
    }
  });

  describe('invalid objects are refused by both, naming the field', () => {
    for (const s of INVALID_POLICIES) {
      it(`${s.name} → ${s.field} (${s.by})`, () => {
        const refusals = validateOpenAPI(schema, applyDefaults(schema, s.object));
        if (s.by === 'schema')
          expect(
            refusals.map((x) => x.path),
            'OpenAPI schema refusals',
          ).to.satisfy((ps: string[]) => ps.some((p) => p.startsWith(s.field)));
        else expect(refusals, 'a CEL sample must pass the OpenAPI schema').to.deep.equal([]);
        const r = safeParseOptimizationPolicy(s.object);
        expect(r.ok, 'zod must refuse').to.equal(false);
        if (r.ok) return;
        expect(r.error.paths, 'zod refusals').to.satisfy((ps: string[]) => ps.some((p) => p.startsWith(s.field)));
        expect(r.error.message).to.include(s.field);
      });
    }
  });

  it('a policy with only a selector gets the defaults of document 003', () => {
    const o = examplePolicy();
    o.spec = { selector: { namespaces: { allow: ['default'] } } };
    const p = parseOptimizationPolicy(o);
    expect(p.spec.mode).to.equal(POLICY_DEFAULTS.mode);
    expect(p.spec.weight).to.equal(100);
    expect(p.spec.metricsConfig).to.deep.equal({ rollingWindow: '24h', percentile: 'P90', safetyFactor: 1.2 });
    expect(p.spec.updateStrategy).to.deep.equal(DEFAULT_UPDATE_STRATEGY);
    expect(p.spec.reconciliationInterval).to.equal('5m');
  });
});
