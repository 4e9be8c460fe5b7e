import { describe, expect, it } from 'vitest';
import {
  decimalToUnits,
  isNonNegativeInt,
  isPositiveInt,
  MAX_SAFE,
  minorUnit,
  parseDecimal,
  pow10,
  ratioToDecimal,
  toUnits,
  unitsToDecimal,
} from '../src/domain/decimal.js';

describe('parseDecimal', () => {
  it('parses digits exactly, normalising leading and trailing zeros', () => {
    expect(parseDecimal('189.25')).toEqual({ digits: '18925', scale: 2 });
    expect(parseDecimal('0.10')).toEqual({ digits: '1', scale: 1 });
    expect(parseDecimal('1.000')).toEqual({ digits: '1', scale: 0 });
    expect(parseDecimal('000')).toEqual({ digits: '0', scale: 0 });
    expect(parseDecimal('0.00000001')).toEqual({ digits: '1', scale: 8 });
    expect(parseDecimal('007.50')).toEqual({ digits: '75', scale: 1 });
  });

  it('keeps precision beyond float64 (text, not float, arithmetic)', () => {
    expect(parseDecimal('12345678901234567890.123456789')).toEqual({ digits: '12345678901234567890123456789', scale: 9 });
    expect(decimalToUnits('0.3', '0.1')).toBe(3); // 0.3 / 0.1 is 2.9999999999999996 in floats
  });

  it('accepts numbers through their shortest decimal text', () => {
    expect(parseDecimal(0.1)).toEqual({ digits: '1', scale: 1 });
    expect(parseDecimal(189.25)).toEqual({ digits: '18925', scale: 2 });
    expect(parseDecimal(0)).toEqual({ digits: '0', scale: 0 });
  });

  it('refuses signs, exponents, NaN, Infinity, malformed and over-long input', () => {
    for (const bad of ['-1', '+1', '1e5', '1E5', '', '.5', '5.', ' 1', '1 ', '1,5', '0x10', 'abc', '1.2.3', '1'.repeat(41), '1.' + '1'.repeat(41)])
      expect(parseDecimal(bad), JSON.stringify(bad)).toBeNull();
    for (const bad of [-1, -0.5, NaN, Infinity, -Infinity, 1e21, 1e-7])
      expect(parseDecimal(bad), String(bad)).toBeNull();
    for (const bad of [null, undefined, {}, [], true, 10n]) expect(parseDecimal(bad)).toBeNull();
  });

  it('accepts the longest allowed input (40 digits each side)', () => {
    expect(parseDecimal('1'.repeat(40))).not.toBeNull();
    expect(parseDecimal('1.' + '1'.repeat(40))).not.toBeNull();
  });
});

describe('toUnits / decimalToUnits', () => {
  it('converts exact multiples of the unit', () => {
    expect(decimalToUnits('189.25', '0.01')).toBe(18925);
    expect(decimalToUnits('189.2500', '0.01')).toBe(18925);
    expect(decimalToUnits('1.5', '0.5')).toBe(3);
    expect(decimalToUnits('100', '25')).toBe(4);
    expect(decimalToUnits('0.05', '0.01')).toBe(5);
    expect(decimalToUnits('0', '0.01')).toBe(0);
    expect(decimalToUnits('0.01', '0.00000001')).toBe(1_000_000);
    expect(decimalToUnits(189.25, '0.01')).toBe(18925);
    expect(toUnits({ digits: '18925', scale: 2 }, { digits: '1', scale: 2 })).toBe(18925);
  });

  it('returns null off the grid, never rounds', () => {
    expect(decimalToUnits('189.255', '0.01')).toBeNull();
    expect(decimalToUnits('0.05', '0.1')).toBeNull();
    expect(decimalToUnits('10', '3')).toBeNull();
    expect(decimalToUnits('0.001', '0.01')).toBeNull();
    expect(decimalToUnits('1.25', '0.5')).toBeNull();
  });

  it('returns null for invalid value or unit, and for a zero unit', () => {
    expect(decimalToUnits('-1', '0.01')).toBeNull();
    expect(decimalToUnits('1e2', '1')).toBeNull();
    expect(decimalToUnits('1', '0')).toBeNull();
    expect(decimalToUnits('1', '0.00')).toBeNull();
    expect(decimalToUnits('1', 'x')).toBeNull();
    expect(decimalToUnits(NaN, '1')).toBeNull();
  });

  it('returns null when the count is not a safe integer', () => {
    expect(decimalToUnits(String(MAX_SAFE), '1')).toBe(MAX_SAFE);
    expect(decimalToUnits('9007199254740992', '1')).toBeNull();
    expect(decimalToUnits('90071992547409.92', '0.01')).toBeNull();
    expect(decimalToUnits('90071992547409.91', '0.01')).toBe(MAX_SAFE);
  });
});

