import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../../lib/config';
import { clientConnectionOptions, nativeConnectionOptions, temporalConnectionSettings } from '../../../lib/temporal-connection';

describe('Temporal connection settings (TLS, mTLS, API key)', () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-conn-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('nothing set: plain, no key', () => {
    const s = temporalConnectionSettings('t:7233', loadConfig({}));
    expect(clientConnectionOptions(s)).to.deep.equal({ address: 't:7233' });
    expect(nativeConnectionOptions(s)).to.deep.equal({ address: 't:7233' });
  });

  it('a client certificate and key (and CA, server name) give mTLS with their contents', () => {
    const c = loadConfig({
      TEMPORAL_TLS_CERT: file('c.crt', 'CERT'),
      TEMPORAL_TLS_KEY: file('c.key', 'KEY'),
      TEMPORAL_TLS_CA: file('ca.crt', 'CA'),
      TEMPORAL_TLS_SERVER_NAME: 'frontend.example',
    });
    const tls = clientConnectionOptions(temporalConnectionSettings('t:7233', c)).tls as {
      clientCertPair: { crt: Buffer; key: Buffer };
      serverRootCACertificate: Buffer;
    };
    expect(tls.clientCertPair.crt.toString()).to.equal('CERT');
    expect(tls.clientCertPair.key.toString()).to.equal('KEY');
    expect(tls.serverRootCACertificate.toString()).to.equal('CA');
    expect(tls).to.include({ serverNameOverride: 'frontend.example' });
  });

  it('an API key file turns TLS on (Temporal Cloud) and is read trimmed; the worker gets it as a string', () => {
    const s = temporalConnectionSettings('ns.tmprl.cloud:7233', loadConfig({ TEMPORAL_API_KEY_FILE: file('key', 'secret-key\n') }));
    expect(s.tls).to.deep.equal({});
    expect(s.apiKey?.()).to.equal('secret-key');
    expect(nativeConnectionOptions(s)).to.deep.include({ apiKey: 'secret-key' });
  });

  it('a certificate without its key, an unreadable file, an empty key, or TLS off with certificates are ConfigErrors naming the variable', () => {
    expect(() => temporalConnectionSettings('t:1', loadConfig({ TEMPORAL_TLS_CERT: file('c', 'x') }))).to.throw(ConfigError, /TEMPORAL_TLS_KEY/);
    expect(() => temporalConnectionSettings('t:1', loadConfig({ TEMPORAL_TLS_CA: path.join(dir, 'missing') }))).to.throw(ConfigError, /TEMPORAL_TLS_CA/);
    expect(() => temporalConnectionSettings('t:1', loadConfig({ TEMPORAL_API_KEY_FILE: file('k', '  \n') }))).to.throw(ConfigError, /TEMPORAL_API_KEY_FILE/);
    expect(() => temporalConnectionSettings('t:1', loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: file('ca', 'x') }))).to.throw(
      ConfigError,
      /TEMPORAL_TLS/,
    );
  });

  it('TEMPORAL_TLS=true alone is TLS with the system roots', () => {
    expect(temporalConnectionSettings('t:1', loadConfig({ TEMPORAL_TLS: 'true' })).tls).to.deep.equal({});
  });
});
