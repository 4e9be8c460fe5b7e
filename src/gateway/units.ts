/**
 * Decimal text <-> engine integers for one unit (a tick size, a lot size, an asset's minor unit),
 * at the edge. Parsing is `decimalToUnits` (exact, no floats). Formatting runs for every number of
 * every response, so it avoids BigInt when count × unit digits is a safe integer (nearly always).
 */
import { decimalToUnits, parseDecimal, ratioToDecimal, unitsToDecimal } from '../domain/decimal.js';
import type { JsonValue } from './json.js';
import { JsonNumber } from './json.js';

export class Unit {
  private readonly digits: number;
  private readonly scale: number;

  constructor(readonly text: string) {
    const d = parseDecimal(text);
    if (d === null || d.digits === '0') throw new Error(`bad unit ${text}`);
    this.digits = Number(d.digits);
    this.scale = d.scale;
  }

  /** count of this unit in `value` (decimal text or a JSON number's text); null when off-grid, negative or not a number */
  parse(value: JsonValue | undefined): number | null {
    const text = value instanceof JsonNumber ? value.text : typeof value === 'string' ? value : null;
    if (text === null) return null;
    // every order carries two of these: short plain decimals are read without regex or BigInt
    if (text.length <= 15) {
      const fast = this.parseShort(text);
      if (fast !== undefined) return fast;
    }
    return decimalToUnits(text, this.text);
  }

  /**
   * `decimalToUnits` for text of at most 15 characters, so every digit string fits a safe integer
   * exactly; undefined hands the text to the exact general path (a product past 2^53). A test
   * holds the two equal.
   */
  private parseShort(text: string): number | null | undefined {
    let mantissa = 0;
    let scale = 0;
    let dot = -1;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        mantissa = mantissa * 10 + (c - 48);
        if (dot >= 0) scale++;
      } else if (c === 46 && dot < 0 && i > 0 && i < n - 1) dot = i;
      else return null; // a sign, an exponent, a second dot, a dot at either end, anything else
    }
    if (n === 0) return null;
    // value × 10^unitScale must be a whole multiple of the unit's digits
    let scaled: number;
    if (scale > this.scale) {
      const p = 10 ** (scale - this.scale);
      if (mantissa % p !== 0) return null;
      scaled = mantissa / p;
    } else {
      scaled = mantissa * 10 ** (this.scale - scale);
      if (!Number.isSafeInteger(scaled)) return undefined;
    }
    return scaled % this.digits === 0 ? scaled / this.digits : null;
  }

  /** the decimal text of count × unit with exactly the unit's decimal places ("189.50" for tick 0.01) */
  format(count: number): string {
    const v = count * this.digits;
    if (!Number.isSafeInteger(v)) return unitsToDecimal(count, this.text, this.scale);
    if (this.scale === 0) return String(v);
    const negative = v < 0;
    let s = String(Math.abs(v));
    if (s.length <= this.scale) s = '0'.repeat(this.scale - s.length + 1) + s;
    const int = s.slice(0, s.length - this.scale);
    const out = `${int}.${s.slice(int.length)}`;
    return negative ? `-${out}` : out;
  }

  /** num / den units as decimal text with `extraDigits` more places than the unit (floor): average prices */
  ratio(num: number, den: number, extraDigits: number): string {
    // every fill's report has one: plain float division when both sides stay far below 2^53
    const n = num * this.digits * 10 ** extraDigits;
    if (Number.isInteger(num) && num >= 0 && n <= 2 ** 50 && Number.isInteger(den) && den > 0 && den <= 2 ** 50) {
      let q = Math.floor(n / den);
      if (q * den > n) q--; // the division rounded up past a whole number: floor exactly
      else if ((q + 1) * den <= n) q++;
      return trimZeros(fixed(q, this.scale + extraDigits));
    }
    return trimZeros(ratioToDecimal(num, den, this.text, this.scale + extraDigits));
  }
}

/** the non-negative integer q as decimal text with `scale` places (q × 10^-scale) */
function fixed(q: number, scale: number): string {
  let s = String(q);
  if (scale === 0) return s;
  if (s.length <= scale) s = '0'.repeat(scale - s.length + 1) + s;
  return `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
}

function trimZeros(s: string): string {
  if (!s.includes('.')) return s;
  s = s.replace(/0+$/, '');
  return s.endsWith('.') ? s.slice(0, -1) : s;
}
