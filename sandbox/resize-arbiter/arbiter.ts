/**
 * The resize arbiter: the part of a kubelet that kwok does not fake — the admission of in-place
 * resizes (pods/resize). A kwok Stage sees only the pod it acts on, never the Node or the other
 * pods, so it cannot tell whether a resize fits; this sandbox component decides it, and the kwok
 * stage sandbox/kwok/stages/pod-resize.yaml actuates what it admitted:
 *
 *   - it watches Nodes and the bound pods (an informer each, restarted when a watch ends with an
 *     error: lib/kube/watch-cache.ts), and looks at the pods of kwok-managed nodes (annotated
 *     `kwok.x-k8s.io/node=fake`) that are Running, not being deleted, and whose spec generation
 *     is past the one their status observed (`status.observedGeneration`): a resize to decide;
 *   - it decides as the kubelet (fit.ts): above the node's allocatable → `PodResizePending`
 *     (reason Infeasible); above what the node's other active pods leave free → `PodResizePending`
 *     (reason Deferred), looked at again whenever a pod or the Node changes (a pod deleted,
 *     finished, resized down) and every `resyncMs`; else admitted → `PodResizeInProgress` for the
 *     pod's generation, with `PodResizePending` removed. The conditions are written through the
 *     `pods/status` subresource as a strategic merge patch (conditions merge by type, so kwok's
 *     Ready conditions are untouched), with the pod's resourceVersion as a precondition so a
 *     decision is never written over a newer resize; the kubelet's Events (ResizeInfeasible,
 *     ResizeDeferred, ResizeStarted) go with them;
 *   - the pod-resize stage then actuates the admitted resize (status resources, observedGeneration)
 *     and removes `PodResizeInProgress`.
 *
 * The resizes of one node are decided in turn (higher priority first), each counting those
 * admitted before it at their new size, so two resizes are never both admitted into the same free
 * room. What it wrote is read back at once (the patch's answer), not only when the watch brings it.
 */
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { apiStatus } from '../../lib/kube/api';
import { WatchCache } from '../../lib/kube/watch-cache';
import { logger, type Logger } from '../../lib/log';
import { add, admitted, amounts, decideResize, podRequests, ZERO, type ResizeVerdict } from './fit';

export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

const Quantities = z.record(z.string(), z.string()).nullish();
const Requirements = z.object({ requests: Quantities, limits: Quantities }).nullish();
const Container = z.object({ name: z.string(), restartPolicy: z.string().nullish(), resources: Requirements });
const ContainerStatus = z.object({ name: z.string(), allocatedResources: Quantities, resources: Requirements });
const Condition = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().nullish(),
  message: z.string().nullish(),
  observedGeneration: z.number().nullish(),
});
/** What the arbiter reads of a Pod (timestamps stay opaque: a list answers Dates, a watch strings). */
const PodSchema = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    resourceVersion: z.string().optional(),
    generation: z.number().nullish(),
    deletionTimestamp: z.unknown().optional(),
  }),
  spec: z.object({
    nodeName: z.string().nullish(),
    priority: z.number().nullish(),
    containers: z.array(Container),
    initContainers: z.array(Container).nullish(),
    overhead: Quantities,
    resources: z.object({ requests: Quantities }).nullish(),
  }),
  status: z
    .object({
      phase: z.string().nullish(),
      observedGeneration: z.number().nullish(),
      conditions: z.array(Condition).nullish(),
      containerStatuses: z.array(ContainerStatus).nullish(),
      initContainerStatuses: z.array(ContainerStatus).nullish(),
    })
    .nullish(),
});
type Pod = z.infer<typeof PodSchema>;

const NodeSchema = z.object({
  metadata: z.object({ name: z.string(), annotations: z.record(z.string(), z.string()).nullish() }),
  status: z.object({ allocatable: Quantities }).nullish(),
});

const generation = (p: Pod): number => p.metadata.generation ?? 1;
const terminal = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** A running pod with a resize (a spec generation its status has not observed) not yet admitted. */
export function awaitsDecision(p: Pod): boolean {
  return p.status?.phase === 'Running' && p.metadata.deletionTimestamp == null && generation(p) > (p.status.observedGeneration ?? 1) && !admitted(p);
}

const pending = (p: Pod) => p.status?.conditions?.find((c) => c.type === 'PodResizePending');
const inProgress = (p: Pod) => p.status?.conditions?.find((c) => c.type === 'PodResizeInProgress');

