/**
 * The deployment manifests (k8s/kustomization.yaml and the workloads of k8s/deploy/), read as
 * kustomize reads them: every resource of the base, directories through their own
 * kustomization.yaml, and the generated configuration. What they promise:
 *
 * - every pod meets the restricted Pod Security Standard (non-root 65534, read-only root, no
 *   privilege escalation, no capabilities, RuntimeDefault seccomp) with a writable /tmp;
 * - requests and limits are document 000's coordinator row, probes ask /healthz and /readyz on the
 *   health port, and the ports are the ones the configuration makes the process listen on
 *   (lib/config.ts accepts that configuration, each Deployment running its one part);
 * - each Deployment runs as its own ServiceAccount of k8s/rbac.yaml, the worker is the identity the
 *   VPSieNode admission policy lets through, and the watchers elect a leader in vpsie-system;
 * - the API has anti-affinity, a zone spread, a PDB and document 002's HPA (3–5, CPU 70 %,
 *   memory 80 %, 300 s windows); the watchers and workers keep one replica through disruptions;
 * - Services and NetworkPolicies open exactly the metrics and API ports, to the monitoring
 *   namespace, and let out only DNS, the apiserver, Temporal and VPSie;
 * - generated copies (tier limits, coordination settings) equal what they are generated from.
 *
 * The rendered base and overlays are checked against a real apiserver by
 * test/integration/k8s/deploy/manifests.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { loadConfig } from '../../../lib/config';
import { loadCoordinationConfig, tierLimitsManifests } from '../../../lib/coordination-config';

const K8S = path.resolve(__dirname, '..', '..', '..', 'k8s');

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  [key: string]: unknown;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number; protocol?: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
}
interface PodSpec {
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: {
    name: string;
    emptyDir?: unknown;
    configMap?: { name: string };
    secret?: { secretName: string; optional?: boolean };
    persistentVolumeClaim?: { claimName: string };
  }[];
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { topologyKey: string; labelSelector: LabelSelector }[];
    };
  };
  topologySpreadConstraints?: { maxSkew: number; topologyKey: string; whenUnsatisfiable: string; labelSelector: LabelSelector }[];
}
interface Deployment extends Obj {
  spec: { replicas: number; selector: LabelSelector; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
interface Generator {
  name: string;
  namespace?: string;
  literals?: string[];
  files?: string[];
}
interface Kustomization {
  resources?: string[];
  configMapGenerator?: Generator[];
}

/** The objects of a kustomization directory: its resources (files, or directories with a kustomization of their own) and its generators. */
function read(dir: string): { objects: Obj[]; generators: (Generator & { dir: string })[] } {
  const k = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const objects: Obj[] = [];
  const generators = (k.configMapGenerator ?? []).map((g) => ({ ...g, dir }));
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (fs.statSync(p).isDirectory()) {
      const sub = read(p);
      objects.push(...sub.objects);
      generators.push(...sub.generators);
    } else {
      for (const doc of YAML.parseAllDocuments(fs.readFileSync(p, 'utf8'))) {
        const o = doc.toJS() as Obj | null;
        if (o) objects.push(o);
      }
    }
  }
  return { objects, generators };
}

const base = read(K8S);
const byKind = <T extends Obj>(kind: string): T[] => base.objects.filter((o) => o.kind === kind) as T[];
const one = <T extends Obj>(kind: string, name: string): T => {
  const found = byKind<T>(kind).filter((o) => o.metadata.name === name);
  expect(found, `${kind} ${name}`).to.have.length(1);
  return found[0]!;
};
const deployments = byKind<Deployment>('Deployment');
const ORCHESTRATOR_NAMESPACE = 'vpsie-system';
const SERVICE_ACCOUNTS = ['vpsie-orchestrator-worker', 'vpsie-orchestrator-watcher', 'vpsie-orchestrator-api', 'vpsie-orchestrator-backup'];
/** Deployment → the part it runs, its ServiceAccount, its component label. */
const PARTS: Record<string, { components: string; serviceAccount: string; component: string }> = {
  'vpsie-orchestrator-worker': { components: 'worker', serviceAccount: 'vpsie-orchestrator-worker', component: 'worker' },
  'vpsie-orchestrator-watcher': { components: 'watchers', serviceAccount: 'vpsie-orchestrator-watcher', component: 'watcher' },
  'vpsie-orchestrator-api': { components: 'api', serviceAccount: 'vpsie-orchestrator-api', component: 'api' },
  'vpsie-orchestrator-backup': { components: 'backup', serviceAccount: 'vpsie-orchestrator-backup', component: 'backup' },
};

