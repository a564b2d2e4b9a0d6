/**
 * The VPSie machine behind a VPSieNode: create it (idempotently), report its state, delete it.
 * Used by workflows/nodes/lifecycle/workflow.ts.
 *
 * Idempotency, per join method:
 *
 * - UserData (a plain VM): the creation request id is the VPSieNode's uid. `ensureVm` derives
 *   the hostname and processId from it, puts it in the VM's notes and looks in the VM list and
 *   the pending queue before creating, so a retried activity — or a re-run after a worker crash
 *   between the POST and its answer — finds the first machine instead of creating a second. The
 *   hostname is written to spec.hostname before the create, and the identifier/vpsID to the spec
 *   as soon as the VM is listed (set-once fields). The notes and tags also carry this cluster's
 *   identity (`orchestrator-cluster=<id>`, activities/nodes/cluster-identity.ts): garbage
 *   collection collects only machines carrying it, so clusters sharing a VPSie account never
 *   collect each other's machines (#12).
 *
 * - ManagedKubernetes (a worker added to a VPSie managed-cluster node group): "add worker"
 *   answers no identifier, so a VPSieNode CLAIMS a worker. A claim is a coordination.k8s.io Lease
 *   `vpsie-worker-<worker identifier>` in the VPSieNode's namespace whose holderIdentity is the
 *   VPSieNode's uid (owner: the VPSieNode). Creating it is atomic, so no worker is ever held by
 *   two VPSieNodes; the identifier is then copied to spec.vpsieIdentifier (set once).
 *   Before adding, the VPSieNode records its intent (annotation
 *   `autoscaler.vpsie.com/worker-intent=<group id>`). Under a short per-group lock (Lease
 *   `vpsie-group-<group id>`, 30 s expiry, held only for the read-decide-add step, never while a
 *   machine boots) the activity claims the lowest-id listed unclaimed worker of the group if there
 *   is one; otherwise it adds workers until the workers still pending cover every VPSieNode with
 *   an intent and no claim. That number is recomputed from VPSie's own count (nodes_count, which
 *   includes pending workers) every time, so a crash after "add" and before anything was recorded
 *   does not add again: the re-run sees the pending worker and claims it once listed.
 *   Residual risks (documented): unclaimed workers already in the VPSie group are treated as
 *   spares and claimed; a VPSie node group must be used by VPSieNodes of one namespace only.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type * as k8s from '@kubernetes/client-node';
import {
  hostnameForRequest,
  isVPSieError,
  processIdForRequest,
  renderBootstrapUserData,
  toApplicationFailure,
  vmPhase,
  type VPSieClient,
} from '../../../clients/vpsie';
import type { K8sNode, NodeGroup as VPSieGroup, VmData } from '../../../clients/vpsie/schemas';
import {
  API_VERSION,
  DNS_SUBDOMAIN_PATTERN,
  GROUP,
  VERSION,
  VPSIENODE_KIND,
  VPSIENODE_PLURAL,
  nodeLabelsFor,
  safeParseVPSieNode,
  type NodeGroup,
  type VPSieNode,
} from '../../../lib/crds/autoscaler';
import { apiStatus } from '../../../lib/kube/api';
import { logger } from '../../../lib/log';
import { autoscalerMetrics, nodeGroupLabel } from '../../../lib/metrics';
import type { ObjectRef } from '../../../workflows/nodes/contracts';
import type { OrchestratorDeps } from '../../../workers/deps';
import { clusterNote, clusterTag } from '../../../decision/nodes/garbage-collection/garbage';
import { workerClaimLeaseName } from '../../../decision/nodes/garbage-collection/workers';
import { clusterIdentity } from '../cluster-identity';
import { kubeApis, mergePatchVPSieNode, readNodeGroup, readVPSieNode, setSpecOnce, type KubeApis } from './vpsienode';

export const WORKER_INTENT_ANNOTATION = `${GROUP}/worker-intent`;
export const WORKER_CLAIM_LABEL = `${GROUP}/worker-claim`;
export const WORKER_IDENTIFIER_ANNOTATION = `${GROUP}/worker-identifier`;
const LOCK_EXPIRES_ANNOTATION = `${GROUP}/lock-expires-at`;
/**
 * When this VPSieNode's VM create was last sent (ISO time), written before the POST. A VM VPSie
 * has accepted may show in neither the pending queue nor the list for a while; within
 * CREATE_SETTLE_SECONDS of a create nothing is sent again, so a slow VPSie never gets a second one.
 */
export const CREATE_SENT_ANNOTATION = `${GROUP}/create-sent-at`;

/** 'wait' while a create sent at `sentAt` may still appear; 'create' when none was sent or the window passed. Pure. */
export function createSettleDecision(sentAt: string | undefined, now: number, settleMs: number): 'create' | 'wait' {
  const at = sentAt === undefined ? NaN : Date.parse(sentAt);
  return Number.isFinite(at) && now - at < settleMs && now >= at ? 'wait' : 'create';
}
const LOCK_SECONDS = 30;

