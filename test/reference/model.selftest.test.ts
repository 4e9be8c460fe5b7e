/** Hand-checked scenarios for the reference model alone (no engine involved). */
import { describe, expect, it } from 'vitest';
import { Code, OrdStatus, OrdType, Side, Stp, Tif } from '../../src/domain/codes.js';
import type { Command } from '../../src/engine/commands.js';
import { RefModel } from './model.js';

const T0 = Date.UTC(2024, 0, 3, 12) * 1000;

function setup() {
  const m = new RefModel();
  let seq = 0;
  let now = T0;
  const run = (c: Record<string, unknown>) => {
    now += 1000;
    return m.apply({ ...c, seq: ++seq, tsUs: (c.tsUs as number | undefined) ?? now } as unknown as Command);
  };
  run({ type: 'addAsset', asset: 'USD', decimals: 2 });
  run({ type: 'addAsset', asset: 'AAA', decimals: 0 });
  run({ type: 'addAsset', asset: 'BBB', decimals: 6 });
  run({ type: 'addSymbol', config: { symbol: 'AAA-USD', base: 'AAA', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '50', maxNotional: '400' } });
  run({
    type: 'addSymbol',
    config: { symbol: 'BBB-USD', base: 'BBB', quote: 'USD', tickSize: '0.5', lotSize: '0.1', minQty: '0.3', maxQty: '5', maxNotional: '1000', makerFeeBps: 10, takerFeeBps: 25, marketProtectionPct: '2.5' },
  });
  for (const n of ['a', 'b', 'c']) run({ type: 'createAccount', name: n });
  for (const a of [1, 2, 3]) {
    run({ type: 'deposit', accountId: a, asset: 'USD', amountMinor: 1_000_000, transferId: `u${a}` });
    run({ type: 'deposit', accountId: a, asset: 'AAA', amountMinor: 1000, transferId: `a${a}` });
    run({ type: 'deposit', accountId: a, asset: 'BBB', amountMinor: 100_000_000, transferId: `b${a}` });
  }
  const order = (accountId: number, symbol: string, side: Side, ordType: OrdType, qtyLots: number, extra: Record<string, unknown> = {}) =>
    run({ type: 'newOrder', accountId, symbol, side, ordType, qtyLots, ...extra });
  return { m, run, order, now: () => now };
}

