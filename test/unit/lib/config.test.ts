import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../../lib/config';

describe('Configuration: garbage-collection ownership settings (#12)', () => {
  it('CLUSTER_ID defaults to empty (the kube-system namespace uid is used) and GC_MAX_DELETE_PERCENT to 10', () => {
    const c = loadConfig({});
    expect(c.CLUSTER_ID).to.equal('');
    expect(c.GC_MAX_DELETE_PERCENT).to.equal(10);
  });

  it('CLUSTER_ID must be one notes token: a value with a space or "=" fails at start, naming the variable', () => {
    expect(loadConfig({ CLUSTER_ID: 'prod-eu.1' }).CLUSTER_ID).to.equal('prod-eu.1');
    expect(() => loadConfig({ CLUSTER_ID: 'prod eu' })).to.throw(ConfigError, /CLUSTER_ID/);
    expect(() => loadConfig({ CLUSTER_ID: 'a=b' })).to.throw(ConfigError, /CLUSTER_ID/);
  });

  it('GC_MAX_DELETE_PERCENT is a whole percentage from 1 to 100', () => {
    expect(loadConfig({ GC_MAX_DELETE_PERCENT: '25' }).GC_MAX_DELETE_PERCENT).to.equal(25);
    expect(() => loadConfig({ GC_MAX_DELETE_PERCENT: '0' })).to.throw(ConfigError, /GC_MAX_DELETE_PERCENT/);
    expect(() => loadConfig({ GC_MAX_DELETE_PERCENT: '101' })).to.throw(ConfigError, /GC_MAX_DELETE_PERCENT/);
  });
});
