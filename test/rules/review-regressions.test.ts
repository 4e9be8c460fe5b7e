// Regressions for the bugs a code review found (each failed before its fix).
import { describe, expect, it } from 'vitest';
import { TradingState } from '../../src/domain/codes.js';
import { Engine } from '../../src/engine/engine.js';
import { ALICE, BOB, CAROL, Code, DAY_US, Fixture, HOUR_US, MIN_US, OrdType, Side, T0, dayStart } from '../helpers.js';

// T0 = Wed 2024-01-03 12:00 UTC
const SESSION = { open: '09:30', close: '16:00' };

describe('review regressions', () => {
  it('addSymbol refuses a state named like an Object.prototype property', () => {
    const f = new Fixture();
    for (const state of ['toString', 'constructor', '__proto__', 'hasOwnProperty'])
      f.expectReject({ type: 'addSymbol', config: { symbol: 'X1', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '10', maxNotional: '1000', state: state as never } }, Code.INVALID_CONFIG);
    f.done();
  });

  it('a scheduled open starts the new trading day even when the symbol was halted over night', () => {
    const f = new Fixture({ aapl: { session: SESSION, dailyAccountQtyLimit: '10' } });
    f.sell(BOB, 10, 10000);
    f.buy(ALICE, 10, 10000); // Wednesday: at the limit
    expect(f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 9000 }).code).toBe(Code.DAILY_LIMIT_EXCEEDED);
    const d0 = dayStart(T0);
    f.tickAt(d0 + 17 * HOUR_US);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: TradingState.HALTED });
    f.tickAt(d0 + DAY_US + 10 * HOUR_US); // Thursday, after the scheduled open
    expect(f.e.symbol('AAPL')!.tradingDay).toBe(d0 / DAY_US + 1);
    expect(f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 9000 }).code).toBe(Code.OK);
    f.done();
  });

  it('a scheduled open starts the new trading day after a manual after-hours open', () => {
    const f = new Fixture({ aapl: { session: SESSION, dailyAccountQtyLimit: '10' } });
    const d0 = dayStart(T0);
    f.tickAt(d0 + 17 * HOUR_US);
    f.run({ type: 'setSymbolState', symbol: 'AAPL', state: TradingState.OPEN });
    f.sell(BOB, 10, 10000);
    f.buy(ALICE, 10, 10000);
    f.tickAt(d0 + DAY_US + 10 * HOUR_US);
    expect(f.e.symbol('AAPL')!.tradingDay).toBe(d0 / DAY_US + 1);
    expect(f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 1, { priceTicks: 9000 }).code).toBe(Code.OK);
    f.done();
  });

  it('adding a session with updateSymbol keeps the day\'s quantity counted', () => {
    const f = new Fixture({ t0: T0 - DAY_US, aapl: { dailyAccountQtyLimit: '10' } });
    f.tickAt(T0);
    f.sell(BOB, 10, 10000);
    f.sell(CAROL, 10, 10000);
    f.buy(ALICE, 10, 10000);
    const before = f.e.symbol('AAPL')!.tradingDay;
    expect(f.run({ type: 'updateSymbol', symbol: 'AAPL', changes: { session: SESSION } })).toBe(Code.OK);
    expect(f.e.symbol('AAPL')!.tradingDay).toBe(before);
    expect(f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 10, { priceTicks: 10000 }).code).toBe(Code.DAILY_LIMIT_EXCEEDED);
    f.done();
  });

  it('timers run in time order after a gap: the 16:00 close and DAY expiry before a 17:00 GTD', () => {
    const f = new Fixture({ aapl: { session: SESSION } });
    const d0 = dayStart(T0);
    const day = f.buy(ALICE, 1, 10000, { tif: 2 });
    const gtd = f.buy(BOB, 1, 10000, { tif: 5, expireTimeUs: d0 + 17 * HOUR_US });
    f.tickAt(d0 + 18 * HOUR_US);
    const seen = f.ev.filter((e) => e.event === 'exec' || e.event === 'tradingState').map((e) => (e.event === 'exec' ? `expired#${e.orderId}` : `state=${e.state}`));
    expect(seen).toEqual([`state=${TradingState.CLOSED}`, `expired#${day}`, `expired#${gtd}`]);
    f.done();
  });

  it('a rejected command on a new UTC day leaves stateHash unchanged (the day is clock, not state)', () => {
    const f = new Fixture();
    const before = f.e.stateHash();
    expect(f.run({ type: 'cancelOrder', accountId: ALICE, orderId: 999, tsUs: dayStart(T0) + DAY_US + MIN_US })).toBe(Code.NOT_FOUND);
    expect(f.e.stateHash()).toBe(before);
  });

  it('the GTD heap stays bounded when GTD orders are canceled long before expiry', () => {
    const f = new Fixture();
    for (let i = 0; i < 5000; i++) f.cancel(ALICE, f.buy(ALICE, 1, 100, { tif: 5, expireTimeUs: T0 + 365 * DAY_US }));
    // bound: 2 x (GTD orders still known) + 1,024 slack; none is open here (it was 5,000 before)
    expect(f.e.gtd.size).toBeLessThanOrEqual(1025);
    f.done();
  });

  it('forgetting replaced orders at the day roll removes exactly their aliases', () => {
    const e = new Engine();
    let seq = 0;
    let now = T0;
    const run = (c: object, ts?: number) => e.apply({ ...c, seq: ++seq, tsUs: ts ?? ++now } as never);
    run({ type: 'addAsset', asset: 'USD', decimals: 2 });
    run({ type: 'addAsset', asset: 'AAPL', decimals: 0 });
    run({ type: 'addSymbol', config: { symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1000000', maxNotional: '100000000' } });
    run({ type: 'createAccount', name: 'a' });
    run({ type: 'deposit', accountId: 1, asset: 'USD', amountMinor: 1e12, transferId: 'd' });
    for (let i = 0; i < 3000; i++) {
      run({ type: 'newOrder', accountId: 1, symbol: 'AAPL', side: 1, ordType: 1, qtyLots: 10, priceTicks: 1000 + (i % 50), clOrdId: `o${i}` });
      for (let r = 1; r <= 3; r++) run({ type: 'replaceOrder', accountId: 1, orderId: i + 1, clOrdId: `o${i}r${r}` });
      e.events.clear();
    }
    expect(e.clOrd.aliases.size).toBe(9000);
    expect(e.getOrderByClOrdId(1, 'o5')?.orderId).toBe(6);
    run({ type: 'massCancel', accountId: 1 });
    run({ type: 'tick' }, dayStart(now) + DAY_US + 1);
    expect(e.clOrd.aliases.size).toBe(0);
    expect(e.getOrderByClOrdId(1, 'o5')).toBeNull();
    e.checkInvariants();
  });
});
