/**
 * How the orchestrator reaches Temporal for real: address and namespace, TLS with an optional
 * client certificate (mTLS) and CA, or a Temporal Cloud API key — all from files (a mounted
 * Secret), validated at start with the variable named. The API key file is re-read every minute,
 * so a rotated Secret reaches running connections; certificates are read at start.
 */
import fs from 'node:fs';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import { ConfigError, type Config } from './config';

export type TemporalAuthConfig = Pick<
  Config,
  'TEMPORAL_TLS' | 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_CA' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY_FILE'
>;

export interface TemporalConnectionSettings {
  address: string;
  tls?: NonNullable<ConnectionOptions['tls']>;
  /** The API key file's contents now (undefined: no key). */
  apiKey?: () => string;
}

function readFile(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${variable}: cannot read ${file} (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Builds the connection settings; a half-given pair or an unreadable file is a ConfigError naming the variable. */
export function temporalConnectionSettings(address: string, c: TemporalAuthConfig): TemporalConnectionSettings {
  if ((c.TEMPORAL_TLS_CERT === undefined) !== (c.TEMPORAL_TLS_KEY === undefined))
    throw new ConfigError(
      `invalid configuration: ${c.TEMPORAL_TLS_CERT === undefined ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY'}: the client certificate and key come together`,
    );
  const wantsTls = c.TEMPORAL_TLS ?? (c.TEMPORAL_TLS_CERT !== undefined || c.TEMPORAL_TLS_CA !== undefined || c.TEMPORAL_API_KEY_FILE !== undefined);
  if (!wantsTls && c.TEMPORAL_TLS === false && (c.TEMPORAL_TLS_CERT || c.TEMPORAL_TLS_CA))
    throw new ConfigError('invalid configuration: TEMPORAL_TLS: false, but TEMPORAL_TLS_CERT or TEMPORAL_TLS_CA is set');
  const settings: TemporalConnectionSettings = { address };
  if (wantsTls)
    settings.tls = {
      ...(c.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: c.TEMPORAL_TLS_SERVER_NAME } : {}),
      ...(c.TEMPORAL_TLS_CA ? { serverRootCACertificate: readFile('TEMPORAL_TLS_CA', c.TEMPORAL_TLS_CA) } : {}),
      ...(c.TEMPORAL_TLS_CERT && c.TEMPORAL_TLS_KEY
        ? { clientCertPair: { crt: readFile('TEMPORAL_TLS_CERT', c.TEMPORAL_TLS_CERT), key: readFile('TEMPORAL_TLS_KEY', c.TEMPORAL_TLS_KEY) } }
        : {}),
    };
  const keyFile = c.TEMPORAL_API_KEY_FILE;
  if (keyFile) {
    const first = readFile('TEMPORAL_API_KEY_FILE', keyFile).toString('utf8').trim();
    if (first === '') throw new ConfigError(`invalid configuration: TEMPORAL_API_KEY_FILE: ${keyFile} is empty`);
    let key = first;
    let readAt = Date.now();
    settings.apiKey = () => {
      if (Date.now() - readAt > 60_000) {
        readAt = Date.now();
        try {
          const next = fs.readFileSync(keyFile, 'utf8').trim();
          if (next !== '') key = next;
        } catch {
          // a Secret being re-mounted: the last key goes on
        }
      }
      return key;
    };
  }
  return settings;
}

/** Options of the client Connection (workflow starts, signals, queries). */
export function clientConnectionOptions(s: TemporalConnectionSettings): ConnectionOptions {
  return { address: s.address, ...(s.tls ? { tls: s.tls } : {}), ...(s.apiKey ? { apiKey: s.apiKey } : {}) };
}

/** Options of the worker's NativeConnection (its API key is a string: `keepApiKeyFresh` renews it). */
export function nativeConnectionOptions(s: TemporalConnectionSettings): NativeConnectionOptions {
  return { address: s.address, ...(s.tls ? { tls: s.tls } : {}), ...(s.apiKey ? { apiKey: s.apiKey() } : {}) };
}

/** Pushes a rotated API key to a NativeConnection every minute; returns the stop. */
export function keepApiKeyFresh(connection: NativeConnection, s: TemporalConnectionSettings): () => void {
  const read = s.apiKey;
  if (!read) return () => undefined;
  let last = read();
  const timer = setInterval(() => {
    const next = read();
    if (next !== last) {
      last = next;
      void connection.setApiKey(next).catch(() => undefined);
    }
  }, 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
