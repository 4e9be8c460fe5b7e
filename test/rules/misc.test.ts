import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { ALICE, BOB, CAROL, Code, ExecType, fixture, FUND, OrdStatus, OrdType, Side, T0, HOUR_US, type Fixture } from '../helpers.js';

describe('identifiers', () => {
  it('orderIds go to accepted orders only; tradeIds count from 1', () => {
    const f = fixture();
    expect(f.buy(ALICE, 1, 10000)).toBe(1);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 0, { priceTicks: 1 }, Code.INVALID_QUANTITY);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 2_000_000, { priceTicks: 1 }, Code.MAX_QTY_EXCEEDED);
    expect(f.sell(BOB, 1, 10000)).toBe(2);
    expect(f.trades()).toMatchObject([{ tradeId: 1 }]);
    f.sell(BOB, 2, 10000);
    f.buy(CAROL, 2, 10000);
    expect(f.trades()).toMatchObject([{ tradeId: 2 }]);
    f.done();
  });

  it('execId is the ordinal of the report inside its command, from 1 (docs: Identifiers)', () => {
    const f = fixture();
    const ids: number[] = [];
    f.buy(ALICE, 1, 10000);
    ids.push(...f.execs().map((e) => e.execId as number));
    f.sell(BOB, 1, 10000);
    ids.push(...f.execs().map((e) => e.execId as number));
    f.buy(CAROL, 3, 9000);
    ids.push(...f.execs().map((e) => e.execId as number));
    // new; new + maker trade + taker trade; new
    expect(ids).toEqual([1, 1, 2, 3, 1]);
    f.done();
  });
});

describe('market protection rounding', () => {
  it('buy: floor(bestAsk × 1.05) — 10010 -> 10510 (10510.5 floored, not rounded)', () => {
    const f = fixture();
    f.sell(BOB, 1, 10010);
    f.sell(BOB, 1, 10510);
    f.sell(BOB, 1, 10511);
    f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 3);
    expect(f.trades().map((t) => t.priceTicks)).toEqual([10010, 10510]);
    f.done();
  });

  it('sell: ceil(bestBid × 0.95) — 9999 -> 9500', () => {
    const f = fixture();
    f.buy(BOB, 1, 9999);
    f.buy(BOB, 1, 9500);
    f.buy(BOB, 1, 9499);
    f.order(ALICE, 'AAPL', Side.SELL, OrdType.MARKET, 3);
    expect(f.trades().map((t) => t.priceTicks)).toEqual([9999, 9500]);
    f.done();
  });

  it('a configured marketProtectionPct applies', () => {
    const f = fixture({ aapl: { marketProtectionPct: '1' } });
    f.sell(BOB, 1, 10000);
    f.sell(BOB, 1, 10100);
    f.sell(BOB, 1, 10101);
    f.order(ALICE, 'AAPL', Side.BUY, OrdType.MARKET, 3);
    expect(f.trades().map((t) => t.priceTicks)).toEqual([10000, 10100]);
    f.done();
  });
});

