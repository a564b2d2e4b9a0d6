import type { Clock } from './clock';
import { credentialsFingerprint, type CredentialsSource, type VPSieCredentials } from './credentials';
import type { LoginResponse } from './schemas';

export interface IssuedToken {
  token: string;
  /** Epoch ms; Infinity for a ready token whose expiry is unknown. */
  expiresAt: number;
}

/** Performs the login exchange for client credentials (provided by the transport). */
export type LoginFn = (creds: { clientId: string; clientSecret: string }) => Promise<LoginResponse>;

/** Parses VPSie's `expires` (ISO date, epoch seconds or epoch ms); unknown → `now + 1 h`. */
export function parseExpiry(expires: string, nowMs: number): number {
  const v = expires.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    return n < 1e12 ? n * 1000 : n;
  }
  const t = Date.parse(v);
  return Number.isNaN(t) ? nowMs + 3_600_000 : t;
}

/**
 * Holds the access token. Logs in with client credentials when there is no token, when the
 * token is within `refreshBeforeMs` of expiry (capped at half its lifetime), when the credentials
 * changed (rotation), or after a 401 (`invalidate`). Concurrent callers share one login.
 * VPSie documents no refresh-token exchange, so refreshing is a new login.
 */
export class TokenManager {
  private current: (IssuedToken & { fingerprint: string; refreshAt: number }) | undefined;
  private inflight: Promise<string> | undefined;
  logins = 0;

  constructor(
    private readonly source: CredentialsSource,
    private readonly login: LoginFn,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly refreshBeforeMs = 5 * 60_000,
  ) {}

  async token(): Promise<string> {
    const creds = await this.source();
    const fp = credentialsFingerprint(creds);
    if (creds.kind === 'token') {
      this.current = { token: creds.accessToken, expiresAt: Infinity, refreshAt: Infinity, fingerprint: fp };
      return creds.accessToken;
    }
    const cur = this.current;
    if (cur && cur.fingerprint === fp && this.clock.now() < cur.refreshAt) return cur.token;
    return (this.inflight ??= this.doLogin(creds, fp).finally(() => {
      this.inflight = undefined;
    }));
  }

  /** Forgets `token` (after a 401) so the next `token()` logs in again. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private async doLogin(creds: Extract<VPSieCredentials, { kind: 'client' }>, fp: string): Promise<string> {
    const issuedAt = this.clock.now();
    const res = await this.login({ clientId: creds.clientId, clientSecret: creds.clientSecret });
    this.logins += 1;
    const expiresAt = parseExpiry(res.access.expires, issuedAt);
    const lifetime = Math.max(0, expiresAt - issuedAt);
    const refreshAt = expiresAt - Math.min(this.refreshBeforeMs, lifetime / 2);
    this.current = { token: res.access.token, expiresAt, refreshAt, fingerprint: fp };
    return res.access.token;
  }
}
