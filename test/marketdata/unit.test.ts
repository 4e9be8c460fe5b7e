/**
 * The market-data core's rules one at a time: priority on replace (as the engine does it),
 * coalescing (an IOC sweep is one update per channel), candle closing and the UTC day in L1,
 * symbols learned from the stream, desync detection, bounded histories, the sorted price
 * structure, and the client-side LocalBook's snapshot / buffer / gap rules.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { decodeEvents, type DecodedEvent } from '../../src/engine/events.js';
import { MarketDataDesyncError } from '../../src/marketdata/book.js';
import { LocalBook } from '../../src/marketdata/localBook.js';
import { MarketState } from '../../src/marketdata/marketState.js';
import { marketStateFromEngine } from '../../src/marketdata/seed.js';
import { SortedPrices } from '../../src/marketdata/sortedPrices.js';
import type { Candle, CandleChannel, CandlesUpdate, MdUpdate } from '../../src/marketdata/types.js';
import { ALICE, BOB, CAROL, DAY_US, fixture, OrdType, Side, T0, type Fixture } from '../helpers.js';
import { rng } from './session.js';

const MIN_US = 60_000_000;
const Tif = { IOC: 3 } as const;

/** A fixture with a MarketState seeded from it that records every update, per command. */
function setup(): { f: Fixture; ms: MarketState; updates: MdUpdate[]; run: (fn: () => void) => MdUpdate[] } {
  const f = fixture();
  const updates: MdUpdate[] = [];
  const ms = marketStateFromEngine(f.e, { sink: (u) => updates.push(u) });
  const run = (fn: () => void) => {
    const from = updates.length;
    fn();
    ms.apply(f.ev);
    return updates.slice(from);
  };
  return { f, ms, updates, run };
}

const ids = (xs: { orderId: number }[]) => xs.map((x) => x.orderId);
type Of<C> = C extends CandleChannel ? CandlesUpdate : Extract<MdUpdate, { channel: C }>;
const only = <C extends MdUpdate['channel']>(us: MdUpdate[], symbol: string, channel: C): Of<C> => {
  const xs = us.filter((u) => u.symbol === symbol && u.channel === channel);
  expect(xs.length, `${symbol} ${channel} updates`).toBe(1);
  return xs[0] as Of<C>;
};
/** makes the fixture's next command run at tsUs */
const at = (f: Fixture, tsUs: number) => {
  f.now = tsUs - 1000;
};

/** a hand-made decoded event */
const ev = (seq: number, tsUs: number, event: string, fields: Record<string, number | string | null>): DecodedEvent => ({ event, seq, tsUs, ...fields }) as DecodedEvent;

describe('book priority mirrors the engine', () => {
  it('a qty decrease keeps the place; a qty increase or a price change goes to the back, even back at the old price', () => {
    const { f, ms, run } = setup();
    let a = 0;
    let b = 0;
    let c = 0;
    run(() => (a = f.buy(ALICE, 10, 10_000)));
    run(() => (b = f.buy(BOB, 10, 10_000)));
    run(() => (c = f.buy(CAROL, 10, 10_000)));
    expect(ids(ms.l3('AAPL')!.bids)).toEqual([a, b, c]);
    let us = run(() => f.replace(ALICE, a, 4));
    expect(ids(ms.l3('AAPL')!.bids)).toEqual([a, b, c]);
    expect(only(us, 'AAPL', 'l3').msgs).toEqual([{ type: 'cancel', orderId: a, side: 1, priceTicks: 10_000, qtyLots: 6, remainingLots: 4 }]);
    expect(only(us, 'AAPL', 'l2').bids).toEqual([[10_000, 24, 3]]);
    us = run(() => f.replace(BOB, b, 11));
    expect(ids(ms.l3('AAPL')!.bids)).toEqual([a, c, b]);
    expect(only(us, 'AAPL', 'l3').msgs).toEqual([{ type: 'replace', orderId: b, side: 1, oldPriceTicks: 10_000, oldQtyLots: 10, priceTicks: 10_000, qtyLots: 11 }]);
    run(() => f.replace(ALICE, a, undefined, 9_999));
    run(() => f.replace(ALICE, a, undefined, 10_000));
    expect(ids(ms.l3('AAPL')!.bids)).toEqual([c, b, a]);
    expect(ms.l3('AAPL')!.bids).toEqual(f.l3().bids.map((o) => ({ orderId: o.orderId, priceTicks: o.priceTicks, qtyLots: o.qtyLots })));
  });

  it('a replace that crosses is a delete and then an incoming order', () => {
    const { f, ms, run } = setup();
    run(() => f.sell(BOB, 5, 10_010));
    const b = f.buy(ALICE, 8, 10_000);
    ms.apply(f.ev);
    const us = run(() => f.replace(ALICE, b, undefined, 10_010));
    expect(only(us, 'AAPL', 'l3').msgs.map((m) => m.type)).toEqual(['delete', 'trade', 'execute', 'add']);
    expect(ms.l3('AAPL')).toMatchObject({ bids: [{ orderId: b, priceTicks: 10_010, qtyLots: 3 }], asks: [] });
    expect(only(us, 'AAPL', 'l2')).toMatchObject({ bids: [[10_010, 3, 1], [10_000, 0, 0]], asks: [[10_010, 0, 0]] });
  });
});

