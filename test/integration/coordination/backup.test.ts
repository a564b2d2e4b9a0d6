/**
 * Coordination backups on the sandbox: a VPA (with labels and a status), a
 * VerticalPodAutoscalerCheckpoint (its status is its data), an OptimizationPolicy (with a status),
 * an OptimizationCheckpoint and — when its CRD is installed — a VPANAPCoordination are backed up
 * by the backup workflow on a real worker, deleted, and restored by the restore workflow: every
 * object comes back equal in spec, labels, annotations and status. A second restore (through
 * `npm run restore`'s command) creates nothing; a point-in-time restore with overwrite brings a
 * changed VPA back to the earlier backup; a dry run changes nothing; a restore into a deleted
 * namespace recreates it with its labels; the schedule exists with a 6 h interval and its tick
 * backs up at the schedule's time.
 *
 * The backup activities run as the orchestrator's backup ServiceAccount (k8s/rbac.yaml), so the RBAC
 * they need is proven too. Backups are restricted to the test's namespace.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createBackupActivities, type RestoreReport } from '../../../activities/coordination/backup';
import { backupTime } from '../../../activities/coordination/backup-model';
import { DirectoryBackupStore } from '../../../activities/coordination/backup-store';
import { backupScheduleId, ensureBackupSchedule } from '../../../starters/coordination/backup-schedule';
import type { CoordinationBackupInput, CoordinationBackupResult, CoordinationRestoreInput } from '../../../workflows/coordination/backup';
import { eventually } from '../../support/eventually';
import { serviceAccountToken, tokenKubeConfig, until } from '../../support/identities';
import { examplePolicy } from '../../support/optimizationpolicy-samples';
import { sharedSandbox, type TestSandbox } from '../../support/sandbox';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..', '..');
const VPA_MODULE = 'k8s.io/autoscaler/vertical-pod-autoscaler@v1.8.1';
const VPA_CRDS = ['verticalpodautoscalers.autoscaling.k8s.io', 'verticalpodautoscalercheckpoints.autoscaling.k8s.io'];
const COORDINATION_CRD_FILE = path.join(REPO, 'k8s', 'crds', 'platform.io_vpanapcoordinations.yaml');
const COORDINATION_CRD = 'vpanapcoordinations.platform.io';
const ORCHESTRATOR_SA = { namespace: 'vpsie-system', name: 'vpsie-orchestrator-backup' };

interface Ref {
  kind: string;
  group: string;
  version: string;
  plural: string;
  name: string;
  /** Written through the status subresource after creation. */
  statusViaSubresource?: unknown;
}
type Obj = {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; uid?: string };
  spec?: unknown;
  status?: unknown;
};

