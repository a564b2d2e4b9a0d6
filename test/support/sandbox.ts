/**
 * One sandbox per test run, shared by every integration test. The first caller of
 * `sharedSandbox()` starts it (headless, in a directory of its own so a person's `npm run
 * sandbox` is never disturbed); the root hook in test/hooks.ts stops it after the run.
 *
 * TEST_SANDBOX_DIR=<dir of a running sandbox> makes the tests use that sandbox instead.
 * Tests isolate themselves with `namespace()` and `taskQueue()`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { readEndpoints, type Endpoints } from '../../sandbox/endpoints';
import { startSandbox, type Sandbox } from '../../sandbox/stack';

export interface TestSandbox {
  endpoints: Endpoints;
  kubeconfig: string;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  /** A Temporal client on the sandbox's namespace (closed by the root hook). */
  temporal: Client;
  /** Creates a namespace with a unique name starting with `prefix`, ready for pods. */
  namespace(prefix: string): Promise<string>;
  /** A task queue name no other test uses. */
  taskQueue(prefix: string): string;
  /** The running stack when this run started it (undefined when reusing one). */
  stack?: Sandbox;
}

let pending: Promise<TestSandbox> | undefined;
let current: { sb: TestSandbox; connection: Connection; dir?: string } | undefined;

export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomBytes(3).toString('hex')}`.toLowerCase();
}

async function open(): Promise<TestSandbox> {
  let stack: Sandbox | undefined;
  let endpoints: Endpoints;
  let dir: string | undefined;
  if (process.env.TEST_SANDBOX_DIR) {
    const e = readEndpoints(path.resolve(process.env.TEST_SANDBOX_DIR));
    if (!e) throw new Error(`TEST_SANDBOX_DIR=${process.env.TEST_SANDBOX_DIR} holds no endpoints.json`);
    endpoints = e;
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-test-sandbox-'));
    stack = await startSandbox({
      dir,
      headless: true,
      progress: (l) => process.stderr.write(`      sandbox: ${l}\n`),
    });
    endpoints = stack.endpoints;
    process.stderr.write(`      sandbox: ready in ${stack.startSeconds.toFixed(1)} s (${dir})\n`);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(endpoints.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const connection = await Connection.connect({ address: endpoints.temporal.address });
  const temporal = new Client({ connection, namespace: endpoints.temporal.namespace });
  const sb: TestSandbox = {
    endpoints,
    kubeconfig: endpoints.kubeconfig,
    kc,
    core,
    temporal,
    stack,
    taskQueue: (prefix) => uniqueName(`tq-${prefix}`),
    async namespace(prefix) {
      const name = uniqueName(prefix);
      await core.createNamespace({ body: { metadata: { name, labels: { 'vpsie.test/run': String(process.pid) } } } });
      // Pods are refused until the service-account controller has made the default account.
      for (let i = 0; i < 300; i++) {
        try {
          await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
          return name;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`namespace ${name}: the default service account never appeared`);
    },
  };
  current = { sb, connection, dir };
  return sb;
}

export function sharedSandbox(): Promise<TestSandbox> {
  pending ??= open();
  return pending;
}

export async function stopSharedSandbox(): Promise<void> {
  if (!pending) return;
  await pending.catch(() => undefined);
  const c = current;
  pending = undefined;
  current = undefined;
  if (!c) return;
  await c.connection.close().catch(() => undefined);
  if (c.sb.stack) {
    await c.sb.stack.stop();
    if (c.dir && process.env.KEEP_TEST_SANDBOX !== '1') fs.rmSync(c.dir, { recursive: true, force: true });
  }
}

/** A kwok-managed Node (kwok's stages make it Ready and serve its metrics) with the given capacity; returns its name. */
export async function createKwokNode(sb: TestSandbox, prefix: string, capacity: { cpu: string; memory: string; pods?: string }): Promise<string> {
  const name = uniqueName(prefix);
  const q = { pods: '110', ...capacity };
  await sb.core.createNode({
    body: {
      metadata: {
        name,
        labels: { 'kubernetes.io/hostname': name, type: 'kwok' },
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: {},
      status: { capacity: q, allocatable: q },
    },
  });
  return name;
}
