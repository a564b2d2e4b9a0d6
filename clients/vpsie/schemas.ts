/**
 * Zod schemas of the VPSie API as VPSie's own public clients use it (see
 * ../shared/docs/vpsie-api.md). Shared by the production client (response validation) and the
 * simulator (request validation). Inputs are lenient where VPSie is inconsistent: numbers may
 * arrive as strings, flags as 0/1 integers, "0"/"1" strings or booleans.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Lenient scalars

/** A number that may be encoded as a JSON number or a numeric string (govpsie `FlexString`). */
export const FlexNumber = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, 'not a number')
    .transform(Number),
]);

/** A 0/1 flag that may be encoded as an int, a "0"/"1" string or a boolean; always yields 0 | 1. */
export const Flag01 = z.union([z.number(), z.string(), z.boolean()]).transform((v): 0 | 1 => (v === true || v === 1 || v === '1' || v === 'true' ? 1 : 0));

/** A string that may arrive as a number (ids, project ids). */
export const FlexString = z.union([z.string(), z.number().transform(String)]);

const NullableString = z.string().nullable().optional();

// ---------------------------------------------------------------------------------------------
// Envelope

/** `{error, message?, code?}` on any answer; data and total vary. */
export const ErrorEnvelopeSchema = z.object({
  error: z.union([z.boolean(), z.number()]).transform((v) => v === true || v === 1),
  message: z.string().optional(),
  code: z.union([z.number(), z.string()]).optional(),
});

export function envelope<T extends z.ZodType>(data: T) {
  return z.object({
    error: z.literal(false).or(z.literal(0).transform(() => false as const)),
    data,
    total: z.union([FlexNumber, z.array(z.object({ count: FlexNumber }))]).optional(),
  });
}

/** Action endpoints answer `data: true`; tolerate objects (the earlier autoscaler saw some). */
export const ActionDataSchema = z.union([z.boolean(), z.record(z.string(), z.unknown()), z.null()]);

// ---------------------------------------------------------------------------------------------
// Authentication

export const LoginRequestSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

const TokenSchema = z.object({ token: z.string().min(1), expires: z.string() });

/** govpsie's login answer; the earlier autoscaler's `accessToken`/`refreshToken` form is also accepted. */
export const LoginResponseSchema = z
  .object({
    error: z.union([z.boolean(), z.number()]).optional(),
    token: z.object({ access: TokenSchema, refresh: TokenSchema.optional() }).optional(),
    accessToken: TokenSchema.optional(),
    refreshToken: TokenSchema.optional(),
  })
  .transform((v, ctx) => {
    const access = v.token?.access ?? v.accessToken;
    if (!access) {
      ctx.addIssue({ code: 'custom', message: 'login answer has no access token' });
      return z.NEVER;
    }
    return { access, refresh: v.token?.refresh ?? v.refreshToken };
  });
export type LoginResponse = z.output<typeof LoginResponseSchema>;

// ---------------------------------------------------------------------------------------------
// VMs

export const VmDataSchema = z.object({
  id: FlexNumber,
  identifier: z.string(),
  hostname: z.string(),
  user_id: FlexNumber.optional(),
  boxsize_id: FlexNumber.optional(),
  boximage_id: FlexNumber.optional(),
  datacenter_id: FlexNumber.optional(),
  default_ip: NullableString,
  default_ipv6: NullableString,
  private_ip: NullableString,
  publicIp: NullableString,
  ram: FlexNumber,
  cpu: FlexNumber,
  ssd: FlexNumber,
  traffic: FlexNumber.optional(),
  is_active: Flag01,
  is_deleted: Flag01.optional(),
  is_suspended: Flag01.optional(),
  is_terminated: Flag01.optional(),
  is_locked: Flag01.optional(),
  power: Flag01.optional(),
  notes: NullableString,
  created_on: z.string().optional(),
  last_updated: z.string().optional(),
  dcIdentifier: z.string().optional(),
  projectId: FlexString.optional(),
  project_id: FlexString.optional(),
  category: NullableString,
  vmType: NullableString,
  /** Only the earlier autoscaler's dialect; VPSie itself has no status string. */
  status: z.string().optional(),
});
export type VmData = z.output<typeof VmDataSchema>;

export const VmDetailSchema = z.object({
  vmData: VmDataSchema,
  imageCategories: z.array(z.unknown()).optional(),
  vmTags: z.array(z.unknown()).optional(),
  privateIpData: z.array(z.unknown()).optional(),
  floatingIpData: z.array(z.unknown()).optional(),
});

