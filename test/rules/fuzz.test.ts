import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, fixture, HOUR_US, OrdType, Side, type CmdBody } from '../helpers.js';

/** Deterministic pseudo-random command mix; after every command the documented invariants must hold. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function runMix(seed: number, steps: number) {
  const f = fixture({
    aapl: { makerFeeBps: 5, takerFeeBps: 12, priceBandPct: '20', referencePrice: '100', dailyAccountQtyLimit: '5000' },
    btc: { makerFeeBps: 2, takerFeeBps: 7 },
  });
  const r = lcg(seed);
  const accts = [ALICE, BOB, CAROL];
  const ids: number[] = [];
  let trades = 0;
  for (let i = 0; i < steps; i++) {
    const acct = accts[r(3)]!;
    const sym = r(4) === 0 ? 'BTC-USD' : 'AAPL';
    const mid = sym === 'AAPL' ? 10_000 : 43_000;
    const side = r(2) === 0 ? Side.BUY : Side.SELL;
    const px = mid + r(41) - 20;
    const qty = 1 + r(12);
    const k = r(100);
    let c: CmdBody;
    if (k < 45) c = { type: 'newOrder', accountId: acct, symbol: sym, side, ordType: OrdType.LIMIT, qtyLots: qty, priceTicks: px, tif: [1, 2, 3, 4, 5][r(5)]!, stp: 1 + r(4) } as CmdBody;
    else if (k < 52) c = { type: 'newOrder', accountId: acct, symbol: sym, side, ordType: OrdType.MARKET, qtyLots: qty, stp: 1 + r(4) } as CmdBody;
    else if (k < 60) c = { type: 'newOrder', accountId: acct, symbol: sym, side, ordType: OrdType.STOP, qtyLots: qty, stopPriceTicks: px } as CmdBody;
    else if (k < 66) c = { type: 'newOrder', accountId: acct, symbol: sym, side, ordType: OrdType.STOP_LIMIT, qtyLots: qty, stopPriceTicks: px, priceTicks: px + (side === Side.BUY ? 5 : -5) } as CmdBody;
    else if (k < 76 && ids.length > 0) c = { type: 'cancelOrder', accountId: acct, orderId: ids[r(ids.length)]! };
    else if (k < 90 && ids.length > 0) {
      const c2: Record<string, unknown> = { type: 'replaceOrder', accountId: acct, orderId: ids[r(ids.length)]! };
      if (r(2) === 0) c2.qtyLots = qty;
      if (r(2) === 0) c2.priceTicks = px;
      c = c2 as CmdBody;
    } else if (k < 93) c = { type: 'massCancel', accountId: acct, ...(r(2) === 0 ? { symbol: sym } : {}) } as CmdBody;
    else if (k < 96) c = { type: 'tick', tsUs: f.now + r(3) * HOUR_US + 1 };
    else if (k < 98) c = { type: 'withdraw', accountId: acct, asset: 'USD', amountMinor: 1 + r(1_000_000), transferId: `w${i}` };
    else c = { type: 'deposit', accountId: acct, asset: sym === 'AAPL' ? 'AAPL' : 'BTC', amountMinor: 1 + r(100), transferId: `d${i}` };
    if (c.type === 'newOrder' && (c as { tif?: number }).tif === 5) (c as { expireTimeUs?: number }).expireTimeUs = f.now + 1000 + r(4) * HOUR_US + 1;
    f.run(c);
    trades += f.trades().length;
    for (const e of f.execs()) if (e.execType === 1 && !ids.includes(e.orderId as number)) ids.push(e.orderId as number);
    try {
      f.e.checkInvariants();
      f.expectReservedMatchesOpenOrders();
      f.expectConservation();
      for (const s of ['AAPL', 'BTC-USD']) {
        const b = f.l2(s);
        if (b.bids.length > 0 && b.asks.length > 0) expect(b.bids[0]![0]).toBeLessThan(b.asks[0]![0]);
      }
    } catch (err) {
      throw new Error(`seed ${seed} step ${i} after ${JSON.stringify(c)}: ${(err as Error).message}`);
    }
  }
  return { f, trades };
}

describe('randomised command mix keeps every invariant', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: invariants, reservations, conservation and an uncrossed book after every command`, () => {
      const { f, trades } = runMix(seed, 1500);
      expect(trades, 'the mix actually trades').toBeGreaterThan(100);
      f.done();
    });
  }
});
