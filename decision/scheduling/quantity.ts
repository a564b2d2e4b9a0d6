/**
 * Kubernetes resource.Quantity parsing, exact (BigInt rational arithmetic, no float rounding).
 *
 *   <quantity>  ::= <sign>? <number> <suffix>
 *   <number>    ::= digits | digits.digits | digits. | .digits
 *   <suffix>    ::= "" | n | u | m | k | M | G | T | P | E | Ki | Mi | Gi | Ti | Pi | Ei | (e|E)<sign>?digits
 *
 * Like Kubernetes' `MilliValue()` / `Value()`, scaled results are rounded UP to the next integer.
 */

export class QuantityParseError extends Error {
  constructor(readonly input: string) {
    super(`invalid Kubernetes quantity: ${JSON.stringify(input)}`);
    this.name = 'QuantityParseError';
  }
}

/** An exact rational value num/den, den > 0. */
export interface Rational {
  num: bigint;
  den: bigint;
}

const BINARY: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

/** Decimal SI suffixes as powers of ten. */
const DECIMAL: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const QUANTITY_RE = /^([+-]?)(\d+\.?\d*|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Parses a quantity string (or a plain number) into an exact rational. Throws QuantityParseError. */
export function parseQuantity(input: string | number): Rational {
  const text = typeof input === 'number' ? numberToText(input) : input.trim();
  const m = QUANTITY_RE.exec(text);
  if (!m) throw new QuantityParseError(String(input));
  const [, sign, numberPart, suffix, exponent] = m;
  const [intPart, fracPart = ''] = (numberPart ?? '').split('.');
  let num = BigInt((intPart ?? '') + fracPart || '0');
  let den = pow10(fracPart.length);
  if (sign === '-') num = -num;
  if (suffix !== undefined && suffix in BINARY) {
    num *= BINARY[suffix] ?? 1n;
  } else {
    let exp: number;
    if (exponent !== undefined) {
      exp = Number(exponent);
      if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) throw new QuantityParseError(String(input));
    } else {
      exp = DECIMAL[suffix ?? ''] ?? 0;
    }
    if (exp >= 0) num *= pow10(exp);
    else den *= pow10(-exp);
  }
  return { num, den };
}

function numberToText(n: number): string {
  if (!Number.isFinite(n)) throw new QuantityParseError(String(n));
  // Number#toString may produce "1e+21" / "1e-7", which the grammar accepts.
  return String(n);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  // b > 0
  const q = a / b;
  return a % b > 0n ? q + 1n : q;
}

/** Value scaled by `scale` (e.g. 1000 for millis), rounded up to an integer. */
export function quantityToScaledInteger(input: string | number, scale: number): number {
  const { num, den } = parseQuantity(input);
  const v = ceilDiv(num * BigInt(scale), den);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new QuantityParseError(String(input));
  return n;
}

/** CPU quantity to millicores ("100m" -> 100, "1.5" -> 1500, "2" -> 2000), rounded up. */
export function parseCpuMilli(input: string | number): number {
  return quantityToScaledInteger(input, 1000);
}

/** Byte quantity to bytes ("512Mi" -> 536870912, "1G" -> 1e9, "1e3" -> 1000), rounded up. */
export function parseBytes(input: string | number): number {
  return quantityToScaledInteger(input, 1);
}

/** Plain count quantity (e.g. allocatable "pods": "110"), rounded up. */
export function parseCount(input: string | number): number {
  return quantityToScaledInteger(input, 1);
}
