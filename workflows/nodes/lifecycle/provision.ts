/**
 * Provisioning: `ensureMachine` (idempotent; request id = the VPSieNode uid) until the VPS runs,
 * within PROVISION_TIMEOUT_SECONDS (VPSCreateTimeout); terminal VPSie errors fail at once. Ends in
 * Provisioned or Failed (or returns early when the VPSieNode is being deleted).
 */
import type { MachineStatus } from '../../../activities/nodes/lifecycle/machines';
import { errorReasonOf } from '../../../decision/nodes/lifecycle/vpsienode';
import { failureInfo, VPSieNodeGone, type LifecycleContext } from './context';

export async function provision(ctx: LifecycleContext): Promise<void> {
  const { st, settings, machines, machineInput, transition, fail, takeMachine, waitForChange } = ctx;
  const start = st.phaseTimes.Provisioning ?? st.phaseTimes.Pending ?? Date.now();
  const deadline = start + settings.provisionTimeoutSeconds * 1000;
  let last = 'not requested yet';
  for (;;) {
    // Back to the main loop, which continues as new (the deadline is in the carried phase times).
    if (ctx.deleting() || ctx.historyFull()) return;
    let m: MachineStatus | undefined;
    try {
      m = await machines.ensureMachine(machineInput);
    } catch (e) {
      const f = failureInfo(e);
      if (f.type === 'VPSieNodeGone') throw new VPSieNodeGone();
      if (f.nonRetryable) {
        await fail(errorReasonOf(f.type, f.operation), f.message);
        return;
      }
      last = `transient error: ${f.message}`;
    }
    if (m) {
      takeMachine(m);
      last = `${m.state}: ${m.detail}`;
      if (m.state === 'running') {
        const pendingAt = st.phaseTimes.Pending ?? start;
        await transition('Provisioned', 'VPSRunning', `VPS ${m.hostname ?? ''} (${m.vpsieIdentifier ?? '?'}) running`, {
          vpsieStatus: 'running',
          ...(m.publicIPv4 ? { publicIPv4: m.publicIPv4 } : {}),
          ...(m.privateIPv4 ? { privateIPv4: m.privateIPv4 } : {}),
          ...(m.publicIPv6 ? { publicIPv6: m.publicIPv6 } : {}),
          provisioningSeconds: (Date.now() - pendingAt) / 1000,
        });
        return;
      }
      if (m.state === 'gone') {
        await fail('VPSNotFound', `VPS ${m.vpsieIdentifier ?? ''} was deleted while provisioning`);
        return;
      }
    }
    const now = Date.now();
    if (now >= deadline) {
      await fail('VPSCreateTimeout', `VPS not running after ${settings.provisionTimeoutSeconds}s (last: ${last})`);
      return;
    }
    await waitForChange(Math.min(settings.pollIntervalSeconds * 1000, deadline - now));
  }
}
