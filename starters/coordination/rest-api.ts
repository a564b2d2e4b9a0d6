/**
 * The coordinator's REST API (document 000, "Coordinator REST API"). Its handlers are Temporal
 * clients of the coordination workflows (workflows/coordination/contracts.ts), so the REST API
 * and the `temporal` CLI always show the same state:
 *
 *   GET  /healthz, /ready, /metrics                                   no authentication
 *   GET  /api/v1/coordination/{namespace}/{name}                      stateQuery          (get)
 *   POST /api/v1/coordination/{namespace}/{name}/circuit-breaker      circuitBreakerUpdate (patch)
 *   GET  /api/v1/conflicts[?namespace=]                               the hub's recentConflictsQuery (list)
 *
 * {name} is the VPANAPCoordination's name. Callers of /api/v1/** send `Authorization: Bearer
 * <token>`: the token is checked by a TokenReview and the identity authorised by a
 * SubjectAccessReview for the verb in parentheses on vpanapcoordinations.platform.io (./auth.ts).
 * Every error is JSON `{ "error": "…", "field"?: "…" }`: 400 bad input (naming the field), 401 no or
 * bad token, 403 not allowed (the review's reason), 404 no running coordination workflow, 409 the
 * workflow refused the update, 502/503 Temporal or Kubernetes failed.
 */
import type { AddressInfo } from 'node:net';
import type * as k8s from '@kubernetes/client-node';
import {
  isGrpcDeadlineError,
  isGrpcServiceError,
  QueryNotRegisteredError,
  QueryRejectedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { logger as makeLogger, type Logger } from '../../lib/log';
import {
  circuitBreakerUpdate,
  COORDINATION_HUB_WORKFLOW_ID,
  coordinationWorkflowId,
  recentConflictsQuery,
  stateQuery,
  type ConflictRecord,
  type CoordinationView,
} from '../../workflows/coordination/contracts';
import { KubeReviewer, parseBearer, ReviewUnavailableError, type CoordinationAccess, type Identity } from './auth';
import { coordinationDurationHistogram } from './metrics';
import { checkNamespace, checkObjectName, MAX_BODY_BYTES, parseCircuitBreakerBody, type Checked } from './requests';

export interface CoordinationApiOptions {
  /** A client on the namespace the coordination workflows run in. */
  temporal: Client;
  /** The orchestrator's own identity: it creates the TokenReviews and SubjectAccessReviews. */
  kc: k8s.KubeConfig;
  /** host:port to listen on (port 0: any free port). */
  addr: string;
  /** Served on /metrics; vpa_nap_coordination_duration_seconds is registered on it. */
  registry: Registry;
  healthy: () => boolean;
  ready: () => boolean;
  log?: Logger;
  /** The hub's workflow id (default COORDINATION_HUB_WORKFLOW_ID). */
  hubWorkflowId?: string;
  /** How long a Temporal call may take before the caller gets 503 (default 15 s). */
  temporalTimeoutMs?: number;
  /** TokenReview / SubjectAccessReview caches (defaults 30 s / 10 s / 1000 entries each). */
  cache?: { tokenTtlMs?: number; accessTtlMs?: number; maxEntries?: number };
}

export interface CoordinationApi {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export type ApiOperation = 'api_get' | 'api_circuit_breaker' | 'api_conflicts';

/** A refusal with its HTTP status, answered as `{ error, field? }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** host:port, [v6]:port. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[(.*)\]$/, '$1') : '';
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`coordination API address "${addr}" is not host:port`);
  return { host, port };
}

function checked<T>(c: Checked<T>): T {
  if (!c.ok) throw new ApiError(400, c.message, c.field);
  return c.value;
}

/** gRPC status code anywhere in the cause chain. */
function grpcCode(e: unknown): number | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 8; depth++) {
    if (isGrpcServiceError(cur)) return cur.code;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return undefined;
}

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** A Temporal failure as the caller sees it. `what` names the workflow for a 404. */
export function temporalFailure(e: unknown, what: string, timeoutMs: number): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof WorkflowNotFoundError) return new ApiError(404, `${what} not found (no running coordination workflow)`);
  if (e instanceof WorkflowUpdateFailedError) {
    const why = e.cause?.message ?? e.message;
    return new ApiError(409, `the coordination workflow refused the request: ${why}`);
  }
  if (e instanceof QueryNotRegisteredError || e instanceof QueryRejectedError)
    return new ApiError(502, `the coordination workflow of ${what} did not answer its query: ${e.message}`);
  const code = grpcCode(e);
  if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(e) || code === GRPC_DEADLINE_EXCEEDED)
    return new ApiError(503, `Temporal did not answer within ${Math.round(timeoutMs / 1000)} s`);
  if (code === GRPC_UNAVAILABLE) return new ApiError(503, `Temporal is unavailable: ${e instanceof Error ? e.message : String(e)}`);
  return new ApiError(502, `Temporal failed: ${e instanceof Error ? e.message : String(e)}`);
}