describe('reference model self-test', () => {
  it('derives k and lotMinor', () => {
    const { m } = setup();
    expect(m.sym('AAA-USD')).toMatchObject({ k: 1, lotMinor: 1, maxQtyLots: 50, maxNotionalMinor: 40000, minQtyLots: 1 });
    expect(m.sym('BBB-USD')).toMatchObject({ k: 5, lotMinor: 100_000, maxQtyLots: 50, minQtyLots: 3, maxNotionalMinor: 100000 });
  });

  it('limit cross: trade at maker price, price improvement released, balances settle', () => {
    const { m, order } = setup();
    expect(order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 5, { priceTicks: 1000 }).codes[0]).toBe(Code.OK);
    expect(m.balance(1, 'AAA')).toEqual({ totalMinor: 1000, reservedMinor: 5, availableMinor: 995 });
    const r = order(2, 'AAA-USD', Side.BUY, OrdType.LIMIT, 8, { priceTicks: 1003 });
    expect(r.trades).toEqual([{ tradeId: 1, symbol: 'AAA-USD', priceTicks: 1000, qtyLots: 5, makerOrderId: 1, takerOrderId: 2 }]);
    expect(m.balance(2, 'USD')).toEqual({ totalMinor: 1_000_000 - 5000, reservedMinor: 3 * 1003, availableMinor: 1_000_000 - 5000 - 3009 });
    expect(m.balance(2, 'AAA').totalMinor).toBe(1005);
    expect(m.balance(1, 'USD').totalMinor).toBe(1_005_000);
    expect(m.balance(1, 'AAA')).toEqual({ totalMinor: 995, reservedMinor: 0, availableMinor: 995 });
    expect(m.l3('AAA-USD')).toEqual({ bids: [{ orderId: 2, priceTicks: 1003, qtyLots: 3 }], asks: [] });
    expect(m.order(2)).toMatchObject({ status: OrdStatus.PARTIALLY_FILLED, filled: 5, leaves: 3 });
  });

  it('fees go to account 0 in the asset received', () => {
    const { m, order } = setup();
    order(1, 'BBB-USD', Side.SELL, OrdType.LIMIT, 10, { priceTicks: 400 }); // maker seller
    const r = order(2, 'BBB-USD', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 400 });
    expect(r.trades).toHaveLength(1);
    const N = 400 * 10 * 5; // 20000 cents
    const B = 10 * 100_000; // 1 BBB
    expect(m.balance(0, 'USD').totalMinor).toBe(Math.floor((N * 10) / 10000)); // maker seller 10 bps = 20
    expect(m.balance(0, 'BBB').totalMinor).toBe(Math.floor((B * 25) / 10000)); // taker buyer 25 bps = 2500
    expect(m.balance(1, 'USD').totalMinor).toBe(1_000_000 + N - 20);
    expect(m.balance(2, 'BBB').totalMinor).toBe(100_000_000 + B - 2500);
  });

  it('validation codes', () => {
    const { m, order, run } = setup();
    expect(order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 0, { priceTicks: 1000 }).codes[0]).toBe(Code.INVALID_QUANTITY);
    expect(order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 51, { priceTicks: 100 }).codes[0]).toBe(Code.MAX_QTY_EXCEEDED);
    expect(order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 41, { priceTicks: 1000 }).codes[0]).toBe(Code.MAX_NOTIONAL_EXCEEDED);
    expect(order(1, 'BBB-USD', Side.BUY, OrdType.LIMIT, 2, { priceTicks: 400 }).codes[0]).toBe(Code.INVALID_QUANTITY);
    expect(order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 5, { priceTicks: 1000 }).codes[0]).toBe(Code.OK);
    expect(order(2, 'AAA-USD', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 1000, postOnly: true }).codes[0]).toBe(Code.POST_ONLY_WOULD_TRADE);
    expect(order(2, 'AAA-USD', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 999, postOnly: true }).codes[0]).toBe(Code.OK);
    run({ type: 'withdraw', accountId: 3, asset: 'USD', amountMinor: 990_000, transferId: 'w1' });
    expect(order(3, 'AAA-USD', Side.BUY, OrdType.LIMIT, 11, { priceTicks: 1000 }).codes[0]).toBe(Code.INSUFFICIENT_FUNDS);
    expect(order(3, 'AAA-USD', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 1000 }).codes[0]).toBe(Code.OK);
    expect(m.orders.map((o) => o.orderId)).toEqual([1, 2, 3]);
    expect(m.order(1)!.status).toBe(OrdStatus.FILLED); // order 3 bought it
    expect(run({ type: 'cancelOrder', accountId: 1, orderId: 1 }).codes[0]).toBe(Code.TOO_LATE_TO_CANCEL);
    expect(run({ type: 'cancelOrder', accountId: 1, orderId: 2 }).codes[0]).toBe(Code.NOT_FOUND);
    expect(run({ type: 'cancelOrder', accountId: 1, orderId: 99 }).codes[0]).toBe(Code.NOT_FOUND);
    expect(run({ type: 'cancelOrder', accountId: 2, orderId: 2 }).codes[0]).toBe(Code.OK);
    expect(run({ type: 'cancelOrder', accountId: 2, orderId: 2 }).codes[0]).toBe(Code.TOO_LATE_TO_CANCEL);
    expect(run({ type: 'withdraw', accountId: 3, asset: 'USD', amountMinor: 990_000, transferId: 'w1' }).codes[0]).toBe(Code.OK);
    expect(run({ type: 'withdraw', accountId: 3, asset: 'USD', amountMinor: 1, transferId: 'w1' }).codes[0]).toBe(Code.DUPLICATE_TRANSFER_ID);
    expect(m.balance(3, 'USD')).toEqual({ totalMinor: 5_000, reservedMinor: 5_000, availableMinor: 0 });
  });

  it('market order: protection price, remainder expires; no liquidity expires', () => {
    const { m, order } = setup();
    expect(order(1, 'AAA-USD', Side.BUY, OrdType.MARKET, 5).codes[0]).toBe(Code.OK);
    expect(m.order(1)!.status).toBe(OrdStatus.EXPIRED);
    order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 2, { priceTicks: 1000 });
    order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 2, { priceTicks: 1050 });
    order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 2, { priceTicks: 1051 });
    const r = order(2, 'AAA-USD', Side.BUY, OrdType.MARKET, 10);
    expect(r.trades.map((t) => [t.priceTicks, t.qtyLots])).toEqual([
      [1000, 2],
      [1050, 2],
    ]);
    expect(m.order(5)).toMatchObject({ status: OrdStatus.EXPIRED, filled: 4, priceTicks: 1050 });
    expect(m.balance(2, 'USD').reservedMinor).toBe(0);
  });

  it('STP modes', () => {
    const { m, order } = setup();
    order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 5, { priceTicks: 1000 }); // 1
    order(2, 'AAA-USD', Side.SELL, OrdType.LIMIT, 5, { priceTicks: 1001 }); // 2
    let r = order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 3, { priceTicks: 1001 }); // 3 cancel_newest
    expect(r.trades).toEqual([]);
    expect(m.order(3)!.status).toBe(OrdStatus.CANCELED);
    r = order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 3, { priceTicks: 1001, stp: Stp.DECREMENT }); // 4
    expect(m.order(1)).toMatchObject({ qty: 2, leaves: 2, status: OrdStatus.NEW });
    expect(m.order(4)!.status).toBe(OrdStatus.CANCELED);
    r = order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 4, { priceTicks: 1001, stp: Stp.DECREMENT }); // 5
    expect(m.order(1)!.status).toBe(OrdStatus.CANCELED);
    expect(r.trades.map((t) => [t.makerOrderId, t.qtyLots])).toEqual([[2, 2]]);
    expect(m.order(5)).toMatchObject({ qty: 2, filled: 2, status: OrdStatus.FILLED });
    order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 1, { priceTicks: 1001 }); // 6 behind 2
    r = order(2, 'AAA-USD', Side.BUY, OrdType.LIMIT, 4, { priceTicks: 1001, stp: Stp.CANCEL_OLDEST }); // 7
    expect(m.order(2)!.status).toBe(OrdStatus.CANCELED);
    expect(r.trades.map((t) => [t.makerOrderId, t.qtyLots])).toEqual([[6, 1]]);
    expect(m.l3('AAA-USD').bids).toEqual([{ orderId: 7, priceTicks: 1001, qtyLots: 3 }]);
    r = order(2, 'AAA-USD', Side.SELL, OrdType.LIMIT, 1, { priceTicks: 1000, stp: Stp.CANCEL_BOTH }); // 8
    expect([m.order(7)!.status, m.order(8)!.status]).toEqual([OrdStatus.CANCELED, OrdStatus.CANCELED]);
  });

  it('FOK walk and stops cascade', () => {
    const { m, order } = setup();
    order(1, 'AAA-USD', Side.SELL, OrdType.LIMIT, 2, { priceTicks: 1000 }); // 1
    order(2, 'AAA-USD', Side.SELL, OrdType.LIMIT, 2, { priceTicks: 1001 }); // 2
    expect(order(3, 'AAA-USD', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 1001, tif: Tif.FOK }).trades).toEqual([]); // 3
    expect(m.order(3)!.status).toBe(OrdStatus.EXPIRED);
    expect(order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 2, { priceTicks: 1001, tif: Tif.FOK, stp: Stp.CANCEL_OLDEST }).trades).toHaveLength(1); // 4
    expect(m.order(1)!.status).toBe(OrdStatus.CANCELED);
    // book: ask 2 left? no: order 4 took 2 from order 2
    order(2, 'AAA-USD', Side.SELL, OrdType.LIMIT, 3, { priceTicks: 1002 }); // 5
    order(2, 'AAA-USD', Side.SELL, OrdType.LIMIT, 3, { priceTicks: 1004 }); // 6
    order(3, 'AAA-USD', Side.BUY, OrdType.STOP, 2, { stopPriceTicks: 1002 }); // 7 (lastPx 1001: pending)
    order(1, 'AAA-USD', Side.BUY, OrdType.STOP_LIMIT, 2, { stopPriceTicks: 1003, priceTicks: 1003 }); // 8
    expect(m.order(7)!.status).toBe(OrdStatus.PENDING_TRIGGER);
    const r = order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 1002 }); // 9 trades 1002 -> stop 7 buys 2 (1@1002... )
    expect(r.trades.map((t) => [t.priceTicks, t.qtyLots, t.makerOrderId, t.takerOrderId])).toEqual([
      [1002, 1, 5, 9],
      [1002, 2, 5, 7],
    ]);
    expect(m.order(8)!.status).toBe(OrdStatus.PENDING_TRIGGER); // last 1002 < 1003
    const r2 = order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 1004 }); // 10 trades 1004, triggers 8 (limit 1003: rests)
    expect(r2.trades.map((t) => [t.priceTicks, t.qtyLots])).toEqual([[1004, 1]]);
    expect(m.l3('AAA-USD').bids[0]).toEqual({ orderId: 8, priceTicks: 1003, qtyLots: 2 });
  });

  it('replace: priority, funds, crossing; GTD and DAY expiry', () => {
    const { m, order, run, now } = setup();
    order(1, 'AAA-USD', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 1000 }); // 1
    order(2, 'AAA-USD', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 1000 }); // 2
    expect(run({ type: 'replaceOrder', accountId: 1, orderId: 1, qtyLots: 4 }).codes[0]).toBe(Code.OK);
    expect(m.l3('AAA-USD').bids.map((b) => b.orderId)).toEqual([1, 2]);
    expect(run({ type: 'replaceOrder', accountId: 1, orderId: 1, qtyLots: 6 }).codes[0]).toBe(Code.OK);
    expect(m.l3('AAA-USD').bids.map((b) => b.orderId)).toEqual([2, 1]);
    expect(m.balance(1, 'USD').reservedMinor).toBe(6000);
    order(3, 'AAA-USD', Side.SELL, OrdType.LIMIT, 3, { priceTicks: 1002 }); // 3
    const r = run({ type: 'replaceOrder', accountId: 1, orderId: 1, priceTicks: 1003 });
    expect(r.trades.map((t) => [t.priceTicks, t.qtyLots, t.makerOrderId, t.takerOrderId])).toEqual([[1002, 3, 3, 1]]);
    expect(m.l3('AAA-USD').bids.map((b) => [b.orderId, b.priceTicks, b.qtyLots])).toEqual([
      [1, 1003, 3],
      [2, 1000, 5],
    ]);
    expect(run({ type: 'replaceOrder', accountId: 1, orderId: 1, qtyLots: 3 }).codes[0]).toBe(Code.INVALID_QUANTITY);
    order(3, 'AAA-USD', Side.SELL, OrdType.LIMIT, 1, { priceTicks: 1010, tif: Tif.GTD, expireTimeUs: now() + 5000 }); // 4
    order(3, 'AAA-USD', Side.SELL, OrdType.LIMIT, 1, { priceTicks: 1011, tif: Tif.DAY }); // 5
    run({ type: 'tick', tsUs: now() + 10_000 });
    expect(m.order(4)!.status).toBe(OrdStatus.EXPIRED);
    expect(m.order(5)!.status).toBe(OrdStatus.NEW);
    run({ type: 'tick', tsUs: Date.UTC(2024, 0, 4) * 1000 });
    expect(m.order(5)!.status).toBe(OrdStatus.EXPIRED);
    expect(m.order(1)!.status).toBe(OrdStatus.PARTIALLY_FILLED);
  });
});
