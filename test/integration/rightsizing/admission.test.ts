/**
 * The real apiserver (the sandbox's, which applies every CRD in k8s/crds/) refuses malformed
 * OptimizationPolicies with a message that names the bad field, accepts the product document's
 * example policy as it is and fills in the defaults that the zod schema fills in. The samples are
 * the ones the unit tests check zod and the OpenAPI schema against
 * (test/support/optimizationpolicy-samples.ts).
 *
 * Writes are server-side dry runs (validated and defaulted, never stored), except the status
 * cases, which store a policy for the duration of one test and write its status as a dry run.
 */
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { OPTIMIZATIONPOLICY_PLURAL, OPTIPOD_GROUP, OPTIPOD_VERSION, STATUS_MAX_WORKLOADS, parseOptimizationPolicy } from '../../../lib/crds/optipod';
import { sharedSandbox } from '../../support/sandbox';
import { clone, type JsonObject } from '../../support/crd-samples';
import { DEFAULT_UPDATE_STRATEGY, INVALID_POLICIES, VALID_POLICIES, examplePolicy } from '../../support/optimizationpolicy-samples';

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

describe('OptimizationPolicy admission on a real apiserver', function () {
  this.timeout(120_000);
  let api: k8s.CustomObjectsApi;
  let namespace: string;

  before(async () => {
    const sb = await sharedSandbox();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(sb.kubeconfig);
    api = kc.makeApiClient(k8s.CustomObjectsApi);
    namespace = await sb.namespace('optpol-admission');
  });

  const inNamespace = (o: JsonObject): JsonObject => {
    const c = clone(o);
    (c.metadata as JsonObject).namespace = namespace;
    return c;
  };
  const ref = { group: OPTIPOD_GROUP, version: OPTIPOD_VERSION, plural: OPTIMIZATIONPOLICY_PLURAL };
  /** Creates `o` (server-side dry run unless `store`). */
  const create = (o: JsonObject, store = false): Promise<unknown> =>
    api.createNamespacedCustomObject({ ...ref, namespace, body: inNamespace(o), fieldValidation: 'Strict', ...(store ? {} : { dryRun: 'All' }) });
  let n = 0;
  /** Stores `o` without status, then writes its status through the status subresource (dry run). */
  async function writeStatus(o: JsonObject): Promise<unknown> {
    const stored = clone(o);
    delete stored.status;
    const meta = stored.metadata as JsonObject;
    meta.name = `${meta.name as string}-${++n}`;
    const created = (await create(stored, true)) as JsonObject;
    const name = (created.metadata as JsonObject).name as string;
    try {
      return await api.replaceNamespacedCustomObjectStatus({
        ...ref,
        namespace,
        name,
        body: { ...created, status: o.status ?? {} },
        fieldValidation: 'Strict',
        dryRun: 'All',
      });
    } finally {
      await api.deleteNamespacedCustomObject({ ...ref, namespace, name }).catch(() => undefined);
    }
  }

  it('the product document example, applied as it is, is accepted and defaulted like zod defaults it', async () => {
    const created: unknown = await create(examplePolicy());
    const fromApi = parseOptimizationPolicy(created);
    expect(fromApi.spec).to.deep.equal(parseOptimizationPolicy(examplePolicy()).spec);
    expect(fromApi.spec.weight).to.equal(100);
  });

  it('a policy with only a selector gets every default of document 003 from the apiserver', async () => {
    const o = examplePolicy();
    o.spec = { selector: { namespaces: { allow: [namespace] } } };
    const p = parseOptimizationPolicy(await create(o));
    expect(p.spec).to.deep.include({
      mode: 'Recommend',
      weight: 100,
      reconciliationInterval: '5m',
      metricsConfig: { rollingWindow: '24h', percentile: 'P90', safetyFactor: 1.2 },
      updateStrategy: DEFAULT_UPDATE_STRATEGY,
    });
  });

  for (const s of VALID_POLICIES.slice(1)) {
    it(`accepts ${s.name}, with the defaults zod fills in`, async () => {
      const written: unknown = s.object.status ? await writeStatus(s.object) : await create(s.object);
      const v = parseOptimizationPolicy(written);
      const expected = parseOptimizationPolicy(s.object);
      expect(v.spec).to.deep.equal(expected.spec);
      expect(v.status).to.deep.equal(expected.status);
    });
  }

  for (const s of INVALID_POLICIES) {
    it(`refuses ${s.name}, naming ${s.field}`, async () => {
      const r = await refused(() => (s.field.startsWith('status.') ? writeStatus(s.object) : create(s.object)));
      expect(r.code, r.message).to.be.oneOf([400, 422]);
      expect(r.message).to.include(s.field);
    });
  }

  it(`refuses a status listing more than ${STATUS_MAX_WORKLOADS} workloads, naming status.workloads`, async () => {
    const o = examplePolicy();
    o.status = {
      workloads: Array.from({ length: STATUS_MAX_WORKLOADS + 1 }, (_, i) => ({
        kind: 'Deployment',
        namespace: 'a',
        name: `w-${i}`,
        policy: 'a/p',
        outcome: 'Recommended',
      })),
    };
    const r = await refused(() => writeStatus(o));
    expect(r.code, r.message).to.equal(422);
    expect(r.message).to.include('status.workloads');
  });
});