/** The environment a Deployment's container gets: its ConfigMap's literals, then its own env values. */
function environment(d: Deployment): Record<string, string> {
  const c = d.spec.template.spec.containers[0]!;
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const g = base.generators.find((x) => x.name === from.configMapRef?.name);
    expect(g, `the generated ConfigMap ${from.configMapRef?.name}`).to.not.equal(undefined);
    for (const l of g!.literals ?? []) {
      const i = l.indexOf('=');
      env[l.slice(0, i)] = l.slice(i + 1);
    }
  }
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}
const portOf = (addr: string): number => Number(addr.slice(addr.lastIndexOf(':') + 1));
const quantityMi = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected memory quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

describe('deployment manifests (k8s/kustomization.yaml, k8s/deploy)', () => {
  it('the base holds every CRD and admission policy of k8s/, the RBAC and the namespace, and no examples or Kyverno policies', () => {
    const k = YAML.parse(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8')) as Kustomization;
    const resources = k.resources ?? [];
    for (const f of fs.readdirSync(path.join(K8S, 'crds')).filter((x) => x.endsWith('.yaml'))) expect(resources).to.include(`crds/${f}`);
    for (const f of fs.readdirSync(path.join(K8S, 'admission')).filter((x) => x.endsWith('.yaml'))) expect(resources).to.include(`admission/${f}`);
    expect(resources).to.include.members(['namespace.yaml', 'rbac.yaml', 'deploy']);
    expect(resources.filter((r) => r.startsWith('examples') || r.startsWith('kyverno'))).to.deep.equal([]);
  });

  it('the namespace vpsie-system enforces, audits and warns at the restricted Pod Security level', () => {
    const ns = one('Namespace', ORCHESTRATOR_NAMESPACE);
    expect(ns.metadata.labels).to.include({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
  });

  it('four Deployments, one per part, each as its own ServiceAccount of k8s/rbac.yaml, all in vpsie-system', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).to.deep.equal(Object.keys(PARTS).sort());
    const accounts = byKind('ServiceAccount').filter((s) => s.metadata.namespace === ORCHESTRATOR_NAMESPACE);
    expect(accounts.map((s) => s.metadata.name).sort()).to.deep.equal([...SERVICE_ACCOUNTS].sort());
    for (const d of deployments) {
      const part = PARTS[d.metadata.name]!;
      expect(d.metadata.namespace).to.equal(ORCHESTRATOR_NAMESPACE);
      expect(d.spec.template.spec.serviceAccountName, d.metadata.name).to.equal(part.serviceAccount);
      expect(d.spec.template.metadata.labels).to.include({
        'app.kubernetes.io/name': 'vpsie-capacity-orchestrator',
        'app.kubernetes.io/component': part.component,
      });
      expect(d.spec.selector.matchLabels).to.deep.equal({
        'app.kubernetes.io/name': 'vpsie-capacity-orchestrator',
        'app.kubernetes.io/component': part.component,
      });
      const c = d.spec.template.spec.containers;
      expect(c).to.have.length(1);
      expect(c[0]!.image).to.equal('vpsie-capacity-orchestrator:0.1.0');
      expect(c[0]!.command).to.deep.equal(['node', 'dist/workers/cli.js']);
      expect(c[0]!.args).to.deep.equal(['run']);
    }
    expect(one<Deployment>('Deployment', 'vpsie-orchestrator-worker').spec.replicas).to.equal(2);
    expect(one<Deployment>('Deployment', 'vpsie-orchestrator-watcher').spec.replicas).to.equal(2);
    expect(one<Deployment>('Deployment', 'vpsie-orchestrator-api').spec.replicas).to.equal(3);
    expect(one<Deployment>('Deployment', 'vpsie-orchestrator-backup').spec.replicas).to.equal(1);
    for (const o of base.objects.filter((x) => x.metadata.labels?.['autoscaler.vpsie.com/layer'] === 'workloads'))
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).to.equal(ORCHESTRATOR_NAMESPACE);
  });

  it('every pod and container has the restricted security context and a writable /tmp on an emptyDir', () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext, d.metadata.name).to.deep.include({
        runAsNonRoot: true,
        runAsUser: 65534,
        runAsGroup: 65534,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of pod.containers) {
        expect(c.securityContext, `${d.metadata.name}/${c.name}`).to.deep.equal({
          runAsNonRoot: true,
          runAsUser: 65534,
          runAsGroup: 65534,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(tmp, `${d.metadata.name}: /tmp`).to.not.equal(undefined);
        expect(pod.volumes?.find((v) => v.name === tmp!.name)?.emptyDir, `${d.metadata.name}: /tmp is an emptyDir`).to.not.equal(undefined);
      }
    }
  });

  it("requests and limits are document 000's coordinator row (100m / 500m CPU, 128Mi / 256Mi), the heap below the limit", () => {
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0]!;
      expect(c.resources, d.metadata.name).to.deep.equal({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
      const heap = /--max-old-space-size=(\d+)/.exec(environment(d).NODE_OPTIONS ?? '');
      expect(heap, 'NODE_OPTIONS sets the heap').to.not.equal(null);
      expect(Number(heap![1])).to.be.lessThan(quantityMi(c.resources!.limits!.memory!));
    }
  });

  it('lib/config.ts accepts each Deployment’s configuration, which runs its one part and listens on the ports the pod declares', () => {
    for (const d of deployments) {
      const env = environment(d);
      const config = loadConfig(env);
      const part = PARTS[d.metadata.name]!;
      expect(config.COMPONENTS, d.metadata.name).to.deep.equal([part.components]);
      expect(config.LEADER_ELECTION_NAMESPACE).to.equal(ORCHESTRATOR_NAMESPACE);
      expect(config.VPSIE_CREDENTIALS_SECRET).to.equal('kube-system/vpsie-credentials');
      const ports = Object.fromEntries((d.spec.template.spec.containers[0]!.ports ?? []).map((p) => [p.name, p.containerPort]));
      expect(config.METRICS_ADDR.startsWith('0.0.0.0:'), 'metrics on every interface').to.equal(true);
      expect(config.HEALTH_ADDR?.startsWith('0.0.0.0:'), 'health on every interface').to.equal(true);
      expect(ports.metrics).to.equal(portOf(config.METRICS_ADDR));
      expect(ports.health).to.equal(portOf(config.HEALTH_ADDR!));
      if (part.components === 'api') expect(ports.api).to.equal(portOf(config.COORDINATION_API_ADDR));
      else expect(ports.api).to.equal(undefined);
      // the coordination settings the process reads are the mounted generated files
      const c = d.spec.template.spec.containers[0]!;
      const mount = c.volumeMounts?.find((m) => env.COORDINATOR_CONFIG?.startsWith(`${m.mountPath}/`));
      expect(mount, 'COORDINATOR_CONFIG is on a mounted volume').to.not.equal(undefined);
      const volume = d.spec.template.spec.volumes?.find((v) => v.name === mount!.name);
      const g = base.generators.find((x) => x.name === volume?.configMap?.name);
      expect(g?.files?.map((f) => path.basename(f)).sort()).to.deep.equal(['coordinator-config.yaml', 'tenant-tier-config.yaml']);
      expect(path.dirname(env.TENANT_TIER_CONFIG!)).to.equal(mount!.mountPath);
      // the Temporal client credentials, when there are any
      const temporal = d.spec.template.spec.volumes?.find((v) => v.secret?.secretName === 'temporal-client');
      expect(temporal?.secret?.optional).to.equal(true);
      expect(c.volumeMounts?.find((m) => m.name === temporal!.name)).to.deep.include({ mountPath: '/etc/temporal', readOnly: true });
    }
    const watcher = environment(one<Deployment>('Deployment', 'vpsie-orchestrator-watcher'));
    expect(loadConfig(watcher).LEADER_ELECTION).to.equal(true);
  });

  it('the worker replicas share the VPSie request budget; backups run in the one backup pod, on its own queue and volume', () => {
    const worker = one<Deployment>('Deployment', 'vpsie-orchestrator-worker');
    const env = environment(worker);
    expect(loadConfig(env).VPSIE_REPLICAS).to.equal(worker.spec.replicas);
    expect(worker.spec.template.spec.volumes?.some((v) => v.persistentVolumeClaim)).to.equal(false);
    const backup = one<Deployment>('Deployment', 'vpsie-orchestrator-backup');
    const benv = environment(backup);
    expect(loadConfig(benv).BACKUP_TASK_QUEUE).to.be.a('string').and.not.equal(loadConfig(benv).TASK_QUEUE);
    const c = backup.spec.template.spec.containers[0]!;
    const backupDir = c.env?.find((e) => e.name === 'BACKUP_DIR')?.value;
    const mount = c.volumeMounts?.find((m) => m.mountPath === backupDir);
    const claim = backup.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
    const pvc = one<Obj & { spec: { accessModes: string[] } }>('PersistentVolumeClaim', claim ?? '');
    expect(pvc.spec.accessModes).to.deep.equal(['ReadWriteOnce']);
  });

  it('liveness asks /healthz and readiness /readyz on the health port; start-up is given time by a startup probe', () => {
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0]!;
      expect(c.livenessProbe?.httpGet, d.metadata.name).to.deep.equal({ path: '/healthz', port: 'health' });
      expect(c.readinessProbe?.httpGet, d.metadata.name).to.deep.equal({ path: '/readyz', port: 'health' });
      expect(c.startupProbe?.httpGet, d.metadata.name).to.deep.equal({ path: '/healthz', port: 'health' });
    }
  });

  it('the worker is the identity the VPSieNode admission policy lets create VPSieNodes', () => {
    const identity = one<Obj & { data: { usernames: string } }>('ConfigMap', 'vpsie-capacity-orchestrator-identity');
    const users = identity.data.usernames.split(',').map((u) => u.trim());
    const sa = one<Deployment>('Deployment', 'vpsie-orchestrator-worker').spec.template.spec.serviceAccountName;
    expect(users).to.include(`system:serviceaccount:${ORCHESTRATOR_NAMESPACE}:${sa}`);
  });

  it('the API: never two replicas on one node, spread over zones, a PDB of one, and the HPA of document 002', () => {
    const api = one<Deployment>('Deployment', 'vpsie-orchestrator-api');
    const pod = api.spec.template.spec;
    const selector = api.spec.selector.matchLabels;
    const anti = pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(anti.map((t) => ({ key: t.topologyKey, sel: t.labelSelector.matchLabels }))).to.deep.equal([{ key: 'kubernetes.io/hostname', sel: selector }]);
    expect(pod.topologySpreadConstraints?.map((t) => ({ key: t.topologyKey, skew: t.maxSkew, sel: t.labelSelector.matchLabels }))).to.deep.equal([
      { key: 'topology.kubernetes.io/zone', skew: 1, sel: selector },
    ]);
    const pdb = one<Obj & { spec: { minAvailable: number; selector: LabelSelector } }>('PodDisruptionBudget', 'vpsie-orchestrator-api');
    expect(pdb.spec.minAvailable).to.equal(1);
    expect(pdb.spec.selector.matchLabels).to.deep.equal(selector);
    const hpa = one<
      Obj & {
        spec: {
          scaleTargetRef: { apiVersion: string; kind: string; name: string };
          minReplicas: number;
          maxReplicas: number;
          metrics: { type: string; resource: { name: string; target: { type: string; averageUtilization: number } } }[];
          behavior: { scaleUp: { stabilizationWindowSeconds: number }; scaleDown: { stabilizationWindowSeconds: number } };
        };
      }
    >('HorizontalPodAutoscaler', 'vpsie-orchestrator-api');
    expect(hpa.apiVersion).to.equal('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).to.deep.equal({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'vpsie-orchestrator-api' });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).to.deep.equal([3, 5]);
    expect(
      Object.fromEntries(hpa.spec.metrics.map((m) => [m.resource.name, [m.type, m.resource.target.type, m.resource.target.averageUtilization]])),
    ).to.deep.equal({
      cpu: ['Resource', 'Utilization', 70],
      memory: ['Resource', 'Utilization', 80],
    });
    expect(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds).to.equal(300);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).to.equal(300);
    expect(api.spec.replicas).to.equal(hpa.spec.minReplicas);
  });

  it('the watchers and the workers keep one replica through disruptions', () => {
    for (const name of ['vpsie-orchestrator-watcher', 'vpsie-orchestrator-worker']) {
      const pdb = one<Obj & { spec: { minAvailable: number; selector: LabelSelector } }>('PodDisruptionBudget', name);
      expect(pdb.spec.minAvailable).to.equal(1);
      expect(pdb.spec.selector.matchLabels).to.deep.equal(one<Deployment>('Deployment', name).spec.selector.matchLabels);
      expect(one<Deployment>('Deployment', name).spec.replicas).to.be.greaterThan(1);
    }
  });

  it('one Service per part with the ServiceMonitor labels and a port named metrics; the API’s also serves the REST API', () => {
    type Service = Obj & { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } };
    for (const d of deployments) {
      const part = PARTS[d.metadata.name]!;
      const svc = one<Service>('Service', d.metadata.name);
      expect(svc.metadata.labels).to.include({ 'app.kubernetes.io/name': 'vpsie-capacity-orchestrator', 'app.kubernetes.io/component': part.component });
      expect(svc.spec.selector).to.deep.equal(d.spec.selector.matchLabels);
      const containerPorts = Object.fromEntries((d.spec.template.spec.containers[0]!.ports ?? []).map((p) => [p.name, p.containerPort]));
      const ports = Object.fromEntries(svc.spec.ports.map((p) => [p.name, { port: p.port, target: p.targetPort }]));
      expect(ports.metrics).to.deep.equal({ port: containerPorts.metrics, target: 'metrics' });
      if (part.component === 'api') expect(ports.api).to.deep.equal({ port: containerPorts.api, target: 'api' });
      expect(Object.keys(ports).sort()).to.deep.equal(part.component === 'api' ? ['api', 'metrics'] : ['metrics']);
    }
  });

  it('NetworkPolicies: in only from the monitoring namespace on the metrics and API ports; out only DNS, the apiserver, Temporal and VPSie', () => {
    interface Rule {
      from?: { namespaceSelector?: LabelSelector }[];
      to?: { namespaceSelector?: LabelSelector }[];
      ports?: { protocol: string; port: string | number }[];
    }
    type Policy = Obj & { spec: { podSelector: LabelSelector; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] } };
    const policies = byKind<Policy>('NetworkPolicy');
    const monitoring = { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } };
    const ingress = policies.filter((p) => p.spec.policyTypes.includes('Ingress'));
    const opened = new Set<string>();
    for (const p of ingress) {
      for (const r of p.spec.ingress ?? []) {
        expect(r.from, p.metadata.name).to.deep.equal([{ namespaceSelector: monitoring }]);
        for (const port of r.ports ?? []) opened.add(`${p.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] ?? '*'}:${port.protocol}/${port.port}`);
      }
    }
    expect([...opened].sort()).to.deep.equal(['*:TCP/metrics', 'api:TCP/api']);
    // every orchestrator pod is selected by an ingress and an egress policy
    const all = { 'app.kubernetes.io/name': 'vpsie-capacity-orchestrator' };
    expect(ingress.some((p) => JSON.stringify(p.spec.podSelector.matchLabels) === JSON.stringify(all))).to.equal(true);
    const egress = policies.filter((p) => p.spec.policyTypes.includes('Egress'));
    expect(egress.map((p) => p.spec.podSelector.matchLabels)).to.deep.equal([all]);
    const out = egress[0]!.spec.egress ?? [];
    const dns = out.filter((r) => r.ports?.some((p) => p.port === 53));
    expect(dns).to.have.length(1);
    expect(dns[0]!.to).to.deep.equal([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }]);
    expect(dns[0]!.ports?.map((p) => `${p.protocol}/${p.port}`).sort()).to.deep.equal(['TCP/53', 'UDP/53']);
    const rest = out.filter((r) => r !== dns[0]).flatMap((r) => (r.ports ?? []).map((p) => `${p.protocol}/${p.port}`));
    expect(rest.sort()).to.deep.equal(['TCP/443', 'TCP/6443', 'TCP/7233']);
    // named ports exist on the pods they select
    for (const d of deployments) {
      const names = (d.spec.template.spec.containers[0]!.ports ?? []).map((p) => p.name);
      expect(names).to.include('metrics');
    }
  });

  it('the generated copies equal their sources: the tier limits and the coordination settings', () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(K8S, 'deploy', 'tenant-tier-limits.yaml'), 'utf8')).map((d) => d.toJS() as unknown);
    expect(docs).to.deep.equal(tierLimitsManifests(loadCoordinationConfig().tiers));
    const coordination = base.generators.find((g) => g.name === 'vpsie-orchestrator-coordination')!;
    for (const f of coordination.files ?? []) {
      const source = path.join(K8S, 'config', path.basename(f));
      expect(fs.readFileSync(path.join(coordination.dir, f), 'utf8'), `${f} is a copy of k8s/config/${path.basename(f)}`).to.equal(
        fs.readFileSync(source, 'utf8'),
      );
    }
  });
});
