/**
 * The admission manifests agree with each other and with k8s/rbac.yaml: the binding's parameter is
 * the identity ConfigMap, that ConfigMap names the orchestrator's ServiceAccount, and the sandbox's
 * identity adds its admin user (the identity `npm start` uses there) without dropping the SA.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { admissionPolicyFile, ADMISSION_POLICY_NAME, identityParams, rbacFile, SANDBOX_ADMIN_USER } from '../../../sandbox/admission';
import { repoRoot } from '../../../sandbox/endpoints';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const docs = (file: string): Doc[] => YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJSON() as Doc);
const users = (cm: { data?: Record<string, string> }): string[] => (cm.data?.usernames ?? '').split(',').map((s) => s.trim());

describe('VPSieNode admission manifests (k8s/admission/)', () => {
  const [policy, binding] = docs(admissionPolicyFile());
  const identity = docs(path.join(repoRoot(), 'k8s', 'admission', 'orchestrator-identity.yaml'))[0]!;
  const sa = docs(rbacFile()).find((d) => d.kind === 'ServiceAccount' && d.metadata.name === 'vpsie-orchestrator-worker')!;

  it('is a GA ValidatingAdmissionPolicy and its Deny binding', () => {
    expect(policy).to.deep.include({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy' });
    expect(policy!.metadata.name).to.equal(ADMISSION_POLICY_NAME);
    expect(binding).to.deep.include({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding' });
    expect(binding!.spec).to.deep.include({ policyName: ADMISSION_POLICY_NAME, validationActions: ['Deny'] });
    expect(policy!.spec).to.deep.include({ failurePolicy: 'Fail', paramKind: { apiVersion: 'v1', kind: 'ConfigMap' } });
  });

  it('guards creation and status writes of VPSieNodes and NodeGroup status', () => {
    const rules = (policy!.spec!.matchConstraints as { resourceRules: { resources: string[]; operations: string[] }[] }).resourceRules;
    expect(rules.flatMap((r) => r.resources)).to.include.members(['vpsienodes', 'vpsienodes/status', 'nodegroups/status']);
    for (const r of rules) expect(r.operations).to.include.members(['CREATE', 'UPDATE']);
  });

  it("the binding's parameter is the identity ConfigMap, and a missing one denies", () => {
    expect(binding!.spec!.paramRef).to.deep.equal({ name: identity.metadata.name, namespace: identity.metadata.namespace, parameterNotFoundAction: 'Deny' });
    expect(identity.kind).to.equal('ConfigMap');
  });

  it("the identity names the worker's ServiceAccount of k8s/rbac.yaml (the part that writes VPSieNodes)", () => {
    expect(users(identity)).to.deep.equal([`system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`]);
  });

  it("the sandbox's identity is the ServiceAccount and the sandbox admin", () => {
    const p = identityParams([SANDBOX_ADMIN_USER]) as { metadata: { name: string }; data: Record<string, string> };
    expect(p.metadata.name).to.equal(identity.metadata.name);
    expect(users(p)).to.deep.equal([...users(identity), SANDBOX_ADMIN_USER]);
    expect(users(identityParams([SANDBOX_ADMIN_USER, SANDBOX_ADMIN_USER]))).to.have.length(2);
  });
});