/**
 * Failures after which VPSie certainly did not create the machine: refused before or by VPSie
 * (429, the breaker open, a 4xx refusal, cancelled before the request left). Not a timeout, a
 * network error, a 5xx or an answer that did not parse: those may have created it. Pure.
 */
export function createNotSent(e: unknown): boolean {
  if (!isVPSieError(e) || e.ambiguous) return false;
  return ['rate_limited', 'circuit_open', 'cancelled', 'auth_failed', 'credentials_missing', 'bad_request', 'quota_exceeded'].includes(e.type);
}
/**
 * The tick of the shared VM listing: every provisioning poll on this worker within it reads the
 * same listing (VPSieClient.vmSnapshot; longer while the VPSie budget is scarce). The lifecycle
 * polls every 2 s, so a machine that starts running is seen within about one poll.
 */
export const LISTING_TICK_MS = 2_000;

export interface MachineInput {
  vpsieNode: ObjectRef;
  nodeGroup: string;
}

export interface MachineStatus {
  /** requested: asked for, not visible yet; pending: in VPSie's pending queue; booting: listed, not running. */
  state: 'requested' | 'pending' | 'booting' | 'running' | 'gone';
  joinMethod: 'UserData' | 'ManagedKubernetes';
  vpsieIdentifier?: string;
  vpsID?: number;
  hostname?: string;
  publicIPv4?: string;
  publicIPv6?: string;
  privateIPv4?: string;
  /** True when this call created the machine (or added a worker). */
  created: boolean;
  detail: string;
}

export interface EarlyCreateInput {
  vpsieNodes: ObjectRef[];
  nodeGroup: string;
  /** How long the early creates may take in all, rate-limit waits included (default 1.5 s). */
  budgetMs?: number;
}

export interface EarlyCreateResult {
  /** VPSieNodes whose create this call sent. */
  sent: string[];
  /** The others, and why (left to their lifecycles). */
  skipped: { name: string; why: string }[];
}

export interface DeleteMachineResult {
  deleted: boolean;
  vpsieIdentifier?: string;
  detail: string;
}

/** The userDataSecretRef Secret: join parameters (JSON or YAML), or a whole `#cloud-config` document. */
export const JoinTemplateSchema = z.object({
  bootstrapToken: z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/),
  caCertHashes: z.array(z.string()).optional(),
  caCertificate: z.string().optional(),
  apiServer: z.string().url().optional(),
  kubeletExtraArgs: z.record(z.string(), z.string()).optional(),
});

/** On a VPSieNode: the label keys and taints (`key:effect`) its machine's join configuration gave the Node. */
export const JOIN_NODE_CONFIG_ANNOTATION = `${GROUP}/join-node-config`;

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidConfiguration');
}

function vpsieFailure(e: unknown): unknown {
  if (isVPSieError(e)) return toApplicationFailure(e);
  return e;
}

function nonEmpty(s: string | null | undefined): string | undefined {
  return s === null || s === undefined || s === '' ? undefined : s;
}

function statusFromVm(vm: VmData, joinMethod: MachineStatus['joinMethod'], created: boolean, detail: string): MachineStatus {
  const phase = vmPhase(vm);
  const ip4 = nonEmpty(vm.default_ip);
  const ip6 = nonEmpty(vm.default_ipv6);
  const priv = nonEmpty(vm.private_ip);
  return {
    state: phase === 'deleted' ? 'gone' : phase,
    joinMethod,
    vpsieIdentifier: vm.identifier,
    vpsID: vm.id,
    hostname: vm.hostname,
    ...(ip4 ? { publicIPv4: ip4 } : {}),
    ...(ip6 ? { publicIPv6: ip6 } : {}),
    ...(priv ? { privateIPv4: priv } : {}),
    created,
    detail,
  };
}

/** Heartbeats every 2 s while `fn` runs (inside an activity), so a crashed worker is noticed within the heartbeat timeout. */
async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined; // called outside an activity (tests)
  }
  const timer = ctx ? setInterval(() => ctx.heartbeat(), 2000) : undefined;
  try {
    ctx?.heartbeat();
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}

