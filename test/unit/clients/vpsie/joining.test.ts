import { expect } from 'chai';
import { parse } from 'yaml';
import { renderBootstrapCloudConfig, renderBootstrapUserData } from '../../../../clients/vpsie/bootstrap';
import { buildNode, nodeNameFor, parseJoinUserData } from '../../../../sandbox/vpsie-sim/node';

const JOIN = {
  apiServer: 'https://10.0.0.1:6443',
  bootstrapToken: 'abcdef.0123456789abcdef',
  caCertHashes: ['sha256:00ff'],
  nodeGroup: 'general-purpose',
  nodeLabels: { nodegroup: 'general-purpose' },
  taints: [
    { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' as const },
    { key: 'spot', effect: 'PreferNoSchedule' as const },
  ],
};

describe('bootstrap template', () => {
  it('renders #cloud-config with the join configuration and kubelet flags', () => {
    const text = renderBootstrapCloudConfig(JOIN);
    expect(text.startsWith('#cloud-config\n')).to.equal(true);
    const doc = parse(text) as { write_files: { path: string; content: string }[]; runcmd: unknown[] };
    const join = JSON.parse(doc.write_files.find((f) => f.path === '/etc/vpsie-orchestrator/join.json')!.content) as Record<string, unknown>;
    expect(join).to.include({ apiVersion: 'orchestrator.vpsie.com/v1', kind: 'JoinConfiguration', nodeGroup: 'general-purpose' });
    const kubelet = doc.write_files.find((f) => f.path === '/etc/default/kubelet')!.content;
    expect(kubelet).to.include('--node-labels=nodegroup=general-purpose');
    expect(kubelet).to.include('--register-with-taints=dedicated=gpu:NoSchedule,spot:PreferNoSchedule');
    expect(doc.runcmd).to.have.length(1);
  });

  it('round-trips: the simulator reads back what the template wrote', () => {
    const parsed = parseJoinUserData(renderBootstrapUserData(JOIN));
    expect(parsed.ok).to.equal(true);
    if (!parsed.ok) return;
    expect(parsed.config.nodeLabels).to.deep.equal(JOIN.nodeLabels);
    expect(parsed.config.taints).to.deep.equal(JOIN.taints);
  });

  it('refuses an invalid bootstrap token at render time', () => {
    expect(() => renderBootstrapUserData({ ...JOIN, bootstrapToken: 'nope' })).to.throw();
  });

  it('user data without a join configuration never joins', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(parseJoinUserData(undefined)).to.deep.equal({ ok: false, reason: 'no user data' });
    expect(parseJoinUserData('%%%').ok).to.equal(false);
    expect(parseJoinUserData(b64('#!/bin/sh\necho hi')).ok).to.equal(false);
    expect(parseJoinUserData(b64('#cloud-config\npackages: [htop]\n')).ok).to.equal(false);
    expect(parseJoinUserData(b64('#cloud-config\nwrite_files:\n  - path: /etc/vpsie-orchestrator/join.json\n    content: "{bad"\n')).ok).to.equal(false);
    const encoded = `#cloud-config\nwrite_files:\n  - path: /etc/vpsie-orchestrator/join.json\n    encoding: b64\n    content: ${b64(JSON.stringify({ apiVersion: 'orchestrator.vpsie.com/v1', kind: 'JoinConfiguration', ...JOIN }))}\n`;
    expect(parseJoinUserData(b64(encoded)).ok).to.equal(true);
  });
});

describe('the Node a booted machine registers', () => {
  const node = buildNode({
    hostname: 'useast1-kubernetes-abcd-slave-01',
    identifier: '55f06b85-c9ee-11e3-9845-005056aa8af7',
    cpu: 2,
    ramMb: 4096,
    ssdGb: 80,
    privateIp: '10.10.1.2',
    publicIp: '203.0.1.2',
    instanceType: 'small-2cpu-4gb',
    region: 'us-east-1',
    labels: { nodegroup: 'general-purpose' },
    taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
  });

  it('is named after the VPS hostname, with providerID vpsie://<identifier> and the kwok annotation', () => {
    expect(node.metadata?.name).to.equal('useast1-kubernetes-abcd-slave-01');
    expect(node.spec?.providerID).to.equal('vpsie://55f06b85-c9ee-11e3-9845-005056aa8af7');
    expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).to.equal('fake');
  });

  it('carries kubelet-style labels and taints', () => {
    expect(node.metadata?.labels).to.include({
      'kubernetes.io/hostname': 'useast1-kubernetes-abcd-slave-01',
      'node.kubernetes.io/instance-type': 'small-2cpu-4gb',
      'topology.kubernetes.io/region': 'us-east-1',
      nodegroup: 'general-purpose',
    });
    expect(node.spec?.taints).to.deep.equal([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]);
  });

  it('has the plan capacity, allocatable after kubelet eviction reserves, and addresses', () => {
    expect(node.status?.capacity).to.deep.equal({ cpu: '2', memory: '4194304Ki', pods: '110', 'ephemeral-storage': '83886080Ki' });
    expect(node.status?.allocatable).to.deep.equal({ cpu: '2', memory: '4091904Ki', pods: '110', 'ephemeral-storage': '75497472Ki' });
    expect(node.status?.addresses).to.deep.equal([
      { type: 'InternalIP', address: '10.10.1.2' },
      { type: 'ExternalIP', address: '203.0.1.2' },
      { type: 'Hostname', address: 'useast1-kubernetes-abcd-slave-01' },
    ]);
  });

  it('node names are valid DNS subdomains', () => {
    expect(nodeNameFor('My_Host.Example.')).to.equal('my-host.example');
  });
});