export const VmStatusSchema = z.object({
  status: z.string(),
  uptime: FlexNumber.optional(),
  cpu: FlexNumber.optional(),
});
export type VmStatus = z.output<typeof VmStatusSchema>;

export const PendingVmSchema = z.object({
  id: FlexString,
  user_id: FlexNumber.optional(),
  data: z.object({
    hostname: z.string(),
    resourceIdentifier: z.string().optional(),
    osIdentifier: z.string().optional(),
    dcIdentifier: z.string().optional(),
    processId: z.string().optional(),
  }),
  running: FlexNumber.optional(),
  type: z.string().optional(),
});
export type PendingVm = z.output<typeof PendingVmSchema>;

/** CreateServerRequest as govpsie / Terraform send it: flags are "0"/"1" strings. */
export const CreateVmRequestSchema = z.object({
  resourceIdentifier: z.string().min(1),
  osIdentifier: z.string().min(1),
  dcIdentifier: z.string().min(1),
  hostname: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-.]*[a-zA-Z0-9])?$/, 'invalid hostname'),
  notes: z.string().optional(),
  backupEnabled: Flag01.optional(),
  weeklyBackupEnabled: Flag01.optional(),
  monthlyBackupEnabled: Flag01.optional(),
  addPublicIpV4: Flag01.optional(),
  addPublicIpV6: Flag01.optional(),
  addPrivateIp: Flag01.optional(),
  sshKeyIdentifier: z.string().optional(),
  projectId: FlexString.optional(),
  vmPassword: z.string().optional(),
  processId: z.string().optional(),
  createFromPool: z.string().optional(),
  isGeneratedPassword: FlexNumber.optional(),
  tags: z.array(z.string()).optional(),
  scriptIdentifier: z.string().optional(),
  userData: z.string().optional(),
  ssd: FlexNumber.optional(),
});
export type CreateVmRequest = z.input<typeof CreateVmRequestSchema>;

export const DeleteVmRequestSchema = z.object({
  vmIdentifier: z.string().min(1),
  password: z.string().optional(),
  deleteStatistic: z.object({ reason: z.string().optional(), note: z.string().optional() }).optional(),
});

// ---------------------------------------------------------------------------------------------
// Catalogue

export const PlanCategorySchema = z.object({ identifier: z.string(), name: z.string() });
export type PlanCategory = z.output<typeof PlanCategorySchema>;

export const PlanSchema = z.object({
  identifier: z.string(),
  nickname: z.string(),
  cpu: FlexNumber,
  ram: FlexNumber,
  ssd: FlexNumber,
  traffic: FlexNumber,
  price: FlexNumber,
  net_speed: FlexNumber.optional(),
  /** Numeric size id (`boxsize_id`, `KubeSizeID`); not in govpsie's ResourcePlan, present in the simulator. */
  id: FlexNumber.optional(),
  category: z.string().optional(),
  planCatIdentifier: z.string().optional(),
});
export type Plan = z.output<typeof PlanSchema>;

export const PlansRequestSchema = z.object({
  dcIdentifier: z.string().optional(),
  osIdentifier: z.string().optional(),
  planCatIdentifier: z.string().optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  isCustom: FlexString.optional(),
});

export const K8sOfferSchema = z.object({
  id: FlexNumber,
  name: z.string(),
  cpu: FlexNumber,
  ram: FlexNumber,
  disk: FlexNumber,
  price: FlexNumber,
  hourly_price: FlexNumber.optional(),
});
export type K8sOffer = z.output<typeof K8sOfferSchema>;

export const DatacenterSchema = z.object({
  identifier: z.string(),
  dc_name: z.string(),
  dc_image: NullableString,
  state: NullableString,
  country: NullableString,
  is_active: Flag01,
  default_selected: Flag01.optional(),
  is_deleted: Flag01.optional(),
  is_fip_available: Flag01.optional(),
  is_bucket_available: Flag01.optional(),
  is_private: Flag01.optional(),
});
export type Datacenter = z.output<typeof DatacenterSchema>;

/** OS templates. VPSie publishes no list endpoint; the simulator serves `GET {prefix}/images`. */
export const OsImageSchema = z.object({
  identifier: z.string(),
  name: z.string(),
  os: z.string().optional(),
  version: z.string().optional(),
});
export type OsImage = z.output<typeof OsImageSchema>;

