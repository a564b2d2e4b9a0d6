/** Helpers for activities that call Temporal themselves (signals, updates to other workflows). */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';

/**
 * Runs `fn` (a call through `client`) so that it ends when the surrounding activity is cancelled
 * — by the workflow, a heartbeat timeout or the worker shutting down. Without this, an activity
 * waiting on another workflow's update keeps a stopping worker from ever finishing. Outside an
 * activity it simply runs `fn`.
 */
export function untilActivityCancelled<R>(client: Client, fn: () => Promise<R>): Promise<R> {
  let signal: AbortSignal | undefined;
  try {
    signal = Context.current().cancellationSignal;
  } catch {
    signal = undefined; // not inside an activity (tests, scripts)
  }
  return signal ? client.withAbortSignal(signal, fn) : fn();
}
