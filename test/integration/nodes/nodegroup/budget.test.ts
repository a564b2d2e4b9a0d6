/**
 * The VPSie budget on the sandbox (#12): VPSie documents 100 requests per minute per account, and
 * the simulator enforces exactly that (its default). A NodeGroup of 50 nodes provisions, boots and
 * is deleted with the orchestrator at its production rate limit, and the simulator's own account
 * of the traffic shows no 429 and never more than 100 requests within any minute: the
 * provisioning polls share one listing per tick instead of asking for each machine every 2 s.
 */
import { expect } from 'chai';
import type { Orchestrator } from '../../../../workers/orchestrator';
import { sharedSandbox, uniqueName, type TestSandbox } from '../../../support/sandbox';
import { createGroup, deleteGroup, eventually, groupVNs, liveMachinesOfNamespace, readGroup, startTestOrchestrator } from '../../../support/orchestrator';

const N = 50;

interface Traffic {
  accepted: number;
  rejected: number;
  peakPerWindow: number;
  windowMs: number;
  limit: number | null;
  byOperation: Record<string, number>;
}

describe('VPSie budget on the sandbox (#12): 50 nodes provisioning stay within 100 VPSie requests per minute', function () {
  this.timeout(1_200_000);
  let sb: TestSandbox;
  let orch: Orchestrator | undefined;
  let saved: unknown;

  const admin = async (path: string, method = 'GET', body?: unknown): Promise<unknown> => {
    const r = await fetch(`${sb.endpoints.vpsie!.admin}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return r.json();
  };

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    saved = await admin('/config');
  });
  after(async () => {
    await orch?.stop();
    const s = saved as { rateLimit?: unknown; provisioningDelayMs?: number; bootDelayMs?: number } | undefined;
    if (s) await admin('/config', 'PATCH', { rateLimit: s.rateLimit, provisioningDelayMs: s.provisioningDelayMs, bootDelayMs: s.bootDelayMs });
  });

  it('a group of 50 provisions, becomes Ready and is deleted with no 429 and at most 100 requests in any minute', async () => {
    // VPSie's documented limit; setting it empties the simulator's window, so only this test's traffic counts.
    // Machines take seconds to appear and to boot, so the polls span many ticks.
    await admin('/config', 'PATCH', { rateLimit: { requests: 100, windowMs: 60_000 }, provisioningDelayMs: 5_000, bootDelayMs: 10_000 });
    await admin('/traffic', 'DELETE');

    const ns = await sb.namespace('budget');
    orch = await startTestOrchestrator(sb, ns, sb.taskQueue('budget'));
    const group = uniqueName('ng');
    await createGroup(sb, ns, group, { minNodes: N, maxNodes: N });
    const started = Date.now();
    await eventually(
      `${N} VPSieNodes of ${group} Ready`,
      900_000,
      async () => {
        const vns = (await groupVNs(sb, ns, group)).filter((v) => !v.deleting);
        return vns.length === N && vns.every((v) => v.phase === 'Ready') ? vns : undefined;
      },
      2_000,
    );
    const readySeconds = (Date.now() - started) / 1000;
    const up = (await admin('/traffic')) as Traffic;
    console.log(JSON.stringify({ phase: 'ready', nodes: N, readySeconds, ...up }));
    expect(up.limit).to.equal(100);
    expect(up.rejected, `429s served: ${JSON.stringify(up.byOperation)}`).to.equal(0);
    expect(up.peakPerWindow, `most requests in one minute: ${JSON.stringify(up.byOperation)}`).to.be.at.most(100);
    // One machine per VPSieNode: the budget never cost a second create.
    expect(up.byOperation['POST /vm'] ?? 0).to.equal(N);
    // Polls read the shared listing, not one machine each.
    expect(up.byOperation['GET /vm/:id'] ?? 0, 'per-machine reads').to.be.below(N);

    await deleteGroup(sb, ns, group);
    await eventually(
      `NodeGroup ${group} gone with its VPSieNodes and machines`,
      900_000,
      async () => {
        const [g, vns, machines] = await Promise.all([readGroup(sb, ns, group), groupVNs(sb, ns, group), liveMachinesOfNamespace(sb, ns)]);
        return g === undefined && vns.length === 0 && machines.length === 0 ? true : undefined;
      },
      2_000,
    );
    const all = (await admin('/traffic')) as Traffic;
    console.log(JSON.stringify({ phase: 'deleted', nodes: N, ...all }));
    expect(all.rejected, `429s served: ${JSON.stringify(all.byOperation)}`).to.equal(0);
    expect(all.peakPerWindow).to.be.at.most(100);
  });
});
