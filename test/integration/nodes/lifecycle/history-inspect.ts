/**
 * Reading a workflow's history in tests, to wait on conditions ("the workflow has handled the
 * signal and is idle again") instead of on time, and to see which activities and timers a run
 * scheduled.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const ET = temporal.api.enums.v1.EventType;

export interface HistoryView {
  events: temporal.api.history.v1.IHistoryEvent[];
  /** Activity types scheduled, in order. */
  activities: string[];
  /** Timer durations started, in ms, in order. */
  timers: number[];
  /** The last event's type name (e.g. EVENT_TYPE_TIMER_STARTED). */
  last: string;
  /** Signals received (by name), in order. */
  signals: string[];
}

function ms(d: temporal.api.history.v1.ITimerStartedEventAttributes['startToFireTimeout']): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}

export async function historyOf(handle: WorkflowHandle, runId?: string): Promise<HistoryView> {
  const h = runId ? await handle.client.getHandle(handle.workflowId, runId).fetchHistory() : await handle.fetchHistory();
  const events = h.events ?? [];
  const last = events[events.length - 1];
  return {
    events,
    activities: events
      .filter((e) => e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
    timers: events.filter((e) => e.eventType === ET.EVENT_TYPE_TIMER_STARTED).map((e) => ms(e.timerStartedEventAttributes?.startToFireTimeout)),
    last: last?.eventType !== undefined && last.eventType !== null ? (ET[last.eventType] ?? String(last.eventType)) : '',
    signals: events
      .filter((e) => e.eventType === ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? ''),
  };
}

/** The workflow is running and waiting: no activity pending, no workflow task pending, history at least `minEvents` long. */
export async function idle(handle: WorkflowHandle, minEvents: number): Promise<boolean> {
  const d = await handle.describe();
  if (d.status.name !== 'RUNNING') return false;
  const raw = d.raw;
  if ((raw.pendingActivities ?? []).length > 0) return false;
  if (raw.pendingWorkflowTask) return false;
  if ((raw.pendingChildren ?? []).length > 0) return false;
  return d.historyLength >= minEvents;
}

/** Polls `check` until it returns a value; `fatal` (checked first) fails at once with its message. */
export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined>, fatal?: () => string | undefined, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    const f = fatal?.();
    if (f) throw new Error(`while waiting for ${what}: ${f}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
