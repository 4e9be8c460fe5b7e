import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, Code, dayStart, DAY_US, ExecType, fixture, FUND, HOUR_US, MIN_US, OrdStatus, OrdType, Side, T0 } from '../helpers.js';

const GTC = 1;
const DAY = 2;
const IOC = 3;
const FOK = 4;
const GTD = 5;
const STP_CANCEL_OLDEST = 2;
const R_IOC_REMAINDER = 5;
const R_FOK_UNFILLED = 6;
const R_DAY_EXPIRY = 9;
const R_GTD_EXPIRY = 10;

const MIDNIGHT = dayStart(T0) + DAY_US; // 2024-01-04 00:00 UTC
const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];
const SESSION = { session: { open: '14:30', close: '21:00', weekdays: ALL_DAYS } };

describe('GTC', () => {
  it('rests across days until canceled', () => {
    const f = fixture();
    const id = f.buy(ALICE, 10, 10000, { tif: GTC });
    f.tickAt(MIDNIGHT + 3 * DAY_US);
    expect(f.execs()).toEqual([]);
    expect(f.status(id)).toBe(OrdStatus.NEW);
    f.expectBal(ALICE, 'USD', FUND.USD, 100_000);
    f.done();
  });
});

describe('DAY', () => {
  it('without a session: expires at 00:00 UTC, releasing its reservation', () => {
    const f = fixture();
    const id = f.buy(ALICE, 10, 10000, { tif: DAY });
    const gtc = f.sell(ALICE, 3, 10100);
    f.tickAt(MIDNIGHT - 1);
    expect(f.execs()).toEqual([]);
    expect(f.status(id)).toBe(OrdStatus.NEW);
    f.tickAt(MIDNIGHT);
    expect(f.execs()).toMatchObject([{ orderId: id, execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED, reason: R_DAY_EXPIRY, leavesQtyLots: 0 }]);
    expect(f.of('bookDelete')).toMatchObject([{ orderId: id, removedLots: 10 }]);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    expect(f.status(gtc)).toBe(OrdStatus.NEW);
    expect(f.e.openOrders(ALICE).map((o) => o.orderId)).toEqual([gtc]);
    f.done();
  });

  it('a partially filled DAY order expires with its cum kept and its leaves released', () => {
    const f = fixture();
    const id = f.buy(ALICE, 10, 10000, { tif: DAY, clOrdId: 'd1' });
    f.sell(BOB, 4, 10000);
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 60_000);
    f.tickAt(MIDNIGHT + 5);
    expect(f.lastExec(id)).toMatchObject({ execType: ExecType.EXPIRED, cumQtyLots: 4, cumNotionalTickLots: 40_000 });
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 0);
    f.done();
  });

  it('expiry runs before the command at that time: a crossing order does not meet an expired DAY order', () => {
    const f = fixture();
    f.buy(ALICE, 10, 10000, { tif: DAY });
    f.run({ type: 'newOrder', accountId: BOB, symbol: 'AAPL', side: Side.SELL, ordType: OrdType.LIMIT, qtyLots: 10, priceTicks: 10000, tsUs: MIDNIGHT });
    expect(f.trades()).toEqual([]);
    expect(f.execs().map((e) => e.execType)).toEqual([ExecType.EXPIRED, ExecType.NEW]);
    expect(f.l2()).toEqual({ bids: [], asks: [[10000, 10, 1]] });
    f.done();
  });

  it('with a session: expires at the session close, after the tradingState(closed) event', () => {
    const f = fixture({ aapl: SESSION });
    const open = dayStart(T0) + 14 * HOUR_US + 30 * MIN_US;
    const close = dayStart(T0) + 21 * HOUR_US;
    f.tickAt(open);
    expect(f.e.symbol('AAPL')!.state).toBe(3);
    const day = f.buy(ALICE, 10, 10000, { tif: DAY });
    const gtc = f.buy(ALICE, 5, 9000);
    const btcDay = f.buy(ALICE, 1, 40000, { tif: DAY }, 'BTC-USD'); // no session: expires at midnight
    f.tickAt(close - 1);
    expect(f.execs()).toEqual([]);
    f.tickAt(close);
    expect(f.names().filter((n) => n === 'tradingState' || n === 'exec')).toEqual(['tradingState', 'exec']);
    expect(f.of('tradingState')).toMatchObject([{ symbolIdx: 0, state: 1 }]);
    expect(f.execs()).toMatchObject([{ orderId: day, execType: ExecType.EXPIRED, reason: R_DAY_EXPIRY }]);
    expect(f.status(gtc)).toBe(OrdStatus.NEW);
    expect(f.status(btcDay)).toBe(OrdStatus.NEW);
    f.expectBal(ALICE, 'USD', FUND.USD, 45_000 + 40_000);
    f.tickAt(MIDNIGHT);
    expect(f.execs()).toMatchObject([{ orderId: btcDay, execType: ExecType.EXPIRED, reason: R_DAY_EXPIRY }]);
    f.done();
  });
});

