/**
 * The real apiserver (the sandbox's) refuses malformed NodeGroups and VPSieNodes with a message
 * that names the bad field, accepts the product document's example NodeGroup as it is and fills
 * in the defaults that the zod schemas fill in. The samples are the ones the unit tests check
 * zod and the OpenAPI schema against (test/support/crd-samples.ts).
 *
 * Writes are server-side dry runs (validated and defaulted, never stored) wherever possible, so
 * an orchestrator running on a reused sandbox never sees these objects; VPSieNodes whose status or
 * updates are tested exist only for the duration of one test.
 */
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { GROUP, NODEGROUP_PLURAL, VERSION, VPSIENODE_PLURAL, parseNodeGroup, parseVPSieNode } from '../../../../lib/crds/autoscaler';
import { sharedSandbox } from '../../../support/sandbox';
import {
  INVALID_NODEGROUPS,
  INVALID_VPSIENODES,
  VALID_NODEGROUPS,
  VALID_VPSIENODES,
  VPSIENODE_UPDATES,
  clone,
  exampleNodeGroup,
  type JsonObject,
} from '../../../support/crd-samples';

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
  /** Creates `o` (server-side dry run unless `store`). */
  const create = (plural: string, o: JsonObject, store = false): Promise<unknown> =>
    api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      body: inNamespace(o),
      fieldValidation: 'Strict',
      ...(store ? {} : { dryRun: 'All' }),
    });
  /** Runs `fn` with a stored VPSieNode made from `o`, deleted afterwards. */
  async function withStoredVPSieNode<T>(o: JsonObject, fn: (created: JsonObject) => Promise<T>): Promise<T> {
    const created = (await create(VPSIENODE_PLURAL, o, true)) as JsonObject;
    try {
      return await fn(created);
    } finally {
      const name = (created.metadata as JsonObject).name as string;
      await api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: VPSIENODE_PLURAL, name }).catch(() => undefined);
    }
  }

  describe('NodeGroup', () => {
    it('the product document example, applied as it is, is accepted and defaulted like zod defaults it', async () => {
      const created: unknown = await create(NODEGROUP_PLURAL, exampleNodeGroup());
      const fromApi = parseNodeGroup(created);
      const fromZod = parseNodeGroup(exampleNodeGroup());
      expect(fromApi.spec).to.deep.equal(fromZod.spec);
      expect(fromApi.spec.scaleDownPolicy).to.deep.equal({
        enabled: true,
        stabilizationWindowSeconds: 600,
        cooldownSeconds: 600,
        cpuThreshold: 50,
        memoryThreshold: 50,
        utilizationSource: 'both',
      });
      expect(fromApi.spec.scaleUpPolicy).to.deep.equal({
        enabled: true,
        stabilizationWindowSeconds: 60,
        cooldownSeconds: 0,
        cpuThreshold: 80,
        memoryThreshold: 80,
      });
      expect(fromApi.spec.disruptionBudget).to.deep.equal({ maxUnavailable: 1 });
      expect(fromApi.spec.consolidation).to.deep.equal({ enabled: false, savingsThresholdPercent: 20 });
      expect(fromApi.spec).to.include({ priority: 0, dryRun: false, allowMixedInstances: true, preferredInstanceTolerancePercent: 10 });
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
    /** Stores `o` without status, then writes its status through the status subresource (dry run). */
    const writeStatus = async (o: JsonObject): Promise<unknown> => {
      const withoutStatus = clone(o);
      delete withoutStatus.status;
      return withStoredVPSieNode(withoutStatus, (created) =>
        api.replaceNamespacedCustomObjectStatus({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: VPSIENODE_PLURAL,
          name: (created.metadata as JsonObject).name as string,
          body: { ...created, status: o.status ?? {} },
          fieldValidation: 'Strict',
          dryRun: 'All',
        }),
      );
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
        await withStoredVPSieNode(before, async (created) => {
          const meta = created.metadata as JsonObject;
          (after.metadata as JsonObject).resourceVersion = meta.resourceVersion as string;
          const replace = () =>
            api.replaceNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace,
              plural: VPSIENODE_PLURAL,
              name: meta.name as string,
              body: inNamespace(after),
              fieldValidation: 'Strict',
              dryRun: 'All',
            });
          if (u.field === undefined) {
            await replace();
            return;
          }
          const r = await refused(replace);
          expect(r.code, r.message).to.equal(422);
          expect(r.message).to.include(u.field);
        });
      });
    }
  });
});
