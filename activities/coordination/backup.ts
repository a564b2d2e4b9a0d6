/**
 * Activities of the coordination backups (workflows/coordination/backup.ts): take a backup of
 * the VPA state (the kinds of ./backup-model.ts), prune old ones, restore one.
 *
 * - `takeBackup({ at, namespaces? })` lists every kind in all namespaces (or in `namespaces`),
 *   paged (limit/continue; an expired continue token starts the kind again), keeps of each
 *   object what ./backup-model.ts `stripServerFields` keeps, and writes one backup whose id comes
 *   from `at` (the schedule's time): a retried attempt replaces the same backup. A kind whose CRD
 *   is not served (404) or may not be listed (403) is skipped and named in the manifest.
 *   Heartbeats after each page.
 * - `pruneBackups({ now, retentionDays })` deletes what ./backup-model.ts `backupsToPrune` names.
 * - `restoreBackup(input)` takes the backup named, or the newest taken at or before `at` that
 *   covers the namespaces asked for, and creates what is missing (its namespace first, with the
 *   backed-up labels and annotations), restoring the status through the status subresource where
 *   the kind has one (else it is created with it: a VPA checkpoint's status is its data). An
 *   existing object is left alone (`exists`), or with `overwrite` given the backup's spec, labels
 *   and annotations (and status, where it is data). Idempotent: a second run creates nothing.
 *   Heartbeats its progress; a retried attempt goes on from there with the report so far.
 *   Returns one entry per object.
 *
 * Metrics: vpa_nap_backups_total{outcome}, vpa_nap_backup_last_success_timestamp_seconds,
 * vpa_nap_backup_duration_seconds, vpa_nap_backup_objects{kind}, vpa_nap_backups_stored,
 * vpa_nap_restore_objects_total{kind,outcome}.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import * as k8s from '@kubernetes/client-node';
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import { z } from 'zod';
import { apiStatus } from '../../lib/kube/api';
import { logger } from '../../lib/log';
import {
  BACKUP_KINDS,
  BackupIdSchema,
  KIND_INFO,
  RESTORE_OUTCOMES,
  backupIdFor,
  backupTime,
  backupsToPrune,
  creationBody,
  planRestore,
  replacementBody,
  selectBackup,
  stripNamespace,
  stripServerFields,
  type BackedUpNamespace,
  type BackedUpObject,
  type BackupKind,
  type BackupManifest,
  type BackupSkipReason,
  type LiveObject,
  type RestoreOutcome,
} from './backup-model';
import type { BackupStore } from './backup-store';

export type { BackupKind, BackupManifest, RestoreOutcome } from './backup-model';

// ---------------------------------------------------------------- inputs and outputs

const Rfc3339 = z.iso.datetime({ offset: true });
const Namespaces = z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name')).min(1);

export const TakeBackupInputSchema = z.strictObject({
  /** The time the backup stands for (the schedule's time), RFC 3339. */
  at: Rfc3339,
  /** Only these namespaces (default: all). */
  namespaces: Namespaces.optional(),
});
export type TakeBackupInput = z.input<typeof TakeBackupInputSchema>;

export const PruneBackupsInputSchema = z.strictObject({
  now: Rfc3339,
  retentionDays: z.number().positive().max(3650).default(30),
});
export type PruneBackupsInput = z.input<typeof PruneBackupsInputSchema>;
export interface PruneBackupsResult {
  deleted: string[];
  kept: number;
}

export const RestoreBackupInputSchema = z
  .strictObject({
    /** This backup. */
    backupId: BackupIdSchema.optional(),
    /** Else the newest backup taken at or before this time (RFC 3339; default: now). */
    at: Rfc3339.optional(),
    /** Only the objects of these namespaces. */
    namespaces: Namespaces.optional(),
    /** Only these kinds. */
    kinds: z.array(z.enum(BACKUP_KINDS)).min(1).optional(),
    /** Report what would be done; change nothing. */
    dryRun: z.boolean().default(false),
    /** Give existing objects the backup's spec, labels and annotations. */
    overwrite: z.boolean().default(false),
  })
  .refine((i) => i.backupId === undefined || i.at === undefined, { message: 'name a backup (backupId) or a point in time (at), not both' });
export type RestoreBackupInput = z.input<typeof RestoreBackupInputSchema>;

export interface RestoreEntry {
  kind: BackupKind;
  namespace: string;
  name: string;
  outcome: RestoreOutcome;
  /** The backed-up status was written (on creation, or with overwrite where the status is data). */
  statusRestored?: boolean;
  message?: string;
}

