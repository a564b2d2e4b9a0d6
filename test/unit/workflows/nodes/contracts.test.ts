import { expect } from 'chai';
import { scaleDownRequestSchema, scaleUpRequestSchema, validator } from '../../../../workflows/nodes/contracts';

const up = validator('nodeGroupScaleUp', scaleUpRequestSchema);
const down = validator('nodeGroupScaleDown', scaleDownRequestSchema);
const refusal = (f: () => void): string => {
  try {
    f();
  } catch (e) {
    return String(e);
  }
  return '';
};
const ask = (count: unknown): unknown => ({ requestId: 'r1', nodes: [{ offeringID: 'small-2cpu-4gb', count }], reason: 'PodsUnschedulable' });

describe('workflows/nodes/contracts: the NodeGroup update validators', () => {
  it('take a well-formed scale-up and scale-down request', () => {
    expect(() => up(ask(2))).to.not.throw();
    expect(() => up({ ...(ask(0) as object), podUidsByNode: [['u1']], pods: ['ns/p'], message: 'm' })).to.not.throw();
    expect(() => down({ requestId: 'r2', vpsieNodes: ['a', 'b'], reason: 'Underutilized', dryRun: true })).to.not.throw();
  });

  it('refuse a NaN count (sent as null), naming the field', () => {
    expect(refusal(() => up(JSON.parse(JSON.stringify(ask(Number.NaN)))))).to.equal(
      'TypeError: nodeGroupScaleUp: nodes[0].count: expected a non-negative integer, got null (a NaN is sent as null)',
    );
  });

  it('refuse negative, fractional and non-number counts, naming the field and the value', () => {
    expect(refusal(() => up(ask(-2)))).to.include('nodes[0].count: expected a non-negative integer, got -2');
    expect(refusal(() => up(ask(1.5)))).to.include('nodes[0].count: expected a non-negative integer, got 1.5');
    expect(refusal(() => up(ask('3')))).to.include('nodes[0].count: expected a non-negative integer, got "3"');
  });

  it('refuse missing ids and wrong shapes, every bad field named', () => {
    const m = refusal(() => down({ vpsieNodes: 'vn-1', reason: '' }));
    expect(m).to.include('requestId:');
    expect(m).to.include('vpsieNodes:');
    expect(m).to.include('reason: expected a non-empty string');
    expect(refusal(() => up({ requestId: 'r', nodes: [{ count: 1 }], reason: 'x' }))).to.include('nodes[0].offeringID:');
  });
});
