/**
 * Only the capacity orchestrator creates VPSieNodes and writes what it owns (k8s/admission/
 * vpsienode-policy.yaml, issue #12), on the sandbox's real apiserver: a second identity — a
 * ServiceAccount with RBAC create/update/patch on vpsienodes, their status and nodegroups/status,
 * authenticated by a TokenRequest token — is refused with a message that says why, while the
 * orchestrator's identities (the sandbox's admin, as `npm start` runs in the sandbox, and the
 * ServiceAccount of k8s/rbac.yaml, as it runs in a cluster) succeed.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { API_VERSION, GROUP, NODEGROUP_KIND, NODEGROUP_PLURAL, VERSION, VPSIENODE_KIND, VPSIENODE_PLURAL } from '../../../../lib/crds/autoscaler';
import { serviceAccountToken, serviceAccountWithRole, tokenKubeConfig, until } from '../../../support/identities';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const ORCHESTRATOR_SA = { namespace: 'vpsie-system', name: 'vpsie-orchestrator-worker' };

interface StoredVPSieNode {
  metadata: { name: string; labels?: Record<string, string>; ownerReferences?: unknown[] };
  spec: Record<string, unknown>;
  status?: { nodeName?: string; phase?: string };
}

interface Refusal {
  code: number;
  message: string;
}

async function refusal(call: () => Promise<unknown>): Promise<Refusal> {
  try {
    await call();
  } catch (e) {
    if (e instanceof k8s.ApiException) {
      const body: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      const message =
        body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : e.message;
      return { code: e.code, message };
    }
    throw e;
  }
  throw new Error('the apiserver accepted the request');
}

describe('only the capacity orchestrator creates VPSieNodes and writes their status and machine identity (ValidatingAdmissionPolicy)', function () {
  this.timeout(120_000);
  let sb: TestSandbox;
  let ns: string;
  let admin: k8s.CustomObjectsApi;
  let intruder: k8s.CustomObjectsApi;
  let intruderName: string;
  let group: { name: string; uid: string };

  const vpsieNode = (name: string, spec: Record<string, unknown> = {}) => ({
    apiVersion: API_VERSION,
    kind: VPSIENODE_KIND,
    metadata: {
      name,
      namespace: ns,
      labels: { [`${GROUP}/nodegroup`]: group.name },
      ownerReferences: [{ apiVersion: API_VERSION, kind: NODEGROUP_KIND, name: group.name, uid: group.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { nodeGroupName: group.name, offeringID: 'small-2cpu-4gb', datacenterID: 'us-east-1', join: { method: 'UserData' }, ...spec },
  });
  const create = (api: k8s.CustomObjectsApi, body: object) =>
    api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, body });
  const get = (name: string) =>
    admin.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name }) as Promise<StoredVPSieNode>;
  const patch = (api: k8s.CustomObjectsApi, name: string, body: object) =>
    api.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name, body }, MERGE);
  const patchStatus = (api: k8s.CustomObjectsApi, name: string, body: object) =>
    api.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL, name, body }, MERGE);
  /** A VPSieNode the orchestrator (the sandbox admin) created. */
  const orchestratorMade = async (prefix: string): Promise<string> => {
    const name = uniqueName(prefix);
    await create(admin, vpsieNode(name));
    return name;
  };

  before(async () => {
    sb = await sharedSandbox();
    ns = await sb.namespace('vn-orchestrator-only');
    admin = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    const ng = (await admin.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: NODEGROUP_PLURAL,
      body: {
        apiVersion: API_VERSION,
        kind: NODEGROUP_KIND,
        metadata: { name: 'workers', namespace: ns },
        spec: { minNodes: 0, maxNodes: 3, datacenterID: 'us-east-1', offeringIDs: ['small-2cpu-4gb'] },
      },
    })) as { metadata: { name: string; uid: string } };
    group = { name: ng.metadata.name, uid: ng.metadata.uid };
    intruderName = `system:serviceaccount:${ns}:intruder`;
    const kc = await serviceAccountWithRole(sb, ns, 'intruder', [
      {
        apiGroups: [GROUP],
        resources: ['vpsienodes', 'vpsienodes/status', 'nodegroups', 'nodegroups/status'],
        verbs: ['get', 'list', 'create', 'update', 'patch'],
      },
    ]);
    intruder = kc.makeApiClient(k8s.CustomObjectsApi);
    // RBAC is in effect once the intruder can read what its Role grants.
    await until('the intruder RoleBinding to take effect', 30_000, async () => {
      await intruder.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: VPSIENODE_PLURAL });
      return true;
    });
  });

  it('refuses a VPSieNode that a user with RBAC create forges to adopt an arbitrary machine (spec.vpsieIdentifier, spec.hostname), saying only the orchestrator creates them', async () => {
    const name = uniqueName('forged');
    const r = await refusal(() => create(intruder, vpsieNode(name, { vpsieIdentifier: 'victim-vm-0001', vpsID: 4242, hostname: 'victim-host' })));
    expect(r.code, r.message).to.equal(403);
    expect(r.message).to.include('VPSieNodes are created only by the capacity orchestrator');
    expect(r.message).to.include(intruderName);
    const gone = await refusal(() => get(name));
    expect(gone.code).to.equal(404);
  });

  it('refuses a forged VPSieNode even without machine fields (it would be provisioned)', async () => {
    const r = await refusal(() => create(intruder, vpsieNode(uniqueName('forged'))));
    expect(r.code, r.message).to.equal(403);
    expect(r.message).to.include('created only by the capacity orchestrator');
  });

  it("lets the orchestrator create VPSieNodes: as the sandbox identity and as the worker's ServiceAccount of k8s/rbac.yaml", async () => {
    const asSandbox = await orchestratorMade('by-sandbox-orchestrator');
    expect((await get(asSandbox)).metadata.name).to.equal(asSandbox);

    const token = await serviceAccountToken(sb, ORCHESTRATOR_SA.namespace, ORCHESTRATOR_SA.name);
    const sa = tokenKubeConfig(sb, `system:serviceaccount:${ORCHESTRATOR_SA.namespace}:${ORCHESTRATOR_SA.name}`, token).makeApiClient(k8s.CustomObjectsApi);
    const asSa = uniqueName('by-orchestrator-sa');
    await create(sa, vpsieNode(asSa, { hostname: asSa }));
    await patchStatus(sa, asSa, { status: { phase: 'Pending' } });
    expect((await get(asSa)).status?.phase).to.equal('Pending');
  });

  it('refuses a status.nodeName write by that user (it would make the lifecycle drain and delete that Node), and the orchestrator writes it', async () => {
    const name = await orchestratorMade('status');
    const r = await refusal(() => patchStatus(intruder, name, { status: { nodeName: 'victim-node' } }));
    expect(r.code, r.message).to.equal(403);
    expect(r.message).to.include('is written only by the capacity orchestrator');
    expect(r.message).to.include(intruderName);
    expect((await get(name)).status?.nodeName).to.equal(undefined);

    await patchStatus(admin, name, { status: { nodeName: 'its-own-node' } });
    expect((await get(name)).status?.nodeName).to.equal('its-own-node');
  });

  it('refuses that user setting the set-once machine identity (spec.vpsieIdentifier, spec.hostname) on a VPSieNode that has none yet', async () => {
    const name = await orchestratorMade('identity');
    for (const spec of [{ vpsieIdentifier: 'victim-vm-0001' }, { hostname: 'victim-host' }, { vpsID: 4242 }]) {
      const r = await refusal(() => patch(intruder, name, { spec }));
      expect(r.code, `${JSON.stringify(spec)}: ${r.message}`).to.equal(403);
      expect(r.message).to.include('is set only by the capacity orchestrator');
    }
    const stored = await get(name);
    expect(stored.spec).to.not.have.any.keys('vpsieIdentifier', 'hostname', 'vpsID');

    await patch(admin, name, { spec: { vpsieIdentifier: 'its-own-vm', hostname: 'its-own-host' } });
    expect((await get(name)).spec).to.include({ vpsieIdentifier: 'its-own-vm', hostname: 'its-own-host' });
  });

  it('refuses that user re-pointing the owner of a VPSieNode, but lets it label it and remove its ownerReferences', async () => {
    const name = await orchestratorMade('owner');
    const r = await refusal(() =>
      patch(intruder, name, {
        metadata: {
          ownerReferences: [{ apiVersion: API_VERSION, kind: NODEGROUP_KIND, name: 'other', uid: '00000000-0000-0000-0000-000000000001', controller: true }],
        },
      }),
    );
    expect(r.code, r.message).to.equal(403);
    expect(r.message).to.include('ownerReferences');

    await patch(intruder, name, { metadata: { labels: { team: 'a' } } });
    await patch(intruder, name, { metadata: { ownerReferences: null } });
    const stored = await get(name);
    expect(stored.metadata.labels).to.include({ team: 'a' });
    expect(stored.metadata.ownerReferences).to.equal(undefined);
  });

  it('the policy type-checks against the CRD schemas without warnings', async () => {
    const adm = sb.kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    let warnings: unknown[] | undefined;
    await until('the policy to be type-checked', 30_000, async () => {
      const p = await adm.readValidatingAdmissionPolicy({ name: 'vpsienodes.autoscaler.vpsie.com' });
      if (!p.status?.typeChecking) return false;
      warnings = p.status.typeChecking.expressionWarnings ?? [];
      return true;
    });
    expect(warnings).to.deep.equal([]);
  });

  it("refuses that user writing a NodeGroup's status (status.vpsieGroupID names the VPSie group whose workers it claims)", async () => {
    const r = await refusal(() =>
      intruder.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace: ns, plural: NODEGROUP_PLURAL, name: group.name, body: { status: { vpsieGroupID: '999' } } },
        MERGE,
      ),
    );
    expect(r.code, r.message).to.equal(403);
    expect(r.message).to.include('the status of nodegroups');
  });
});
