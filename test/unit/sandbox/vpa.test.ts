/**
 * The sandbox's Kubernetes VPA flags and webhook registration: everything on loopback, the updater
 * checking the very Lease the admission controller renews, the webhook registered once (by the
 * sandbox, never by the binary), and the endpoints section matching its schema.
 */
import { expect } from 'chai';
import { EndpointsSchema, VpaEndpointSchema } from '../../../sandbox/endpoints';
import {
  admissionControllerArgs,
  recommenderArgs,
  updaterArgs,
  VPA_STATUS_LEASE,
  VPA_WEBHOOK_CONFIGURATION,
  VPA_WEBHOOK_NAME,
  webhookConfiguration,
  UPDATER_INTERVAL_SECONDS,
  RECOMMENDER_INTERVAL_SECONDS,
} from '../../../sandbox/vpa';

const ports = { recommenderMetrics: 41001, updaterMetrics: 41002, admissionMetrics: 41003, webhook: 41004 };
const pki = { ca: '/sb/pki/vpa-webhook-ca.crt', cert: '/sb/pki/vpa-webhook.crt', key: '/sb/pki/vpa-webhook.key' };

/** Go's flag package: `--name=value` (a bare boolean flag followed by a value would end the flags). */
function flags(args: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of args) {
    const match = /^--([a-z0-9-]+)=(.*)$/.exec(a);
    expect(match, `flag ${a}`).to.not.equal(null);
    expect(m.has(match![1]!), `flag ${a} given twice`).to.equal(false);
    m.set(match![1]!, match![2]!);
  }
  return m;
}

describe('sandbox VPA: component flags and webhook registration (sandbox/vpa.ts)', () => {
  const rec = flags(recommenderArgs('/sb/kubeconfig', ports));
  const upd = flags(updaterArgs('/sb/kubeconfig', ports));
  const adm = flags(admissionControllerArgs('/sb/kubeconfig', ports, pki));

  it('every component uses the admin kubeconfig and serves its metrics on its own loopback port', () => {
    for (const f of [rec, upd, adm]) expect(f.get('kubeconfig')).to.equal('/sb/kubeconfig');
    expect(rec.get('address')).to.equal('127.0.0.1:41001');
    expect(upd.get('address')).to.equal('127.0.0.1:41002');
    expect(adm.get('address')).to.equal('127.0.0.1:41003');
    expect(adm.get('port')).to.equal('41004');
  });

  it('short sandbox intervals, every pod tracked, single-replica workloads updatable', () => {
    expect(rec.get('recommender-interval')).to.equal(`${RECOMMENDER_INTERVAL_SECONDS}s`);
    expect(rec.get('memory-saver')).to.equal('false');
    expect(upd.get('updater-interval')).to.equal(`${UPDATER_INTERVAL_SECONDS}s`);
    expect(upd.get('min-replicas')).to.equal('1');
    // The updater skips its loop when the admission controller's Lease is older than 1 min (its default).
    expect(UPDATER_INTERVAL_SECONDS).to.be.below(60);
  });

  it('the updater checks the Lease the admission controller renews', () => {
    expect(upd.get('admission-controller-status-lease-namespace')).to.equal(adm.get('status-lease-namespace'));
    expect(upd.get('admission-controller-status-lease-name')).to.equal(adm.get('status-lease-name'));
    expect(`${adm.get('status-lease-namespace')}/${adm.get('status-lease-name')}`).to.equal(`${VPA_STATUS_LEASE.namespace}/${VPA_STATUS_LEASE.name}`);
  });

  it('the admission controller serves with the sandbox certificate and leaves the registration to the sandbox', () => {
    expect(adm.get('tls-cert-file')).to.equal(pki.cert);
    expect(adm.get('tls-private-key')).to.equal(pki.key);
    expect(adm.get('client-ca-file')).to.equal(pki.ca);
    // Self-registration would delete the sandbox's configuration and create one of its own.
    expect(adm.get('register-webhook')).to.equal('false');
  });

  it('the MutatingWebhookConfiguration: upstream names and rules, the loopback URL, the CA bundle, Ignore on failure', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const cfg = webhookConfiguration('https://127.0.0.1:41004/', pem) as {
      kind: string;
      metadata: { name: string };
      webhooks: {
        name: string;
        clientConfig: { url: string; caBundle: string; service?: unknown };
        rules: { operations: string[]; apiGroups: string[]; resources: string[] }[];
        failurePolicy: string;
        sideEffects: string;
        admissionReviewVersions: string[];
      }[];
    };
    expect(cfg.kind).to.equal('MutatingWebhookConfiguration');
    expect(cfg.metadata.name).to.equal(VPA_WEBHOOK_CONFIGURATION);
    expect(cfg.webhooks).to.have.length(1);
    const w = cfg.webhooks[0]!;
    expect(w.name).to.equal(VPA_WEBHOOK_NAME);
    expect(w.clientConfig.url).to.equal('https://127.0.0.1:41004/');
    expect(w.clientConfig.service).to.equal(undefined);
    expect(Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8')).to.equal(pem);
    expect(w.failurePolicy).to.equal('Ignore');
    expect(w.sideEffects).to.equal('None');
    expect(w.admissionReviewVersions).to.deep.equal(['v1']);
    const pods = w.rules.find((r) => r.resources.includes('pods'));
    expect(pods).to.deep.include({ operations: ['CREATE'], apiGroups: [''] });
    const vpas = w.rules.find((r) => r.resources.includes('verticalpodautoscalers'));
    expect(vpas).to.deep.include({ operations: ['CREATE', 'UPDATE'], apiGroups: ['autoscaling.k8s.io'] });
  });

  it('the endpoints section parses, and endpoints.json keeps it', () => {
    const vpa = {
      version: '1.8.1',
      crds: '/cache/vpa-v1.8.1/deploy/vpa-v1-crd-gen.yaml',
      recommender: { metrics: 'http://127.0.0.1:41001/metrics', intervalSeconds: 10, pid: 10, log: '/sb/logs/vpa-recommender.log' },
      updater: { metrics: 'http://127.0.0.1:41002/metrics', intervalSeconds: 10, minReplicas: 1, pid: 11, log: '/sb/logs/vpa-updater.log' },
      admissionController: {
        webhook: 'https://127.0.0.1:41004/',
        webhookConfiguration: VPA_WEBHOOK_CONFIGURATION,
        caFile: pki.ca,
        statusLease: 'kube-system/vpa-admission-controller',
        metrics: 'http://127.0.0.1:41003/metrics',
        pid: 12,
        log: '/sb/logs/vpa-admission-controller.log',
      },
    };
    expect(VpaEndpointSchema.parse(vpa)).to.deep.equal(vpa);
    const e = EndpointsSchema.parse({
      kubeconfig: '/sb/kubeconfig',
      kubectl: '/bin/kubectl',
      apiserver: 'https://127.0.0.1:6443',
      temporal: { address: '127.0.0.1:7233', namespace: 'default', ui: null, cli: '/bin/temporal' },
      vpa,
      pids: { sandbox: 1 },
      logs: '/sb/logs',
      startedAt: '2026-12-02T00:00:00.000Z',
    });
    expect(e.vpa).to.deep.equal(vpa);
    expect(() => VpaEndpointSchema.parse({ ...vpa, updater: { ...vpa.updater, minReplicas: undefined } })).to.throw();
  });
});