describe('coalescing: one update per (symbol, channel) per command', () => {
  it('an IOC sweeping five levels gives one l2 update with five levels, one trades update with five trades, l3 messages in event order', () => {
    const { f, ms, run } = setup();
    const makers: number[] = [];
    for (let i = 1; i <= 5; i++) run(() => makers.push(f.sell(BOB, 10, 10_000 + i)));
    run(() => f.buy(CAROL, 7, 9_990));
    const before = ms.seq('AAPL', 'l2');
    const us = run(() => f.order(ALICE, 'AAPL', Side.BUY, OrdType.LIMIT, 60, { priceTicks: 10_010, tif: Tif.IOC }));
    expect(us.filter((u) => u.symbol === 'AAPL').map((u) => u.channel)).toEqual(['l1', 'l2', 'l3', 'trades', 'candles:1m', 'candles:5m', 'candles:15m', 'candles:1h', 'candles:1d']);
    expect(us.every((u) => u.journalSeq === f.seq && u.tsUs === f.now)).toBe(true);
    const l2 = only(us, 'AAPL', 'l2');
    expect(l2.seq).toBe(before + 1);
    expect(l2.asks).toEqual([1, 2, 3, 4, 5].map((i) => [10_000 + i, 0, 0]));
    expect(l2.bids).toEqual([]);
    const trades = only(us, 'AAPL', 'trades').trades;
    expect(trades.map((t) => [t.priceTicks, t.qtyLots, t.takerSide, t.tsUs])).toEqual([1, 2, 3, 4, 5].map((i) => [10_000 + i, 10, 1, f.now]));
    const l3 = only(us, 'AAPL', 'l3').msgs;
    expect(l3.map((m) => m.type)).toEqual(['trade', 'execute', 'trade', 'execute', 'trade', 'execute', 'trade', 'execute', 'trade', 'execute']);
    expect(l3[1]).toMatchObject({ type: 'execute', orderId: makers[0], qtyLots: 10, remainingLots: 0, tradeId: trades[0]!.tradeId });
    expect(only(us, 'AAPL', 'l1').l1).toEqual({ bidPx: 9_990, bidQty: 7, askPx: null, askQty: null, lastPx: 10_005, lastQty: 10, open: 10_001, high: 10_005, low: 10_001, volume: 50, tsUs: f.now });
    const c1m = only(us, 'AAPL', 'candles:1m').candles;
    expect(c1m).toEqual([{ t: Math.floor(f.now / 1000 / 60_000) * 60_000, o: 10_001, h: 10_005, l: 10_001, c: 10_005, v: 50, n: 5, closed: false }]);
  });

  it('a level that ends the command as it began sends no l2 update (but l3 does), and no command sends an empty update', () => {
    const got: MdUpdate[] = [];
    const ms = new MarketState({ sink: (u) => got.push(u) });
    ms.addSymbol(0, 'X');
    ms.apply([ev(1, 1_000, 'bookAdd', { symbolIdx: 0, orderId: 1, side: 1, priceTicks: 100, qtyLots: 5 })]);
    got.length = 0;
    ms.apply([
      ev(2, 2_000, 'bookDelete', { symbolIdx: 0, orderId: 1, side: 1, priceTicks: 100, removedLots: 5 }),
      ev(2, 2_000, 'bookAdd', { symbolIdx: 0, orderId: 2, side: 1, priceTicks: 100, qtyLots: 5 }),
    ]);
    expect(got.map((u) => u.channel)).toEqual(['l3']);
    expect(ms.l3('X')!.bids).toEqual([{ orderId: 2, priceTicks: 100, qtyLots: 5 }]);
    got.length = 0;
    ms.apply([ev(3, 3_000, 'balance', { accountId: 1 }), ev(3, 3_000, 'reject', { rejectCode: 1, message: 'x' })]);
    expect(got).toEqual([]);
    expect(ms.journalSeq).toBe(3);
  });
});

