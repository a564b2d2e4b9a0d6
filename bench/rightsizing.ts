/**
 * Rightsizing recommender benchmark: 10,000 containers of generated traces (diurnal, spiky, step,
 * leak, OOM; 2,000 of each) played for 8 days at a 5-minute resolution through our recommender
 * (decision/rightsizing, the default policy: P90 × 1.2, bounds min 25m / 250Mi = VPA's floors) and
 * through a VPA-default recommender (bench/rightsizing-vpa.ts) in the same harness.
 *
 * The harness: each container starts with requests of twice its base usage; from day 1 on, the
 * recommender's target becomes the request every hour (Auto mode, hourly). Memory limit = request:
 * demand above it is an OOM kill (the recommender sees the kill and a working set capped at the
 * limit). Evaluated over days 1–8 per trace kind:
 *   - minutes above request (under-provisioned minutes; CPU and memory), mean per container
 *   - slack = mean request − p99 of demand (CPU m, memory MiB), median over containers
 * Performance:
 *   - cycle: restore 10,000 containers' JSON state, add 5 one-minute samples each, recommend,
 *     serialise (what one 5-minute cycle does), best and median of 5 runs
 *   - history ingestion throughput (samples/s) over the whole 8-day play
 *   - state kept per container: its serialised JSON bytes
 *
 *   npm run bench:rightsizing                         # 10,000 containers, seed 42
 *   npm run bench:rightsizing -- --containers N --seed S
 */
import { performance } from 'node:perf_hooks';
import { DAY_MS, HOUR_MS, MIB } from '../decision/rightsizing/histogram';
import { ContainerUsageModel, type ModelState } from '../decision/rightsizing/model';
import { recommend, type RecommenderPolicy } from '../decision/rightsizing/recommendation';
import { mulberry32 } from '../lib/prng';
import { VpaDefaultRecommender } from './rightsizing-vpa';

const KINDS = ['diurnal', 'spiky', 'step', 'leak', 'oom'] as const;
type Kind = (typeof KINDS)[number];

const STEP_MS = 5 * 60_000;
const DAYS = 8;
const STEPS = (DAYS * DAY_MS) / STEP_MS;
const STEPS_PER_HOUR = HOUR_MS / STEP_MS;
const EVAL_FROM = DAY_MS / STEP_MS;
const T0 = Date.UTC(2026, 0, 1);

export const POLICY: RecommenderPolicy = {
  percentile: 'P90',
  safetyFactor: 1.2,
  cpu: { min: 25 },
  memory: { min: 250 * MIB },
  rollingWindowMs: DAY_MS,
  minSamples: 10,
  sampleIntervalMs: STEP_MS,
};

/** Demand (what the container would use) per 5-minute step: cpu millicores, memory bytes. */
function trace(kind: Kind, rnd: () => number): { cpu: Float64Array; mem: Float64Array } {
  const cpu = new Float64Array(STEPS);
  const mem = new Float64Array(STEPS);
  const logUniform = (lo: number, hi: number) => lo * (hi / lo) ** rnd();
  const baseCpu = logUniform(50, 2000);
  const baseMem = logUniform(256 * MIB, 4096 * MIB);
  const phase = rnd() * 2 * Math.PI;
  const noise = (f: number) => 1 + f * (2 * rnd() - 1);
  const stepAt = Math.floor((3 + 2 * rnd()) * (DAY_MS / STEP_MS));
  const stepFactor = rnd() < 2 / 3 ? 2 : 0.5;
  const leakPeriod = Math.floor((1 + rnd()) * (DAY_MS / STEP_MS));
  let burst = 0;
  for (let i = 0; i < STEPS; i++) {
    const day = (2 * Math.PI * i * STEP_MS) / DAY_MS + phase;
    switch (kind) {
      case 'diurnal':
        cpu[i] = baseCpu * (1 + 0.6 * Math.sin(day)) * noise(0.1);
        mem[i] = baseMem * (1 + 0.3 * Math.sin(day)) * noise(0.03);
        break;
      case 'spiky':
        cpu[i] = baseCpu * (rnd() < 0.02 ? 3 + 3 * rnd() : noise(0.1));
        mem[i] = baseMem * (rnd() < 0.005 ? 1.5 : noise(0.03));
        break;
      case 'step': {
        const f = i >= stepAt ? stepFactor : 1;
        cpu[i] = baseCpu * f * noise(0.1);
        mem[i] = baseMem * f * noise(0.03);
        break;
      }
      case 'leak':
        cpu[i] = baseCpu * noise(0.1);
        mem[i] = baseMem * (1 + 2 * ((i % leakPeriod) / leakPeriod)) * noise(0.02);
        break;
      case 'oom':
        if (burst === 0 && rnd() < 0.003) burst = 3;
        cpu[i] = baseCpu * noise(0.15);
        mem[i] = baseMem * (burst > 0 ? 1.4 + 0.6 * rnd() : noise(0.05));
        if (burst > 0) burst--;
        break;
    }
  }
  return { cpu, mem };
}

