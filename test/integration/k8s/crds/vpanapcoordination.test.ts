/**
 * The real apiserver (the sandbox's) and the VPANAPCoordination CRD: the document's example is
 * accepted and defaulted as zod defaults it; malformed objects are refused with a message naming
 * the bad field (the same samples the unit tests check zod and the OpenAPI schema against:
 * test/unit/lib/crds/platform/samples.ts); spec.namespace is held to the object's namespace by the
 * admission policy; spec.vpaName is immutable; status is written through its subresource; kubectl
 * shows the printer columns, the short name and the category.
 *
 * Writes are server-side dry runs wherever possible; objects whose updates or status are tested
 * exist only for the duration of one test.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import {
  COORDINATION_PLURAL,
  COORDINATION_SHORT_NAME,
  NAMESPACE_MISMATCH_MESSAGE,
  PLATFORM_GROUP,
  PLATFORM_VERSION,
  VPA_NAME_IMMUTABLE_MESSAGE,
  parseVPANAPCoordination,
} from '../../../../lib/crds/platform';
import { sharedSandbox } from '../../../support/sandbox';
import { clone, type JsonObject } from '../../../support/crd-samples';
import { INVALID_COORDINATIONS, VALID_COORDINATIONS, coordination } from '../../../unit/lib/crds/platform/samples';

const run = promisify(execFile);

/** The apiserver's status code and Status message of a refused call. */
async function refused(call: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof k8s.ApiException)) throw e;
    const body: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    const message = (body as { message?: unknown } | null)?.message;
    return { code: e.code, message: typeof message === 'string' ? message : String(e.body) };
  }
  throw new Error('the apiserver accepted the object');
}

describe('VPANAPCoordination CRD on a real apiserver', function () {
  this.timeout(120_000);
  let api: k8s.CustomObjectsApi;
  let namespace: string;
  let kubectl: (...args: string[]) => Promise<string>;
  let n = 0;

  before(async () => {
    const sb = await sharedSandbox();
    api = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    namespace = await sb.namespace('vnc-crd');
    kubectl = async (...args) => (await run(sb.endpoints.kubectl, [`--kubeconfig=${sb.kubeconfig}`, ...args])).stdout;
  });

  /** `o` moved into the test namespace (metadata and spec), renamed uniquely. */
  const here = (o: JsonObject): JsonObject => {
    const c = clone(o);
    const meta = c.metadata as JsonObject;
    meta.name = `${meta.name as string}-${++n}`;
    meta.namespace = namespace;
    if (c.spec !== undefined && (c.spec as JsonObject).namespace === 'tenant-std-app1') (c.spec as JsonObject).namespace = namespace;
    return c;
  };
  const target = { group: PLATFORM_GROUP, version: PLATFORM_VERSION, plural: COORDINATION_PLURAL };
  const create = (o: JsonObject, store = false): Promise<unknown> =>
    api.createNamespacedCustomObject({ ...target, namespace, body: o, fieldValidation: 'Strict', ...(store ? {} : { dryRun: 'All' }) });
  async function withStored<T>(o: JsonObject, fn: (created: JsonObject) => Promise<T>): Promise<T> {
    const withoutStatus = clone(o);
    delete withoutStatus.status;
    const created = (await create(withoutStatus, true)) as JsonObject;
    try {
      return await fn(created);
    } finally {
      await api.deleteNamespacedCustomObject({ ...target, namespace, name: (created.metadata as JsonObject).name as string }).catch(() => undefined);
    }
  }
  const writeStatus = (o: JsonObject): Promise<unknown> =>
    withStored(o, (created) =>
      api.replaceNamespacedCustomObjectStatus({
        ...target,
        namespace,
        name: (created.metadata as JsonObject).name as string,
        body: { ...created, status: o.status ?? {} },
        fieldValidation: 'Strict',
        dryRun: 'All',
      }),
    );

  for (const s of VALID_COORDINATIONS) {
    it(`accepts ${s.name}, with the defaults zod fills in`, async () => {
      const o = here(s.object);
      const created = parseVPANAPCoordination(await create(o));
      expect(created.spec).to.deep.equal(parseVPANAPCoordination(o).spec);
      expect(created.status, 'status is written only through its subresource').to.equal(undefined);
      if (o.status !== undefined) {
        const written = parseVPANAPCoordination(await writeStatus(o));
        expect(written.status).to.deep.equal(parseVPANAPCoordination(o).status);
      }
    });
  }

  it('an object with only vpaName and namespace gets coordinated, enabled, and no thresholds', async () => {
    const o = here(coordination('bare', (c) => ((c.spec = { vpaName: 'web', namespace: 'tenant-std-app1' }), delete c.status)));
    const created = (await create(o)) as JsonObject;
    expect(created.spec).to.deep.equal({ vpaName: 'web', namespace, coordinationStrategy: 'coordinated', enabled: true });
  });

  for (const s of INVALID_COORDINATIONS) {
    it(`refuses ${s.name}, naming ${s.field} (${s.by})`, async () => {
      const o = here(s.object);
      const r = await refused(() => (s.by === 'status' ? writeStatus(o) : create(o)));
      expect(r.code, r.message).to.be.oneOf([400, 422]);
      expect(r.message).to.include(s.field);
      if (s.by === 'admission') expect(r.message).to.include(NAMESPACE_MISMATCH_MESSAGE);
    });
  }

  it('refuses a change of spec.vpaName, allows other spec changes', async () => {
    await withStored(here(coordination('immutable')), async (created) => {
      const name = (created.metadata as JsonObject).name as string;
      const replace = (mutate: (spec: JsonObject) => void) => {
        const body = clone(created);
        mutate(body.spec as JsonObject);
        return api.replaceNamespacedCustomObject({ ...target, namespace, name, body, fieldValidation: 'Strict', dryRun: 'All' });
      };
      const r = await refused(() => replace((spec) => (spec.vpaName = 'another-vpa')));
      expect(r.code, r.message).to.equal(422);
      expect(r.message).to.include(`spec.vpaName: Forbidden: ${VPA_NAME_IMMUTABLE_MESSAGE}`);
      await replace((spec) => (spec.coordinationStrategy = 'isolated'));
    });
  });

  it('kubectl shows the printer columns through the short name and the platform category', async () => {
    const o = here(coordination('columns'));
    await withStored(o, async (created) => {
      const name = (created.metadata as JsonObject).name as string;
      await api.replaceNamespacedCustomObjectStatus({
        ...target,
        namespace,
        name,
        body: {
          ...created,
          status: {
            phase: 'CircuitBreaker',
            conflictsDetected: 4,
            circuitBreakerTriggered: true,
            cooldownUntil: '2099-01-01T00:00:00Z',
            tenantTier: 'standard',
          },
        },
      });
      const table = await kubectl('get', COORDINATION_SHORT_NAME, '-n', namespace, name);
      const [header, row] = table.trim().split('\n');
      expect(header!.split(/\s+/)).to.deep.equal(['NAME', 'VPA', 'STRATEGY', 'PHASE', 'CONFLICTS', 'BREAKER', 'COOLDOWN-UNTIL', 'AGE']);
      expect(row!.split(/\s+/).slice(0, 6)).to.deep.equal([name, 'example-vpa', 'coordinated', 'CircuitBreaker', '4', 'true']);
      const wide = await kubectl('get', 'platform', '-n', namespace, '-o', 'wide');
      expect(wide)
        .to.match(/TIER\s+REASON\s+LAST-CONFLICT/)
        .and.include(name)
        .and.include('standard');
    });
  });
});
