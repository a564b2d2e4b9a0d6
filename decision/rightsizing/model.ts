/**
 * The usage model of one (workload, container), aggregated over all its replicas: a decaying
 * histogram of CPU usage samples, a decaying histogram of memory peaks (one peak per aggregation
 * interval, replaced while the interval grows), the sample count and time span that give the
 * recommendation its confidence, and the last OOM kill. Its state is plain JSON (a few hundred bytes
 * to about 1 KiB), so it lives in workflow state and survives a restart and a continue-as-new.
 *
 * Shaped after VPA's AggregateContainerState and ContainerState (pkg/recommender/model/); written anew.
 */
import { CPU_HISTOGRAM, DAY_MS, DecayingHistogram, MEMORY_HISTOGRAM, isHistogramState, type HistogramOptions, type HistogramState } from './histogram';

export interface ModelOptions {
  readonly cpu: HistogramOptions;
  readonly memory: HistogramOptions;
  /** One memory peak per interval of this length (VPA's memory-aggregation-interval, 24 h). */
  readonly memoryIntervalMs: number;
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = { cpu: CPU_HISTOGRAM, memory: MEMORY_HISTOGRAM, memoryIntervalMs: DAY_MS };

/** An OOM kill as the model remembers it. */
export interface OomRecord {
  /** When (epoch ms). */
  at: number;
  /** Memory usage at the kill, in bytes (the limit it hit, or the last working set seen). */
  usage: number;
}

/** Serialised model: plain JSON, versioned. */
export interface ModelState {
  v: 1;
  cpu: HistogramState;
  mem: HistogramState;
  /** First and last sample times (epoch ms), 0 when none. */
  first: number;
  last: number;
  /** CPU samples aggregated (the confidence counts them). */
  n: number;
  /** End of the current memory interval (epoch ms), 0 before the first memory sample. */
  winEnd: number;
  /** The peak of the current memory interval now in the histogram (bytes), 0 when none. */
  peak: number;
  /** The last OOM kill. */
  oom?: OomRecord;
}

export const MODEL_STATE_VERSION = 1;

export class ContainerUsageModel {
  readonly cpu: DecayingHistogram;
  readonly memory: DecayingHistogram;
  firstSample = 0;
  lastSample = 0;
  sampleCount = 0;
  private windowEnd = 0;
  private currentPeak = 0;
  lastOom: OomRecord | undefined;

  constructor(
    readonly options: ModelOptions = DEFAULT_MODEL_OPTIONS,
    cpu?: DecayingHistogram,
    memory?: DecayingHistogram,
  ) {
    this.cpu = cpu ?? new DecayingHistogram(options.cpu);
    this.memory = memory ?? new DecayingHistogram(options.memory);
  }

  /**
   * The highest memory seen (bytes): the upper edge of the highest memory-peak bucket (at most 5 %
   * above the true peak) or the current interval's peak, whichever is higher; 0 with no sample.
   */
  observedMemoryPeak(): number {
    return Math.max(this.memory.percentile(1), this.currentPeak);
  }

  /** A CPU usage sample (millicores, summed over the interval's replicas' mean or one replica's). */
  addCpu(time: number, millicores: number): void {
    if (!(millicores >= 0) || !Number.isFinite(millicores) || !Number.isFinite(time)) return;
    this.cpu.add(millicores, 1, time);
    if (this.firstSample === 0 || time < this.firstSample) this.firstSample = time;
    if (time > this.lastSample) this.lastSample = time;
    this.sampleCount++;
  }

  /**
   * A memory sample (bytes): it raises the current interval's peak, or opens the next interval.
   * Samples older than the current interval are ignored (they cannot change a finished peak).
   */
  addMemory(time: number, bytes: number): void {
    if (!(bytes >= 0) || !Number.isFinite(bytes) || !Number.isFinite(time)) return;
    this.observePeak(time, bytes);
  }

  /**
   * An OOM kill at `time` with memory usage `usage` at the kill: recorded as a memory peak of the
   * bumped size (the larger of +100 MiB and ×1.2), and remembered so the recommendation is never
   * below that bump while the kill is within the policy's rolling window.
   */
  recordOom(time: number, usage: number): void {
    if (!(usage >= 0) || !Number.isFinite(usage) || !Number.isFinite(time)) return;
    if (this.lastOom === undefined || time >= this.lastOom.at) this.lastOom = { at: time, usage };
    this.observePeak(time, oomBump(usage));
  }

