import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * `.sandbox/endpoints.json`: the contract through which people, tests and scripts find a
 * running sandbox. Components add their own sections; unknown sections are kept.
 */
export const EndpointsSchema = z
  .object({
    kubeconfig: z.string(),
    kubectl: z.string(),
    apiserver: z.string(),
    temporal: z.object({
      address: z.string(),
      namespace: z.string(),
      ui: z.string().nullable(),
      cli: z.string(),
    }),
    vpsie: z
      .object({
        url: z.string(),
        clientId: z.string(),
        clientSecret: z.string(),
        clusterIdentifier: z.string(),
        admin: z.string(),
      })
      .optional(),
    orchestrator: z.object({ metrics: z.string(), healthz: z.string(), readyz: z.string() }).optional(),
    pids: z.record(z.string(), z.number().int()),
    logs: z.string(),
    startedAt: z.string(),
  })
  .passthrough();
export type Endpoints = z.infer<typeof EndpointsSchema>;

export function repoRoot(): string {
  return path.resolve(__dirname, '..');
}

export function sandboxDir(): string {
  return path.resolve(process.env.SANDBOX_DIR ?? path.join(repoRoot(), '.sandbox'));
}

export function endpointsPath(dir = sandboxDir()): string {
  return path.join(dir, 'endpoints.json');
}

export function readEndpoints(dir = sandboxDir()): Endpoints | undefined {
  const file = endpointsPath(dir);
  if (!fs.existsSync(file)) return undefined;
  return EndpointsSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
}

export function writeEndpoints(e: Endpoints, dir = sandboxDir()): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = endpointsPath(dir);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(e, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

/** The endpoints of a sandbox whose owning process is still alive, else undefined. */
export function readLiveEndpoints(dir = sandboxDir()): Endpoints | undefined {
  let e: Endpoints | undefined;
  try {
    e = readEndpoints(dir);
  } catch {
    return undefined;
  }
  const owner = e?.pids.sandbox;
  if (owner === undefined) return undefined;
  try {
    process.kill(owner, 0);
    return e;
  } catch {
    return undefined;
  }
}
