/**
 * Exact decimal <-> scaled integer conversion for the edges of the system.
 *
 * Prices, quantities and amounts travel as decimal text ("189.25"). Inside they are integers
 * (ticks, lots, minor units) held in JS numbers, which are exact up to 2^53 - 1. Nothing here ever
 * goes through float arithmetic on a fractional value: digits are parsed as text.
 */

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A non-negative decimal as digits and a power-of-ten exponent: value = mantissa * 10^-scale. */
export interface ScaledDecimal {
  /** digits with no dot, no leading zeros (may be "0") */
  digits: string;
  /** number of digits after the decimal point */
  scale: number;
}

const DECIMAL_RE = /^(\d{1,40})(?:\.(\d{1,40}))?$/;

/**
 * Parses a non-negative decimal given as a string, or as a JS number read from its shortest
 * decimal text. Rejects signs, exponents, NaN/Infinity, empty and over-long input: returns null.
 */
export function parseDecimal(input: unknown): ScaledDecimal | null {
  let text: string;
  if (typeof input === 'string') text = input;
  else if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return null;
    text = String(input);
    if (text.includes('e') || text.includes('E')) return null; // 1e21, 1e-7: refuse exponents
  } else return null;
  const m = DECIMAL_RE.exec(text);
  if (m === null) return null;
  const intPart = m[1]!;
  let frac = m[2] ?? '';
  frac = frac.replace(/0+$/, '');
  let digits = (intPart + frac).replace(/^0+/, '');
  if (digits === '') digits = '0';
  return { digits, scale: frac.length };
}

/**
 * Converts a decimal to an integer count of `unit`, where `unit` is itself a decimal (a tick size,
 * a lot size, 10^-decimals). Returns null if the value is not an exact multiple of the unit or the
 * count does not fit a safe integer.
 */
export function toUnits(value: ScaledDecimal, unit: ScaledDecimal): number | null {
  if (unit.digits === '0') return null;
  // value / unit = (vd * 10^-vs) / (ud * 10^-us) = vd * 10^(us - vs) / ud
  const shift = unit.scale - value.scale;
  let num = BigInt(value.digits);
  let den = BigInt(unit.digits);
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  if (num % den !== 0n) return null;
  const q = num / den;
  if (q > BigInt(MAX_SAFE)) return null;
  return Number(q);
}

/** Parses `input` and expresses it in units of `unitText`; null when off-grid or invalid. */
export function decimalToUnits(input: unknown, unitText: string): number | null {
  const value = parseDecimal(input);
  const unit = parseDecimal(unitText);
  if (value === null || unit === null) return null;
  return toUnits(value, unit);
}

/** The decimal text of `count * unit`, with trailing zeros trimmed (but at least `minScale`). */
export function unitsToDecimal(count: number, unitText: string, minScale = 0): string {
  const unit = parseDecimal(unitText);
  if (unit === null) throw new Error(`bad unit ${unitText}`);
  const negative = count < 0;
  const digits = (BigInt(Math.abs(count)) * BigInt(unit.digits)).toString();
  return formatScaled(digits, unit.scale, minScale, negative);
}

/** The decimal text of the exact ratio num / den in units of unitText, to `scale` places (floor). */
export function ratioToDecimal(num: number, den: number, unitText: string, scale: number): string {
  const unit = parseDecimal(unitText);
  if (unit === null || den === 0) throw new Error('bad ratio');
  // value = num/den * ud * 10^-us, printed with `scale` fraction digits
  const extra = scale - unit.scale;
  let n = BigInt(num) * BigInt(unit.digits);
  let d = BigInt(den);
  if (extra >= 0) n *= 10n ** BigInt(extra);
  else d *= 10n ** BigInt(-extra);
  return formatScaled((n / d).toString(), scale, 0, false);
}

function formatScaled(digits: string, scale: number, minScale: number, negative: boolean): string {
  let s = digits;
  if (scale > 0) {
    s = s.padStart(scale + 1, '0');
    let intPart = s.slice(0, s.length - scale);
    let frac = s.slice(s.length - scale).replace(/0+$/, '');
    if (frac.length < minScale) frac = frac.padEnd(minScale, '0');
    s = frac.length > 0 ? `${intPart}.${frac}` : intPart;
  } else if (minScale > 0) {
    s = `${s}.${'0'.repeat(minScale)}`;
  }
  return negative && s !== '0' ? `-${s}` : s;
}

/** 10^n as an exact safe integer, or null if it would not be safe. */
export function pow10(n: number): number | null {
  if (!Number.isInteger(n) || n < 0 || n > 15) return null;
  return 10 ** n;
}

/** True for a positive safe integer (the shape every engine quantity must have). */
export function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}

/** True for a non-negative safe integer. */
export function isNonNegativeInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** The decimal text of one minor unit of an asset with `decimals` places ("0.01" for 2). */
export function minorUnit(decimals: number): string {
  return decimals === 0 ? '1' : `0.${'0'.repeat(decimals - 1)}1`;
}
