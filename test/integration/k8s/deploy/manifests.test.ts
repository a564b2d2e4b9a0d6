/**
 * The deployment manifests against the sandbox's real apiserver:
 *
 * - `kubectl kustomize` renders the base (k8s/) and both overlays (k8s/overlays/production,
 *   k8s/overlays/staging), and the overlays size the workloads as document 002 says;
 * - `kubectl apply --server-side --dry-run=server -k <dir>` is accepted for each, with no Pod
 *   Security warning on any workload, and the cluster-level command of the base
 *   (`-l '!autoscaler.vpsie.com/layer'`) leaves every workload out;
 * - the restricted Pod Security level is enforced in vpsie-system: with the namespace applied for
 *   real (server-side), each Deployment's pod template is accepted there as a Pod (server-side dry
 *   run), and the same pod without its security contexts is refused by PodSecurity.
 *
 * Everything but the namespace and the four ServiceAccounts (applied as the base has them, so the
 * pods' ServiceAccount admission finds them) is a dry run: the sandbox's own admission parameters
 * are left as they are. The CRDs are the sandbox's (applied from k8s/crds at start).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import YAML from 'yaml';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const DIRS = { base: 'k8s', production: 'k8s/overlays/production', staging: 'k8s/overlays/staging' } as const;
const NAMESPACE = 'vpsie-system';
const FIELD_MANAGER = 'vpsie-deploy-manifests-test';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Container {
  name: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: unknown;
  envFrom?: { configMapRef?: { name: string } }[];
}
interface Deployment extends Obj {
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; securityContext?: unknown; topologySpreadConstraints?: { whenUnsatisfiable: string }[] } & Record<string, unknown>;
    };
  };
}

async function kubectl(sb: TestSandbox, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(sb.endpoints.kubectl, [`--kubeconfig=${sb.kubeconfig}`, ...args], { cwd: REPO, maxBuffer: 64 << 20 });
}

/** kubectl's failure as text (its stderr), or the error itself. */
function failure(e: unknown): string {
  const stderr = (e as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' && stderr !== '' ? stderr : String(e);
}

async function render(sb: TestSandbox, dir: string): Promise<Obj[]> {
  const { stdout } = await kubectl(sb, ['kustomize', dir]);
  return YAML.parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

const deploymentsOf = (objects: Obj[]): Deployment[] => objects.filter((o): o is Deployment => o.kind === 'Deployment');
const configOf = (objects: Obj[], d: Deployment): Record<string, string> => {
  const name = d.spec.template.spec.containers[0]!.envFrom?.[0]?.configMapRef?.name;
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  expect(cm, `the ConfigMap ${name} of ${d.metadata.name}`).to.not.equal(undefined);
  return cm!.data ?? {};
};
const mebibytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected memory quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

/** The status message of a refused API call. */
async function refusal(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof k8s.ApiException)) throw e;
    const body: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    const message = (body as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message : String(e.body);
  }
  throw new Error('the apiserver accepted the pod');
}

