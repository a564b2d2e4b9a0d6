/**
 * What the phases of the VPSieNode lifecycle share (workflows/nodes/lifecycle/workflow.ts builds it):
 * the state carried across continue-as-new, the settings, the activities and the steps every phase
 * uses (transition, wait for a change, remove the Node and the machine).
 */
import { ActivityFailure, ApplicationFailure, type ActivityInterfaceFor } from '@temporalio/workflow';
import type { MachineStatus, VPSieMachineActivities } from '../../../activities/nodes/lifecycle/machines';
import type { LifecycleSettings, VPSieNodeActivities } from '../../../activities/nodes/lifecycle/vpsienode';
import type { TransitionRecord } from '../../../decision/nodes/lifecycle/vpsienode';
import type { VPSieNodeErrorReason, VPSieNodePhase, VPSieNodeReason } from '../../../lib/crds/autoscaler/constants';
import type { ObjectRef, VPSieNodeWorkflowInput } from '../contracts';
import type { DrainNodeResult } from '../drain';

/** State carried across continue-as-new. */
export interface CarriedLifecycle {
  phase: VPSieNodePhase;
  phaseTimes: Partial<Record<VPSieNodePhase, number>>;
  settings: LifecycleSettings;
  nodeName?: string;
  vpsieIdentifier?: string;
  hostname?: string;
  ips?: string[];
  lastError?: { reason: string; message: string };
  /** Failed cleanup attempts so far (their back-off goes on across continue-as-new). */
  cleanupFailures?: number;
}

export interface VPSieNodeLifecycleInput extends VPSieNodeWorkflowInput {
  /** Overrides of the configured timeouts (tests use seconds). */
  settings?: Partial<LifecycleSettings>;
  /** Set by continue-as-new only. */
  carried?: CarriedLifecycle;
  /** Continue as new after this many history events (default DEFAULT_MAX_HISTORY_EVENTS, or when the server suggests it); tests lower it. */
  maxHistoryEvents?: number;
}

/**
 * Patches of the lifecycle (each read once, at the start of a run, before any command):
 * - SIGNALS_ARE_HINTS: a sync signal only asks for a re-read; `deleting` comes from the object.
 * - BOUNDED_LOOPS: every long loop phase continues as new after a bounded history, not only Ready.
 * - CLEANUP_BACKOFF: a failing cleanup of a Failed node waits longer after each failure (capped).
 * - DELETE_VM_BEFORE_NODE: termination deletes the VM, then the Node.
 * - DELETING_PHASE: termination enters Deleting (the VPS delete in flight, document 004) after
 *   the drain and before the delete call, then Deleted after it.
 */
export const PATCH_SIGNALS_ARE_HINTS = 'vpsienode-sync-signal-is-a-hint';
export const PATCH_BOUNDED_LOOPS = 'vpsienode-continue-as-new-every-phase';
export const PATCH_CLEANUP_BACKOFF = 'vpsienode-failed-cleanup-backoff';
export const PATCH_DELETE_VM_BEFORE_NODE = 'vpsienode-delete-vm-before-node';
export const PATCH_DELETING_PHASE = 'lifecycle-deleting-phase';

export interface LifecyclePatches {
  signalsAreHints: boolean;
  boundedLoops: boolean;
  cleanupBackoff: boolean;
  /** Termination deletes the VM before the Node (a kubelet that re-registers must not bring the node back). */
  deleteVmBeforeNode: boolean;
  /** Termination passes through Deleting (VPS delete in flight) between Terminating and Deleted. */
  deletingPhase: boolean;
}

export interface VPSieNodeLifecycleResult {
  phase: VPSieNodePhase;
  /** Deleted: terminated on request; CleanedUpAfterTtl: Failed then removed; VPSieNodeGone: the object vanished. */
  outcome: 'Deleted' | 'CleanedUpAfterTtl' | 'VPSieNodeGone';
  vpsieIdentifier?: string;
  lastError?: { reason: string; message: string };
  drain?: DrainNodeResult;
}

interface FailureInfo {
  type?: string;
  message: string;
  nonRetryable: boolean;
  operation?: string;
}

/** The ApplicationFailure inside an activity failure (others are rethrown: they are bugs). */
export function failureInfo(e: unknown): FailureInfo {
  const app = e instanceof ActivityFailure ? e.cause : e;
  if (app instanceof ApplicationFailure) {
    const d = (app.details?.[0] ?? undefined) as { operation?: unknown } | undefined;
    return {
      ...(app.type ? { type: app.type } : {}),
      message: app.message,
      nonRetryable: app.nonRetryable === true,
      ...(typeof d?.operation === 'string' ? { operation: d.operation } : {}),
    };
  }
  if (e instanceof ActivityFailure) return { message: e.cause?.message ?? e.message, nonRetryable: false };
  throw e;
}

/** Thrown inside the lifecycle when the VPSieNode object has vanished: the workflow then ends. */
export class VPSieNodeGone extends Error {}

export interface LifecycleContext {
  input: VPSieNodeLifecycleInput;
  ref: ObjectRef;
  st: CarriedLifecycle;
  settings: LifecycleSettings;
  kube: ActivityInterfaceFor<VPSieNodeActivities>;
  machines: ActivityInterfaceFor<VPSieMachineActivities>;
  machineInput: { vpsieNode: ObjectRef; nodeGroup: string };
  patches: LifecyclePatches;
  /** The VPSieNode is being deleted (its deletionTimestamp is set). */
  deleting(): boolean;
  /**
   * The run's history is long enough that a long loop should return to the main loop, which
   * continues as new (always false before PATCH_BOUNDED_LOOPS).
   */
  historyFull(): boolean;
  transition(
    to: VPSieNodePhase,
    reason: VPSieNodeReason,
    message: string,
    extra?: Partial<TransitionRecord> & { provisioningSeconds?: number; joiningSeconds?: number },
  ): Promise<void>;
  fail(reason: VPSieNodeErrorReason, message: string): Promise<void>;
  /** Waits up to `ms` for a deletion or a sync signal (then re-reads the object). */
  waitForChange(ms: number): Promise<void>;
  takeMachine(m: MachineStatus): void;
  /** Deletes the Node (if any) and the machine; returns what was done. */
  removeNodeAndMachine(): Promise<string>;
}
