import { describe, expect, it } from 'vitest';
import { Code, OrdType, Side } from '../../src/domain/codes.js';
import { Engine } from '../../src/engine/engine.js';

// The largest configuration the overflow bounds allow: maxNotional * 10^4 just under 2^53.
function bigEngine(): { e: Engine; run: (c: object) => Code } {
  const e = new Engine();
  let seq = 0;
  const run = (c: object) => e.apply({ ...c, seq: ++seq, tsUs: 1_700_000_000_000_000 + seq } as never);
  run({ type: 'addAsset', asset: 'USD', decimals: 2 });
  run({ type: 'addAsset', asset: 'XYZ', decimals: 0 });
  const cfg = {
    symbol: 'XYZ', base: 'XYZ', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1',
    maxNotional: '9000000000', // 9e11 minor units: x 10^4 = 9e15 < 2^53 - 1
    priceBandPct: '99.99', referencePrice: '8999999999.99', marketProtectionPct: '99.99',
  };
  expect(run({ type: 'addSymbol', config: cfg })).toBe(Code.OK);
  run({ type: 'createAccount', name: 'a' });
  run({ type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 900_000_000_000, transferId: 'd1' });
  run({ type: 'deposit', accountId: 1, asset: 'XYZ', amountMinor: 10, transferId: 'd2' });
  return { e, run };
}

describe('bounds: products stay exact at the largest allowed configuration', () => {
  it('the price collar at ±99.99% of a 9e11-tick reference is computed exactly', () => {
    const { e, run } = bigEngine();
    const ref = 899_999_999_999n;
    const d = (ref * 9_999n) / 10_000n; // exact floor
    const low = Number(ref - d);
    const order = (px: number) => run({ type: 'newOrder', accountId: 1, symbol: 'XYZ', side: Side.SELL, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: px });
    expect(order(low - 1)).toBe(Code.PRICE_OUTSIDE_BAND);
    expect(order(low)).toBe(Code.OK);
    // above the reference the notional bound (9e11 minor for qty 1) is what stops a buy
    expect(run({ type: 'newOrder', accountId: 1, symbol: 'XYZ', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: 900_000_000_001 })).toBe(Code.MAX_NOTIONAL_EXCEEDED);
    e.checkInvariants();
  });

  it('a stop with an absurd stop price is refused by the notional bound, not mis-computed', () => {
    const { e, run } = bigEngine();
    const before = e.stateHash();
    expect(run({ type: 'newOrder', accountId: 1, symbol: 'XYZ', side: Side.BUY, ordType: OrdType.STOP, qtyLots: 1, stopPriceTicks: 2 ** 52 })).toBe(Code.MAX_NOTIONAL_EXCEEDED);
    expect(e.stateHash()).toBe(before);
  });

  it('configuration beyond the bounds is refused at addSymbol with INVALID_CONFIG', () => {
    const e = new Engine();
    let seq = 0;
    const run = (c: object) => e.apply({ ...c, seq: ++seq, tsUs: 1_700_000_000_000_000 + seq } as never);
    run({ type: 'addAsset', asset: 'USD', decimals: 2 });
    run({ type: 'addAsset', asset: 'XYZ', decimals: 0 });
    const base = { symbol: 'XYZ', base: 'XYZ', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1' };
    expect(run({ type: 'addSymbol', config: { ...base, maxNotional: '9100000000' } })).toBe(Code.INVALID_CONFIG);
    expect(run({ type: 'addSymbol', config: { ...base, maxQty: '1000000000000', maxNotional: '1000' } })).toBe(Code.INVALID_CONFIG);
    expect(run({ type: 'addSymbol', config: { ...base, maxNotional: '1000', referencePrice: '1000.01' } })).toBe(Code.INVALID_CONFIG);
    expect(run({ type: 'addSymbol', config: { ...base, maxNotional: '1000', referencePrice: '1000' } })).toBe(Code.OK);
  });
});
