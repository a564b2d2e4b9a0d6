/**
 * The orchestrator's RBAC and admission policies in the sandbox, as a cluster has them:
 * k8s/rbac.yaml (the orchestrator's ServiceAccount and its roles),
 * k8s/admission/vpsienode-policy.yaml (issue #12: only the orchestrator creates VPSieNodes and
 * writes their status and machine identity), with the policy's identity parameter naming both the
 * ServiceAccount (k8s/admission/orchestrator-identity.yaml) and the sandbox's admin user — the
 * identity `npm start` and the tests use in the sandbox (its token in the kubeconfig, group
 * system:masters) — and k8s/admission/optipod-pod-sizing.yaml (issue #15: new pods of workloads
 * under Auto OptimizationPolicies are sized at admission from the namespace's
 * `optipod-pod-sizing` ConfigMap), and for coordination (issue #16) k8s/admission/tenant-tiers.yaml
 * (VPA objects, OptimizationPolicies and VPANAPCoordinations held to their tenant tier's limits)
 * with its parameter, the ConfigMap platform-system/tenant-tier-limits generated from
 * k8s/config/tenant-tier-config.yaml, and k8s/admission/vpanapcoordination-namespace.yaml.
 *
 * A policy is enforced a moment after it is created (the apiserver compiles it and syncs its
 * parameter), so `applyAdmission` returns only once probes show both in force:
 * - a server-side dry-run VPSieNode created by the admin is accepted and the same one by another
 *   user (impersonated, with system:masters so RBAC lets it through) is refused by the policy;
 * - a server-side dry-run pod "of" a probe StatefulSet (which does not exist) comes back with the
 *   CPU request of a probe ConfigMap in kube-system. The probe ConfigMap is deleted afterwards, so
 *   the probes leave nothing behind;
 * - server-side dry-run objects labelled with the premium tier and looser than it are refused by
 *   the tier policies: a VPANAPCoordination, an OptimizationPolicy, and a VPA when the VPA API is
 *   served; a VPANAPCoordination naming another namespace is refused by the namespace policy.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import YAML from 'yaml';
import { loadCoordinationConfig, tierLimitsManifests } from '../lib/coordination-config';
import { POD_SIZING_CONFIGMAP, POD_SIZING_LABELS, podSizingKey } from '../lib/crds/optipod/pod-sizing';
import { TENANT_TIER_LABEL } from '../lib/crds/platform/constants';
import { repoRoot } from './endpoints';
import { SandboxError, startProcess, type Managed } from './process';

/** The sandbox's admin user (sandbox/stack.ts writes its token; the kubeconfig uses it). */
export const SANDBOX_ADMIN_USER = 'sandbox-admin';
export const ADMISSION_POLICY_NAME = 'vpsienodes.autoscaler.vpsie.com';
const PROBE_USER = 'sandbox-admission-probe';

export function admissionPolicyFile(): string {
  return path.join(repoRoot(), 'k8s', 'admission', 'vpsienode-policy.yaml');
}

/** The pod sizing MutatingAdmissionPolicy of OptiPod (issue #15). */
export function podSizingPolicyFile(): string {
  return path.join(repoRoot(), 'k8s', 'admission', 'optipod-pod-sizing.yaml');
}
export const POD_SIZING_POLICY_NAME = 'pod-sizing.optipod.io';
/** The probe's parameter: a ConfigMap in kube-system sizing a StatefulSet that does not exist. */
const POD_SIZING_PROBE = { namespace: 'kube-system', statefulSet: 'optipod-admission-probe', container: 'probe', cpu: '7m' };

/** The tenant tier policies and the VPANAPCoordination namespace policy of coordination (issue #16). */
export function tenantTierPolicyFile(): string {
  return path.join(repoRoot(), 'k8s', 'admission', 'tenant-tiers.yaml');
}
export function coordinationNamespacePolicyFile(): string {
  return path.join(repoRoot(), 'k8s', 'admission', 'vpanapcoordination-namespace.yaml');
}
export const TENANT_TIER_POLICY_NAMES = {
  vpa: 'tenant-tier-vpa.platform.io',
  optimizationPolicy: 'tenant-tier-optimizationpolicy.platform.io',
  coordination: 'tenant-tier-vpanapcoordination.platform.io',
} as const;
export const COORDINATION_NAMESPACE_POLICY_NAME = 'vpanapcoordination-namespace.platform.io';

