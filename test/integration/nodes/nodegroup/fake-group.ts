/**
 * An in-memory NodeGroup and its VPSieNodes behind the NodeGroup workflow's activities, for tests
 * that drive the real workflow on the sandbox's Temporal without a cluster: what the workflow reads
 * (the object) is set by the test, what it does (creations, deletions, status) is recorded.
 */
import type { GroupView, NodeGroupActivities, ObservedNode } from '../../../../activities/nodes/nodegroup';
import type { GroupStatusInput } from '../../../../decision/nodes/nodegroup';

export interface FakeCall {
  name: keyof NodeGroupActivities;
  input: unknown;
}

export class FakeGroup {
  readonly calls: FakeCall[] = [];
  readonly nodes = new Map<string, ObservedNode>();
  lastStatus: GroupStatusInput | undefined;
  view: GroupView;

  constructor(spec: { minNodes: number; maxNodes: number }, status?: { desiredNodes?: number }) {
    this.view = {
      uid: 'uid-1',
      generation: 1,
      deleting: false,
      hasFinalizer: true,
      minNodes: spec.minNodes,
      maxNodes: spec.maxNodes,
      offerings: ['small-2cpu-4gb'],
      defaultOffering: 'small-2cpu-4gb',
      dryRun: false,
      scaleUpEnabled: true,
      scaleDownEnabled: true,
      scaleUpCooldownSeconds: 0,
      scaleDownCooldownSeconds: 0,
      ...(status?.desiredNodes !== undefined ? { statusDesiredNodes: status.desiredNodes } : {}),
    };
  }

  /** `count` Ready VPSieNodes, created a minute apart (the last is the newest). */
  addReady(prefix: string, count: number): string[] {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${prefix}-${i}`;
      this.nodes.set(name, {
        name,
        phase: 'Ready',
        offeringID: 'small-2cpu-4gb',
        nodeName: `node-${name}`,
        createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
        deleting: false,
      });
      names.push(name);
    }
    return names;
  }

  count(name: keyof NodeGroupActivities): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  deleted(): string[] {
    return this.calls.filter((c) => c.name === 'deleteVPSieNodes').flatMap((c) => (c.input as { names: string[] }).names);
  }

  activities(): NodeGroupActivities {
    const rec = (name: keyof NodeGroupActivities, input: unknown): void => {
      this.calls.push({ name, input });
    };
    return {
      readNodeGroup: async (ref) => {
        rec('readNodeGroup', ref);
        return { ...this.view };
      },
      listGroupVPSieNodes: async (ref) => {
        rec('listGroupVPSieNodes', ref);
        return [...this.nodes.values()].map((n) => ({ ...n }));
      },
      createVPSieNodes: async (input) => {
        rec('createVPSieNodes', input);
        for (const n of input.nodes) this.nodes.set(n.name, { name: n.name, phase: 'Pending', offeringID: n.offeringID, deleting: false });
        return input.nodes.map((n) => n.name);
      },
      deleteVPSieNodes: async (input) => {
        rec('deleteVPSieNodes', input);
        for (const name of input.names) {
          const n = this.nodes.get(name);
          if (n) n.deleting = true;
        }
        return input.names;
      },
      setNodeGroupFinalizer: async (input) => {
        rec('setNodeGroupFinalizer', input);
        return true;
      },
      writeNodeGroupStatus: async (input) => {
        rec('writeNodeGroupStatus', input);
        this.lastStatus = input.status;
      },
      recordNodeGroupEvent: async (input) => {
        rec('recordNodeGroupEvent', input);
      },
      clearNodeGroupMetrics: async (input) => {
        rec('clearNodeGroupMetrics', input);
      },
      countScaleOperation: async (input) => {
        rec('countScaleOperation', input);
      },
    };
  }
}
