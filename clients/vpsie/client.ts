/**
 * The VPSie API client used by activities. Speaks the govpsie / Terraform dialect (paths under
 * `/apps/v2` and `/api/v2`, `Vpsie-Auth` header, JSON login), validates every answer with zod and
 * reports every failure as a typed `VPSieError`. See README.md in this folder.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { logger, type Logger } from '../../lib/log';
import { TokenManager } from './auth';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { VPSieApiBreaker, DEFAULT_API_BREAKER, type ApiBreakerState, type VPSieApiBreakerOptions } from './api-breaker';
import { TtlCache } from './cache';
import { abortable, systemClock, type Clock } from './clock';
import type { CredentialsSource } from './credentials';
import { VPSieError, isVPSieError } from './errors';
import { vpsieClientMetrics, type VPSieClientMetrics } from './metrics';
import {
  ActionDataSchema,
  DatacenterSchema,
  K8sClusterSchema,
  K8sClusterSummarySchema,
  K8sOfferSchema,
  LoginResponseSchema,
  NodeGroupSchema,
  OsImageSchema,
  PendingVmSchema,
  PlanCategorySchema,
  PlanSchema,
  VmDataSchema,
  VmDetailSchema,
  VmStatusSchema,
  type Datacenter,
  type K8sCluster,
  type K8sClusterSummary,
  type K8sNode,
  type K8sOffer,
  type NodeGroup,
  type OsImage,
  type PendingVm,
  type Plan,
  type PlanCategory,
  type VmData,
  type VmStatus,
} from './schemas';
import { TokenBucket, withinPerMinute, type TokenBucketOptions } from './token-bucket';
import { Transport, type CallSpec } from './transport';

export interface VPSieClientOptions {
  /** Host URL, e.g. `https://api.vpsie.com` (paths are absolute: `/apps/v2/...`, `/api/v2/...`). */
  baseUrl: string;
  credentials: CredentialsSource;
  /** Prometheus registry for the client's metrics; a private one when omitted. */
  registry?: Registry;
  /** Token bucket; `false` disables it. Default `withinPerMinute(100)`: burst 20, 80/min, never over 100 in any minute. */
  rateLimit?: TokenBucketOptions | false;
  backoff?: BackoffOptions;
  /** Attempts per call, first included (default 3). */
  maxAttempts?: number;
  /** Reads answered with a schema mismatch are tried again this many times (default 2, within maxAttempts). */
  maxSchemaRetries?: number;
  /** Most pages one listing reads before giving up as incomplete (default 1000). */
  maxListPages?: number;
  apiBreaker?: Partial<VPSieApiBreakerOptions>;
  /** Per-exchange timeout (default 10 s). */
  timeoutMs?: number;
  /** Log in again this long before the token expires (default 5 min). */
  refreshBeforeMs?: number;
  /** TTL of cached plans, categories, datacenters, images (default 10 min). */
  cacheTtlMs?: number;
  /** VM path prefix: `/api/v2/vm` (vpsieinc/govpsie since Feb 2026, default) or `/apps/v2/vm`. */
  vmBase?: '/api/v2/vm' | '/apps/v2/vm';
  clock?: Clock;
  random?: () => number;
  log?: Logger;
  userAgent?: string;
  fetch?: typeof fetch;
}

export interface ListPage<T> {
  items: T[];
  total: number | undefined;
  /** Items of this page that did not match the schema: skipped, counted and reported here. */
  malformed?: MalformedItem[];
  /** Raw items on the page, malformed ones included (the next page's offset advances by this). */
  received?: number;
}

/** A list item that did not parse: what could still be read from it, and why it failed. */
export interface MalformedItem {
  operation: string;
  /** Position in its page. */
  index: number;
  identifier?: string;
  hostname?: string;
  notes?: string;
  /** The orchestrator request id found in the notes (`orchestrator-request-id=<id>`). */
  requestId?: string;
  processId?: string;
  ips: string[];
  /** First schema issue, e.g. `ram: Invalid input`. */
  issue: string;
}

/** A complete VM listing: every page read, malformed items reported apart. */
export interface VmListing {
  items: VmData[];
  malformed: MalformedItem[];
}

/**
 * Outcome of a VM look-up. `unknown`: no valid item matches, but a malformed one may be the
 * machine asked for (its hostname, notes or IP match, or nothing of it is readable). Callers must
 * not read `unknown` as absent.
 */
export type VmLookup = { state: 'found'; vm: VmData } | { state: 'absent' } | { state: 'unknown'; malformed: MalformedItem[] };

/**
 * The VM list and the pending queue read together (queue first: a machine only moves from the
 * queue to the list, so one that exists is in one of the two), shared by every caller that can
 * use a listing up to a few seconds old (see `VPSieClient.vmSnapshot`).
 */
export interface VmSnapshot {
  /** When the pending queue was read (epoch ms): nothing created before this is missing from both. */
  takenAt: number;
  vms: VmListing;
  pending: { items: PendingVm[]; malformed: MalformedItem[] };
  /** VPSie requests the snapshot cost (pages + the queue). */
  requests: number;
}

/** How fresh a shared listing must be. */
export interface SnapshotAge {
  /** The caller's tick: a snapshot younger than this is used as it is. */
  maxAgeMs: number;
  /** A snapshot taken before this (epoch ms) is never used, e.g. the time a create was last sent. */
  notOlderThan?: number;
}

export interface FindVmQuery {
  identifier?: string;
  hostname?: string;
  /** Public or private IPv4. */
  ip?: string;
  /** Request id carried in the VM's notes by `ensureVm`. */
  requestId?: string;
}