describe('DAY on a session symbol', () => {
  it('a DAY order placed after a manual reopen lives through 00:00 UTC and expires at the next session close', () => {
    const f = fixture({ aapl: SESSION });
    const close = dayStart(T0) + 21 * HOUR_US;
    f.tickAt(close + HOUR_US);
    expect(f.e.symbol('AAPL')!.state).toBe(1);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: 3 });
    const id = f.buy(ALICE, 2, 10000, { tif: DAY });
    f.tickAt(MIDNIGHT + HOUR_US);
    expect(f.execs()).toEqual([]);
    expect(f.status(id)).toBe(OrdStatus.NEW);
    f.tickAt(close + DAY_US);
    expect(f.execs()).toMatchObject([{ orderId: id, execType: ExecType.EXPIRED, reason: R_DAY_EXPIRY }]);
    f.done();
  });
});

describe('IOC', () => {
  it('fills what it can and expires the rest; nothing rests, nothing stays reserved', () => {
    const f = fixture();
    f.sell(BOB, 4, 10000);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 10100, tif: IOC });
    expect(f.trades()).toMatchObject([{ priceTicks: 10000, qtyLots: 4 }]);
    expect(f.lastExec(r.orderId)).toMatchObject({ execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED, cumQtyLots: 4, leavesQtyLots: 0, reason: R_IOC_REMAINDER });
    expect(f.of('bookAdd')).toEqual([]);
    expect(f.l2()).toEqual({ bids: [], asks: [] });
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 0);
    f.done();
  });

  it('with nothing to match expires at once', () => {
    const f = fixture();
    f.sell(BOB, 4, 10200);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 10100, tif: IOC });
    expect(r.code).toBe(Code.OK);
    expect(f.lastExec(r.orderId)).toMatchObject({ execType: ExecType.EXPIRED, cumQtyLots: 0 });
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });
});

describe('FOK', () => {
  it('expires with no fills when the whole quantity is not available within its price', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.sell(CAROL, 5, 10200);
    const before = f.l3();
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 8, { priceTicks: 10100, tif: FOK });
    expect(r.code).toBe(Code.OK);
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(r.orderId)).toMatchObject({ execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED, cumQtyLots: 0, reason: R_FOK_UNFILLED });
    expect(f.l3()).toEqual(before);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('fills completely across levels when it can', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.sell(CAROL, 5, 10200);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 8, { priceTicks: 10200, tif: FOK });
    expect(f.trades().map((t) => [t.priceTicks, t.qtyLots])).toEqual([
      [10000, 5],
      [10200, 3],
    ]);
    expect(f.lastExec(r.orderId)).toMatchObject({ ordStatus: OrdStatus.FILLED, cumQtyLots: 8, cumNotionalTickLots: 80_600 });
    f.expectBal(ALICE, 'USD', FUND.USD - 80_600, 0);
    f.done();
  });

  it('STP walk: an own order ends the walk under cancel_newest (no fills, own order untouched)', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000);
    f.sell(BOB, 5, 10010);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10010, tif: FOK });
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(r.orderId)).toMatchObject({ ordStatus: OrdStatus.EXPIRED, reason: R_FOK_UNFILLED });
    expect(f.status(own)).toBe(OrdStatus.NEW);
    f.done();
  });

  for (const [name, stp] of [
    ['cancel_both', 3],
    ['decrement', 4],
  ] as const) {
    it(`STP walk: an own order ends the walk under ${name} too (no fills, own order untouched)`, () => {
      const f = fixture();
      const own = f.sell(ALICE, 5, 10000);
      f.sell(BOB, 10, 10010);
      const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10010, tif: FOK, stp });
      expect(f.trades()).toEqual([]);
      expect(f.lastExec(r.orderId)).toMatchObject({ ordStatus: OrdStatus.EXPIRED, reason: R_FOK_UNFILLED });
      expect(f.execs(own)).toEqual([]);
      expect(f.e.getOrder(own)).toMatchObject({ status: OrdStatus.NEW, qtyLots: 5 });
      f.done();
    });
  }

  it('STP walk: own orders behind enough other liquidity do not matter', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    const own = f.sell(ALICE, 5, 10000);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10000, tif: FOK });
    expect(f.trades()).toMatchObject([{ qtyLots: 5 }]);
    expect(f.lastExec(r.orderId)).toMatchObject({ ordStatus: OrdStatus.FILLED });
    expect(f.status(own)).toBe(OrdStatus.NEW);
    f.done();
  });

  it('STP walk: an own order is skipped under cancel_oldest, and canceled when the FOK fills', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000, { clOrdId: 'own' });
    const bob = f.sell(BOB, 5, 10010);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10010, tif: FOK, stp: STP_CANCEL_OLDEST });
    expect(f.trades()).toMatchObject([{ makerOrderId: bob, priceTicks: 10010, qtyLots: 5 }]);
    expect(f.lastExec(own)).toMatchObject({ execType: ExecType.CANCELED, reason: 3 });
    expect(f.lastExec(r.orderId)).toMatchObject({ ordStatus: OrdStatus.FILLED });
    f.expectBal(ALICE, 'AAPL', FUND.AAPL + 5, 0);
    f.done();
  });

  it('STP walk under cancel_oldest: own quantity does not count; unfillable FOK leaves the own order alone', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10000);
    f.sell(BOB, 3, 10010);
    const r = f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10010, tif: FOK, stp: STP_CANCEL_OLDEST });
    expect(f.trades()).toEqual([]);
    expect(f.lastExec(r.orderId)).toMatchObject({ ordStatus: OrdStatus.EXPIRED, reason: R_FOK_UNFILLED });
    expect(f.status(own)).toBe(OrdStatus.NEW);
    f.done();
  });
});

