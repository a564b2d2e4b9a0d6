/**
 * The backup activity against a local HTTP server answering as an apiserver would: every kind is
 * listed page by page (limit/continue), an expired continue token lists the kind again, a kind
 * whose CRD is not served (404) or may not be listed (403) is skipped and named in the manifest,
 * and what is stored is what the pages held, without the server's fields.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createBackupActivities } from '../../../../activities/coordination/backup';
import { DirectoryBackupStore } from '../../../../activities/coordination/backup-store';
import { cannedServer, type Answer, type CannedServer, type Seen } from '../rightsizing/canned-server';

function kubeConfig(url: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

const item = (name: string, n: number) => ({
  apiVersion: 'autoscaling.k8s.io/v1',
  kind: 'VerticalPodAutoscaler',
  metadata: {
    name,
    namespace: 'shop',
    uid: `uid-${n}`,
    resourceVersion: String(100 + n),
    generation: 1,
    creationTimestamp: '2026-11-01T00:00:00Z',
    labels: { n: String(n) },
  },
  spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name } },
});
const list = (items: unknown[], cont?: string): Answer => ({ status: 200, body: JSON.stringify({ items, metadata: cont ? { continue: cont } : {} }) });
const status = (code: number, message: string): Answer => ({ status: code, body: JSON.stringify({ kind: 'Status', status: 'Failure', code, message }) });

describe('coordination backups: the backup activity against an apiserver', () => {
  let server: CannedServer;
  let dir: string;
  afterEach(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists page by page, starts a kind again on an expired continue token, and names the kinds skipped', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-acts-'));
    let expiredOnce = false;
    server = await cannedServer((req: Seen): Answer => {
      const p = req.path;
      const cont = req.query.get('continue');
      if (p === '/apis/autoscaling.k8s.io/v1/verticalpodautoscalers') {
        if (cont === null) return list([item('a', 1), item('b', 2)], 'page2');
        if (cont === 'page2') return list([item('c', 3)]);
      }
      if (p === '/apis/autoscaling.k8s.io/v1/verticalpodautoscalercheckpoints') {
        // the first continue token has expired: the kind is listed from the start again
        if (cont === null)
          return list([{ metadata: { name: 'a-app', namespace: 'shop' }, spec: { vpaObjectName: 'a' }, status: { totalSamplesCount: 5 } }], 'stale');
        if (cont === 'stale' && !expiredOnce) {
          expiredOnce = true;
          return status(410, 'The provided continue parameter is too old');
        }
        if (cont === 'stale') return list([]);
      }
      if (p === '/apis/platform.io/v1/vpanapcoordinations') return status(404, 'the server could not find the requested resource');
      if (p === '/apis/optipod.io/v1alpha1/optimizationpolicies') return list([]);
      if (p === '/apis/optipod.io/v1alpha1/optimizationcheckpoints') return status(403, 'optimizationcheckpoints.optipod.io is forbidden');
      if (p === '/api/v1/namespaces/shop')
        return { status: 200, body: JSON.stringify({ metadata: { name: 'shop', uid: 'ns-uid', labels: { 'tenant-tier': 'premium' } } }) };
      return status(500, `unexpected ${p}`);
    });
    const store = new DirectoryBackupStore(dir);
    const acts = createBackupActivities({ kc: kubeConfig(server.url), store, registry: new Registry(), pageSize: 2 });
    const m = await acts.takeBackup({ at: '2026-12-01T06:00:00Z' });

    expect(m.id).to.equal('coordination-20261201T060000Z');
    expect(m.counts).to.deep.equal({ VerticalPodAutoscaler: 3, VerticalPodAutoscalerCheckpoint: 1, OptimizationPolicy: 0 });
    expect(m.skipped.map((s) => [s.kind, s.reason])).to.deep.equal([
      ['VPANAPCoordination', 'NotInstalled'],
      ['OptimizationCheckpoint', 'Forbidden'],
    ]);
    const vpaLists = server.seen.filter((s) => s.path.endsWith('/verticalpodautoscalers'));
    expect(vpaLists.map((s) => [s.query.get('limit'), s.query.get('continue')])).to.deep.equal([
      ['2', null],
      ['2', 'page2'],
    ]);
    expect(expiredOnce).to.equal(true);

    const stored = (await store.get(m.id))!;
    expect(stored.objects.map((o) => `${o.kind}/${o.metadata.name}`)).to.deep.equal([
      'VerticalPodAutoscaler/a',
      'VerticalPodAutoscaler/b',
      'VerticalPodAutoscaler/c',
      'VerticalPodAutoscalerCheckpoint/a-app',
    ]);
    expect(stored.objects[0]!.metadata).to.deep.equal({ name: 'a', namespace: 'shop', labels: { n: '1' } });
    expect(stored.objects[3]!.status).to.deep.equal({ totalSamplesCount: 5 });
    expect(stored.namespaces).to.deep.equal([{ name: 'shop', labels: { 'tenant-tier': 'premium' } }]);
  });

  it('a restore names no backup it does not have', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-acts-'));
    server = await cannedServer(() => status(500, 'not asked'));
    const acts = createBackupActivities({ kc: kubeConfig(server.url), store: new DirectoryBackupStore(dir), registry: new Registry() });
    let err: { type?: string; message?: string } = {};
    await acts.restoreBackup({ at: '2026-12-01T06:00:00Z' }).catch((e: { type?: string; message?: string }) => (err = e));
    expect(err.type).to.equal('BackupNotFound');
    await acts.restoreBackup({ backupId: 'a', at: '2026-12-01T06:00:00Z' }).catch((e: { type?: string; message?: string }) => (err = e));
    expect(err.type).to.equal('InvalidInput');
    expect(server.seen).to.deep.equal([]);
  });
});
