import { describe, expect, it } from 'vitest';
import { ALICE, BOB, ExecType, fixture, FUND, OrdStatus, OrdType, Side } from '../helpers.js';

const CANCEL_NEWEST = 1;
const CANCEL_OLDEST = 2;
const CANCEL_BOTH = 3;
const DECREMENT = 4;
const R_STP = 3;

describe('self-trade prevention', () => {
  it('cancel_newest (default): the incoming order is canceled, the maker stays', () => {
    const f = fixture();
    const maker = f.sell(ALICE, 5, 10000);
    const taker = f.buy(ALICE, 5, 10000);
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(taker)).toMatchObject({ execType: ExecType.CANCELED, ordStatus: OrdStatus.CANCELED, reason: R_STP, cumQtyLots: 0, leavesQtyLots: 0 });
    expect(f.execs(maker)).toEqual([]);
    expect(f.l3().asks).toEqual([{ orderId: maker, priceTicks: 10000, qtyLots: 5 }]);
    expect(f.l3().bids).toEqual([]);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 5);
    f.done();
  });

  it('cancel_newest after partial fills with other makers: only the leaves are canceled', () => {
    const f = fixture();
    f.sell(BOB, 3, 10000);
    const own = f.sell(ALICE, 5, 10000);
    f.sell(BOB, 5, 10000);
    const taker = f.buy(ALICE, 8, 10000, { stp: CANCEL_NEWEST });
    expect(f.trades()).toMatchObject([{ qtyLots: 3 }]);
    expect(f.lastExec(taker)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP, cumQtyLots: 3, cumNotionalTickLots: 30_000 });
    expect(f.status(own)).toBe(OrdStatus.NEW);
    f.expectBal(ALICE, 'USD', FUND.USD - 30_000, 0);
    f.done();
  });

  it('cancel_oldest: the resting own order is canceled and matching goes on', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000);
    const bob = f.sell(BOB, 5, 10000);
    const taker = f.buy(ALICE, 5, 10000, { stp: CANCEL_OLDEST });
    expect(f.lastExec(own)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    expect(f.trades()).toMatchObject([{ makerOrderId: bob, takerOrderId: taker, qtyLots: 5 }]);
    expect(f.lastExec(taker)).toMatchObject({ ordStatus: OrdStatus.FILLED });
    f.expectBal(ALICE, 'AAPL', FUND.AAPL + 5, 0);
    f.expectBal(ALICE, 'USD', FUND.USD - 50_000, 0);
    expect(f.l2()).toEqual({ bids: [], asks: [] });
    f.done();
  });

  it('cancel_both: both are canceled, both reservations released', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000);
    f.sell(BOB, 5, 10000);
    const taker = f.buy(ALICE, 3, 10000, { stp: CANCEL_BOTH });
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(own)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    expect(f.lastExec(taker)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 0);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    expect(f.l2().asks).toEqual([[10000, 5, 1]]);
    f.done();
  });

  it('decrement, smaller incoming: incoming canceled, maker restated with qty reduced, bookCancel', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000);
    const taker = f.buy(ALICE, 3, 10000, { stp: DECREMENT });
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(taker)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    expect(f.execs(own)).toMatchObject([{ execType: ExecType.RESTATED, reason: R_STP, qtyLots: 2, leavesQtyLots: 2 }]);
    expect(f.of('bookCancel')).toMatchObject([{ orderId: own, canceledLots: 3, remainingLots: 2 }]);
    expect(f.e.getOrder(own)).toMatchObject({ qtyLots: 2, leavesLots: 2 });
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 2);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('decrement, larger incoming: maker canceled, incoming restated and matching goes on', () => {
    const f = fixture();
    const own = f.sell(ALICE, 3, 10000);
    const bob = f.sell(BOB, 4, 10000);
    const taker = f.buy(ALICE, 5, 10000, { stp: DECREMENT });
    expect(f.lastExec(own)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    const restated = f.execs(taker).find((e) => e.execType === ExecType.RESTATED)!;
    expect(restated).toMatchObject({ reason: R_STP, qtyLots: 2, leavesQtyLots: 2 });
    expect(f.trades()).toMatchObject([{ makerOrderId: bob, qtyLots: 2 }]);
    expect(f.lastExec(taker)).toMatchObject({ ordStatus: OrdStatus.FILLED, qtyLots: 2, cumQtyLots: 2 });
    f.expectBal(ALICE, 'USD', FUND.USD - 20_000, 0);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL + 2, 0);
    expect(f.l3().asks).toEqual([{ orderId: bob, priceTicks: 10000, qtyLots: 2 }]);
    f.done();
  });

  it('decrement, equal: both canceled', () => {
    const f = fixture();
    const own = f.sell(ALICE, 4, 10000);
    const taker = f.buy(ALICE, 4, 10000, { stp: DECREMENT });
    expect(f.lastExec(own)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    expect(f.lastExec(taker)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    expect(f.trades()).toEqual([]);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 0);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('STP applies to market orders too', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 5, { stp: CANCEL_OLDEST });
    expect(f.lastExec(own)).toMatchObject({ execType: ExecType.CANCELED, reason: R_STP });
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(r.orderId).cumQtyLots).toBe(0);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });
});
