/**
 * Issue #12, drains that keep their promises (pure parts): the pod's own grace period by default,
 * the safety rules re-checked on the pods found after the cordon, PDB refusals retried with
 * backoff, no deletion with pods on it after a failed drain's TTL unless opted in, and the sweep of
 * nodes left cordoned.
 */
import { expect } from 'chai';
import {
  ANNOTATION_CORDONED_AT,
  ANNOTATION_CORDONED_BY,
  ANNOTATION_DELETE_AFTER_FAILED_DRAIN,
  deleteAfterFailedDrainAllowed,
} from '../../../../../decision/nodes/drain/annotations';
import { evictionRetryDelaySeconds } from '../../../../../decision/nodes/drain/backoff';
import { strayCordons } from '../../../../../decision/nodes/drain/cordon-sweep';
import { podDisposition, type DrainPodView } from '../../../../../decision/nodes/drain/disposition';
import { drainRefusals } from '../../../../../decision/nodes/drain/safety';
import { loadConfig } from '../../../../../lib/config';
import { lifecycleSettingsFrom } from '../../../../../activities/nodes/lifecycle/vpsienode';
import { node, NOW, pod } from '../scale-down/fixtures';

const view: DrainPodView = { namespace: 'default', name: 'p', uid: 'u', ownerKinds: ['ReplicaSet'], mirror: false, deleting: false };

describe('drain: grace periods (issue #12)', () => {
  it("asks for the pod's own terminationGracePeriodSeconds when no cap is configured, however long", () => {
    expect(podDisposition({ ...view, terminationGracePeriodSeconds: 900 })).to.deep.equal({ action: 'evict', gracePeriodSeconds: 900 });
    expect(podDisposition({ ...view, terminationGracePeriodSeconds: 0 })).to.deep.equal({ action: 'evict', gracePeriodSeconds: 0 });
    expect(podDisposition(view)).to.deep.equal({ action: 'evict', gracePeriodSeconds: 30 });
  });

  it('caps the grace period only when a cap is given and shorter', () => {
    expect(podDisposition({ ...view, terminationGracePeriodSeconds: 900 }, 60)).to.deep.equal({ action: 'evict', gracePeriodSeconds: 60 });
    expect(podDisposition({ ...view, terminationGracePeriodSeconds: 20 }, 60)).to.deep.equal({ action: 'evict', gracePeriodSeconds: 20 });
  });

  it('the VPSieNode lifecycle drain caps nothing (it used to cut every pod to 120 s)', () => {
    expect(lifecycleSettingsFrom(loadConfig({})).maxPodGracePeriodSeconds).to.equal(undefined);
  });

  it('the scale-down configuration caps nothing by default (SCALE_DOWN_MAX_GRACE_SECONDS unset)', () => {
    const c = loadConfig({});
    expect(c.SCALE_DOWN_MAX_GRACE_SECONDS).to.equal(undefined);
    expect(loadConfig({ SCALE_DOWN_MAX_GRACE_SECONDS: '45' }).SCALE_DOWN_MAX_GRACE_SECONDS).to.equal(45);
  });
});

describe('drain: safety rules re-checked after the cordon (issue #12)', () => {
  it('refuses a node whose pods now fail a rule: a pod that arrived with do-not-disrupt, a bare pod, local storage', () => {
    const n = node('n1', [
      pod('web-1'),
      pod('late-1', { annotations: { 'karpenter.sh/do-not-disrupt': 'true' } }),
      pod('bare-1', { ownerKind: undefined }),
      pod('cache-1', { volumes: [{ name: 'scratch', kind: 'emptyDir', medium: '' }] }),
    ]);
    const r = drainRefusals(n, []);
    expect(r.map((x) => [x.reason, x.pod])).to.deep.equal([
      ['DoNotDisruptAnnotation', 'default/late-1'],
      ['LocalStorage', 'default/cache-1'],
      ['UnreplicatedPod', 'default/bare-1'],
    ]);
  });

  it('lets a node drain whose pods pass every rule (replicated, DaemonSet, safe-to-evict bare pod, kube-system pod with a PDB)', () => {
    const n = node('n1', [
      pod('web-1'),
      pod('ds-1', { ownerKind: 'DaemonSet' }),
      pod('bare-1', { ownerKind: undefined, annotations: { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } }),
      pod('dns-1', { namespace: 'kube-system', labels: { app: 'dns' } }),
    ]);
    expect(drainRefusals(n, [{ name: 'dns', namespace: 'kube-system', selector: { matchLabels: { app: 'dns' } }, disruptionsAllowed: 1 }])).to.deep.equal([]);
    expect(drainRefusals(n, []).map((x) => x.reason)).to.deep.equal(['KubeSystemPodWithoutPDB']);
  });

  it('refuses a node annotated do-not-disrupt', () => {
    expect(drainRefusals(node('n1', [pod('web-1')], { annotations: { 'karpenter.sh/do-not-disrupt': 'true' } }), []).map((x) => x.reason)).to.deep.equal([
      'DoNotDisruptAnnotation',
    ]);
  });
});

