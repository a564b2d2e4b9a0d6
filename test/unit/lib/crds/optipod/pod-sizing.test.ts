/**
 * The pod sizing contract (lib/crds/optipod/pod-sizing.ts) that the MutatingAdmissionPolicy of
 * k8s/admission/optipod-pod-sizing.yaml reads: what is built reads back exactly (at the formatted
 * precision: whole millicores, whole MiB, rounded up) and is made of valid quantities; a merge
 * touches only the workloads it names; malformed entries are skipped and named; too-long keys are
 * not stored; the policy's file names the same ConfigMap, fields and kinds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import YAML from 'yaml';
import { WORKLOAD_KINDS } from '../../../../../lib/crds/optipod/constants';
import { QUANTITY_PATTERN } from '../../../../../lib/crds/optipod/quantity';
import {
  POD_SIZING_CONFIGMAP,
  POD_SIZING_FIELDS,
  POD_SIZING_LABELS,
  POD_SIZING_MAX_KEY,
  buildPodSizingData,
  mergePodSizingData,
  podSizingKey,
  readPodSizing,
  type PodSizingContainer,
  type PodSizingWorkload,
} from '../../../../../lib/crds/optipod/pod-sizing';
import * as optipod from '../../../../../lib/crds/optipod';

const MiB = 2 ** 20;
const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);
const workloadName = fc.oneof(
  dnsLabel,
  fc.tuple(dnsLabel, dnsLabel).map(([a, b]) => `${a}.${b}`),
);
/** Millicores or bytes: whole, fractional, tiny and huge. */
const amount = fc.option(fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.double({ min: 1e-3, max: 2 ** 40, noNaN: true })), { nil: undefined });
const containerArb: fc.Arbitrary<PodSizingContainer> = fc.record(
  { name: dnsLabel, cpu: amount, memory: amount, cpuLimit: amount, memoryLimit: amount },
  { requiredKeys: ['name'] },
);
const workloadArb: fc.Arbitrary<PodSizingWorkload> = fc.record({
  kind: fc.constantFrom(...WORKLOAD_KINDS),
  name: workloadName,
  containers: fc.uniqueArray(containerArb, { selector: (c) => c.name, maxLength: 3 }),
});
const workloadsArb = fc.uniqueArray(workloadArb, { selector: (w) => `${w.kind}/${w.name}`, maxLength: 6 });
const wkey = (w: { kind: string; name: string }): string => `${w.kind}/${w.name}`;

/** What reading back must give: cpu in whole millicores and memory in whole MiB, rounded up; zeros, empty containers and workloads dropped. */
function expected(w: PodSizingWorkload): PodSizingWorkload | undefined {
  const containers = w.containers
    .map((c) => {
      const out: PodSizingContainer = { name: c.name };
      const cpu = (v: number | undefined) => (v === undefined ? 0 : Math.ceil(v - 1e-9));
      const mem = (v: number | undefined) => (v === undefined ? 0 : Math.ceil(v / MiB - 1e-9) * MiB);
      if (cpu(c.cpu) > 0) out.cpu = cpu(c.cpu);
      if (mem(c.memory) > 0) out.memory = mem(c.memory);
      if (cpu(c.cpuLimit) > 0) out.cpuLimit = cpu(c.cpuLimit);
      if (mem(c.memoryLimit) > 0) out.memoryLimit = mem(c.memoryLimit);
      return out;
    })
    .filter((c) => Object.keys(c).length > 1);
  return containers.length === 0 ? undefined : { kind: w.kind, name: w.name, containers };
}
const sorted = (ws: readonly (PodSizingWorkload | undefined)[]): PodSizingWorkload[] =>
  ws
    .filter((w): w is PodSizingWorkload => w !== undefined)
    .map((w) => ({ ...w, containers: [...w.containers].sort((a, b) => (a.name < b.name ? -1 : 1)) }))
    .sort((a, b) => (wkey(a) < wkey(b) ? -1 : 1));
const keysOf = (data: Record<string, string>, w: { kind: string; name: string }): Record<string, string> =>
  Object.fromEntries(Object.entries(data).filter(([k]) => k.startsWith(`${w.kind}_${w.name}_`)));