export interface RestoreReport {
  backupId: string;
  takenAt: string;
  dryRun: boolean;
  overwrite: boolean;
  /** Namespaces created (in a dry run: that would be). */
  namespacesCreated: string[];
  /** Entries per outcome. */
  counts: Partial<Record<RestoreOutcome, number>>;
  entries: RestoreEntry[];
  /** Kinds held by the backup that this cluster does not serve: their objects are `skipped`. */
  skippedKinds: { kind: BackupKind; reason: BackupSkipReason; message: string }[];
}

export interface BackupDeps {
  kc: k8s.KubeConfig;
  store: BackupStore;
  registry: Registry;
  /** Objects per list call (default 250). */
  pageSize?: number;
}

// ---------------------------------------------------------------- helpers

function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw ApplicationFailure.nonRetryable(`${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`, 'InvalidInput');
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (tests, scripts)
  }
}

function heartbeat(details?: unknown): void {
  const ctx = activityContext();
  if (!ctx) return;
  ctx.heartbeat(details);
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
}

/** The apiserver's message of a failed call, else the error's. */
function apiMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'body' in err) {
    const body = (err as { body: unknown }).body;
    try {
      const parsed = typeof body === 'string' ? (JSON.parse(body) as unknown) : body;
      if (typeof parsed === 'object' && parsed !== null && 'message' in parsed && typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** A refusal that trying again does not change (bad request, forbidden, not found, invalid). */
function isPermanent(err: unknown): boolean {
  const s = apiStatus(err);
  return s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 409 && s !== 429;
}

function get<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

function backupMetrics(registry: Registry) {
  const registers = [registry];
  return {
    backups: get(
      registry,
      'vpa_nap_backups_total',
      () => new Counter({ name: 'vpa_nap_backups_total', help: 'Coordination backups taken, by outcome.', labelNames: ['outcome'] as const, registers }),
    ),
    lastSuccess: get(
      registry,
      'vpa_nap_backup_last_success_timestamp_seconds',
      () =>
        new Gauge({ name: 'vpa_nap_backup_last_success_timestamp_seconds', help: 'When the last coordination backup was written (Unix seconds).', registers }),
    ),
    duration: get(
      registry,
      'vpa_nap_backup_duration_seconds',
      () =>
        new Histogram({
          name: 'vpa_nap_backup_duration_seconds',
          help: 'Time to list and write one coordination backup.',
          buckets: [0.5, 1, 5, 15, 60, 300, 900],
          registers,
        }),
    ),
    objects: get(
      registry,
      'vpa_nap_backup_objects',
      () => new Gauge({ name: 'vpa_nap_backup_objects', help: 'Objects in the last coordination backup, by kind.', labelNames: ['kind'] as const, registers }),
    ),
    stored: get(
      registry,
      'vpa_nap_backups_stored',
      () => new Gauge({ name: 'vpa_nap_backups_stored', help: 'Coordination backups kept in the store.', registers }),
    ),
    restored: get(
      registry,
      'vpa_nap_restore_objects_total',
      () =>
        new Counter({
          name: 'vpa_nap_restore_objects_total',
          help: 'Objects handled by coordination restores, by kind and outcome.',
          labelNames: ['kind', 'outcome'] as const,
          registers,
        }),
    ),
  };
}

type ListResult = { ok: true; items: unknown[] } | { ok: false; reason: BackupSkipReason; message: string };

const ListPage = z.looseObject({ items: z.array(z.unknown()).nullish(), metadata: z.looseObject({ continue: z.string().nullish() }).nullish() });

// ---------------------------------------------------------------- the activities

export function createBackupActivities(deps: BackupDeps) {
  const { kc, store } = deps;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const metrics = backupMetrics(deps.registry);
  const pageSize = deps.pageSize ?? 250;
  const log = logger('coordination-backup');

  /** Every object of a kind (in `namespace`, or all), page by page; an expired continue token (410) starts again, twice at most. */
  async function listKind(kind: BackupKind, namespace: string | undefined, progress: () => void): Promise<ListResult> {
    const info = KIND_INFO[kind];
    for (let attempt = 0; ; attempt++) {
      const items: unknown[] = [];
      let cont: string | undefined;
      try {
        do {
          const g = { group: info.group, version: info.version, plural: info.plural, limit: pageSize, ...(cont ? { _continue: cont } : {}) };
          const page = ListPage.parse(
            namespace === undefined ? await custom.listClusterCustomObject(g) : await custom.listNamespacedCustomObject({ ...g, namespace }),
          );
          items.push(...(page.items ?? []));
          cont = page.metadata?.continue ?? undefined;
          progress();
        } while (cont);
        return { ok: true, items };
      } catch (err) {
        const s = apiStatus(err);
        if (s === 404) return { ok: false, reason: 'NotInstalled', message: `${info.plural}.${info.group}/${info.version} is not served: ${apiMessage(err)}` };
        if (s === 403) return { ok: false, reason: 'Forbidden', message: `listing ${info.plural}.${info.group} is forbidden: ${apiMessage(err)}` };
        if (s === 410 && attempt < 2) continue;
        throw err;
      }
    }
  }

  /** The namespaces' labels and annotations; without the right to read them, their names only. */
  async function namespaceRecords(names: readonly string[]): Promise<BackedUpNamespace[]> {
    const out: BackedUpNamespace[] = [];
    for (const name of names) {
      try {
        out.push(stripNamespace(await core.readNamespace({ name })));
      } catch (err) {
        const s = apiStatus(err);
        if (s === 404) continue; // deleted since its objects were listed
        if (s !== 403) throw err;
        out.push({ name });
      }
    }
    return out;
  }

  /** The kind's plural is served, and whether it has a status subresource. */
  async function discover(kind: BackupKind): Promise<{ served: boolean; statusSubresource: boolean; message?: string }> {
    const info = KIND_INFO[kind];
    try {
      const list = await custom.getAPIResources({ group: info.group, version: info.version });
      const names = new Set(list.resources.map((r) => r.name));
      if (!names.has(info.plural)) return { served: false, statusSubresource: false, message: `${info.plural}.${info.group}/${info.version} is not served` };
      return { served: true, statusSubresource: names.has(`${info.plural}/status`) };
    } catch (err) {
      if (apiStatus(err) === 404) return { served: false, statusSubresource: false, message: `${info.group}/${info.version} is not served` };
      throw err;
    }
  }

  async function readLive(kind: BackupKind, namespace: string, name: string): Promise<LiveObject | undefined> {
    const info = KIND_INFO[kind];
    try {
      return (await custom.getNamespacedCustomObject({ group: info.group, version: info.version, plural: info.plural, namespace, name })) as LiveObject;
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** Writes the backed-up status through the subresource, on the object as it now is (a conflict reads it again). */
  async function writeStatus(o: BackedUpObject, created: LiveObject): Promise<void> {
    const info = KIND_INFO[o.kind];
    const g = { group: info.group, version: info.version, plural: info.plural, namespace: o.metadata.namespace, name: o.metadata.name };
    let live: LiveObject | undefined = created;
    for (let attempt = 0; ; attempt++) {
      if (live === undefined) throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name} disappeared before its status was restored`);
      try {
        await custom.replaceNamespacedCustomObjectStatus({ ...g, body: { ...live, status: o.status } });
        return;
      } catch (err) {
        if (apiStatus(err) !== 409 || attempt >= 4) throw err;
        live = await readLive(o.kind, o.metadata.namespace, o.metadata.name);
      }
    }
  }

  async function restoreOne(o: BackedUpObject, opts: { dryRun: boolean; overwrite: boolean; statusSubresource: boolean }): Promise<RestoreEntry> {
    const info = KIND_INFO[o.kind];
    const g = { group: info.group, version: info.version, plural: info.plural, namespace: o.metadata.namespace };
    const entry = (outcome: RestoreOutcome, extra: Partial<RestoreEntry> = {}): RestoreEntry => ({
      kind: o.kind,
      namespace: o.metadata.namespace,
      name: o.metadata.name,
      outcome,
      ...extra,
    });
    const dropped = o.metadata.ownerReferences?.length
      ? { message: `owner references left out (${o.metadata.ownerReferences.map((r) => `${r.kind}/${r.name}`).join(', ')})` }
      : {};
    for (let attempt = 0; ; attempt++) {
      const live = await readLive(o.kind, o.metadata.namespace, o.metadata.name);
      const plan = planRestore(live, o, { overwrite: opts.overwrite, statusIsData: info.statusIsData });
      if (plan === 'exists' || plan === 'unchanged') return entry(plan);
      if (plan === 'create') {
        if (opts.dryRun) return entry('wouldCreate', dropped);
        let created: LiveObject;
        try {
          created = (await custom.createNamespacedCustomObject({ ...g, body: creationBody(o) })) as LiveObject;
        } catch (err) {
          if (apiStatus(err) === 409 && attempt < 2) continue; // created meanwhile: look again
          throw err;
        }
        if (o.status === undefined) return entry('created', dropped);
        if (opts.statusSubresource) await writeStatus(o, created);
        return entry('created', { statusRestored: true, ...dropped });
      }
      // replace
      if (live === undefined) continue;
      if (opts.dryRun) return entry('wouldReplace');
      try {
        await custom.replaceNamespacedCustomObject({ ...g, name: o.metadata.name, body: replacementBody(live, o, info.statusIsData) });
      } catch (err) {
        if (apiStatus(err) === 409 && attempt < 4) continue; // changed meanwhile: look again
        throw err;
      }
      return entry('replaced', info.statusIsData && o.status !== undefined ? { statusRestored: true } : {});
    }
  }

  /** Creates the namespace (with its backed-up labels and annotations) when missing; true when it did (or would). */
  async function ensureNamespace(name: string, record: BackedUpNamespace | undefined, dryRun: boolean): Promise<boolean> {
    try {
      await core.readNamespace({ name });
      return false;
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
    if (dryRun) return true;
    try {
      await core.createNamespace({
        body: {
          metadata: { name, ...(record?.labels ? { labels: record.labels } : {}), ...(record?.annotations ? { annotations: record.annotations } : {}) },
        },
      });
      return true;
    } catch (err) {
      if (apiStatus(err) === 409) return false; // created meanwhile, or still terminating (then the objects' creation says so)
      throw err;
    }
  }

  return {
    async takeBackup(raw: TakeBackupInput): Promise<BackupManifest> {
      const input = parseInput(TakeBackupInputSchema, raw, 'takeBackup');
      const started = Date.now();
      const at = new Date(input.at);
      const id = backupIdFor(at, input.namespaces);
      const namespaces = input.namespaces ? [...new Set(input.namespaces)].sort() : undefined;
      try {
        let pages = 0;
        const progress = (): void => heartbeat({ id, pages: ++pages });
        const objects: BackedUpObject[] = [];
        const counts: Partial<Record<BackupKind, number>> = {};
        const skipped: BackupManifest['skipped'] = [];
        for (const kind of BACKUP_KINDS) {
          const items: unknown[] = [];
          let skip: { reason: BackupSkipReason; message: string } | undefined;
          for (const ns of namespaces ?? [undefined]) {
            const r = await listKind(kind, ns, progress);
            if (!r.ok) {
              skip = { reason: r.reason, message: r.message };
              break;
            }
            items.push(...r.items);
          }
          if (skip) {
            skipped.push({ kind, ...skip });
            log.warn('a kind is left out of the backup', { backup: id, kind, reason: skip.reason, message: skip.message });
            continue;
          }
          const kept = items.map((item) => stripServerFields(kind, item));
          counts[kind] = kept.length;
          objects.push(...kept);
        }
        const nsNames = [...new Set(objects.map((o) => o.metadata.namespace))].sort();
        const manifest: BackupManifest = {
          format: 1,
          id,
          takenAt: backupTime(at),
          completedAt: new Date().toISOString(),
          ...(namespaces ? { namespaces } : {}),
          counts,
          skipped,
          objects: objects.length,
        };
        await store.put(id, { manifest, namespaces: await namespaceRecords(nsNames), objects });
        metrics.backups.inc({ outcome: 'success' });
        metrics.lastSuccess.set(Date.now() / 1000);
        metrics.duration.observe((Date.now() - started) / 1000);
        for (const kind of BACKUP_KINDS) metrics.objects.set({ kind }, counts[kind] ?? 0);
        log.info('backup written', {
          backup: id,
          objects: objects.length,
          counts,
          skipped: skipped.map((s) => s.kind),
          seconds: (Date.now() - started) / 1000,
        });
        return manifest;
      } catch (err) {
        metrics.backups.inc({ outcome: 'failure' });
        throw err;
      }
    },

    async pruneBackups(raw: PruneBackupsInput): Promise<PruneBackupsResult> {
      const input = parseInput(PruneBackupsInputSchema, raw, 'pruneBackups');
      const manifests = await store.list();
      const doomed = backupsToPrune(manifests, new Date(input.now), input.retentionDays);
      for (const id of doomed) {
        await store.delete(id);
        heartbeat({ deleted: id });
      }
      const kept = manifests.length - doomed.length;
      metrics.stored.set(kept);
      if (doomed.length > 0) log.info('old backups deleted', { deleted: doomed, kept, retentionDays: input.retentionDays });
      return { deleted: doomed, kept };
    },

    async restoreBackup(raw: RestoreBackupInput): Promise<RestoreReport> {
      const input = parseInput(RestoreBackupInputSchema, raw, 'restoreBackup');
      const at = input.at !== undefined ? new Date(input.at) : new Date();
      let id = input.backupId;
      if (id === undefined) {
        const chosen = selectBackup(await store.list(), at, input.namespaces);
        if (chosen === undefined)
          throw ApplicationFailure.nonRetryable(
            `no backup taken at or before ${at.toISOString()} holds ${input.namespaces ? `namespaces ${input.namespaces.join(', ')}` : 'every namespace'}`,
            'BackupNotFound',
          );
        id = chosen.id;
      }
      const backup = await store.get(id);
      if (backup === undefined) throw ApplicationFailure.nonRetryable(`there is no backup ${id}`, 'BackupNotFound');
      const wantNs = input.namespaces ? new Set(input.namespaces) : undefined;
      const wantKinds = new Set(input.kinds ?? BACKUP_KINDS);
      const order = new Map(BACKUP_KINDS.map((k, i) => [k, i]));
      const objects = backup.objects
        .filter((o) => (wantNs === undefined || wantNs.has(o.metadata.namespace)) && wantKinds.has(o.kind))
        .sort((a, b) => (order.get(a.kind) ?? 0) - (order.get(b.kind) ?? 0));

      // A retried attempt goes on where the last one heartbeat, with its report so far.
      const Entry = z.object({
        kind: z.enum(BACKUP_KINDS),
        namespace: z.string(),
        name: z.string(),
        outcome: z.enum(RESTORE_OUTCOMES),
        statusRestored: z.boolean().optional(),
        message: z.string().optional(),
      });
      const Progress = z.object({ backupId: z.string(), next: z.number().int().min(0), namespacesCreated: z.array(z.string()), entries: z.array(Entry) });
      const resumed = Progress.safeParse(activityContext()?.info.heartbeatDetails);
      const prior = resumed.success && resumed.data.backupId === id && resumed.data.next <= objects.length ? resumed.data : undefined;
      const entries: RestoreEntry[] = prior?.entries ?? [];
      const namespacesCreated = new Set(prior?.namespacesCreated ?? []);
      const report = (next: number) => ({ backupId: id, next, namespacesCreated: [...namespacesCreated], entries });

      const kinds = [...new Set(objects.map((o) => o.kind))];
      const found = new Map<BackupKind, Awaited<ReturnType<typeof discover>>>();
      for (const k of kinds) found.set(k, await discover(k));
      const skippedKinds: RestoreReport['skippedKinds'] = kinds
        .filter((k) => !found.get(k)?.served)
        .map((k) => ({ kind: k, reason: 'NotInstalled' as const, message: found.get(k)?.message ?? 'not served' }));

      const nsRecords = new Map(backup.namespaces.map((n) => [n.name, n]));
      for (const ns of [...new Set(objects.filter((o) => found.get(o.kind)?.served).map((o) => o.metadata.namespace))].sort())
        if (!namespacesCreated.has(ns) && (await ensureNamespace(ns, nsRecords.get(ns), input.dryRun))) namespacesCreated.add(ns);

      let lastBeat = 0;
      for (let i = prior?.next ?? 0; i < objects.length; i++) {
        const o = objects[i]!;
        const d = found.get(o.kind);
        let e: RestoreEntry;
        if (!d?.served) e = { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, outcome: 'skipped', message: d?.message ?? 'not served' };
        else
          try {
            e = await restoreOne(o, { dryRun: input.dryRun, overwrite: input.overwrite, statusSubresource: d.statusSubresource });
          } catch (err) {
            if (!isPermanent(err)) throw err;
            e = { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, outcome: 'failed', message: apiMessage(err) };
            log.warn('an object could not be restored', { backup: id, kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, error: e.message });
          }
        entries.push(e);
        metrics.restored.inc({ kind: e.kind, outcome: e.outcome });
        if (Date.now() - lastBeat > 1000 || i === objects.length - 1) {
          heartbeat(report(i + 1));
          lastBeat = Date.now();
        }
      }
      const counts: Partial<Record<RestoreOutcome, number>> = {};
      for (const outcome of RESTORE_OUTCOMES) {
        const n = entries.filter((e) => e.outcome === outcome).length;
        if (n > 0) counts[outcome] = n;
      }
      log.info('backup restored', { backup: id, dryRun: input.dryRun, overwrite: input.overwrite, counts, namespacesCreated: [...namespacesCreated] });
      return {
        backupId: id,
        takenAt: backup.manifest.takenAt,
        dryRun: input.dryRun,
        overwrite: input.overwrite,
        namespacesCreated: [...namespacesCreated].sort(),
        counts,
        entries,
        skippedKinds,
      };
    },
  };
}

export type BackupActivities = ReturnType<typeof createBackupActivities>;