describe('candles and the UTC day', () => {
  it('a candle closes at the first event at or past its end, of any symbol; the next trade opens a new one; at midnight L1 day stats go null', () => {
    const { f, ms, run } = setup();
    const t0 = Math.floor(T0 / MIN_US) * MIN_US; // 12:00:00
    f.now = t0 + 30_000_000 - 2000; // the next two commands run at 12:00:29.999 and 12:00:30
    run(() => f.sell(BOB, 10, 10_000));
    const us1 = run(() => f.buy(ALICE, 4, 10_000)); // trade at 12:00:30
    expect(f.now).toBe(t0 + 30_000_000);
    const c = only(us1, 'AAPL', 'candles:1m').candles;
    expect(c).toEqual([{ t: t0 / 1000, o: 10_000, h: 10_000, l: 10_000, c: 10_000, v: 4, n: 1, closed: false }]);
    // an event of another symbol at 12:00:59.999999 closes nothing; at 12:01:00 the AAPL 1m candle closes
    let us = run(() => f.run({ type: 'newOrder', accountId: CAROL, symbol: 'BTC-USD', side: Side.BUY, ordType: OrdType.LIMIT, qtyLots: 1, priceTicks: 100, tsUs: t0 + MIN_US - 1 }));
    expect(us.filter((u) => u.symbol === 'AAPL')).toEqual([]);
    us = run(() => f.run({ type: 'cancelOrder', accountId: CAROL, orderId: 999, tsUs: t0 + MIN_US })); // only a cancelReject event
    expect(us.map((u) => `${u.symbol} ${u.channel}`)).toEqual(['AAPL candles:1m']);
    const closed = (us[0] as CandlesUpdate).candles;
    expect(closed).toEqual([{ ...c[0]!, closed: true }]);
    // the next AAPL trade opens a new 1m candle and extends the open 5m and 1d ones
    at(f, t0 + MIN_US + 10_000_000);
    us = run(() => f.buy(ALICE, 2, 10_000));
    expect(only(us, 'AAPL', 'candles:1m').candles).toEqual([{ t: t0 / 1000 + 60_000, o: 10_000, h: 10_000, l: 10_000, c: 10_000, v: 2, n: 1, closed: false }]);
    expect(only(us, 'AAPL', 'candles:5m').candles).toEqual([{ t: t0 / 1000, o: 10_000, h: 10_000, l: 10_000, c: 10_000, v: 6, n: 2, closed: false }]);
    expect(ms.l1('AAPL')!.l1).toMatchObject({ lastPx: 10_000, lastQty: 2, open: 10_000, high: 10_000, low: 10_000, volume: 6 });
    expect(ms.candles('AAPL', '1m')!.candles.map((x) => x.closed)).toEqual([true, false]);
    // midnight: everything closes; L1 keeps last, loses the day
    const midnight = (Math.floor(t0 / DAY_US) + 1) * DAY_US;
    us = run(() => f.run({ type: 'cancelOrder', accountId: CAROL, orderId: 999, tsUs: midnight }));
    expect(us.map((u) => u.channel)).toEqual(['l1', 'candles:1m', 'candles:5m', 'candles:15m', 'candles:1h', 'candles:1d']);
    expect(only(us, 'AAPL', 'l1').l1).toMatchObject({ lastPx: 10_000, lastQty: 2, open: null, high: null, low: null, volume: null, tsUs: midnight });
    expect(only(us, 'AAPL', 'candles:1d').candles).toEqual([{ t: Math.floor(t0 / DAY_US) * 86_400_000, o: 10_000, h: 10_000, l: 10_000, c: 10_000, v: 6, n: 2, closed: true }]);
    expect(ms.candles('AAPL', '1d', 0, Number.MAX_SAFE_INTEGER)!.candles.every((x: Candle) => x.closed)).toBe(true);
  });

  it('advanceTime closes candles from a journal time that came without events', () => {
    const { f, ms, run, updates } = setup();
    run(() => f.sell(BOB, 10, 10_000));
    run(() => f.buy(ALICE, 4, 10_000));
    expect(f.now % (5 * MIN_US)).toBeLessThan(MIN_US); // 12:00:00.002: the next minute is no 5m boundary
    const minute = (Math.floor(f.now / MIN_US) + 1) * MIN_US;
    const hour = (Math.floor(f.now / (60 * MIN_US)) + 1) * 60 * MIN_US;
    let n = updates.length;
    ms.advanceTime(minute - 1);
    expect(updates.length).toBe(n);
    ms.advanceTime(minute);
    expect(updates.slice(n).map((u) => u.channel)).toEqual(['candles:1m']);
    expect(updates.slice(n).every((u) => u.journalSeq === f.seq && u.tsUs === minute)).toBe(true);
    n = updates.length;
    ms.advanceTime(hour, f.seq + 5);
    expect(updates.slice(n).map((u) => u.channel)).toEqual(['candles:5m', 'candles:15m', 'candles:1h']);
    expect(updates.slice(n).every((u) => u.journalSeq === f.seq + 5 && u.tsUs === hour)).toBe(true);
    ms.advanceTime(hour - MIN_US); // time never goes back
    expect(ms.clockUs).toBe(hour);
    expect(ms.candles('AAPL', '1d')!.candles.map((x) => x.closed)).toEqual([false]);
  });

  it('history is bounded: the newest trades and candles are kept, oldest first', () => {
    const f = fixture();
    const ms = marketStateFromEngine(f.e, { tradeHistory: 5, candleHistory: 3 });
    f.sell(BOB, 100, 10_000);
    ms.apply(f.ev);
    const tradeIds: number[] = [];
    for (let i = 0; i < 8; i++) {
      at(f, f.now + MIN_US);
      f.buy(ALICE, 1, 10_000);
      ms.apply(f.ev);
      tradeIds.push(f.trades()[0]!.tradeId as number);
    }
    expect(ms.trades('AAPL')!.trades.map((t) => t.tradeId)).toEqual(tradeIds.slice(-5));
    expect(ms.trades('AAPL', 2)!.trades.map((t) => t.tradeId)).toEqual(tradeIds.slice(-2));
    expect(ms.trades('AAPL', 0)!.trades).toEqual([]);
    const c = ms.candles('AAPL', '1m')!.candles;
    expect(c.length).toBe(3);
    expect(c.map((x) => x.closed)).toEqual([true, true, false]);
    expect(ms.candles('AAPL', '1m', c[1]!.t)!.candles).toEqual(c.slice(1));
    expect(ms.candles('AAPL', '1m', undefined, undefined, 1)!.candles).toEqual(c.slice(2));
  });
});

