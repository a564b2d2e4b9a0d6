import { expect } from 'chai';
import { ApplicationFailure } from '@temporalio/common';
import { classifyMessage, toApplicationFailure, VPSieError } from '../../../../clients/vpsie/errors';
import { credentialsFingerprint, credentialsFromSecretData } from '../../../../clients/vpsie/credentials';
import { parseExpiry } from '../../../../clients/vpsie/auth';
import { hostnameForRequest, processIdForRequest, vmPhase } from '../../../../clients/vpsie/client';
import { z } from 'zod';
import { CreateVmRequestSchema, envelope, Flag01, FlexNumber, LoginResponseSchema, VmDataSchema } from '../../../../clients/vpsie/schemas';

describe('VPSie schemas', () => {
  it('FlexNumber accepts numbers and numeric strings, refuses others', () => {
    expect(FlexNumber.parse(5)).to.equal(5);
    expect(FlexNumber.parse('19.5')).to.equal(19.5);
    expect(FlexNumber.safeParse('abc').success).to.equal(false);
  });

  it('Flag01 normalises ints, strings and booleans to 0/1', () => {
    expect([1, '1', true, 'true', 0, '0', false].map((v) => Flag01.parse(v))).to.deep.equal([1, 1, 1, 1, 0, 0, 0]);
  });

  it('login answers in the govpsie and in the earlier autoscaler shape', () => {
    const a = LoginResponseSchema.parse({ error: false, token: { access: { token: 't', expires: 'x' }, refresh: { token: 'r', expires: 'y' } } });
    const b = LoginResponseSchema.parse({ accessToken: { token: 't', expires: 'x' }, refreshToken: { token: 'r', expires: 'y' } });
    expect(a).to.deep.equal(b);
    expect(LoginResponseSchema.safeParse({ error: false }).success).to.equal(false);
  });

  it('VmData accepts VPSie encodings (string numbers, 0/1 flags) and extra keys', () => {
    const vm = VmDataSchema.parse({ id: '12', identifier: 'u', hostname: 'h', ram: 4096, cpu: '2', ssd: 80, is_active: '1', power: 0, unknown_key: 1 });
    expect(vm).to.include({ id: 12, cpu: 2, is_active: 1, power: 0 });
    expect(vmPhase(vm)).to.equal('booting');
    expect(vmPhase({ ...vm, power: 1 })).to.equal('running');
    expect(vmPhase({ ...vm, is_deleted: 1 })).to.equal('deleted');
  });

  it('the envelope requires error:false and reads data and total', () => {
    const s = envelope(z.array(z.number()));
    expect(s.parse({ error: false, data: [1], total: '1' })).to.deep.equal({ error: false, data: [1], total: 1 });
    expect(s.safeParse({ error: true, data: [1] }).success).to.equal(false);
  });

  it('CreateServerRequest flags may be "0"/"1" strings or numbers', () => {
    const r = CreateVmRequestSchema.parse({
      resourceIdentifier: 'p',
      osIdentifier: 'o',
      dcIdentifier: 'd',
      hostname: 'a-b',
      addPublicIpV4: '1',
      addPrivateIp: 0,
    });
    expect(r).to.include({ addPublicIpV4: 1, addPrivateIp: 0 });
    expect(CreateVmRequestSchema.safeParse({ resourceIdentifier: 'p', osIdentifier: 'o', dcIdentifier: 'd', hostname: '-bad-' }).success).to.equal(false);
  });
});

describe('VPSie typed errors', () => {
  it('classifies VPSie messages; refusals that retrying cannot fix are terminal', () => {
    expect(classifyMessage('Group g1 has same selected Size, please select another size', undefined)).to.equal('same_size_group');
    expect(classifyMessage('Worker nodes count exceeds the allowed limit', undefined)).to.equal('worker_cap');
    expect(classifyMessage('Resource quota exceeded', 403)).to.equal('quota_exceeded');
    expect(classifyMessage('Please authenticate', 401)).to.equal('auth_failed');
    expect(classifyMessage('Not found', undefined)).to.equal('not_found');
    expect(classifyMessage('Internal server error', 500)).to.equal('server_error');
    expect(classifyMessage('Something went wrong', undefined)).to.equal('server_error');
    for (const type of ['same_size_group', 'worker_cap', 'quota_exceeded', 'auth_failed', 'bad_request'] as const) {
      expect(new VPSieError({ type, operation: 'x', message: 'm' }).retryable, type).to.equal(false);
    }
    for (const type of ['server_error', 'network', 'timeout', 'rate_limited', 'circuit_open', 'invalid_response', 'not_settled'] as const) {
      expect(new VPSieError({ type, operation: 'x', message: 'm' }).retryable, type).to.equal(true);
    }
  });

  it('converts to a Temporal ApplicationFailure: non-retryable for terminal types', () => {
    const terminal = toApplicationFailure(
      new VPSieError({ type: 'worker_cap', operation: 'k8s.group.addWorker', message: 'Worker nodes count exceeds the allowed limit' }),
    );
    expect(terminal).to.be.instanceOf(ApplicationFailure);
    expect(terminal.nonRetryable).to.equal(true);
    expect(terminal.type).to.equal('VpsieError.worker_cap');
    const transient = toApplicationFailure(new VPSieError({ type: 'rate_limited', operation: 'vm.list', message: '429', retryAfterMs: 5000 }));
    expect(transient.nonRetryable).to.equal(false);
    expect(transient.nextRetryDelay).to.equal(5000);
    expect(toApplicationFailure(new Error('boom')).type).to.equal('VpsieError.unknown');
  });
});

describe('VPSie credentials and tokens', () => {
  it('reads clientId/clientSecret or a ready token from Secret data; errors never hold values', () => {
    expect(credentialsFromSecretData({ clientId: ' id ', clientSecret: 's\n' }, 'Secret x')).to.deep.equal({
      kind: 'client',
      clientId: 'id',
      clientSecret: 's',
    });
    expect(credentialsFromSecretData({ accessToken: 'tok' }, 'Secret x')).to.deep.equal({ kind: 'token', accessToken: 'tok' });
    expect(() => credentialsFromSecretData({ clientId: 'only-id' }, 'Secret x'))
      .to.throw(VPSieError)
      .with.property('message')
      .that.does.not.include('only-id');
  });

  it('fingerprints change with rotation and do not reveal the secret', () => {
    const a = credentialsFingerprint({ kind: 'client', clientId: 'id', clientSecret: 'one' });
    const b = credentialsFingerprint({ kind: 'client', clientId: 'id', clientSecret: 'two' });
    expect(a).to.not.equal(b);
    expect(a).to.not.include('one');
  });

  it('parses token expiry as ISO date, epoch seconds or epoch ms', () => {
    expect(parseExpiry('2026-01-01T00:00:00Z', 0)).to.equal(Date.parse('2026-01-01T00:00:00Z'));
    expect(parseExpiry('1767225600', 0)).to.equal(1767225600_000);
    expect(parseExpiry('1767225600000', 0)).to.equal(1767225600_000);
    expect(parseExpiry('garbage', 5)).to.equal(3_600_005);
  });

  it('derives stable hostnames and process ids from request ids', () => {
    expect(hostnameForRequest('Pool A', 'r1')).to.equal(hostnameForRequest('Pool A', 'r1'));
    expect(hostnameForRequest('Pool A', 'r1')).to.match(/^pool-a-[0-9a-f]{12}$/);
    expect(hostnameForRequest('p', 'r1')).to.not.equal(hostnameForRequest('p', 'r2'));
    expect(processIdForRequest('r1')).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
