import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, Code, ExecType, fixture, FUND, OrdStatus, OrdType, Side } from '../helpers.js';

const R_USER = 1;
const R_KILL_SWITCH = 4;

describe('cancel', () => {
  it('by orderId: exec canceled (user), bookDelete, reservation released', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    const b = f.buy(ALICE, 3, 9900);
    expect(f.cancel(ALICE, a)).toBe(Code.OK);
    expect(f.execs()).toMatchObject([{ orderId: a, execType: ExecType.CANCELED, ordStatus: OrdStatus.CANCELED, reason: R_USER, leavesQtyLots: 0, cumQtyLots: 0 }]);
    expect(f.of('bookDelete')).toMatchObject([{ orderId: a, priceTicks: 10000, removedLots: 10 }]);
    expect(f.of('balance')).toMatchObject([{ accountId: ALICE, deltaReserved: -100_000, reserved: 29_700 }]);
    f.expectBal(ALICE, 'USD', FUND.USD, 29_700);
    expect(f.e.openOrders(ALICE).map((o) => o.orderId)).toEqual([b]);
    f.done();
  });

  it('by clOrdId', () => {
    const f = fixture();
    const a = f.sell(ALICE, 10, 10000, { clOrdId: 'abc-1' });
    expect(f.run({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'abc-1' })).toBe(Code.OK);
    expect(f.lastExec(a)).toMatchObject({ execType: ExecType.CANCELED, clOrdId: 'abc-1' });
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 0);
    f.done();
  });

  it('a partially filled order: leaves canceled, fills kept', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    f.sell(BOB, 4, 10000);
    f.cancel(ALICE, a);
    expect(f.lastExec(a)).toMatchObject({ execType: ExecType.CANCELED, cumQtyLots: 4, leavesQtyLots: 0, cumNotionalTickLots: 40_000 });
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 0);
    f.done();
  });

  it("another account's order, or an unknown one, is NOT_FOUND with a cancelReject and no change", () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000, { clOrdId: 'x1' });
    f.expectReject({ type: 'cancelOrder', accountId: BOB, orderId: a }, Code.NOT_FOUND);
    expect(f.of('cancelReject')).toMatchObject([{ accountId: BOB, rejectCode: Code.NOT_FOUND }]);
    f.expectReject({ type: 'cancelOrder', accountId: BOB, clOrdId: 'x1' }, Code.NOT_FOUND);
    f.expectReject({ type: 'cancelOrder', accountId: ALICE, orderId: 12345 }, Code.NOT_FOUND);
    f.expectReject({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'nope' }, Code.NOT_FOUND);
    expect(f.status(a)).toBe(OrdStatus.NEW);
    f.done();
  });

  it('an already filled (kept) order is TOO_LATE_TO_CANCEL; so is a second cancel', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000, { clOrdId: 'fill-me' });
    f.sell(BOB, 10, 10000);
    expect(f.status(a)).toBe(OrdStatus.FILLED);
    f.expectReject({ type: 'cancelOrder', accountId: ALICE, orderId: a }, Code.TOO_LATE_TO_CANCEL);
    expect(f.of('cancelReject')).toMatchObject([{ orderId: a, rejectCode: Code.TOO_LATE_TO_CANCEL, ordStatus: OrdStatus.FILLED }]);
    f.expectReject({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'fill-me' }, Code.TOO_LATE_TO_CANCEL);
    const b = f.buy(ALICE, 1, 9000, { clOrdId: 'twice' });
    expect(f.cancel(ALICE, b)).toBe(Code.OK);
    f.expectReject({ type: 'cancelOrder', accountId: ALICE, orderId: b }, Code.TOO_LATE_TO_CANCEL);
    f.done();
  });

  it('massCancel cancels all open and pending orders of the account in orderId order', () => {
    const f = fixture();
    const a1 = f.buy(ALICE, 10, 10000);
    const b1 = f.buy(BOB, 5, 9000);
    const a2 = f.sell(ALICE, 1, 50_000, {}, 'BTC-USD');
    const a3 = f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP, 4, { stopPriceTicks: 9000 }).orderId;
    const a4 = f.sell(ALICE, 2, 11000);
    expect(f.run({ type: 'massCancel', accountId: ALICE })).toBe(Code.OK);
    expect(f.execs().map((e) => [e.orderId, e.execType])).toEqual([
      [a1, ExecType.CANCELED],
      [a2, ExecType.CANCELED],
      [a3, ExecType.CANCELED],
      [a4, ExecType.CANCELED],
    ]);
    expect(f.e.openOrders(ALICE)).toEqual([]);
    expect(f.status(b1)).toBe(OrdStatus.NEW);
    for (const asset of ['USD', 'AAPL', 'BTC']) expect(f.bal(ALICE, asset).reserved).toBe(0);
    f.done();
  });

  it('massCancel by symbol leaves other symbols alone', () => {
    const f = fixture();
    const a1 = f.buy(ALICE, 10, 10000);
    const a2 = f.sell(ALICE, 1, 50_000, {}, 'BTC-USD');
    const a3 = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP_LIMIT, 4, { stopPriceTicks: 11000, priceTicks: 11000 }).orderId;
    const a4 = f.buy(ALICE, 1, 40_000, {}, 'BTC-USD');
    expect(f.run({ type: 'massCancel', accountId: ALICE, symbol: 'AAPL' })).toBe(Code.OK);
    expect(f.execs().map((e) => e.orderId)).toEqual([a1, a3]);
    expect(f.e.openOrders(ALICE).map((o) => o.orderId)).toEqual([a2, a4]);
    f.expectBal(ALICE, 'BTC', FUND.BTC, 1_000_000);
    f.expectBal(ALICE, 'USD', FUND.USD, 40_000);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 0);
    f.done();
  });
});

