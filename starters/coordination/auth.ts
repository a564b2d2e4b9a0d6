/**
 * Who is calling the coordination REST API and may they: a Kubernetes bearer token checked by a
 * TokenReview (authentication.k8s.io/v1), the identity it names authorised by a
 * SubjectAccessReview (authorization.k8s.io/v1) on the VPANAPCoordination the request is about.
 *
 * Positive TokenReview answers are cached for a short time, keyed by a SHA-256 of the token (the
 * token itself is never kept nor logged); SubjectAccessReview answers (allowed or denied) for a
 * shorter time. Both caches are bounded.
 */
import crypto from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { COORDINATION_PLURAL, PLATFORM_GROUP } from '../../lib/crds/platform/constants';

// ---- bearer tokens ------------------------------------------------------------------------

/** RFC 6750 b64token: what a bearer token may contain. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Longer than any token Kubernetes issues; a longer header is refused before any review. */
export const MAX_TOKEN_LENGTH = 8192;

export type BearerParse = { ok: true; token: string } | { ok: false; message: string };

/** The token of an `Authorization: Bearer <token>` header. */
export function parseBearer(header: string | string[] | undefined): BearerParse {
  if (header === undefined || header === '') return { ok: false, message: 'Authorization: a bearer token is required (Authorization: Bearer <token>)' };
  if (Array.isArray(header)) return { ok: false, message: 'Authorization: exactly one header is allowed' };
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) return { ok: false, message: 'Authorization: expected "Bearer <token>"' };
  const token = m[1];
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, message: `Authorization: the token is longer than ${MAX_TOKEN_LENGTH} characters` };
  if (!B64TOKEN.test(token)) return { ok: false, message: 'Authorization: the token has characters a bearer token cannot have' };
  return { ok: true, token };
}

export function tokenKey(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

// ---- a bounded cache with expiry ----------------------------------------------------------

/** A map whose entries expire after `ttlMs` and which holds at most `maxEntries` (the oldest go first). */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(ttlMs >= 0) || !Number.isInteger(maxEntries) || maxEntries < 1) throw new Error(`TtlCache: bad ttlMs ${ttlMs} or maxEntries ${maxEntries}`);
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.ttlMs === 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const t = this.now();
      for (const [k, e] of this.entries) if (e.expires <= t) this.entries.delete(k);
      // Still full: drop the oldest insertions (a Map iterates in insertion order).
      for (const k of this.entries.keys()) {
        if (this.entries.size < this.maxEntries) break;
        this.entries.delete(k);
      }
    }
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

// ---- reviews --------------------------------------------------------------------------------

export interface Identity {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** What a request does, as a SubjectAccessReview's resourceAttributes on vpanapcoordinations. */
export interface CoordinationAccess {
  verb: 'get' | 'list' | 'patch';
  /** '' or undefined: cluster-wide. */
  namespace?: string;
  name?: string;
}

export type Authentication = { ok: true; identity: Identity } | { ok: false; message: string };
export type Authorization = { allowed: true } | { allowed: false; reason: string };

/** The Kubernetes API could not answer a review (the caller gets 503, not 401/403). */
export class ReviewUnavailableError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'ReviewUnavailableError';
  }
}

export interface KubeReviewerOptions {
  kc: k8s.KubeConfig;
  /** Default 30 s. */
  tokenTtlMs?: number;
  /** Default 10 s. */
  accessTtlMs?: number;
  /** Default 1000 each. */
  maxEntries?: number;
  now?: () => number;
}

function describeApiError(what: string, e: unknown): string {
  if (e instanceof k8s.ApiException) {
    const code = e.code as number;
    if (code === 401 || code === 403)
      return `${what}: the orchestrator's identity was refused by the Kubernetes API (HTTP ${code}; it needs RBAC create on ${what.toLowerCase()}s)`;
    return `${what}: the Kubernetes API answered HTTP ${code}`;
  }
  return `${what}: the Kubernetes API did not answer (${e instanceof Error ? e.message : String(e)})`;
}

