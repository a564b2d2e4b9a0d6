/**
 * Document 001 §2.5.3 Events on the sandbox: a scale-up emits `TriggeredScaleUp` on the pod it
 * was made for; a scale-down removal emits `DrainStarted` on the Node (activities/nodes/drain.ts)
 * while the Node still exists, before it is removed; a NodeGroup VPSie cannot act on as configured
 * (a datacenter the VPSie API does not know) gets one Warning `ConfigurationError` Event, not
 * one per loop tick (activities/nodes/nodegroup.ts, lib/kube/events.ts).
 *
 * With RECORD_REPLAY_HISTORIES=1 the runs of the first case are saved for the replay tests: the
 * scale-up run (its `scale-up-search-attributes` upsert), the scale-down loop iteration that starts
 * the removal and the removal itself (`scale-down-loop-observability`: the decision and typed search
 * attributes handed to the removal) and the drain that finished (`drain-search-attributes`).
 */
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ScaleUpRecord } from '../../../decision/nodes/scale-up/record';
import type { Orchestrator } from '../../../workers/orchestrator';
import { scaleDownWorkflowId } from '../../../workflows/nodes/scale-down/loop';
import { recordHistory } from '../../support/histories';
import { createGroup, groupVNs, readGroup, startTestOrchestrator } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';
import { createIsolatedGroup, createReplicaSet, eventually, loopState, SCALEDOWN_HISTORIES_DIR, stopScaleDown } from './scale-down/helpers';

const SCALEUP_HISTORIES_DIR = path.resolve(__dirname, '../../replay/nodes/histories-scaleup');

interface EventView {
  reason: string;
  type: string;
  message: string;
  count: number;
  uid?: string;
}

function view(e: k8s.CoreV1Event): EventView {
  return {
    reason: e.reason ?? '',
    type: e.type ?? '',
    message: e.message ?? '',
    count: e.count ?? 1,
    ...(e.involvedObject.uid ? { uid: e.involvedObject.uid } : {}),
  };
}

