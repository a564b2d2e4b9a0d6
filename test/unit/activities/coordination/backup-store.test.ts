/**
 * DirectoryBackupStore on a real directory: a backup written is read back equal, a backup written
 * twice under one id is one file, the manifest list reads each file's first line, an unreadable
 * file hides no other, an incomplete one is refused, ids cannot leave the directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { expect } from 'chai';
import type { Backup } from '../../../../activities/coordination/backup-model';
import { DirectoryBackupStore, defaultBackupDir } from '../../../../activities/coordination/backup-store';

function backup(id: string, takenAt: string, objects = 2): Backup {
  return {
    manifest: { format: 1, id, takenAt, completedAt: takenAt, counts: { VerticalPodAutoscaler: objects }, skipped: [], objects },
    namespaces: [{ name: 'shop', labels: { 'tenant-tier': 'premium' } }],
    objects: Array.from({ length: objects }, (_, i) => ({
      apiVersion: 'autoscaling.k8s.io/v1',
      kind: 'VerticalPodAutoscaler' as const,
      metadata: { name: `vpa-${i}`, namespace: 'shop', labels: { app: `a${i}` } },
      spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `d${i}` }, updatePolicy: { updateMode: 'Off' } },
    })),
  };
}

describe('coordination backups: DirectoryBackupStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-store-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads back what it wrote, equal, as gzipped JSON lines with the manifest first', async () => {
    const store = new DirectoryBackupStore(path.join(dir, 'nested'));
    const b = backup('coordination-20261201T060000Z', '2026-12-01T06:00:00Z');
    await store.put(b.manifest.id, b);
    expect(await store.get(b.manifest.id)).to.deep.equal(b);
    const lines = zlib
      .gunzipSync(fs.readFileSync(path.join(dir, 'nested', `${b.manifest.id}.jsonl.gz`)))
      .toString('utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(lines[0]!)).to.have.property('manifest');
    expect(lines).to.have.length(1 + 1 + 2);
  });

  it('lists manifests oldest first; a second write under one id replaces the first (one file, no temporaries)', async () => {
    const store = new DirectoryBackupStore(dir);
    await store.put('b2', backup('b2', '2026-12-01T12:00:00Z'));
    await store.put('b1', backup('b1', '2026-12-01T06:00:00Z'));
    await store.put('b1', backup('b1', '2026-12-01T06:00:00Z', 5));
    expect((await store.list()).map((m) => [m.id, m.objects])).to.deep.equal([
      ['b1', 5],
      ['b2', 2],
    ]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['b1.jsonl.gz', 'b2.jsonl.gz']);
  });

  it('an unreadable file hides no other backup; get refuses it', async () => {
    const store = new DirectoryBackupStore(dir);
    await store.put('good', backup('good', '2026-12-01T06:00:00Z'));
    fs.writeFileSync(path.join(dir, 'bad.jsonl.gz'), 'not gzip');
    expect((await store.list()).map((m) => m.id)).to.deep.equal(['good']);
    let failed = false;
    await store.get('bad').catch(() => (failed = true));
    expect(failed).to.equal(true);
  });

  it('refuses an incomplete backup (fewer objects than its manifest counts)', async () => {
    const store = new DirectoryBackupStore(dir);
    const b = backup('cut', '2026-12-01T06:00:00Z', 3);
    await store.put('cut', b);
    const file = path.join(dir, 'cut.jsonl.gz');
    const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').trim().split('\n');
    fs.writeFileSync(file, zlib.gzipSync(lines.slice(0, -1).join('\n')));
    let message = '';
    await store.get('cut').catch((e: Error) => (message = e.message));
    expect(message).to.include('incomplete');
  });

  it('deletes; a missing backup is none, and nothing is listed in a missing directory', async () => {
    const store = new DirectoryBackupStore(dir);
    await store.put('x', backup('x', '2026-12-01T06:00:00Z'));
    expect(await store.delete('x')).to.equal(true);
    expect(await store.delete('x')).to.equal(false);
    expect(await store.get('x')).to.equal(undefined);
    expect(await new DirectoryBackupStore(path.join(dir, 'none')).list()).to.deep.equal([]);
  });

  it('refuses ids that are not plain names (no path out of the directory)', async () => {
    const store = new DirectoryBackupStore(dir);
    let failed = 0;
    for (const id of ['../x', 'a/b', '', '.hidden'])
      await store.get(id).catch(() => {
        failed++;
      });
    expect(failed).to.equal(4);
    let putFailed = false;
    await store.put('other', backup('x', '2026-12-01T06:00:00Z')).catch(() => (putFailed = true));
    expect(putFailed).to.equal(true);
  });

  it('the directory is BACKUP_DIR, else .backups in the repository', () => {
    expect(defaultBackupDir({ BACKUP_DIR: '/var/backups/vpa' })).to.equal('/var/backups/vpa');
    expect(defaultBackupDir({})).to.equal(path.resolve(__dirname, '..', '..', '..', '..', '.backups'));
  });
});