interface Recommender {
  addCpu(t: number, v: number): void;
  addMemory(t: number, v: number): void;
  recordOom(t: number, usage: number): void;
  target(now: number): { cpu: number; memory: number } | undefined;
}

class Ours implements Recommender {
  readonly model = new ContainerUsageModel();
  addCpu(t: number, v: number): void {
    this.model.addCpu(t, v);
  }
  addMemory(t: number, v: number): void {
    this.model.addMemory(t, v);
  }
  recordOom(t: number, usage: number): void {
    this.model.recordOom(t, usage);
  }
  target(now: number): { cpu: number; memory: number } | undefined {
    const r = recommend(this.model, POLICY, now);
    return r.ok ? { cpu: r.cpu.target, memory: r.memory.target } : undefined;
  }
}

class Vpa implements Recommender {
  readonly r = new VpaDefaultRecommender();
  addCpu(t: number, v: number): void {
    this.r.addCpu(t, v);
  }
  addMemory(t: number, v: number): void {
    this.r.addMemory(t, v);
  }
  recordOom(t: number, request: number): void {
    this.r.recordOom(t, request);
  }
  target(): { cpu: number; memory: number } | undefined {
    return this.r.target();
  }
}

interface Outcome {
  cpuMinutesAbove: number;
  memMinutesAbove: number;
  ooms: number;
  cpuSlack: number;
  memSlackMiB: number;
  recommenderMs: number;
  samples: number;
}

function p99(xs: Float64Array, from: number): number {
  const s = xs.slice(from).sort();
  return s[Math.max(0, Math.ceil(0.99 * s.length) - 1)]!;
}