describe('more replace and expiry paths', () => {
  it('qty up on a partially filled order reserves for the new leaves', () => {
    const f = fixture();
    const a = f.buy(ALICE, 10, 10000);
    f.sell(BOB, 4, 10000);
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 60_000);
    f.replace(ALICE, a, 12);
    expect(f.e.getOrder(a)).toMatchObject({ qtyLots: 12, filledLots: 4, leavesLots: 8 });
    expect(f.of('bookReplace')).toMatchObject([{ oldQtyLots: 6, newQtyLots: 8 }]);
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 80_000);
    f.replace(ALICE, a, 5);
    expect(f.of('bookCancel')).toMatchObject([{ canceledLots: 7, remainingLots: 1 }]);
    f.expectBal(ALICE, 'USD', FUND.USD - 40_000, 10_000);
    f.done();
  });

  it('replace to a clOrdId already in use is DUPLICATE_CLORDID', () => {
    const f = fixture();
    f.buy(ALICE, 1, 100, { clOrdId: 'a' });
    const b = f.buy(ALICE, 1, 100, { clOrdId: 'b' });
    f.expectReject({ type: 'replaceOrder', accountId: ALICE, orderId: b, qtyLots: 2, clOrdId: 'a' }, Code.DUPLICATE_CLORDID);
    expect(f.of('cancelReject')).toHaveLength(1);
    f.done();
  });

  it('a GTD stop expires from pending_trigger and releases its reservation', () => {
    const f = fixture();
    const s = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 5, { stopPriceTicks: 10000, tif: 5, expireTimeUs: T0 + HOUR_US }).orderId;
    f.expectBal(ALICE, 'USD', FUND.USD, 52_500);
    f.tickAt(T0 + HOUR_US);
    expect(f.execs()).toMatchObject([{ orderId: s, execType: ExecType.EXPIRED, ordStatus: OrdStatus.EXPIRED }]);
    f.expectBal(ALICE, 'USD', FUND.USD, 0);
    // and it cannot trigger any more
    f.sell(BOB, 1, 10000);
    f.buy(CAROL, 1, 10000);
    expect(f.execs(s)).toEqual([]);
    f.done();
  });

  it('an IOC or FOK order never counts as open afterwards', () => {
    const f = fixture();
    f.sell(BOB, 2, 10000);
    f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10000, tif: 3 });
    f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 10000, tif: 4 });
    expect(f.e.account(ALICE)).toMatchObject({ openOrders: 0 });
    expect(f.e.openOrders(ALICE)).toEqual([]);
    f.done();
  });
});

describe('determinism and snapshots', () => {
  const script = (f: Fixture) => {
    f.sell(BOB, 5, 10000, { clOrdId: 's1' });
    f.buy(ALICE, 3, 10010);
    f.order(CAROL, 'AAPL', Side.SELL, OrdType.STOP, 2, { stopPriceTicks: 9990 });
    f.buy(ALICE, 4, 9990, { tif: 2 });
    f.sell(CAROL, 6, 9990);
    f.sell(ALICE, 1, 45_000, {}, 'BTC-USD');
  };

  it('the same commands give the same events and stateHash', () => {
    const a = fixture();
    const b = fixture();
    const evA: string[] = [];
    const evB: string[] = [];
    const wrap = (f: Fixture, out: string[]) => {
      const run = f.run.bind(f);
      f.run = (c) => {
        const code = run(c);
        out.push(f.e.events.toBytes().toString('base64'));
        return code;
      };
    };
    wrap(a, evA);
    wrap(b, evB);
    script(a);
    script(b);
    expect(evA).toEqual(evB);
    expect(a.e.stateHash()).toBe(b.e.stateHash());
    a.done();
  });

  it('Engine.restore(snapshot) continues with the same events and hash', () => {
    const a = fixture();
    script(a);
    const r = Engine.restore(a.e.snapshot());
    expect(r.stateHash()).toBe(a.e.stateHash());
    expect(() => r.checkInvariants()).not.toThrow();
    const cmd = { type: 'newOrder', accountId: BOB, symbol: 'AAPL', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 3, priceTicks: 10000, seq: a.seq + 1, tsUs: a.now + 1000 } as const;
    a.e.events.clear();
    r.events.clear();
    expect(a.e.apply(cmd)).toBe(r.apply(cmd));
    expect(r.events.toBytes().equals(a.e.events.toBytes())).toBe(true);
    expect(r.stateHash()).toBe(a.e.stateHash());
    a.done();
  });
});