describe('pod sizing ConfigMap contract', () => {
  it('keys are <Kind>_<workload>_<container>_<field>, exported from the OptiPod index', () => {
    expect(podSizingKey('Deployment', 'web', 'app', 'cpuLimit')).to.equal('Deployment_web_app_cpuLimit');
    expect(POD_SIZING_CONFIGMAP).to.equal('optipod-pod-sizing');
    expect(POD_SIZING_LABELS).to.deep.equal({ 'app.kubernetes.io/managed-by': 'vpsie-orchestrator', 'optipod.io/pod-sizing': 'true' });
    expect(optipod.podSizingKey).to.equal(podSizingKey);
    expect(optipod.POD_SIZING_CONFIGMAP).to.equal(POD_SIZING_CONFIGMAP);
  });

  it('what is built reads back exactly, at the formatted precision, and every value is a quantity', () => {
    fc.assert(
      fc.property(workloadsArb, (ws) => {
        const built = buildPodSizingData(ws);
        expect(built.notStorable).to.deep.equal([]);
        for (const v of Object.values(built.data)) expect(v).to.match(QUANTITY_PATTERN);
        for (const v of Object.values(built.data)) expect(v).to.match(/^[0-9]+(m|Mi)$/);
        const back = readPodSizing(built.data);
        expect(back.malformed).to.deep.equal([]);
        expect(sorted(back.workloads)).to.deep.equal(sorted(ws.map(expected)));
        // and building what was read gives the same data (a fixed point)
        expect(buildPodSizingData(back.workloads).data).to.deep.equal(built.data);
      }),
      { numRuns: 300 },
    );
  });

  it('a merge replaces exactly the named workloads; every other key is kept byte for byte', () => {
    const junk = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('Job_x_app_cpu', 'Deployment_web', 'junk')), fc.string(), { maxKeys: 3 });
    fc.assert(
      fc.property(workloadsArb, workloadsArb, fc.integer({ min: 0, max: 6 }), junk, (existing, set, nRemove, extra) => {
        const touched = new Set<string>();
        const before = { ...buildPodSizingData(existing).data };
        // junk no workload owns (it never starts with a touched workload's prefix)
        for (const [k, v] of Object.entries(extra)) if (!/^(Deployment|StatefulSet|DaemonSet)_/.test(k)) before[k] = v;
        const remove = existing.slice(0, nRemove).map((w) => ({ kind: w.kind, name: w.name }));
        for (const w of [...set, ...remove]) touched.add(wkey(w));
        const merged = mergePodSizingData(before, set, remove);
        expect(merged.notStorable).to.deep.equal([]);
        const setData = buildPodSizingData(set).data;
        for (const [k, v] of Object.entries(before)) {
          const owner = [...existing, ...set, ...remove].find((w) => k.startsWith(`${w.kind}_${w.name}_`));
          if (owner === undefined || !touched.has(wkey(owner))) expect(merged.data[k]).to.equal(v, k);
        }
        for (const w of set) expect(keysOf(merged.data, w)).to.deep.equal(keysOf(setData, w));
        for (const w of remove) if (!set.some((s) => wkey(s) === wkey(w))) expect(keysOf(merged.data, w)).to.deep.equal({});
        // nothing appears that is neither kept nor set
        for (const k of Object.keys(merged.data)) expect(k in before || k in setData).to.equal(true, k);
      }),
      { numRuns: 300 },
    );
  });

  it('a workload whose name starts with another workload name is not touched (web vs web-api)', () => {
    const data = buildPodSizingData([
      { kind: 'Deployment', name: 'web', containers: [{ name: 'app', cpu: 100 }] },
      { kind: 'Deployment', name: 'web-api', containers: [{ name: 'app', cpu: 200 }] },
      { kind: 'StatefulSet', name: 'web', containers: [{ name: 'app', cpu: 300 }] },
    ]).data;
    expect(mergePodSizingData(data, [], [{ kind: 'Deployment', name: 'web' }]).data).to.deep.equal({
      'Deployment_web-api_app_cpu': '200m',
      StatefulSet_web_app_cpu: '300m',
    });
  });

  it("a set replaces all of the workload's keys, also ones with a field the contract does not know", () => {
    const existing = { Deployment_web_app_cpu: '100m', Deployment_web_old_memory: '64Mi', Deployment_web_app_gpu: '1', Deployment_db_app_cpu: '1' };
    const merged = mergePodSizingData(existing, [{ kind: 'Deployment', name: 'web', containers: [{ name: 'app', memory: 3 * MiB }] }], []);
    expect(merged.data).to.deep.equal({ Deployment_web_app_memory: '3Mi', Deployment_db_app_cpu: '1' });
  });

  it('formats values as the in-place resize does and skips values that are not positive numbers or round to zero', () => {
    const built = buildPodSizingData([
      { kind: 'DaemonSet', name: 'agent', containers: [{ name: 'a', cpu: 249.2, memory: 268435456, cpuLimit: 0, memoryLimit: Number.NaN }] },
      { kind: 'DaemonSet', name: 'other', containers: [{ name: 'b', cpu: -5, memory: Number.POSITIVE_INFINITY, cpuLimit: 1e-10, memoryLimit: 1e-4 }] },
    ]);
    expect(built).to.deep.equal({ data: { DaemonSet_agent_a_cpu: '250m', DaemonSet_agent_a_memory: '256Mi' }, notStorable: [] });
  });

  it('malformed entries are skipped and named; whatever the data is, reading does not throw', () => {
    const back = readPodSizing({
      Deployment_web_app_cpu: '250m',
      Deployment_web_app_memory: 'lots',
      Deployment_web_app_cpuLimit: '-1',
      Deployment_web_side_memory: '1.5Gi',
      Deployment_Web_app_cpu: '1',
      Job_x_app_cpu: '1',
      Deployment_web_a_b_cpu: '1',
      Deployment_web_app_gpu: '1',
      StatefulSet_db_app_cpu: 7,
      junk: '1',
    });
    expect(back.workloads).to.deep.equal([
      {
        kind: 'Deployment',
        name: 'web',
        containers: [
          { name: 'app', cpu: 250 },
          { name: 'side', memory: 1.5 * 1024 * MiB },
        ],
      },
    ]);
    expect(back.malformed.sort()).to.deep.equal(
      [
        'Deployment_Web_app_cpu',
        'Deployment_web_a_b_cpu',
        'Deployment_web_app_cpuLimit',
        'Deployment_web_app_gpu',
        'Deployment_web_app_memory',
        'Job_x_app_cpu',
        'StatefulSet_db_app_cpu',
        'junk',
      ].sort(),
    );
    for (const d of [undefined, null, 'x', 3, []]) expect(readPodSizing(d).workloads).to.deep.equal([]);
    expect(readPodSizing({ StatefulSet_db_app_cpu: '7m' }).workloads[0]!.containers[0]!.cpu).to.equal(7);
  });

  it('a workload with a key over 253 characters is not stored at all, and a merge leaves it without entries', () => {
    const long = 'a'.repeat(230);
    expect(podSizingKey('Deployment', long, 'sidecar-container', 'memoryLimit').length).to.be.greaterThan(POD_SIZING_MAX_KEY);
    const w: PodSizingWorkload = {
      kind: 'Deployment',
      name: long,
      containers: [
        { name: 'app', cpu: 1 },
        { name: 'sidecar-container', memoryLimit: MiB },
      ],
    };
    expect(buildPodSizingData([w])).to.deep.equal({ data: {}, notStorable: [{ kind: 'Deployment', name: long }] });
    const existing = { [podSizingKey('Deployment', long, 'app', 'cpu')]: '5m', Deployment_db_app_cpu: '1' };
    expect(mergePodSizingData(existing, [w], [])).to.deep.equal({ data: { Deployment_db_app_cpu: '1' }, notStorable: [{ kind: 'Deployment', name: long }] });
  });

  it('k8s/admission/optipod-pod-sizing.yaml reads this ConfigMap, these fields and kinds, and fails open', () => {
    const file = path.resolve(__dirname, '../../../../../k8s/admission/optipod-pod-sizing.yaml');
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Record<string, any>);
    const policy = docs.find((d) => d.kind === 'MutatingAdmissionPolicy')!;
    const binding = docs.find((d) => d.kind === 'MutatingAdmissionPolicyBinding')!;
    expect(policy.apiVersion).to.equal('admissionregistration.k8s.io/v1');
    expect(policy.spec.failurePolicy).to.equal('Ignore');
    expect(policy.spec.paramKind).to.deep.equal({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(policy.spec.matchConstraints.resourceRules).to.deep.equal([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }]);
    expect(binding.spec.policyName).to.equal(policy.metadata.name);
    expect(binding.spec.paramRef).to.deep.equal({ name: POD_SIZING_CONFIGMAP, parameterNotFoundAction: 'Allow' });
    const cel = JSON.stringify(policy.spec);
    for (const kind of WORKLOAD_KINDS) expect(cel).to.include(`'${kind}`);
    // requests are 'cpu'/'memory', limits the same + 'Limit'
    expect(POD_SIZING_FIELDS).to.deep.equal(['cpu', 'memory', 'cpuLimit', 'memoryLimit']);
    expect(cel).to.include("['cpu', 'memory', 'cpuLimit', 'memoryLimit']");
    expect(cel).to.include("r + 'Limit'");
  });
});
