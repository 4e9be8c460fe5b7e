/** The gateway's decimal reader: its fast path for short text agrees with the exact general conversion on every input. */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { decimalToUnits, ratioToDecimal } from '../../src/domain/decimal.js';
import { Unit } from '../../src/gateway/units.js';

const UNITS = ['1', '0.01', '0.05', '0.025', '0.00000001', '5', '100', '0.1', '0.0001', '25'];

it('Unit.parse equals decimalToUnits for plain, odd and hostile decimal text', () => {
  const digits = fc.stringMatching(/^[0-9]{0,17}$/);
  const text = fc.oneof(
    fc.tuple(digits, fc.option(digits)).map(([i, f]) => (f === null ? i : `${i}.${f}`)),
    fc.stringMatching(/^[-+0-9.eE ]{0,16}$/),
    fc.constantFrom('', '.', '1.', '.5', '1..2', '00.10', '189.50', '189.500', '189.501', '9007199254740993', '999999999999999', '0.000000015'),
  );
  fc.assert(
    fc.property(fc.constantFrom(...UNITS), text, (unit, t) => {
      expect(new Unit(unit).parse(t)).toBe(decimalToUnits(t, unit));
    }),
    { numRuns: 20_000 },
  );
});

it('Unit.ratio (average prices) equals the exact BigInt ratio, floored, trailing zeros trimmed', () => {
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  const count = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(0, 1, 2 ** 50, 2 ** 50 + 1, 2 ** 53 - 1));
  fc.assert(
    fc.property(fc.constantFrom(...UNITS), count, count.filter((d) => d > 0), fc.integer({ min: 0, max: 6 }), (unit, num, den, extra) => {
      const u = new Unit(unit);
      const scale = (unit.split('.')[1] ?? '').replace(/0+$/, '').length + extra;
      expect(u.ratio(num, den, extra)).toBe(trim(ratioToDecimal(num, den, unit, scale)));
    }),
    { numRuns: 20_000 },
  );
});
