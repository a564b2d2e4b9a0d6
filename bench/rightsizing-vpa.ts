/**
 * A VPA-default recommender for the rightsizing benchmark, computed by the same harness as ours.
 * The defaults, as read in k8s.io/autoscaler/vertical-pod-autoscaler@v1.8.1:
 *   pkg/recommender/config/config.go      target P90, lower P50, upper P95 (CPU and memory),
 *                                          recommendation-margin-fraction 0.15,
 *                                          pod-recommendation-min-cpu-millicores 25, min-memory-mb 250,
 *                                          confidence-interval 24h
 *   pkg/recommender/model/aggregations_config.go
 *                                          CPU histogram 0.01 core first bucket … 1000 cores, memory
 *                                          1e7 B … 1e12 B, 5% bucket growth, 24 h half-lives, memory
 *                                          aggregation interval 24h, OOM bump ×1.2 / +100 MiB
 *   pkg/recommender/model/container.go    one memory peak per interval (replaced while it grows);
 *                                          RecordOOM bumps max(request, current peak)
 *   pkg/recommender/logic/recommender.go  target = P90 × 1.15 (no confidence on the target),
 *                                          floors 25m / 250Mi for a one-container pod
 * Only the target is needed (the request the harness applies).
 */
import { DAY_MS, DecayingHistogram, MIB, type HistogramOptions } from '../decision/rightsizing/histogram';

const VPA_CPU: HistogramOptions = { firstBucket: 10, growth: 1.05, maxValue: 1_000_000, halfLifeMs: DAY_MS };
const VPA_MEMORY: HistogramOptions = { firstBucket: 1e7, growth: 1.05, maxValue: 1e12, halfLifeMs: DAY_MS };
const MARGIN = 0.15;
const MIN_CPU_MILLI = 25;
const MIN_MEMORY = 250 * MIB;
const OOM_RATIO = 1.2;
const OOM_MIN = 100 * MIB;
const INTERVAL = DAY_MS;

export class VpaDefaultRecommender {
  readonly cpu = new DecayingHistogram(VPA_CPU);
  readonly memory = new DecayingHistogram(VPA_MEMORY);
  private windowEnd = 0;
  private memoryPeak = 0;
  private oomPeak = 0;
  private lastMemorySample = 0;

  addCpu(time: number, millicores: number): void {
    this.cpu.add(millicores, 0.1, time);
  }

  addMemory(time: number, bytes: number): void {
    this.addMemorySample(time, bytes, false);
  }

  /** container.go RecordOOM: max(request, current peak), bumped, added as an OOM memory sample. */
  recordOom(time: number, requestBytes: number): void {
    if (this.lastMemorySample !== 0 && time < this.lastMemorySample - INTERVAL) return;
    const used = Math.max(requestBytes, this.memoryPeak);
    this.addMemorySample(time, Math.max(used + OOM_MIN, used * OOM_RATIO), true);
  }

  private addMemorySample(ts: number, usage: number, isOOM: boolean): void {
    if (!isOOM && ts < this.lastMemorySample) return;
    this.lastMemorySample = ts;
    if (this.windowEnd === 0) this.windowEnd = ts;
    let addNewPeak = false;
    if (ts < this.windowEnd) {
      const oldMax = Math.max(this.memoryPeak, this.oomPeak);
      if (oldMax !== 0 && usage > oldMax) {
        this.memory.subtract(oldMax, 1, this.windowEnd);
        addNewPeak = true;
      }
    } else {
      const shift = Math.floor((ts - this.windowEnd) / INTERVAL) * INTERVAL + INTERVAL;
      this.windowEnd += shift;
      this.memoryPeak = 0;
      this.oomPeak = 0;
      addNewPeak = true;
    }
    if (addNewPeak) {
      this.memory.add(usage, 1, this.windowEnd);
      if (isOOM) this.oomPeak = usage;
      else this.memoryPeak = usage;
    }
  }

  /** Target requests: P90 × 1.15, at least 25m / 250Mi; undefined before any sample. */
  target(): { cpu: number; memory: number } | undefined {
    if (this.cpu.isEmpty() || this.memory.isEmpty()) return undefined;
    return {
      cpu: Math.max(this.cpu.percentile(0.9) * (1 + MARGIN), MIN_CPU_MILLI),
      memory: Math.max(this.memory.percentile(0.9) * (1 + MARGIN), MIN_MEMORY),
    };
  }
}
