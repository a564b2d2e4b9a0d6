import { expect } from 'chai';
import { FAILED_CLEANUP_MAX_BACKOFF_MS, failedCleanupRetryDelayMs, historyFull } from '../../../../../decision/nodes/lifecycle/long-loops';

describe('decision/nodes/lifecycle/long-loops: bounded histories and the failed-cleanup back-off', () => {
  it('a loop hands over to a new run past the bound or when the server suggests it', () => {
    expect(historyFull({ historyLength: 100, continueAsNewSuggested: false, maxHistoryEvents: 4000 })).to.equal(false);
    expect(historyFull({ historyLength: 4001, continueAsNewSuggested: false, maxHistoryEvents: 4000 })).to.equal(true);
    expect(historyFull({ historyLength: 10, continueAsNewSuggested: true, maxHistoryEvents: 4000 })).to.equal(true);
  });

  it('the cleanup retry wait doubles with each failure from the base', () => {
    expect([1, 2, 3, 4, 5].map((n) => failedCleanupRetryDelayMs(n, 10_000))).to.deep.equal([10_000, 20_000, 40_000, 80_000, 160_000]);
  });

  it('is capped at 10 minutes however many failures, and stays finite', () => {
    expect(failedCleanupRetryDelayMs(7, 10_000)).to.equal(FAILED_CLEANUP_MAX_BACKOFF_MS);
    expect(failedCleanupRetryDelayMs(5000, 10_000)).to.equal(FAILED_CLEANUP_MAX_BACKOFF_MS);
    expect(failedCleanupRetryDelayMs(3, 10_000, 25_000)).to.equal(25_000);
  });

  it('a retry before the first failure (0) waits the base, never less than 1 ms', () => {
    expect(failedCleanupRetryDelayMs(0, 10_000)).to.equal(10_000);
    expect(failedCleanupRetryDelayMs(1, 0)).to.equal(1);
  });
});
