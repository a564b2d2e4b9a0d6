/**
 * The pure rules of the coordination backups: what is kept of an object, the backup's id, which
 * backup a point-in-time restore takes, what retention deletes, and what a restore does with one
 * object.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  DAY_MS,
  backupIdFor,
  backupsToPrune,
  creationBody,
  planRestore,
  replacementBody,
  selectBackup,
  stripServerFields,
  type BackedUpObject,
  type BackupManifest,
} from '../../../../activities/coordination/backup-model';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function manifest(id: string, takenAtMs: number, namespaces?: string[]): BackupManifest {
  return {
    format: 1,
    id,
    takenAt: iso(takenAtMs),
    completedAt: iso(takenAtMs + 1000),
    ...(namespaces ? { namespaces } : {}),
    counts: {},
    skipped: [],
    objects: 0,
  };
}

const listedVpa = {
  apiVersion: 'autoscaling.k8s.io/v1',
  kind: 'VerticalPodAutoscaler',
  metadata: {
    name: 'web',
    namespace: 'shop',
    uid: '9f1c0f3e-0000-4000-8000-000000000001',
    resourceVersion: '4711',
    generation: 3,
    creationTimestamp: '2026-11-30T10:00:00Z',
    selfLink: '/apis/autoscaling.k8s.io/v1/namespaces/shop/verticalpodautoscalers/web',
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    deletionTimestamp: '2026-12-01T00:00:00Z',
    deletionGracePeriodSeconds: 0,
    labels: { app: 'web', tier: 'gold' },
    annotations: { note: 'keep me' },
    finalizers: ['example.com/hold'],
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u-1' }],
  },
  spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, updatePolicy: { updateMode: 'Off' } },
  status: { recommendation: { containerRecommendations: [{ containerName: 'app', target: { cpu: '250m', memory: '300Mi' } }] } },
};

describe('coordination backups: what a backup keeps of an object', () => {
  it('drops every server-assigned field and keeps spec, labels, annotations, finalizers, owners and status', () => {
    const o = stripServerFields('VerticalPodAutoscaler', listedVpa);
    expect(o.metadata).to.deep.equal({
      name: 'web',
      namespace: 'shop',
      labels: { app: 'web', tier: 'gold' },
      annotations: { note: 'keep me' },
      finalizers: ['example.com/hold'],
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u-1' }],
    });
    expect(o.spec).to.deep.equal(listedVpa.spec);
    expect(o.status).to.deep.equal(listedVpa.status);
    expect(o.apiVersion).to.equal('autoscaling.k8s.io/v1');
    expect(o.kind).to.equal('VerticalPodAutoscaler');
  });

  it('sets apiVersion and kind from the kind listed (list items may leave them out)', () => {
    const o = stripServerFields('VerticalPodAutoscalerCheckpoint', { metadata: { name: 'web-app', namespace: 'shop' }, spec: { vpaObjectName: 'web' } });
    expect(o).to.deep.equal({
      apiVersion: 'autoscaling.k8s.io/v1',
      kind: 'VerticalPodAutoscalerCheckpoint',
      metadata: { name: 'web-app', namespace: 'shop' },
      spec: { vpaObjectName: 'web' },
    });
  });

  it('does not change the listed object', () => {
    const copy = structuredClone(listedVpa);
    stripServerFields('VerticalPodAutoscaler', copy);
    expect(copy).to.deep.equal(listedVpa);
  });

  it('refuses an object without a namespace (every kind backed up is namespaced)', () => {
    expect(() => stripServerFields('OptimizationPolicy', { metadata: { name: 'p' }, spec: {} })).to.throw();
  });
});

describe('coordination backups: the id comes from the time', () => {
  it('is the same for the same second, so a retried backup replaces its first attempt', () => {
    expect(backupIdFor(new Date('2026-12-01T06:00:00.000Z'))).to.equal('coordination-20261201T060000Z');
    expect(backupIdFor(new Date('2026-12-01T06:00:00.900Z'))).to.equal('coordination-20261201T060000Z');
    expect(backupIdFor(new Date('2026-12-01T06:00:01Z'))).to.not.equal('coordination-20261201T060000Z');
  });

  it('differs for a backup of some namespaces, and not with their order', () => {
    const at = new Date('2026-12-01T06:00:00Z');
    const ab = backupIdFor(at, ['a', 'b']);
    expect(ab).to.match(/^coordination-20261201T060000Z-ns-[0-9a-f]{8}$/);
    expect(backupIdFor(at, ['b', 'a'])).to.equal(ab);
    expect(backupIdFor(at, ['a'])).to.not.equal(ab);
    expect(backupIdFor(at)).to.not.equal(ab);
  });
});

describe('coordination backups: point-in-time selection', () => {
  const all = [manifest('b1', T0), manifest('b2', T0 + 6 * 3600e3), manifest('b3', T0 + 12 * 3600e3), manifest('s1', T0 + 9 * 3600e3, ['shop'])];

  it('takes the newest backup taken at or before the time', () => {
    expect(selectBackup(all, new Date(T0 + 7 * 3600e3))?.id).to.equal('b2');
    expect(selectBackup(all, new Date(T0 + 6 * 3600e3))?.id).to.equal('b2');
    expect(selectBackup(all, new Date(T0 + 6 * 3600e3 - 1))?.id).to.equal('b1');
    expect(selectBackup(all, new Date(T0 + 100 * 3600e3))?.id).to.equal('b3');
  });

  it('finds none before the first backup', () => {
    expect(selectBackup(all, new Date(T0 - 1))).to.equal(undefined);
  });

  it('takes a backup of some namespaces only for a restore of those namespaces', () => {
    expect(selectBackup(all, new Date(T0 + 10 * 3600e3))?.id).to.equal('b2');
    expect(selectBackup(all, new Date(T0 + 10 * 3600e3), ['shop'])?.id).to.equal('s1');
    expect(selectBackup(all, new Date(T0 + 10 * 3600e3), ['shop', 'blog'])?.id).to.equal('b2');
  });

  it('property: the backup chosen is at or before the time, covers the namespaces, and none newer does', () => {
    const arb = fc.record({
      backups: fc.array(
        fc.record({ h: fc.integer({ min: 0, max: 200 }), scoped: fc.constantFrom<string[] | undefined>(undefined, ['a'], ['a', 'b'], ['b']) }),
        { maxLength: 30 },
      ),
      atH: fc.integer({ min: -10, max: 210 }),
      want: fc.constantFrom<string[] | undefined>(undefined, ['a'], ['b'], ['a', 'b']),
    });
    fc.assert(
      fc.property(arb, ({ backups, atH, want }) => {
        const ms = backups.map((b, i) => manifest(`m${i}`, T0 + b.h * 3600e3, b.scoped));
        const at = new Date(T0 + atH * 3600e3);
        const coversWant = (m: BackupManifest): boolean => m.namespaces === undefined || (want !== undefined && want.every((n) => m.namespaces!.includes(n)));
        const candidates = ms.filter((m) => Date.parse(m.takenAt) <= at.getTime() && coversWant(m));
        const chosen = selectBackup(ms, at, want);
        if (candidates.length === 0) return chosen === undefined;
        return chosen !== undefined && candidates.includes(chosen) && candidates.every((m) => Date.parse(m.takenAt) <= Date.parse(chosen.takenAt));
      }),
    );
  });
});

describe('coordination backups: retention', () => {
  it('deletes what is older than the retention, keeping the newest', () => {
    const now = new Date(T0 + 40 * DAY_MS);
    const ms = [manifest('old1', T0), manifest('old2', T0 + 5 * DAY_MS), manifest('new', T0 + 20 * DAY_MS)];
    expect(backupsToPrune(ms, now, 30)).to.deep.equal(['old1', 'old2']);
  });

  it('keeps the newest backup even when every one is past retention', () => {
    const now = new Date(T0 + 400 * DAY_MS);
    expect(backupsToPrune([manifest('a', T0), manifest('b', T0 + DAY_MS)], now, 30)).to.deep.equal(['a']);
    expect(backupsToPrune([manifest('a', T0)], now, 30)).to.deep.equal([]);
  });

  it('property: prune never deletes a backup newer than the retention, always keeps the newest, and deletes every other older one', () => {
    const arb = fc.record({
      ages: fc.array(fc.record({ hoursBefore: fc.integer({ min: -48, max: 24 * 90 }), scoped: fc.boolean() }), { maxLength: 40 }),
      retentionDays: fc.integer({ min: 1, max: 60 }),
    });
    fc.assert(
      fc.property(arb, ({ ages, retentionDays }) => {
        const now = T0 + 100 * DAY_MS;
        const ms = ages.map((a, i) => manifest(`m${i}`, now - a.hoursBefore * 3600e3, a.scoped ? ['shop'] : undefined));
        const deleted = new Set(backupsToPrune(ms, new Date(now), retentionDays));
        const cutoff = now - retentionDays * DAY_MS;
        for (const scope of [true, false]) {
          const group = ms.filter((m) => (m.namespaces !== undefined) === scope);
          if (group.length === 0) continue;
          const newest = group.reduce((a, b) => (Date.parse(b.takenAt) > Date.parse(a.takenAt) ? b : a));
          const newestAt = Date.parse(newest.takenAt);
          // one of the newest is kept (ties: any of them)
          if (!group.some((m) => Date.parse(m.takenAt) === newestAt && !deleted.has(m.id))) return false;
          // nothing past retention is kept but that newest one
          const keptOld = group.filter((m) => Date.parse(m.takenAt) < cutoff && !deleted.has(m.id));
          if (keptOld.length > 1 || keptOld.some((m) => Date.parse(m.takenAt) !== newestAt)) return false;
        }
        // never one within the retention
        return ms.every((m) => Date.parse(m.takenAt) < cutoff || !deleted.has(m.id));
      }),
    );
  });
});

describe('coordination backups: restoring one object', () => {
  const backup = stripServerFields('VerticalPodAutoscaler', listedVpa);
  const live = (over: Record<string, unknown> = {}) => ({
    apiVersion: 'autoscaling.k8s.io/v1',
    kind: 'VerticalPodAutoscaler',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'new-uid',
      resourceVersion: '99',
      labels: { app: 'web', tier: 'gold' } as Record<string, string>,
      annotations: { note: 'keep me' },
    },
    spec: structuredClone(listedVpa.spec),
    status: { recommendation: { containerRecommendations: [] } },
    ...over,
  });

  it('creates what is missing, leaves what exists alone unless overwrite', () => {
    expect(planRestore(undefined, backup, { overwrite: false, statusIsData: false })).to.equal('create');
    expect(planRestore(live(), backup, { overwrite: false, statusIsData: false })).to.equal('exists');
    expect(planRestore(live({ spec: { changed: true } }), backup, { overwrite: false, statusIsData: false })).to.equal('exists');
  });

  it('with overwrite, replaces only what differs in spec, labels or annotations (a controller-written status is not a difference)', () => {
    expect(planRestore(live(), backup, { overwrite: true, statusIsData: false })).to.equal('unchanged');
    expect(planRestore(live({ spec: { changed: true } }), backup, { overwrite: true, statusIsData: false })).to.equal('replace');
    const relabelled = live();
    relabelled.metadata.labels = { app: 'web' };
    expect(planRestore(relabelled, backup, { overwrite: true, statusIsData: false })).to.equal('replace');
  });

  it('where the status is the data (a VPA checkpoint), a different status is a difference', () => {
    const cp: BackedUpObject = {
      apiVersion: 'autoscaling.k8s.io/v1',
      kind: 'VerticalPodAutoscalerCheckpoint',
      metadata: { name: 'web-app', namespace: 'shop' },
      spec: { vpaObjectName: 'web', containerName: 'app' },
      status: { totalSamplesCount: 10 },
    };
    const l = { metadata: { name: 'web-app', namespace: 'shop' }, spec: { vpaObjectName: 'web', containerName: 'app' }, status: { totalSamplesCount: 3 } };
    expect(planRestore(l, cp, { overwrite: true, statusIsData: true })).to.equal('replace');
    expect(replacementBody(l, cp, true).status).to.deep.equal({ totalSamplesCount: 10 });
    expect(replacementBody(l, cp, false).status).to.deep.equal({ totalSamplesCount: 3 });
  });

  it('creates without owner references (their uids are of the objects at backup time)', () => {
    const body = creationBody(backup) as { metadata: Record<string, unknown>; spec: unknown; status: unknown };
    expect(body.metadata).to.not.have.property('ownerReferences');
    expect(body.metadata).to.deep.include({ name: 'web', namespace: 'shop', labels: { app: 'web', tier: 'gold' } });
    expect(body.spec).to.deep.equal(listedVpa.spec);
    expect(body.status).to.deep.equal(listedVpa.status);
  });

  it("replaces on the live object's identity (its resourceVersion) with the backup's spec, labels and annotations", () => {
    const l = live({ spec: { changed: true } });
    l.metadata.labels = { app: 'web', extra: 'x' };
    const body = replacementBody(l, { ...backup, metadata: { ...backup.metadata, annotations: undefined } }, false) as {
      metadata: Record<string, unknown>;
      spec: unknown;
      status: unknown;
    };
    expect(body.metadata.resourceVersion).to.equal('99');
    expect(body.metadata.uid).to.equal('new-uid');
    expect(body.metadata.labels).to.deep.equal({ app: 'web', tier: 'gold' });
    expect(body.metadata).to.not.have.property('annotations');
    expect(body.spec).to.deep.equal(listedVpa.spec);
    expect(body.status).to.deep.equal({ recommendation: { containerRecommendations: [] } });
  });
});
