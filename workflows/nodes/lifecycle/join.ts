/**
 * Joining: find the Node (providerID vpsie://<id>, hostname, IP), put the group's labels and taints
 * on it, wait for Ready within JOIN_TIMEOUT_SECONDS (JoinTimeout). Ends in Ready or Failed (or
 * returns early when the VPSieNode is being deleted).
 */
import type { LifecycleContext } from './context';

export async function join(ctx: LifecycleContext): Promise<void> {
  const { st, settings, kube, input, transition, fail, waitForChange } = ctx;
  const start = st.phaseTimes.Provisioned ?? st.phaseTimes.Joining ?? Date.now();
  const deadline = (st.phaseTimes.Joining ?? start) + settings.joinTimeoutSeconds * 1000;
  let labelled = false;
  let seen = 'no Node registered';
  for (;;) {
    // Back to the main loop, which continues as new (the deadline is in the carried phase times).
    if (ctx.deleting() || ctx.historyFull()) return;
    const node = await kube.findNode({
      ...(st.vpsieIdentifier ? { vpsieIdentifier: st.vpsieIdentifier } : {}),
      ...(st.hostname ? { hostname: st.hostname } : {}),
      ...(st.ips ? { ips: st.ips } : {}),
    });
    if (node) {
      st.nodeName = node.name;
      seen = `Node ${node.name} registered (${node.ready ? 'Ready' : 'NotReady'}, matched by ${node.by})`;
      if (!labelled) {
        await kube.applyNodeGroupToNode({ nodeName: node.name, nodeGroup: { namespace: input.namespace, name: input.nodeGroup } });
        labelled = true;
      }
      if (node.ready) {
        await transition('Ready', 'NodeReady', `Node ${node.name} is Ready`, {
          nodeName: node.name,
          joiningSeconds: (Date.now() - start) / 1000,
        });
        return;
      }
    }
    const now = Date.now();
    if (now >= deadline) {
      await fail('JoinTimeout', `no Ready Node after ${settings.joinTimeoutSeconds}s (${seen})`);
      return;
    }
    await waitForChange(Math.min(settings.pollIntervalSeconds * 1000, deadline - now));
  }
}
