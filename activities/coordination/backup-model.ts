/**
 * The coordination backups' data and their pure rules (no I/O, time is an argument): which kinds
 * a backup holds, what of an object is kept, the backup's id, which backup a point-in-time
 * restore takes, which backups retention deletes, and what a restore does with one object.
 *
 * A backup holds the VPA state the coordination governs: upstream VerticalPodAutoscalers and
 * their VerticalPodAutoscalerCheckpoints (the recommender's histograms, in their status),
 * VPANAPCoordinations, OptimizationPolicies and OptimizationCheckpoints (OptiPod's recommender
 * state, in their spec), plus the labels and annotations of the namespaces they live in (a tier
 * may come from a namespace label), so a restore into a lost namespace recreates it as it was.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { compareStrings } from '../../lib/compare';
import { OPTIMIZATIONCHECKPOINT_KIND, OPTIMIZATIONCHECKPOINT_PLURAL, shortHash } from '../../lib/crds/optipod/checkpoint';
import { OPTIMIZATIONPOLICY_KIND, OPTIMIZATIONPOLICY_PLURAL, OPTIPOD_GROUP, OPTIPOD_VERSION } from '../../lib/crds/optipod/constants';
import {
  COORDINATION_KIND,
  COORDINATION_PLURAL,
  PLATFORM_GROUP,
  PLATFORM_VERSION,
  VPA_CHECKPOINT_PLURAL,
  VPA_GROUP,
  VPA_PLURAL,
  VPA_VERSION,
} from '../../lib/crds/platform/constants';

// ---------------------------------------------------------------- kinds

/** The kinds a backup holds, in the order a restore creates them. */
export const BACKUP_KINDS = [
  OPTIMIZATIONPOLICY_KIND,
  'VerticalPodAutoscaler',
  COORDINATION_KIND,
  'VerticalPodAutoscalerCheckpoint',
  OPTIMIZATIONCHECKPOINT_KIND,
] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

export interface KindInfo {
  kind: BackupKind;
  group: string;
  version: string;
  plural: string;
  /**
   * The status is the object's data, not a controller's report of it (a VPA checkpoint's
   * histograms): `overwrite` replaces it too. Other kinds' status is restored only on creation.
   */
  statusIsData: boolean;
}

export const KIND_INFO: Record<BackupKind, KindInfo> = {
  OptimizationPolicy: { kind: OPTIMIZATIONPOLICY_KIND, group: OPTIPOD_GROUP, version: OPTIPOD_VERSION, plural: OPTIMIZATIONPOLICY_PLURAL, statusIsData: false },
  VerticalPodAutoscaler: { kind: 'VerticalPodAutoscaler', group: VPA_GROUP, version: VPA_VERSION, plural: VPA_PLURAL, statusIsData: false },
  VPANAPCoordination: { kind: COORDINATION_KIND, group: PLATFORM_GROUP, version: PLATFORM_VERSION, plural: COORDINATION_PLURAL, statusIsData: false },
  VerticalPodAutoscalerCheckpoint: {
    kind: 'VerticalPodAutoscalerCheckpoint',
    group: VPA_GROUP,
    version: VPA_VERSION,
    plural: VPA_CHECKPOINT_PLURAL,
    statusIsData: true,
  },
  OptimizationCheckpoint: {
    kind: OPTIMIZATIONCHECKPOINT_KIND,
    group: OPTIPOD_GROUP,
    version: OPTIPOD_VERSION,
    plural: OPTIMIZATIONCHECKPOINT_PLURAL,
    statusIsData: false,
  },
};

/** Why a backup holds nothing of a kind: its CRD is not served (404 on list), or the list is refused (403). */
export const SKIP_REASONS = ['NotInstalled', 'Forbidden'] as const;
export type BackupSkipReason = (typeof SKIP_REASONS)[number];

// ---------------------------------------------------------------- the stored shapes

const Name = z.string().min(1).max(253);
const StringMap = z.record(z.string(), z.string());

