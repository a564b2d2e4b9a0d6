/**
 * The group's disruption budget: how many nodes may be voluntarily removed at once, and when.
 */
import type { Weekday } from '../../../lib/crds/autoscaler/constants';
import type { DisruptionWindow } from '../../../lib/crds/autoscaler/nodegroup';

/**
 * spec.disruptionBudget.maxUnavailable as a node count for a group of `nodes` nodes: a count as is;
 * a percentage rounded up (like a PDB's maxUnavailable), so any non-zero percentage allows one node.
 */
export function budgetCount(maxUnavailable: number | string, nodes: number): number {
  if (typeof maxUnavailable === 'number') return Math.max(0, Math.floor(maxUnavailable));
  const m = /^(\d+)%$/.exec(maxUnavailable.trim());
  if (!m) return 0;
  return Math.ceil((Number(m[1]) * Math.max(0, nodes)) / 100);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

interface LocalTime {
  /** 0 = Sunday */
  weekday: number;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday and minute of day of `now` in an IANA time zone; undefined for an unknown zone. */
export function localTime(now: number, timeZone: string): LocalTime | undefined {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
    const d = new Date(now);
    return { weekday: d.getUTCDay(), minutes: d.getUTCHours() * 60 + d.getUTCMinutes() };
  }
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      return undefined;
    }
    formatters.set(timeZone, f);
  }
  let weekday = -1;
  let hour = 0;
  let minute = 0;
  for (const part of f.formatToParts(new Date(now))) {
    if (part.type === 'weekday') weekday = DAYS.indexOf(part.value as (typeof DAYS)[number]);
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  if (weekday < 0) return undefined;
  return { weekday, minutes: hour * 60 + minute };
}

function clock(s: string): number {
  const [h, m] = s.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * Is `now` inside the window? `days` are the days the window opens on (every day when absent); a
 * window whose end is earlier than its start crosses midnight and belongs to the day it opened.
 * Start is inclusive, end exclusive. An unknown time zone is never inside (fail closed).
 */
export function insideWindow(w: Pick<DisruptionWindow, 'start' | 'end' | 'days' | 'timeZone'>, now: number): boolean {
  const t = localTime(now, w.timeZone ?? 'UTC');
  if (!t) return false;
  const start = clock(w.start);
  const end = clock(w.end);
  const opensOn = (weekday: number): boolean => !w.days || w.days.includes(DAYS[weekday] as Weekday);
  if (start < end) return t.minutes >= start && t.minutes < end && opensOn(t.weekday);
  // crosses midnight
  if (t.minutes >= start) return opensOn(t.weekday);
  if (t.minutes < end) return opensOn((t.weekday + 6) % 7);
  return false;
}

/** True when no windows are set or `now` is inside one of them. */
export function insideAnyWindow(windows: readonly Pick<DisruptionWindow, 'start' | 'end' | 'days' | 'timeZone'>[] | undefined, now: number): boolean {
  if (!windows || windows.length === 0) return true;
  return windows.some((w) => insideWindow(w, now));
}
