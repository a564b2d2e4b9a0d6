/**
 * The hourly limit on the upstream VPA's updates (document 000's rateLimiting: at most
 * maxVPAUpdatesPerNamespace in any hour). The VPA updater asks nobody before it evicts, so the
 * limit is kept by pausing the VPA (updateMode Off) once its updates of the last hour reach the
 * limit, until the oldest of them leaves the hour. Pure.
 */
import type { VpaEvent } from './decide';
import { HOUR_MS } from './settings';

export interface RateVerdict {
  limited: boolean;
  /** Updates by the VPA in the last hour. */
  count: number;
  limit: number;
  /** When the hour has room again (limited only). */
  until?: number;
}

export function vpaRateLimit(events: readonly VpaEvent[], limit: number, now: number): RateVerdict {
  const at = events
    .filter((e) => e.source === 'VPA' && (e.kind === 'Eviction' || e.kind === 'InPlaceResize') && e.at > now - HOUR_MS && e.at <= now)
    .map((e) => e.at)
    .sort((a, b) => a - b);
  if (at.length < limit) return { limited: false, count: at.length, limit };
  // room again once all but limit-1 of them are older than an hour
  return { limited: true, count: at.length, limit, until: at[at.length - limit]! + HOUR_MS };
}