/** An object as a backup keeps it: identity, labels, annotations, finalizers, owners, spec, status (and any other top-level field). */
export const BackedUpObjectSchema = z.looseObject({
  apiVersion: z.string().min(1),
  kind: z.enum(BACKUP_KINDS),
  metadata: z.strictObject({
    name: Name,
    namespace: z.string().min(1).max(63),
    labels: StringMap.optional(),
    annotations: StringMap.optional(),
    finalizers: z.array(z.string()).optional(),
    ownerReferences: z.array(z.looseObject({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string() })).optional(),
  }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type BackedUpObject = z.output<typeof BackedUpObjectSchema>;

export const BackedUpNamespaceSchema = z.strictObject({
  name: z.string().min(1).max(63),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
});
export type BackedUpNamespace = z.output<typeof BackedUpNamespaceSchema>;

/** Safe as a file name and in a URL: letters, digits, `.`, `_`, `-`. */
export const BACKUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const BackupIdSchema = z.string().regex(BACKUP_ID_PATTERN, 'a backup id is letters, digits, ".", "_" and "-" (at most 128)');

const Rfc3339 = z.iso.datetime({ offset: true });

export const BackupManifestSchema = z.strictObject({
  format: z.literal(1),
  id: BackupIdSchema,
  /** The time the backup stands for (its schedule's time): point-in-time restores compare this. */
  takenAt: Rfc3339,
  /** When the listing finished. */
  completedAt: Rfc3339,
  /** Only these namespaces were backed up (absent: all of them). */
  namespaces: z.array(z.string().min(1)).optional(),
  /** Objects per kind (kinds listed, even with none). */
  counts: z.partialRecord(z.enum(BACKUP_KINDS), z.number().int().min(0)),
  /** Kinds not backed up, and why. */
  skipped: z.array(z.strictObject({ kind: z.enum(BACKUP_KINDS), reason: z.enum(SKIP_REASONS), message: z.string() })),
  objects: z.number().int().min(0),
});
export type BackupManifest = z.output<typeof BackupManifestSchema>;

export interface Backup {
  manifest: BackupManifest;
  namespaces: BackedUpNamespace[];
  objects: BackedUpObject[];
}

// ---------------------------------------------------------------- taking

const ListedMeta = z.looseObject({
  name: Name,
  namespace: z.string().min(1),
  labels: StringMap.nullish(),
  annotations: StringMap.nullish(),
  finalizers: z.array(z.string()).nullish(),
  ownerReferences: z.array(z.looseObject({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string() })).nullish(),
});
const Listed = z.looseObject({ metadata: ListedMeta });

/** Top-level fields a backup never keeps (the apiserver's and the list's own). */
const DROPPED_TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata']);

/**
 * What a backup keeps of a listed object: of metadata only name, namespace, labels, annotations,
 * finalizers and ownerReferences — never what the server assigns (uid, resourceVersion,
 * generation, creationTimestamp, managedFields, selfLink, deletion marks); every other top-level
 * field as it is (spec, status). Throws when the object has no name or namespace.
 */
export function stripServerFields(kind: BackupKind, listed: unknown): BackedUpObject {
  const o = Listed.parse(listed);
  const info = KIND_INFO[kind];
  const m = o.metadata;
  const metadata: BackedUpObject['metadata'] = { name: m.name, namespace: m.namespace };
  if (m.labels && Object.keys(m.labels).length > 0) metadata.labels = { ...m.labels };
  if (m.annotations && Object.keys(m.annotations).length > 0) metadata.annotations = { ...m.annotations };
  if (m.finalizers && m.finalizers.length > 0) metadata.finalizers = [...m.finalizers];
  if (m.ownerReferences && m.ownerReferences.length > 0) metadata.ownerReferences = m.ownerReferences.map((r) => ({ ...r }));
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!DROPPED_TOP_LEVEL.has(k) && v !== undefined) rest[k] = v;
  return BackedUpObjectSchema.parse({ ...rest, apiVersion: `${info.group}/${info.version}`, kind, metadata });
}

/** What a backup keeps of a namespace: its name, labels and annotations. */
export function stripNamespace(listed: {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}): BackedUpNamespace {
  const m = listed.metadata ?? {};
  const out: BackedUpNamespace = { name: m.name ?? '' };
  if (m.labels && Object.keys(m.labels).length > 0) out.labels = { ...m.labels };
  if (m.annotations && Object.keys(m.annotations).length > 0) out.annotations = { ...m.annotations };
  return BackedUpNamespaceSchema.parse(out);
}

/** `at` to whole seconds, as RFC 3339 UTC: the backup's takenAt. */
export function backupTime(at: Date): string {
  if (Number.isNaN(at.getTime())) throw new Error('invalid backup time');
  return new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function scopeKey(namespaces: readonly string[] | undefined): string {
  return namespaces === undefined ? '*' : [...new Set(namespaces)].sort(compareStrings).join(',');
}

/**
 * The backup's id: its time to the second (`coordination-20261201T060000Z`), and for a backup of
 * some namespaces only a hash of them. The same schedule time gives the same id, so a retried
 * backup replaces the one its first attempt wrote, never adds a second.
 */
export function backupIdFor(at: Date, namespaces?: readonly string[]): string {
  const t = backupTime(at).replace(/[-:]/g, '');
  return namespaces === undefined ? `coordination-${t}` : `coordination-${t}-ns-${shortHash(scopeKey(namespaces))}`;
}

/** Orders manifests oldest first (by takenAt, then completedAt, then id). */
export function byTakenAt(a: BackupManifest, b: BackupManifest): number {
  return Date.parse(a.takenAt) - Date.parse(b.takenAt) || Date.parse(a.completedAt) - Date.parse(b.completedAt) || compareStrings(a.id, b.id);
}

// ---------------------------------------------------------------- point in time

/** The backup holds every object of `namespaces` (undefined: of every namespace). */
export function covers(m: BackupManifest, namespaces: readonly string[] | undefined): boolean {
  if (m.namespaces === undefined) return true;
  if (namespaces === undefined) return false;
  const held = new Set(m.namespaces);
  return namespaces.every((n) => held.has(n));
}

/**
 * The backup a point-in-time restore of `namespaces` takes: the newest taken at or before `at`
 * that covers them (a backup of other namespaces only is never chosen). Undefined when none.
 */
export function selectBackup(manifests: readonly BackupManifest[], at: Date, namespaces?: readonly string[]): BackupManifest | undefined {
  const t = at.getTime();
  let best: BackupManifest | undefined;
  for (const m of manifests) {
    if (Date.parse(m.takenAt) > t || !covers(m, namespaces)) continue;
    if (best === undefined || byTakenAt(best, m) < 0) best = m;
  }
  return best;
}

// ---------------------------------------------------------------- retention

export const DAY_MS = 24 * 3600 * 1000;

/**
 * The backups retention deletes: those taken more than `retentionDays` before `now`, except the
 * newest of each scope (all namespaces, or one set of namespaces), which is always kept — a
 * cluster whose backups stopped still has its last one.
 */
export function backupsToPrune(manifests: readonly BackupManifest[], now: Date, retentionDays: number): string[] {
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  const newest = new Map<string, BackupManifest>();
  for (const m of manifests) {
    const k = scopeKey(m.namespaces);
    const cur = newest.get(k);
    if (cur === undefined || byTakenAt(cur, m) < 0) newest.set(k, m);
  }
  const keep = new Set([...newest.values()].map((m) => m.id));
  return manifests
    .filter((m) => Date.parse(m.takenAt) < cutoff && !keep.has(m.id))
    .map((m) => m.id)
    .sort(compareStrings);
}

// ---------------------------------------------------------------- restoring one object

/** What a restore did (or, in a dry run, would do) with one object. */
export const RESTORE_OUTCOMES = ['created', 'wouldCreate', 'exists', 'unchanged', 'replaced', 'wouldReplace', 'skipped', 'failed'] as const;
export type RestoreOutcome = (typeof RESTORE_OUTCOMES)[number];

export type RestorePlan = 'create' | 'exists' | 'unchanged' | 'replace';

/** The live object, as far as a restore looks at it. */
export interface LiveObject {
  metadata: { labels?: Record<string, string> | null; annotations?: Record<string, string> | null; [k: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

const emptyToUndefined = (m: Record<string, string> | null | undefined): Record<string, string> | undefined =>
  m === null || m === undefined || Object.keys(m).length === 0 ? undefined : m;

/** The object already holds what the backup would write (spec, labels, annotations; the status where it is data). */
export function sameContent(live: LiveObject, backup: BackedUpObject, statusIsData: boolean): boolean {
  return (
    isDeepStrictEqual(live.spec, backup.spec) &&
    isDeepStrictEqual(emptyToUndefined(live.metadata.labels), emptyToUndefined(backup.metadata.labels)) &&
    isDeepStrictEqual(emptyToUndefined(live.metadata.annotations), emptyToUndefined(backup.metadata.annotations)) &&
    (!statusIsData || isDeepStrictEqual(live.status, backup.status))
  );
}

/** Missing: create. Present: left alone (`exists`), or with `overwrite` replaced unless it already matches. */
export function planRestore(live: LiveObject | undefined, backup: BackedUpObject, o: { overwrite: boolean; statusIsData: boolean }): RestorePlan {
  if (live === undefined) return 'create';
  if (!o.overwrite) return 'exists';
  return sameContent(live, backup, o.statusIsData) ? 'unchanged' : 'replace';
}

/**
 * The body that creates a backed-up object. Owner references are left out (the owners' uids are
 * those of the objects at backup time: the garbage collector would delete an object whose owner
 * was recreated or is gone). The status is included: a kind without a status subresource keeps
 * it, one with it ignores it (it is then written through the subresource).
 */
export function creationBody(backup: BackedUpObject): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...backup.metadata };
  delete metadata.ownerReferences;
  return { ...backup, metadata };
}

/** The live object with the backup's spec, labels and annotations (and status where it is data): the body of a replace. */
export function replacementBody(live: LiveObject, backup: BackedUpObject, statusIsData: boolean): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...live.metadata };
  delete metadata.labels;
  delete metadata.annotations;
  if (backup.metadata.labels) metadata.labels = backup.metadata.labels;
  if (backup.metadata.annotations) metadata.annotations = backup.metadata.annotations;
  const body: Record<string, unknown> = { ...live, metadata };
  delete body.spec;
  if (backup.spec !== undefined) body.spec = backup.spec;
  if (statusIsData) {
    delete body.status;
    if (backup.status !== undefined) body.status = backup.status;
  }
  return body;
}
