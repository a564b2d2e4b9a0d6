/**
 * The simulated VPSie account: catalogue, machines, managed clusters and node groups, tokens,
 * lifecycle (pending → listed → booted → joined), billing and persistence. The HTTP layer
 * (server.ts) maps requests onto `handle()`; this file has no sockets.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import {
  CreateClusterRequestSchema,
  CreateNodeGroupRequestSchema,
  CreateVmRequestSchema,
  DeleteVmRequestSchema,
  DeleteWorkerRequestSchema,
  LoginRequestSchema,
  PlansRequestSchema,
  ReduceGroupRequestSchema,
} from '../../clients/vpsie/schemas';
import { logger } from '../../lib/log';
import { defaultCatalogue, findDatacenter, findImage, findPlan, HOURS_PER_MONTH, type Catalogue, type SimPlan } from './catalogue';
import { SimConfigSchema, type SimConfig } from './config';
import { buildNode, parseJoinUserData, type NodeJoiner } from './node';
import { emptyState, loadState, saveState, type Cluster, type Group, type Machine, type SimState } from './state';

const log = logger('vpsie-sim');

export interface SimRequest {
  method: string;
  /** Path after the `/apps/v2` | `/api/v2` | `/v2` prefix, e.g. `/vm/pending`. */
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** Set when the body could not be parsed. */
  bodyError?: string;
  token: string | undefined;
  remote: string;
}

export interface SimResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** `status`: non-2xx JSON; `ok200`: HTTP 200 with error:true (VPSie does both). */
    readonly form: 'status' | 'ok200' = 'status',
  ) {
    super(message);
  }
}

const ok = (data: unknown, total?: number): SimResponse => ({
  status: 200,
  body: total === undefined ? { error: false, data } : { error: false, data, total },
});

export interface SimulatorOptions {
  clientId?: string;
  clientSecret?: string;
  stateFile?: string;
  config?: SimConfig;
  catalogue?: Catalogue;
  joiner?: NodeJoiner;
  /** Create this managed cluster record if no cluster exists (the sandbox cluster). */
  sandboxCluster?: { name: string; datacenter: string; identifier?: string };
  now?: () => number;
}

