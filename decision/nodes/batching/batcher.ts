/**
 * The scale-up batcher: collects scale-up signals (FailedScheduling events, unschedulable pending
 * pods, node pressure) and closes a batch after a short idle window (no new signal for `idleMs`)
 * or a maximum window (`maxMs` after the batch's first signal), whichever comes first, or when it
 * holds `maxPods` pods. Signals for the same pod (uid) or node are merged, so a pod appears in a
 * batch once however many Events the scheduler writes for it.
 *
 * Pure: time is an argument (milliseconds), nothing is scheduled here; the caller arms one timer
 * for `nextDeadline()` and calls `poll(now)`.
 */
import type { SchedulerReason } from './reasons';
import { SCHEDULER_REASONS } from './reasons';
import { compareStrings } from '../../../lib/compare';

/** `Rescan`: the trigger's periodic look at pods still unschedulable after their last run. */
export type SignalSource = 'FailedScheduling' | 'PendingPod' | 'Rescan' | 'NodePressure';

export interface PodSignal {
  kind: 'pod';
  source: Exclude<SignalSource, 'NodePressure'>;
  uid: string;
  namespace: string;
  name: string;
  reasons: readonly SchedulerReason[];
  /** When the signal was seen (ms since epoch). */
  at: number;
}

export interface NodePressureSignal {
  kind: 'node';
  source: 'NodePressure';
  node: string;
  /** MemoryPressure, DiskPressure, PIDPressure. */
  conditions: readonly string[];
  at: number;
}

export type ScaleUpSignal = PodSignal | NodePressureSignal;

export interface BatchedPod {
  uid: string;
  namespace: string;
  name: string;
  reasons: SchedulerReason[];
  sources: SignalSource[];
  firstSeen: number;
}

export interface Batch {
  /** Workflow id of the scale-up run: `scaleup:<first-signal ISO time>-<hash of the batch keys>`. */
  id: string;
  firstSignalAt: number;
  closedAt: number;
  /** Why it closed. */
  closedBy: 'idle' | 'max' | 'size' | 'flush';
  /** Sorted by namespace/name. */
  pods: BatchedPod[];
  /** Nodes under pressure (sorted), with their conditions. */
  pressure: { node: string; conditions: string[] }[];
  /** Signals received (before de-duplication). */
  signals: number;
}

export interface BatcherOptions {
  idleMs: number;
  maxMs: number;
  /** Close a batch as soon as it holds this many pods (0 = no limit). */
  maxPods?: number;
}

interface Open {
  first: number;
  last: number;
  pods: Map<string, BatchedPod>;
  pressure: Map<string, Set<string>>;
  signals: number;
}

const SOURCES: readonly SignalSource[] = ['FailedScheduling', 'PendingPod', 'Rescan', 'NodePressure'];

/** FNV-1a 32-bit, hex (stable batch ids; not a security hash). */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function batchId(firstSignalAt: number, keys: readonly string[]): string {
  return `scaleup:${new Date(firstSignalAt).toISOString()}-${fnv1a([...keys].sort().join('\n'))}`;
}

export class Batcher {
  private open: Open | undefined;

  constructor(private readonly opts: BatcherOptions) {
    if (!(opts.idleMs >= 0) || !(opts.maxMs >= opts.idleMs)) throw new Error(`batcher: need 0 <= idleMs <= maxMs (idleMs=${opts.idleMs}, maxMs=${opts.maxMs})`);
  }

  /**
   * Adds a signal. Returns the batches closed by it: the open one when its window had already
   * passed at `now` (the signal then starts the next batch), and the one this signal filled (maxPods).
   */
  add(s: ScaleUpSignal, now: number = s.at): Batch[] {
    const closed: Batch[] = [];
    // A signal that arrives after the open batch's deadline belongs to the next batch.
    const due = this.poll(now);
    if (due) closed.push(due);
    const o = (this.open ??= { first: now, last: now, pods: new Map(), pressure: new Map(), signals: 0 });
    o.last = now;
    o.signals++;
    if (s.kind === 'pod') {
      const p = o.pods.get(s.uid);
      if (p) {
        p.reasons = SCHEDULER_REASONS.filter((r) => p.reasons.includes(r) || s.reasons.includes(r));
        if (!p.sources.includes(s.source)) p.sources = SOURCES.filter((x) => x === s.source || p.sources.includes(x));
      } else {
        o.pods.set(s.uid, {
          uid: s.uid,
          namespace: s.namespace,
          name: s.name,
          reasons: SCHEDULER_REASONS.filter((r) => s.reasons.includes(r)),
          sources: [s.source],
          firstSeen: now,
        });
      }
    } else {
      const set = o.pressure.get(s.node) ?? new Set<string>();
      for (const c of s.conditions) set.add(c);
      o.pressure.set(s.node, set);
    }
    const max = this.opts.maxPods ?? 0;
    if (max > 0 && o.pods.size >= max) closed.push(this.close(now, 'size'));
    return closed;
  }

  /** When the open batch must be closed (ms), or undefined when nothing is open. */
  nextDeadline(): number | undefined {
    const o = this.open;
    if (!o) return undefined;
    return Math.min(o.last + this.opts.idleMs, o.first + this.opts.maxMs);
  }

  /** Closes and returns the open batch if its idle or max window has passed at `now`. */
  poll(now: number): Batch | undefined {
    const o = this.open;
    if (!o) return undefined;
    if (now >= o.first + this.opts.maxMs) return this.close(now, 'max');
    if (now >= o.last + this.opts.idleMs) return this.close(now, 'idle');
    return undefined;
  }

  /** Closes the open batch now, whatever its windows (shutdown). */
  flush(now: number): Batch | undefined {
    return this.open ? this.close(now, 'flush') : undefined;
  }

  /** Pods in the open batch. */
  get size(): number {
    return this.open?.pods.size ?? 0;
  }

  private close(now: number, closedBy: Batch['closedBy']): Batch {
    const o = this.open!;
    this.open = undefined;
    const pods = [...o.pods.values()].sort((a, b) => compareStrings(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`) || compareStrings(a.uid, b.uid));
    const pressure = [...o.pressure.entries()].map(([node, c]) => ({ node, conditions: [...c].sort() })).sort((a, b) => compareStrings(a.node, b.node));
    const keys = [...pods.map((p) => `pod:${p.uid}`), ...pressure.map((p) => `node:${p.node}`)];
    return { id: batchId(o.first, keys), firstSignalAt: o.first, closedAt: now, closedBy, pods, pressure, signals: o.signals };
  }
}