describe('drain: PDB-refused evictions retried with backoff, in one activity (issue #12)', () => {
  it('waits 1, 2, 4, 8, 16 s, then 30 s between rounds, never more', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((r) => evictionRetryDelaySeconds(r))).to.deep.equal([1, 2, 4, 8, 16, 30, 30, 30]);
    expect(evictionRetryDelaySeconds(3, { initialSeconds: 2, maxSeconds: 10 })).to.equal(10);
  });
});

describe('drain: a node a PDB kept from draining is not deleted with its pods after the TTL (issue #12)', () => {
  it('is opt-in only: autoscaler.vpsie.com/delete-after-failed-drain: "true" on the NodeGroup or the Node', () => {
    expect(ANNOTATION_DELETE_AFTER_FAILED_DRAIN).to.equal('autoscaler.vpsie.com/delete-after-failed-drain');
    expect(deleteAfterFailedDrainAllowed(undefined, undefined)).to.equal(false);
    expect(deleteAfterFailedDrainAllowed({}, { other: 'true' })).to.equal(false);
    expect(deleteAfterFailedDrainAllowed({ [ANNOTATION_DELETE_AFTER_FAILED_DRAIN]: 'false' }, undefined)).to.equal(false);
    expect(deleteAfterFailedDrainAllowed({ [ANNOTATION_DELETE_AFTER_FAILED_DRAIN]: 'true' }, undefined)).to.equal(true);
    expect(deleteAfterFailedDrainAllowed(undefined, { [ANNOTATION_DELETE_AFTER_FAILED_DRAIN]: 'True' })).to.equal(true);
  });
});

describe('drain: the sweep of nodes left cordoned (issue #12)', () => {
  const mark = (agoSeconds: number, by = 'scale-down:ns/remove/x') => ({
    [ANNOTATION_CORDONED_BY]: by,
    [ANNOTATION_CORDONED_AT]: new Date(NOW - agoSeconds * 1000).toISOString(),
  });

  it('finds the nodes carrying the cordon mark with no removal in flight, once the mark is older than the minimum age', () => {
    const nodes = [
      { name: 'stray', unschedulable: true, annotations: mark(600) },
      { name: 'young', unschedulable: true, annotations: mark(10) },
      { name: 'removing', unschedulable: true, annotations: mark(600) },
      { name: 'admin-cordoned', unschedulable: true },
      { name: 'plain' },
      { name: 'mark-only', annotations: mark(900) },
    ];
    const found = strayCordons(nodes, new Set(['removing']), NOW, 300);
    expect(found.map((f) => [f.node, f.cordonedBy, f.ageSeconds])).to.deep.equal([
      ['mark-only', 'scale-down:ns/remove/x', 900],
      ['stray', 'scale-down:ns/remove/x', 600],
    ]);
  });

  it('an unreadable cordon time counts as old (the mark is the orchestrator’s own)', () => {
    const found = strayCordons([{ name: 'n', unschedulable: true, annotations: { [ANNOTATION_CORDONED_BY]: 'wf' } }], new Set(), NOW);
    expect(found.map((f) => f.node)).to.deep.equal(['n']);
  });
});
