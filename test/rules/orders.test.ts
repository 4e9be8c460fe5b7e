import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, ExecType, fixture, FUND, OrdStatus, OrdType, Side } from '../helpers.js';

const LIQ_MAKER = 1;
const LIQ_TAKER = 2;
const REASON_MARKET_REMAINDER = 7;
const REASON_NO_LIQUIDITY = 8;

describe('limit orders', () => {
  it('a non-crossing limit rests: exec new, bookAdd, reserve price × qty × k of quote', () => {
    const f = fixture();
    const id = f.buy(ALICE, 10, 18925);
    expect(id).toBe(1);
    const x = f.lastExec(id);
    expect(x.execType).toBe(ExecType.NEW);
    expect(x.ordStatus).toBe(OrdStatus.NEW);
    expect([x.qtyLots, x.cumQtyLots, x.leavesQtyLots, x.cumNotionalTickLots]).toEqual([10, 0, 10, 0]);
    expect(f.of('bookAdd')).toMatchObject([{ orderId: id, side: Side.BUY, priceTicks: 18925, qtyLots: 10 }]);
    expect(f.of('trade')).toEqual([]);
    f.expectBal(ALICE, 'USD', FUND.USD, 189_250);
    expect(f.l2().bids).toEqual([[18925, 10, 1]]);
    expect(f.e.getOrder(id)).toMatchObject({ status: OrdStatus.NEW, leavesLots: 10, filledLots: 0, priceTicks: 18925 });
    f.done();
  });

  it('a resting order emits exactly exec(new), balance(reserve), bookAdd (docs: Events)', () => {
    const f = fixture();
    f.buy(ALICE, 10, 18925);
    expect(f.names()).toEqual(['exec', 'balance', 'bookAdd']);
    expect(f.of('balance')).toMatchObject([{ accountId: ALICE, assetIdx: 0, deltaTotal: 0, deltaReserved: 189_250, total: FUND.USD, reserved: 189_250 }]);
    f.done();
  });

  it('a full fill trades at the maker price and settles both sides to the minor unit', () => {
    const f = fixture();
    const ask = f.sell(BOB, 10, 10000);
    f.expectBal(BOB, 'AAPL', FUND.AAPL, 10);
    const bid = f.buy(ALICE, 10, 10100);
    expect(f.trades()).toMatchObject([{ priceTicks: 10000, qtyLots: 10, takerSide: Side.BUY, makerOrderId: ask, takerOrderId: bid }]);
    const t = f.execs(bid).find((e) => e.execType === ExecType.TRADE)!;
    expect(t).toMatchObject({ ordStatus: OrdStatus.FILLED, lastQtyLots: 10, lastPxTicks: 10000, cumQtyLots: 10, leavesQtyLots: 0, cumNotionalTickLots: 100_000, liquidity: LIQ_TAKER });
    const m = f.execs(ask).find((e) => e.execType === ExecType.TRADE)!;
    expect(m).toMatchObject({ ordStatus: OrdStatus.FILLED, lastQtyLots: 10, lastPxTicks: 10000, cumQtyLots: 10, leavesQtyLots: 0, liquidity: LIQ_MAKER });
    expect(t.tradeId).toBe(m.tradeId);
    expect(f.of('bookExecute')).toMatchObject([{ orderId: ask, priceTicks: 10000, execQtyLots: 10, remainingLots: 0 }]);
    // buyer reserved 10 × 101.00, paid 10 × 100.00: the difference is released at once
    f.expectBal(ALICE, 'USD', FUND.USD - 100_000, 0);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL + 10, 0);
    f.expectBal(BOB, 'AAPL', FUND.AAPL - 10, 0);
    f.expectBal(BOB, 'USD', FUND.USD + 100_000, 0);
    expect(f.l2()).toEqual({ bids: [], asks: [] });
    expect(f.e.symbol('AAPL')!.lastPxTicks).toBe(10000);
    f.done();
  });

  it('events of one command come in the documented causal order (docs: Events)', () => {
    const f = fixture();
    f.sell(BOB, 4, 10000);
    f.buy(ALICE, 10, 10000);
    expect(f.names()).toEqual([
      'exec', 'balance', // new + reserve
      'trade', 'bookExecute', 'exec', 'exec', 'balance', 'balance', 'balance', 'balance', // the fill
      'bookAdd', // the rest rests
    ]);
    const execs = f.execs();
    expect(execs.map((e) => e.execType)).toEqual([ExecType.NEW, ExecType.TRADE, ExecType.TRADE]);
    expect(execs[1]!.liquidity).toBe(LIQ_MAKER);
    expect(execs[2]!.liquidity).toBe(LIQ_TAKER);
    f.done();
  });

  it('a partial fill rests the remainder with cum / leaves / notional and a reservation for the leaves only', () => {
    const f = fixture();
    const ask = f.sell(BOB, 4, 10000);
    const bid = f.buy(ALICE, 10, 10000);
    const x = f.lastExec(bid);
    expect(x).toMatchObject({ ordStatus: OrdStatus.PARTIALLY_FILLED, cumQtyLots: 4, leavesQtyLots: 6, cumNotionalTickLots: 40_000 });
    expect(f.of('bookAdd')).toMatchObject([{ orderId: bid, priceTicks: 10000, qtyLots: 6 }]);
    expect(f.lastExec(ask)).toMatchObject({ ordStatus: OrdStatus.FILLED, cumQtyLots: 4, leavesQtyLots: 0 });
    expect(f.e.getOrder(bid)).toMatchObject({ filledLots: 4, leavesLots: 6, cumNotionalTickLots: 40_000, status: OrdStatus.PARTIALLY_FILLED });
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 60_000);
    expect(f.l2().bids).toEqual([[10000, 6, 1]]);
    f.done();
  });

  it('sweeps levels best first, FIFO within a level; cumNotional is the avgPx numerator', () => {
    const f = fixture();
    const c1 = f.sell(CAROL, 5, 10010);
    const b1 = f.sell(BOB, 3, 10000);
    const c2 = f.sell(CAROL, 4, 10000);
    const bid = f.buy(ALICE, 10, 10020);
    expect(f.trades().map((t) => [t.makerOrderId, t.priceTicks, t.qtyLots])).toEqual([
      [b1, 10000, 3],
      [c2, 10000, 4],
      [c1, 10010, 3],
    ]);
    const x = f.lastExec(bid);
    expect(x).toMatchObject({ ordStatus: OrdStatus.FILLED, cumQtyLots: 10, leavesQtyLots: 0, cumNotionalTickLots: 70_000 + 30_030 });
    f.expectBal(ALICE, 'USD', FUND.USD - 100_030, 0);
    expect(f.l3().asks).toEqual([{ orderId: c1, priceTicks: 10010, qtyLots: 2 }]);
    f.done();
  });

  it('price improvement: a buy resting after crossing reserves its leaves at its own limit, the rest released', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.buy(ALICE, 10, 10500);
    f.expectBal(ALICE, 'USD', FUND.USD - 50_000, 5 * 10500);
    f.done();
  });

  it('a crossing sell trades at the (higher) bid price', () => {
    const f = fixture();
    f.buy(BOB, 5, 10200);
    f.sell(ALICE, 5, 10000);
    expect(f.trades()).toMatchObject([{ priceTicks: 10200, qtyLots: 5, takerSide: Side.SELL }]);
    f.expectBal(ALICE, 'USD', FUND.USD + 51_000, 0);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL - 5, 0);
    f.expectBal(BOB, 'USD', FUND.USD - 51_000, 0);
    f.done();
  });

  it('BTC-USD settles in satoshis: 1 lot = 1,000,000 base minor, notional = px × lots cents', () => {
    const f = fixture();
    f.sell(BOB, 3, 43_211, {}, 'BTC-USD');
    f.expectBal(BOB, 'BTC', FUND.BTC, 3_000_000);
    f.buy(ALICE, 3, 43_211, {}, 'BTC-USD');
    f.expectBal(ALICE, 'BTC', FUND.BTC + 3_000_000, 0);
    f.expectBal(ALICE, 'USD', FUND.USD - 129_633, 0);
    f.expectBal(BOB, 'BTC', FUND.BTC - 3_000_000, 0);
    f.expectBal(BOB, 'USD', FUND.USD + 129_633, 0);
    f.done();
  });
});