describe('symbols, snapshots and errors', () => {
  it('learns symbols and trading states from the stream, by idx and by name', () => {
    const e = new Engine();
    const ms = new MarketState();
    let seq = 0;
    const cmds = [
      { type: 'addAsset', asset: 'USD', decimals: 2 },
      { type: 'addAsset', asset: 'XYZ', decimals: 0 },
      { type: 'addSymbol', config: { symbol: 'XYZ-USD', base: 'XYZ', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '100', maxNotional: '100000' } },
      { type: 'setSymbolState', symbol: 'XYZ-USD', state: 4 },
    ];
    for (const c of cmds) {
      e.events.clear();
      e.apply({ ...c, seq: ++seq, tsUs: T0 + seq } as never);
      ms.apply(decodeEvents(e.events));
    }
    expect(ms.symbols()).toEqual([{ idx: 0, name: 'XYZ-USD', state: 4, tradingDay: Math.floor(T0 / DAY_US) }]);
    expect(ms.symbolName(0)).toBe('XYZ-USD');
    expect(ms.l3(0)).toEqual(ms.l3('XYZ-USD'));
    expect(ms.l3('XYZ-USD')).toMatchObject({ seq: 2, state: 4, bids: [], asks: [] });
    expect(ms.l2('XYZ-USD')).toEqual({ symbolIdx: 0, symbol: 'XYZ-USD', seq: 0, journalSeq: 4, bids: [], asks: [] });
    expect(ms.l1('XYZ-USD')!.l1).toMatchObject({ bidPx: null, askPx: null, lastPx: null, open: null });
    expect(ms.l2('NOPE')).toBeNull();
    expect(ms.seq('NOPE', 'l2')).toBe(-1);
    expect(ms.candles('XYZ-USD', '2m' as never)).toBeNull();
  });

  it('an event that does not fit the book throws MarketDataDesyncError (the owner reseeds)', () => {
    const ms = new MarketState();
    ms.addSymbol(0, 'X');
    const add = ev(1, 1, 'bookAdd', { symbolIdx: 0, orderId: 1, side: 2, priceTicks: 100, qtyLots: 5 });
    ms.apply([add]);
    const bad: [string, DecodedEvent][] = [
      ['unknown order', ev(2, 2, 'bookExecute', { symbolIdx: 0, orderId: 9, side: 2, priceTicks: 100, execQtyLots: 1, remainingLots: 4, tradeId: 1 })],
      ['wrong remaining', ev(2, 2, 'bookExecute', { symbolIdx: 0, orderId: 1, side: 2, priceTicks: 100, execQtyLots: 1, remainingLots: 3, tradeId: 1 })],
      ['wrong price', ev(2, 2, 'bookCancel', { symbolIdx: 0, orderId: 1, side: 2, priceTicks: 101, canceledLots: 1, remainingLots: 4 })],
      ['wrong side', ev(2, 2, 'bookDelete', { symbolIdx: 0, orderId: 1, side: 1, priceTicks: 100, removedLots: 5 })],
      ['wrong qty', ev(2, 2, 'bookReplace', { symbolIdx: 0, orderId: 1, side: 2, oldPriceTicks: 100, oldQtyLots: 4, newPriceTicks: 100, newQtyLots: 6 })],
      ['duplicate add', add],
      ['unknown symbol', ev(2, 2, 'bookAdd', { symbolIdx: 5, orderId: 2, side: 2, priceTicks: 100, qtyLots: 5 })],
      ['symbol without a name', ev(2, 2, 'symbol', { symbolIdx: 6, kind: 1, config: '{}' })],
    ];
    for (const [why, e] of bad) expect(() => new MarketState().apply([e]), why).toThrow(MarketDataDesyncError);
    for (const [why, e] of bad) {
      const fresh = new MarketState();
      fresh.addSymbol(0, 'X');
      fresh.apply([add]);
      expect(() => fresh.apply([e]), why).toThrow(MarketDataDesyncError);
    }
    expect(() => ms.addSymbol(0, 'Y')).toThrow(MarketDataDesyncError);
  });
});

