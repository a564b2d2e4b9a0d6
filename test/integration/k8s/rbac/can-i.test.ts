/**
 * Least privilege, proven by the apiserver: for each part's ServiceAccount (k8s/rbac.yaml, applied
 * by the sandbox), `kubectl auth can-i --list` (the SelfSubjectRulesReview it prints, read as JSON) in a namespace of no importance, in kube-system and
 * in vpsie-system answers exactly the requests lib/kube/permissions.ts lists for the part (beyond
 * what every authenticated user may), nothing missing and nothing extra. The integration suite's
 * orchestrators run as these ServiceAccounts, so a request missing from both fails there with 403.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { z } from 'zod';
import { JOIN_SECRETS_PERMISSION, PERMISSIONS, type Permission, type PermissionHolder } from '../../../../lib/kube/permissions';
import { ORCHESTRATOR_NAMESPACE, SERVICE_ACCOUNTS, serviceAccountUser } from '../../../../sandbox/identities';
import { grantJoinSecrets } from '../../../support/orchestrator';
import { sharedSandbox, type TestSandbox } from '../../../support/sandbox';

const run = promisify(execFile);

/** `group|resource|name|verb` — one grant as RBAC decides it. */
type Grant = string;

const RulesReview = z.object({
  status: z.object({
    resourceRules: z
      .array(
        z.object({
          verbs: z.array(z.string()),
          apiGroups: z.array(z.string()).optional(),
          resources: z.array(z.string()).optional(),
          resourceNames: z.array(z.string()).optional(),
        }),
      )
      .default([]),
  }),
});

/** The resource rules of a SelfSubjectRulesReview (what `kubectl auth can-i --list` prints) as grants. */
export function grantsOfRulesReview(json: string): Set<Grant> {
  const grants = new Set<Grant>();
  for (const r of RulesReview.parse(JSON.parse(json)).status.resourceRules)
    for (const g of r.apiGroups ?? [''])
      for (const res of r.resources ?? [])
        for (const n of r.resourceNames?.length ? r.resourceNames : ['']) for (const v of r.verbs) grants.add(`${g}|${res}|${n}|${v}`);
  return grants;
}

function expected(perms: readonly Permission[], namespace: string): Set<Grant> {
  const out = new Set<Grant>();
  for (const p of perms) {
    if (p.namespace !== undefined && p.namespace !== namespace) continue;
    for (const v of p.verbs) for (const n of p.names ?? ['']) out.add(`${p.group}|${p.resource}|${n}|${v}`);
  }
  return out;
}

describe('RBAC: each part may do exactly what its code does (kubectl auth can-i --list)', function () {
  this.timeout(180_000);
  let sb: TestSandbox;
  let ns: string;
  /** `kubectl auth can-i --list --as=<user> -n <namespace>`, from the review it prints (its table merges rows). */
  const canI = async (user: string, namespace: string): Promise<Set<Grant>> => {
    const body = path.join(dir, `review-${namespace}.json`);
    fs.writeFileSync(body, JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } }));
    const { stdout } = await run(sb.endpoints.kubectl, [
      `--kubeconfig=${sb.kubeconfig}`,
      'create',
      '--raw',
      '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      '-f',
      body,
      `--as=${user}`,
    ]);
    return grantsOfRulesReview(stdout);
  };
  /** What any ServiceAccount may, without a binding of its own (discovery, self reviews). */
  const baseline = new Map<string, Set<Grant>>();
  const beyondBaseline = async (user: string, namespace: string): Promise<string[]> => {
    if (!baseline.has(namespace)) baseline.set(namespace, await canI(`system:serviceaccount:${ns}:nobody-${namespace}`, namespace));
    const base = baseline.get(namespace)!;
    return [...(await canI(user, namespace))].filter((g) => !base.has(g)).sort();
  };

  let dir: string;
  before(async () => {
    sb = await sharedSandbox();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbac-'));
    ns = await sb.namespace('rbac');
  });

  for (const holder of Object.keys(PERMISSIONS) as PermissionHolder[])
    it(`${holder} (${SERVICE_ACCOUNTS[holder]}): in a namespace of no importance, in kube-system and in ${ORCHESTRATOR_NAMESPACE}`, async () => {
      for (const where of [ns, 'kube-system', ORCHESTRATOR_NAMESPACE]) {
        const got = await beyondBaseline(serviceAccountUser(holder), where);
        expect(got, `${holder} in ${where === ns ? 'a test namespace' : where}`).to.deep.equal([...expected(PERMISSIONS[holder], where)].sort());
      }
    });

  it('no part may create Nodes, list or watch Secrets, or read a Secret it is not given by name', async () => {
    for (const holder of Object.keys(PERMISSIONS) as PermissionHolder[])
      for (const where of [ns, 'kube-system', ORCHESTRATOR_NAMESPACE]) {
        const got = await canI(serviceAccountUser(holder), where);
        expect(
          [...got].filter((g) => g.startsWith('nodes|') && g.endsWith('|create')),
          `${holder} creates nodes`,
        ).to.deep.equal([]);
        expect(
          [...got].filter((g) => g.startsWith('secrets|') && !/^secrets\|[^|]+\|get$/.test(g)),
          `${holder} secrets in ${where}`,
        ).to.deep.equal([]);
      }
  });

  it("a NodeGroup namespace that binds vpsie-orchestrator-join-secrets gives the worker its Secrets' get there, and nothing else", async () => {
    const teamNs = await sb.namespace('rbac-team');
    const before = await beyondBaseline(serviceAccountUser('worker'), teamNs);
    await grantJoinSecrets(sb, teamNs);
    const after = await beyondBaseline(serviceAccountUser('worker'), teamNs);
    expect(after.filter((g) => !before.includes(g))).to.deep.equal([...expected([JOIN_SECRETS_PERMISSION], teamNs)]);
    expect(before.filter((g) => !after.includes(g))).to.deep.equal([]);
  });
});
