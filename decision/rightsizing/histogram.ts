/**
 * A decaying exponential histogram: buckets whose widths grow geometrically (so the relative error
 * of a percentile is bounded by the growth, 5%), and sample weights that halve every half-life (24 h
 * by default), so recent usage counts more than old usage. Its state is compact and plain JSON
 * (only non-empty buckets, as integer weights relative to the largest), so it persists in workflow
 * state and survives a continue-as-new.
 *
 * Learned from the Kubernetes VPA recommender (pkg/recommender/util/histogram.go,
 * decaying_histogram.go); written anew. Pure: time is an argument (epoch milliseconds).
 */

export interface HistogramOptions {
  /** Width of the first bucket, in the unit of the values (millicores, bytes). */
  readonly firstBucket: number;
  /** Each bucket is this much wider than the previous one (1.05: 5%). */
  readonly growth: number;
  /** Values above this land in the last bucket. */
  readonly maxValue: number;
  /** A sample's weight halves every halfLifeMs. */
  readonly halfLifeMs: number;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const MIB = 2 ** 20;

/** CPU in millicores: 1m first bucket up to 1000 cores, 5% growth, 24 h half-life (about 220 buckets). */
export const CPU_HISTOGRAM: HistogramOptions = { firstBucket: 1, growth: 1.05, maxValue: 1_000_000, halfLifeMs: DAY_MS };
/** Memory in bytes: 1 MiB first bucket up to 1 TiB, 5% growth, 24 h half-life (about 220 buckets). */
export const MEMORY_HISTOGRAM: HistogramOptions = { firstBucket: MIB, growth: 1.05, maxValue: 2 ** 40, halfLifeMs: DAY_MS };

/** Serialised histogram: plain JSON. */
export interface HistogramState {
  /** Reference time (epoch ms) the weights are relative to. */
  ref: number;
  /** Sum of the weights (relative to ref). */
  total: number;
  /** Non-empty buckets as pairs: [index, weight, index, weight, ...], weights integers 1..WEIGHT_SCALE. */
  b: number[];
}

/** Largest stored integer weight: weights below 1/20000 of the largest bucket are dropped on save. */
export const WEIGHT_SCALE = 10_000;
/** Renormalise when a new sample's decay factor would exceed 2^this. */
const MAX_DECAY_EXPONENT = 64;
/** Weights below this fraction of the total are treated as empty (float residue of subtractions). */
const EPSILON = 1e-9;

interface Layout {
  readonly starts: Float64Array;
  readonly numBuckets: number;
  readonly logGrowth: number;
}
const layouts = new WeakMap<HistogramOptions, Layout>();

function layoutOf(o: HistogramOptions): Layout {
  let l = layouts.get(o);
  if (l === undefined) {
    const logGrowth = Math.log(o.growth);
    const numBuckets = Math.ceil(Math.log((o.maxValue * (o.growth - 1)) / o.firstBucket + 1) / logGrowth) + 1;
    const starts = new Float64Array(numBuckets + 1);
    for (let i = 0; i <= numBuckets; i++) starts[i] = (o.firstBucket * (o.growth ** i - 1)) / (o.growth - 1);
    l = { starts, numBuckets, logGrowth };
    layouts.set(o, l);
  }
  return l;
}

/** Number of buckets of a histogram with these options. */
export function bucketCount(o: HistogramOptions): number {
  return layoutOf(o).numBuckets;
}

export class DecayingHistogram {
  private readonly layout: Layout;
  private readonly weights: Float64Array;
  private ref: number;
  private totalWeight = 0;
  private minBucket: number;
  private maxBucket = -1;

  constructor(
    readonly options: HistogramOptions,
    referenceTime = 0,
  ) {
    this.layout = layoutOf(options);
    this.weights = new Float64Array(this.layout.numBuckets);
    this.ref = referenceTime;
    this.minBucket = this.layout.numBuckets;
  }

  /** The bucket a value falls in. */
  bucketOf(value: number): number {
    const o = this.options;
    if (!(value >= o.firstBucket)) return 0;
    const b = Math.floor(Math.log((value * (o.growth - 1)) / o.firstBucket + 1) / this.layout.logGrowth);
    return b >= this.layout.numBuckets ? this.layout.numBuckets - 1 : b;
  }

  bucketStart(bucket: number): number {
    return this.layout.starts[bucket]!;
  }

  isEmpty(): boolean {
    return this.totalWeight <= 0;
  }

  /** Sum of the weights, relative to the reference time (only ratios are meaningful). */
  get total(): number {
    return this.totalWeight;
  }

  private decayFactor(time: number): number {
    const exponent = (time - this.ref) / this.options.halfLifeMs;
    if (exponent > MAX_DECAY_EXPONENT) {
      this.shiftReference(time);
      return 1;
    }
    return 2 ** exponent;
  }

  /** Moves the reference time to `time`, scaling every weight (percentiles do not change). */
  private shiftReference(time: number): void {
    const scale = 2 ** ((this.ref - time) / this.options.halfLifeMs);
    for (let i = this.minBucket; i <= this.maxBucket; i++) this.weights[i]! *= scale;
    this.totalWeight *= scale;
    this.ref = time;
  }

