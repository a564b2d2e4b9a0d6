/**
 * The Kyverno ClusterPolicies of k8s/kyverno/ mirror the tier admission policies: enforced, no
 * background scan, failing closed (document 000's kyverno-config); the same tier rule in every rule;
 * only limits the generated ConfigMap has; and the Kyverno CLI tests run against that ConfigMap as
 * lib/coordination-config.ts generates it. (The policies' decisions are tested with the Kyverno CLI:
 * `kubectl-kyverno test k8s/kyverno/tests`.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { loadCoordinationConfig, tierLimitsData } from '../../../../../lib/coordination-config';
import {
  TENANT_TIERS,
  TENANT_TIER_ALIASES,
  TENANT_TIER_NAMESPACE_PREFIXES,
  TIER_LIMITS_CONFIGMAP,
  TIER_LIMITS_NAMESPACE,
} from '../../../../../lib/crds/platform';

const DIR = path.resolve(__dirname, '..', '..', '..', '..', '..', 'k8s', 'kyverno');
const read = (file: string): unknown[] => YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((d) => d.toJS() as unknown);

interface ContextEntry {
  name: string;
  configMap?: { name: string; namespace: string };
  variable?: { jmesPath?: string; value?: unknown };
  apiCall?: unknown;
}
interface Rule {
  name: string;
  context?: ContextEntry[];
}
interface ClusterPolicy {
  kind: string;
  metadata: { name: string };
  spec: { validationFailureAction: string; background: boolean; failurePolicy: string; rules: Rule[] };
}

const policyFiles = fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const policies = policyFiles.flatMap((f) => read(f) as ClusterPolicy[]);
const data = tierLimitsData(loadCoordinationConfig().tiers);

describe('Kyverno policies of the tenant tiers', () => {
  it('one ClusterPolicy per admission policy, enforced, without background scans, failing closed', () => {
    expect(policies.map((p) => p.metadata.name).sort()).to.deep.equal([
      'tenant-tier-optimizationpolicy',
      'tenant-tier-vpa',
      'tenant-tier-vpanapcoordination',
      'vpanapcoordination-namespace',
    ]);
    for (const p of policies) {
      expect(p.kind).to.equal('ClusterPolicy');
      expect(p.spec, p.metadata.name).to.include({ validationFailureAction: 'Enforce', background: false, failurePolicy: 'Fail' });
    }
  });

  it('every rule that decides a tier decides it alike, with the names and prefixes of lib/crds/platform, from the generated ConfigMap', () => {
    const shared = ['limits', 'namespaceLabels', 'tierNames', 'tier'];
    const tiered = policies.flatMap((p) => p.spec.rules).filter((r) => r.context?.some((c) => c.name === 'tier'));
    expect(tiered.length).to.equal(5);
    const first = tiered[0]!.context!.filter((c) => shared.includes(c.name));
    for (const r of tiered)
      expect(
        r.context!.filter((c) => shared.includes(c.name)),
        r.name,
      ).to.deep.equal(first);
    expect(first.find((c) => c.name === 'limits')!.configMap).to.deep.equal({ name: TIER_LIMITS_CONFIGMAP, namespace: TIER_LIMITS_NAMESPACE });
    const names = first.find((c) => c.name === 'tierNames')!.variable!.value;
    expect(names).to.deep.equal({ ...Object.fromEntries(TENANT_TIERS.map((t) => [t, t])), ...TENANT_TIER_ALIASES });
    const tier = first.find((c) => c.name === 'tier')!.variable!.jmesPath!;
    for (const t of TENANT_TIERS) expect(tier).to.include(`'${TENANT_TIER_NAMESPACE_PREFIXES[t]}') && '${t}'`);
  });

  it('every limit the policies read is generated for every tier', () => {
    const text = policyFiles.map((f) => fs.readFileSync(path.join(DIR, f), 'utf8')).join('\n');
    const keys = new Set([...text.matchAll(/join\('', \[tier, '\.(\w+)'\]\)/g)].map((m) => m[1]!));
    expect(keys.size).to.be.greaterThan(8);
    for (const k of keys) for (const t of TENANT_TIERS) expect(data, `${t}.${k}`).to.have.property(`${t}.${k}`);
  });

  it('the CLI tests run against the ConfigMap exactly as generated, and the namespaces they answer with exist', () => {
    const [cluster] = YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, 'tests', 'clusterresources.yaml'), 'utf8')).map((d) => d.toJS()) as {
      spec: { resources: { kind: string; metadata: { name: string; namespace: string }; data: Record<string, string> }[] };
    }[];
    const cm = cluster!.spec.resources.find((r) => r.kind === 'ConfigMap')!;
    expect(cm.metadata).to.include({ name: TIER_LIMITS_CONFIGMAP, namespace: TIER_LIMITS_NAMESPACE });
    expect(cm.data).to.deep.equal(data);
    const test = YAML.parse(fs.readFileSync(path.join(DIR, 'tests', 'kyverno-test.yaml'), 'utf8')) as {
      apiCallResponses: { urlPath: string; response: { body: { metadata: unknown } } }[];
    };
    const namespaces = YAML.parse(fs.readFileSync(path.join(DIR, 'tests', 'namespaces.yaml'), 'utf8')) as {
      spec: { resources: { metadata: { name: string } }[] };
    };
    for (const r of test.apiCallResponses) {
      const ns = namespaces.spec.resources.find((n) => `/api/v1/namespaces/${n.metadata.name}` === r.urlPath);
      expect(ns, r.urlPath).to.not.equal(undefined);
      expect(r.response.body.metadata).to.deep.equal(ns!.metadata);
    }
  });
});