async function kubectl(sb: TestSandbox, args: string[]): Promise<string> {
  const { stdout } = await run(sb.endpoints.kubectl, [`--kubeconfig=${sb.kubeconfig}`, ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

async function crdExists(ext: k8s.ApiextensionsV1Api, name: string): Promise<boolean> {
  try {
    await ext.readCustomResourceDefinition({ name });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

/** The upstream VPA CRDs (from the module's deploy/) and the VPANAPCoordination CRD (from k8s/crds), each only when absent. */
async function ensureCrds(sb: TestSandbox): Promise<{ coordination: boolean }> {
  const ext = sb.kc.makeApiClient(k8s.ApiextensionsV1Api);
  const apply: string[] = [];
  if (!(await crdExists(ext, VPA_CRDS[0]!)) || !(await crdExists(ext, VPA_CRDS[1]!))) {
    const { stdout } = await run('go', ['mod', 'download', '-json', VPA_MODULE], {
      cwd: os.tmpdir(),
      env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    });
    const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    if (!dir) throw new Error(`go mod download ${VPA_MODULE} printed no Dir`);
    apply.push(path.join(dir, 'deploy', 'vpa-v1-crd-gen.yaml'));
  }
  if (fs.existsSync(COORDINATION_CRD_FILE) && !(await crdExists(ext, COORDINATION_CRD))) apply.push(COORDINATION_CRD_FILE);
  for (const f of apply) {
    await kubectl(sb, ['apply', '--server-side', '-f', f]);
    await kubectl(sb, ['wait', '--for=condition=Established', '--timeout=120s', '-f', f]);
  }
  return { coordination: await crdExists(ext, COORDINATION_CRD) };
}

describe('coordination backups on the sandbox: backup, delete, restore', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let custom: k8s.CustomObjectsApi;
  let ns: string;
  let taskQueue: string;
  let storeDir: string;
  let store: DirectoryBackupStore;
  let worker: { stop: () => Promise<void> } | undefined;
  let coordinationInstalled = false;
  let scheduleId: string | undefined;
  const refs: Ref[] = [];
  /** The objects as they were just before the first backup. */
  const original = new Map<string, Obj>();
  let firstBackup: CoordinationBackupResult;
  const timings: Record<string, number> = {};

  const get = async (r: Ref): Promise<Obj | undefined> => {
    try {
      return (await custom.getNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: ns, name: r.name })) as Obj;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  };
  const key = (r: Ref): string => `${r.kind}/${r.name}`;

  async function runWorkflow<R>(type: string, arg: unknown): Promise<{ result: R; seconds: number }> {
    const started = Date.now();
    const result = await sb.temporal.workflow.execute<(a: unknown) => Promise<R>>(type, {
      taskQueue,
      workflowId: `${type}-${ns}-${Date.now()}`,
      args: [arg],
      workflowExecutionTimeout: '10m',
    });
    return { result, seconds: (Date.now() - started) / 1000 };
  }
  /** `npm run backup` / `npm run restore` (the same command line), on this test's task queue; returns stdout. */
  async function cli(file: string, args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO, 'starters', 'coordination', file), ...args], {
      cwd: REPO,
      env: { ...process.env, TEMPORAL_ADDRESS: sb.endpoints.temporal.address, TEMPORAL_NAMESPACE: sb.endpoints.temporal.namespace, TASK_QUEUE: taskQueue },
      maxBuffer: 16 << 20,
    });
    return stdout;
  }
  const backupNow = (input: CoordinationBackupInput) => runWorkflow<CoordinationBackupResult>('coordinationBackupWorkflow', input);
  const restore = (input: CoordinationRestoreInput) => runWorkflow<RestoreReport>('coordinationRestoreWorkflow', input);

  async function deleteAll(): Promise<void> {
    for (const r of refs) await custom.deleteNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: ns, name: r.name });
    for (const r of refs) await eventually(`${key(r)} deleted`, async () => ((await get(r)) === undefined ? true : undefined), 60_000, 200);
  }

  async function expectAllBackEqual(): Promise<void> {
    for (const r of refs) {
      const was = original.get(key(r))!;
      const now = await get(r);
      expect(now, `${key(r)} restored`).to.not.equal(undefined);
      expect(now!.metadata.uid, `${key(r)} is a new object`).to.not.equal(was.metadata.uid);
      expect(now!.spec, `${key(r)} spec`).to.deep.equal(was.spec);
      expect(now!.metadata.labels, `${key(r)} labels`).to.deep.equal(was.metadata.labels);
      expect(now!.metadata.annotations, `${key(r)} annotations`).to.deep.equal(was.metadata.annotations);
      expect(now!.status, `${key(r)} status`).to.deep.equal(was.status);
    }
  }

  before(async function () {
    sb = await sharedSandbox();
    custom = sb.kc.makeApiClient(k8s.CustomObjectsApi);
    coordinationInstalled = (await ensureCrds(sb)).coordination;
    ns = await sb.namespace('backup');
    taskQueue = sb.taskQueue('backup');
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coordination-backups-'));
    store = new DirectoryBackupStore(storeDir);

    // The backup activities' Kubernetes identity: the backup ServiceAccount with the RBAC of k8s/rbac.yaml.
    await kubectl(sb, ['apply', '--server-side', '-f', path.join(REPO, 'k8s', 'rbac.yaml')]);
    const saKc = tokenKubeConfig(
      sb,
      `system:serviceaccount:${ORCHESTRATOR_SA.namespace}:${ORCHESTRATOR_SA.name}`,
      await serviceAccountToken(sb, ORCHESTRATOR_SA.namespace, ORCHESTRATOR_SA.name),
    );
    const authz = saKc.makeApiClient(k8s.AuthorizationV1Api);
    await until('the backup RBAC is in effect', 30_000, async () => {
      const r = await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { group: 'autoscaling.k8s.io', resource: 'verticalpodautoscalercheckpoints', verb: 'create', namespace: ns } } },
      });
      return r.status?.allowed === true;
    });

    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(REPO, 'workflows', 'coordination', 'backup.ts'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const connection = await NativeConnection.connect({ address: sb.endpoints.temporal.address });
    const w = await Worker.create({
      connection,
      namespace: sb.endpoints.temporal.namespace,
      taskQueue,
      workflowBundle: bundle,
      activities: createBackupActivities({ kc: saKc, store, registry: new Registry(), pageSize: 2 }),
    });
    const running = w.run();
    worker = {
      async stop() {
        w.shutdown();
        await running;
        await connection.close();
      },
    };

    // ---- the objects ----
    const T = '2026-12-01T00:00:00Z';
    const create = async (r: Ref, body: Record<string, unknown>): Promise<void> => {
      await custom.createNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: ns, body });
      if (r.statusViaSubresource !== undefined) {
        const live = (await get(r))!;
        await custom.replaceNamespacedCustomObjectStatus({
          group: r.group,
          version: r.version,
          plural: r.plural,
          namespace: ns,
          name: r.name,
          body: { ...live, status: r.statusViaSubresource },
        });
      }
      refs.push(r);
    };
    const VPA = { group: 'autoscaling.k8s.io', version: 'v1' };
    await create(
      {
        kind: 'VerticalPodAutoscaler',
        ...VPA,
        plural: 'verticalpodautoscalers',
        name: 'web',
        statusViaSubresource: {
          recommendation: {
            containerRecommendations: [
              {
                containerName: 'app',
                target: { cpu: '250m', memory: '300Mi' },
                lowerBound: { cpu: '100m', memory: '200Mi' },
                upperBound: { cpu: '1', memory: '1Gi' },
              },
            ],
          },
          conditions: [{ type: 'RecommendationProvided', status: 'True', lastTransitionTime: T }],
        },
      },
      {
        apiVersion: 'autoscaling.k8s.io/v1',
        kind: 'VerticalPodAutoscaler',
        metadata: { name: 'web', labels: { app: 'web', team: 'shop', 'tenant-tier': 'standard' }, annotations: { 'example.com/owner': 'shop-team' } },
        spec: {
          targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
          // not the sandbox's running VPA recommender: it would rewrite the status this test compares
          recommenders: [{ name: 'backup-test' }],
          updatePolicy: { updateMode: 'Off' },
          resourcePolicy: {
            containerPolicies: [{ containerName: 'app', minAllowed: { cpu: '50m', memory: '64Mi' }, maxAllowed: { cpu: '2', memory: '2Gi' } }],
          },
        },
      },
    );
    await create(
      { kind: 'VerticalPodAutoscalerCheckpoint', ...VPA, plural: 'verticalpodautoscalercheckpoints', name: 'web-app' },
      {
        apiVersion: 'autoscaling.k8s.io/v1',
        kind: 'VerticalPodAutoscalerCheckpoint',
        metadata: { name: 'web-app', labels: { app: 'web' } },
        spec: { vpaObjectName: 'web', containerName: 'app' },
        status: {
          version: 'v3',
          lastUpdateTime: '2026-12-01T05:59:00Z',
          firstSampleStart: '2026-11-24T06:00:00Z',
          lastSampleStart: '2026-12-01T05:58:00Z',
          totalSamplesCount: 10080,
          cpuHistogram: { referenceTimestamp: '2026-12-01T00:00:00Z', totalWeight: 152.25, bucketWeights: { '3': 10000, '7': 4215, '12': 87 } },
          memoryHistogram: { referenceTimestamp: '2026-12-02T00:00:00Z', totalWeight: 7.5, bucketWeights: { '20': 10000, '21': 1200 } },
        },
      },
    );
    const policy = examplePolicy() as { metadata: Record<string, unknown> };
    policy.metadata.labels = { team: 'shop', environment: 'production' };
    await create(
      {
        kind: 'OptimizationPolicy',
        group: 'optipod.io',
        version: 'v1alpha1',
        plural: 'optimizationpolicies',
        name: String(policy.metadata.name),
        statusViaSubresource: {
          observedGeneration: 1,
          lastReconciliationTime: '2026-12-01T05:55:00Z',
          conditions: [{ type: 'Ready', status: 'True', reason: 'PolicyValid', message: 'policy is valid', lastTransitionTime: T }],
          counts: { discovered: 3, monitored: 3, recommended: 2, applied: 0, skipped: 1 },
        },
      },
      policy,
    );
    await create(
      { kind: 'OptimizationCheckpoint', group: 'optipod.io', version: 'v1alpha1', plural: 'optimizationcheckpoints', name: 'deployment-web' },
      {
        apiVersion: 'optipod.io/v1alpha1',
        kind: 'OptimizationCheckpoint',
        metadata: { name: 'deployment-web', labels: { 'optipod.io/workload': 'deployment.web' } },
        spec: {
          workload: { kind: 'Deployment', name: 'web' },
          policy: `${ns}/${String(policy.metadata.name)}`,
          lastUpdateTime: '2026-12-01T05:50:00Z',
          containers: [{ name: 'app', model: { version: 1, cpu: { buckets: [0, 3, 9.5], total: 12.5 }, memory: { peak: 314572800 }, samples: 288 } }],
        },
      },
    );
    if (coordinationInstalled)
      await create(
        {
          kind: 'VPANAPCoordination',
          group: 'platform.io',
          version: 'v1',
          plural: 'vpanapcoordinations',
          name: 'web',
          statusViaSubresource: { phase: 'Active', conflictsDetected: 2, lastUpdate: '2026-12-01T05:00:00Z', circuitBreakerTriggered: false },
        },
        {
          apiVersion: 'platform.io/v1',
          kind: 'VPANAPCoordination',
          metadata: { name: 'web', labels: { app: 'web' } },
          spec: { vpaName: 'web', namespace: ns, coordinationStrategy: 'coordinated', enabled: true },
        },
      );
    for (const r of refs) original.set(key(r), (await get(r))!);
  });

  after(async function () {
    if (scheduleId)
      await sb.temporal.schedule
        .getHandle(scheduleId)
        .delete()
        .catch(() => undefined);
    await worker?.stop();
    if (storeDir) fs.rmSync(storeDir, { recursive: true, force: true });
    process.stderr.write(`      backup timings (s): ${JSON.stringify(timings)}; VPANAPCoordination CRD installed: ${coordinationInstalled}\n`);
  });

  it('backs up every kind of the namespace (a kind without its CRD is skipped and named), and prunes past retention', async () => {
    // a backup of this namespace from 40 days ago: the run's pruning deletes it
    const oldAt = backupTime(new Date(Date.now() - 40 * 24 * 3600e3));
    const old = { format: 1 as const, id: 'coordination-old-test', takenAt: oldAt, completedAt: oldAt, namespaces: [ns], counts: {}, skipped: [], objects: 0 };
    await store.put(old.id, { manifest: old, namespaces: [], objects: [] });

    const { result, seconds } = await backupNow({ namespaces: [ns] });
    timings.backup = seconds;
    firstBackup = result;
    const m = result.backup;
    expect(m.namespaces).to.deep.equal([ns]);
    expect(m.counts).to.deep.include({ VerticalPodAutoscaler: 1, VerticalPodAutoscalerCheckpoint: 1, OptimizationPolicy: 1, OptimizationCheckpoint: 1 });
    if (coordinationInstalled) expect(m.counts.VPANAPCoordination).to.equal(1);
    else expect(m.skipped.map((x) => [x.kind, x.reason])).to.deep.equal([['VPANAPCoordination', 'NotInstalled']]);
    if (coordinationInstalled) expect(m.skipped).to.deep.equal([]);
    expect(m.objects).to.equal(refs.length);
    expect(result.pruned.deleted).to.deep.equal([old.id]);
    expect((await store.list()).map((x) => x.id)).to.deep.equal([m.id]);

    const stored = (await store.get(m.id))!;
    const vpa = stored.objects.find((o) => o.kind === 'VerticalPodAutoscaler')!;
    for (const f of ['uid', 'resourceVersion', 'managedFields', 'creationTimestamp', 'generation', 'selfLink']) expect(vpa.metadata).to.not.have.property(f);
    expect(stored.namespaces.map((n) => n.name)).to.deep.equal([ns]);
    expect(stored.namespaces[0]!.labels).to.have.property('vpsie.test/run');
  });

  it('a retried backup (same schedule time) replaces the same backup, never adds a second', async () => {
    const acts = createBackupActivities({ kc: sb.kc, store, registry: new Registry() });
    const again = await acts.takeBackup({ at: firstBackup.backup.takenAt, namespaces: [ns] });
    expect(again.id).to.equal(firstBackup.backup.id);
    expect((await store.list()).map((x) => x.id)).to.deep.equal([firstBackup.backup.id]);
  });

  it('restores every deleted object equal in spec, labels, annotations and status', async () => {
    await deleteAll();
    const { result: report, seconds } = await restore({ namespaces: [ns] });
    timings.restore = seconds;
    expect(report.backupId).to.equal(firstBackup.backup.id);
    expect(report.counts).to.deep.equal({ created: refs.length });
    expect(report.namespacesCreated).to.deep.equal([]);
    for (const e of report.entries) expect(e, `${e.kind}/${e.name}`).to.deep.include({ namespace: ns, outcome: 'created' });
    const statusRestored = report.entries.filter((e) => e.statusRestored).map((e) => e.kind);
    expect(statusRestored).to.include.members(['VerticalPodAutoscaler', 'VerticalPodAutoscalerCheckpoint', 'OptimizationPolicy']);
    await expectAllBackEqual();
  });

  it('a second restore (npm run restore) creates nothing and changes nothing', async () => {
    const rv = new Map<string, string | undefined>();
    for (const r of refs) rv.set(key(r), (await get(r))!.metadata.resourceVersion);
    const started = Date.now();
    const stdout = await cli('restore-cli.ts', ['--namespace', ns]);
    timings.restoreCli = (Date.now() - started) / 1000;
    const report = JSON.parse(stdout) as RestoreReport;
    expect(report.backupId).to.equal(firstBackup.backup.id);
    expect(report.counts).to.deep.equal({ exists: refs.length });
    for (const r of refs) expect((await get(r))!.metadata.resourceVersion, key(r)).to.equal(rv.get(key(r)));
  });

  it('point in time: with overwrite, a changed VPA goes back to the backup taken before; a dry run changes nothing', async () => {
    const vpaRef = refs.find((r) => r.kind === 'VerticalPodAutoscaler')!;
    const live = (await get(vpaRef))!;
    const changed = structuredClone(live) as Obj & { spec: { updatePolicy: { updateMode: string } } };
    changed.metadata.labels = { ...changed.metadata.labels, release: 'v2' };
    changed.spec.updatePolicy.updateMode = 'Initial';
    await custom.replaceNamespacedCustomObject({
      group: vpaRef.group,
      version: vpaRef.version,
      plural: vpaRef.plural,
      namespace: ns,
      name: 'web',
      body: changed,
    });
    // a later backup holds the change (taken with npm run backup)
    const t1 = Date.parse(firstBackup.backup.takenAt);
    const out = await cli('backup-cli.ts', ['--namespace', ns, '--at', new Date(t1 + 3600e3).toISOString()]);
    const later = (JSON.parse(out) as CoordinationBackupResult).backup;
    expect(later.takenAt).to.equal(backupTime(new Date(t1 + 3600e3)));
    expect(later.id).to.not.equal(firstBackup.backup.id);

    // a dry run at the later time: nothing to do for the VPA (it matches); at the earlier: it would be replaced
    const dryLater = (
      await restore({ namespaces: [ns], kinds: ['VerticalPodAutoscaler'], overwrite: true, dryRun: true, at: new Date(t1 + 2 * 3600e3).toISOString() })
    ).result;
    expect(dryLater.backupId).to.equal(later.id);
    expect(dryLater.entries.map((e) => e.outcome)).to.deep.equal(['unchanged']);
    const at = new Date(t1 + 1800e3).toISOString();
    const dry = (await restore({ namespaces: [ns], kinds: ['VerticalPodAutoscaler'], overwrite: true, dryRun: true, at })).result;
    expect(dry.backupId).to.equal(firstBackup.backup.id);
    expect(dry.entries.map((e) => e.outcome)).to.deep.equal(['wouldReplace']);
    expect((await get(vpaRef))!.metadata.labels).to.have.property('release', 'v2');

    const { result } = await restore({ namespaces: [ns], kinds: ['VerticalPodAutoscaler'], overwrite: true, at });
    expect(result.entries.map((e) => e.outcome)).to.deep.equal(['replaced']);
    const back = (await get(vpaRef))!;
    expect(back.metadata.labels).to.deep.equal(original.get(key(vpaRef))!.metadata.labels);
    expect(back.spec).to.deep.equal(original.get(key(vpaRef))!.spec);
    // overwrite leaves a controller's status alone
    expect(back.status).to.deep.equal(original.get(key(vpaRef))!.status);
  });

  it('restores into a deleted namespace: the namespace comes back with its labels, then every object', async () => {
    const core = sb.core;
    const nsLabels = (await core.readNamespace({ name: ns })).metadata?.labels;
    await core.deleteNamespace({ name: ns });
    await eventually(
      `namespace ${ns} gone`,
      async () => {
        try {
          await core.readNamespace({ name: ns });
          return undefined;
        } catch (err) {
          if ((err as { code?: number }).code === 404) return true;
          throw err;
        }
      },
      180_000,
      500,
    );
    const { result: report } = await restore({ namespaces: [ns], at: firstBackup.backup.takenAt });
    expect(report.namespacesCreated).to.deep.equal([ns]);
    expect(report.counts).to.deep.equal({ created: refs.length });
    expect((await core.readNamespace({ name: ns })).metadata?.labels).to.deep.equal(nsLabels);
    await expectAllBackEqual();
  });

  it('the schedule exists with a 6 h interval, skips overlaps, and its tick backs up at the schedule time', async () => {
    scheduleId = `${backupScheduleId(taskQueue)}-test`;
    const opts = { taskQueue, scheduleId, every: '6h', input: { namespaces: [ns] } };
    expect(await ensureBackupSchedule(sb.temporal, opts)).to.equal(scheduleId);
    // a second call (another replica, a restart) updates the same schedule
    expect(await ensureBackupSchedule(sb.temporal, opts)).to.equal(scheduleId);
    const handle = sb.temporal.schedule.getHandle(scheduleId);
    const d = await handle.describe();
    expect(d.spec.intervals?.map((i) => i.every)).to.deep.equal([6 * 3600e3]);
    expect(d.policies.overlap).to.equal(ScheduleOverlapPolicy.SKIP);
    expect(d.action).to.deep.include({ type: 'startWorkflow', workflowType: 'coordinationBackupWorkflow' });
    expect(d.action.type === 'startWorkflow' ? d.action.taskQueue : undefined).to.equal(taskQueue);

    await handle.trigger();
    const action = await eventually('the triggered backup started', async () => (await handle.describe()).info.recentActions[0], 60_000, 500);
    const result = await sb.temporal.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId).result();
    const b = (result as CoordinationBackupResult).backup;
    expect(b.takenAt).to.equal(backupTime(action.scheduledAt));
    expect(b.counts.VerticalPodAutoscaler).to.equal(1);
    expect((await store.list()).map((m) => m.id)).to.include(b.id);
  });
});