  /** Adds `value` observed at `time` with `weight` (before decay). Non-finite or negative values are ignored. */
  add(value: number, weight: number, time: number): void {
    if (!(value >= 0) || !Number.isFinite(value) || !(weight > 0)) return;
    const w = weight * this.decayFactor(time);
    const b = this.bucketOf(value);
    this.weights[b]! += w;
    this.totalWeight += w;
    if (b < this.minBucket) this.minBucket = b;
    if (b > this.maxBucket) this.maxBucket = b;
  }

  /** Removes a sample added earlier with the same value, weight and time (memory peaks are replaced this way). */
  subtract(value: number, weight: number, time: number): void {
    if (!(value >= 0) || !Number.isFinite(value) || !(weight > 0)) return;
    const w = weight * this.decayFactor(time);
    const b = this.bucketOf(value);
    const cur = this.weights[b]!;
    const removed = Math.min(cur, w);
    this.weights[b] = cur - removed;
    this.totalWeight -= removed;
    if (this.weights[b]! <= EPSILON * Math.max(this.totalWeight, 1e-300)) {
      this.totalWeight -= this.weights[b]!;
      this.weights[b] = 0;
    }
    if (this.totalWeight <= 0) this.clear();
    else this.tightenRange();
  }

  private tightenRange(): void {
    while (this.minBucket <= this.maxBucket && this.weights[this.minBucket] === 0) this.minBucket++;
    while (this.maxBucket >= this.minBucket && this.weights[this.maxBucket] === 0) this.maxBucket--;
  }

  clear(): void {
    this.weights.fill(0);
    this.totalWeight = 0;
    this.minBucket = this.layout.numBuckets;
    this.maxBucket = -1;
  }

  /**
   * The value below which a fraction `q` (0..1) of the weight lies: the end of the bucket where
   * the cumulative weight reaches q (so it errs high, by at most one bucket). 0 when empty.
   */
  percentile(q: number): number {
    if (this.totalWeight <= 0) return 0;
    const threshold = q * this.totalWeight;
    let sum = 0;
    let b = this.minBucket;
    for (; b < this.maxBucket; b++) {
      sum += this.weights[b]!;
      if (sum >= threshold) break;
    }
    return b < this.layout.numBuckets - 1 ? this.layout.starts[b + 1]! : this.layout.starts[b]!;
  }

  /** Several percentiles in one pass; `qs` must be ascending. */
  percentiles(qs: readonly number[]): number[] {
    const out = new Array<number>(qs.length).fill(0);
    if (this.totalWeight <= 0) return out;
    let sum = 0;
    let k = 0;
    const last = this.layout.numBuckets - 1;
    for (let b = this.minBucket; b <= this.maxBucket && k < qs.length; b++) {
      sum += this.weights[b]!;
      while (k < qs.length && (sum >= qs[k]! * this.totalWeight || b === this.maxBucket)) {
        out[k++] = b < last ? this.layout.starts[b + 1]! : this.layout.starts[b]!;
      }
    }
    return out;
  }

  /** Plain-JSON state: non-empty buckets only, weights as integers relative to the largest. */
  toState(): HistogramState {
    const b: number[] = [];
    let max = 0;
    for (let i = this.minBucket; i <= this.maxBucket; i++) if (this.weights[i]! > max) max = this.weights[i]!;
    if (max <= 0) return { ref: this.ref, total: 0, b };
    const scale = WEIGHT_SCALE / max;
    for (let i = this.minBucket; i <= this.maxBucket; i++) {
      const w = Math.round(this.weights[i]! * scale);
      if (w > 0) b.push(i, w);
    }
    return { ref: this.ref, total: this.totalWeight, b };
  }

  /** Rebuilds a histogram from its state; buckets out of range are dropped. */
  static fromState(options: HistogramOptions, s: HistogramState): DecayingHistogram {
    const h = new DecayingHistogram(options, s.ref);
    let sum = 0;
    for (let i = 1; i < s.b.length; i += 2) sum += s.b[i]!;
    if (sum <= 0 || !(s.total > 0)) return h;
    const n = h.layout.numBuckets;
    for (let i = 0; i + 1 < s.b.length; i += 2) {
      const idx = s.b[i]!;
      const w = s.b[i + 1]!;
      if (!Number.isInteger(idx) || idx < 0 || idx >= n || !(w > 0)) continue;
      const weight = (s.total * w) / sum;
      h.weights[idx]! += weight;
      h.totalWeight += weight;
      if (idx < h.minBucket) h.minBucket = idx;
      if (idx > h.maxBucket) h.maxBucket = idx;
    }
    return h;
  }
}

/** True when `v` has the shape of a HistogramState (state read back from workflow history is checked). */
export function isHistogramState(v: unknown): v is HistogramState {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.ref === 'number' &&
    Number.isFinite(s.ref) &&
    typeof s.total === 'number' &&
    Number.isFinite(s.total) &&
    s.total >= 0 &&
    Array.isArray(s.b) &&
    s.b.length % 2 === 0 &&
    s.b.every((x) => typeof x === 'number' && Number.isFinite(x))
  );
}