describe('market orders', () => {
  it('the protection price (best ask + 5%) caps the sweep; the remainder expires', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.sell(BOB, 5, 10400);
    const far = f.sell(BOB, 5, 10600); // beyond floor(10000 × 1.05) = 10500
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 20);
    expect(f.trades().map((t) => [t.priceTicks, t.qtyLots])).toEqual([
      [10000, 5],
      [10400, 5],
    ]);
    const x = f.lastExec(r.orderId);
    expect(x).toMatchObject({ execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED, cumQtyLots: 10, leavesQtyLots: 0, reason: REASON_MARKET_REMAINDER });
    // the reservation was at the protection price and is fully gone
    expect(f.of('balance').find((b) => b.accountId === ALICE && (b.deltaReserved as number) > 0)).toMatchObject({ deltaReserved: 10500 * 20 });
    f.expectBal(ALICE, 'USD', FUND.USD - 50_000 - 52_000, 0);
    expect(f.l3().asks).toEqual([{ orderId: far, priceTicks: 10600, qtyLots: 5 }]);
    f.done();
  });

  it('a market sell is capped at ceil(best bid × 0.95)', () => {
    const f = fixture();
    f.buy(BOB, 5, 10000);
    f.buy(BOB, 5, 9501);
    f.buy(BOB, 5, 9499); // ceil(9500) = 9500: 9499 is beyond
    f.order(ALICE, 'AAPL', Side.SELL, OrdType.MARKET, 20);
    expect(f.trades().map((t) => [t.priceTicks, t.qtyLots])).toEqual([
      [10000, 5],
      [9501, 5],
    ]);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL - 10, 0);
    f.expectBal(ALICE, 'USD', FUND.USD + 50_000 + 47_505, 0);
    f.done();
  });

  it('no opposite liquidity: accepted, expired (no_liquidity), no fills, nothing reserved', () => {
    const f = fixture();
    f.buy(BOB, 5, 10000); // same-side liquidity does not count
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 10);
    expect(r.code).toBe(0);
    expect(r.orderId).toBeGreaterThan(0);
    const x = f.lastExec(r.orderId);
    expect(x).toMatchObject({ execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED, cumQtyLots: 0, reason: REASON_NO_LIQUIDITY });
    expect(f.trades()).toEqual([]);
    expect(f.of('balance')).toEqual([]);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('no liquidity: even an account with no funds is accepted (the funds check uses nothing)', () => {
    const f = fixture();
    f.run({ type: 'createAccount', name: 'dave' }); // account 4, unfunded
    const r = f.order(4, 'AAPL', Side.BUY, OrdType.MARKET, 10);
    expect(r.code).toBe(0);
    expect(f.lastExec(r.orderId).reason).toBe(REASON_NO_LIQUIDITY);
    f.done();
  });

  it('funds are checked at the protection price: qty × floor(ask × 1.05) × k', () => {
    const f = fixture();
    f.run({ type: 'createAccount', name: 'dave' });
    f.run({ type: 'deposit', accountId: 4, asset: 'USD', amountMinor: 52_499, transferId: 'd1' });
    f.sell(BOB, 5, 10000);
    f.expectOrderReject(4, 'AAPL', Side.BUY, OrdType.MARKET, 5, {}, 11 /* INSUFFICIENT_FUNDS */);
    f.run({ type: 'deposit', accountId: 4, asset: 'USD', amountMinor: 1, transferId: 'd2' });
    const r = f.order(4, 'AAPL', Side.BUY, OrdType.MARKET, 5);
    expect(r.code).toBe(0);
    f.expectBal(4, 'USD', 52_500 - 50_000, 0);
    f.expectBal(4, 'AAPL', 5, 0);
    f.done();
  });

  it('FOK market fills completely or not at all', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    let r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 6, { tif: 4 });
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(r.orderId).ordStatus).toBe(OrdStatus.EXPIRED);
    r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 5, { tif: 4 });
    expect(f.trades()).toHaveLength(1);
    expect(f.lastExec(r.orderId).ordStatus).toBe(OrdStatus.FILLED);
    f.done();
  });
});

