/**
 * COMPONENTS=backup: coordination backups run on a task queue of their own (BACKUP_TASK_QUEUE) in a
 * worker whose Kubernetes requests are the backup ServiceAccount's (k8s/rbac.yaml) — the way a
 * Deployment of that part runs them in a cluster, where the worker's ServiceAccount has no backup
 * rights. A backup started on that queue completes, taken by that worker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Orchestrator } from '../../../workers/orchestrator';
import { startTestOrchestrator } from '../../support/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../support/sandbox';

describe('The backup part (COMPONENTS=backup, BACKUP_TASK_QUEUE)', function () {
  this.timeout(300_000);
  let sb: TestSandbox;
  let o: Orchestrator | undefined;
  let dir: string;
  const saved = process.env.BACKUP_DIR;

  before(async () => {
    sb = await sharedSandbox();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-part-'));
    process.env.BACKUP_DIR = dir;
  });
  after(async () => {
    await o?.stop();
    if (saved === undefined) delete process.env.BACKUP_DIR;
    else process.env.BACKUP_DIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a backup on BACKUP_TASK_QUEUE is taken by the backup worker, as the backup ServiceAccount, into its store', async () => {
    const ns = await sb.namespace('backup-part');
    const queue = uniqueName('backups');
    o = await startTestOrchestrator(sb, ns, sb.taskQueue('backup-part'), {
      identity: 'backup-part',
      env: { COMPONENTS: 'backup', BACKUP_TASK_QUEUE: queue },
    });
    const handle = await sb.temporal.workflow.start('coordinationBackupWorkflow', {
      taskQueue: queue,
      workflowId: uniqueName('backup-part'),
      args: [{ namespaces: [ns], retentionDays: 3650 }],
    });
    const result = (await handle.result()) as { backup: { id: string; namespaces?: string[] } };
    expect(result.backup.id).to.be.a('string');
    expect(fs.readdirSync(dir).length, 'the backup is in the store').to.be.greaterThan(0);
    // every activity of the run was completed by the backup worker
    const history = await handle.fetchHistory();
    const identities = new Set(
      (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.identity ?? ''),
    );
    expect([...identities]).to.deep.equal(['backup-part-backup']);
  });
});
