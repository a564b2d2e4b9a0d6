/**
 * Every request of an orchestrator part names the part in its User-Agent: API clients made from
 * its KubeConfig and its watches alike, through the real client library against a local HTTP
 * server that records what it was sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { identifyClient, USER_AGENT_PRODUCT, userAgentOf } from '../../../../lib/kube/api';

describe('User-Agent of the orchestrator parts (lib/kube/api.ts identifyClient)', function () {
  let server: http.Server;
  const seen: { path: string; userAgent: string | undefined; authorization: string | undefined }[] = [];
  let url: string;

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ path: req.url ?? '', userAgent: req.headers['user-agent'], authorization: req.headers.authorization });
      res.setHeader('Content-Type', 'application/json');
      if ((req.url ?? '').includes('watch=true')) {
        res.end(`${JSON.stringify({ type: 'ADDED', object: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', resourceVersion: '2' } } })}\n`);
        return;
      }
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NodeList', metadata: { resourceVersion: '1' }, items: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => seen.splice(0));

  function kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  }

  it("an API client's requests carry the product, its version and the part, with the user's credentials", async () => {
    const kc = identifyClient(kubeConfig(), 'worker');
    await kc.makeApiClient(k8s.CoreV1Api).listNode();
    expect(seen).to.have.length(1);
    expect(seen[0]!.userAgent).to.equal(`${USER_AGENT_PRODUCT} (worker)`);
    expect(USER_AGENT_PRODUCT).to.match(/^vpsie-capacity-orchestrator\/\d+\.\d+\.\d+/);
    expect(seen[0]!.authorization).to.equal('Bearer secret-token');
  });

  it('a watch carries it too', async () => {
    const kc = identifyClient(kubeConfig(), 'watchers');
    await new Promise<void>((resolve, reject) => {
      void new k8s.Watch(kc)
        .watch(
          '/api/v1/nodes',
          {},
          () => undefined,
          (err) => (err ? reject(err) : resolve()),
        )
        .catch(reject);
    });
    expect(seen.map((s) => s.userAgent)).to.deep.equal([`${USER_AGENT_PRODUCT} (watchers)`]);
  });

  it('a KubeConfig shared by several parts names them all; one not identified keeps the library default', async () => {
    const kc = identifyClient(identifyClient(kubeConfig(), 'worker'), 'watchers');
    expect(userAgentOf(kc)).to.equal(`${USER_AGENT_PRODUCT} (worker,watchers)`);
    await kc.makeApiClient(k8s.CoreV1Api).listNode();
    await kubeConfig().makeApiClient(k8s.CoreV1Api).listNode();
    expect(seen[0]!.userAgent).to.equal(`${USER_AGENT_PRODUCT} (worker,watchers)`);
    expect(seen[1]!.userAgent).to.match(/^kubernetes-client-javascript\//);
  });
});
