/**
 * Where coordination backups are kept: one interface, `BackupStore`, so a directory (the
 * default), an object store or a replicated volume are interchangeable.
 *
 * `DirectoryBackupStore(dir)` writes one file per backup, `<id>.jsonl.gz`: gzipped JSON lines,
 * the first `{"manifest":…}`, then one `{"namespace":…}` per namespace and one `{"object":…}` per
 * object, so `list()` reads only the first line of each file. A write goes to a temporary file in
 * the same directory, is flushed to disk, then renamed over the backup's file (and the directory
 * flushed): a reader sees the old backup or the new one, never half of one, and a backup written
 * twice under one id is one file. The directory must be shared (or replicated) by every replica
 * that runs the backup activities for all of them to see the same backups.
 *
 * The directory: BACKUP_DIR, else `<repo>/.backups` (a local run).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { z } from 'zod';
import { logger } from '../../lib/log';
import { projectRoot } from '../../lib/paths';
import {
  BACKUP_ID_PATTERN,
  BackedUpNamespaceSchema,
  BackedUpObjectSchema,
  BackupIdSchema,
  BackupManifestSchema,
  byTakenAt,
  type Backup,
  type BackupManifest,
} from './backup-model';

export interface BackupStore {
  /** Writes the backup under `backupId` (its manifest's id), replacing one written before under that id. */
  put(backupId: string, backup: Backup): Promise<void>;
  /** Every stored backup's manifest, oldest first. */
  list(): Promise<BackupManifest[]>;
  /** The backup, or undefined when there is none with that id. */
  get(backupId: string): Promise<Backup | undefined>;
  /** Deletes the backup; false when there was none. */
  delete(backupId: string): Promise<boolean>;
}

/** BACKUP_DIR, else `<repo>/.backups`. */
export function defaultBackupDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = z
    .string()
    .min(1)
    .optional()
    .parse(env.BACKUP_DIR || undefined);
  return path.resolve(dir ?? path.join(projectRoot(), '.backups'));
}

const SUFFIX = '.jsonl.gz';
const TMP = /\.tmp-[0-9a-f]+$/;
/** A temporary file older than this is a crashed write's: removed on the next write. */
const STALE_TMP_MS = 3600_000;

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

const Line = z.union([
  z.strictObject({ manifest: BackupManifestSchema }),
  z.strictObject({ namespace: BackedUpNamespaceSchema }),
  z.strictObject({ object: BackedUpObjectSchema }),
]);

export class BackupFormatError extends Error {
  override name = 'BackupFormatError';
}

export class DirectoryBackupStore implements BackupStore {
  private readonly log = logger('backup-store');

  constructor(readonly dir: string = defaultBackupDir()) {}

  private file(backupId: string): string {
    BackupIdSchema.parse(backupId);
    return path.join(this.dir, `${backupId}${SUFFIX}`);
  }

  async put(backupId: string, backup: Backup): Promise<void> {
    if (backup.manifest.id !== backupId) throw new Error(`backup ${backup.manifest.id} put under another id (${backupId})`);
    const file = this.file(backupId);
    const lines = [
      JSON.stringify({ manifest: BackupManifestSchema.parse(backup.manifest) }),
      ...backup.namespaces.map((n) => JSON.stringify({ namespace: n })),
      ...backup.objects.map((o) => JSON.stringify({ object: o })),
    ];
    const data = await gzip(Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
    await fs.promises.mkdir(this.dir, { recursive: true });
    await this.removeStaleTemporaries();
    const tmp = `${file}.tmp-${crypto.randomBytes(6).toString('hex')}`;
    try {
      const fh = await fs.promises.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
    await this.syncDir();
  }

  async list(): Promise<BackupManifest[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: BackupManifest[] = [];
    for (const name of names) {
      if (!name.endsWith(SUFFIX) || !BACKUP_ID_PATTERN.test(name.slice(0, -SUFFIX.length))) continue;
      const file = path.join(this.dir, name);
      try {
        const m = await readManifest(file);
        if (m === undefined) continue; // deleted meanwhile
        if (`${m.id}${SUFFIX}` !== name) throw new BackupFormatError(`holds backup ${m.id}`);
        out.push(m);
      } catch (err) {
        // One unreadable file never hides the others; it is named so someone looks at it.
        this.log.warn('a backup file cannot be read; left out', { file, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return out.sort(byTakenAt);
  }

  async get(backupId: string): Promise<Backup | undefined> {
    let raw: Buffer;
    try {
      raw = await fs.promises.readFile(this.file(backupId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const text = (await gunzip(raw)).toString('utf8');
    let manifest: BackupManifest | undefined;
    const backup: Omit<Backup, 'manifest'> = { namespaces: [], objects: [] };
    for (const [i, line] of text.split('\n').entries()) {
      if (line === '') continue;
      const parsed = Line.safeParse(JSON.parse(line));
      if (!parsed.success)
        throw new BackupFormatError(`backup ${backupId}, line ${i + 1}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      const l = parsed.data;
      if ('manifest' in l) {
        if (i !== 0) throw new BackupFormatError(`backup ${backupId}: the manifest is not the first line`);
        manifest = l.manifest;
      } else if ('namespace' in l) backup.namespaces.push(l.namespace);
      else backup.objects.push(l.object);
    }
    if (manifest === undefined) throw new BackupFormatError(`backup ${backupId} has no manifest`);
    if (manifest.id !== backupId) throw new BackupFormatError(`the file of backup ${backupId} holds backup ${manifest.id}`);
    if (manifest.objects !== backup.objects.length)
      throw new BackupFormatError(`backup ${backupId} is incomplete: ${backup.objects.length} objects of ${manifest.objects}`);
    return { manifest, ...backup };
  }

  async delete(backupId: string): Promise<boolean> {
    try {
      await fs.promises.unlink(this.file(backupId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await this.syncDir();
    return true;
  }

  private async syncDir(): Promise<void> {
    const dh = await fs.promises.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  private async removeStaleTemporaries(): Promise<void> {
    const now = Date.now();
    for (const name of await fs.promises.readdir(this.dir)) {
      if (!TMP.test(name)) continue;
      const file = path.join(this.dir, name);
      const st = await fs.promises.stat(file).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TMP_MS) await fs.promises.rm(file, { force: true });
    }
  }
}

/** The first line of a backup file (its manifest), read without decompressing the rest. */
async function readManifest(file: string): Promise<BackupManifest | undefined> {
  let src: fs.ReadStream;
  try {
    await fs.promises.access(file);
    src = fs.createReadStream(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const gz = zlib.createGunzip();
  src.on('error', (e) => gz.destroy(e));
  src.pipe(gz);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of gz) {
      const b = chunk as Buffer;
      const nl = b.indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(b.subarray(0, nl));
        break;
      }
      chunks.push(b);
      if (chunks.reduce((n, c) => n + c.length, 0) > 1 << 20) throw new BackupFormatError('the manifest line is longer than 1 MiB');
    }
  } finally {
    src.destroy();
    gz.destroy();
  }
  const parsed = z.strictObject({ manifest: BackupManifestSchema }).safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  if (!parsed.success)
    throw new BackupFormatError(`the first line is no manifest: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
  return parsed.data.manifest;
}