// ---------------------------------------------------------------------------------------------
// Managed Kubernetes

export const K8sClusterSummarySchema = z.object({
  identifier: z.string(),
  cluster_name: z.string(),
  count: FlexNumber.optional(),
  created_on: z.string().optional(),
  managerCount: FlexNumber.optional(),
  slaveCount: FlexNumber.optional(),
  price: FlexNumber.optional(),
});
export type K8sClusterSummary = z.output<typeof K8sClusterSummarySchema>;

export const K8sNodeSchema = z.object({
  id: FlexNumber,
  hostname: z.string(),
  default_ip: NullableString,
  private_ip: NullableString,
  node_type: FlexNumber.optional(),
  node_id: FlexNumber.optional(),
  datacenter_id: FlexNumber.optional(),
  created_on: z.string().optional(),
  /** Absent in govpsie's Node; the earlier autoscaler and the simulator include it. */
  identifier: z.string().optional(),
  /** Simulator extension: which node group the node belongs to. */
  group_id: FlexNumber.nullable().optional(),
});
export type K8sNode = z.output<typeof K8sNodeSchema>;

export const K8sClusterSchema = K8sClusterSummarySchema.extend({
  nodes: z.array(K8sNodeSchema).default([]),
});
export type K8sCluster = z.output<typeof K8sClusterSchema>;

export const NodeGroupSchema = z.object({
  id: FlexNumber,
  identifier: z.string(),
  group_name: z.string(),
  boxsize_id: FlexNumber,
  cpu: FlexNumber.optional(),
  ram: FlexNumber.optional(),
  ssd: FlexNumber.optional(),
  traffic: FlexNumber.optional(),
  nodes_count: FlexNumber,
  is_active: Flag01.optional(),
  is_deleted: Flag01.optional(),
  cluster_id: FlexNumber.optional(),
  dcIdentifier: z.string().optional(),
  created_on: z.string().optional(),
  notes: NullableString,
});
export type NodeGroup = z.output<typeof NodeGroupSchema>;

export const CreateNodeGroupRequestSchema = z.object({
  clusterIdentifier: z.string().min(1),
  groupName: z.string().min(1),
  KubeSizeID: FlexNumber,
});
export type CreateNodeGroupRequest = z.input<typeof CreateNodeGroupRequestSchema>;

export const CreateClusterRequestSchema = z.object({
  clusterName: z.string().min(1),
  dcIdentifier: z.string().min(1),
  nodesCountMaster: FlexNumber.optional(),
  nodesCountSlave: FlexNumber.optional(),
  vpcId: FlexNumber.optional(),
  kuberVer: FlexString.optional(),
  resourceIdentifier: z.string().optional(),
  projectIdentifier: z.string().optional(),
});

export const ReduceGroupRequestSchema = z.object({ groupId: FlexNumber });
export const DeleteWorkerRequestSchema = z.object({ identifier: z.string().min(1) });

// ---------------------------------------------------------------------------------------------
// Bootstrap join configuration (written by clients/vpsie/bootstrap.ts; see BOOTSTRAP.md)

export const JOIN_CONFIG_PATH = '/etc/vpsie-orchestrator/join.json';

export const TaintSchema = z.object({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});
export type Taint = z.infer<typeof TaintSchema>;

export const JoinConfigSchema = z.object({
  apiVersion: z.literal('orchestrator.vpsie.com/v1'),
  kind: z.literal('JoinConfiguration'),
  apiServer: z.string().url(),
  bootstrapToken: z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/, 'bootstrap token must be <6>.<16> lowercase alphanumerics'),
  caCertHashes: z.array(z.string()).default([]),
  caCertificate: z.string().optional(),
  nodeGroup: z.string().min(1),
  nodeLabels: z.record(z.string(), z.string()).default({}),
  taints: z.array(TaintSchema).default([]),
  kubeletExtraArgs: z.record(z.string(), z.string()).default({}),
  /** The Kubernetes version the node's kubelet and kubeadm join with (NodeGroup spec.kubernetesVersion, else the configured default). */
  kubernetesVersion: z
    .string()
    .regex(/^v?[0-9]+\.[0-9]+(\.[0-9]+)?$/)
    .optional(),
});
export type JoinConfig = z.output<typeof JoinConfigSchema>;
export type JoinConfigInput = z.input<typeof JoinConfigSchema>;
