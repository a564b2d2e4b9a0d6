/**
 * Certificates for the apiserver's aggregation layer, made with the openssl CLI in the sandbox's
 * pki directory:
 *
 *   front-proxy-ca.{crt,key}        the CA the apiserver trusts for proxied request headers
 *                                   (`--requestheader-client-ca-file`), and that aggregated
 *                                   servers read from the extension-apiserver-authentication
 *                                   ConfigMap
 *   front-proxy-client.{crt,key}    the client certificate the apiserver presents when it proxies
 *                                   to an aggregated server (`--proxy-client-*`)
 *   serving-ca.{crt,key}            a CA for the sandbox's aggregated servers' serving certs
 *                                   (the APIService's caBundle)
 *   metrics-server.{crt,key}        metrics-server's serving certificate, valid for the name the
 *                                   aggregator dials (`metrics-server.kube-system.svc`) and 127.0.0.1
 *
 * and, for a webhook the apiserver calls by URL on loopback (`createLoopbackServingPki`):
 *
 *   <name>-ca.{crt,key}             its own CA (the webhook configuration's caBundle)
 *   <name>.{crt,key}                its serving certificate, valid for 127.0.0.1 only
 *
 * Everything is regenerated with every sandbox: nothing here is a secret worth keeping.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SandboxError } from './process';

export interface AggregationPki {
  frontProxyCa: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  servingCa: string;
  metricsServerCert: string;
  metricsServerKey: string;
  /** The flags that turn on the apiserver's aggregation layer with these certificates. */
  apiserverFlags: string[];
}

/** The common name the apiserver's proxy client certificate carries (`--requestheader-allowed-names`). */
export const FRONT_PROXY_CLIENT_CN = 'front-proxy-client';
/** Where the aggregator sends metrics.k8s.io requests: the Service `kube-system/metrics-server`. */
export const METRICS_SERVER_SERVICE = { namespace: 'kube-system', name: 'metrics-server' } as const;

function openssl(args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `\n$ openssl ${args.join(' ')}\n`);
    const child = spawn('openssl', args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.once('error', (err) =>
      reject(new SandboxError(`pki: cannot run openssl (${err.message}); it is needed for the aggregation layer's certificates (log: ${logFile})`)),
    );
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new SandboxError(`pki: openssl ${args[0]} exited (${code ?? signal}) (log: ${logFile})`));
    });
  });
}

async function makeCa(pki: string, name: string, cn: string, logFile: string): Promise<{ crt: string; key: string }> {
  const crt = path.join(pki, `${name}.crt`);
  const key = path.join(pki, `${name}.key`);
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '30',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    logFile,
  );
  return { crt, key };
}

async function makeLeaf(
  pki: string,
  name: string,
  ca: { crt: string; key: string },
  opts: { cn: string; usage: 'clientAuth' | 'serverAuth'; san?: string },
  logFile: string,
): Promise<{ crt: string; key: string }> {
  const crt = path.join(pki, `${name}.crt`);
  const key = path.join(pki, `${name}.key`);
  const csr = path.join(pki, `${name}.csr`);
  const ext = path.join(pki, `${name}.ext`);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${opts.cn}`], logFile);
  fs.writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${opts.usage}`,
      ...(opts.san ? [`subjectAltName=${opts.san}`] : []),
    ].join('\n') + '\n',
  );
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-out', crt, '-days', '30', '-extfile', ext], logFile);
  fs.rmSync(csr, { force: true });
  fs.rmSync(ext, { force: true });
  fs.chmodSync(key, 0o600);
  return { crt, key };
}

/** Makes the aggregation layer's certificates in `pki` (an existing directory). */
export async function createAggregationPki(pki: string, logDir: string): Promise<AggregationPki> {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'pki.log');
  const svcName = `${METRICS_SERVER_SERVICE.name}.${METRICS_SERVER_SERVICE.namespace}.svc`;
  // The two chains are independent: make them side by side.
  const [[frontCa, frontClient], [servingCa, ms]] = await Promise.all([
    (async () => {
      const ca = await makeCa(pki, 'front-proxy-ca', 'sandbox-front-proxy-ca', logFile);
      return [ca, await makeLeaf(pki, 'front-proxy-client', ca, { cn: FRONT_PROXY_CLIENT_CN, usage: 'clientAuth' }, logFile)] as const;
    })(),
    (async () => {
      const ca = await makeCa(pki, 'serving-ca', 'sandbox-serving-ca', logFile);
      const san = `DNS:${svcName},DNS:${METRICS_SERVER_SERVICE.name}.${METRICS_SERVER_SERVICE.namespace},IP:127.0.0.1`;
      return [ca, await makeLeaf(pki, 'metrics-server', ca, { cn: svcName, usage: 'serverAuth', san }, logFile)] as const;
    })(),
  ]);
  return {
    frontProxyCa: frontCa.crt,
    frontProxyClientCert: frontClient.crt,
    frontProxyClientKey: frontClient.key,
    servingCa: servingCa.crt,
    metricsServerCert: ms.crt,
    metricsServerKey: ms.key,
    apiserverFlags: [
      `--requestheader-client-ca-file=${frontCa.crt}`,
      `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${frontClient.crt}`,
      `--proxy-client-key-file=${frontClient.key}`,
    ],
  };
}

/** A CA of its own and a serving certificate for 127.0.0.1 signed by it, in `pki` (an existing directory). */
export async function createLoopbackServingPki(pki: string, name: string, logDir: string): Promise<{ ca: string; cert: string; key: string }> {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'pki.log');
  const ca = await makeCa(pki, `${name}-ca`, `sandbox-${name}-ca`, logFile);
  const leaf = await makeLeaf(pki, name, ca, { cn: '127.0.0.1', usage: 'serverAuth', san: 'IP:127.0.0.1' }, logFile);
  return { ca: ca.crt, cert: leaf.crt, key: leaf.key };
}
