import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { JoinConfigSchema } from '../../clients/vpsie/schemas';

export const MachineSchema = z.object({
  id: z.number().int(),
  identifier: z.string(),
  pendingId: z.string(),
  kind: z.enum(['vm', 'k8s-worker']),
  hostname: z.string(),
  planId: z.number().int(),
  dcIdentifier: z.string(),
  osIdentifier: z.string(),
  clusterIdentifier: z.string().nullable(),
  groupId: z.number().int().nullable(),
  publicIp: z.string(),
  privateIp: z.string(),
  notes: z.string().nullable(),
  tags: z.array(z.string()),
  processId: z.string().nullable(),
  projectId: z.string(),
  hasUserData: z.boolean(),
  /** Parsed join configuration from user data; null when the VM will not join. */
  joinConfig: JoinConfigSchema.nullable(),
  joinProblem: z.string().nullable(),
  requestedAt: z.number(),
  listedAt: z.number().nullable(),
  bootedAt: z.number().nullable(),
  deletedAt: z.number().nullable(),
  node: z.object({
    state: z.enum(['none', 'joined', 'left']),
    name: z.string().nullable(),
    error: z.string().nullable(),
    joinedAt: z.number().nullable(),
  }),
});
export type Machine = z.infer<typeof MachineSchema>;

export const ClusterSchema = z.object({
  id: z.number().int(),
  identifier: z.string(),
  cluster_name: z.string(),
  dcIdentifier: z.string(),
  kube_version: z.string(),
  masterCount: z.number().int(),
  createdAt: z.number(),
  deletedAt: z.number().nullable(),
  /** Labels every worker of this cluster registers with (beyond the group label). */
  workerLabels: z.record(z.string(), z.string()).default({}),
});
export type Cluster = z.infer<typeof ClusterSchema>;

export const GroupSchema = z.object({
  id: z.number().int(),
  identifier: z.string(),
  group_name: z.string(),
  clusterIdentifier: z.string(),
  planId: z.number().int(),
  createdAt: z.number(),
  deletedAt: z.number().nullable(),
});
export type Group = z.infer<typeof GroupSchema>;

export const StateSchema = z.object({
  version: z.literal(1),
  seq: z.number().int(),
  clientId: z.string(),
  clientSecret: z.string(),
  tokens: z.record(z.string(), z.object({ expiresAt: z.number(), kind: z.enum(['access', 'refresh']) })),
  machines: z.array(MachineSchema),
  clusters: z.array(ClusterSchema),
  groups: z.array(GroupSchema),
  counters: z.object({ logins: z.number().int(), requests: z.number().int(), creates: z.number().int() }),
});
export type SimState = z.infer<typeof StateSchema>;

export function emptyState(clientId: string, clientSecret: string): SimState {
  return {
    version: 1,
    seq: 1000,
    clientId,
    clientSecret,
    tokens: {},
    machines: [],
    clusters: [],
    groups: [],
    counters: { logins: 0, requests: 0, creates: 0 },
  };
}

export function loadState(file: string): SimState | undefined {
  if (!fs.existsSync(file)) return undefined;
  const parsed = StateSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export function saveState(file: string, state: SimState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}
