/**
 * A 200-pod burst on the sandbox with the simulator's delays at 0 (issue #13's measurement): machines
 * join at once, so the scheduler binds whichever pending pods it likes to each new node — not always
 * the ones the node was made for. Before the fix the planner kept counting those pods on the room
 * promised to them (held or nominated) after the scheduler had given it to others: rescans decided
 * nothing for minutes (22 such runs; all pods Running after 273 s). Now a claim whose room is gone is
 * released in the next snapshot and the pod planned at once, and follow-up demand is not deferred.
 *
 * Asserted (no timing thresholds): every pod Running; no pod found room on a node by more than two
 * runs (the one that placed it and one rescan); a pod scaled up twice only after its claim
 * was released; the price within 1.10× of the lower bound.
 */
import { expect } from 'chai';
import { sharedSandbox, type TestSandbox } from '../../../support/sandbox';
import { burstOnce, simAdmin } from './burst-run';

describe('a 200-pod burst with machines that join at once', function () {
  this.timeout(900_000);
  let sb: TestSandbox;
  let restore: { provisioningDelayMs: number; bootDelayMs: number } | undefined;

  before(async function () {
    this.timeout(900_000);
    sb = await sharedSandbox();
    restore = (await simAdmin(sb, '/config', {})) as { provisioningDelayMs: number; bootDelayMs: number };
    await simAdmin(sb, '/config', { provisioningDelayMs: 0, bootDelayMs: 0 });
  });
  after(async () => {
    if (restore) await simAdmin(sb, '/config', { provisioningDelayMs: restore.provisioningDelayMs, bootDelayMs: restore.bootDelayMs });
  });

  it('every pod runs; room given to other pods is planned again at once (no run decides nothing while its pods wait); a pod scaled up again only once its room was given away; price within 1.10× of the bound', async () => {
    const r = await burstOnce(sb, 200, '500m', '512Mi');
    process.stderr.write(`      200 pods: ${JSON.stringify(r)}\n`);
    // Counted, not timed: a pod is found room on a node (FitsExisting) by at most two runs — the one
    // that placed it and a rescan while the scheduler backs off; before the fix, by every rescan.
    expect(r.maxFitsExistingPerPod, 'runs that found the same pod room that it never got').to.be.at.most(2);
    // A pod triggers a second node only after the scheduler gave the room of its first to others.
    expect(r.podsTriggeredTwice, 'pods scaled up twice').to.be.at.most(r.claimsReleased);
    expect(r.priceRatio).to.be.at.most(1.1);
    expect(r.nodes).to.be.greaterThan(0);
  });
});
