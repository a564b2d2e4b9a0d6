/**
 * Tenant tiers at admission on the sandbox apiserver (k8s/admission/tenant-tiers.yaml, with the
 * ConfigMap generated from k8s/config/tenant-tier-config.yaml, applied by sandbox/admission.ts):
 * VPA objects, OptimizationPolicies and VPANAPCoordinations in a tier are refused when they ask
 * for more than the tier allows, with a message naming the field and the limit; the tier comes
 * from the object's label, else the namespace's, else the namespace name.
 *
 * The upstream VPA CRDs come from the sandbox when it installs them; otherwise this test applies
 * them from the Go module cache (k8s.io/autoscaler/vertical-pod-autoscaler@v1.8.1, deploy/).
 * Writes are server-side dry runs, except where an update is tested (those objects are deleted).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { loadCoordinationConfig } from '../../../lib/coordination-config';
import { OPTIPOD_GROUP, OPTIPOD_VERSION, OPTIMIZATIONPOLICY_PLURAL } from '../../../lib/crds/optipod';
import { COORDINATION_PLURAL, PLATFORM_GROUP, PLATFORM_VERSION, VPA_GROUP, VPA_PLURAL, VPA_UPDATE_MODES, VPA_VERSION } from '../../../lib/crds/platform';
import { TENANT_TIER_POLICY_NAMES } from '../../../sandbox/admission';
import { eventually } from '../../support/eventually';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

const run = promisify(execFile);
const VPA_MODULE = 'k8s.io/autoscaler/vertical-pod-autoscaler@v1.8.1';
const VPA_CRD = 'verticalpodautoscalers.autoscaling.k8s.io';

type Obj = Record<string, unknown>;

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

/** The VPA CRDs, applied from the Go module cache when the sandbox has not installed them. */
async function ensureVpaCrds(sb: TestSandbox): Promise<void> {
  const ext = sb.kc.makeApiClient(k8s.ApiextensionsV1Api);
  try {
    await ext.readCustomResourceDefinition({ name: VPA_CRD });
    return;
  } catch (e) {
    if (!(e instanceof k8s.ApiException) || e.code !== 404) throw e;
  }
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
  const { stdout } = await run('go', ['mod', 'download', '-json', VPA_MODULE], { env, cwd: path.resolve(__dirname), maxBuffer: 1 << 20 });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (dir === undefined) throw new Error(`go mod download ${VPA_MODULE} gave no Dir: ${stdout}`);
  const kubectl = (...args: string[]) => run(sb.endpoints.kubectl, [`--kubeconfig=${sb.kubeconfig}`, ...args]);
  await kubectl('apply', '--server-side', '-f', path.join(dir, 'deploy', 'vpa-v1-crd-gen.yaml'));
  await kubectl('wait', '--for=condition=Established', '--timeout=60s', `crd/${VPA_CRD}`);
}