  private observePeak(time: number, bytes: number): void {
    const interval = this.options.memoryIntervalMs;
    if (this.windowEnd === 0) this.windowEnd = time + interval;
    if (time < this.windowEnd - interval) return; // an interval already closed
    if (time < this.windowEnd) {
      if (bytes <= this.currentPeak) return;
      if (this.currentPeak > 0) this.memory.subtract(this.currentPeak, 1, this.windowEnd);
    } else {
      const skipped = Math.floor((time - this.windowEnd) / interval);
      this.windowEnd += (skipped + 1) * interval;
    }
    this.memory.add(bytes, 1, this.windowEnd);
    this.currentPeak = bytes;
  }

  toState(): ModelState {
    const s: ModelState = {
      v: 1,
      cpu: this.cpu.toState(),
      mem: this.memory.toState(),
      first: this.firstSample,
      last: this.lastSample,
      n: this.sampleCount,
      winEnd: this.windowEnd,
      peak: this.currentPeak,
    };
    if (this.lastOom !== undefined) s.oom = { ...this.lastOom };
    return s;
  }

  static fromState(s: ModelState, options: ModelOptions = DEFAULT_MODEL_OPTIONS): ContainerUsageModel {
    const m = new ContainerUsageModel(options, DecayingHistogram.fromState(options.cpu, s.cpu), DecayingHistogram.fromState(options.memory, s.mem));
    m.firstSample = s.first;
    m.lastSample = s.last;
    m.sampleCount = s.n;
    m.windowEnd = s.winEnd;
    m.currentPeak = s.peak;
    if (s.oom !== undefined) m.lastOom = { ...s.oom };
    return m;
  }

  /** A model from state read back from anywhere: undefined when it is not a model state (lost or corrupt → rebuild). */
  static restore(v: unknown, options: ModelOptions = DEFAULT_MODEL_OPTIONS): ContainerUsageModel | undefined {
    return isModelState(v) ? ContainerUsageModel.fromState(v, options) : undefined;
  }
}

/** OOM bump: the larger of +100 MiB and ×1.2 of the usage at the kill (VPA's defaults). */
export const OOM_MIN_BUMP_BYTES = 100 * 2 ** 20;
export const OOM_BUMP_RATIO = 1.2;
export function oomBump(usage: number): number {
  return Math.max(usage + OOM_MIN_BUMP_BYTES, usage * OOM_BUMP_RATIO);
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export function isModelState(v: unknown): v is ModelState {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  if (s.v !== MODEL_STATE_VERSION || !isHistogramState(s.cpu) || !isHistogramState(s.mem)) return false;
  if (![s.first, s.last, s.n, s.winEnd, s.peak].every(finite)) return false;
  if (s.oom !== undefined) {
    const o = s.oom as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || !finite(o.at) || !finite(o.usage)) return false;
  }
  return true;
}

/** A point of a usage series (epoch ms, value). */
export type SeriesPoint = readonly [time: number, value: number];

/**
 * A model rebuilt from history (a Prometheus range query over the rolling window) when its state
 * was lost: the points are fed in time order, whatever order they come in, as live samples would.
 */
export function modelFromHistory(
  history: { cpu: readonly SeriesPoint[]; memory: readonly SeriesPoint[]; ooms?: readonly SeriesPoint[] },
  options: ModelOptions = DEFAULT_MODEL_OPTIONS,
): ContainerUsageModel {
  const m = new ContainerUsageModel(options);
  // memory before an OOM at the same instant, CPU in any order (CPU samples commute)
  const events: [number, number, () => void][] = [
    ...history.cpu.map(([t, v]): [number, number, () => void] => [t, 0, () => m.addCpu(t, v)]),
    ...history.memory.map(([t, v]): [number, number, () => void] => [t, 1, () => m.addMemory(t, v)]),
    ...(history.ooms ?? []).map(([t, v]): [number, number, () => void] => [t, 2, () => m.recordOom(t, v)]),
  ];
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [, , f] of events) f();
  return m;
}
