/**
 * `npm run bench:vpsie`: the VPSie client against an in-process simulator (loopback, no faults,
 * no simulator rate limit). Prints one JSON document:
 *  - overheadUs: client cost per call beyond a bare fetch + JSON.parse of the same request
 *    (auth header, breaker, bucket, zod validation, metrics), median of interleaved rounds;
 *  - sustained: calls/s with 16 concurrent callers, without the rate limiter and with it.
 */
import { Registry } from 'prom-client';
import { VPSieClient, type VPSieClientOptions } from '../clients/vpsie/client';
import { staticCredentials } from '../clients/vpsie/credentials';
import { startVPSieSimulator } from '../sandbox/vpsie-sim/index';

type Sim = Awaited<ReturnType<typeof startVPSieSimulator>>;

function client(sim: Sim, rateLimit: VPSieClientOptions['rateLimit']): VPSieClient {
  return new VPSieClient({
    baseUrl: sim.url,
    credentials: staticCredentials({ kind: 'client', clientId: sim.clientId, clientSecret: sim.clientSecret }),
    registry: new Registry(),
    rateLimit,
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(sim: Sim): Promise<void> {
  const setup = client(sim, false);
  for (let i = 0; i < 10; i++) {
    await setup.ensureVm({ requestId: `bench-${i}`, plan: 'small-2cpu-4gb', datacenter: 'us-east-1', osImage: 'ubuntu-22.04-lts' });
  }
  const login = (await (
    await fetch(`${sim.url}/apps/v2/auth/from/api`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientId: sim.clientId, clientSecret: sim.clientSecret }),
    })
  ).json()) as { token: { access: { token: string } } };
  const token = login.token.access.token;
  const raw = async () => {
    const res = await fetch(`${sim.url}/api/v2/vm`, { headers: { Accept: 'application/json', 'Vpsie-Auth': token } });
    JSON.parse(await res.text());
  };

  const noLimit = client(sim, false);
  const limitedIdle = client(sim, { perMinute: 60_000_000 });
  await noLimit.listVms();
  await limitedIdle.listVms();

  const N = 200;
  const time = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await f();
    return ((performance.now() - t0) / N) * 1000;
  };
  const rawUs: number[] = [];
  const clientUs: number[] = [];
  const clientLimUs: number[] = [];
  for (let round = 0; round < 7; round++) {
    rawUs.push(await time(raw));
    clientUs.push(await time(() => noLimit.listVms()));
    clientLimUs.push(await time(() => limitedIdle.listVms()));
  }

  const sustained = async (c: VPSieClient, seconds: number, concurrency = 16) => {
    const end = performance.now() + seconds * 1000;
    let calls = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await c.listVms();
          calls++;
        }
      }),
    );
    return {
      calls,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
      callsPerSecond: Math.round((calls / ((performance.now() - t0) / 1000)) * 10) / 10,
    };
  };
  const unlimited = await sustained(client(sim, false), 3);
  const limited6000 = await sustained(client(sim, { perMinute: 6_000, burst: 10 }), 3);
  const limitedDefault = await sustained(client(sim, { perMinute: 100, burst: 1 }), 6, 4);

  const result = {
    benchmark: 'vpsie-client',
    operation: 'vm.list (10 VMs, full VmData validation)',
    simulator: 'in-process, loopback, no faults, no server-side rate limit',
    perCallUs: {
      bareFetch: Math.round(median(rawUs)),
      client: Math.round(median(clientUs)),
      clientWithIdleRateLimiter: Math.round(median(clientLimUs)),
    },
    overheadUs: {
      withoutRateLimiter: Math.round(median(clientUs) - median(rawUs)),
      withRateLimiter: Math.round(median(clientLimUs) - median(rawUs)),
    },
    sustained: {
      withoutRateLimiter: { concurrency: 16, ...unlimited },
      withRateLimiter6000PerMin: { concurrency: 16, limitPerSecond: 100, ...limited6000 },
      withDefaultRateLimiter100PerMin: { concurrency: 4, limitPerSecond: Math.round((100 / 60) * 100) / 100, ...limitedDefault },
    },
    node: process.version,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

async function run(): Promise<void> {
  const sim = await startVPSieSimulator({ port: 0, config: { provisioningDelayMs: 0, bootDelayMs: 0, rateLimit: null }, cluster: { name: 'bench' } });
  try {
    await main(sim);
  } finally {
    await sim.close();
  }
}

run().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