describe('SortedPrices', () => {
  it('stays equal to a sorted array through random inserts and removes (bids and asks)', () => {
    const r = rng(42);
    for (const isBid of [true, false]) {
      const sp = new SortedPrices(isBid, 2);
      const ref = new Set<number>();
      for (let i = 0; i < 20_000; i++) {
        const px = 1 + Math.floor(r() * 300);
        if (ref.has(px) && r() < 0.55) {
          if (!sp.remove(px)) throw new Error(`could not remove ${px}`);
          ref.delete(px);
        } else if (!ref.has(px)) {
          sp.insert(px);
          ref.add(px);
        } else if (sp.remove(px + 1000)) throw new Error('removed an absent price');
        if (i % 97 === 0) {
          const want = [...ref].sort((a, b) => (isBid ? b - a : a - b));
          const got = Array.from({ length: sp.n }, (_, k) => sp.priceAt(k));
          if (got.join() !== want.join()) expect(got).toEqual(want);
          if (want.length > 0 && sp.best() !== want[0]) expect(sp.best()).toBe(want[0]);
        }
      }
    }
  });
});

describe('LocalBook', () => {
  const snap = (seq: number) => ({ seq, bids: [[100, 5, 1]] as [number, number, number][], asks: [[101, 7, 2]] as [number, number, number][] });
  const upd = (seq: number, bids: [number, number, number][] = [], asks: [number, number, number][] = []) => ({ seq, bids, asks });

  it('buffers updates until the snapshot, drops those it already reflects, applies the rest', () => {
    const lb = new LocalBook();
    expect(lb.applyUpdate(upd(4, [[100, 1, 1]]))).toBe('buffered');
    expect(lb.applyUpdate(upd(5, [[99, 3, 1]]))).toBe('buffered');
    expect(lb.applyUpdate(upd(6, [], [[101, 0, 0]]))).toBe('buffered');
    expect(lb.applySnapshot(snap(4))).toBe(true);
    expect(lb.seq).toBe(6);
    expect(lb.bids()).toEqual([
      [100, 5, 1],
      [99, 3, 1],
    ]);
    expect(lb.asks()).toEqual([]);
    expect(lb.bestBid()).toEqual([100, 5]);
    expect(lb.bestAsk()).toBeNull();
    expect(lb.applyUpdate(upd(6, [[100, 9, 9]]))).toBe('stale');
    expect(lb.applyUpdate(upd(7, [[100, 0, 0]]))).toBe('applied');
    expect(lb.bids(1)).toEqual([[99, 3, 1]]);
  });

  it('detects a gap, stops applying, and recovers from a new snapshot with the updates buffered since', () => {
    const lb = new LocalBook();
    lb.applySnapshot(snap(10));
    expect(lb.applyUpdate(upd(11, [[100, 6, 2]]))).toBe('applied');
    expect(lb.applyUpdate(upd(13, [[100, 8, 3]]))).toBe('gap');
    expect(lb.needsSnapshot).toBe(true);
    expect(lb.applyUpdate(upd(14, [[98, 1, 1]]))).toBe('buffered');
    expect(lb.bids()).toEqual([[100, 6, 2]]); // nothing applied past the gap
    // a snapshot older than the buffered updates still leaves a gap
    expect(lb.applySnapshot(snap(11))).toBe(false);
    expect(lb.gaps).toBe(2);
    expect(lb.applySnapshot({ seq: 13, bids: [[100, 8, 3]], asks: [] })).toBe(true);
    expect(lb.seq).toBe(14);
    expect(lb.bids()).toEqual([
      [100, 8, 3],
      [98, 1, 1],
    ]);
  });

  it('keeps at most maxPending buffered updates (the oldest go; the next snapshot shows the gap)', () => {
    const lb = new LocalBook(3);
    for (let s = 1; s <= 5; s++) lb.applyUpdate(upd(s, [[100 - s, 1, 1]]));
    expect(lb.applySnapshot({ seq: 0, bids: [], asks: [] })).toBe(false);
    expect(lb.applySnapshot({ seq: 2, bids: [], asks: [] })).toBe(true);
    expect(lb.seq).toBe(5);
  });
});