describe('unitsToDecimal', () => {
  it('formats count × unit with trailing zeros trimmed', () => {
    expect(unitsToDecimal(18925, '0.01')).toBe('189.25');
    expect(unitsToDecimal(18900, '0.01')).toBe('189');
    expect(unitsToDecimal(18920, '0.01')).toBe('189.2');
    expect(unitsToDecimal(5, '0.01')).toBe('0.05');
    expect(unitsToDecimal(0, '0.01')).toBe('0');
    expect(unitsToDecimal(3, '25')).toBe('75');
    expect(unitsToDecimal(1, '0.00000001')).toBe('0.00000001');
    expect(unitsToDecimal(150_000_000, '0.00000001')).toBe('1.5');
    expect(unitsToDecimal(MAX_SAFE, '0.01')).toBe('90071992547409.91');
  });

  it('pads to minScale', () => {
    expect(unitsToDecimal(18900, '0.01', 2)).toBe('189.00');
    expect(unitsToDecimal(18920, '0.01', 2)).toBe('189.20');
    expect(unitsToDecimal(0, '0.01', 2)).toBe('0.00');
    expect(unitsToDecimal(7, '1', 2)).toBe('7.00');
    expect(unitsToDecimal(123456, '0.0001', 2)).toBe('12.3456');
  });

  it('formats negatives with a sign (but never -0)', () => {
    expect(unitsToDecimal(-5, '0.01')).toBe('-0.05');
    expect(unitsToDecimal(-18925, '0.01')).toBe('-189.25');
    expect(unitsToDecimal(-0, '0.01')).toBe('0');
  });

  it('round-trips with decimalToUnits', () => {
    for (const [v, u] of [
      ['189.25', '0.01'],
      ['0.00000001', '0.00000001'],
      ['12345.5', '0.5'],
      ['100', '25'],
    ] as const)
      expect(unitsToDecimal(decimalToUnits(v, u)!, u)).toBe(v);
  });

  it('throws on a bad unit', () => {
    expect(() => unitsToDecimal(1, 'bad')).toThrow();
  });
});

describe('ratioToDecimal', () => {
  it('prints num/den in units, floored to scale places', () => {
    // avg price: 30050 tick-lots over 2 lots at tick 0.01 -> 150.25
    expect(ratioToDecimal(30050, 2, '0.01', 4)).toBe('150.25');
    expect(ratioToDecimal(10, 3, '0.01', 4)).toBe('0.0333');
    expect(ratioToDecimal(20, 3, '0.01', 4)).toBe('0.0666'); // floor, not round
    expect(ratioToDecimal(20, 3, '0.01', 1)).toBe('0');
    expect(ratioToDecimal(1, 1, '25', 0)).toBe('25');
    expect(ratioToDecimal(0, 5, '0.01', 2)).toBe('0');
  });

  it('throws on a zero denominator or bad unit', () => {
    expect(() => ratioToDecimal(1, 0, '0.01', 2)).toThrow();
    expect(() => ratioToDecimal(1, 1, '-1', 2)).toThrow();
  });
});

describe('small helpers', () => {
  it('pow10 gives exact safe powers only', () => {
    expect(pow10(0)).toBe(1);
    expect(pow10(2)).toBe(100);
    expect(pow10(15)).toBe(1e15);
    expect(pow10(16)).toBeNull();
    expect(pow10(-1)).toBeNull();
    expect(pow10(1.5)).toBeNull();
  });

  it('isPositiveInt / isNonNegativeInt', () => {
    expect(isPositiveInt(1)).toBe(true);
    expect(isPositiveInt(MAX_SAFE)).toBe(true);
    for (const x of [0, -1, 1.5, MAX_SAFE + 1, NaN, Infinity, '1', null, undefined]) expect(isPositiveInt(x), String(x)).toBe(false);
    expect(isNonNegativeInt(0)).toBe(true);
    expect(isNonNegativeInt(5)).toBe(true);
    for (const x of [-1, 0.5, MAX_SAFE + 1, '0', NaN]) expect(isNonNegativeInt(x), String(x)).toBe(false);
  });

  it('minorUnit', () => {
    expect(minorUnit(0)).toBe('1');
    expect(minorUnit(1)).toBe('0.1');
    expect(minorUnit(2)).toBe('0.01');
    expect(minorUnit(8)).toBe('0.00000001');
  });
});
