import { expect } from 'chai';
import fc from 'fast-check';

import { parseBytes, parseCpuMilli, parseQuantity, QuantityParseError } from '../../../../decision/scheduling/quantity';

describe('scheduling/quantity', () => {
  const cpu: [string | number, number][] = [
    ['100m', 100],
    ['1', 1000],
    ['1.5', 1500],
    ['0.1', 100],
    ['.5', 500],
    ['2.', 2000],
    ['250m', 250],
    ['1500m', 1500],
    ['0.0001', 1], // rounded up, like MilliValue()
    ['1e3', 1_000_000],
    ['1E-3', 1],
    ['100000000n', 100],
    ['500000u', 500],
    ['1k', 1_000_000],
    ['+2', 2000],
    [2, 2000],
    [0.25, 250],
  ];
  for (const [input, expected] of cpu) {
    it(`cpu ${JSON.stringify(input)} -> ${expected}m`, () => {
      expect(parseCpuMilli(input)).to.equal(expected);
    });
  }

  const bytes: [string | number, number][] = [
    ['512Mi', 512 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['1G', 1e9],
    ['1e3', 1000],
    ['128974848', 128974848],
    ['129e6', 129_000_000],
    ['123Mi', 123 * 1024 ** 2],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['1Ki', 1024],
    ['1k', 1000],
    ['2Ti', 2 * 1024 ** 4],
    ['1M', 1_000_000],
    ['0.5', 1], // rounded up
    ['100m', 1], // 0.1 byte rounds up to 1
    [1024, 1024],
  ];
  for (const [input, expected] of bytes) {
    it(`bytes ${JSON.stringify(input)} -> ${expected}`, () => {
      expect(parseBytes(input)).to.equal(expected);
    });
  }

  for (const bad of ['', 'abc', '1.2.3', '1Mb', 'Mi', '1 Gi', '--1', '1e', '1ee3', '0x10', 'NaN']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => parseQuantity(bad)).to.throw(QuantityParseError);
    });
  }

  it('is exact: integer millicores round-trip through "<n>m"', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), (n) => parseCpuMilli(`${n}m`) === n));
  });

  it('is exact: decimal cpu with up to 3 fraction digits equals the milli value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 999 }), (i, f) => {
        const text = `${i}.${String(f).padStart(3, '0')}`;
        return parseCpuMilli(text) === i * 1000 + f;
      }),
    );
  });

  it('binary suffixes scale by powers of 1024', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4096 }), (n) => {
        return parseBytes(`${n}Ki`) === n * 1024 && parseBytes(`${n}Mi`) === n * 1024 ** 2;
      }),
    );
  });
});