async function eventsOf(sb: TestSandbox, namespace: string, kind: string, name: string): Promise<EventView[]> {
  const l = await sb.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` });
  return l.items.map(view);
}

async function nodeExists(sb: TestSandbox, name: string): Promise<boolean> {
  try {
    await sb.core.readNode({ name });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

describe('Events of document 001 §2.5.3 (sandbox)', function () {
  this.timeout(600_000);
  let sb: TestSandbox;
  let ns: string;
  let orch: Orchestrator | undefined;
  const records: ScaleUpRecord[] = [];

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    ns = await sb.namespace('events');
    orch = await startTestOrchestrator(sb, ns, sb.taskQueue('events'), {
      scaleUpTrigger: { namespaces: [ns], nodePressure: false, onRecord: (r) => void records.push(r) },
      env: { SCALE_DOWN_SAMPLE_SECONDS: '1', SCALE_DOWN_DRAIN_TIMEOUT_SECONDS: '20', SCALE_DOWN_MAX_GRACE_SECONDS: '0' },
    });
  });
  after(async () => {
    await stopScaleDown(sb, orch, ns);
  });

  it('a scale-up emits TriggeredScaleUp on its pod; the scale-down removal of the idle node emits DrainStarted on the Node before the Node is gone', async () => {
    const g = uniqueName('ev');
    await createIsolatedGroup(sb, ns, g, { minNodes: 0, maxNodes: 2 });

    // Scale-up triggered: a pod that fits no node.
    await createReplicaSet(sb, ns, 'web', g, { cpu: '500m' });
    const pod = await eventually(
      'the pod Running on a new node of the group',
      240_000,
      async () => {
        const p = (await sb.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items[0];
        return p?.status?.phase === 'Running' && p.spec?.nodeName ? p : undefined;
      },
      500,
    );
    const node = pod.spec?.nodeName as string;
    const run = await eventually('the scale-up record', 120_000, async () => records.find((r) => r.created > 0), 250);
    expect(run.groups.map((x) => x.group)).to.include(`${ns}/${g}`);
    const vns = await eventually('the VPSieNode of the node', 60_000, async () => {
      const l = await groupVNs(sb, ns, g);
      return l.some((v) => v.nodeName === node) ? l : undefined;
    });
    expect(vns.filter((v) => !v.deleting)).to.have.length(1);
    const podEvents = await eventually(
      'TriggeredScaleUp on the pod',
      60_000,
      async () => {
        const evs = await eventsOf(sb, ns, 'Pod', pod.metadata?.name as string);
        return evs.some((e) => e.reason === 'TriggeredScaleUp') ? evs : undefined;
      },
      250,
    );
    expect(podEvents.find((e) => e.reason === 'TriggeredScaleUp')?.type).to.equal('Normal');
    const nodeUid = (await sb.core.readNode({ name: node })).metadata?.uid;
    expect(nodeUid).to.be.a('string');
    // The scale-up run upserted its search attributes once its outcome was recorded.
    const su = await sb.temporal.workflow.getHandle(run.workflowId).describe();
    expect(su.searchAttributes.DecisionReason, 'scale-up DecisionReason').to.deep.equal(['TriggeredScaleUp']);
    expect(su.searchAttributes.NodeGroup, 'scale-up NodeGroup').to.deep.equal([`${ns}/${g}`]);

    // Scale-down triggered: the node is idle once its pod is gone (minNodes 0).
    const apps = sb.kc.makeApiClient(k8s.AppsV1Api);
    await apps.deleteNamespacedReplicaSet({ name: 'web', namespace: ns });
    await sb.core.deleteCollectionNamespacedPod({ namespace: ns, gracePeriodSeconds: 0 });

    // Each poll lists the Node's Events first, then reads the Node: a DrainStarted listed while
    // the Node is read afterwards was recorded before the Node was removed.
    let drainStartedWhileNodeExisted: EventView | undefined;
    let drainStartedAfterNodeGone = false;
    await eventually(
      'the node removed by the scale-down',
      240_000,
      async () => {
        const evs = await eventsOf(sb, 'default', 'Node', node);
        const started = evs.find((e) => e.reason === 'DrainStarted');
        const exists = await nodeExists(sb, node);
        if (started && exists) drainStartedWhileNodeExisted ??= started;
        if (started && !exists && drainStartedWhileNodeExisted === undefined) drainStartedAfterNodeGone = true;
        return exists ? undefined : true;
      },
      150,
    );
    expect(drainStartedAfterNodeGone, 'DrainStarted first seen only after the Node was gone').to.equal(false);
    expect(drainStartedWhileNodeExisted, 'DrainStarted on the Node while it existed').to.not.equal(undefined);
    expect(drainStartedWhileNodeExisted?.type).to.equal('Normal');
    expect(drainStartedWhileNodeExisted?.uid).to.equal(nodeUid);
    expect(drainStartedWhileNodeExisted?.message).to.match(/cordoned, draining: \d+ pod\(s\) to evict/);

    const removal = await eventually(
      'the removal finished',
      120_000,
      async () => (await loopState(sb, ns)).finished.find((r) => r.nodeGroup === g && r.nodes.includes(node)),
      250,
    );
    expect(removal.outcome).to.equal('Removed');
    // The removal carried its decision (status.lastScaleDownDecision) and was started with typed search attributes.
    const rd = await sb.temporal.workflow.getHandle(removal.id).describe();
    expect(rd.searchAttributes.DecisionReason, 'removal DecisionReason').to.deep.equal(['Underutilized']);
    expect(rd.searchAttributes.NodeGroup, 'removal NodeGroup').to.deep.equal([`${ns}/${g}`]);
    // Scale-up and scale-down triggered, on the NodeGroup: the VPSieNode created and the one removed, each Event naming the group's uid.
    const groupUid = (await readGroup(sb, ns, g))?.metadata.uid;
    const groupEvents = await eventually(
      'the removal Event on the NodeGroup',
      60_000,
      async () => {
        const evs = await eventsOf(sb, ns, 'NodeGroup', g);
        return evs.some((e) => /^removing 1 VPSieNodes/.test(e.message)) ? evs : undefined;
      },
      250,
    );
    expect(groupEvents.some((e) => /^created 1 VPSieNodes/.test(e.message))).to.equal(true);
    expect(groupEvents.find((e) => /^removing 1 VPSieNodes/.test(e.message))?.reason).to.equal('ScalingDown');
    expect(
      groupEvents.filter((e) => e.uid !== groupUid).map((e) => e.reason),
      'Events on the NodeGroup without its uid',
    ).to.deep.equal([]);
    const drainId = `${removal.id}/drain/${node}`;
    const dd = await sb.temporal.workflow.getHandle(drainId).describe();
    expect(dd.searchAttributes.DecisionReason, 'drain DecisionReason').to.deep.equal(['DrainComplete']);

    recordHistory(sb, run.workflowId, SCALEUP_HISTORIES_DIR, 'scaleup-search-attributes');
    recordHistory(sb, scaleDownWorkflowId(ns), SCALEDOWN_HISTORIES_DIR, 'scaledown-loop-observability');
    recordHistory(sb, removal.id, SCALEDOWN_HISTORIES_DIR, 'scaledown-removal-observability');
    recordHistory(sb, drainId, SCALEDOWN_HISTORIES_DIR, 'drain-search-attributes');
  });

  it('a NodeGroup whose datacenter VPSie does not know gets one Warning ConfigurationError Event, not one per loop tick', async () => {
    const g = uniqueName('baddc');
    await createGroup(sb, ns, g, {
      minNodes: 1,
      maxNodes: 3,
      datacenterID: 'dc-nowhere-1',
      scaleDownPolicy: { enabled: false },
    });
    const first = await eventually(
      'ConfigurationError on the NodeGroup',
      180_000,
      async () => {
        const evs = (await eventsOf(sb, ns, 'NodeGroup', g)).filter((e) => e.reason === 'ConfigurationError');
        return evs.length > 0 ? evs : undefined;
      },
      250,
    );
    expect(first).to.have.length(1);
    expect(first[0]?.type).to.equal('Warning');
    expect(first[0]?.message).to.match(/^DatacenterNotFound: /);
    const uid = (await readGroup(sb, ns, g))?.metadata.uid;
    expect(first[0]?.uid).to.equal(uid);

    // The group goes on: replacements fail the same way and its status is written again with the same error.
    await eventually(
      'a second VPSieNode Failed and the status written with it',
      240_000,
      async () => {
        const failed = (await groupVNs(sb, ns, g)).filter((v) => v.phase === 'Failed');
        const err = (await readGroup(sb, ns, g))?.status?.conditions?.find((c) => c.type === 'Error');
        return failed.length >= 2 && err?.status === 'True' && /^\d+ nodes Failed/.exec(err.message) && Number(err.message.split(' ')[0]) >= 2
          ? true
          : undefined;
      },
      500,
    );
    const err = (await readGroup(sb, ns, g))?.status?.conditions?.find((c) => c.type === 'Error');
    expect(err?.reason).to.equal('DatacenterNotFound');
    const after = (await eventsOf(sb, ns, 'NodeGroup', g)).filter((e) => e.reason === 'ConfigurationError');
    expect(after, 'one ConfigurationError Event').to.have.length(1);
    expect(after[0]?.count, 'recorded once, not once per loop tick').to.equal(1);
  });
});