/** The conditions patch for a verdict, or undefined when the pod already shows it. */
export function conditionsPatch(p: Pod, verdict: ResizeVerdict, now: Date): Record<string, unknown>[] | undefined {
  const gen = generation(p);
  const at = now.toISOString();
  if (verdict.fits)
    return [
      { type: 'PodResizeInProgress', status: 'True', observedGeneration: gen, lastTransitionTime: at },
      { type: 'PodResizePending', $patch: 'delete' },
    ];
  const old = pending(p);
  const same = old?.status === 'True' && old.reason === verdict.reason && old.message === verdict.message && old.observedGeneration === gen;
  if (same && inProgress(p) === undefined) return undefined;
  return [
    { type: 'PodResizePending', status: 'True', reason: verdict.reason, message: verdict.message, observedGeneration: gen, lastTransitionTime: at },
    // An older resize admitted but not actuated is overtaken: the pod's spec no longer asks for it.
    { type: 'PodResizeInProgress', $patch: 'delete' },
  ];
}

export interface ResizeArbiterOptions {
  /** Every pending resize is looked at again this often (ms), besides on every change. */
  resyncMs?: number;
  log?: Logger;
}

export class ResizeArbiter {
  private readonly core: k8s.CoreV1Api;
  private readonly pods: WatchCache<k8s.V1Pod>;
  private readonly nodes: WatchCache<k8s.V1Node>;
  private readonly log: Logger;
  /** Pod keys (namespace/name) by node name. */
  private readonly byNode = new Map<string, Set<string>>();
  /** What this arbiter wrote, by uid, until the watch brings that version (or a newer one). */
  private readonly written = new Map<string, k8s.V1Pod>();
  private readonly dirty = new Set<string>();
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    kc: k8s.KubeConfig,
    private readonly opts: ResizeArbiterOptions = {},
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.log = opts.log ?? logger('resize-arbiter');
    const trim = (o: k8s.KubernetesObject): void => {
      if (o.metadata) delete o.metadata.managedFields;
    };
    this.pods = new WatchCache<k8s.V1Pod>(kc, {
      what: 'Pod',
      path: '/api/v1/pods',
      fieldSelector: 'spec.nodeName!=',
      list: () => this.core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName!=' }),
      trim,
    });
    this.nodes = new WatchCache<k8s.V1Node>(kc, {
      what: 'Node',
      path: '/api/v1/nodes',
      list: () => this.core.listNode(),
      trim: (n) => {
        trim(n);
        if (n.status) delete n.status.images;
      },
    });
    this.pods.onChange((p, kind) => this.onPod(p, kind));
    this.nodes.onChange((n) => {
      if (n.metadata?.name) this.mark(n.metadata.name);
    });
  }

  /** Starts both informers; resolves once both have listed (`synced`). */
  async start(): Promise<void> {
    await Promise.all([this.nodes.start(), this.pods.start()]);
    this.timer = setInterval(() => {
      for (const node of this.byNode.keys()) this.mark(node);
    }, this.opts.resyncMs ?? 5_000);
    this.timer.unref();
    for (const node of this.byNode.keys()) this.mark(node);
  }

  /** Both informers have their first list (a failed first list is retried by keepWatching). */
  synced(): boolean {
    return this.pods.list() !== undefined && this.nodes.list() !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([this.pods.stop(), this.nodes.stop()]);
    await this.draining;
  }

  private onPod(p: k8s.V1Pod, kind: 'add' | 'update' | 'delete'): void {
    const node = p.spec?.nodeName;
    const key = `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;
    const uid = p.metadata?.uid;
    if (uid !== undefined) {
      const mine = this.written.get(uid);
      if (kind === 'delete' || (mine && !newer(mine, p))) this.written.delete(uid);
    }
    if (!node) return;
    let keys = this.byNode.get(node);
    if (kind === 'delete') {
      keys?.delete(key);
      if (keys?.size === 0) this.byNode.delete(node);
    } else {
      if (!keys) this.byNode.set(node, (keys = new Set()));
      keys.add(key);
    }
    this.mark(node);
  }

  private mark(node: string): void {
    if (this.stopped) return;
    this.dirty.add(node);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.dirty.size > 0) {
      const [node] = this.dirty;
      if (node === undefined) break;
      this.dirty.delete(node);
      try {
        await this.decideNode(node);
      } catch (err) {
        this.log.warn('could not decide the resizes of a node', { node, error: String(err) });
      }
    }
  }

  /** The newest known form of a cached pod: what this arbiter wrote, when the watch is behind it. */
  private current(p: k8s.V1Pod): k8s.V1Pod {
    const mine = p.metadata?.uid ? this.written.get(p.metadata.uid) : undefined;
    return mine && newer(mine, p) ? mine : p;
  }

  private async decideNode(nodeName: string): Promise<void> {
    const keys = this.byNode.get(nodeName);
    if (!keys || keys.size === 0) return;
    const raw: k8s.V1Pod[] = [];
    for (const key of keys) {
      const [namespace, name] = key.split('/');
      const p = name === undefined ? undefined : this.pods.get(name, namespace);
      if (p) raw.push(this.current(p));
    }
    const pods: Pod[] = [];
    for (const r of raw) {
      const parsed = PodSchema.safeParse(r);
      if (parsed.success) pods.push(parsed.data);
      else this.log.warn('a pod the arbiter cannot read', { pod: `${r.metadata?.namespace}/${r.metadata?.name}`, error: parsed.error.message });
    }
    const candidates = pods.filter(awaitsDecision);
    if (candidates.length === 0) return;
    const nodeRaw = this.nodes.get(nodeName);
    const node = nodeRaw === undefined ? undefined : NodeSchema.safeParse(nodeRaw);
    if (!node?.success || node.data.metadata.annotations?.[KWOK_NODE_ANNOTATION] !== 'fake') return;
    const allocatable = amounts(node.data.status?.allocatable);
    // Higher priority first, as the kubelet orders the pending resizes it retries.
    candidates.sort((a, b) => (b.spec.priority ?? 0) - (a.spec.priority ?? 0) || a.metadata.name.localeCompare(b.metadata.name));
    const active = pods.filter((p) => !terminal(p));
    for (const c of candidates) {
      if (this.stopped) return;
      const others = active.filter((p) => p.metadata.uid !== c.metadata.uid).reduce((sum, p) => add(sum, podRequests(p, 'allocated')), ZERO);
      const verdict = decideResize({ desired: podRequests(c, 'desired'), current: podRequests(c, 'allocated'), allocatable, others });
      const written = await this.write(c, nodeName, verdict);
      // Admitted: it holds its new size from now on for the next resize on this node.
      if (written) active.splice(active.indexOf(c), 1, written);
    }
  }

  /** Writes the verdict's conditions; answers the pod as written (parsed), undefined when nothing was. */
  private async write(p: Pod, nodeName: string, verdict: ResizeVerdict): Promise<Pod | undefined> {
    const conditions = conditionsPatch(p, verdict, new Date());
    if (conditions === undefined) return undefined;
    const { name, namespace } = p.metadata;
    let answer: k8s.V1Pod;
    try {
      answer = await this.core.patchNamespacedPodStatus(
        { name, namespace, body: { metadata: { resourceVersion: p.metadata.resourceVersion }, status: { conditions } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      );
    } catch (err) {
      const code = apiStatus(err);
      // 409: the pod changed meanwhile (its watch event brings it back here); 404: it is gone.
      if (code === 409 || code === 404) return undefined;
      throw err;
    }
    if (answer.metadata?.uid) this.written.set(answer.metadata.uid, answer);
    const gen = generation(p);
    const outcome = verdict.fits ? 'admitted' : verdict.reason;
    this.log.info('resize decided', {
      pod: `${namespace}/${name}`,
      node: nodeName,
      generation: gen,
      outcome,
      message: verdict.fits ? undefined : verdict.message,
    });
    // As the kubelet: an Event when the outcome or the generation changes, not for a new message.
    const old = pending(p);
    if (verdict.fits || old?.reason !== verdict.reason || old.observedGeneration !== gen) void this.event(p, nodeName, verdict);
    const parsed = PodSchema.safeParse(answer);
    return parsed.success ? parsed.data : undefined;
  }

  /** The kubelet's Event for the decision (best effort). */
  private async event(p: Pod, nodeName: string, verdict: ResizeVerdict): Promise<void> {
    const { name, namespace, uid } = p.metadata;
    const reason = verdict.fits ? 'ResizeStarted' : verdict.reason === 'Infeasible' ? 'ResizeInfeasible' : 'ResizeDeferred';
    const detail = JSON.stringify({ generation: generation(p), ...(verdict.fits ? {} : { error: verdict.message }) });
    const message = verdict.fits ? `Pod resize started: ${detail}` : `Pod resize ${verdict.reason}: ${detail}`;
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid },
          reason,
          message,
          type: verdict.fits ? 'Normal' : 'Warning',
          source: { component: 'kubelet', host: nodeName },
          reportingComponent: 'kubelet',
          reportingInstance: nodeName,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log.debug('could not record a resize Event', { pod: `${namespace}/${name}`, error: String(err) });
    }
  }
}

/**
 * Whether `a` is a later version of the object than `b`. resourceVersions are opaque to clients
 * in general; the sandbox's apiserver serves etcd revisions, which grow.
 */
function newer(a: k8s.KubernetesObject, b: k8s.KubernetesObject): boolean {
  const [x, y] = [a.metadata?.resourceVersion, b.metadata?.resourceVersion];
  if (x === undefined || y === undefined || !/^\d+$/.test(x) || !/^\d+$/.test(y)) return false;
  return BigInt(x) > BigInt(y);
}
