/**
 * An in-memory VPSieNode, its machine and its Node behind the lifecycle's activities, for tests
 * that drive the real lifecycle workflow on the sandbox's Temporal without a cluster or VPSie:
 * the test sets what the object says and how the machine behaves; calls are recorded.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { DeleteMachineResult, MachineStatus } from '../../../../activities/nodes/lifecycle/machines';
import type { FoundNode, LifecycleSettings, RecordTransitionInput, VPSieNodeObservation } from '../../../../activities/nodes/lifecycle/vpsienode';

export interface FakeNodeCall {
  name: string;
  input: unknown;
}

export class FakeNode {
  readonly calls: FakeNodeCall[] = [];
  observation: VPSieNodeObservation;
  /** What ensureMachine answers (default: booting, never running). */
  machine: MachineStatus = { state: 'booting', joinMethod: 'UserData', vpsieIdentifier: 'vps-1', hostname: 'vn-host', created: false, detail: 'booting' };
  /** The Node findNode answers (default none). */
  node: FoundNode | undefined;
  /** When set, deleteMachine fails with this (non-retryable) message. */
  deleteFails: string | undefined;

  constructor(observation: Partial<VPSieNodeObservation>) {
    this.observation = { exists: true, deleting: false, hasFinalizer: true, phaseTimes: {}, offeringID: 'small-2cpu-4gb', ...observation };
  }

  count(name: string): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  transitions(): string[] {
    return this.calls.filter((c) => c.name === 'recordTransition').map((c) => (c.input as RecordTransitionInput).to);
  }

  activities(settings: Partial<LifecycleSettings> = {}): Record<string, (...args: never[]) => Promise<unknown>> {
    const rec = (name: string, input: unknown): void => {
      this.calls.push({ name, input });
    };
    return {
      lifecycleSettings: async (): Promise<LifecycleSettings> => {
        rec('lifecycleSettings', undefined);
        return {
          provisionTimeoutSeconds: 3600,
          joinTimeoutSeconds: 3600,
          failedNodeTtlSeconds: 0,
          pollIntervalSeconds: 0.05,
          drainTimeoutSeconds: 60,
          maxPodGracePeriodSeconds: 10,
          ...settings,
        };
      },
      observeVPSieNode: async (ref: unknown): Promise<VPSieNodeObservation> => {
        rec('observeVPSieNode', ref);
        return { ...this.observation, phaseTimes: { ...this.observation.phaseTimes } };
      },
      ensureFinalizer: async (ref: unknown): Promise<boolean> => {
        rec('ensureFinalizer', ref);
        return true;
      },
      removeFinalizer: async (ref: unknown): Promise<void> => {
        rec('removeFinalizer', ref);
      },
      recordTransition: async (t: RecordTransitionInput): Promise<{ recorded: boolean }> => {
        rec('recordTransition', t);
        this.observation = { ...this.observation, phase: t.to };
        return { recorded: true };
      },
      recordVPSieNodeEvent: async (e: unknown): Promise<void> => {
        rec('recordVPSieNodeEvent', e);
      },
      countTtlDeletion: async (g: unknown): Promise<void> => {
        rec('countTtlDeletion', g);
      },
      findNode: async (q: unknown): Promise<FoundNode | undefined> => {
        rec('findNode', q);
        return this.node;
      },
      applyNodeGroupToNode: async (input: unknown): Promise<void> => {
        rec('applyNodeGroupToNode', input);
      },
      deleteNode: async (name: unknown): Promise<boolean> => {
        rec('deleteNode', name);
        return true;
      },
      deleteVPSieNode: async (ref: unknown): Promise<boolean> => {
        rec('deleteVPSieNode', ref);
        return true;
      },
      ensureMachine: async (input: unknown): Promise<MachineStatus> => {
        rec('ensureMachine', input);
        return { ...this.machine };
      },
      deleteMachine: async (input: unknown): Promise<DeleteMachineResult> => {
        rec('deleteMachine', input);
        if (this.deleteFails) throw ApplicationFailure.nonRetryable(this.deleteFails, 'VPSieAPIError');
        return { deleted: true, vpsieIdentifier: 'vps-1', detail: 'VPS vps-1 deleted' };
      },
    };
  }
}
