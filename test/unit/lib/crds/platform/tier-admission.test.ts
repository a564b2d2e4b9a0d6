/**
 * k8s/admission/tenant-tiers.yaml reads its limits from the ConfigMap generated from the tier
 * configuration: every key it reads is generated for every tier, every binding takes that ConfigMap,
 * and the three policies decide the tier with the same expressions. (The policies themselves are
 * tested on the sandbox apiserver: test/integration/k8s/tenant-tiers.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { loadCoordinationConfig, tierLimitsData } from '../../../../../lib/coordination-config';
import {
  TENANT_TIERS,
  TENANT_TIER_ALIASES,
  TENANT_TIER_LABEL,
  TENANT_TIER_NAMESPACE_PREFIXES,
  TIER_LIMITS_CONFIGMAP,
  TIER_LIMITS_NAMESPACE,
} from '../../../../../lib/crds/platform';
import { TENANT_TIER_POLICY_NAMES } from '../../../../../sandbox/admission';

interface Doc {
  kind: string;
  metadata: { name: string };
  spec: {
    policyName?: string;
    paramRef?: { name: string; namespace: string; parameterNotFoundAction: string };
    failurePolicy?: string;
    variables?: { name: string; expression: string }[];
    validations?: { expression: string; messageExpression?: string }[];
  };
}

const file = path.resolve(__dirname, '..', '..', '..', '..', '..', 'k8s', 'admission', 'tenant-tiers.yaml');
const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Doc);
const policies = docs.filter((d) => d.kind === 'ValidatingAdmissionPolicy');
const bindings = docs.filter((d) => d.kind === 'ValidatingAdmissionPolicyBinding');

describe('tenant tier admission policies and their parameters', () => {
  it('one policy per governed kind, each bound to the generated ConfigMap, failing closed', () => {
    expect(policies.map((p) => p.metadata.name).sort()).to.deep.equal(Object.values(TENANT_TIER_POLICY_NAMES).sort());
    expect(bindings.map((b) => b.spec.policyName).sort()).to.deep.equal(Object.values(TENANT_TIER_POLICY_NAMES).sort());
    for (const b of bindings)
      expect(b.spec.paramRef).to.deep.equal({ name: TIER_LIMITS_CONFIGMAP, namespace: TIER_LIMITS_NAMESPACE, parameterNotFoundAction: 'Deny' });
    for (const p of policies) expect(p.spec.failurePolicy, p.metadata.name).to.equal('Fail');
  });

  it('every key the policies read is generated for every tier', () => {
    const data = tierLimitsData(loadCoordinationConfig().tiers);
    const text = JSON.stringify(policies);
    const keys = new Set([...text.matchAll(/variables\.tier \+ '\.(\w+)'/g)].map((m) => m[1]!));
    expect(keys.size).to.be.greaterThan(8);
    for (const k of keys) for (const t of TENANT_TIERS) expect(data, `${t}.${k}`).to.have.property(`${t}.${k}`);
  });

  it('the three policies decide the tier alike, with the label, aliases and prefixes of lib/crds/platform', () => {
    const tierVars = policies.map((p) => (p.spec.variables ?? []).filter((v) => ['tiers', 'labelTier', 'namespaceLabelTier', 'tier'].includes(v.name)));
    for (const vars of tierVars) expect(vars).to.deep.equal(tierVars[0]);
    const text = JSON.stringify(tierVars[0]);
    expect(text).to.include(`'${TENANT_TIER_LABEL}'`);
    for (const t of TENANT_TIERS) expect(text).to.include(`startsWith('${TENANT_TIER_NAMESPACE_PREFIXES[t]}') ? '${t}'`);
    for (const [alias, t] of Object.entries(TENANT_TIER_ALIASES)) expect(text).to.include(`'${alias}': '${t}'`);
  });
});
