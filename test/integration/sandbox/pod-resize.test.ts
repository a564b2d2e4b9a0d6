/**
 * In-place resize (pods/resize) in the sandbox, as a kubelet answers it: the resize arbiter
 * (sandbox/resize-arbiter/) decides whether it fits the node and the kwok stage pod-resize
 * actuates what it admitted.
 *
 *   - a resize that fits is actuated: same pod, new requests in its container statuses, limits
 *     and restart count as they were, no PodResizePending left;
 *   - one above the node's allocatable is refused by the apiserver itself (v1.36's
 *     PodResizeValidator admission); one that is above it when decided (the node shrank after the
 *     resize was accepted) is PodResizePending/Infeasible and never actuated, until a resize back
 *     to what fits;
 *   - one within the allocatable but above what the node's other pods leave free is
 *     PodResizePending/Deferred, and actuated once another pod on the node is gone.
 *
 * Each case has a kwok node of its own (4 CPUs, 8 GiB), tainted so that no other test's pod lands
 * on it; the pods name it directly.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { apiStatus } from '../../../lib/kube/api';
import { createKwokNode, sharedSandbox, type TestSandbox } from '../../support/sandbox';
import { eventually as poll } from '../../support/eventually';

const STRATEGIC = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const TAINT = 'vpsie.test/pod-resize';

const eventually = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> => poll(what, fn, timeoutMs, 250);

const condition = (p: k8s.V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);
const app = (p: k8s.V1Pod) => p.status?.containerStatuses?.find((c) => c.name === 'app');

describe('sandbox: in-place pod resize fits the node, waits for room, or is infeasible (the resize arbiter)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let ns: string;
  const nodes: string[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    ns = await sb.namespace('resize');
  });

  after(async () => {
    for (const name of nodes) await sb?.core.deleteNode({ name }).catch(() => undefined);
  });

  async function node(): Promise<string> {
    const name = await createKwokNode(sb, 'resize-node', { cpu: '4', memory: '8Gi' });
    nodes.push(name);
    await sb.core.patchNode({ name, body: { spec: { taints: [{ key: TAINT, value: 'true', effect: 'NoSchedule' }] } } }, MERGE);
    return name;
  }

  /** A Burstable pod of one container `app` on `nodeName`, Running. */
  async function pod(name: string, nodeName: string, requests: { cpu: string; memory: string }, limits: { cpu: string; memory: string }): Promise<k8s.V1Pod> {
    await sb.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name, namespace: ns },
        spec: {
          nodeName,
          terminationGracePeriodSeconds: 0,
          tolerations: [{ key: TAINT, operator: 'Exists', effect: 'NoSchedule' }],
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests, limits } }],
        },
      },
    });
    return eventually(`pod ${name} Running`, async () => {
      const p = await read(name);
      return p.status?.phase === 'Running' && app(p)?.resources ? p : undefined;
    });
  }

  const read = (name: string) => sb.core.readNamespacedPod({ name, namespace: ns });

  function resize(name: string, resources: k8s.V1ResourceRequirements): Promise<k8s.V1Pod> {
    return sb.core.patchNamespacedPodResize({ name, namespace: ns, body: { spec: { containers: [{ name: 'app', resources }] } } }, STRATEGIC);
  }

  /** Waits for the resize of generation `gen` to be actuated (observed, no condition left). */
  function actuated(name: string, gen: number): Promise<k8s.V1Pod> {
    return eventually(`pod ${name}: generation ${gen} actuated`, async () => {
      const p = await read(name);
      const done = (p.status?.observedGeneration ?? 0) >= gen && !condition(p, 'PodResizePending') && !condition(p, 'PodResizeInProgress');
      return done ? p : undefined;
    });
  }

  function pendingOf(name: string, reason: 'Infeasible' | 'Deferred'): Promise<k8s.V1Pod> {
    return eventually(`pod ${name}: PodResizePending ${reason}`, async () => {
      const p = await read(name);
      const c = condition(p, 'PodResizePending');
      return c?.status === 'True' && c.reason === reason ? p : undefined;
    });
  }

  it('a resize that fits is actuated in place: same pod, new requests, limits and restart count kept, no pending condition', async () => {
    const n = await node();
    const before = await pod('fits', n, { cpu: '500m', memory: '256Mi' }, { cpu: '1', memory: '512Mi' });
    const resized = await resize('fits', { requests: { cpu: '750m', memory: '384Mi' } });
    const gen = resized.metadata?.generation ?? 0;
    expect(gen).to.be.greaterThan(before.metadata?.generation ?? 0);
    const p = await actuated('fits', gen);
    expect(p.metadata?.uid).to.equal(before.metadata?.uid);
    expect(p.status?.observedGeneration).to.equal(gen);
    const st = app(p);
    expect(st?.resources?.requests).to.deep.equal({ cpu: '750m', memory: '384Mi' });
    expect(st?.resources?.limits).to.deep.equal({ cpu: '1', memory: '512Mi' });
    expect(st?.allocatedResources).to.deep.equal({ cpu: '750m', memory: '384Mi' });
    expect(st?.restartCount).to.equal(0);
    expect(st?.state?.running?.startedAt).to.deep.equal(app(before)?.state?.running?.startedAt);
    expect(condition(p, 'Ready')?.status, "kwok's Ready condition is kept").to.equal('True');
    expect(p.status?.phase).to.equal('Running');
  });

  it('above the allocatable: refused by the apiserver; Infeasible when the node shrank under an accepted resize, never actuated, cleared by a resize back', async () => {
    const n = await node();
    const before = await pod('big', n, { cpu: '1', memory: '256Mi' }, { cpu: '2', memory: '512Mi' });
    await pod('filler', n, { cpu: '2500m', memory: '256Mi' }, { cpu: '2500m', memory: '512Mi' });

    // 64 CPUs on a 4-CPU node: the apiserver's PodResizeValidator (on by default in v1.36) says no.
    const refused = await resize('big', { requests: { cpu: '64' }, limits: { cpu: '64' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(apiStatus(refused), 'the oversized resize is refused').to.equal(403);
    expect(String((refused as { body?: unknown }).body)).to.match(/allocatable/);

    // 2 CPUs fit the node but not beside the filler (2.5 of 4): Deferred …
    const accepted = await resize('big', { requests: { cpu: '2' } });
    const deferred = await pendingOf('big', 'Deferred');
    expect(condition(deferred, 'PodResizePending')?.message).to.equal("Node didn't have enough resource: cpu, requested: 2000, used: 2500, capacity: 4000");
    // … and when the node's allocatable drops to 1.5 CPUs, above it: Infeasible.
    await sb.core.patchNodeStatus({ name: n, body: { status: { allocatable: { cpu: '1500m' } } } }, MERGE);
    const infeasible = await pendingOf('big', 'Infeasible');
    const pending = condition(infeasible, 'PodResizePending');
    expect(pending?.message).to.equal("Node didn't have enough capacity: cpu, requested: 2000, capacity: 1500");
    expect(pending?.observedGeneration).to.equal(accepted.metadata?.generation);
    // Never actuated: the status keeps the old size, the pod its old generation.
    await new Promise((r) => setTimeout(r, 2000));
    const still = await read('big');
    expect(app(still)?.resources?.requests).to.deep.equal({ cpu: '1', memory: '256Mi' });
    expect(still.status?.observedGeneration).to.equal(before.metadata?.generation);
    expect(condition(still, 'PodResizePending')?.reason).to.equal('Infeasible');
    const events = await sb.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=big' });
    expect(events.items.map((e) => e.reason)).to.include.members(['ResizeDeferred', 'ResizeInfeasible']);

    // A resize back to what it holds: nothing to allocate, the pending condition goes.
    const back = await resize('big', { requests: { cpu: '1' } });
    const p = await actuated('big', back.metadata?.generation ?? 0);
    expect(app(p)?.resources?.requests).to.deep.equal({ cpu: '1', memory: '256Mi' });
    expect(p.metadata?.uid).to.equal(before.metadata?.uid);
  });

  it('within the allocatable but above what is free: Deferred, until another pod on the node is gone; a resize back clears it', async () => {
    const n = await node();
    const before = await pod('grows', n, { cpu: '1', memory: '256Mi' }, { cpu: '2', memory: '512Mi' });
    await pod('neighbour', n, { cpu: '3', memory: '256Mi' }, { cpu: '3', memory: '512Mi' });

    await resize('grows', { requests: { cpu: '2' } });
    const deferred = await pendingOf('grows', 'Deferred');
    expect(condition(deferred, 'PodResizePending')?.message).to.equal("Node didn't have enough resource: cpu, requested: 2000, used: 3000, capacity: 4000");
    expect(app(deferred)?.resources?.requests?.cpu).to.equal('1');

    // Back to 1 CPU while Deferred: cleared and actuated.
    const back = await resize('grows', { requests: { cpu: '1' } });
    const atOne = await actuated('grows', back.metadata?.generation ?? 0);
    expect(app(atOne)?.resources?.requests?.cpu).to.equal('1');

    // Up again: Deferred again; the neighbour goes, and the resize is actuated.
    const up = await resize('grows', { requests: { cpu: '2' } });
    await pendingOf('grows', 'Deferred');
    await sb.core.deleteNamespacedPod({ name: 'neighbour', namespace: ns, gracePeriodSeconds: 0 });
    const p = await actuated('grows', up.metadata?.generation ?? 0);
    const st = app(p);
    expect(st?.resources?.requests).to.deep.equal({ cpu: '2', memory: '256Mi' });
    expect(st?.resources?.limits).to.deep.equal({ cpu: '2', memory: '512Mi' });
    expect(st?.restartCount).to.equal(0);
    expect(p.metadata?.uid).to.equal(before.metadata?.uid);
  });
});