function validate<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ApiError(400, i ? `"${i.path.join('.') || 'body'}" ${i.message}` : 'Invalid request');
  }
  return r.data;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export class Simulator {
  state: SimState;
  config: SimConfig;
  readonly catalogue: Catalogue;
  private readonly joiner: NodeJoiner | undefined;
  private readonly stateFile: string | undefined;
  private readonly now: () => number;
  private joining = new Set<number>();
  private dirty = false;

  constructor(opts: SimulatorOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.config = opts.config ?? SimConfigSchema.parse({});
    this.catalogue = opts.catalogue ?? defaultCatalogue();
    this.joiner = opts.joiner;
    this.stateFile = opts.stateFile;
    const loaded = this.stateFile ? loadState(this.stateFile) : undefined;
    const clientId = opts.clientId ?? loaded?.clientId ?? `sandbox-${randomBytes(6).toString('hex')}`;
    const clientSecret = opts.clientSecret ?? loaded?.clientSecret ?? randomBytes(24).toString('base64url');
    this.state = loaded ?? emptyState(clientId, clientSecret);
    this.state.clientId = clientId;
    this.state.clientSecret = clientSecret;
    if (opts.sandboxCluster && !this.state.clusters.some((c) => c.deletedAt === null)) {
      const dc = findDatacenter(this.catalogue, opts.sandboxCluster.datacenter) ?? this.catalogue.datacenters[0]!;
      this.state.clusters.push({
        id: this.nextId(),
        identifier: opts.sandboxCluster.identifier ?? this.uuid(),
        cluster_name: opts.sandboxCluster.name,
        dcIdentifier: dc.identifier,
        kube_version: '1.31',
        masterCount: 1,
        createdAt: this.now(),
        deletedAt: null,
        workerLabels: {},
      });
    }
    this.persist();
  }

  // ------------------------------------------------------------------------------ helpers

  private nextId(): number {
    this.state.seq += 1;
    return this.state.seq;
  }

  /** UUID v1-looking identifier (VPSie style). */
  uuid(): string {
    const h = randomBytes(16).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-11${h.slice(14, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }

  private markDirty(): void {
    this.dirty = true;
  }

  /** Writes the state file if anything changed. */
  persist(): void {
    if (!this.stateFile) return;
    saveState(this.stateFile, this.state);
    this.dirty = false;
  }

  flush(): void {
    if (this.dirty) this.persist();
  }

  private planOf(m: Machine): SimPlan {
    return this.catalogue.plans.find((p) => p.id === m.planId) ?? this.catalogue.plans[0]!;
  }

  private alive(): Machine[] {
    return this.state.machines.filter((m) => m.deletedAt === null);
  }

  private ip(prefix: string): string {
    const b = randomBytes(2);
    return `${prefix}.${(b[0]! % 250) + 2}.${(b[1]! % 250) + 2}`;
  }

  // ------------------------------------------------------------------------------ auth

  issueTokens(): { access: { token: string; expires: string }; refresh: { token: string; expires: string } } {
    const now = this.now();
    const access = randomBytes(24).toString('hex');
    const refresh = randomBytes(24).toString('hex');
    const accessExp = now + this.config.tokenTtlSeconds * 1000;
    const refreshExp = now + this.config.tokenTtlSeconds * 1000 * 24;
    this.state.tokens[access] = { expiresAt: accessExp, kind: 'access' };
    this.state.tokens[refresh] = { expiresAt: refreshExp, kind: 'refresh' };
    for (const [t, v] of Object.entries(this.state.tokens)) if (v.expiresAt < now) delete this.state.tokens[t];
    this.state.counters.logins += 1;
    this.markDirty();
    return {
      access: { token: access, expires: new Date(accessExp).toISOString() },
      refresh: { token: refresh, expires: new Date(refreshExp).toISOString() },
    };
  }

  tokenValid(token: string | undefined): boolean {
    if (!token) return false;
    const t = this.state.tokens[token];
    return t !== undefined && t.kind === 'access' && t.expiresAt > this.now();
  }

  /** Admin: expire every issued access token (token expiry mid-run). */
  expireTokens(): number {
    let n = 0;
    for (const [k, v] of Object.entries(this.state.tokens)) {
      if (v.kind === 'access') {
        delete this.state.tokens[k];
        n++;
      }
    }
    this.markDirty();
    return n;
  }

  // ------------------------------------------------------------------------------ lifecycle

  /** Moves machines along pending → listed → booted and joins/leaves Nodes. Cheap; call often. */
  advance(): void {
    const now = this.now();
    for (const m of this.state.machines) {
      if (m.deletedAt !== null) {
        if (m.node.state === 'joined') this.leaveNode(m);
        continue;
      }
      const listDelay = Math.max(this.config.provisioningDelayMs, m.kind === 'vm' ? this.config.createVisibilityDelayMs : 0);
      if (m.listedAt === null && now >= m.requestedAt + listDelay) {
        m.listedAt = Math.max(m.requestedAt, Math.min(now, m.requestedAt + listDelay));
        this.markDirty();
      }
      if (m.listedAt !== null && m.bootedAt === null && now >= m.listedAt + this.config.bootDelayMs) {
        m.bootedAt = Math.max(m.listedAt, Math.min(now, m.listedAt + this.config.bootDelayMs));
        this.markDirty();
      }
      if (m.bootedAt !== null && m.node.state === 'none') this.joinNode(m);
    }
  }

  private joinSpec(m: Machine):
    | {
        labels: Record<string, string>;
        taints: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
        kubernetesVersion?: string;
      }
    | undefined {
    if (m.kind === 'k8s-worker') {
      const cluster = this.state.clusters.find((c) => c.identifier === m.clusterIdentifier);
      const group = this.state.groups.find((g) => g.id === m.groupId);
      return {
        labels: { ...(cluster?.workerLabels ?? {}), ...(group ? { 'vpsie.com/node-group': group.group_name } : {}) },
        taints: [],
        // A managed cluster's workers run the cluster's version.
        ...(cluster ? { kubernetesVersion: cluster.kube_version } : {}),
      };
    }
    if (!m.joinConfig) return undefined;
    if (this.config.joinToken !== null && m.joinConfig.bootstrapToken !== this.config.joinToken) return undefined;
    return {
      labels: m.joinConfig.nodeLabels,
      taints: m.joinConfig.taints,
      ...(m.joinConfig.kubernetesVersion !== undefined ? { kubernetesVersion: m.joinConfig.kubernetesVersion } : {}),
    };
  }

  private joinNode(m: Machine): void {
    const spec = this.joinSpec(m);
    if (!spec || !this.joiner || this.joining.has(m.id)) return;
    const plan = this.planOf(m);
    const dc = findDatacenter(this.catalogue, m.dcIdentifier);
    const node = buildNode({
      hostname: m.hostname,
      identifier: m.identifier,
      cpu: plan.cpu,
      ramMb: plan.ram,
      ssdGb: plan.ssd,
      privateIp: m.privateIp,
      publicIp: m.publicIp,
      instanceType: plan.nickname,
      region: dc?.dc_name ?? 'unknown',
      labels: spec.labels,
      taints: spec.taints,
      ...(spec.kubernetesVersion !== undefined ? { kubernetesVersion: spec.kubernetesVersion } : {}),
    });
    this.joining.add(m.id);
    this.joiner
      .join(node)
      .then(() => {
        if (m.deletedAt !== null) return this.joiner?.leave(node.metadata?.name ?? '');
        m.node = { state: 'joined', name: node.metadata?.name ?? null, error: null, joinedAt: this.now() };
        this.markDirty();
        log.info('machine joined the cluster', { hostname: m.hostname, identifier: m.identifier });
        return undefined;
      })
      .catch((e: unknown) => {
        m.node.error = e instanceof Error ? e.message : String(e);
        log.warn('node join failed; will retry', { hostname: m.hostname, error: m.node.error });
      })
      .finally(() => this.joining.delete(m.id));
  }

  private leaveNode(m: Machine): void {
    if (!this.joiner || this.joining.has(m.id) || !m.node.name) return;
    const name = m.node.name;
    this.joining.add(m.id);
    this.joiner
      .leave(name)
      .then(() => {
        m.node.state = 'left';
        this.markDirty();
      })
      .catch((e: unknown) => {
        m.node.error = e instanceof Error ? e.message : String(e);
      })
      .finally(() => this.joining.delete(m.id));
  }

  /** True while node joins/leaves are in flight. */
  get busy(): boolean {
    return this.joining.size > 0;
  }

  // ------------------------------------------------------------------------------ views

  vmData(m: Machine): Record<string, unknown> {
    const plan = this.planOf(m);
    const dc = findDatacenter(this.catalogue, m.dcIdentifier);
    const img = findImage(this.catalogue, m.osIdentifier);
    const booted = m.bootedAt !== null && m.deletedAt === null;
    const category = this.catalogue.categories.find((c) => c.identifier === plan.categoryIdentifier);
    return {
      id: m.id,
      user_id: 1,
      boxsize_id: plan.id,
      boximage_id: img?.id ?? 0,
      datacenter_id: dc?.id ?? 0,
      node_id: 1,
      boxdiscount_id: null,
      hostname: m.hostname,
      default_ip: m.publicIp,
      default_ipv6: null,
      private_ip: m.privateIp,
      publicIp: m.publicIp,
      ram: plan.ram,
      cpu: plan.cpu,
      ssd: plan.ssd,
      traffic: plan.traffic,
      box_virtualization_id: 'kvm',
      is_active: booted ? 1 : 0,
      is_deleted: m.deletedAt !== null ? 1 : 0,
      is_suspended: 0,
      is_terminated: 0,
      is_locked: 0,
      power: booted ? 1 : 0,
      is_autobackup: 0,
      identifier: m.identifier,
      projectId: m.projectId,
      initial_password: '',
      notes: m.notes,
      created_on: iso(m.listedAt ?? m.requestedAt),
      last_updated: iso(m.bootedAt ?? m.listedAt ?? m.requestedAt),
      dropped_on: iso(m.deletedAt),
      last_action_date: iso(m.bootedAt ?? m.listedAt),
      firstname: 'Sandbox',
      lastname: 'User',
      username: 'sandbox',
      fullname: 'Sandbox User',
      state: dc?.state ?? '',
      dcIdentifier: m.dcIdentifier,
      category: category?.name ?? null,
      vmDescription: m.kind === 'k8s-worker' ? 'Kubernetes worker' : (img?.name ?? ''),
      vmType: m.kind === 'k8s-worker' ? 'k8s' : 'vm',
      is_fip_available: 1,
      is_bucket_available: 1,
      is_sata_available: 0,
      is_ssd_available: 1,
      boxes_suspended: 0,
      weekly_backup: 0,
      monthly_backup: 0,
      daily_snapshot: 0,
      weekly_snapshot: 0,
      monthly_snap: 0,
      custom_price: null,
      is_custom: 0,
      in_pcs: 0,
      payable_license: 0,
      last_license_pay: null,
      added_ip_addresses: null,
      nr_added_ips: 0,
      script_id: null,
      sshkey_id: null,
      is_work_with_new_version: 1,
      old_id: 0,
      custom_iso_id: null,
      lib_iso_id: null,
      is_iso_image_bootable: 0,
      has_ssl: 0,
      is_created_from_legacy: 0,
      is_smtp_allowed: 0,
      last_action_in_min: 0,
      status: booted ? 'running' : 'pending',
    };
  }

  private pendingView(m: Machine): Record<string, unknown> {
    return {
      id: m.pendingId,
      user_id: 1,
      data: {
        resourceIdentifier: this.planOf(m).identifier,
        osIdentifier: m.osIdentifier,
        dcIdentifier: m.dcIdentifier,
        hostname: m.hostname,
        addPublicIpV4: true,
        projectId: Number(m.projectId) || 0,
        processId: m.processId ?? '',
        sshKeyIdentifier: '',
        scriptIdentifier: '',
        isGeneratedPassword: 1,
        requestIp: '127.0.0.1',
        isCreateFromLibrary: false,
      },
      resourceData: {},
      datacenter: [],
      osData: {},
      running: 1,
      type: 'create',
    };
  }

  private findMachine(ref: string): Machine | undefined {
    return this.alive().find((m) => m.listedAt !== null && (m.identifier === ref || String(m.id) === ref));
  }

  private cluster(ref: string): Cluster {
    const c = this.state.clusters.find((x) => x.deletedAt === null && (x.identifier === ref || String(x.id) === ref));
    if (!c) throw new ApiError(404, 'Not found');
    return c;
  }

  private groupsOf(c: Cluster): Group[] {
    return this.state.groups.filter((g) => g.deletedAt === null && g.clusterIdentifier === c.identifier);
  }

  private workersOf(c: Cluster): Machine[] {
    return this.alive().filter((m) => m.kind === 'k8s-worker' && m.clusterIdentifier === c.identifier);
  }

  private clusterSummary(c: Cluster): Record<string, unknown> {
    const workers = this.workersOf(c);
    const price = workers.reduce((s, m) => s + this.planOf(m).price, 0);
    return {
      cluster_name: c.cluster_name,
      identifier: c.identifier,
      count: c.masterCount + workers.length,
      created_on: iso(c.createdAt),
      updated_on: iso(c.createdAt),
      created_by: 'sandbox',
      nickname: c.cluster_name,
      cpu: workers.reduce((s, m) => s + this.planOf(m).cpu, 0),
      ram: workers.reduce((s, m) => s + this.planOf(m).ram, 0),
      traffic: 0,
      color: '#3a7bd5',
      price,
      managerCount: c.masterCount,
      slaveCount: workers.length,
      user_id: 1,
      kube_version: c.kube_version,
      lock: 0,
      upgrade_version: null,
      lb_id: null,
    };
  }

  private groupView(g: Group): Record<string, unknown> {
    const plan = this.catalogue.plans.find((p) => p.id === g.planId)!;
    const c = this.state.clusters.find((x) => x.identifier === g.clusterIdentifier);
    const dc = c ? findDatacenter(this.catalogue, c.dcIdentifier) : undefined;
    const nodes = this.alive().filter((m) => m.kind === 'k8s-worker' && m.groupId === g.id).length;
    return {
      id: g.id,
      group_name: g.group_name,
      user_id: 1,
      boxsize_id: plan.id,
      datacenter_id: dc?.id ?? 0,
      ram: plan.ram,
      cpu: plan.cpu,
      ssd: plan.ssd,
      traffic: plan.traffic,
      notes: null,
      created_on: iso(g.createdAt),
      last_updated: iso(g.createdAt),
      dropped_on: iso(g.deletedAt),
      is_active: 1,
      is_deleted: g.deletedAt !== null ? 1 : 0,
      identifier: g.identifier,
      project_id: 0,
      cluster_id: c?.id ?? 0,
      nodes_count: nodes,
      dcIdentifier: c?.dcIdentifier ?? '',
    };
  }

  // ------------------------------------------------------------------------------ mutations

  private checkQuota(): void {
    if (this.alive().length >= this.config.maxMachines) {
      throw new ApiError(403, `Resource quota exceeded: your account may run at most ${this.config.maxMachines} servers`);
    }
  }

  private newMachine(fields: Partial<Machine> & Pick<Machine, 'kind' | 'hostname' | 'planId' | 'dcIdentifier' | 'osIdentifier'>): Machine {
    const m: Machine = {
      id: this.nextId(),
      identifier: this.uuid(),
      pendingId: String(this.nextId()),
      clusterIdentifier: null,
      groupId: null,
      publicIp: this.ip('203.0'),
      privateIp: this.ip('10.10'),
      notes: null,
      tags: [],
      processId: null,
      projectId: '0',
      hasUserData: false,
      joinConfig: null,
      joinProblem: null,
      requestedAt: this.now(),
      listedAt: null,
      bootedAt: null,
      deletedAt: null,
      node: { state: 'none', name: null, error: null, joinedAt: null },
      ...fields,
    };
    this.state.machines.push(m);
    this.state.counters.creates += 1;
    this.markDirty();
    return m;
  }

  private deleteMachine(m: Machine): void {
    m.deletedAt = this.now();
    this.markDirty();
    if (m.node.state === 'joined') this.leaveNode(m);
  }

  private addWorker(c: Cluster, g: Group | undefined): Machine {
    if (this.workersOf(c).length >= this.config.maxWorkersPerCluster) {
      throw new ApiError(200, 'Worker nodes count exceeds the allowed limit', 'ok200');
    }
    this.checkQuota();
    const dc = findDatacenter(this.catalogue, c.dcIdentifier);
    const planId = g?.planId ?? this.catalogue.plans.find((p) => p.nickname === 'small-2cpu-4gb')?.id ?? this.catalogue.plans[0]!.id;
    const dcSlug = (dc?.dc_name ?? 'dc').replace(/[^a-z0-9]/gi, '').toLowerCase();
    const hostname = `${dcSlug}-kubernetes-${c.identifier.slice(0, 8)}-slave-${randomBytes(4).toString('hex')}`;
    return this.newMachine({
      kind: 'k8s-worker',
      hostname,
      planId,
      dcIdentifier: c.dcIdentifier,
      osIdentifier: this.catalogue.images[0]!.identifier,
      clusterIdentifier: c.identifier,
      groupId: g?.id ?? null,
    });
  }

  // ------------------------------------------------------------------------------ API

  handle(req: SimRequest): SimResponse {
    if (req.bodyError) throw new ApiError(400, req.bodyError);
    const { method } = req;
    const p = req.path.replace(/\/+$/, '') || '/';
    let m: RegExpMatchArray | null;
    const b = req.body;

    // --- VMs (served under every prefix)
    if (method === 'GET' && p === '/vm') {
      const listed = this.alive()
        .filter((x) => x.listedAt !== null)
        .sort((a, z) => a.id - z.id);
      const offset = Math.max(0, Number(req.query.get('offset') ?? 0) || 0);
      const limitRaw = req.query.get('limit');
      const limit = limitRaw === null ? listed.length : Math.max(0, Number(limitRaw) || 0);
      return ok(
        listed.slice(offset, offset + limit).map((x) => this.vmData(x)),
        listed.length,
      );
    }
    if (method === 'GET' && p === '/vm/pending') {
      return ok(
        this.alive()
          .filter((x) => x.kind === 'vm' && x.listedAt === null && this.now() >= x.requestedAt + this.config.createVisibilityDelayMs)
          .map((x) => this.pendingView(x)),
      );
    }
    if (method === 'GET' && (m = p.match(/^\/vm\/status\/([^/]+)$/))) {
      const vm = this.findMachine(decodeURIComponent(m[1]!));
      if (!vm) throw new ApiError(404, 'Not found');
      const running = vm.bootedAt !== null;
      return ok({
        cpu: running ? 0.02 : 0,
        ballon: 0,
        uptime: running ? Math.floor((this.now() - vm.bootedAt!) / 1000) : 0,
        pid: running ? 1000 + vm.id : 0,
        disk: 0,
        'running-machine': running ? 'pc-i440fx-8.0' : '',
        'running-qemu': running ? '8.0.2' : '',
        status: running ? 'running' : 'stopped',
        diskread: 0,
        diskwrite: 0,
        fullname: vm.hostname,
      });
    }
    if (method === 'GET' && (m = p.match(/^\/vm\/([^/]+)$/))) {
      const vm = this.findMachine(decodeURIComponent(m[1]!));
      if (!vm) throw new ApiError(404, 'Not found');
      return ok({ vmData: this.vmData(vm), imageCategories: [], vmTags: vm.tags, privateIpData: [], floatingIpData: [] });
    }
    if (method === 'POST' && (p === '/vm' || p === '/custom/vm')) {
      const r = validate(CreateVmRequestSchema, b);
      const plan = findPlan(this.catalogue, r.resourceIdentifier);
      if (!plan) throw new ApiError(404, 'Resource plan not found');
      const dc = findDatacenter(this.catalogue, r.dcIdentifier);
      if (!dc) throw new ApiError(404, 'Datacenter not found');
      const img = findImage(this.catalogue, r.osIdentifier);
      if (!img) throw new ApiError(404, 'OS image not found');
      this.checkQuota();
      const parsed = parseJoinUserData(r.userData);
      this.newMachine({
        kind: 'vm',
        hostname: r.hostname,
        planId: plan.id,
        dcIdentifier: dc.identifier,
        osIdentifier: img.identifier,
        notes: r.notes ?? null,
        tags: r.tags ?? [],
        processId: r.processId ?? null,
        projectId: r.projectId ?? '0',
        hasUserData: r.userData !== undefined && r.userData !== '',
        joinConfig: parsed.ok ? parsed.config : null,
        joinProblem: parsed.ok ? null : parsed.reason,
      });
      return ok(true);
    }
    if (method === 'DELETE' && (p === '/vm' || /^\/vm\/[^/]+$/.test(p))) {
      const ref = p === '/vm' ? validate(DeleteVmRequestSchema, b).vmIdentifier : decodeURIComponent(p.slice('/vm/'.length));
      const vm = this.findMachine(ref);
      if (!vm) throw new ApiError(404, 'Not found');
      this.deleteMachine(vm);
      return ok(true);
    }

    // --- catalogue
    if (method === 'GET' && (p === '/plans/category' || p === '/plan/category')) {
      return ok(this.catalogue.categories.map((c) => ({ identifier: c.identifier, name: c.name })));
    }
    if ((method === 'POST' || method === 'GET') && p === '/resources') {
      const r = validate(PlansRequestSchema, method === 'GET' ? Object.fromEntries(req.query) : b);
      if (r.dcIdentifier && !findDatacenter(this.catalogue, r.dcIdentifier)) throw new ApiError(404, 'Datacenter not found');
      const plans = this.catalogue.plans.filter((x) => !r.planCatIdentifier || x.categoryIdentifier === r.planCatIdentifier);
      return ok(
        plans.map((x) => ({
          identifier: x.identifier,
          nickname: x.nickname,
          cpu: x.cpu,
          ram: x.ram,
          ssd: x.ssd,
          traffic: x.traffic,
          price: x.price,
          net_speed: x.net_speed,
          id: x.id,
          planCatIdentifier: x.categoryIdentifier,
          category: this.catalogue.categories.find((c) => c.identifier === x.categoryIdentifier)?.name,
        })),
      );
    }
    if (method === 'GET' && (p === '/datacenter' || p === '/datacenters')) {
      const all = this.catalogue.datacenters.map((d) => ({
        dc_name: d.dc_name,
        dc_image: null,
        state: d.state,
        country: d.country,
        is_active: 1,
        identifier: d.identifier,
        default_selected: d.default_selected,
        is_deleted: 0,
        is_fip_available: 1,
        is_bucket_available: 1,
        is_private: 0,
      }));
      const offset = Math.max(0, Number(req.query.get('offset') ?? 0) || 0);
      const limit = req.query.get('limit') === null ? all.length : Math.max(0, Number(req.query.get('limit')) || 0);
      return ok(all.slice(offset, offset + limit), all.length);
    }
    if (method === 'GET' && (p === '/images' || p === '/os')) {
      return ok(this.catalogue.images.map((i) => ({ identifier: i.identifier, name: i.name, os: i.os, version: i.version })));
    }
    if (method === 'POST' && p === '/k8s/offers') {
      return ok(
        this.catalogue.plans.map((x) => ({
          id: x.id,
          name: x.nickname,
          cpu: x.cpu,
          ram: x.ram,
          disk: x.ssd,
          price: x.price,
          hourly_price: Math.round((x.price / HOURS_PER_MONTH) * 10000) / 10000,
        })),
      );
    }

    // --- managed Kubernetes
    if (method === 'GET' && p === '/k8s/cluster/all') {
      return ok(this.state.clusters.filter((c) => c.deletedAt === null).map((c) => this.clusterSummary(c)));
    }
    if (method === 'GET' && (m = p.match(/^\/k8s\/cluster\/byId\/([^/]+)$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      const dcName = findDatacenter(this.catalogue, c.dcIdentifier)?.dc_name ?? 'dc';
      const masters = Array.from({ length: c.masterCount }, (_, i) => ({
        id: c.id * 100 + i,
        user_id: 1,
        hostname: `${c.cluster_name}-master-main.${i}.k8s.vpsie.net`,
        default_ip: null,
        private_ip: `10.0.0.${i + 1}`,
        node_type: 1,
        node_id: 1,
        datacenter_id: findDatacenter(this.catalogue, dcName)?.id ?? 0,
        created_on: iso(c.createdAt),
        identifier: `${c.identifier.slice(0, 24)}${String(i).padStart(12, '0')}`,
        group_id: null,
      }));
      const workers = this.workersOf(c)
        .filter((w) => w.listedAt !== null)
        .map((w) => ({
          id: w.id,
          user_id: 1,
          hostname: w.hostname,
          default_ip: w.publicIp,
          private_ip: w.privateIp,
          node_type: 2,
          node_id: 1,
          datacenter_id: findDatacenter(this.catalogue, w.dcIdentifier)?.id ?? 0,
          created_on: iso(w.listedAt),
          identifier: w.identifier,
          group_id: w.groupId,
        }));
      return ok({ ...this.clusterSummary(c), nodes: [...masters, ...workers] });
    }
    if (method === 'POST' && p === '/k8s/create/cluster') {
      const r = validate(CreateClusterRequestSchema, b);
      const dc = findDatacenter(this.catalogue, r.dcIdentifier);
      if (!dc) throw new ApiError(404, 'Datacenter not found');
      const c: Cluster = {
        id: this.nextId(),
        identifier: this.uuid(),
        cluster_name: r.clusterName,
        dcIdentifier: dc.identifier,
        kube_version: String(r.kuberVer ?? '1.31'),
        masterCount: Math.max(1, r.nodesCountMaster ?? 1),
        createdAt: this.now(),
        deletedAt: null,
        workerLabels: {},
      };
      this.state.clusters.push(c);
      this.markDirty();
      for (let i = 0; i < (r.nodesCountSlave ?? 0); i++) this.addWorker(c, undefined);
      return ok(true);
    }
    if (method === 'DELETE' && (m = p.match(/^\/k8s\/cluster\/byId\/([^/]+)$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      for (const w of this.workersOf(c)) this.deleteMachine(w);
      for (const g of this.groupsOf(c)) g.deletedAt = this.now();
      c.deletedAt = this.now();
      this.markDirty();
      return ok(true);
    }
    if (method === 'GET' && (m = p.match(/^\/k8s\/node\/groups\/byClusterId\/([^/]+)$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      return ok(this.groupsOf(c).map((g) => this.groupView(g)));
    }
    if (method === 'POST' && p === '/k8s/cluster/add/group') {
      const r = validate(CreateNodeGroupRequestSchema, b);
      const c = this.cluster(r.clusterIdentifier);
      const plan = findPlan(this.catalogue, r.KubeSizeID);
      if (!plan) throw new ApiError(400, 'Invalid KubeSizeID');
      const groups = this.groupsOf(c);
      const same = groups.find((g) => g.planId === plan.id);
      if (same) throw new ApiError(200, `Group ${same.group_name} has same selected Size, please select another size`, 'ok200');
      if (groups.some((g) => g.group_name === r.groupName)) throw new ApiError(400, `Group name ${r.groupName} already exists`);
      const g: Group = {
        id: this.nextId(),
        identifier: this.uuid(),
        group_name: r.groupName,
        clusterIdentifier: c.identifier,
        planId: plan.id,
        createdAt: this.now(),
        deletedAt: null,
      };
      this.state.groups.push(g);
      this.markDirty();
      return ok(true);
    }
    if (method === 'DELETE' && (m = p.match(/^\/k8s\/cluster\/delete\/group\/([^/]+)$/))) {
      const ref = decodeURIComponent(m[1]!);
      const g = this.state.groups.find((x) => x.deletedAt === null && (x.identifier === ref || String(x.id) === ref));
      if (!g) throw new ApiError(404, 'Not found');
      for (const w of this.alive().filter((x) => x.groupId === g.id)) this.deleteMachine(w);
      g.deletedAt = this.now();
      this.markDirty();
      return ok(true);
    }
    if (method === 'POST' && (m = p.match(/^\/k8s\/cluster\/byId\/([^/]+)\/add\/slave$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      this.addWorker(c, this.groupsOf(c)[0]);
      return ok(true);
    }
    if (method === 'POST' && (m = p.match(/^\/k8s\/cluster\/byId\/([^/]+)\/add\/([a-z]+)\/group\/([^/]+)$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      if (m[2] !== 'slave') throw new ApiError(400, `Unsupported node type ${m[2]}`);
      const g = this.groupsOf(c).find((x) => String(x.id) === m![3] || x.identifier === m![3]);
      if (!g) throw new ApiError(404, 'Not found');
      this.addWorker(c, g);
      return ok(true);
    }
    if (method === 'DELETE' && (m = p.match(/^\/k8s\/cluster\/byId\/([^/]+)\/reduce(?:\/([a-z]+))?$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      let candidates = this.workersOf(c);
      if (m[2] !== undefined) {
        const r = validate(ReduceGroupRequestSchema, b);
        candidates = candidates.filter((w) => w.groupId === r.groupId);
      }
      const victim = candidates.sort((a, z) => z.id - a.id)[0];
      if (!victim) throw new ApiError(400, 'No worker nodes to remove');
      this.deleteMachine(victim);
      return ok(true);
    }
    if (method === 'DELETE' && (m = p.match(/^\/k8s\/cluster\/byId\/([^/]+)\/delete\/slave$/))) {
      const c = this.cluster(decodeURIComponent(m[1]!));
      const r = validate(DeleteWorkerRequestSchema, b);
      const w = this.workersOf(c).find((x) => x.identifier === r.identifier || x.hostname === r.identifier);
      if (!w) throw new ApiError(404, 'Not found');
      this.deleteMachine(w);
      return ok(true);
    }
    throw new ApiError(404, 'Not found');
  }

  login(body: Record<string, unknown>): SimResponse {
    const r = LoginRequestSchema.safeParse(body);
    if (!r.success) throw new ApiError(400, 'clientId and clientSecret are required');
    if (r.data.clientId !== this.state.clientId || r.data.clientSecret !== this.state.clientSecret) {
      throw new ApiError(401, 'Invalid client credentials');
    }
    const t = this.issueTokens();
    return { status: 200, body: { error: false, token: t, accessToken: t.access, refreshToken: t.refresh } };
  }

  // ------------------------------------------------------------------------------ inspection

  /** What exists and what it cost: instance-hours (listed → deleted/now) × monthly price / 730. */
  snapshot(): Record<string, unknown> {
    const now = this.now();
    const machines = this.state.machines.map((m) => {
      const plan = this.planOf(m);
      const start = m.listedAt;
      const end = m.deletedAt ?? now;
      const hours = start === null ? 0 : Math.max(0, end - start) / 3_600_000;
      return {
        identifier: m.identifier,
        hostname: m.hostname,
        kind: m.kind,
        plan: plan.nickname,
        phase: m.deletedAt !== null ? 'deleted' : m.bootedAt !== null ? 'running' : m.listedAt !== null ? 'booting' : 'pending',
        clusterIdentifier: m.clusterIdentifier,
        groupId: m.groupId,
        notes: m.notes,
        joins: m.kind === 'k8s-worker' || m.joinConfig !== null,
        joinProblem: m.joinProblem,
        node: m.node,
        requestedAt: m.requestedAt,
        listedAt: m.listedAt,
        bootedAt: m.bootedAt,
        deletedAt: m.deletedAt,
        instanceHours: hours,
        cost: (hours * plan.price) / HOURS_PER_MONTH,
      };
    });
    return {
      now,
      counters: this.state.counters,
      alive: machines.filter((m) => m.phase !== 'deleted').length,
      machines,
      clusters: this.state.clusters.map((c) => ({ ...c, groups: this.state.groups.filter((g) => g.clusterIdentifier === c.identifier) })),
      billing: {
        instanceHours: machines.reduce((s, m) => s + m.instanceHours, 0),
        cost: machines.reduce((s, m) => s + m.cost, 0),
        currency: 'USD',
      },
      config: this.config,
    };
  }

  /** Forget machines, clusters and groups (keeps credentials); re-creates the sandbox cluster if asked. */
  reset(): void {
    const c = this.state.clusters.find((x) => x.deletedAt === null);
    for (const m of this.alive()) this.deleteMachine(m);
    this.state.machines = this.state.machines.filter((m) => m.node.state === 'joined');
    this.state.groups = [];
    this.state.clusters = c ? [{ ...c }] : [];
    this.state.counters = { logins: 0, requests: 0, creates: 0 };
    this.markDirty();
  }
}
