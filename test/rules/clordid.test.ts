import { describe, expect, it } from 'vitest';
import { ALICE, BOB, Code, dayStart, DAY_US, ExecType, fixture, FUND, OrdStatus, OrdType, Side, T0, type CmdBody } from '../helpers.js';

const nb = (clOrdId: string, qtyLots = 10, priceTicks = 10000, extra: Record<string, unknown> = {}): CmdBody =>
  ({ type: 'newOrder', accountId: ALICE, symbol: 'AAPL', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots, priceTicks, clOrdId, ...extra }) as CmdBody;

describe('clOrdId idempotency', () => {
  it('same parameters: OK, one order_status exec for the original order, no state change', () => {
    const f = fixture();
    f.run(nb('c1'));
    const id = f.execs()[0]!.orderId as number;
    const before = f.e.stateHash();
    expect(f.run(nb('c1'))).toBe(Code.OK);
    expect(f.ev).toHaveLength(1);
    expect(f.ev[0]).toMatchObject({ event: 'exec', execType: ExecType.ORDER_STATUS, orderId: id, ordStatus: OrdStatus.NEW, qtyLots: 10, leavesQtyLots: 10, clOrdId: 'c1' });
    expect(f.e.stateHash()).toBe(before);
    expect(f.e.openOrders(ALICE)).toHaveLength(1);
    f.expectBal(ALICE, 'USD', FUND.USD, 100_000);
    f.done();
  });

  it('the replay describes the order as it is now (fills included)', () => {
    const f = fixture();
    f.run(nb('c1'));
    const id = f.execs()[0]!.orderId as number;
    f.sell(BOB, 4, 10000);
    f.run(nb('c1'));
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS, orderId: id, ordStatus: OrdStatus.PARTIALLY_FILLED, cumQtyLots: 4, leavesQtyLots: 6, cumNotionalTickLots: 40_000 }]);
    f.done();
  });

  it('different parameters: DUPLICATE_CLORDID, for every parameter', () => {
    const f = fixture();
    f.run(nb('c1'));
    for (const c of [
      nb('c1', 11),
      nb('c1', 10, 10001),
      nb('c1', 10, 10000, { side: Side.SELL }),
      nb('c1', 10, 10000, { symbol: 'BTC-USD' }),
      nb('c1', 10, 10000, { tif: 2 }),
      nb('c1', 10, 10000, { postOnly: true }),
      nb('c1', 10, 10000, { stp: 2 }),
      nb('c1', 10, 10000, { tif: 5, expireTimeUs: T0 + DAY_US }),
      nb('c1', 10, 10000, { ordType: OrdType.STOP_LIMIT, stopPriceTicks: 10000 }),
    ])
      f.expectReject(c, Code.DUPLICATE_CLORDID);
    f.done();
  });

  it('the key is per account', () => {
    const f = fixture();
    f.run(nb('c1'));
    const r = f.order(BOB, 'AAPL', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 10000, clOrdId: 'c1' });
    expect(r.code).toBe(Code.OK);
    expect(r.orderId).toBe(2);
    f.done();
  });

  it('kept after the order closes, within the UTC day', () => {
    const f = fixture();
    f.run(nb('c1'));
    const id = f.execs()[0]!.orderId as number;
    f.sell(BOB, 10, 10000);
    f.tickAt(dayStart(T0) + DAY_US - 100_000); // the next commands are 1 ms apart: still the same UTC day
    const before = f.e.stateHash();
    expect(f.run(nb('c1'))).toBe(Code.OK);
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS, orderId: id, ordStatus: OrdStatus.FILLED, cumQtyLots: 10 }]);
    expect(f.e.stateHash()).toBe(before);
    f.expectReject(nb('c1', 3), Code.DUPLICATE_CLORDID);
    // canceled orders too
    f.run(nb('c2', 1, 100));
    f.run({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'c2' });
    expect(f.run(nb('c2', 1, 100))).toBe(Code.OK);
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS, ordStatus: OrdStatus.CANCELED }]);
    f.done();
  });

  it('forgotten after the UTC day of closing ends', () => {
    const f = fixture();
    f.run(nb('c1'));
    const id = f.execs()[0]!.orderId as number;
    f.sell(BOB, 10, 10000);
    f.tickAt(dayStart(T0) + DAY_US);
    expect(f.e.getOrderByClOrdId(ALICE, 'c1')).toBeNull();
    expect(f.run(nb('c1', 3))).toBe(Code.OK);
    const x = f.execs()[0]!;
    expect(x.execType).toBe(ExecType.NEW);
    expect(x.orderId).toBeGreaterThan(id);
    f.done();
  });

  it('an open order keeps its clOrdId across days', () => {
    const f = fixture();
    f.run(nb('c1'));
    const id = f.execs()[0]!.orderId as number;
    f.tickAt(dayStart(T0) + 3 * DAY_US);
    expect(f.run(nb('c1'))).toBe(Code.OK);
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS, orderId: id }]);
    f.done();
  });

  it('rejected orders do not take their clOrdId', () => {
    const f = fixture();
    f.expectReject(nb('c1', 2_000_000), Code.MAX_QTY_EXCEEDED);
    expect(f.run(nb('c1'))).toBe(Code.OK);
    expect(f.execs()[0]!.execType).toBe(ExecType.NEW);
    f.done();
  });

  it('parameters are compared as first submitted (a replace does not change the key)', () => {
    const f = fixture();
    f.run(nb('c1'));
    const id = f.execs()[0]!.orderId as number;
    f.replace(ALICE, id, 5);
    expect(f.run(nb('c1'))).toBe(Code.OK);
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS, orderId: id, qtyLots: 5 }]);
    f.expectReject(nb('c1', 5), Code.DUPLICATE_CLORDID);
    f.done();
  });

  it('the replay is answered before the trading-state check', () => {
    const f = fixture();
    f.run(nb('c1'));
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: 4 });
    expect(f.run(nb('c1'))).toBe(Code.OK);
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS }]);
    f.expectReject(nb('c1', 9), Code.DUPLICATE_CLORDID);
    f.done();
  });

  it('dedupeCapacity evicts the oldest closed orders first', () => {
    const f = fixture({ engine: { dedupeCapacity: 1 } });
    f.run(nb('c1', 1, 100));
    f.run({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'c1' });
    f.run(nb('c2', 1, 100));
    f.run({ type: 'cancelOrder', accountId: ALICE, clOrdId: 'c2' });
    expect(f.run(nb('c2', 1, 100))).toBe(Code.OK);
    expect(f.execs()[0]!.execType).toBe(ExecType.ORDER_STATUS);
    expect(f.run(nb('c1', 1, 100))).toBe(Code.OK);
    expect(f.execs()[0]!.execType).toBe(ExecType.NEW);
    f.done();
  });
});