/**
 * The tier policies' parameters (the platform-system Namespace and the tenant-tier-limits
 * ConfigMap) generated from the tier configuration, as a JSON List (JSON, so that YAML 1.1 never
 * reads a value such as Off as a boolean).
 */
export function tierLimitsList(): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: tierLimitsManifests(loadCoordinationConfig().tiers) }, null, 2);
}

/** The orchestrator's namespace (its ServiceAccounts and Lease live there). */
export function namespaceFile(): string {
  return path.join(repoRoot(), 'k8s', 'namespace.yaml');
}

export function rbacFile(): string {
  return path.join(repoRoot(), 'k8s', 'rbac.yaml');
}

/** The parts' FlowSchemas: the apiserver counts each part's requests under its own flow. */
export function flowControlFile(): string {
  return path.join(repoRoot(), 'k8s', 'flowcontrol.yaml');
}

/** The identity ConfigMap of k8s/admission/orchestrator-identity.yaml with `extraUsers` added. */
export function identityParams(extraUsers: string[]): Record<string, unknown> {
  const file = path.join(repoRoot(), 'k8s', 'admission', 'orchestrator-identity.yaml');
  const cm = YAML.parse(fs.readFileSync(file, 'utf8')) as { data?: Record<string, string> } & Record<string, unknown>;
  const users = (cm.data?.usernames ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const u of extraUsers) if (!users.includes(u)) users.push(u);
  return { ...cm, data: { ...(cm.data ?? {}), usernames: users.join(',') } };
}

