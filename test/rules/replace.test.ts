import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, Code, codeName, ExecType, fixture, FUND, OrdStatus, OrdType, Side } from '../helpers.js';

describe('replace', () => {
  it('a pure quantity decrease keeps time priority (bookCancel of the difference) and releases funds', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    const b = f.buy(BOB, 5, 10000);
    expect(f.replace(ALICE, a, 6)).toBe(Code.OK);
    expect(f.lastExec(a)).toMatchObject({ execType: ExecType.REPLACED, qtyLots: 6, leavesQtyLots: 6, priceTicks: 10000 });
    expect(f.of('bookCancel')).toMatchObject([{ orderId: a, priceTicks: 10000, canceledLots: 4, remainingLots: 6 }]);
    expect(f.of('bookReplace')).toEqual([]);
    expect(f.l3().bids.map((o) => [o.orderId, o.qtyLots])).toEqual([
      [a, 6],
      [b, 5],
    ]);
    expect(f.l2().bids).toEqual([[10000, 11, 2]]);
    f.expectBal(ALICE, 'USD', FUND.USD, 60_000);
    // still first: the next seller meets alice
    f.sell(CAROL, 1, 10000);
    expect(f.trades()).toMatchObject([{ makerOrderId: a }]);
    f.done();
  });

  it('a quantity increase loses priority (bookReplace) and reserves the difference', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    const b = f.buy(BOB, 5, 10000);
    expect(f.replace(ALICE, a, 12)).toBe(Code.OK);
    expect(f.of('bookReplace')).toMatchObject([{ orderId: a, oldPriceTicks: 10000, oldQtyLots: 10, newPriceTicks: 10000, newQtyLots: 12 }]);
    expect(f.l3().bids.map((o) => o.orderId)).toEqual([b, a]);
    expect(f.of('balance')).toMatchObject([{ accountId: ALICE, deltaReserved: 20_000, reserved: 120_000 }]);
    f.expectBal(ALICE, 'USD', FUND.USD, 120_000);
    f.done();
  });

  it('a price change moves the order to the back of its new level and adjusts the reservation', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    const b = f.buy(BOB, 5, 9990);
    expect(f.replace(ALICE, a, undefined, 9990)).toBe(Code.OK);
    expect(f.of('bookReplace')).toMatchObject([{ orderId: a, oldPriceTicks: 10000, oldQtyLots: 10, newPriceTicks: 9990, newQtyLots: 10 }]);
    expect(f.l3().bids.map((o) => [o.orderId, o.priceTicks])).toEqual([
      [b, 9990],
      [a, 9990],
    ]);
    f.expectBal(ALICE, 'USD', FUND.USD, 99_900);
    expect(f.replace(ALICE, a, undefined, 10050)).toBe(Code.OK);
    f.expectBal(ALICE, 'USD', FUND.USD, 100_500);
    f.done();
  });

  it('a quantity decrease together with a price change loses priority', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    const b = f.buy(BOB, 5, 9990);
    f.replace(ALICE, a, 4, 9990);
    expect(f.of('bookReplace')).toHaveLength(1);
    expect(f.l3().bids.map((o) => o.orderId)).toEqual([b, a]);
    f.expectBal(ALICE, 'USD', FUND.USD, 39_960);
    f.done();
  });

  it('a sell quantity change reserves / releases base', () => {
    const f = fixture();
    const a = f.sell(ALICE, 10, 10000);
    f.replace(ALICE, a, 15);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 15);
    f.replace(ALICE, a, 3);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 3);
    f.replace(ALICE, a, undefined, 12000);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 3);
    f.done();
  });

  it('a price change that crosses trades as the incoming order at the maker price', () => {
    const f = fixture();
    const ask = f.sell(BOB, 5, 10100);
    const a = f.buy(ALICE, 10, 10000);
    expect(f.replace(ALICE, a, undefined, 10200)).toBe(Code.OK);
    expect(f.trades()).toMatchObject([{ makerOrderId: ask, takerOrderId: a, priceTicks: 10100, qtyLots: 5 }]);
    expect(f.lastExec(a)).toMatchObject({ ordStatus: OrdStatus.PARTIALLY_FILLED, cumQtyLots: 5, leavesQtyLots: 5 });
    expect(f.l3().bids).toEqual([{ orderId: a, priceTicks: 10200, qtyLots: 5 }]);
    f.expectBal(ALICE, 'USD', FUND.USD - 50_500, 5 * 10200);
    f.done();
  });

  it('a rejected replace leaves the order exactly as it was and emits a cancelReject', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    const view = f.e.getOrder(a);
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, qtyLots: 1_000_001 }, Code.MAX_QTY_EXCEEDED);
    expect(f.of('cancelReject')).toMatchObject([{ accountId: ALICE, orderId: a, rejectCode: Code.MAX_QTY_EXCEEDED }]);
    expect(f.of('exec')).toEqual([]);
    expect(f.of('balance')).toEqual([]);
    expect(f.e.getOrder(a)).toEqual(view);
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, qtyLots: 0 }, Code.INVALID_QUANTITY);
    expect(f.of('cancelReject')).toHaveLength(1);
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, priceTicks: 0 }, Code.INVALID_PRICE);
    expect(f.of('cancelReject')).toHaveLength(1);
    expect(f.e.getOrder(a)).toEqual(view);
    f.done();
  });

  it('replace: new qty ≤ filled is rejected; new qty > filled is accepted', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    f.sell(BOB, 4, 10000);
    for (const q of [4, 3]) {
      const before = f.e.stateHash();
      const code = f.replace(ALICE, a, q);
      expect(codeName(code)).not.toBe('OK');
      expect(f.of('cancelReject')).toHaveLength(1);
      expect(f.e.stateHash()).toBe(before);
    }
    expect(f.replace(ALICE, a, 5)).toBe(Code.OK);
    expect(f.e.getOrder(a)).toMatchObject({ qtyLots: 5, filledLots: 4, leavesLots: 1 });
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 10_000);
    f.done();
  });

  it('replace: funds delta both ways, INSUFFICIENT_FUNDS for an increase beyond available', () => {
    const f = fixture();
    f.run({ type: 'createAccount', name: 'dave' });
    f.run({ type: 'deposit', accountId: 4, asset: 'USD', amountMinor: 100_000, transferId: 'dave1' });
    const a = f.buy(4, 10, 10000);
    f.expectBal(4, 'USD', 100_000, 100_000);
    f.expectReject({ type: 'replaceOrder', accountId: 4, orderId: a, qtyLots: 11 }, Code.INSUFFICIENT_FUNDS);
    f.expectReject({ type: 'replaceOrder', accountId: 4, orderId: a, priceTicks: 10001 }, Code.INSUFFICIENT_FUNDS);
    expect(f.replace(4, a, undefined, 9000)).toBe(Code.OK);
    f.expectBal(4, 'USD', 100_000, 90_000);
    expect(f.replace(4, a, 11)).toBe(Code.OK);
    f.expectBal(4, 'USD', 100_000, 99_000);
    f.done();
  });

  it('replace re-runs risk checks: band, notional, daily limit (in the documented order)', () => {
    const f = fixture({ aapl: { referencePrice: '100', priceBandPct: '10', dailyAccountQtyLimit: '10', maxNotional: '1000' } });
    const a = f.buy(ALICE, 10, 10000); // notional 1000.00 = max, daily 10 = limit
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, priceTicks: 11001 }, Code.PRICE_OUTSIDE_BAND);
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, priceTicks: 10001 }, Code.MAX_NOTIONAL_EXCEEDED);
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, qtyLots: 11, priceTicks: 9000 }, Code.DAILY_LIMIT_EXCEEDED);
    expect(f.replace(ALICE, a, 9)).toBe(Code.OK);
    expect(f.replace(ALICE, a, 10, 9000)).toBe(Code.OK);
    f.done();
  });

  it('a post-only order replaced to a crossing price is rejected (POST_ONLY_WOULD_TRADE), unchanged', () => {
    const f = fixture();
    f.sell(BOB, 5, 10100);
    const a = f.buy(ALICE, 5, 10000, { postOnly: true });
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: a, priceTicks: 10100 }, Code.POST_ONLY_WOULD_TRADE);
    expect(f.of('cancelReject')).toMatchObject([{ orderId: a, rejectCode: Code.POST_ONLY_WOULD_TRADE }]);
    expect(f.replace(ALICE, a, undefined, 10099)).toBe(Code.OK);
    f.done();
  });

  it('a sell replaced to a crossing price trades at the bid and rests the rest', () => {
    const f = fixture();
    const bid = f.buy(BOB, 3, 9900);
    const a = f.sell(ALICE, 5, 10000);
    f.replace(ALICE, a, undefined, 9800);
    expect(f.trades()).toMatchObject([{ makerOrderId: bid, takerOrderId: a, priceTicks: 9900, qtyLots: 3, takerSide: Side.SELL }]);
    expect(f.l3().asks).toEqual([{ orderId: a, priceTicks: 9800, qtyLots: 2 }]);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL - 3, 2);
    f.expectBal(ALICE, 'USD', FUND.USD + 29_700, 0);
    f.done();
  });

  it('replace by origClOrdId takes the new clOrdId; the old one still identifies the order', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000, { clOrdId: 'v1' });
    expect(f.run({ type: 'replaceOrder', accountId: ALICE, origClOrdId: 'v1', clOrdId: 'v2', qtyLots: 8 })).toBe(Code.OK);
    expect(f.lastExec(a)).toMatchObject({ execType: ExecType.REPLACED, clOrdId: 'v2' });
    expect(f.e.getOrderByClOrdId(ALICE, 'v2')?.orderId).toBe(a);
    expect(f.e.getOrderByClOrdId(ALICE, 'v1')?.orderId).toBe(a);
    expect(f.run({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'v1' })).toBe(Code.OK);
    expect(f.lastExec(a)).toMatchObject({ execType: ExecType.CANCELED });
    f.done();
  });

  it("replace of another account's order or an unknown one is NOT_FOUND", () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    f.expectReject({ type: 'replaceOrder', accountId: BOB, orderId: a, qtyLots: 5 }, Code.NOT_FOUND);
    expect(f.of('cancelReject')).toMatchObject([{ rejectCode: Code.NOT_FOUND }]);
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: 999, qtyLots: 5 }, Code.NOT_FOUND);
    f.done();
  });

  it('a pending stop_limit may be replaced (qty and limit), its reservation follows', () => {
    const f = fixture();
    const s = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP_LIMIT, 5, { stopPriceTicks: 10000, priceTicks: 10100 }).orderId;
    f.expectBal(ALICE, 'USD', FUND.USD, 50_500);
    expect(f.replace(ALICE, s, 8, 10200)).toBe(Code.OK);
    expect(f.e.getOrder(s)).toMatchObject({ status: OrdStatus.PENDING_TRIGGER, qtyLots: 8, priceTicks: 10200 });
    f.expectBal(ALICE, 'USD', FUND.USD, 81_600);
    expect(f.l2().bids).toEqual([]);
    f.done();
  });

  it('a pending stop (market on trigger) may change qty; reservation at its protection price', () => {
    const f = fixture();
    const s = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10000 }).orderId; // reserve 10500
    expect(f.replace(ALICE, s, 2)).toBe(Code.OK);
    f.expectBal(ALICE, 'USD', FUND.USD, 21_000);
    f.done();
  });
});