describe('kill switch', () => {
  it('setAccountEnabled false cancels everything (kill_switch, orderId order) and rejects new orders', () => {
    const f = fixture();
    const a1 = f.buy(ALICE, 10, 10000);
    const a2 = f.sell(ALICE, 1, 50_000, {}, 'BTC-USD');
    const a3 = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 4, { stopPriceTicks: 11000 }).orderId;
    const a4 = f.buy(ALICE, 10, 9000);
    f.sell(BOB, 4, 10000); // a1 partially filled
    expect(f.run({ type: 'setAccountEnabled', accountId: ALICE, enabled: false })).toBe(Code.OK);
    expect(f.execs().map((e) => [e.orderId, e.execType, e.reason])).toEqual([
      [a1, ExecType.CANCELED, R_KILL_SWITCH],
      [a2, ExecType.CANCELED, R_KILL_SWITCH],
      [a3, ExecType.CANCELED, R_KILL_SWITCH],
      [a4, ExecType.CANCELED, R_KILL_SWITCH],
    ]);
    expect(f.e.openOrders(ALICE)).toEqual([]);
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 0);
    f.expectBal(ALICE, 'BTC', FUND.BTC, 0);
    expect(f.e.account(ALICE)).toMatchObject({ enabled: false, openOrders: 0 });
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100 }, Code.ACCOUNT_DISABLED);
    expect(f.run({ type: 'setAccountEnabled', accountId: ALICE, enabled: true })).toBe(Code.OK);
    expect(f.buy(ALICE, 1, 100)).toBeGreaterThan(0);
    f.done();
  });
});

describe('reservation on every exit path', () => {
  it('reserved equals what open orders need after fills, cancels, expiries, replaces, STP', () => {
    const f = fixture();
    const check = () => f.expectReservedMatchesOpenOrders();
    const keep1 = f.buy(ALICE, 7, 9950);
    const keep2 = f.sell(ALICE, 3, 10500);
    check();
    // fill (with price improvement)
    f.sell(BOB, 2, 9900);
    f.buy(ALICE, 5, 10000);
    check();
    // IOC remainder
    f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10000, tif: 3 });
    check();
    // cancel
    const c = f.buy(ALICE, 4, 9800);
    check();
    f.cancel(ALICE, c);
    check();
    // replace up and down, price change
    f.replace(ALICE, keep1, 9);
    check();
    f.replace(ALICE, keep1, 2);
    check();
    f.replace(ALICE, keep1, undefined, 9700);
    check();
    // STP cancel_oldest against own ask, then the taker rests
    f.buy(ALICE, 3, 10500, { stp: 2 });
    check();
    expect(f.e.openOrders(ALICE).map((o) => o.orderId)).not.toContain(keep2);
    // GTD and DAY expiry
    f.buy(ALICE, 2, 9000, { tif: 5, expireTimeUs: f.now + 10_000 });
    f.sell(ALICE, 2, 12000, { tif: 2 });
    check();
    f.tickAt(f.now + 20_000);
    check();
    f.tickAt(f.now + 86_400_000_000);
    check();
    // market sweep
    f.sell(CAROL, 3, 10400);
    f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 10);
    check();
    // kill switch
    f.run({ type: 'setAccountEnabled', accountId: ALICE, enabled: false });
    check();
    for (const asset of ['USD', 'AAPL', 'BTC']) expect(f.bal(ALICE, asset).reserved).toBe(0);
    f.done();
  });
});
