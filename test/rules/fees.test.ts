import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, FEE, fixture, FUND, OrdType, Side } from '../helpers.js';

const FEES = { makerFeeBps: 10, takerFeeBps: 25 };

describe('fees', () => {
  it('taker buyer pays in base, maker seller in quote; floor rounding; credited to account 0', () => {
    const f = fixture({ btc: FEES });
    f.sell(BOB, 3, 43_211, {}, 'BTC-USD'); // maker
    f.buy(ALICE, 3, 43_211, {}, 'BTC-USD'); // taker
    const N = 43_211 * 3; // 129,633 cents
    const B = 3 * 1_000_000; // sat
    const buyerFee = Math.floor((B * 25) / 10_000); // 7,500 sat
    const sellerFee = Math.floor((N * 10) / 10_000); // floor(129.633) = 129 cents
    expect([buyerFee, sellerFee]).toEqual([7_500, 129]);
    f.expectBal(ALICE, 'BTC', FUND.BTC + B - buyerFee, 0);
    f.expectBal(ALICE, 'USD', FUND.USD - N, 0);
    f.expectBal(BOB, 'BTC', FUND.BTC - B, 0);
    f.expectBal(BOB, 'USD', FUND.USD + N - sellerFee, 0);
    f.expectBal(FEE, 'BTC', buyerFee, 0);
    f.expectBal(FEE, 'USD', sellerFee, 0);
    expect(f.of('balance').filter((b) => b.accountId === FEE).map((b) => [b.assetIdx, b.deltaTotal])).toEqual(
      expect.arrayContaining([
        [2, buyerFee],
        [0, sellerFee],
      ]),
    );
    f.done();
  });

  it('taker seller pays the taker rate in quote, maker buyer the maker rate in base', () => {
    const f = fixture({ btc: FEES });
    f.buy(BOB, 7, 43_211, {}, 'BTC-USD'); // maker
    f.sell(ALICE, 7, 43_000, {}, 'BTC-USD'); // taker, trades at 43,211
    const N = 43_211 * 7; // 302,477
    const B = 7_000_000;
    const sellerFee = Math.floor((N * 25) / 10_000); // 756.1925 -> 756
    const buyerFee = Math.floor((B * 10) / 10_000); // 7,000
    f.expectBal(ALICE, 'USD', FUND.USD + N - sellerFee, 0);
    f.expectBal(ALICE, 'BTC', FUND.BTC - B, 0);
    f.expectBal(BOB, 'BTC', FUND.BTC + B - buyerFee, 0);
    f.expectBal(BOB, 'USD', FUND.USD - N, 0);
    f.expectBal(FEE, 'USD', 756, 0);
    f.expectBal(FEE, 'BTC', 7_000, 0);
    f.done();
  });

  it('a fee below one minor unit floors to zero (AAPL, 1 share)', () => {
    const f = fixture({ aapl: { makerFeeBps: 20, takerFeeBps: 30 } });
    f.sell(BOB, 1, 3333);
    f.buy(ALICE, 1, 3333);
    // buyer fee floor(1 × 30 / 10^4) = 0 shares; seller fee floor(3333 × 20 / 10^4) = floor(6.666) = 6 cents
    f.expectBal(ALICE, 'AAPL', FUND.AAPL + 1, 0);
    f.expectBal(BOB, 'USD', FUND.USD + 3333 - 6, 0);
    f.expectBal(FEE, 'AAPL', 0, 0);
    f.expectBal(FEE, 'USD', 6, 0);
    f.done();
  });

  it('default fees are zero', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.buy(ALICE, 5, 10000);
    for (const a of ['USD', 'AAPL', 'BTC']) f.expectBal(FEE, a, 0, 0);
    f.done();
  });

  it('every asset is conserved across a busy sequence with fees on both symbols', () => {
    const f = fixture({ btc: { makerFeeBps: 7, takerFeeBps: 13 }, aapl: { makerFeeBps: 3, takerFeeBps: 9 } });
    const accts = [ALICE, BOB, CAROL];
    for (let i = 0; i < 60; i++) {
      const a = accts[i % 3]!;
      const side = i % 2 === 0 ? Side.BUY : Side.SELL;
      const sym = i % 5 === 0 ? 'BTC-USD' : 'AAPL';
      const base = sym === 'AAPL' ? 10_000 : 43_000;
      const price = base + ((i * 37) % 21) - 10;
      if (i % 7 === 3) f.order(a, sym, side, OrdType.MARKET, 1 + (i % 4));
      else f.order(a, sym, side, OrdType.LIMIT, 1 + ((i * 13) % 9), { priceTicks: price, stp: 1 + (i % 4) });
    }
    expect(f.bal(FEE, 'USD').total + f.bal(FEE, 'BTC').total).toBeGreaterThan(0);
    f.done();
  });
});