function isViewLike(v: unknown): v is CoordinationView {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'status' in v && 'breaker' in v;
}

export async function startCoordinationApi(o: CoordinationApiOptions): Promise<CoordinationApi> {
  const { host, port } = parseListenAddress(o.addr);
  const log = o.log ?? makeLogger('coordination-api', { addr: o.addr });
  const hubId = o.hubWorkflowId ?? COORDINATION_HUB_WORKFLOW_ID;
  const timeoutMs = o.temporalTimeoutMs ?? 15_000;
  const histogram = coordinationDurationHistogram(o.registry);
  const reviewer = new KubeReviewer({ kc: o.kc, ...o.cache });
  /** Per request: the authenticated user (for the log) and the operation (for the histogram). */
  const users = new WeakMap<FastifyRequest, string>();
  const operations = new WeakMap<FastifyRequest, ApiOperation>();
  /** Per request answered 5xx: why (for the log line). */
  const failures = new WeakMap<FastifyRequest, string>();

  const app = Fastify({ logger: false, bodyLimit: MAX_BODY_BYTES, routerOptions: { maxParamLength: 256 }, forceCloseConnections: 'idle' });

  // The body is parsed by the handler (after authentication), so malformed JSON is answered like
  // every other bad body and any Content-Type is accepted.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const deadline = <R>(fn: () => Promise<R>): Promise<R> => o.temporal.withDeadline(Date.now() + timeoutMs, fn);

  async function caller(req: FastifyRequest, access: CoordinationAccess, operation: ApiOperation): Promise<Identity> {
    const bearer = parseBearer(req.headers.authorization);
    if (!bearer.ok) throw new ApiError(401, bearer.message, undefined, { 'www-authenticate': 'Bearer' });
    try {
      const authn = await reviewer.authenticate(bearer.token);
      if (!authn.ok) throw new ApiError(401, authn.message, undefined, { 'www-authenticate': 'Bearer error="invalid_token"' });
      users.set(req, authn.identity.username);
      const authz = await reviewer.authorize(authn.identity, access);
      if (!authz.allowed) throw new ApiError(403, authz.reason);
      operations.set(req, operation);
      return authn.identity;
    } catch (e) {
      if (e instanceof ReviewUnavailableError) throw new ApiError(503, `cannot check the caller: ${e.message}`);
      throw e;
    }
  }

  /** The object's workflow, when it runs (a missing or closed one is 404). */
  async function runningObject(namespace: string, name: string): Promise<WorkflowHandle> {
    const what = `VPANAPCoordination ${namespace}/${name}`;
    const handle = o.temporal.workflow.getHandle(coordinationWorkflowId(namespace, name));
    let status: string;
    try {
      status = (await deadline(() => handle.describe())).status.name;
    } catch (e) {
      throw temporalFailure(e, what, timeoutMs);
    }
    if (status !== 'RUNNING') throw new ApiError(404, `${what} not found (its coordination workflow has ${status.toLowerCase().replace(/_/g, ' ')})`);
    return handle;
  }

  const objectParams = (req: FastifyRequest): { namespace: string; name: string } => {
    const p = req.params as { namespace: string; name: string };
    return { namespace: checked(checkNamespace(p.namespace)), name: checked(checkObjectName(p.name)) };
  };

  const text = (reply: FastifyReply, ok: boolean, yes: string, no: string) =>
    reply
      .code(ok ? 200 : 503)
      .type('text/plain; charset=utf-8')
      .send(ok ? yes : no);
  const safely = (f: () => boolean): boolean => {
    try {
      return f();
    } catch {
      return false;
    }
  };

  app.get('/healthz', async (_req, reply) => text(reply, safely(o.healthy), 'healthy', 'unhealthy'));
  app.get('/ready', async (_req, reply) => text(reply, safely(o.ready), 'ready', 'not ready'));
  app.get('/metrics', async (_req, reply) => {
    const body = await o.registry.metrics();
    return reply.code(200).header('content-type', o.registry.contentType).send(body);
  });

  app.get('/api/v1/coordination/:namespace/:name', async (req) => {
    const { namespace, name } = objectParams(req);
    await caller(req, { verb: 'get', namespace, name }, 'api_get');
    const handle = await runningObject(namespace, name);
    let view: unknown;
    try {
      view = await deadline(() => handle.query(stateQuery));
    } catch (e) {
      throw temporalFailure(e, `VPANAPCoordination ${namespace}/${name}`, timeoutMs);
    }
    if (!isViewLike(view))
      throw new ApiError(502, `the coordination workflow of ${namespace}/${name} answered its state query with something that is not a state`);
    return view;
  });

  app.post('/api/v1/coordination/:namespace/:name/circuit-breaker', async (req) => {
    const { namespace, name } = objectParams(req);
    const identity = await caller(req, { verb: 'patch', namespace, name }, 'api_circuit_breaker');
    const body = checked(parseCircuitBreakerBody(typeof req.body === 'string' ? req.body : undefined));
    const handle = await runningObject(namespace, name);
    let view: unknown;
    try {
      view = await deadline(() => handle.executeUpdate(circuitBreakerUpdate, { args: [{ ...body, by: identity.username.slice(0, 256) }] }));
    } catch (e) {
      throw temporalFailure(e, `VPANAPCoordination ${namespace}/${name}`, timeoutMs);
    }
    if (!isViewLike(view)) throw new ApiError(502, `the coordination workflow of ${namespace}/${name} answered the update with something that is not a state`);
    log.info('circuit breaker command', { namespace, name, action: body.action, reason: body.reason, user: identity.username, state: view.breaker.state });
    return view;
  });

  app.get('/api/v1/conflicts', async (req) => {
    const q = req.query as Record<string, unknown>;
    const unknown = Object.keys(q).filter((k) => k !== 'namespace');
    if (unknown.length) throw new ApiError(400, `${unknown[0]}: unknown query parameter (only namespace)`, unknown[0]);
    if (q.namespace !== undefined && typeof q.namespace !== 'string') throw new ApiError(400, 'namespace: give it at most once', 'namespace');
    const namespace = q.namespace === undefined ? undefined : checked(checkNamespace(q.namespace));
    await caller(req, { verb: 'list', namespace }, 'api_conflicts');
    const handle = o.temporal.workflow.getHandle(hubId);
    let conflicts: unknown;
    try {
      const status = (await deadline(() => handle.describe())).status.name;
      if (status !== 'RUNNING') return { items: [] };
      conflicts = await deadline(() => handle.query(recentConflictsQuery));
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return { items: [] };
      throw temporalFailure(e, 'the coordination hub', timeoutMs);
    }
    if (!Array.isArray(conflicts)) throw new ApiError(502, 'the coordination hub answered its conflicts query with something that is not a list');
    const items = (conflicts as ConflictRecord[]).filter((c) => namespace === undefined || c.namespace === namespace).sort((a, b) => b.at - a.at);
    return { items };
  });

  app.setNotFoundHandler(async (req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }));

  app.setErrorHandler(async (error: FastifyError | ApiError, req, reply) => {
    if (error instanceof ApiError) {
      if (error.status >= 500) failures.set(req, error.message);
      for (const [k, v] of Object.entries(error.headers)) void reply.header(k, v);
      return reply.code(error.status).send(error.field ? { error: error.message, field: error.field } : { error: error.message });
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message = (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `body: larger than ${MAX_BODY_BYTES} bytes` : error.message;
      return reply.code(status).send(message.startsWith('body:') ? { error: message, field: 'body' } : { error: message });
    }
    log.error('request failed', { method: req.method, path: req.url.split('?')[0], error: error instanceof Error ? error.message : String(error) });
    return reply.code(500).send({ error: 'internal error' });
  });

  app.addHook('onResponse', async (req, reply) => {
    const path = req.url.split('?')[0];
    const operation = operations.get(req);
    if (operation) histogram.observe({ operation }, reply.elapsedTime / 1000);
    const fields = { method: req.method, path, status: reply.statusCode, user: users.get(req), durationMs: Math.round(reply.elapsedTime * 10) / 10 };
    if (!path.startsWith('/api/')) log.debug('request', fields);
    else if (reply.statusCode >= 500) log.warn('request', { ...fields, error: failures.get(req) });
    else log.info('request', fields);
  });

  await app.listen({ host, port });
  const a = app.server.address() as AddressInfo;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  log.info('coordination API listening', { url });
  return {
    url,
    async close() {
      await app.close();
    },
  };
}
