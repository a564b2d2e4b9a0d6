/**
 * Starts the scale-down loop of this orchestrator's scope (one per WATCH_NAMESPACE, or one for the
 * whole cluster) if it is not running: `start` with USE_EXISTING, so every leader (and every
 * restart) may call it and there is still one loop.
 */
import type { Client } from '@temporalio/client';
import { logger } from '../../lib/log';
import { scaleDownWorkflow, scaleDownWorkflowId, type ScaleDownWorkflowInput } from '../../workflows/nodes/scale-down/loop';

export async function ensureScaleDownLoop(
  temporal: Client,
  o: { taskQueue: string; scope: string; settings?: ScaleDownWorkflowInput['settings'] },
): Promise<string> {
  const workflowId = scaleDownWorkflowId(o.scope);
  const input: ScaleDownWorkflowInput = { scope: o.scope, ...(o.settings ? { settings: o.settings } : {}) };
  const handle = await temporal.workflow.start(scaleDownWorkflow, {
    workflowId,
    taskQueue: o.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  logger('scale-down-starter').info('scale-down loop running', { workflowId, runId: handle.firstExecutionRunId, taskQueue: o.taskQueue });
  return workflowId;
}