/** Authentication by TokenReview and authorisation by SubjectAccessReview, cached. */
export class KubeReviewer {
  private readonly authn: k8s.AuthenticationV1Api;
  private readonly authz: k8s.AuthorizationV1Api;
  private readonly tokens: TtlCache<Identity>;
  private readonly access: TtlCache<Authorization>;
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(o: KubeReviewerOptions) {
    this.authn = o.kc.makeApiClient(k8s.AuthenticationV1Api);
    this.authz = o.kc.makeApiClient(k8s.AuthorizationV1Api);
    const max = o.maxEntries ?? 1000;
    this.tokens = new TtlCache(o.tokenTtlMs ?? 30_000, max, o.now);
    this.access = new TtlCache(o.accessTtlMs ?? 10_000, max, o.now);
  }

  /** One review per key at a time: concurrent callers share the answer. */
  private once<T>(key: string, run: () => Promise<T>): Promise<T> {
    const pending = this.inflight.get(key) as Promise<T> | undefined;
    if (pending) return pending;
    const p = run().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  async authenticate(token: string): Promise<Authentication> {
    const key = tokenKey(token);
    const cached = this.tokens.get(key);
    if (cached) return { ok: true, identity: cached };
    return this.once(`token:${key}`, async () => {
      let review: k8s.V1TokenReview;
      try {
        review = await this.authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
      } catch (e) {
        throw new ReviewUnavailableError(describeApiError('TokenReview', e), { cause: e });
      }
      const s = review.status;
      if (!s?.authenticated || !s.user?.username) return { ok: false, message: 'the token is not valid (TokenReview did not authenticate it)' };
      const identity: Identity = {
        username: s.user.username,
        ...(s.user.uid ? { uid: s.user.uid } : {}),
        ...(s.user.groups?.length ? { groups: s.user.groups } : {}),
        ...(s.user.extra && Object.keys(s.user.extra).length ? { extra: s.user.extra } : {}),
      };
      this.tokens.set(key, identity);
      return { ok: true, identity };
    });
  }

  async authorize(identity: Identity, access: CoordinationAccess): Promise<Authorization> {
    const resourceAttributes: k8s.V1ResourceAttributes = {
      group: PLATFORM_GROUP,
      resource: COORDINATION_PLURAL,
      verb: access.verb,
      ...(access.namespace ? { namespace: access.namespace } : {}),
      ...(access.name ? { name: access.name } : {}),
    };
    const key = crypto
      .createHash('sha256')
      .update(
        JSON.stringify([
          identity.username,
          identity.uid ?? '',
          [...(identity.groups ?? [])].sort(),
          Object.entries(identity.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
          resourceAttributes.verb,
          resourceAttributes.namespace ?? '',
          resourceAttributes.name ?? '',
        ]),
      )
      .digest('hex');
    const cached = this.access.get(key);
    if (cached) return cached;
    return this.once(`access:${key}`, async () => {
      let review: k8s.V1SubjectAccessReview;
      try {
        review = await this.authz.createSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: identity.username,
              ...(identity.uid ? { uid: identity.uid } : {}),
              ...(identity.groups ? { groups: identity.groups } : {}),
              ...(identity.extra ? { extra: identity.extra } : {}),
              resourceAttributes,
            },
          },
        });
      } catch (e) {
        throw new ReviewUnavailableError(describeApiError('SubjectAccessReview', e), { cause: e });
      }
      const s = review.status;
      const answer: Authorization = s?.allowed
        ? { allowed: true }
        : { allowed: false, reason: deniedReason(identity.username, resourceAttributes, s?.reason, s?.evaluationError) };
      this.access.set(key, answer);
      return answer;
    });
  }
}

function deniedReason(user: string, a: k8s.V1ResourceAttributes, reason?: string, evaluationError?: string): string {
  const what = `${a.verb} ${a.resource}.${a.group}${a.name ? ` ${a.name}` : ''} ${a.namespace ? `in namespace ${a.namespace}` : 'cluster-wide'}`;
  const why = [reason, evaluationError].filter((x) => x).join('; ');
  return `${user} may not ${what}${why ? `: ${why}` : ''}`;
}