export interface EnsureVmInput {
  /** Stable id of the creation request (e.g. workflow id + step); makes retries idempotent. */
  requestId: string;
  /** Defaults to `hostnameForRequest('vpsie-node', requestId)`. */
  hostname?: string;
  /** Plan identifier or nickname (`small-2cpu-4gb`). */
  plan: string;
  /** Datacenter identifier or `dc_name` (`us-east-1`). */
  datacenter: string;
  /** OS image identifier or name (`ubuntu-22.04-lts`). */
  osImage: string;
  /** Base64 cloud-init (see bootstrap.ts); without it the VM never joins the cluster. */
  userData?: string;
  tags?: string[];
  notes?: string;
  projectId?: string;
  sshKeyIdentifier?: string;
  /**
   * Asked when neither the pending queue nor the list shows the machine, before the create is
   * sent: 'create' (the caller has durably recorded that it is sending one) or 'wait' (a create
   * was sent recently and VPSie may not show it yet: sending another would make a second machine).
   */
  beforeCreate?: () => Promise<'create' | 'wait'>;
  /**
   * Look for the machine in the shared snapshot (`vmSnapshot`) instead of a listing of its own,
   * and do not list again right after the create (the next poll sees it). Without it, every call
   * reads the pending queue and the whole list itself.
   */
  shared?: SnapshotAge;
  /**
   * The caller knows no create was ever sent for this request id (a durable mark precedes every
   * create, and it has none): the look before the create is skipped. `beforeCreate` still runs,
   * and must arbitrate between concurrent callers.
   */
  knownAbsent?: boolean;
}

export type EnsureVmResult =
  | { state: 'listed'; created: boolean; hostname: string; vm: VmData }
  /** `settling`: nothing is visible, and `beforeCreate` said a recent create may still appear. */
  | { state: 'pending'; created: boolean; hostname: string; pending: PendingVm | undefined; settling?: boolean };

export interface EnsureGroupWorkerInput {
  clusterIdentifier: string;
  /** Numeric node-group id (`id` of the group). */
  groupId: number;
  /**
   * The group's node count this request wants reached (current count + 1 when the workflow
   * decided). Retrying with the same target never adds a second machine.
   */
  targetCount: number;
}

export interface EnsureGroupWorkerResult {
  added: number;
  nodesCount: number;
}

export const REQUEST_ID_NOTE_PREFIX = 'orchestrator-request-id=';

/** A DNS-safe hostname derived from the request id: the same request always gets the same name. */
export function hostnameForRequest(prefix: string, requestId: string): string {
  const digest = createHash('sha256').update(requestId).digest('hex').slice(0, 12);
  const p = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);
  return `${p}-${digest}`;
}