describe('stop ordering across sides', () => {
  const setup = (buyFirst: boolean) => {
    const f = fixture();
    const mk = (side: Side) => f.order(ALICE, 'AAPL', side, OrdType.STOP, 1, { stopPriceTicks: 10000 }).orderId;
    const first = mk(buyFirst ? Side.BUY : Side.SELL);
    const second = mk(buyFirst ? Side.SELL : Side.BUY);
    f.sell(BOB, 5, 10050);
    f.buy(BOB, 5, 9950);
    f.buy(CAROL, 1, 10000);
    f.sell(BOB, 1, 10000); // last = 10000: the buy stop (last >= stop) and the sell stop (last <= stop) are both triggered
    return { f, first, second };
  };

  it('a buy and a sell stop triggered together: the lower orderId (buy) runs first', () => {
    const { f, first } = setup(true);
    const trig = f.execs().filter((e) => e.execType === ExecType.TRIGGERED);
    expect(trig[0]!.orderId).toBe(first);
    expect(f.trades()[1]).toMatchObject({ takerOrderId: first, priceTicks: 10050 });
    f.done();
  });

  it('a buy and a sell stop triggered together: the lower orderId (sell) runs first', () => {
    const { f, first } = setup(false);
    const trig = f.execs().filter((e) => e.execType === ExecType.TRIGGERED);
    expect(trig[0]!.orderId).toBe(first);
    expect(f.trades()[1]).toMatchObject({ takerOrderId: first, priceTicks: 9950 });
    f.done();
  });
});

describe('day boundaries', () => {
  it('a clOrdId is kept until the end of the UTC day on which the order closed (not the day it was placed)', () => {
    const f = fixture();
    const D1 = Math.floor(T0 / 86_400_000_000) * 86_400_000_000 + 86_400_000_000;
    const a = f.buy(ALICE, 1, 100, { clOrdId: 'k1' });
    f.tickAt(D1 + HOUR_US);
    f.cancel(ALICE, a);
    f.tickAt(D1 + 20 * HOUR_US);
    f.run({ type: 'newOrder', accountId: ALICE, symbol: 'AAPL', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: 100, clOrdId: 'k1' });
    expect(f.execs()).toMatchObject([{ execType: ExecType.ORDER_STATUS, orderId: a, ordStatus: OrdStatus.CANCELED }]);
    f.tickAt(D1 + 86_400_000_000);
    f.run({ type: 'newOrder', accountId: ALICE, symbol: 'AAPL', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: 100, clOrdId: 'k1' });
    expect(f.execs()).toMatchObject([{ execType: ExecType.NEW }]);
    f.done();
  });

  it('a pending DAY stop expires at 00:00 UTC and releases its reservation', () => {
    const f = fixture();
    const s = f.order(ALICE, 'AAPL', Side.SELL, OrdType.STOP_LIMIT, 4, { stopPriceTicks: 9000, priceTicks: 8900, tif: 2 }).orderId;
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 4);
    f.tickAt(Math.floor(T0 / 86_400_000_000) * 86_400_000_000 + 86_400_000_000);
    expect(f.execs()).toMatchObject([{ orderId: s, execType: ExecType.EXPIRED }]);
    f.expectBal(ALICE, 'AAPL', FUND.AAPL, 0);
    f.done();
  });
});

describe('misc reservation details', () => {
  it('a market sell reserves qty × lotMinor of base while it works', () => {
    const f = fixture();
    f.buy(BOB, 1, 43_000, {}, 'BTC-USD');
    f.order(ALICE, 'BTC-USD', Side.SELL, OrdType.MARKET, 3);
    expect(f.of('balance').find((b) => b.accountId === ALICE && (b.deltaReserved as number) > 0)).toMatchObject({ assetIdx: 2, deltaReserved: 3_000_000 });
    f.expectBal(ALICE, 'BTC', FUND.BTC - 1_000_000, 0);
    f.expectBal(ALICE, 'USD', FUND.USD + 43_000, 0);
    f.done();
  });

  it('a triggered stop meets its own resting order: STP applies (cancel_newest)', () => {
    const f = fixture();
    const own = f.sell(ALICE, 5, 10050);
    const s = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 2, { stopPriceTicks: 10000 }).orderId;
    f.sell(BOB, 1, 10000);
    f.buy(CAROL, 1, 10000);
    expect(f.lastExec(s)).toMatchObject({ execType: ExecType.CANCELED, reason: 3, cumQtyLots: 0 });
    expect(f.status(own)).toBe(OrdStatus.NEW);
    f.done();
  });
});