describe('GTD', () => {
  it('expiry runs before the command at expireTimeUs: the order cannot trade then', () => {
    const f = fixture();
    const exp = T0 + HOUR_US;
    const id = f.buy(ALICE, 10, 10000, { tif: GTD, expireTimeUs: exp });
    f.run({ type: 'newOrder', accountId: BOB, symbol: 'AAPL', side: Side.SELL, ordType: OrdType.LIMIT, qtyLots: 10, priceTicks: 10000, tsUs: exp });
    expect(f.trades()).toEqual([]);
    expect(f.execs()[0]).toMatchObject({ orderId: id, execType: ExecType.EXPIRED, reason: R_GTD_EXPIRY });
    f.done();
  });

  it('expires at expireTimeUs (≤ now), not before', () => {
    const f = fixture();
    const exp = T0 + HOUR_US;
    const id = f.buy(ALICE, 10, 10000, { tif: GTD, expireTimeUs: exp });
    expect(f.e.getOrder(id)).toMatchObject({ expireTimeUs: exp, tif: GTD });
    f.tickAt(exp - 1);
    expect(f.execs()).toEqual([]);
    f.tickAt(exp);
    expect(f.execs()).toMatchObject([{ orderId: id, execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED, reason: R_GTD_EXPIRY }]);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    f.done();
  });

  it('expires in (expireTime, orderId) order', () => {
    const f = fixture();
    const x = f.buy(ALICE, 1, 10000, { tif: GTD, expireTimeUs: T0 + 2 * HOUR_US });
    const y = f.buy(BOB, 1, 10000, { tif: GTD, expireTimeUs: T0 + HOUR_US });
    const z = f.sell(CAROL, 1, 10100, { tif: GTD, expireTimeUs: T0 + HOUR_US });
    const w = f.sell(ALICE, 1, 10200, { tif: GTD, expireTimeUs: T0 + HOUR_US + 1 });
    f.tickAt(T0 + 3 * HOUR_US);
    expect(f.execs().map((e) => e.orderId)).toEqual([y, z, w, x]);
    f.done();
  });

  it('is rejected without an expireTimeUs in the future; other TIFs must not carry one', () => {
    const f = fixture();
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100, tif: GTD }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100, tif: GTD, expireTimeUs: f.now + 1000 }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100, tif: GTC, expireTimeUs: f.now + HOUR_US }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100, tif: DAY, expireTimeUs: f.now + HOUR_US }, Code.INVALID_REQUEST);
    f.done();
  });
});

describe('postOnly', () => {
  it('rests when it does not cross', () => {
    const f = fixture();
    f.sell(BOB, 5, 10001);
    const id = f.buy(ALICE, 5, 10000, { postOnly: true });
    expect(f.of('bookAdd')).toMatchObject([{ orderId: id, priceTicks: 10000 }]);
    expect(f.e.getOrder(id)).toMatchObject({ postOnly: true });
    f.done();
  });

  it('is rejected with POST_ONLY_WOULD_TRADE when it would cross, with no state change', () => {
    const f = fixture();
    f.sell(BOB, 5, 10000);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10000, postOnly: true }, Code.POST_ONLY_WOULD_TRADE);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10100, postOnly: true, tif: DAY }, Code.POST_ONLY_WOULD_TRADE);
    f.done();
  });

  it('counts own orders as crossing', () => {
    const f = fixture();
    f.buy(ALICE, 5, 10000);
    f.expectOrderReject(ALICE, 'AAPL', Side.SELL, OrdType.LIMIT, 5, { priceTicks: 9999, postOnly: true }, Code.POST_ONLY_WOULD_TRADE);
    f.done();
  });

  it('only on limit GTC / DAY / GTD orders', () => {
    const f = fixture();
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 100, postOnly: true, tif: IOC }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 100, postOnly: true, tif: FOK }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 5, { postOnly: true }, Code.INVALID_REQUEST);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.STOP_LIMIT, 5, { priceTicks: 100, stopPriceTicks: 100, postOnly: true }, Code.INVALID_REQUEST);
    expect(f.buy(ALICE, 5, 100, { postOnly: true, tif: GTD, expireTimeUs: f.now + HOUR_US })).toBeGreaterThan(0);
    f.done();
  });
});
