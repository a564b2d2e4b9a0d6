/**
 * The pod sizing contract (lib/crds/optipod/pod-sizing.ts) the MutatingAdmissionPolicy reads:
 * what is built reads back the same (at the formatted precision), a merge touches only the
 * workloads it names, malformed entries are skipped and named, too-long keys are not stored.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { WORKLOAD_KINDS } from '../../../../../lib/crds/optipod/constants';
import { cpuMillis, formatCpu, formatMemory, memoryBytes } from '../../../../../lib/crds/optipod/quantity';
import {
  POD_SIZING_MAX_KEY,
  buildPodSizingData,
  mergePodSizingData,
  podSizingKey,
  readPodSizing,
  type PodSizingWorkload,
} from '../../../../../lib/crds/optipod/pod-sizing';

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);
const workloadName = fc.oneof(
  name,
  fc.tuple(name, name).map(([a, b]) => `${a}.${b}`),
);
const value = fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined });
const workloadArb: fc.Arbitrary<PodSizingWorkload> = fc.record({
  kind: fc.constantFrom(...WORKLOAD_KINDS),
  name: workloadName,
  containers: fc.uniqueArray(fc.record({ name, cpu: value, memory: value, cpuLimit: value, memoryLimit: value }), { selector: (c) => c.name, maxLength: 3 }),
});
const workloadsArb = fc.uniqueArray(workloadArb, { selector: (w) => `${w.kind}/${w.name}`, maxLength: 5 });

const strip = (w: PodSizingWorkload): PodSizingWorkload => ({
  kind: w.kind,
  name: w.name,
  containers: w.containers
    .map((c) => {
      const out: PodSizingWorkload['containers'][number] = { name: c.name };
      if (c.cpu !== undefined) out.cpu = cpuMillis(formatCpu(c.cpu))!;
      if (c.memory !== undefined) out.memory = memoryBytes(formatMemory(c.memory))!;
      if (c.cpuLimit !== undefined) out.cpuLimit = cpuMillis(formatCpu(c.cpuLimit))!;
      if (c.memoryLimit !== undefined) out.memoryLimit = memoryBytes(formatMemory(c.memoryLimit))!;
      return out;
    })
    .filter((c) => Object.keys(c).length > 1),
});
const sortW = (ws: PodSizingWorkload[]) =>
  ws
    .filter((w) => w.containers.length > 0)
    .map((w) => ({ ...w, containers: [...w.containers].sort((a, b) => (a.name < b.name ? -1 : 1)) }))
    .sort((a, b) => (`${a.kind}/${a.name}` < `${b.kind}/${b.name}` ? -1 : 1));

describe('pod sizing ConfigMap contract', () => {
  it('what is built reads back the same, at the formatted precision (whole millicores, MiB rounded up)', () => {
    fc.assert(
      fc.property(workloadsArb, (ws) => {
        const built = buildPodSizingData(ws);
        expect(built.notStorable).to.deep.equal([]);
        const back = readPodSizing(built.data);
        expect(back.malformed).to.deep.equal([]);
        expect(sortW(back.workloads)).to.deep.equal(sortW(ws.map(strip)));
      }),
      { numRuns: 300 },
    );
  });

  it('a merge replaces exactly the named workloads; every other key is untouched', () => {
    fc.assert(
      fc.property(workloadsArb, workloadsArb, fc.integer({ min: 0, max: 5 }), (existing, set, nRemove) => {
        const before = buildPodSizingData(existing).data;
        const remove = existing.slice(0, nRemove).map((w) => ({ kind: w.kind, name: w.name }));
        const merged = mergePodSizingData(before, set, remove).data;
        const touched = new Set([...set, ...remove].map((w) => `${w.kind}/${w.name}`));
        const ofWorkload = (data: Record<string, string>, w: string) => readPodSizing(data).workloads.find((x) => `${x.kind}/${x.name}` === w);
        for (const w of existing) {
          const k = `${w.kind}/${w.name}`;
          if (!touched.has(k)) expect(ofWorkload(merged, k)).to.deep.equal(ofWorkload(before, k));
        }
        for (const w of remove)
          if (!set.some((s) => s.kind === w.kind && s.name === w.name)) expect(ofWorkload(merged, `${w.kind}/${w.name}`)).to.equal(undefined);
        for (const w of set)
          expect(sortW(ofWorkload(merged, `${w.kind}/${w.name}`) ? [ofWorkload(merged, `${w.kind}/${w.name}`)!] : [])).to.deep.equal(sortW([strip(w)]));
      }),
      { numRuns: 300 },
    );
  });

  it('a workload whose prefix is another workload name is not touched (web vs web-api)', () => {
    const data = buildPodSizingData([
      { kind: 'Deployment', name: 'web', containers: [{ name: 'app', cpu: 100 }] },
      { kind: 'Deployment', name: 'web-api', containers: [{ name: 'app', cpu: 200 }] },
    ]).data;
    const merged = mergePodSizingData(data, [], [{ kind: 'Deployment', name: 'web' }]).data;
    expect(merged).to.deep.equal({ 'Deployment_web-api_app_cpu': '200m' });
  });

  it('malformed entries are skipped and named; keys over 253 characters are not stored', () => {
    const back = readPodSizing({ Deployment_web_app_cpu: '250m', Deployment_web_app_memory: 'lots', Job_x_app_cpu: '1', junk: '1' });
    expect(back.workloads).to.deep.equal([{ kind: 'Deployment', name: 'web', containers: [{ name: 'app', cpu: 250 }] }]);
    expect(back.malformed.sort()).to.deep.equal(['Deployment_web_app_memory', 'Job_x_app_cpu', 'junk']);
    const long = 'a'.repeat(250);
    expect(podSizingKey('Deployment', long, 'app', 'cpu').length).to.be.greaterThan(POD_SIZING_MAX_KEY);
    expect(buildPodSizingData([{ kind: 'Deployment', name: long, containers: [{ name: 'app', cpu: 1 }] }])).to.deep.equal({
      data: {},
      notStorable: [{ kind: 'Deployment', name: long }],
    });
  });
});
