import { Registry } from 'prom-client';
import { ManualClock } from '../../../../clients/vpsie/clock';
import { VPSieClient, type VPSieClientOptions } from '../../../../clients/vpsie/client';
import { staticCredentials, type CredentialsSource } from '../../../../clients/vpsie/credentials';
import { RecordingNodeJoiner, startVPSieSimulator, type RunningVPSieSimulator, type SimConfigInput } from '../../../../sandbox/vpsie-sim/index';

export interface SimHandle {
  sim: RunningVPSieSimulator;
  joiner: RecordingNodeJoiner;
  admin(path: string, method?: string, body?: unknown): Promise<unknown>;
  state(): Promise<SimSnapshot>;
}

export interface SimSnapshot {
  alive: number;
  counters: { logins: number; requests: number; creates: number };
  machines: {
    identifier: string;
    hostname: string;
    kind: string;
    phase: string;
    plan: string;
    notes: string | null;
    node: { state: string; name: string | null };
  }[];
  billing: { instanceHours: number; cost: number };
}

/** Fast lifecycle: no delays, no rate limit, no faults, unless overridden. */
export const FAST: SimConfigInput = { provisioningDelayMs: 0, bootDelayMs: 0, rateLimit: null };

export async function startSim(config: SimConfigInput = FAST, extra: { stateFile?: string } = {}): Promise<SimHandle> {
  const joiner = new RecordingNodeJoiner();
  const sim = await startVPSieSimulator({ port: 0, config, nodeJoiner: joiner, ...extra });
  const admin = async (path: string, method = 'GET', body?: unknown) => {
    const res = await fetch(`${sim.adminUrl}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as unknown;
  };
  return { sim, joiner, admin, state: async () => (await admin('/state')) as SimSnapshot };
}

export interface TestClient {
  client: VPSieClient;
  clock: ManualClock;
  registry: Registry;
}

/** A client on a virtual clock: backoff and Retry-After waits are recorded in `clock.sleeps`, not slept. */
export function makeClient(h: SimHandle, opts: Partial<VPSieClientOptions> & { credentials?: CredentialsSource } = {}): TestClient {
  // Virtual time starting at the real time, so token expiries issued by the simulator line up.
  const clock = new ManualClock(Date.now());
  const registry = new Registry();
  const client = new VPSieClient({
    baseUrl: h.sim.url,
    credentials: staticCredentials({ kind: 'client', clientId: h.sim.clientId, clientSecret: h.sim.clientSecret }),
    registry,
    clock,
    random: () => 0.5,
    rateLimit: false,
    apiBreaker: { minRequests: 4, errorRateThreshold: 0.5, windowMs: 60_000, openMs: 30_000 },
    ...opts,
  });
  return { client, clock, registry };
}

/** Polls `check` until it returns a value (real time; bounded attempts, no timing assertion). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, attempts = 200, everyMs = 25): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition not reached');
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val))
    .reduce((s, v) => s + v.value, 0);
}