function send(method: string, url: string, body: string | undefined, headers: Record<string, string>, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, headers: { 'Content-Type': 'application/json', ...headers }, timeout: 2000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** POST `body`; a transport error is status 0 with the error as body. */
const post = (url: string, body: string, headers: Record<string, string>, ca: Buffer): Promise<{ status: number; body: string }> =>
  send('POST', url, body, headers, ca).catch((e: unknown) => ({ status: 0, body: String(e) }));

async function run(proc: Managed, what: string): Promise<void> {
  await proc.exited;
  if (proc.exitCode() !== 0) throw new SandboxError(`${what} failed (log: ${proc.logFile})`);
}

export interface AdmissionOptions {
  dir: string;
  logDir: string;
  kubectl: string;
  kubeconfig: string;
  apiserverUrl: string;
  caFile: string;
  token: string;
  readyTimeoutMs: number;
}

/** Applies the RBAC and the admission policies and waits until both are enforced. */
export async function applyAdmission(o: AdmissionOptions): Promise<void> {
  const params = path.join(o.dir, 'orchestrator-identity.yaml');
  fs.writeFileSync(params, YAML.stringify(identityParams([SANDBOX_ADMIN_USER])));
  const tierLimits = path.join(o.dir, 'tenant-tier-limits.json');
  fs.writeFileSync(tierLimits, tierLimitsList());
  await run(
    startProcess(
      'kubectl-apply-admission',
      o.kubectl,
      [
        `--kubeconfig=${o.kubeconfig}`,
        'apply',
        '--server-side',
        '-f',
        namespaceFile(),
        '-f',
        rbacFile(),
        '-f',
        flowControlFile(),
        '-f',
        params,
        '-f',
        admissionPolicyFile(),
        '-f',
        podSizingPolicyFile(),
        '-f',
        tierLimits,
        '-f',
        tenantTierPolicyFile(),
        '-f',
        coordinationNamespacePolicyFile(),
      ],
      o.logDir,
    ),
    'applying the RBAC and admission policies',
  );

  const ca = fs.readFileSync(o.caFile);
  const url = `${o.apiserverUrl}/apis/autoscaler.vpsie.com/v1alpha1/namespaces/default/vpsienodes?dryRun=All`;
  const probe = JSON.stringify({
    apiVersion: 'autoscaler.vpsie.com/v1alpha1',
    kind: 'VPSieNode',
    metadata: { name: PROBE_USER },
    spec: { nodeGroupName: 'probe', offeringID: 'probe', datacenterID: 'probe', join: { method: 'UserData' } },
  });
  const auth = { Authorization: `Bearer ${o.token}` };
  const deadline = Date.now() + o.readyTimeoutMs;
  let last = '';
  for (;;) {
    const asAdmin = await post(url, probe, auth, ca);
    const asOther = await post(url, probe, { ...auth, 'Impersonate-User': PROBE_USER, 'Impersonate-Group': 'system:masters' }, ca);
    if ((asAdmin.status === 200 || asAdmin.status === 201) && asOther.status === 403 && asOther.body.includes(ADMISSION_POLICY_NAME)) break;
    last = `admin: HTTP ${asAdmin.status}, other user: HTTP ${asOther.status} ${asOther.body.slice(0, 300)}`;
    if (Date.now() > deadline) throw new SandboxError(`the VPSieNode admission policy was not enforced within ${o.readyTimeoutMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await probePodSizing(o, ca, auth, deadline);
  await probeTenantTiers(o, ca, auth, deadline);
}

/** A probe: a server-side dry-run create that the policy `policy` must refuse. */
interface TierProbe {
  what: string;
  url: string;
  body: Record<string, unknown>;
  policy: string;
}

/**
 * The tier policies are in force once dry-run objects in kube-system labelled with the premium
 * tier and looser than it are refused by them, and the namespace policy once a VPANAPCoordination
 * naming another namespace is refused by it. The VPA probe only when the VPA API is served (its
 * CRDs may be installed later; the policy applies to them as soon as they are).
 */
async function probeTenantTiers(o: AdmissionOptions, ca: Buffer, auth: Record<string, string>, deadline: number): Promise<void> {
  const ns = 'kube-system';
  const metadata = { name: 'tenant-tier-admission-probe', namespace: ns, labels: { [TENANT_TIER_LABEL]: 'premium' } };
  const probes: TierProbe[] = [
    {
      what: 'the VPANAPCoordination tier policy',
      url: `${o.apiserverUrl}/apis/platform.io/v1/namespaces/${ns}/vpanapcoordinations?dryRun=All`,
      body: {
        apiVersion: 'platform.io/v1',
        kind: 'VPANAPCoordination',
        metadata,
        spec: { vpaName: 'probe', namespace: ns, circuitBreaker: { nodeChurnThreshold: 1000 } },
      },
      policy: TENANT_TIER_POLICY_NAMES.coordination,
    },
    {
      what: 'the VPANAPCoordination namespace policy',
      url: `${o.apiserverUrl}/apis/platform.io/v1/namespaces/${ns}/vpanapcoordinations?dryRun=All`,
      body: {
        apiVersion: 'platform.io/v1',
        kind: 'VPANAPCoordination',
        metadata: { name: metadata.name, namespace: ns },
        spec: { vpaName: 'probe', namespace: 'default' },
      },
      policy: COORDINATION_NAMESPACE_POLICY_NAME,
    },
  ];
  const optipod = await send('GET', `${o.apiserverUrl}/apis/optipod.io/v1alpha1`, undefined, auth, ca).catch(() => ({ status: 0, body: '' }));
  if (optipod.status === 200 && optipod.body.includes('"optimizationpolicies"'))
    probes.push({
      what: 'the OptimizationPolicy tier policy',
      url: `${o.apiserverUrl}/apis/optipod.io/v1alpha1/namespaces/${ns}/optimizationpolicies?dryRun=All`,
      body: { apiVersion: 'optipod.io/v1alpha1', kind: 'OptimizationPolicy', metadata, spec: { mode: 'Auto', selector: { namespaces: { allow: [ns] } } } },
      policy: TENANT_TIER_POLICY_NAMES.optimizationPolicy,
    });
  const vpaApi = await send('GET', `${o.apiserverUrl}/apis/autoscaling.k8s.io/v1`, undefined, auth, ca).catch(() => ({ status: 0, body: '' }));
  if (vpaApi.status === 200 && vpaApi.body.includes('"verticalpodautoscalers"'))
    probes.push({
      what: 'the VPA tier policy',
      url: `${o.apiserverUrl}/apis/autoscaling.k8s.io/v1/namespaces/${ns}/verticalpodautoscalers?dryRun=All`,
      body: {
        apiVersion: 'autoscaling.k8s.io/v1',
        kind: 'VerticalPodAutoscaler',
        metadata,
        spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'probe' }, updatePolicy: { updateMode: 'Recreate' } },
      },
      policy: TENANT_TIER_POLICY_NAMES.vpa,
    });
  for (const p of probes) {
    let last = '';
    for (;;) {
      const r = await post(p.url, JSON.stringify(p.body), auth, ca);
      if ((r.status === 403 || r.status === 422) && r.body.includes(p.policy)) break;
      last = `HTTP ${r.status} ${r.body.slice(0, 300)}`;
      if (Date.now() > deadline) throw new SandboxError(`${p.what} was not in force within ${o.readyTimeoutMs / 1000} s (${last})`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

/** The CPU request of container `name` in a pod returned by the apiserver (undefined when absent or not a pod). */
function cpuRequestOf(body: string, name: string): string | undefined {
  try {
    const pod = JSON.parse(body) as { spec?: { containers?: { name?: string; resources?: { requests?: Record<string, unknown> } }[] } };
    const cpu = pod.spec?.containers?.find((c) => c.name === name)?.resources?.requests?.cpu;
    return typeof cpu === 'string' ? cpu : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pod sizing policy is in force once a server-side dry-run pod "owned" by the probe
 * StatefulSet comes back with the probe ConfigMap's CPU request. The probe ConfigMap (in
 * kube-system, labelled as the orchestrator's, sizing only a StatefulSet that does not exist) is
 * deleted afterwards.
 */
async function probePodSizing(o: AdmissionOptions, ca: Buffer, auth: Record<string, string>, deadline: number): Promise<void> {
  const p = POD_SIZING_PROBE;
  const configMaps = `${o.apiserverUrl}/api/v1/namespaces/${p.namespace}/configmaps`;
  const cm = JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: POD_SIZING_CONFIGMAP, namespace: p.namespace, labels: POD_SIZING_LABELS },
    data: { [podSizingKey('StatefulSet', p.statefulSet, p.container, 'cpu')]: p.cpu },
  });
  const made = await post(configMaps, cm, auth, ca);
  if (made.status !== 201 && made.status !== 409)
    throw new SandboxError(`the pod sizing probe ConfigMap was not created: HTTP ${made.status} ${made.body.slice(0, 200)}`);
  const pod = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${p.statefulSet}-0`,
      namespace: p.namespace,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: p.statefulSet, uid: '00000000-0000-0000-0000-000000000000', controller: true }],
    },
    spec: { containers: [{ name: p.container, image: 'registry.k8s.io/pause:3.9' }] },
  });
  let last = '';
  for (;;) {
    // The service-account admission refuses pods until kube-system's default ServiceAccount exists.
    const r = await post(`${o.apiserverUrl}/api/v1/namespaces/${p.namespace}/pods?dryRun=All`, pod, auth, ca);
    if ((r.status === 200 || r.status === 201) && cpuRequestOf(r.body, p.container) === p.cpu) break;
    last = `HTTP ${r.status} ${r.body.slice(0, 200)}`;
    if (Date.now() > deadline) throw new SandboxError(`the pod sizing admission policy was not in force within ${o.readyTimeoutMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const gone = await send('DELETE', `${configMaps}/${POD_SIZING_CONFIGMAP}`, undefined, auth, ca).catch((e: unknown) => ({ status: 0, body: String(e) }));
  if (gone.status !== 200 && gone.status !== 404)
    throw new SandboxError(`the pod sizing probe ConfigMap was not deleted: HTTP ${gone.status} ${gone.body.slice(0, 200)}`);
}