describe('deployment manifests on the sandbox apiserver (k8s/kustomization.yaml, k8s/overlays)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  const rendered: Partial<Record<keyof typeof DIRS, Obj[]>> = {};

  before(async () => {
    sb = await sharedSandbox();
    // The namespace and the ServiceAccounts for real, as the base has them (idempotent: the
    // sandbox applies the same objects).
    const base = await render(sb, DIRS.base);
    const real = base.filter(
      (o) => (o.kind === 'Namespace' && o.metadata.name === NAMESPACE) || (o.kind === 'ServiceAccount' && o.metadata.namespace === NAMESPACE),
    );
    expect(real.map((o) => o.kind).sort()).to.deep.equal(['Namespace', 'ServiceAccount', 'ServiceAccount', 'ServiceAccount', 'ServiceAccount']);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-deploy-')), 'namespace.yaml');
    fs.writeFileSync(file, real.map((o) => YAML.stringify(o)).join('---\n'));
    await kubectl(sb, ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', file]);
  });

  for (const [env, dir] of Object.entries(DIRS) as [keyof typeof DIRS, string][]) {
    it(`kubectl kustomize renders ${dir}`, async () => {
      const objects = await render(sb, dir);
      rendered[env] = objects;
      expect(
        deploymentsOf(objects)
          .map((d) => d.metadata.name)
          .sort(),
      ).to.deep.equal(['vpsie-orchestrator-api', 'vpsie-orchestrator-backup', 'vpsie-orchestrator-watcher', 'vpsie-orchestrator-worker']);
      for (const o of objects.filter((x) => x.metadata.labels?.['autoscaler.vpsie.com/layer'] === 'workloads'))
        expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).to.equal(NAMESPACE);
    });
  }

  it('production: 200m / 1 CPU and 256Mi / 512Mi per container, three workers sharing the VPSie budget, the API spread over zones as a rule', () => {
    const objects = rendered.production!;
    for (const d of deploymentsOf(objects)) {
      const c = d.spec.template.spec.containers[0]!;
      expect(c.resources, d.metadata.name).to.deep.equal({ requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } });
      const heap = /--max-old-space-size=(\d+)/.exec(configOf(objects, d).NODE_OPTIONS ?? '');
      expect(Number(heap?.[1])).to.be.within(1, mebibytes(c.resources!.limits!.memory!) - 1);
    }
    const worker = deploymentsOf(objects).find((d) => d.metadata.name === 'vpsie-orchestrator-worker')!;
    expect(worker.spec.replicas).to.equal(3);
    expect(configOf(objects, worker).VPSIE_REPLICAS).to.equal('3');
    const api = deploymentsOf(objects).find((d) => d.metadata.name === 'vpsie-orchestrator-api')!;
    expect(api.spec.template.spec.topologySpreadConstraints?.map((t) => t.whenUnsatisfiable)).to.deep.equal(['DoNotSchedule']);
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    expect([hpa.spec?.minReplicas, hpa.spec?.maxReplicas]).to.deep.equal([3, 5]);
  });

  it("staging: the base's resources (document 002's staging row), two to three API replicas", () => {
    const objects = rendered.staging!;
    for (const d of deploymentsOf(objects))
      expect(d.spec.template.spec.containers[0]!.resources, d.metadata.name).to.deep.equal({
        requests: { cpu: '100m', memory: '128Mi' },
        limits: { cpu: '500m', memory: '256Mi' },
      });
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    expect([hpa.spec?.minReplicas, hpa.spec?.maxReplicas]).to.deep.equal([2, 3]);
    const api = deploymentsOf(objects).find((d) => d.metadata.name === 'vpsie-orchestrator-api')!;
    expect(api.spec.replicas).to.equal(2);
    const worker = deploymentsOf(objects).find((d) => d.metadata.name === 'vpsie-orchestrator-worker')!;
    expect(configOf(objects, worker).VPSIE_REPLICAS).to.equal(String(worker.spec.replicas));
  });

  for (const [env, dir] of Object.entries(DIRS) as [keyof typeof DIRS, string][]) {
    it(`kubectl apply --server-side --dry-run=server -k ${dir} is accepted, with no Pod Security warning`, async () => {
      let out: { stdout: string; stderr: string };
      try {
        out = await kubectl(sb, ['apply', '--server-side', '--dry-run=server', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-k', dir]);
      } catch (e) {
        throw new Error(`kubectl apply -k ${dir} was refused: ${failure(e)}`);
      }
      const applied = out.stdout.split('\n').filter((l) => l.includes('(server dry run)'));
      expect(applied, out.stdout).to.have.length(rendered[env]!.length);
      expect(out.stderr).to.not.match(/PodSecurity/);
    });
  }

  it("the base's cluster-level command (-l '!autoscaler.vpsie.com/layer') applies everything but the workloads", async () => {
    const { stdout } = await kubectl(sb, [
      'apply',
      '--server-side',
      '--dry-run=server',
      '--force-conflicts',
      `--field-manager=${FIELD_MANAGER}`,
      '-k',
      DIRS.base,
      '-l',
      '!autoscaler.vpsie.com/layer',
    ]);
    const applied = stdout.split('\n').filter((l) => l.includes('(server dry run)'));
    const base = rendered.base!;
    const clusterLevel = base.filter((o) => o.metadata.labels?.['autoscaler.vpsie.com/layer'] === undefined);
    expect(applied).to.have.length(clusterLevel.length);
    expect(clusterLevel.length).to.be.within(1, base.length - 1);
    expect(applied.filter((l) => l.startsWith('deployment.apps/'))).to.deep.equal([]);
    expect(applied.some((l) => l.startsWith('customresourcedefinition.apiextensions.k8s.io/nodegroups.autoscaler.vpsie.com'))).to.equal(true);
  });

  it('restricted Pod Security is enforced in vpsie-system: each pod template is admitted, the same pod without its security contexts is refused', async () => {
    const ns = await sb.core.readNamespace({ name: NAMESPACE });
    expect(ns.metadata?.labels).to.include({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    for (const d of deploymentsOf(rendered.base!)) {
      const pod = (spec: Record<string, unknown>): k8s.V1Pod => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: uniqueName(d.metadata.name), namespace: NAMESPACE, labels: d.spec.template.metadata.labels },
        spec: spec as unknown as k8s.V1PodSpec,
      });
      const template = d.spec.template.spec;
      const created = await sb.core.createNamespacedPod({ namespace: NAMESPACE, body: pod(template), dryRun: 'All' });
      expect(created.metadata?.namespace, d.metadata.name).to.equal(NAMESPACE);
      const { securityContext: _pod, ...withoutPodContext } = template;
      const bare = { ...withoutPodContext, containers: template.containers.map(({ securityContext: _c, ...c }) => c) };
      const message = await refusal(() => sb.core.createNamespacedPod({ namespace: NAMESPACE, body: pod(bare), dryRun: 'All' }));
      expect(message, d.metadata.name).to.include('violates PodSecurity "restricted:latest"');
    }
  });
});
