import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, Code, dayStart, DAY_US, ExecType, fixture, HOUR_US, MIN_US, OrdStatus, OrdType, Side, T0 } from '../helpers.js';

const CLOSED = 1;
const PRE_OPEN = 2;
const OPEN = 3;
const HALTED = 4;
const CANCEL_ONLY = 5;
const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];
const D0 = dayStart(T0);
const OPEN_AT = D0 + 14 * HOUR_US + 30 * MIN_US;
const CLOSE_AT = D0 + 21 * HOUR_US;

describe('trading states', () => {
  it('setSymbolState emits a tradingState event and is reflected by symbol()', () => {
    const f = fixture();
    expect(f.run({ type: 'setSymbolState', symbol: 'AAPL', state: HALTED })).toBe(Code.OK);
    expect(f.of('tradingState')).toMatchObject([{ symbolIdx: 0, state: HALTED }]);
    expect(f.e.symbol('AAPL')!.state).toBe(HALTED);
    expect(f.e.symbol('BTC-USD')!.state).toBe(OPEN);
    f.done();
  });

  it('halted: resting orders stay; new orders SYMBOL_HALTED; the other symbol trades', () => {
    const f = fixture();
    const a = f.buy(ALICE, 5, 10000);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: HALTED });
    expect(f.status(a)).toBe(OrdStatus.NEW);
    f.expectOrderReject(BOB, 'AAPL', Side.SELL, OrdType.LIMIT, 5, { priceTicks: 10000 }, Code.SYMBOL_HALTED);
    f.sell(BOB, 1, 40000, {}, 'BTC-USD');
    f.buy(CAROL, 1, 40000, {}, 'BTC-USD');
    expect(f.trades()).toHaveLength(1);
    f.done();
  });

  it('cancel_only: new orders MARKET_CLOSED, cancels accepted', () => {
    const f = fixture();
    const a = f.buy(ALICE, 5, 10000);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: CANCEL_ONLY });
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 5, { priceTicks: 9000 }, Code.MARKET_CLOSED);
    expect(f.cancel(ALICE, a)).toBe(Code.OK);
    expect(f.lastExec(a).execType).toBe(ExecType.CANCELED);
    f.done();
  });

  it('stops do not trigger while the symbol is not open', () => {
    const f = fixture();
    const s = f.order(ALICE, 'AAPL', Side.BUY, OrdType.STOP, 1, { stopPriceTicks: 10000 }).orderId;
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: PRE_OPEN });
    f.sell(BOB, 1, 10000);
    f.buy(CAROL, 1, 9000);
    expect(f.status(s)).toBe(OrdStatus.PENDING_TRIGGER);
    f.done();
  });

  it('session: closed before the open, open at 14:30, closed at 21:00, via ticks with tradingState events', () => {
    const f = fixture({ aapl: { session: { open: '14:30', close: '21:00', weekdays: ALL_DAYS } } });
    expect(f.e.symbol('AAPL')!.state).toBe(CLOSED);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100 }, Code.MARKET_CLOSED);
    f.tickAt(OPEN_AT - 1);
    expect(f.of('tradingState')).toEqual([]);
    f.tickAt(OPEN_AT);
    expect(f.of('tradingState')).toMatchObject([{ symbolIdx: 0, state: OPEN }]);
    expect(f.e.symbol('AAPL')!.state).toBe(OPEN);
    expect(f.buy(ALICE, 1, 100)).toBeGreaterThan(0);
    f.tickAt(CLOSE_AT);
    expect(f.of('tradingState')).toMatchObject([{ symbolIdx: 0, state: CLOSED }]);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100 }, Code.MARKET_CLOSED);
    // the next day opens again; a command (not only a tick) runs the timers
    f.run({ type: 'newOrder', accountId: ALICE, symbol: 'AAPL', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: 100, tsUs: OPEN_AT + DAY_US });
    expect(f.lastCode).toBe(Code.OK);
    expect(f.names()[0]).toBe('tradingState');
    f.done();
  });

  it('a tick spanning several boundaries emits each transition in time order', () => {
    const f = fixture({ aapl: { session: { open: '14:30', close: '21:00', weekdays: ALL_DAYS } } });
    f.tickAt(CLOSE_AT + DAY_US + 1); // open d0, close d0, open d1, close d1
    expect(f.of('tradingState').map((e) => e.state)).toEqual([OPEN, CLOSED, OPEN, CLOSED]);
    f.done();
  });

  it('session weekdays: no open on a day not listed', () => {
    // T0 is a Wednesday (3); the session runs Thursdays only
    const f = fixture({ aapl: { session: { open: '14:30', close: '21:00', weekdays: [4] } } });
    f.tickAt(OPEN_AT);
    expect(f.of('tradingState')).toEqual([]);
    f.tickAt(OPEN_AT + DAY_US);
    expect(f.of('tradingState')).toMatchObject([{ state: OPEN }]);
    f.done();
  });

  it('a manual state change holds until the next scheduled transition', () => {
    const f = fixture({ aapl: { session: { open: '14:30', close: '21:00', weekdays: ALL_DAYS } } });
    f.tickAt(OPEN_AT);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: HALTED });
    f.tickAt(OPEN_AT + HOUR_US);
    expect(f.e.symbol('AAPL')!.state).toBe(HALTED);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 100 }, Code.SYMBOL_HALTED);
    f.tickAt(CLOSE_AT);
    expect(f.e.symbol('AAPL')!.state).toBe(CLOSED);
    f.tickAt(OPEN_AT + DAY_US);
    expect(f.e.symbol('AAPL')!.state).toBe(OPEN);
    f.done();
  });

  it('pre_open book then open: resting orders remain and trade once open', () => {
    const f = fixture();
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: PRE_OPEN });
    const a = f.buy(ALICE, 5, 10000);
    f.sell(BOB, 5, 10001);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: OPEN });
    f.sell(CAROL, 5, 10000);
    expect(f.trades()).toMatchObject([{ makerOrderId: a, qtyLots: 5, priceTicks: 10000 }]);
    f.done();
  });

  it('daily limit with a session resets when the trading day (latest open) changes', () => {
    const f = fixture({ aapl: { dailyAccountQtyLimit: '5', session: { open: '14:30', close: '21:00', weekdays: ALL_DAYS } } });
    f.tickAt(OPEN_AT);
    f.sell(BOB, 5, 10000);
    f.buy(ALICE, 5, 10000);
    f.expectOrderReject(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 9000 }, Code.DAILY_LIMIT_EXCEEDED);
    f.tickAt(OPEN_AT + DAY_US);
    expect(f.buy(ALICE, 5, 9000)).toBeGreaterThan(0);
    f.done();
  });
});