describe('stop and stop_limit orders', () => {
  it('a buy stop rests off-book as pending_trigger with funds reserved at floor(stop × 1.05)', () => {
    const f = fixture();
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 10, { stopPriceTicks: 10100 });
    expect(r.code).toBe(0);
    expect(f.lastExec(r.orderId)).toMatchObject({ execType: ExecType.NEW, ordStatus: OrdStatus.PENDING_TRIGGER, stopPriceTicks: 10100 });
    expect(f.of('bookAdd')).toEqual([]);
    expect(f.l2()).toEqual({ bids: [], asks: [] });
    f.expectBal(ALICE, 'USD', FUND.USD, 10605 * 10);
    expect(f.e.getOrder(r.orderId)).toMatchObject({ status: OrdStatus.PENDING_TRIGGER, priceTicks: 10605, stopPriceTicks: 10100 });
    expect(f.e.openOrders(ALICE).map((o) => o.orderId)).toEqual([r.orderId]);
    f.done();
  });

  it('a sell stop_limit reserves the base quantity; a sell stop too', () => {
    const f = fixture();
    f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP_LIMIT, 10, { stopPriceTicks: 9900, priceTicks: 9850 });
    f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP, 7, { stopPriceTicks: 9900 });
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 17);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('a buy stop triggers on a last trade ≥ stop and trades as a market order capped at its reservation', () => {
    const f = fixture();
    const stop = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10100 }).orderId;
    f.sell(BOB, 5, 10100);
    f.sell(BOB, 5, 10200);
    f.sell(BOB, 5, 10700); // within floor(10200 × 1.05) = 10710 but beyond the reserved 10605
    f.buy(CAROL, 5, 10100); // last = 10100
    const types = f.execTypes(stop);
    expect(types[0]).toBe(ExecType.TRIGGERED);
    expect(f.trades().map((t) => [t.priceTicks, t.takerOrderId])).toEqual([
      [10100, stop + 4], // carol's order
      [10200, stop],
    ]);
    expect(f.lastExec(stop)).toMatchObject({ ordStatus: OrdStatus.FILLED, cumQtyLots: 5, cumNotionalTickLots: 51_000 });
    f.expectBal(ALICE, 'USD', FUND.USD - 51_000, 0);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL + 5, 0);
    f.done();
  });

  it('a triggered buy stop never trades beyond the reserved price', () => {
    const f = fixture();
    const stop = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10000 }).orderId; // reserve 10500
    f.sell(BOB, 1, 10000);
    f.sell(BOB, 5, 10600);
    f.buy(CAROL, 1, 10000); // last = 10000, triggers; best ask 10600 > 10500
    expect(f.execTypes(stop)).toContain(ExecType.TRIGGERED);
    expect(f.trades()).toHaveLength(1);
    expect(f.lastExec(stop)).toMatchObject({ ordStatus: OrdStatus.EXPIRED, cumQtyLots: 0 });
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('a stop whose price is already crossed by the last trade triggers on arrival', () => {
    const f = fixture();
    f.sell(BOB, 1, 10000);
    f.buy(CAROL, 1, 10000); // last = 10000
    f.sell(BOB, 5, 10050);
    const stop = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 9900 }).orderId;
    expect(f.execTypes(stop)).toEqual([ExecType.NEW, ExecType.TRIGGERED, ExecType.TRADE]);
    expect(f.trades()).toMatchObject([{ priceTicks: 10050, qtyLots: 5, takerOrderId: stop }]);
    expect(f.lastExec(stop)).toMatchObject({ ordStatus: OrdStatus.FILLED, cumQtyLots: 5, leavesQtyLots: 0 });
    f.done();
  });

  it('a stop does not trigger before any trade, nor when the last price does not reach it', () => {
    const f = fixture();
    const stop = f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP, 5, { stopPriceTicks: 9900 }).orderId;
    f.buy(BOB, 1, 9950);
    f.sell(CAROL, 1, 9950); // last 9950 > 9900
    expect(f.execs(stop)).toEqual([]);
    expect(f.status(stop)).toBe(OrdStatus.PENDING_TRIGGER);
    f.done();
  });

  it('a triggered stop_limit that cannot fill rests on the book at its limit', () => {
    const f = fixture();
    const sl = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP_LIMIT, 5, { stopPriceTicks: 10000, priceTicks: 10050 }).orderId;
    f.expectBal(ALICE, 'USD', FUND.USD, 50_250);
    f.sell(BOB, 1, 10000);
    f.sell(BOB, 5, 10100);
    f.buy(CAROL, 1, 10000);
    expect(f.execTypes(sl)).toEqual([ExecType.TRIGGERED]);
    expect(f.of('bookAdd')).toMatchObject([{ orderId: sl, priceTicks: 10050, qtyLots: 5 }]);
    expect(f.status(sl)).toBe(OrdStatus.NEW);
    expect(f.l2().bids).toEqual([[10050, 5, 1]]);
    f.expectBal(ALICE, 'USD', FUND.USD, 50_250);
    f.done();
  });

  it('triggered stops run lowest orderId first and cascade until none is triggered', () => {
    const f = fixture();
    f.buy(BOB, 1, 10000);
    f.sell(CAROL, 1, 10000); // last = 10000
    f.buy(BOB, 5, 9900);
    f.buy(BOB, 5, 9800);
    f.buy(BOB, 5, 9700);
    f.buy(BOB, 5, 9600);
    const s1 = f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP, 5, { stopPriceTicks: 9800 }).orderId;
    const s2 = f.order(CAROL, 'AAPL', Side.SELL, OrdType.STOP, 5, { stopPriceTicks: 9900 }).orderId;
    const s3 = f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP, 5, { stopPriceTicks: 9950 }).orderId;
    for (const s of [s1, s2, s3]) expect(f.status(s)).toBe(OrdStatus.PENDING_TRIGGER);
    f.sell(CAROL, 5, 9900); // last = 9900: s2 and s3 triggered; s2 (lower id) runs first, trades at 9800, which triggers s1
    const triggered = f.execs().filter((e) => e.execType === ExecType.TRIGGERED).map((e) => e.orderId);
    expect(triggered).toEqual([s2, s1, s3]);
    expect(f.trades().map((t) => [t.priceTicks, t.takerOrderId])).toEqual([
      [9900, s3 + 1],
      [9800, s2],
      [9700, s1],
      [9600, s3],
    ]);
    expect(f.e.symbol('AAPL')!.lastPxTicks).toBe(9600);
    expect(f.e.openOrders(ALICE)).toEqual([]);
    expect(f.e.openOrders(CAROL)).toEqual([]);
    f.done();
  });

  it('buy-side cascade: lowest orderId first, not lowest stop price', () => {
    const f = fixture();
    f.sell(BOB, 1, 10000);
    f.buy(CAROL, 1, 10000); // last = 10000
    for (const p of [10100, 10200, 10300, 10400]) f.sell(BOB, 5, p);
    const s1 = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10200 }).orderId;
    const s2 = f.order(CAROL, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10100 }).orderId;
    const s3 = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10050 }).orderId;
    for (const s of [s1, s2, s3]) expect(f.status(s)).toBe(OrdStatus.PENDING_TRIGGER);
    f.buy(CAROL, 5, 10100); // last = 10100: s2 and s3 triggered; s2 runs first (10200), which triggers s1 (id lower than s3)
    expect(f.execs().filter((e) => e.execType === ExecType.TRIGGERED).map((e) => e.orderId)).toEqual([s2, s1, s3]);
    expect(f.trades().map((t) => [t.priceTicks, t.takerOrderId])).toEqual([
      [10100, s3 + 1],
      [10200, s2],
      [10300, s1],
      [10400, s3],
    ]);
    f.done();
  });

  it('canceling a pending stop releases its reservation', () => {
    const f = fixture();
    const id = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP_LIMIT, 5, { stopPriceTicks: 10000, priceTicks: 10100 }).orderId;
    f.expectBal(ALICE, 'USD', FUND.USD, 50_500);
    expect(f.cancel(ALICE, id)).toBe(0);
    expect(f.lastExec(id)).toMatchObject({ execType: ExecType.CANCELED, ordStatus: OrdStatus.CANCELED });
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });
});