/** Plays one container's demand through a recommender in the harness. */
function play(rec: Recommender, cpu: Float64Array, mem: Float64Array): Outcome {
  let reqCpu = 2 * cpu[0]!;
  let reqMem = 2 * mem[0]!;
  let cpuAbove = 0;
  let memAbove = 0;
  let ooms = 0;
  let sumReqCpu = 0;
  let sumReqMem = 0;
  let ms = 0;
  let samples = 0;
  const seenCpu = new Float64Array(STEPS_PER_HOUR);
  const seenMem = new Float64Array(STEPS_PER_HOUR);
  const oomAt = new Uint8Array(STEPS_PER_HOUR);
  for (let h = 0; h < STEPS / STEPS_PER_HOUR; h++) {
    // the world, for one hour at fixed requests
    for (let k = 0; k < STEPS_PER_HOUR; k++) {
      const i = h * STEPS_PER_HOUR + k;
      const oom = mem[i]! > reqMem;
      seenCpu[k] = cpu[i]!;
      seenMem[k] = oom ? reqMem : mem[i]!;
      oomAt[k] = oom ? 1 : 0;
      if (i >= EVAL_FROM) {
        if (cpu[i]! > reqCpu) cpuAbove += 5;
        if (oom) ((memAbove += 5), ooms++);
        sumReqCpu += reqCpu;
        sumReqMem += reqMem;
      }
    }
    // the recommender's work for that hour: its samples, its OOM kills, one recommendation
    const t0 = performance.now();
    for (let k = 0; k < STEPS_PER_HOUR; k++) {
      const t = T0 + (h * STEPS_PER_HOUR + k) * STEP_MS;
      rec.addCpu(t, seenCpu[k]!);
      rec.addMemory(t, seenMem[k]!);
      if (oomAt[k] === 1) rec.recordOom(t, reqMem);
    }
    const now = T0 + (h + 1) * HOUR_MS;
    const target = rec.target(now);
    ms += performance.now() - t0;
    samples += STEPS_PER_HOUR;
    if (target !== undefined && now - T0 >= DAY_MS) {
      reqCpu = target.cpu;
      reqMem = target.memory;
    }
  }
  const n = STEPS - EVAL_FROM;
  return {
    cpuMinutesAbove: cpuAbove,
    memMinutesAbove: memAbove,
    ooms,
    cpuSlack: sumReqCpu / n - p99(cpu, EVAL_FROM),
    memSlackMiB: (sumReqMem / n - p99(mem, EVAL_FROM)) / MIB,
    recommenderMs: ms,
    samples,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
};
const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const r1 = (x: number): number => Math.round(x * 10) / 10;

/** One 5-minute cycle over every container's persisted state: restore, 5 samples, recommend, persist. */
function cycle(states: string[], now: number, rnd: () => number): number {
  const t0 = performance.now();
  for (let c = 0; c < states.length; c++) {
    const m = ContainerUsageModel.restore(JSON.parse(states[c]!) as ModelState);
    if (m === undefined) throw new Error('state did not restore');
    for (let k = 0; k < 5; k++) {
      const t = now + k * 60_000;
      m.addCpu(t, 100 + 400 * rnd());
      m.addMemory(t, (300 + 200 * rnd()) * MIB);
    }
    recommend(m, POLICY, now + 5 * 60_000);
    states[c] = JSON.stringify(m.toState());
  }
  return performance.now() - t0;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const containers = Number(arg('containers') ?? '10000');
  const seed = Number(arg('seed') ?? '42');
  const rnd = mulberry32(seed);
  const perKind = new Map<Kind, { ours: Outcome[]; vpa: Outcome[] }>(KINDS.map((k) => [k, { ours: [], vpa: [] }]));
  const states: string[] = [];
  let oursMs = 0;
  let vpaMs = 0;
  let samples = 0;
  const wall0 = performance.now();
  for (let c = 0; c < containers; c++) {
    const kind = KINDS[c % KINDS.length]!;
    const { cpu, mem } = trace(kind, rnd);
    const ours = new Ours();
    const o = play(ours, cpu, mem);
    const v = play(new Vpa(), cpu, mem);
    perKind.get(kind)!.ours.push(o);
    perKind.get(kind)!.vpa.push(v);
    oursMs += o.recommenderMs;
    vpaMs += v.recommenderMs;
    samples += o.samples;
    states.push(JSON.stringify(ours.model.toState()));
  }
  const wallSeconds = (performance.now() - wall0) / 1000;

  const sizes = states.map((s) => Buffer.byteLength(s, 'utf8'));
  const cycles: number[] = [];
  for (let i = 0; i < 5; i++) cycles.push(cycle(states, T0 + DAYS * DAY_MS + i * 5 * 60_000, rnd));

  const summary = (xs: Outcome[]) => ({
    cpuMinutesAbovePerContainer: r1(mean(xs.map((x) => x.cpuMinutesAbove))),
    memoryMinutesAbovePerContainer: r1(mean(xs.map((x) => x.memMinutesAbove))),
    oomKillsPerContainer: Math.round(mean(xs.map((x) => x.ooms)) * 100) / 100,
    cpuSlackMillicoresMedian: r1(median(xs.map((x) => x.cpuSlack))),
    memorySlackMiBMedian: r1(median(xs.map((x) => x.memSlackMiB))),
  });
  const kinds: Record<string, unknown> = {};
  let worse = 0;
  for (const [k, { ours, vpa }] of perKind) {
    const a = summary(ours);
    const b = summary(vpa);
    const underOurs = a.cpuMinutesAbovePerContainer + a.memoryMinutesAbovePerContainer;
    const underVpa = b.cpuMinutesAbovePerContainer + b.memoryMinutesAbovePerContainer;
    if (underOurs > underVpa) worse++;
    kinds[k] = { containers: ours.length, ours: a, vpaDefault: b, underProvisionedMinutesNotAboveVpa: underOurs <= underVpa };
  }
  const sortedSizes = [...sizes].sort((x, y) => x - y);
  const out = {
    containers,
    seed,
    days: DAYS,
    resolutionMinutes: STEP_MS / 60_000,
    policy: { percentile: POLICY.percentile, safetyFactor: POLICY.safetyFactor, minCpu: '25m', minMemory: '250Mi' },
    cycle: {
      containers,
      samplesPerContainer: 5,
      bestMs: Math.round(Math.min(...cycles)),
      medianMs: Math.round(median(cycles)),
      targetMs: 5000,
      withinTarget: median(cycles) < 5000,
    },
    ingestion: {
      samples,
      recommendationsPerContainer: STEPS / STEPS_PER_HOUR,
      ourSeconds: Math.round(oursMs) / 1000,
      ourSamplesPerSecond: Math.round(samples / (oursMs / 1000)),
      vpaSeconds: Math.round(vpaMs) / 1000,
      harnessWallSeconds: Math.round(wallSeconds * 10) / 10,
    },
    stateBytesPerContainer: {
      mean: Math.round(mean(sizes)),
      p99: sortedSizes[Math.floor(0.99 * (sortedSizes.length - 1))],
      max: sortedSizes[sortedSizes.length - 1],
      targetMax: 2048,
      withinTarget: (sortedSizes[sortedSizes.length - 1] ?? 0) < 2048,
    },
    kinds,
    kindsWithMoreUnderProvisionedMinutesThanVpa: worse,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

if (process.argv[1]?.endsWith('rightsizing.ts')) main();
