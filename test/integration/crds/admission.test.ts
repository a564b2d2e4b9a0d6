/**
 * The real apiserver (the sandbox's) refuses malformed NodeGroups and VPSieNodes with a message
 * that names the bad field, accepts the product document's example NodeGroup as it is and fills
 * in the defaults that the zod schemas fill in. The samples are the ones the unit tests check
 * zod and the OpenAPI schema against (test/support/crd-samples.ts).
 */
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import {
  GROUP,
  NODEGROUP_PLURAL,
  VERSION,
  VPSIENODE_PLURAL,
  parseNodeGroup,
  parseVPSieNode,
} from '../../../lib/crds';
import { sharedSandbox } from '../../support/sandbox';
import {
  INVALID_NODEGROUPS,
  INVALID_VPSIENODES,
  VALID_NODEGROUPS,
  VALID_VPSIENODES,
  VPSIENODE_UPDATES,
  clone,
  exampleNodeGroup,
  type JsonObject,
} from '../../support/crd-samples';

interface Refusal {
  code: number;
  message: string;
}

/** The apiserver's Status message of a failed call (client-node 2 puts the body in ApiException). */
function refusalOf(e: unknown): Refusal {
  if (e instanceof k8s.ApiException) {
    const body: unknown = e.body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
    }
    const message =
      parsed !== null && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string'
        ? (parsed as { message: string }).message
        : typeof body === 'string'
          ? body
          : e.message;
    return { code: e.code, message };
  }
  throw e;
}

async function refused(call: () => Promise<unknown>): Promise<Refusal> {
  try {
    await call();
  } catch (e) {
    return refusalOf(e);
  }
  throw new Error('the apiserver accepted the object');
}

describe('CRD admission on a real apiserver', function () {
  this.timeout(120_000);
  let api: k8s.CustomObjectsApi;
  let namespace: string;

  before(async () => {
    const sb = await sharedSandbox();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sb.kubeconfig);
    api = kc.makeApiClient(k8s.CustomObjectsApi);
    namespace = await sb.namespace('crd-admission');
  });

  const inNamespace = (o: JsonObject): JsonObject => {
    const c = clone(o);
    (c.metadata as JsonObject).namespace = namespace;
    return c;
  };
  const create = (plural: string, o: JsonObject): Promise<unknown> =>
    api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, body: inNamespace(o), fieldValidation: 'Strict' });

  describe('NodeGroup', () => {
    it('the product document example, applied as it is, is accepted and defaulted like zod defaults it', async () => {
      const created: unknown = await create(NODEGROUP_PLURAL, exampleNodeGroup());
      const fromApi = parseNodeGroup(created);
      const fromZod = parseNodeGroup(exampleNodeGroup());
      expect(fromApi.spec).to.deep.equal(fromZod.spec);
      expect(fromApi.spec.scaleDownPolicy).to.deep.equal({ enabled: true, stabilizationWindowSeconds: 600, cooldownSeconds: 600, cpuThreshold: 50, memoryThreshold: 50 });
      expect(fromApi.spec.scaleUpPolicy).to.deep.equal({ enabled: true, stabilizationWindowSeconds: 60, cooldownSeconds: 0, cpuThreshold: 80, memoryThreshold: 80 });
      expect(fromApi.spec.disruptionBudget).to.deep.equal({ maxUnavailable: 1 });
      expect(fromApi.spec.consolidation).to.deep.equal({ enabled: false, savingsThresholdPercent: 20 });
      expect(fromApi.spec).to.include({ priority: 0, dryRun: false, allowMixedInstances: true });
      expect(fromApi.spec.join).to.equal(undefined);
    });

    for (const s of VALID_NODEGROUPS.slice(1)) {
      it(`accepts ${s.name}, with the defaults zod fills in`, async () => {
        const created: unknown = await create(NODEGROUP_PLURAL, s.object);
        expect(parseNodeGroup(created).spec).to.deep.equal(parseNodeGroup(s.object).spec);
      });
    }

    for (const s of INVALID_NODEGROUPS) {
      it(`refuses ${s.name}, naming ${s.field}`, async () => {
        const r = await refused(() => create(NODEGROUP_PLURAL, s.object));
        expect(r.code, r.message).to.be.oneOf([400, 422]);
        expect(r.message).to.include(s.field);
      });
    }
  });

  describe('VPSieNode', () => {
    const writeStatus = async (o: JsonObject): Promise<unknown> => {
      const name = (o.metadata as JsonObject).name as string;
      const status = o.status;
      const withoutStatus = clone(o);
      delete withoutStatus.status;
      const created = (await create(VPSIENODE_PLURAL, withoutStatus)) as JsonObject;
      return api.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: VPSIENODE_PLURAL,
        name,
        body: { ...created, status: status ?? {} },
        fieldValidation: 'Strict',
      });
    };
    let n = 0;
    const renamed = (o: JsonObject): JsonObject => {
      const c = clone(o);
      const meta = c.metadata as JsonObject;
      meta.name = `${meta.name as string}-${++n}`;
      return c;
    };

    for (const s of VALID_VPSIENODES) {
      it(`accepts ${s.name}`, async () => {
        const o = renamed(s.object);
        const written: unknown = o.status ? await writeStatus(o) : await create(VPSIENODE_PLURAL, o);
        const v = parseVPSieNode(written);
        const expected = parseVPSieNode(o);
        expect(v.spec).to.deep.equal(expected.spec);
        expect(v.status).to.deep.equal(expected.status);
      });
    }

    for (const s of INVALID_VPSIENODES) {
      it(`refuses ${s.name}, naming ${s.field}`, async () => {
        const o = renamed(s.object);
        const r = await refused(() => (s.field.startsWith('status.') ? writeStatus(o) : create(VPSIENODE_PLURAL, o)));
        expect(r.code, r.message).to.be.oneOf([400, 422]);
        expect(r.message).to.include(s.field);
      });
    }

    for (const u of VPSIENODE_UPDATES) {
      it(`${u.field ? 'refuses' : 'allows'} an update that would ${u.name}`, async () => {
        const before = renamed(u.before);
        const after = clone(u.after);
        after.metadata = clone(before.metadata as JsonObject);
        const created = (await create(VPSIENODE_PLURAL, before)) as { metadata: { name: string; resourceVersion: string } };
        (after.metadata as JsonObject).resourceVersion = created.metadata.resourceVersion;
        const replace = () =>
          api.replaceNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: VPSIENODE_PLURAL,
            name: created.metadata.name,
            body: inNamespace(after),
            fieldValidation: 'Strict',
          });
        if (u.field === undefined) {
          await replace();
          return;
        }
        const r = await refused(replace);
        expect(r.code, r.message).to.equal(422);
        expect(r.message).to.include(u.field);
      });
    }
  });
});