/** A UUID-shaped process id derived from the request id (VPSie's `processId`). */
export function processIdForRequest(requestId: string): string {
  const h = createHash('sha256').update(`process:${requestId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Lifecycle of a listed VM as VPSie signals it (no status string: is_active / power / flags). */
export function vmPhase(vm: VmData): 'deleted' | 'running' | 'booting' {
  if (vm.is_deleted === 1 || vm.is_terminated === 1) return 'deleted';
  if (vm.is_active === 1 && vm.power !== 0) return 'running';
  return 'booting';
}

const K8S = '/apps/v2/k8s';

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** What can still be read from a malformed list item (VM or pending-queue entry). */
function describeMalformed(operation: string, index: number, item: unknown, issue: string): MalformedItem {
  const o: Record<string, unknown> = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : {};
  const data: Record<string, unknown> = typeof o['data'] === 'object' && o['data'] !== null ? (o['data'] as Record<string, unknown>) : {};
  const notes = str(o['notes']);
  const requestId = notes
    ?.split(/\s+/)
    .find((w) => w.startsWith(REQUEST_ID_NOTE_PREFIX))
    ?.slice(REQUEST_ID_NOTE_PREFIX.length);
  const hostname = str(o['hostname']) ?? str(data['hostname']);
  const identifier = str(o['identifier']);
  const processId = str(data['processId']);
  const ips = [o['default_ip'], o['private_ip'], o['publicIp']].map(str).filter((x): x is string => x !== undefined);
  return {
    operation,
    index,
    ips,
    issue,
    ...(identifier !== undefined ? { identifier } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    ...(notes !== undefined ? { notes } : {}),
    ...(requestId ? { requestId } : {}),
    ...(processId !== undefined ? { processId } : {}),
  };
}

/** Nothing that could tell whose machine it is can be read: it may be anyone's, ours included. */
function unreadable(m: MalformedItem): boolean {
  return m.identifier === undefined && m.hostname === undefined && m.notes === undefined && m.processId === undefined;
}

function unknownState(operation: string, malformed: MalformedItem[]): VPSieError {
  const who = malformed.map((m) => m.requestId ?? m.hostname ?? m.identifier ?? `#${m.index}`).join(', ');
  return new VPSieError({
    type: 'unknown_state',
    operation,
    message: `${malformed.length} malformed item(s) may be the machine asked for (${who}); not treated as absent, retry`,
  });
}

/** The VM of `q` in a listing (no identifier look-up: that is a `vm.get`). Pure. */
export function matchVm(listing: VmListing, q: Omit<FindVmQuery, 'identifier'>): VmLookup {
  const note = q.requestId ? `${REQUEST_ID_NOTE_PREFIX}${q.requestId}` : undefined;
  const vm = listing.items.find(
    (v) =>
      v.is_deleted !== 1 &&
      ((q.hostname !== undefined && v.hostname === q.hostname) ||
        (q.ip !== undefined && (v.default_ip === q.ip || v.private_ip === q.ip)) ||
        (note !== undefined && (v.notes ?? '').split(/\s+/).includes(note))),
  );
  if (vm) return { state: 'found', vm };
  const suspects = listing.malformed.filter(
    (m) =>
      unreadable(m) ||
      (q.hostname !== undefined && m.hostname === q.hostname) ||
      (q.ip !== undefined && m.ips.includes(q.ip)) ||
      (note !== undefined && (m.notes ?? '').split(/\s+/).includes(note)),
  );
  return suspects.length > 0 ? { state: 'unknown', malformed: suspects } : { state: 'absent' };
}

/** The queue entry of `q` in the pending queue, or the malformed entries that may be it. Pure. */
export function matchPending(
  queue: { items: PendingVm[]; malformed: MalformedItem[] },
  q: { hostname?: string; processId?: string },
): { found?: PendingVm; suspects: MalformedItem[] } {
  const found = queue.items.find(
    (p) => (q.hostname !== undefined && p.data.hostname === q.hostname) || (q.processId !== undefined && p.data.processId === q.processId),
  );
  if (found) return { found, suspects: [] };
  return {
    suspects: queue.malformed.filter(
      (m) => unreadable(m) || (q.hostname !== undefined && m.hostname === q.hostname) || (q.processId !== undefined && m.processId === q.processId),
    ),
  };
}

function pendingOrThrow(r: { found?: PendingVm; suspects: MalformedItem[] }): PendingVm | undefined {
  if (r.found) return r.found;
  if (r.suspects.length > 0) throw unknownState('vm.pending.find', r.suspects);
  return undefined;
}

export class VPSieClient {
  readonly metrics: VPSieClientMetrics;
  readonly registry: Registry;
  private readonly transport: Transport;
  private readonly tokens: TokenManager;
  private readonly apiBreaker: VPSieApiBreaker;
  private readonly cache: TtlCache<unknown>;
  private readonly vmBase: string;
  private readonly log: Logger;
  private readonly maxListPages: number;
  /** Set on views made by `withSignal`. */
  private signal: AbortSignal | undefined;
  /** Set on views made by `withSignal` with a deadline (epoch ms). */
  private deadline: number | undefined;
  private readonly clock: Clock;
  private readonly bucket: TokenBucket | undefined;
  /** Shared by every view (an object, so views made by `withSignal` mutate the same one). */
  /** The client itself (views made by `withSignal` inherit it): shared reads run without any caller's signal. */
  private readonly root: VPSieClient;
  private readonly shared: { snapshot?: VmSnapshot; loading?: Promise<VmSnapshot>; loadingSince?: number };

  constructor(opts: VPSieClientOptions) {
    this.maxListPages = Math.max(1, opts.maxListPages ?? 1000);
    const clock = opts.clock ?? systemClock;
    this.clock = clock;
    this.shared = {};
    this.root = this;
    this.registry = opts.registry ?? new Registry();
    this.metrics = vpsieClientMetrics(this.registry);
    this.log = opts.log ?? logger('vpsie-client');
    this.apiBreaker = new VPSieApiBreaker({ ...DEFAULT_API_BREAKER, ...opts.apiBreaker }, clock, (s) => {
      this.metrics.setApiBreaker(s);
      this.log.warn('vpsie circuit breaker state changed', { breakerState: s });
    });
    this.metrics.setApiBreaker('closed');
    const rate = opts.rateLimit === undefined ? withinPerMinute(100) : opts.rateLimit;
    this.bucket = rate === false ? undefined : new TokenBucket(rate, clock);
    this.transport = new Transport({
      baseUrl: opts.baseUrl,
      clock,
      random: opts.random ?? Math.random,
      bucket: this.bucket,
      apiBreaker: this.apiBreaker,
      metrics: this.metrics,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      maxAttempts: Math.max(1, opts.maxAttempts ?? 3),
      maxSchemaRetries: Math.max(0, opts.maxSchemaRetries ?? 2),
      timeoutMs: opts.timeoutMs ?? 10_000,
      userAgent: opts.userAgent ?? 'vpsie-capacity-orchestrator/0.1',
      log: this.log,
      fetch: opts.fetch ?? fetch,
    });
    this.tokens = new TokenManager(
      opts.credentials,
      async (creds) =>
        (
          await this.transport.exchange(
            {
              operation: 'auth.login',
              method: 'POST',
              path: '/apps/v2/auth/from/api',
              json: creds,
              idempotent: true,
              auth: false,
              whole: true,
              schema: LoginResponseSchema,
            },
            undefined,
          )
        ).data,
      clock,
      opts.refreshBeforeMs ?? 5 * 60_000,
    );
    this.transport.tokens = this.tokens;
    this.cache = new TtlCache(opts.cacheTtlMs ?? 10 * 60_000, () => clock.now());
    this.vmBase = opts.vmBase ?? '/api/v2/vm';
  }

  get apiBreakerState(): ApiBreakerState {
    return this.apiBreaker.state;
  }

  /** Logins performed so far (for tests and diagnostics). */
  get loginCount(): number {
    return this.tokens.logins;
  }

  /**
   * A view of this client whose every call honours `signal` (e.g. the activity's
   * `Context.current().cancellationSignal`): the rate limiter's wait, the HTTP exchange and the
   * backoff between attempts stop at once with a `cancelled` VPSieError. The view shares the
   * token, cache, bucket and breaker with this client. With `deadline` (epoch ms, the activity's),
   * a rate-limit wait that would outlast it fails at once (`rate_limited`, not retried in the call).
   */
  withSignal(signal: AbortSignal | undefined, deadline?: number): VPSieClient {
    const view = Object.create(this) as VPSieClient;
    view.signal = signal;
    view.deadline = deadline;
    return view;
  }

  private call<T>(spec: CallSpec<T>) {
    return this.transport.call({
      ...spec,
      ...(this.signal && !spec.signal ? { signal: this.signal } : {}),
      ...(this.deadline !== undefined && spec.deadline === undefined ? { deadline: this.deadline } : {}),
    });
  }

  /** Parses list items one by one: a malformed item is skipped, counted, logged and returned apart. */
  private parseItems<S extends z.ZodType>(operation: string, raw: unknown[], schema: S): { items: z.output<S>[]; malformed: MalformedItem[] } {
    const items: z.output<S>[] = [];
    const malformed: MalformedItem[] = [];
    raw.forEach((item, index) => {
      const parsed = schema.safeParse(item);
      if (parsed.success) {
        items.push(parsed.data);
        return;
      }
      const first = parsed.error.issues[0];
      const m = describeMalformed(operation, index, item, first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid');
      malformed.push(m);
      this.metrics.malformedItems.inc({ method: operation });
      this.log.warn('vpsie list item does not match the schema; skipped', {
        operation,
        index,
        identifier: m.identifier,
        hostname: m.hostname,
        requestId: m.requestId,
        issue: m.issue,
      });
    });
    return { items, malformed };
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(key, load) as Promise<T>;
  }

  /** Drops cached catalogue look-ups (plans, categories, datacenters, images). */
  clearCache(): void {
    this.cache.clear();
  }

  /** Validates connectivity and credentials (a cheap authenticated call, uncached). */
  async healthCheck(): Promise<void> {
    await this.call({
      operation: 'datacenter.list',
      method: 'GET',
      path: '/apps/v2/datacenter',
      query: { offset: 0, limit: 1 },
      idempotent: true,
      schema: z.array(DatacenterSchema),
    });
  }

  // -------------------------------------------------------------------------------- VMs

  /** One page of VMs; malformed items are skipped and reported in `malformed`. */
  async listVms(page: { offset?: number; limit?: number } = {}): Promise<ListPage<VmData> & { malformed: MalformedItem[]; received: number }> {
    const r = await this.call({
      operation: 'vm.list',
      method: 'GET',
      path: this.vmBase,
      query: { offset: page.offset, limit: page.limit },
      idempotent: true,
      schema: z.array(z.unknown()),
    });
    const { items, malformed } = this.parseItems('vm.list', r.data, VmDataSchema);
    return { items, total: r.total, malformed, received: r.data.length };
  }

  /** Every VM, following offset/limit pages (see `listAllVmsDetailed`); malformed items are skipped. */
  async listAllVms(pageSize = 100): Promise<VmData[]> {
    return (await this.listAllVmsDetailed(pageSize)).items;
  }

  /**
   * Every VM with the malformed items reported apart. Reads pages until the listed `total` is
   * reached (a page shorter than asked does not end the listing when the total says more; the
   * offset advances by what was received), until an empty page, or, without a total, until a
   * short page. More than `maxListPages` pages is an incomplete listing: `unknown_state`.
   */
  async listAllVmsDetailed(pageSize = 100): Promise<VmListing> {
    const items: VmData[] = [];
    const malformed: MalformedItem[] = [];
    let offset = 0;
    for (let n = 0; n < this.maxListPages; n++) {
      const page = await this.listVms({ offset, limit: pageSize });
      items.push(...page.items);
      malformed.push(...page.malformed.map((m) => ({ ...m, index: offset + m.index })));
      offset += page.received;
      if (page.received === 0) return { items, malformed };
      if (page.total !== undefined ? offset >= page.total : page.received < pageSize) return { items, malformed };
    }
    throw new VPSieError({ type: 'unknown_state', operation: 'vm.list', message: `listing not complete after ${this.maxListPages} pages (${offset} items)` });
  }

  async getVm(identifier: string): Promise<VmData> {
    const r = await this.call({
      operation: 'vm.get',
      method: 'GET',
      path: `${this.vmBase}/${encodeURIComponent(identifier)}`,
      idempotent: true,
      schema: z.union([VmDetailSchema, z.literal(false), z.null()]),
    });
    if (!r.data) throw new VPSieError({ type: 'not_found', operation: 'vm.get', message: 'Not found' });
    return r.data.vmData;
  }

  async getVmStatus(identifier: string): Promise<VmStatus> {
    const r = await this.call({
      operation: 'vm.status',
      method: 'GET',
      path: `${this.vmBase}/status/${encodeURIComponent(identifier)}`,
      idempotent: true,
      schema: VmStatusSchema,
    });
    return r.data;
  }

  /** The pending-creation queue; malformed items are skipped (see `listPendingVmsDetailed`). */
  async listPendingVms(): Promise<PendingVm[]> {
    return (await this.listPendingVmsDetailed()).items;
  }

  async listPendingVmsDetailed(): Promise<{ items: PendingVm[]; malformed: MalformedItem[] }> {
    const r = await this.call({ operation: 'vm.pending', method: 'GET', path: '/apps/v2/vm/pending', idempotent: true, schema: z.array(z.unknown()) });
    return this.parseItems('vm.pending', r.data, PendingVmSchema);
  }

  /**
   * Raw create (POST, answers no identifier). Not retried after an ambiguous failure; prefer
   * `ensureVm`, which is safe to retry.
   */
  async createVm(req: {
    resourceIdentifier: string;
    osIdentifier: string;
    dcIdentifier: string;
    hostname: string;
    notes?: string;
    tags?: string[];
    userData?: string;
    processId?: string;
    projectId?: string;
    sshKeyIdentifier?: string;
  }): Promise<void> {
    await this.call({
      operation: 'vm.create',
      method: 'POST',
      path: this.vmBase,
      json: {
        resourceIdentifier: req.resourceIdentifier,
        osIdentifier: req.osIdentifier,
        dcIdentifier: req.dcIdentifier,
        hostname: req.hostname,
        ...(req.notes !== undefined ? { notes: req.notes } : {}),
        backupEnabled: '0',
        weeklyBackupEnabled: '0',
        monthlyBackupEnabled: '0',
        addPublicIpV4: '1',
        addPublicIpV6: '0',
        addPrivateIp: '1',
        ...(req.sshKeyIdentifier ? { sshKeyIdentifier: req.sshKeyIdentifier } : {}),
        ...(req.projectId ? { projectId: req.projectId } : {}),
        processId: req.processId ?? randomUUID(),
        isGeneratedPassword: 1,
        tags: req.tags ?? [],
        ...(req.userData ? { userData: req.userData } : {}),
      },
      idempotent: false,
      schema: ActionDataSchema,
    });
  }

  /** Deletes a VM; true if deleted, false if it did not exist. Safe to retry. */
  async deleteVm(identifier: string, reason = 'scale-down'): Promise<boolean> {
    try {
      await this.call({
        operation: 'vm.delete',
        method: 'DELETE',
        path: this.vmBase,
        json: { vmIdentifier: identifier, deleteStatistic: { reason, note: 'vpsie-capacity-orchestrator' } },
        idempotent: true,
        schema: ActionDataSchema,
      });
      return true;
    } catch (e) {
      if (isVPSieError(e) && e.type === 'not_found') return false;
      throw e;
    }
  }

  /**
   * Finds a listed VM by identifier, hostname, IP or request id (undefined when none). Throws a
   * retryable `unknown_state` VPSieError when no valid item matches but a malformed one may be
   * the machine (see `lookupVm`): "could not tell" is never reported as "absent".
   */
  async findVm(q: FindVmQuery): Promise<VmData | undefined> {
    const r = await this.lookupVm(q);
    if (r.state === 'unknown') throw unknownState('vm.find', r.malformed);
    return r.state === 'found' ? r.vm : undefined;
  }

  /** Like `findVm`, with "a malformed item may be it" as an explicit `unknown` outcome. */
  async lookupVm(q: FindVmQuery): Promise<VmLookup> {
    if (q.identifier) {
      try {
        return { state: 'found', vm: await this.getVm(q.identifier) };
      } catch (e) {
        if (isVPSieError(e) && e.type === 'not_found') return { state: 'absent' };
        throw e;
      }
    }
    return matchVm(await this.listAllVmsDetailed(), q);
  }

  /**
   * Finds a not-yet-listed VM in the pending queue by hostname or process id. Throws
   * `unknown_state` when none matches but a malformed queue item may be it.
   */
  async findPendingVm(q: { hostname?: string; processId?: string }): Promise<PendingVm | undefined> {
    return pendingOrThrow(matchPending(await this.listPendingVmsDetailed(), q));
  }

  /**
   * The pending queue and the VM list, read once for every caller within `maxAgeMs` (single
   * flight: callers arriving while it loads wait for the same read). Every provisioning poll of
   * every VPSieNode on this worker reads from it, so N machines booting cost one listing per tick,
   * not N (#12: the 100 requests/min budget). When the budget is scarce (the rate limiter's bucket
   * under half full) the tick stretches so that polling takes at most a quarter of the sustained
   * rate. The shared read runs on the root client (no caller's cancellation or deadline stops it
   * for the others); each caller's own wait honours its signal.
   */
  async vmSnapshot(age: SnapshotAge): Promise<VmSnapshot> {
    const now = this.clock.now();
    const cur = this.shared.snapshot;
    const maxAge = this.stretchedAge(age.maxAgeMs, cur?.requests ?? 2);
    const usable = (s: VmSnapshot | undefined): s is VmSnapshot =>
      s !== undefined && now - s.takenAt < maxAge && (age.notOlderThan === undefined || s.takenAt >= age.notOlderThan);
    if (usable(cur)) {
      this.metrics.sharedListings.inc({ outcome: 'hit' });
      return cur;
    }
    // A load already under way serves this caller too, unless it began before `notOlderThan`.
    let p = this.shared.loading;
    if (!p || (age.notOlderThan !== undefined && (this.shared.loadingSince ?? 0) < age.notOlderThan)) {
      const root = this.root;
      const takenAt = this.clock.now();
      const load = (async (): Promise<VmSnapshot> => {
        const pending = await root.listPendingVmsDetailed();
        const vms = await root.listAllVmsDetailed();
        const pages = Math.max(1, Math.ceil((vms.items.length + vms.malformed.length) / 100));
        return { takenAt, pending, vms, requests: 1 + pages };
      })();
      p = load
        .then((s) => {
          if (!this.shared.snapshot || this.shared.snapshot.takenAt <= s.takenAt) this.shared.snapshot = s;
          return s;
        })
        .finally(() => {
          if (this.shared.loading === p) {
            delete this.shared.loading;
            delete this.shared.loadingSince;
          }
        });
      this.shared.loading = p;
      this.shared.loadingSince = takenAt;
      this.metrics.sharedListings.inc({ outcome: 'read' });
    } else this.metrics.sharedListings.inc({ outcome: 'joined' });
    try {
      return await abortable(p, this.signal);
    } catch (e) {
      if (this.signal?.aborted)
        throw new VPSieError({ type: 'cancelled', operation: 'vm.snapshot', message: 'cancelled by the caller while waiting for the shared listing' });
      throw e;
    }
  }

  /** `maxAgeMs`, or longer when the budget is scarce: a snapshot of `cost` requests then takes ≤ ¼ of the sustained rate. */
  private stretchedAge(maxAgeMs: number, cost: number): number {
    if (!this.bucket || this.bucket.fill() >= 0.5) return maxAgeMs;
    return Math.max(maxAgeMs, Math.ceil(cost / (0.25 * this.bucket.rate)));
  }

  /** A VM by identifier from the shared snapshot; absent from it, asked for directly (it may be newer than the snapshot). */
  async lookupVmShared(identifier: string, age: SnapshotAge): Promise<VmLookup> {
    const snap = await this.vmSnapshot(age);
    const vm = snap.vms.items.find((v) => v.identifier === identifier && v.is_deleted !== 1);
    if (vm) return { state: 'found', vm };
    return this.lookupVm({ identifier });
  }

  /**
   * Creates the VM for `requestId` unless it already exists (listed or pending). The hostname
   * and process id are derived from the request id and the notes carry it, so a retried activity
   * finds the first attempt's machine instead of creating a second one. After an ambiguous
   * failure (no answer, 5xx) it looks again; if the machine is still not visible it throws a
   * retryable error and the next attempt starts with the look-up.
   */
  async ensureVm(input: EnsureVmInput): Promise<EnsureVmResult> {
    const hostname = input.hostname ?? hostnameForRequest('vpsie-node', input.requestId);
    const processId = processIdForRequest(input.requestId);
    // Pending queue first, then the list: a machine only moves from the queue to the list, so one
    // that exists is seen by one of the two. The other order misses a machine that is listed
    // between the two reads, and creates a second one.
    const look = async (created: boolean, shared?: SnapshotAge): Promise<EnsureVmResult | undefined> => {
      let pending: PendingVm | undefined;
      let found: VmLookup;
      if (shared) {
        const snap = await this.vmSnapshot(shared);
        pending = pendingOrThrow(matchPending(snap.pending, { hostname, processId }));
        found = matchVm(snap.vms, { hostname, requestId: input.requestId });
      } else {
        pending = await this.findPendingVm({ hostname, processId });
        found = await this.lookupVm({ hostname, requestId: input.requestId });
      }
      if (found.state === 'unknown') throw unknownState('vm.find', found.malformed);
      if (found.state === 'found') return { state: 'listed', created, hostname, vm: found.vm };
      if (pending) return { state: 'pending', created, hostname, pending };
      return undefined;
    };
    const existing = input.knownAbsent ? undefined : await look(false, input.shared);
    if (existing) return existing;
    if (input.beforeCreate && (await input.beforeCreate()) === 'wait')
      return { state: 'pending', created: false, hostname, pending: undefined, settling: true };

    const [dc, plan, os] = await Promise.all([
      this.resolveDatacenter(input.datacenter),
      this.resolvePlan(input.plan, input.datacenter),
      this.resolveOsImage(input.osImage),
    ]);
    const notes = [`${REQUEST_ID_NOTE_PREFIX}${input.requestId}`, input.notes].filter(Boolean).join(' ');
    try {
      await this.createVm({
        resourceIdentifier: plan.identifier,
        osIdentifier: os.identifier,
        dcIdentifier: dc.identifier,
        hostname,
        notes,
        processId,
        ...(input.tags ? { tags: input.tags } : {}),
        ...(input.userData ? { userData: input.userData } : {}),
        ...(input.projectId ? { projectId: input.projectId } : {}),
        ...(input.sshKeyIdentifier ? { sshKeyIdentifier: input.sshKeyIdentifier } : {}),
      });
    } catch (e) {
      if (!isVPSieError(e) || !e.ambiguous) throw e;
      const after = await look(true).catch(() => undefined);
      if (after) return after;
      throw new VPSieError({
        type: 'not_settled',
        operation: 'vm.ensure',
        message: `create of ${hostname} got no answer (${e.type}) and the machine is not visible yet; retry`,
        cause: e,
      });
    }
    // Shared: the next poll's snapshot shows it (a look now would cost two requests per create).
    if (input.shared) return { state: 'pending', created: true, hostname, pending: undefined };
    return (await look(true).catch(() => undefined)) ?? { state: 'pending', created: true, hostname, pending: undefined };
  }

  // -------------------------------------------------------------------------------- catalogue

  async listPlanCategories(): Promise<PlanCategory[]> {
    return this.cached('categories', async () => {
      const r = await this.call({
        operation: 'plan.categories',
        method: 'GET',
        path: '/api/v2/plans/category',
        idempotent: true,
        schema: z.array(PlanCategorySchema),
      });
      return r.data;
    });
  }

  /** Plans of one datacenter and category (`POST /apps/v2/resources`, form-encoded as govpsie). */
  async listPlans(dcIdentifier: string, planCatIdentifier: string, osIdentifier?: string): Promise<Plan[]> {
    return this.cached(`plans:${dcIdentifier}:${planCatIdentifier}:${osIdentifier ?? ''}`, async () => {
      const r = await this.call({
        operation: 'plan.list',
        method: 'POST',
        path: '/apps/v2/resources',
        form: {
          dcIdentifier,
          ...(osIdentifier ? { osIdentifier } : {}),
          planCatIdentifier,
          name: 'query',
          description: 'query',
          isCustom: '0',
        },
        idempotent: true,
        read: true,
        schema: z.array(PlanSchema),
      });
      return r.data;
    });
  }

  /** Every plan of a datacenter (identifier or name), over all categories. */
  async listAllPlans(datacenter: string): Promise<Plan[]> {
    const dc = await this.resolveDatacenter(datacenter);
    const cats = await this.listPlanCategories();
    const lists = await Promise.all(cats.map((c) => this.listPlans(dc.identifier, c.identifier)));
    const byId = new Map<string, Plan>();
    lists.forEach((plans, i) => plans.forEach((p) => byId.set(p.identifier, { ...p, category: p.category ?? cats[i]!.name })));
    return [...byId.values()];
  }

  async resolvePlan(ref: string, datacenter: string): Promise<Plan> {
    const plans = await this.listAllPlans(datacenter);
    const plan = plans.find((p) => p.identifier === ref || p.nickname === ref);
    if (!plan) throw new VPSieError({ type: 'not_found', operation: 'plan.resolve', message: `no plan '${ref}' in datacenter '${datacenter}'` });
    return plan;
  }

  async listDatacenters(): Promise<Datacenter[]> {
    return this.cached('datacenters', async () => {
      const all: Datacenter[] = [];
      // Until the listed total (a short page does not end it when the total says more).
      for (let offset = 0, n = 0; n < this.maxListPages; n++) {
        const r = await this.call({
          operation: 'datacenter.list',
          method: 'GET',
          path: '/apps/v2/datacenter',
          query: { offset, limit: 100 },
          idempotent: true,
          schema: z.array(DatacenterSchema),
        });
        all.push(...r.data);
        offset += r.data.length;
        if (r.data.length === 0 || (r.total !== undefined ? offset >= r.total : r.data.length < 100)) return all;
      }
      throw new VPSieError({ type: 'unknown_state', operation: 'datacenter.list', message: `listing not complete after ${this.maxListPages} pages` });
    });
  }

  async resolveDatacenter(ref: string): Promise<Datacenter> {
    const dc = (await this.listDatacenters()).find((d) => d.identifier === ref || d.dc_name === ref);
    if (!dc) throw new VPSieError({ type: 'not_found', operation: 'datacenter.resolve', message: `no datacenter '${ref}'` });
    return dc;
  }

  /** OS templates (simulator endpoint `GET /apps/v2/images`; VPSie publishes no list). */
  async listOsImages(): Promise<OsImage[]> {
    return this.cached('images', async () => {
      const r = await this.call({ operation: 'image.list', method: 'GET', path: '/apps/v2/images', idempotent: true, schema: z.array(OsImageSchema) });
      return r.data;
    });
  }

  /** Accepts a UUID as is (VPSie's usual static configuration) or resolves a name. */
  async resolveOsImage(ref: string): Promise<OsImage> {
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref)) return { identifier: ref, name: ref };
    const img = (await this.listOsImages()).find((i) => i.identifier === ref || i.name === ref);
    if (!img) throw new VPSieError({ type: 'not_found', operation: 'image.resolve', message: `no OS image '${ref}'` });
    return img;
  }

  /** Managed-Kubernetes sizes of a datacenter (`KubeSizeID` values). */
  async listK8sOffers(dcIdentifier: string): Promise<K8sOffer[]> {
    return this.cached(`offers:${dcIdentifier}`, async () => {
      const r = await this.call({
        operation: 'k8s.offers',
        method: 'POST',
        path: `${K8S}/offers`,
        json: { dcIdentifier },
        idempotent: true,
        read: true,
        schema: z.array(K8sOfferSchema),
      });
      return r.data;
    });
  }

  /** The numeric size id (`KubeSizeID`) of a plan given by identifier or nickname. */
  async resolveKubeSizeId(planRef: string, datacenter: string): Promise<number> {
    const plan = await this.resolvePlan(planRef, datacenter);
    if (plan.id !== undefined) return plan.id;
    const dc = await this.resolveDatacenter(datacenter);
    const offer = (await this.listK8sOffers(dc.identifier)).find((o) => o.name === plan.nickname || (o.cpu === plan.cpu && o.ram === plan.ram));
    if (!offer) throw new VPSieError({ type: 'not_found', operation: 'plan.resolve', message: `no Kubernetes size for plan '${planRef}'` });
    return offer.id;
  }

  // -------------------------------------------------------------------------------- managed Kubernetes

  async listClusters(): Promise<K8sClusterSummary[]> {
    const r = await this.call({
      operation: 'k8s.cluster.list',
      method: 'GET',
      path: `${K8S}/cluster/all`,
      idempotent: true,
      schema: z.array(K8sClusterSummarySchema),
    });
    return r.data;
  }

  async getCluster(clusterIdentifier: string): Promise<K8sCluster> {
    const r = await this.call({
      operation: 'k8s.cluster.get',
      method: 'GET',
      path: `${K8S}/cluster/byId/${encodeURIComponent(clusterIdentifier)}`,
      idempotent: true,
      schema: z.union([K8sClusterSchema, z.literal(false), z.null()]),
    });
    if (!r.data) throw new VPSieError({ type: 'not_found', operation: 'k8s.cluster.get', message: 'Not found' });
    return r.data;
  }

  async listNodeGroups(clusterIdentifier: string): Promise<NodeGroup[]> {
    const r = await this.call({
      operation: 'k8s.group.list',
      method: 'GET',
      path: `${K8S}/node/groups/byClusterId/${encodeURIComponent(clusterIdentifier)}`,
      idempotent: true,
      schema: z.array(NodeGroupSchema),
    });
    return r.data.filter((g) => g.is_deleted !== 1);
  }

  /**
   * Creates a node group unless one with this name exists (then returns it). VPSie refuses a
   * second group of the same size: that surfaces as a terminal `same_size_group` error.
   */
  async ensureNodeGroup(input: { clusterIdentifier: string; groupName: string; kubeSizeId: number }): Promise<NodeGroup> {
    const find = async () => (await this.listNodeGroups(input.clusterIdentifier)).find((g) => g.group_name === input.groupName);
    const existing = await find();
    if (existing) return existing;
    try {
      await this.call({
        operation: 'k8s.group.create',
        method: 'POST',
        path: `${K8S}/cluster/add/group`,
        json: { clusterIdentifier: input.clusterIdentifier, groupName: input.groupName, KubeSizeID: input.kubeSizeId },
        idempotent: false,
        schema: ActionDataSchema,
      });
    } catch (e) {
      if (!isVPSieError(e) || !e.ambiguous) throw e;
    }
    const created = await find();
    if (!created)
      throw new VPSieError({ type: 'not_settled', operation: 'k8s.group.create', message: `group '${input.groupName}' not visible after create; retry` });
    return created;
  }

  async deleteNodeGroup(groupIdentifier: string): Promise<boolean> {
    try {
      await this.call({
        operation: 'k8s.group.delete',
        method: 'DELETE',
        path: `${K8S}/cluster/delete/group/${encodeURIComponent(groupIdentifier)}`,
        json: { deleteStatistic: { reason: 'scale-down', note: 'vpsie-capacity-orchestrator' } },
        idempotent: true,
        schema: ActionDataSchema,
      });
      return true;
    } catch (e) {
      if (isVPSieError(e) && e.type === 'not_found') return false;
      throw e;
    }
  }

  /** Raw "add a worker to a group": answers `data: true`, no identifier. Prefer `ensureGroupWorker`. */
  async addGroupWorker(clusterIdentifier: string, groupId: number): Promise<void> {
    await this.call({
      operation: 'k8s.group.addWorker',
      method: 'POST',
      path: `${K8S}/cluster/byId/${encodeURIComponent(clusterIdentifier)}/add/slave/group/${groupId}`,
      idempotent: false,
      schema: ActionDataSchema,
    });
  }

  /**
   * Brings the group to `targetCount` nodes by adding workers one at a time, reading the group's
   * `nodes_count` (which counts workers still provisioning) before each add. Retrying with the same
   * target after a crash or a lost answer adds nothing more.
   */
  async ensureGroupWorker(input: EnsureGroupWorkerInput): Promise<EnsureGroupWorkerResult> {
    const count = async () => {
      const g = (await this.listNodeGroups(input.clusterIdentifier)).find((x) => x.id === input.groupId);
      if (!g) throw new VPSieError({ type: 'not_found', operation: 'k8s.group.ensureWorker', message: `no node group ${input.groupId}` });
      return g.nodes_count;
    };
    let added = 0;
    let current = await count();
    while (current < input.targetCount) {
      try {
        await this.addGroupWorker(input.clusterIdentifier, input.groupId);
        added += 1;
        current += 1;
      } catch (e) {
        if (!isVPSieError(e) || !e.ambiguous) throw e;
        const after = await count().catch(() => undefined);
        if (after === undefined || after <= current) {
          throw new VPSieError({ type: 'not_settled', operation: 'k8s.group.ensureWorker', message: `add worker got no answer (${e.type}); retry`, cause: e });
        }
        added += after - current;
        current = after;
      }
    }
    return { added, nodesCount: current };
  }

  /** Removes an unspecified worker of the group (`DELETE …/reduce/slave {groupId}`). */
  async reduceGroup(clusterIdentifier: string, groupId: number): Promise<void> {
    await this.call({
      operation: 'k8s.group.reduce',
      method: 'DELETE',
      path: `${K8S}/cluster/byId/${encodeURIComponent(clusterIdentifier)}/reduce/slave`,
      json: { groupId },
      idempotent: false,
      schema: ActionDataSchema,
    });
  }

  /** Deletes one specific worker; true if deleted, false if it was not there. Safe to retry. */
  async deleteGroupWorker(clusterIdentifier: string, identifier: string): Promise<boolean> {
    try {
      await this.call({
        operation: 'k8s.worker.delete',
        method: 'DELETE',
        path: `${K8S}/cluster/byId/${encodeURIComponent(clusterIdentifier)}/delete/slave`,
        json: { identifier },
        idempotent: true,
        schema: ActionDataSchema,
      });
      return true;
    } catch (e) {
      if (isVPSieError(e) && e.type === 'not_found') return false;
      throw e;
    }
  }

  /** Worker nodes of a cluster, optionally of one group (simulator exposes `group_id`). */
  async listClusterWorkers(clusterIdentifier: string, groupId?: number): Promise<K8sNode[]> {
    const c = await this.getCluster(clusterIdentifier);
    return c.nodes.filter((n) => n.node_type !== 1 && (groupId === undefined || n.group_id === groupId));
  }

  /** Finds a cluster node by hostname, IP or identifier. */
  async findClusterNode(clusterIdentifier: string, q: { hostname?: string; ip?: string; identifier?: string }): Promise<K8sNode | undefined> {
    const c = await this.getCluster(clusterIdentifier);
    return c.nodes.find(
      (n) =>
        (q.hostname !== undefined && n.hostname === q.hostname) ||
        (q.identifier !== undefined && n.identifier === q.identifier) ||
        (q.ip !== undefined && (n.default_ip === q.ip || n.private_ip === q.ip)),
    );
  }
}