describe('tenant tiers at admission', function () {
  this.timeout(180_000);
  let sb: TestSandbox;
  let api: k8s.CustomObjectsApi;
  const ns = { dev: '', premium: '', labelledDev: '', labelledStd: '', plain: '' };
  const tiers = loadCoordinationConfig().tiers;

  /** A namespace with these labels; namespaces of the tiers' prefixes come from sb.namespace(). */
  async function labelledNamespace(prefix: string, labels: Record<string, string>): Promise<string> {
    const name = uniqueName(prefix);
    await sb.core.createNamespace({ body: { metadata: { name, labels: { 'vpsie.test/run': String(process.pid), ...labels } } } });
    return name;
  }

  before(async () => {
    sb = await sharedSandbox();
    api = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    await ensureVpaCrds(sb);
    ns.dev = await sb.namespace('tenant-dev');
    ns.premium = await sb.namespace('tenant-premium');
    ns.plain = await sb.namespace('tiers-plain');
    ns.labelledDev = await labelledNamespace('tiers-team', { 'tenant-tier': 'dev' });
    ns.labelledStd = await labelledNamespace('tiers-team', { 'tenant-tier': 'std' });
  });

  const vpaTarget = { group: VPA_GROUP, version: VPA_VERSION, plural: VPA_PLURAL };
  function vpa(namespace: string, o: { mode?: string; maxCpu?: string | number; maxMemory?: string; minCpu?: string; labels?: Record<string, string> }): Obj {
    const policy: Obj = { containerName: '*' };
    if (o.maxCpu !== undefined || o.maxMemory !== undefined)
      policy.maxAllowed = { ...(o.maxCpu !== undefined ? { cpu: o.maxCpu } : {}), ...(o.maxMemory !== undefined ? { memory: o.maxMemory } : {}) };
    if (o.minCpu !== undefined) policy.minAllowed = { cpu: o.minCpu };
    return {
      apiVersion: `${VPA_GROUP}/${VPA_VERSION}`,
      kind: 'VerticalPodAutoscaler',
      metadata: { name: uniqueName('vpa'), namespace, ...(o.labels ? { labels: o.labels } : {}) },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        ...(o.mode !== undefined ? { updatePolicy: { updateMode: o.mode } } : {}),
        resourcePolicy: { containerPolicies: [policy] },
      },
    };
  }
  const createVpa = (body: Obj, store = false) =>
    api.createNamespacedCustomObject({
      ...vpaTarget,
      namespace: (body.metadata as { namespace: string }).namespace,
      body,
      fieldValidation: 'Strict',
      ...(store ? {} : { dryRun: 'All' }),
    });
  const policyMessage = (name: string) => `ValidatingAdmissionPolicy '${name}' with binding '${name}' denied request`;

  describe('VerticalPodAutoscaler', () => {
    it("refuses a dev-tier VPA whose maxAllowed cpu is 8, naming the field and the tier's maxCPU", async () => {
      const r = await refused(() => createVpa(vpa(ns.dev, { mode: 'Auto', maxCpu: 8 })));
      expect(r.code).to.equal(403);
      expect(r.message).to.include(policyMessage(TENANT_TIER_POLICY_NAMES.vpa));
      expect(r.message).to.include("spec.resourcePolicy.containerPolicies[0].maxAllowed.cpu: 8 exceeds the dev tier's maxCPU 2");
    });

    it('accepts a dev-tier VPA with maxAllowed 1 cpu and 4Gi, in Auto', async () => {
      await createVpa(vpa(ns.dev, { mode: 'Auto', maxCpu: '1', maxMemory: tiers.dev.resources.maxMemory }));
    });

    it('refuses memory above maxMemory and a minAllowed above maxCPU, in every container policy, at once', async () => {
      const body = vpa(ns.dev, { mode: 'Auto', maxCpu: '500m', maxMemory: '5Gi' });
      const policies = (body.spec as { resourcePolicy: { containerPolicies: Obj[] } }).resourcePolicy.containerPolicies;
      policies.push({ containerName: 'sidecar', minAllowed: { cpu: '2500m' } });
      const r = await refused(() => createVpa(body));
      expect(r.message)
        .to.include("spec.resourcePolicy.containerPolicies[0].maxAllowed.memory: 5Gi exceeds the dev tier's maxMemory 4Gi")
        .and.include("spec.resourcePolicy.containerPolicies[1].minAllowed.cpu: 2500m exceeds the dev tier's maxCPU 2");
      expect(r.message).to.not.include('containerPolicies[0].maxAllowed.cpu');
    });

    it('premium: refuses updateMode Auto and an unset mode (the VPA then uses Recreate), accepts Off', async () => {
      const auto = await refused(() => createVpa(vpa(ns.premium, { mode: 'Auto', maxCpu: '4' })));
      expect(auto.code).to.equal(403);
      expect(auto.message).to.include('spec.updatePolicy.updateMode: Auto is not allowed in the premium tier (allowed: Off)');
      const unset = await refused(() => createVpa(vpa(ns.premium, { maxCpu: '4' })));
      // Where the VPA admission controller runs, its webhook has already defaulted the mode to Recreate.
      expect(unset.message).to.match(/spec\.updatePolicy\.updateMode: (unset \(the VPA then uses Recreate\)|Recreate) is not allowed in the premium tier/);
      await createVpa(vpa(ns.premium, { mode: 'Off', maxCpu: '32', maxMemory: '64Gi' }));
      const above = await refused(() => createVpa(vpa(ns.premium, { mode: 'Off', maxCpu: '33' })));
      expect(above.message).to.include("maxAllowed.cpu: 33 exceeds the premium tier's maxCPU 32");
    });

    it('the tier of a label on a namespace not named tenant-*: dev limits, and std read as standard', async () => {
      const dev = await refused(() => createVpa(vpa(ns.labelledDev, { mode: 'Auto', maxCpu: '3' })));
      expect(dev.message).to.include("maxAllowed.cpu: 3 exceeds the dev tier's maxCPU 2");
      await createVpa(vpa(ns.labelledStd, { mode: 'Initial', maxCpu: '8' }));
      const std = await refused(() => createVpa(vpa(ns.labelledStd, { mode: 'Recreate', maxCpu: '8' })));
      expect(std.message).to.include('spec.updatePolicy.updateMode: Recreate is not allowed in the standard tier (allowed: Off, Initial)');
    });

    it("the object's label comes before its namespace's, and a label naming no tier is refused", async () => {
      await createVpa(vpa(ns.premium, { mode: 'Auto', maxCpu: '1', labels: { 'tenant-tier': 'dev' } }));
      const r = await refused(() => createVpa(vpa(ns.labelledDev, { mode: 'Auto', maxCpu: '16', labels: { 'tenant-tier': 'premium' } })));
      expect(r.message).to.include('spec.updatePolicy.updateMode: Auto is not allowed in the premium tier');
      const typo = await refused(() => createVpa(vpa(ns.dev, { mode: 'Auto', labels: { 'tenant-tier': 'gold' } })));
      expect(typo.message).to.include('metadata.labels.tenant-tier: gold is not a tenant tier');
    });

    it('a VPA outside any tier is not checked', async () => {
      await createVpa(vpa(ns.plain, { mode: 'Auto', maxCpu: '64', maxMemory: '512Gi' }));
    });

    it('updates: an over-limit VPA from before its tier can still be paused, but not widened; labelling it into a tier is checked', async () => {
      const body = vpa(ns.plain, { mode: 'Auto', maxCpu: '16' });
      const name = (body.metadata as { name: string }).name;
      await createVpa(body, true);
      const patch = (p: Obj) =>
        api.patchNamespacedCustomObject(
          { ...vpaTarget, namespace: ns.plain, name, body: p },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
      try {
        const relabel = await refused(() => patch({ metadata: { labels: { 'tenant-tier': 'dev' } } }));
        expect(relabel.message).to.include("maxAllowed.cpu: 16 exceeds the dev tier's maxCPU 2");
        // The namespace joins the dev tier (admission reads the namespace through an informer: wait for it).
        await sb.core.patchNamespace(
          { name: ns.plain, body: { metadata: { labels: { 'tenant-tier': 'dev' } } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        await eventually('the namespace label to reach admission', async () => {
          const r = await refused(() => createVpa(vpa(ns.plain, { mode: 'Auto', maxCpu: '3' }))).catch(() => undefined);
          return r?.message.includes("exceeds the dev tier's maxCPU 2") ? true : undefined;
        });
        await patch({ spec: { updatePolicy: { updateMode: 'Off' } } });
        await patch({ spec: { updatePolicy: { updateMode: 'Auto' } } });
        const widen = await refused(() => patch({ spec: { resourcePolicy: { containerPolicies: [{ containerName: '*', maxAllowed: { cpu: '17' } }] } } }));
        expect(widen.message).to.include("spec.resourcePolicy.containerPolicies[0].maxAllowed.cpu: 17 exceeds the dev tier's maxCPU 2");
      } finally {
        await api.deleteNamespacedCustomObject({ ...vpaTarget, namespace: ns.plain, name }).catch(() => undefined);
        await sb.core
          .patchNamespace(
            { name: ns.plain, body: { metadata: { labels: { 'tenant-tier': null } } } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          )
          .catch(() => undefined);
      }
    });

    it("the update modes the tiers know are the VPA CRD's", async () => {
      const crd = await sb.kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: VPA_CRD });
      const v1 = crd.spec.versions.find((v) => v.name === VPA_VERSION)!;
      const updatePolicy = v1.schema!.openAPIV3Schema!.properties!.spec!.properties!.updatePolicy!;
      expect(updatePolicy.properties!.updateMode!._enum).to.have.members([...VPA_UPDATE_MODES]);
    });
  });

  describe('OptimizationPolicy', () => {
    const create = (namespace: string, spec: Obj) =>
      api.createNamespacedCustomObject({
        group: OPTIPOD_GROUP,
        version: OPTIPOD_VERSION,
        plural: OPTIMIZATIONPOLICY_PLURAL,
        namespace,
        body: { apiVersion: `${OPTIPOD_GROUP}/${OPTIPOD_VERSION}`, kind: 'OptimizationPolicy', metadata: { name: uniqueName('pol') }, spec },
        fieldValidation: 'Strict',
        dryRun: 'All',
      });
    const selector = (namespace: string) => ({ namespaces: { allow: [namespace] } });

    it('premium: refuses mode Auto, accepts Recommend', async () => {
      const r = await refused(() => create(ns.premium, { mode: 'Auto', selector: selector(ns.premium) }));
      expect(r.code).to.equal(403);
      expect(r.message).to.include(policyMessage(TENANT_TIER_POLICY_NAMES.optimizationPolicy));
      expect(r.message).to.include('spec.mode: Auto is not allowed in the premium tier (its update mode is Off; use Recommend)');
      await create(ns.premium, { mode: 'Recommend', selector: selector(ns.premium) });
    });

    it("refuses resource bounds above the tier's maxCPU and maxMemory; dev Auto within them is accepted", async () => {
      const r = await refused(() =>
        create(ns.dev, { mode: 'Auto', selector: selector(ns.dev), resourceBounds: { cpu: { max: '4' }, memory: { max: '8Gi' } } }),
      );
      expect(r.message)
        .to.include("spec.resourceBounds.cpu.max: 4 exceeds the dev tier's maxCPU 2")
        .and.include("spec.resourceBounds.memory.max: 8Gi exceeds the dev tier's maxMemory 4Gi");
      await create(ns.dev, { mode: 'Auto', selector: selector(ns.dev), resourceBounds: { cpu: { max: '2' }, memory: { max: '4Gi' } } });
    });
  });

  describe('VPANAPCoordination', () => {
    const create = (namespace: string, spec: Obj) =>
      api.createNamespacedCustomObject({
        group: PLATFORM_GROUP,
        version: PLATFORM_VERSION,
        plural: COORDINATION_PLURAL,
        namespace,
        body: {
          apiVersion: `${PLATFORM_GROUP}/${PLATFORM_VERSION}`,
          kind: 'VPANAPCoordination',
          metadata: { name: uniqueName('vnc') },
          spec: { vpaName: 'web', namespace, ...spec },
        },
        fieldValidation: 'Strict',
        dryRun: 'All',
      });

    it('refuses breaker thresholds looser than the premium tier, naming each field and the limit', async () => {
      const r = await refused(() => create(ns.premium, { circuitBreaker: { nodeChurnThreshold: 5, evictionThreshold: 21, cooldownMinutes: 30 } }));
      expect(r.code).to.equal(403);
      expect(r.message).to.include(policyMessage(TENANT_TIER_POLICY_NAMES.coordination));
      expect(r.message)
        .to.include("spec.circuitBreaker.nodeChurnThreshold: 5 is looser than the premium tier allows (at most 2, the tier's nodeChurnPerHour)")
        .and.include('spec.circuitBreaker.evictionThreshold: 21 is looser than the premium tier allows (at most 20')
        .and.include('spec.circuitBreaker.cooldownMinutes: 30 is looser than the premium tier allows (at least 60');
    });

    it("refuses maxResourceChangePercent above the tier's maxResourceChange, accepts settings within the tier", async () => {
      const r = await refused(() => create(ns.labelledStd, { conflictPrevention: { maxResourceChangePercent: 51 } }));
      expect(r.message).to.include(
        "spec.conflictPrevention.maxResourceChangePercent: 51 is looser than the standard tier allows (at most 50, the tier's maxResourceChange)",
      );
      await create(ns.labelledStd, {
        conflictPrevention: { maxResourceChangePercent: 50, cooldownPeriodMinutes: 30 },
        circuitBreaker: { nodeChurnThreshold: 5, evictionThreshold: 50, cooldownMinutes: 30 },
      });
      await create(ns.premium, {});
      await create(ns.dev, { circuitBreaker: { nodeChurnThreshold: 10, evictionThreshold: 100 }, conflictPrevention: { maxResourceChangePercent: 200 } });
    });
  });
});
