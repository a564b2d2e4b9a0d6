/**
 * The durable lifecycle of one VPSieNode (workflow id `vpsieNodeWorkflowId(ns, name)`, started
 * by signal-with-start of `vpsieNodeSyncSignal`):
 *
 *   Pending → Provisioning → Provisioned → Joining → Ready → Terminating → Deleting → Deleted
 *   any live phase → Failed → (TTL, or deletion) → Deleted
 *
 * - Provisioning: `ensureMachine` (idempotent; request id = the VPSieNode uid) until the VPS runs,
 *   within PROVISION_TIMEOUT_SECONDS (VPSCreateTimeout); terminal VPSie errors fail at once.
 * - Joining: find the Node (providerID vpsie://<id>, hostname, IP), put the group's labels and
 *   taints on it, wait for Ready within JOIN_TIMEOUT_SECONDS (JoinTimeout).
 * - Ready: waits on the sync signal (condition), continues-as-new when Temporal suggests it.
 * - Every long loop (provisioning polls, joining waits, Ready, failed cleanup retries) continues
 *   as new once the history passes `maxHistoryEvents` or Temporal suggests it, carrying its state
 *   (phase, phase times, identifiers, the cleanup back-off); a sync signal is only a hint to
 *   re-read the VPSieNode (deletion is what the object says).
 * - Terminating (the VPSieNode's deletionTimestamp is set): drain as a child workflow
 *   (`drainNodeWorkflow`), then Deleting (the VPS delete in flight): delete the VPS and the Node,
 *   then status Deleted, remove the finalizer.
 *   A drain that cannot finish makes the node Failed (DrainFailed) with the Node uncordoned; it
 *   is then cleaned up after the TTL like any Failed node.
 * - Failed: after FAILED_NODE_TTL_SECONDS (or at once when the VPSieNode is deleted, unless the
 *   failure is DrainFailed) delete the VPS, the Node and the VPSieNode object.
 *
 * Every transition is written to the CR status and an Event and counted (recordTransition),
 * upserted as the search attributes NodeGroup/VPSieNode/Phase, and signalled to the NodeGroup
 * workflow (tolerating its absence). All progress is through idempotent activities, so a worker
 * crash at any point only replays history and re-runs the interrupted activity.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DrainActivities } from '../../../activities/nodes/drain';
import type { MachineStatus, VPSieMachineActivities } from '../../../activities/nodes/lifecycle/machines';
import type { VPSieNodeActivities, VPSieNodeObservation } from '../../../activities/nodes/lifecycle/vpsienode';
import { canTransition, type TransitionRecord } from '../../../decision/nodes/lifecycle/vpsienode';
import { DEFAULT_MAX_HISTORY_EVENTS, historyFull, MIN_HISTORY_EVENTS } from '../../../decision/nodes/lifecycle/long-loops';
import type { VPSieNodeErrorReason, VPSieNodePhase, VPSieNodeReason } from '../../../lib/crds/autoscaler/constants';
import { nodeGroupNodePhaseSignal, nodeGroupWorkflowId, vpsieNodeStateQuery, vpsieNodeSyncSignal, type VPSieNodeLifecycleState } from '../contracts';
import {
  PATCH_BOUNDED_LOOPS,
  PATCH_CLEANUP_BACKOFF,
  PATCH_DELETE_VM_BEFORE_NODE,
  PATCH_DELETING_PHASE,
  PATCH_SIGNALS_ARE_HINTS,
  VPSieNodeGone,
  type CarriedLifecycle,
  type LifecycleContext,
  type LifecyclePatches,
  type VPSieNodeLifecycleInput,
  type VPSieNodeLifecycleResult,
} from './context';
import { cleanUpFailed } from './failed-cleanup';
import { join } from './join';
import { provision } from './provision';
import { terminate } from './terminate';
import { SA_NODEGROUP, SA_PHASE, SA_VPSIENODE } from '../../../lib/temporal/search-attributes';
import { KUBERNETES_WRITE, VPSIE_CALL, VPSIE_DELETE } from '../../../lib/temporal/retry-profiles';

// The drain child workflow is registered through this file (workflows/index.ts exports it).
export { drainNodeWorkflow } from '../drain';
export type { DrainNodeInput, DrainNodeResult, DrainOutcome } from '../drain';

const kube = proxyActivities<VPSieNodeActivities>({
  startToCloseTimeout: '30s',
  retry: KUBERNETES_WRITE,
});
const machines = proxyActivities<VPSieMachineActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: VPSIE_CALL,
});
const machineDeletion = proxyActivities<VPSieMachineActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: VPSIE_DELETE,
});
// The drain activities run in the child workflow; the type is imported so the worker's
// registration (createDrainActivities) is checked against the child's needs.
export type LifecycleActivities = VPSieNodeActivities & VPSieMachineActivities & DrainActivities;

export type { CarriedLifecycle, VPSieNodeLifecycleInput, VPSieNodeLifecycleResult } from './context';

export async function vpsieNodeLifecycleWorkflow(input: VPSieNodeLifecycleInput): Promise<VPSieNodeLifecycleResult> {
  const patches: LifecyclePatches = {
    signalsAreHints: patched(PATCH_SIGNALS_ARE_HINTS),
    boundedLoops: patched(PATCH_BOUNDED_LOOPS),
    cleanupBackoff: patched(PATCH_CLEANUP_BACKOFF),
    deleteVmBeforeNode: patched(PATCH_DELETE_VM_BEFORE_NODE),
    deletingPhase: patched(PATCH_DELETING_PHASE),
  };
  // At least MIN_HISTORY_EVENTS, so a run always gets past its own start before it may continue as new.
  const maxHistoryEvents = Math.max(MIN_HISTORY_EVENTS, input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS);
  const ref = { namespace: input.namespace, name: input.name };
  const groupKey = `${input.namespace}/${input.nodeGroup}`;
  let deleting = false;
  let syncs = 0;
  let seenSyncs = 0;

  const st: CarriedLifecycle = input.carried
    ? { ...input.carried, phaseTimes: { ...input.carried.phaseTimes } }
    : {
        phase: 'Pending',
        phaseTimes: {},
        settings: {
          provisionTimeoutSeconds: 0,
          joinTimeoutSeconds: 0,
          failedNodeTtlSeconds: 0,
          pollIntervalSeconds: 2,
          drainTimeoutSeconds: 0,
          maxPodGracePeriodSeconds: 0,
        },
      };

  // A hint to re-read the VPSieNode, never state: `deleting` is what the object says (observe).
  setHandler(vpsieNodeSyncSignal, (s) => {
    syncs++;
    if (s.deleting && !patches.signalsAreHints) deleting = true;
  });
  setHandler(vpsieNodeStateQuery, (): VPSieNodeLifecycleState => ({
    ...ref,
    phase: st.phase,
    ...(st.nodeName ? { nodeName: st.nodeName } : {}),
    ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}),
    ...(st.lastError ? { lastError: st.lastError } : {}),
  }));
  upsertSearchAttributes([
    { key: SA_NODEGROUP, value: groupKey },
    { key: SA_VPSIENODE, value: `${ref.namespace}/${ref.name}` },
    { key: SA_PHASE, value: st.phase },
  ]);
  // The configured timeouts, read once (recorded in history), with the input's overrides.
  if (!input.carried) st.settings = { ...(await kube.lifecycleSettings()), ...(input.settings ?? {}) };
  const settings = st.settings;

  let offeringID: string | undefined;
  const absorb = (o: VPSieNodeObservation): void => {
    if (!o.exists) throw new VPSieNodeGone();
    if (o.deleting) deleting = true;
    if (o.vpsieIdentifier) st.vpsieIdentifier = o.vpsieIdentifier;
    if (o.hostname) st.hostname = o.hostname;
    if (o.nodeName && !st.nodeName) st.nodeName = o.nodeName;
    if (o.offeringID) offeringID = o.offeringID;
  };
  const observe = async (): Promise<VPSieNodeObservation> => {
    const o = await kube.observeVPSieNode(ref);
    absorb(o);
    return o;
  };
  /** Waits up to `ms` for a deletion or a sync signal (then re-reads the object). */
  const waitForChange = async (ms: number): Promise<void> => {
    if (deleting) return;
    await condition(() => deleting || syncs !== seenSyncs, Math.max(1, ms));
    if (syncs !== seenSyncs) {
      seenSyncs = syncs;
      await observe();
    }
  };

  const transition = async (
    to: VPSieNodePhase,
    reason: VPSieNodeReason,
    message: string,
    extra: Partial<TransitionRecord> & { provisioningSeconds?: number; joiningSeconds?: number } = {},
  ): Promise<void> => {
    const from = st.phase;
    if (from !== to && !canTransition(from, to)) throw ApplicationFailure.nonRetryable(`illegal VPSieNode transition ${from} -> ${to}`, 'IllegalTransition');
    const now = Date.now();
    const at = new Date(now).toISOString();
    await kube.recordTransition({ vpsieNode: ref, nodeGroup: input.nodeGroup, ...extra, from, to, reason, message, at });
    st.phase = to;
    st.phaseTimes[to] = now;
    if (to === 'Failed') st.lastError = { reason, message };
    upsertSearchAttributes([{ key: SA_PHASE, value: to }]);
    try {
      await getExternalWorkflowHandle(nodeGroupWorkflowId(input.namespace, input.nodeGroup)).signal(nodeGroupNodePhaseSignal, {
        name: input.name,
        phase: to,
        ...(offeringID ? { offeringID } : {}),
        ...(st.nodeName ? { nodeName: st.nodeName } : {}),
        reason,
        message,
        at,
      });
    } catch {
      // The NodeGroup workflow may not exist (yet, or in tests); the CR status carries the phase too.
    }
  };
  const fail = (reason: VPSieNodeErrorReason, message: string): Promise<void> => transition('Failed', reason, message);

  const machineInput = { vpsieNode: ref, nodeGroup: input.nodeGroup };
  const takeMachine = (m: MachineStatus): void => {
    if (m.vpsieIdentifier) st.vpsieIdentifier = m.vpsieIdentifier;
    if (m.hostname) st.hostname = m.hostname;
    const ips = [m.privateIPv4, m.publicIPv4].filter((x): x is string => x !== undefined);
    if (ips.length > 0) st.ips = ips;
  };

  /** Deletes the Node (if any) and the machine; returns what was done. */
  const removeNodeAndMachine = async (): Promise<string> => {
    const node = await kube.findNode({
      ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}),
      ...(st.hostname ? { hostname: st.hostname } : {}),
      ...(st.nodeName ? { nodeName: st.nodeName } : {}),
    });
    // The VM before the Node: a Node deleted first comes back when its kubelet re-registers (#12).
    if (patches.deleteVmBeforeNode) {
      const m = await machineDeletion.deleteMachine(machineInput);
      const nodeDeleted = node ? await kube.deleteNode(node.name) : false;
      return `${m.detail}; ${node ? `node ${node.name} ${nodeDeleted ? 'deleted' : 'already gone'}` : 'no node'}`;
    }
    const nodeDeleted = node ? await kube.deleteNode(node.name) : false;
    const m = await machineDeletion.deleteMachine(machineInput);
    return `${m.detail}; ${node ? `node ${node.name} ${nodeDeleted ? 'deleted' : 'already gone'}` : 'no node'}`;
  };

  const full = (): boolean => {
    const info = workflowInfo();
    return historyFull({ historyLength: info.historyLength, continueAsNewSuggested: info.continueAsNewSuggested, maxHistoryEvents });
  };
  const continueWithState = async (): Promise<never> => {
    await condition(allHandlersFinished);
    return continueAsNew<typeof vpsieNodeLifecycleWorkflow>({
      namespace: input.namespace,
      name: input.name,
      nodeGroup: input.nodeGroup,
      carried: st,
      ...(input.maxHistoryEvents !== undefined ? { maxHistoryEvents: input.maxHistoryEvents } : {}),
    });
  };

  const ctx: LifecycleContext = {
    input,
    ref,
    st,
    settings,
    kube,
    machines,
    machineInput,
    patches,
    deleting: () => deleting,
    historyFull: () => patches.boundedLoops && full(),
    transition,
    fail,
    waitForChange,
    takeMachine,
    removeNodeAndMachine,
  };

  try {
    const first = await observe();
    if (!input.carried) {
      if (first.phase) st.phase = first.phase;
      st.phaseTimes = { ...first.phaseTimes };
      if (first.lastError) st.lastError = first.lastError;
      upsertSearchAttributes([{ key: SA_PHASE, value: st.phase }]);
    }
    if (!first.hasFinalizer) {
      const added = await kube.ensureFinalizer(ref);
      // Deleted before we ever held it: nothing of ours exists unless we got past Pending.
      if (!added && st.phase === 'Pending') return { phase: st.phase, outcome: 'VPSieNodeGone' };
    }
    if (first.phase === undefined) await transition('Pending', 'VPSRequested', `VPSieNode of group ${input.nodeGroup} accepted`);

    for (;;) {
      // Deletion of the object takes every live phase to Terminating (Deleting is past it).
      if (deleting && st.phase !== 'Terminating' && st.phase !== 'Deleting' && st.phase !== 'Failed' && st.phase !== 'Deleted') {
        await transition('Terminating', st.nodeName ? 'DrainInProgress' : 'NotDraining', st.nodeName ? `draining node ${st.nodeName}` : 'no node to drain');
        continue;
      }
      // Every long loop phase hands over to a new run once the history is long, carrying its state.
      if (patches.boundedLoops && st.phase !== 'Deleted' && full()) await continueWithState();
      switch (st.phase) {
        case 'Pending':
          await transition('Provisioning', 'VPSCreating', 'creating the VPS');
          break;

        case 'Provisioning':
          await provision(ctx);
          break;

        case 'Provisioned':
          await transition('Joining', 'AwaitingNode', `waiting for the Node of ${st.hostname ?? st.vpsieIdentifier ?? 'the VPS'}`);
          break;

        case 'Joining':
          await join(ctx);
          break;

        case 'Ready': {
          await condition(() => deleting || syncs !== seenSyncs || workflowInfo().continueAsNewSuggested);
          if (syncs !== seenSyncs) {
            seenSyncs = syncs;
            await observe();
          }
          if (!deleting && workflowInfo().continueAsNewSuggested) await continueWithState();
          break;
        }

        // Deleting: a run that continued as new (or restarted) with the VPS delete in flight goes on deleting.
        case 'Terminating':
        case 'Deleting': {
          const done = await terminate(ctx);
          if (done) return done;
          break;
        }

        case 'Failed': {
          const done = await cleanUpFailed(ctx);
          if (done) return done;
          break;
        }

        case 'Deleted':
          await kube.removeFinalizer(ref);
          return { phase: 'Deleted', outcome: 'Deleted', ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}) };
      }
    }
  } catch (e) {
    if (e instanceof VPSieNodeGone)
      return { phase: st.phase, outcome: 'VPSieNodeGone', ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}) };
    if (e instanceof ActivityFailure && e.cause instanceof ApplicationFailure && e.cause.type === 'VPSieNodeGone')
      return { phase: st.phase, outcome: 'VPSieNodeGone', ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}) };
    throw e;
  }
}