function leaseName(prefix: string, id: string): string {
  return `${prefix}-${id.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 253).replace(/-+$/, '');
}

export function createVPSieMachineActivities(deps: Pick<OrchestratorDeps, 'kc' | 'vpsie' | 'registry' | 'config'>) {
  const api = kubeApis(deps.kc);
  /** The VPSie client bound to the running activity's cancellation and deadline (a timed-out attempt never runs beside its retry; a budget wait past the deadline fails at once). */
  const client = (): VPSieClient => {
    let ctx: Context | undefined;
    try {
      ctx = Context.current();
    } catch {
      return deps.vpsie; // outside an activity (tests)
    }
    const { currentAttemptScheduledTimestampMs: at, startToCloseTimeoutMs: ttl } = ctx.info;
    return deps.vpsie.withSignal(ctx.cancellationSignal, Number.isFinite(at) && ttl > 0 ? at + ttl : undefined);
  };
  const metrics = autoscalerMetrics(deps.registry);
  const log = logger('vpsie-machines');

  /**
   * Reads shared by the VPSieNodes of one early-create call (one NodeGroup, usually one user-data
   * Secret): read once per call, not once per machine.
   */
  interface CallReads {
    nodeGroups: Map<string, Promise<NodeGroup | undefined>>;
    secrets: Map<string, Promise<k8s.V1Secret>>;
  }
  const once = <T>(m: Map<string, Promise<T>> | undefined, key: string, read: () => Promise<T>): Promise<T> => {
    if (!m) return read();
    let p = m.get(key);
    if (!p) {
      p = read();
      m.set(key, p);
      // A failed read is not shared: the next machine reads again.
      p.catch(() => m.delete(key));
    }
    return p;
  };

  async function context(ref: ObjectRef, nodeGroup: string, reads?: CallReads): Promise<{ vn: VPSieNode; ng: NodeGroup | undefined; uid: string }> {
    const vn = await readVPSieNode(api, ref);
    if (!vn) throw ApplicationFailure.nonRetryable(`VPSieNode ${ref.namespace}/${ref.name} does not exist`, 'VPSieNodeGone');
    const uid = vn.metadata.uid;
    if (!uid) throw invalid(`VPSieNode ${ref.namespace}/${ref.name} has no uid`);
    const ng = await once(reads?.nodeGroups, `${ref.namespace}/${nodeGroup}`, () => readNodeGroup(api, { namespace: ref.namespace, name: nodeGroup }));
    return { vn, ng, uid };
  }

  function hostnameOf(vn: VPSieNode, uid: string): string {
    return vn.spec.hostname ?? hostnameForRequest(vn.spec.nodeGroupName, uid);
  }

  // ---- UserData -------------------------------------------------------------------------

  /** The labels and taints the join configuration gives the node (undefined for an operator's whole cloud-config). */
  let lastJoinRecord: { labels: string[]; taints: string[] } | undefined;

  async function userData(vn: VPSieNode, ng: NodeGroup | undefined, reads?: CallReads): Promise<string> {
    lastJoinRecord = undefined;
    const own = vn.spec.join.userDataSecretRef ?? ng?.spec.join?.userDataSecretRef;
    // Without a reference of its own, a group joins with the orchestrator's default Secret.
    const [defaultNamespace, defaultName] = deps.config.JOIN_BOOTSTRAP_SECRET.split('/') as [string, string];
    const ref = own ?? { name: defaultName, key: 'user-data' };
    const namespace = own ? (vn.metadata.namespace ?? 'default') : defaultNamespace;
    let secret: k8s.V1Secret;
    try {
      secret = await once(reads?.secrets, `${namespace}/${ref.name}`, () => api.core.readNamespacedSecret({ name: ref.name, namespace }));
    } catch (e) {
      if (apiStatus(e) === 404) throw invalid(`user data Secret ${namespace}/${ref.name} does not exist`);
      throw e;
    }
    const b64 = secret.data?.[ref.key];
    if (b64 === undefined) throw invalid(`user data Secret ${namespace}/${ref.name} has no key ${ref.key}`);
    const text = Buffer.from(b64, 'base64').toString('utf8');
    // A whole cloud-config is used as it is (the operator owns how that machine joins).
    if (text.trimStart().startsWith('#cloud-config')) return Buffer.from(text, 'utf8').toString('base64');
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch {
      throw invalid(`user data Secret ${namespace}/${ref.name}/${ref.key} is neither #cloud-config nor JSON/YAML`);
    }
    const p = JoinTemplateSchema.safeParse(doc);
    if (!p.success)
      throw invalid(`user data Secret ${namespace}/${ref.name}/${ref.key}: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const apiServer = deps.config.JOIN_API_SERVER ?? p.data.apiServer;
    if (!apiServer) throw invalid('no API server to join: set JOIN_API_SERVER (or apiServer in the user data Secret)');
    const group = vn.spec.nodeGroupName;
    // The group's version, else the orchestrator's default (--kubernetes-version), else the kubelet the image brings.
    const kubernetesVersion = ng?.spec.kubernetesVersion ?? deps.config.KUBERNETES_VERSION;
    const nodeLabels = ng ? nodeLabelsFor(ng) : { [`${GROUP}/nodegroup`]: group };
    lastJoinRecord = { labels: Object.keys(nodeLabels).sort(), taints: (ng?.spec.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort() };
    try {
      return renderBootstrapUserData({
        apiServer,
        bootstrapToken: p.data.bootstrapToken,
        ...(p.data.caCertHashes ? { caCertHashes: p.data.caCertHashes } : {}),
        ...(p.data.caCertificate ? { caCertificate: p.data.caCertificate } : {}),
        ...(p.data.kubeletExtraArgs ? { kubeletExtraArgs: p.data.kubeletExtraArgs } : {}),
        nodeGroup: group,
        ...(kubernetesVersion !== undefined ? { kubernetesVersion } : {}),
        nodeLabels,
        taints: (ng?.spec.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
      });
    } catch (e) {
      throw invalid(`bootstrap user data: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Writes the create-sent mark only if the object has not changed since it was read (a
   * resourceVersion precondition): of two callers that both saw no recent create — the lifecycle
   * and the early create of its NodeGroup — exactly one may send it. 'wait' when a create was sent
   * within the settle window (by anyone).
   */
  async function markCreateSent(ref: ObjectRef, read: VPSieNode): Promise<{ decision: 'create' | 'wait'; at?: string }> {
    let cur = read;
    for (let attempt = 0; attempt < 5; attempt++) {
      const sent = cur.metadata.annotations?.[CREATE_SENT_ANNOTATION];
      if (createSettleDecision(sent, Date.now(), deps.config.CREATE_SETTLE_SECONDS * 1000) === 'wait') return { decision: 'wait' };
      const at = new Date().toISOString();
      try {
        await mergePatchVPSieNode(api, ref, { metadata: { resourceVersion: cur.metadata.resourceVersion, annotations: { [CREATE_SENT_ANNOTATION]: at } } });
        return { decision: 'create', at };
      } catch (e) {
        if (apiStatus(e) !== 409) throw e;
      }
      const again = await readVPSieNode(api, ref);
      if (!again) throw ApplicationFailure.nonRetryable(`VPSieNode ${ref.namespace}/${ref.name} does not exist`, 'VPSieNodeGone');
      cur = again;
    }
    return { decision: 'wait' };
  }

  /** Takes back our create-sent mark after a create VPSie certainly did not perform (so a retry need not wait out the settle window). */
  async function clearCreateSent(ref: ObjectRef, at: string): Promise<void> {
    const cur = await readVPSieNode(api, ref);
    if (!cur || cur.metadata.annotations?.[CREATE_SENT_ANNOTATION] !== at) return;
    await mergePatchVPSieNode(api, ref, { metadata: { resourceVersion: cur.metadata.resourceVersion, annotations: { [CREATE_SENT_ANNOTATION]: null } } }).catch(
      (e: unknown) => log.warn('could not take back the create-sent mark (it expires with the settle window)', { vpsieNode: ref.name, error: String(e) }),
    );
  }

  async function ensureUserDataVm(
    input: MachineInput,
    vn: VPSieNode,
    ng: NodeGroup | undefined,
    uid: string,
    c: VPSieClient = client(),
    knownAbsent = false,
    reads?: CallReads,
  ): Promise<MachineStatus> {
    const hostname = hostnameOf(vn, uid);
    // Fast path: the machine is known.
    if (vn.spec.vpsieIdentifier) {
      const found = await c.lookupVmShared(vn.spec.vpsieIdentifier, { maxAgeMs: LISTING_TICK_MS });
      const vm = found.state === 'found' ? found.vm : undefined;
      if (!vm) throw ApplicationFailure.nonRetryable(`VM ${vn.spec.vpsieIdentifier} of ${input.vpsieNode.name} no longer exists`, 'VPSNotFound');
      return statusFromVm(vm, 'UserData', false, 'known machine');
    }
    if (vn.spec.hostname === undefined) vn = await setSpecOnce(api, input.vpsieNode, { hostname });
    const ud = await userData(vn, ng, reads);
    const joinRecord = lastJoinRecord;
    const clusterId = await clusterIdentity(deps);
    const sentAt = Date.parse(vn.metadata.annotations?.[CREATE_SENT_ANNOTATION] ?? '');
    let mark: string | undefined;
    let r: Awaited<ReturnType<VPSieClient['ensureVm']>>;
    try {
      r = await c.ensureVm({
        // The look before a create reads the shared listing, never one older than this node's last create.
        shared: { maxAgeMs: LISTING_TICK_MS, ...(Number.isFinite(sentAt) ? { notOlderThan: sentAt } : {}) },
        knownAbsent,
        requestId: uid,
        hostname,
        plan: vn.spec.offeringID,
        datacenter: vn.spec.datacenterID,
        osImage: vn.spec.osImageID ?? ng?.spec.osImageID ?? deps.config.DEFAULT_OS_IMAGE,
        userData: ud,
        // The cluster identity makes the machine collectable by this cluster's GC only (#12).
        tags: ['vpsie-autoscaler', vn.spec.nodeGroupName, clusterTag(clusterId)],
        notes: `vpsienode=${input.vpsieNode.namespace}/${input.vpsieNode.name} ${clusterNote(clusterId)}`,
        // Recorded durably before the POST, by one caller only; within the settle window nothing is sent again (#12).
        beforeCreate: async () => {
          const m = await markCreateSent(input.vpsieNode, vn);
          mark = m.at;
          return m.decision;
        },
      });
    } catch (e) {
      // VPSie refused or never received it: take the mark back, so the next attempt need not wait out the settle window.
      if (mark !== undefined && createNotSent(e)) await clearCreateSent(input.vpsieNode, mark);
      throw e;
    }
    if (r.state === 'pending' && r.settling)
      return {
        state: 'requested',
        joinMethod: 'UserData',
        hostname,
        created: false,
        detail: 'VM create sent; waiting for VPSie to show it before sending another',
      };
    if (r.created) metrics.nodesCreated.inc({ nodegroup: nodeGroupLabel(input.vpsieNode.namespace, input.nodeGroup) });
    // What the machine joins with, once: the NodeGroup's later label/taint changes replace exactly these (activities/nodes/node-config.ts).
    if (r.created && joinRecord && vn.metadata.annotations?.[JOIN_NODE_CONFIG_ANNOTATION] === undefined)
      await mergePatchVPSieNode(api, input.vpsieNode, { metadata: { annotations: { [JOIN_NODE_CONFIG_ANNOTATION]: JSON.stringify(joinRecord) } } }).catch(
        (e: unknown) => log.warn('could not record the join labels/taints on the VPSieNode', { vpsieNode: input.vpsieNode.name, error: String(e) }),
      );
    if (r.state === 'pending')
      return {
        state: r.pending ? 'pending' : 'requested',
        joinMethod: 'UserData',
        hostname,
        created: r.created,
        detail: r.created ? 'VM requested' : 'VM pending',
      };
    await setSpecOnce(api, input.vpsieNode, { vpsieIdentifier: r.vm.identifier, vpsID: r.vm.id });
    return statusFromVm(r.vm, 'UserData', r.created, r.created ? 'VM created' : 'VM found by request id');
  }

  async function deleteUserDataVm(vn: VPSieNode, uid: string): Promise<DeleteMachineResult> {
    const hostname = hostnameOf(vn, uid);
    let identifier = vn.spec.vpsieIdentifier;
    if (!identifier) {
      // The pending queue first, then the list (a machine only moves from the queue to the list:
      // the other order misses one listed between the two reads, and reports "no VM").
      const pending = await client().findPendingVm({ hostname, processId: processIdForRequest(uid) });
      const vm = await client().findVm({ requestId: uid, hostname });
      if (vm) identifier = vm.identifier;
      else {
        // A pending VM cannot be deleted yet; the retry deletes it once it is listed.
        if (pending) throw ApplicationFailure.retryable(`VM ${hostname} is still pending; delete once listed`, 'MachinePending');
        // A create sent within the settle window may still appear: keep the finalizer until it has passed.
        const sent = vn.metadata.annotations?.[CREATE_SENT_ANNOTATION];
        if (createSettleDecision(sent, Date.now(), deps.config.CREATE_SETTLE_SECONDS * 1000) === 'wait')
          throw ApplicationFailure.retryable(`a VM create for ${hostname} was sent at ${sent} and may still appear; delete once settled`, 'MachinePending');
        return { deleted: false, detail: 'no VM exists for this VPSieNode' };
      }
    }
    const deleted = await client().deleteVm(identifier, 'vpsienode-deleted');
    return { deleted, vpsieIdentifier: identifier, detail: deleted ? `VM ${identifier} deleted` : `VM ${identifier} was already gone` };
  }

  // ---- ManagedKubernetes ----------------------------------------------------------------

  function clusterOf(vn: VPSieNode, ng: NodeGroup | undefined): string {
    const c = vn.spec.join.clusterIdentifier ?? ng?.spec.join?.clusterIdentifier ?? deps.config.VPSIE_CLUSTER_IDENTIFIER;
    if (!c) throw invalid('join method ManagedKubernetes needs spec.join.clusterIdentifier or VPSIE_CLUSTER_IDENTIFIER');
    return c;
  }

  async function resolveGroup(cluster: string, vn: VPSieNode, ng: NodeGroup | undefined): Promise<VPSieGroup> {
    const ref = vn.spec.join.groupIdentifier ?? ng?.spec.join?.groupIdentifier ?? ng?.status?.vpsieGroupID;
    const groups = await client().listNodeGroups(cluster);
    if (ref) {
      const g = groups.find((x) => String(x.id) === ref || x.identifier === ref || x.group_name === ref);
      if (!g) throw ApplicationFailure.nonRetryable(`no VPSie node group '${ref}' in cluster ${cluster}`, 'VPSCreateFailed');
      return g;
    }
    // "found or created per offering": a group of this size, else a new one.
    const kubeSizeId = await client().resolveKubeSizeId(vn.spec.offeringID, vn.spec.datacenterID);
    const same = groups.find((g) => g.boxsize_id === kubeSizeId);
    if (same) return same;
    return client().ensureNodeGroup({ clusterIdentifier: cluster, groupName: `${vn.spec.nodeGroupName}-${vn.spec.offeringID}`.slice(0, 63), kubeSizeId });
  }

  async function listClaims(namespace: string, groupId: number): Promise<{ identifier: string; holder: string; lease: k8s.V1Lease }[]> {
    const list = await api.coordination.listNamespacedLease({ namespace, labelSelector: `${WORKER_CLAIM_LABEL}=${groupId}` });
    return list.items.flatMap((l) => {
      const identifier = l.metadata?.annotations?.[WORKER_IDENTIFIER_ANNOTATION];
      const holder = l.spec?.holderIdentity;
      return identifier && holder ? [{ identifier, holder, lease: l }] : [];
    });
  }

  /** Claims `worker` for the VPSieNode; false when another VPSieNode holds it. */
  async function claim(vn: VPSieNode, uid: string, groupId: number, cluster: string, worker: K8sNode): Promise<boolean> {
    const namespace = vn.metadata.namespace ?? 'default';
    const name = workerClaimLeaseName(worker.identifier!);
    try {
      await api.coordination.createNamespacedLease({
        namespace,
        body: {
          metadata: {
            name,
            namespace,
            labels: { [WORKER_CLAIM_LABEL]: String(groupId) },
            annotations: { [WORKER_IDENTIFIER_ANNOTATION]: worker.identifier!, [`${GROUP}/cluster`]: cluster, [`${GROUP}/vpsienode`]: vn.metadata.name },
            ownerReferences: [{ apiVersion: API_VERSION, kind: VPSIENODE_KIND, name: vn.metadata.name, uid }],
          },
          spec: { holderIdentity: uid },
        },
      });
      return true;
    } catch (e) {
      if (apiStatus(e) !== 409) throw e;
      const l = await api.coordination.readNamespacedLease({ name, namespace });
      return l.spec?.holderIdentity === uid;
    }
  }

  /**
   * Runs `fn` holding the group's lock (a Lease with an expiry annotation). Waits up to ~10 s for
   * a busy lock, then fails retryably (the activity retry tries again).
   */
  async function withGroupLock<T>(namespace: string, groupId: number, holder: string, fn: () => Promise<T>): Promise<T> {
    const name = leaseName('vpsie-group', String(groupId));
    const body = (rv?: string): k8s.V1Lease => ({
      metadata: {
        name,
        namespace,
        ...(rv ? { resourceVersion: rv } : {}),
        annotations: { [LOCK_EXPIRES_ANNOTATION]: String(Date.now() + LOCK_SECONDS * 1000) },
      },
      spec: { holderIdentity: holder },
    });
    const tryAcquire = async (): Promise<string | undefined> => {
      try {
        await api.coordination.createNamespacedLease({ namespace, body: body() });
        return undefined;
      } catch (e) {
        if (apiStatus(e) !== 409) throw e;
      }
      const cur = await api.coordination.readNamespacedLease({ name, namespace });
      const expires = Number(cur.metadata?.annotations?.[LOCK_EXPIRES_ANNOTATION] ?? 0);
      if (cur.spec?.holderIdentity !== holder && expires > Date.now()) return cur.spec?.holderIdentity ?? '?';
      try {
        await api.coordination.replaceNamespacedLease({ name, namespace, body: body(cur.metadata?.resourceVersion) });
        return undefined;
      } catch (e) {
        if (apiStatus(e) === 409) return 'a concurrent claimer';
        throw e;
      }
    };
    for (let i = 0; ; i++) {
      const busyWith = await tryAcquire();
      if (busyWith === undefined) break;
      if (i >= 20) throw ApplicationFailure.retryable(`VPSie group ${groupId} is locked by ${busyWith}`, 'GroupLockBusy');
      await new Promise((r) => setTimeout(r, 500));
    }
    try {
      return await fn();
    } finally {
      try {
        const cur = await api.coordination.readNamespacedLease({ name, namespace });
        if (cur.spec?.holderIdentity === holder)
          await api.coordination.deleteNamespacedLease({ name, namespace, body: { preconditions: { resourceVersion: cur.metadata?.resourceVersion } } });
      } catch (e) {
        log.warn('could not release the group lock (it expires)', { lock: name, error: String(e) });
      }
    }
  }

  async function workerStatus(cluster: string, identifier: string, created: boolean, detail: string): Promise<MachineStatus> {
    const found = await client().lookupVmShared(identifier, { maxAgeMs: LISTING_TICK_MS });
    const vm = found.state === 'found' ? found.vm : undefined;
    if (vm) return statusFromVm(vm, 'ManagedKubernetes', created, detail);
    const node = await client().findClusterNode(cluster, { identifier });
    if (!node) throw ApplicationFailure.nonRetryable(`worker ${identifier} no longer exists in cluster ${cluster}`, 'VPSNotFound');
    return { state: 'booting', joinMethod: 'ManagedKubernetes', vpsieIdentifier: identifier, hostname: node.hostname, created, detail };
  }

  async function recordClaim(ref: ObjectRef, worker: { identifier: string; hostname?: string }): Promise<void> {
    const hostname = worker.hostname && DNS_SUBDOMAIN_PATTERN.test(worker.hostname) && worker.hostname.length <= 253 ? worker.hostname : undefined;
    await setSpecOnce(api, ref, { vpsieIdentifier: worker.identifier, ...(hostname ? { hostname } : {}) });
  }

  async function ensureWorker(input: MachineInput, vn: VPSieNode, ng: NodeGroup | undefined, uid: string): Promise<MachineStatus> {
    const cluster = clusterOf(vn, ng);
    // The worker's VPS id, once VPSie lists its VM, goes to spec.vpsID (NodeGroup status.nodeList shows it, document 001).
    const withVpsID = async (st: MachineStatus): Promise<MachineStatus> => {
      if (st.vpsID !== undefined && vn.spec.vpsID === undefined)
        await setSpecOnce(api, input.vpsieNode, { vpsID: st.vpsID }).catch((e: unknown) =>
          log.warn('could not record the worker VPS id on the VPSieNode', { vpsieNode: input.vpsieNode.name, error: String(e) }),
        );
      return st;
    };
    if (vn.spec.vpsieIdentifier) return withVpsID(await workerStatus(cluster, vn.spec.vpsieIdentifier, false, 'claimed worker'));
    const group = await resolveGroup(cluster, vn, ng);
    const namespace = input.vpsieNode.namespace;
    const mine = (await listClaims(namespace, group.id)).find((c) => c.holder === uid);
    if (mine) {
      const node = await client().findClusterNode(cluster, { identifier: mine.identifier });
      await recordClaim(input.vpsieNode, { identifier: mine.identifier, ...(node ? { hostname: node.hostname } : {}) });
      return withVpsID(await workerStatus(cluster, mine.identifier, false, 'worker claimed earlier'));
    }
    if (vn.metadata.annotations?.[WORKER_INTENT_ANNOTATION] !== String(group.id))
      await mergePatchVPSieNode(api, input.vpsieNode, { metadata: { annotations: { [WORKER_INTENT_ANNOTATION]: String(group.id) } } });

    const outcome = await withGroupLock(namespace, group.id, uid, async (): Promise<{ claimed?: K8sNode; added: number; waiting: number }> => {
      const claims = await listClaims(namespace, group.id);
      const claimed = new Set(claims.map((c) => c.identifier));
      const workers = await client().listClusterWorkers(cluster, group.id);
      const free = workers.filter((w) => w.identifier && !claimed.has(w.identifier)).sort((a, b) => a.id - b.id);
      for (const w of free) if (await claim(vn, uid, group.id, cluster, w)) return { claimed: w, added: 0, waiting: 0 };
      // Nothing to claim: make sure enough workers are on their way for every unclaimed intent.
      const g = (await client().listNodeGroups(cluster)).find((x) => x.id === group.id);
      if (!g) throw ApplicationFailure.nonRetryable(`VPSie node group ${group.id} disappeared`, 'VPSCreateFailed');
      const pendingWorkers = Math.max(0, g.nodes_count - workers.length);
      const holders = new Set(claims.map((c) => c.holder));
      const list = (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: VPSIENODE_PLURAL })) as {
        items: unknown[];
      };
      const waiting = list.items
        .map((o) => safeParseVPSieNode(o))
        .filter((r): r is { ok: true; value: VPSieNode } => r.ok)
        .map((r) => r.value)
        .filter(
          (o) =>
            o.metadata.annotations?.[WORKER_INTENT_ANNOTATION] === String(group.id) &&
            o.spec.vpsieIdentifier === undefined &&
            o.metadata.deletionTimestamp === undefined &&
            !holders.has(o.metadata.uid ?? ''),
        ).length;
      const toAdd = Math.max(0, Math.max(1, waiting) - pendingWorkers);
      let added = 0;
      for (; added < toAdd; added++) {
        try {
          await client().addGroupWorker(cluster, group.id);
        } catch (e) {
          if (isVPSieError(e) && e.ambiguous)
            throw ApplicationFailure.retryable(`add worker got no answer (${e.type}); the next attempt recounts`, 'VpsieError.not_settled');
          throw e;
        }
      }
      if (added > 0) metrics.nodesCreated.inc({ nodegroup: nodeGroupLabel(input.vpsieNode.namespace, input.nodeGroup) }, added);
      return { added, waiting };
    });
    if (outcome.claimed) {
      await recordClaim(input.vpsieNode, { identifier: outcome.claimed.identifier!, hostname: outcome.claimed.hostname });
      return withVpsID(await workerStatus(cluster, outcome.claimed.identifier!, false, `claimed worker ${outcome.claimed.hostname}`));
    }
    return {
      state: 'requested',
      joinMethod: 'ManagedKubernetes',
      created: outcome.added > 0,
      detail: `${outcome.added} worker(s) added to VPSie group ${group.id}; ${outcome.waiting} VPSieNode(s) waiting for a worker`,
    };
  }

  async function deleteWorker(input: MachineInput, vn: VPSieNode, ng: NodeGroup | undefined, uid: string): Promise<DeleteMachineResult> {
    const cluster = clusterOf(vn, ng);
    let identifier = vn.spec.vpsieIdentifier;
    let claims: Awaited<ReturnType<typeof listClaims>> = [];
    if (!identifier) {
      const list = await api.coordination.listNamespacedLease({ namespace: input.vpsieNode.namespace, labelSelector: WORKER_CLAIM_LABEL });
      claims = list.items.flatMap((l) => {
        const id = l.metadata?.annotations?.[WORKER_IDENTIFIER_ANNOTATION];
        return id && l.spec?.holderIdentity === uid ? [{ identifier: id, holder: uid, lease: l }] : [];
      });
      identifier = claims[0]?.identifier;
    }
    if (!identifier) {
      // No worker was claimed: a worker added for this intent stays as a spare the next VPSieNode claims.
      if (vn.metadata.annotations?.[WORKER_INTENT_ANNOTATION] !== undefined)
        await mergePatchVPSieNode(api, input.vpsieNode, { metadata: { annotations: { [WORKER_INTENT_ANNOTATION]: null } } }).catch(() => undefined);
      return { deleted: false, detail: 'no worker was claimed by this VPSieNode' };
    }
    const deleted = await client().deleteGroupWorker(cluster, identifier);
    await api.coordination
      .deleteNamespacedLease({ name: workerClaimLeaseName(identifier), namespace: input.vpsieNode.namespace })
      .catch((e: unknown) => (apiStatus(e) === 404 ? undefined : Promise.reject(e)));
    return { deleted, vpsieIdentifier: identifier, detail: deleted ? `worker ${identifier} deleted` : `worker ${identifier} was already gone` };
  }

  return {
    /**
     * Creates the VPSieNode's machine unless it exists, and reports its state. Safe to call
     * repeatedly (the workflow polls with it until the machine runs).
     */
    async ensureMachine(input: MachineInput): Promise<MachineStatus> {
      try {
        return await withHeartbeat(async () => {
          const { vn, ng, uid } = await context(input.vpsieNode, input.nodeGroup);
          return vn.spec.join.method === 'UserData' ? await ensureUserDataVm(input, vn, ng, uid) : await ensureWorker(input, vn, ng, uid);
        });
      } catch (e) {
        throw vpsieFailure(e);
      }
    },

    /**
     * Sends the VM creates of VPSieNodes just created, ahead of their lifecycles (#13: the
     * lifecycle's start — settings, observe, two recorded transitions — no longer stands between a
     * scale-up decision and VPSie's create). The same idempotent path as `ensureMachine` (request
     * id = uid, the create-sent mark written with a resourceVersion precondition so the lifecycle
     * and this never both send; no look first for a VPSieNode made in the last 5 minutes that
     * carries no mark, as no create was ever sent for it), best effort within `budgetMs` (default 1.5 s): a
     * rate-limit wait that does not fit fails at once and leaves that machine to its lifecycle, as
     * does every error. UserData joins only (a ManagedKubernetes worker is claimed under the
     * group's lock by its lifecycle).
     */
    async createMachinesEarly(input: EarlyCreateInput): Promise<EarlyCreateResult> {
      let signal: AbortSignal | undefined;
      try {
        signal = Context.current().cancellationSignal;
      } catch {
        signal = undefined;
      }
      const view = deps.vpsie.withSignal(signal, Date.now() + (input.budgetMs ?? 1_500));
      const sent: string[] = [];
      const skipped: { name: string; why: string }[] = [];
      const queue = [...input.vpsieNodes];
      const reads: CallReads = { nodeGroups: new Map(), secrets: new Map() };
      const worker = async (): Promise<void> => {
        for (let ref = queue.shift(); ref; ref = queue.shift()) {
          try {
            const { vn, ng, uid } = await context(ref, input.nodeGroup, reads);
            if (vn.spec.join.method !== 'UserData') skipped.push({ name: ref.name, why: 'ManagedKubernetes: claimed by its lifecycle' });
            else if (vn.metadata.deletionTimestamp !== undefined) skipped.push({ name: ref.name, why: 'being deleted' });
            else if (vn.spec.vpsieIdentifier !== undefined || vn.metadata.annotations?.[CREATE_SENT_ANNOTATION] !== undefined)
              skipped.push({ name: ref.name, why: 'a create was already sent' });
            else {
              // Just made and never marked: no create was ever sent for it, so nothing to look for first.
              const created = Date.parse(String(vn.metadata.creationTimestamp ?? ''));
              const young = Number.isFinite(created) && Date.now() - created < 5 * 60_000;
              const m = await ensureUserDataVm({ vpsieNode: ref, nodeGroup: input.nodeGroup }, vn, ng, uid, view, young, reads);
              if (m.created) sent.push(ref.name);
              else skipped.push({ name: ref.name, why: m.detail });
            }
          } catch (e) {
            skipped.push({ name: ref.name, why: e instanceof Error ? e.message.slice(0, 200) : String(e) });
          }
        }
      };
      await withHeartbeat(() => Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker)));
      log.info('early VM creates', {
        nodegroup: input.nodeGroup,
        sent: sent.length,
        skipped: skipped.length,
        ...(skipped.length > 0 ? { firstSkip: skipped[0] } : {}),
      });
      return { sent, skipped };
    },

    /** Deletes the VPSieNode's machine (VM or claimed worker). Absent is success. */
    async deleteMachine(input: MachineInput): Promise<DeleteMachineResult> {
      try {
        return await withHeartbeat(async () => {
          const vn = await readVPSieNode(api, input.vpsieNode);
          if (!vn) return { deleted: false, detail: 'VPSieNode is gone' };
          const uid = vn.metadata.uid ?? '';
          const ng = await readNodeGroup(api, { namespace: input.vpsieNode.namespace, name: input.nodeGroup });
          return vn.spec.join.method === 'UserData' ? await deleteUserDataVm(vn, uid) : await deleteWorker(input, vn, ng, uid);
        });
      } catch (e) {
        throw vpsieFailure(e);
      }
    },
  };
}

export type VPSieMachineActivities = ReturnType<typeof createVPSieMachineActivities>;
export type { KubeApis };
