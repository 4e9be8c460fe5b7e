/**
 * The read-only queries over a database written from a random session: closed orders are exactly
 * the orders whose last report is final; paging with cursors visits every row once, newest first,
 * with and without filters (symbol, order, time window); an order comes with its fills; trade
 * history pages; candles from SQL equal candles computed here from the trade rows (open, high, low,
 * close, volume, count, closed flag) at every resolution; list queries walk an index in order (no
 * sort); bad arguments are refused with QueryError.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecType, OrdStatus } from '../../src/domain/codes.js';
import type { DecodedEvent } from '../../src/engine/events.js';
import { RESOLUTION_MS, RESOLUTIONS, type Resolution } from '../../src/marketdata/types.js';
import {
  type CandleRow,
  candles,
  closedOrders,
  executions,
  type ExecutionsQuery,
  type Fill,
  MAX_CANDLES,
  openReportsReadonly,
  orderWithFills,
  type Page,
  QUERY_SQL,
  QueryError,
  trades,
} from '../../src/reports/queries.js';
import { removeTempDirs, tempDir, writeAll } from './dump.js';
import { ACCOUNTS, generateSession, type Session } from './session.js';

let s: Session;
let db: Database.Database;
const all = () => s.events.flat();

beforeAll(() => {
  s = generateSession(777, 3000);
  const path = writeAll(join(tempDir(), 'q.sqlite'), s.events, { batchEvents: 500 });
  db = openReportsReadonly(path);
});
afterAll(() => {
  db?.close();
  removeTempDirs();
});

/** Every page until nextCursor is null; fails on a page over the limit or a loop. */
function pages<T>(first: (cursor: string | null) => Page<T>, limit: number): T[] {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let n = 0; ; n++) {
    if (n > 10_000) throw new Error('paging does not end');
    const p = first(cursor);
    expect(p.rows.length).toBeLessThanOrEqual(limit);
    out.push(...p.rows);
    if (p.nextCursor === null) return out;
    cursor = p.nextCursor;
  }
}

/** the fills as the execution reports say, newest first (time, then fill id) */
function expectedFills(keep: (x: DecodedEvent) => boolean): Fill[] {
  const fillId = (x: DecodedEvent) => (x.tradeId as number) * 2 + (x.liquidity === 2 ? 1 : 0);
  return all()
    .filter((x) => x.event === 'exec' && x.execType === ExecType.TRADE && keep(x))
    .sort((a, b) => b.tsUs - a.tsUs || fillId(b) - fillId(a))
    .map((x) => ({ tradeId: x.tradeId, orderId: x.orderId, accountId: x.accountId, symbolIdx: x.symbolIdx, side: x.side, priceTicks: x.lastPxTicks, qtyLots: x.lastQtyLots, liquidity: x.liquidity, seq: x.seq, tsUs: x.tsUs }) as Fill);
}
const withoutFee = (f: Fill) => {
  const { feeMinor, feeAssetIdx, ...rest } = f;
  void feeMinor;
  void feeAssetIdx;
  return rest;
};

describe('executions (GET /v1/execution)', () => {
  const timeSpan = () => {
    const ts = all().map((e) => e.tsUs);
    return [Math.min(...ts), Math.max(...ts)] as const;
  };

  it('pages through every fill of each account once, newest first', () => {
    let total = 0;
    for (const a of ACCOUNTS) {
      const got = pages((cursor) => executions(db, a, { limit: 13, cursor }), 13);
      const want = expectedFills((x) => x.accountId === a);
      expect(want.length).toBeGreaterThan(100);
      expect(got.map(withoutFee)).toEqual(want);
      total += got.length;
    }
    expect(total).toBe(all().filter((x) => x.event === 'exec' && x.execType === ExecType.TRADE).length);
  });

  it('filters by symbol, by time window (both ends inclusive) and both, with paging', () => {
    const [lo, hi] = timeSpan();
    const fills = all().filter((x) => x.event === 'exec' && x.execType === ExecType.TRADE);
    // a window whose ends fall exactly on fills: inclusive on both sides
    const startUs = fills[Math.floor(fills.length / 3)]!.tsUs;
    const endUs = fills[Math.floor((2 * fills.length) / 3)]!.tsUs;
    expect(lo < startUs && endUs < hi).toBe(true);
    for (const a of ACCOUNTS.slice(0, 3))
      for (const q of [{ symbolIdx: 1 }, { startUs, endUs }, { symbolIdx: 2, startUs, endUs }, { endUs }, { startUs }] as ExecutionsQuery[]) {
        const got = pages((cursor) => executions(db, a, { ...q, limit: 7, cursor }), 7);
        const want = expectedFills(
          (x) =>
            x.accountId === a &&
            (q.symbolIdx === undefined || x.symbolIdx === q.symbolIdx) &&
            (q.startUs === undefined || x.tsUs >= q.startUs) &&
            (q.endUs === undefined || x.tsUs <= q.endUs),
        );
        expect(want.length, JSON.stringify(q)).toBeGreaterThan(5);
        expect(got.map(withoutFee), `account ${a} ${JSON.stringify(q)}`).toEqual(want);
      }
  });

  it('filters by order: its fills only, for its own account only', () => {
    const byOrder = new Map<number, number>();
    for (const x of all()) if (x.event === 'exec' && x.execType === ExecType.TRADE) byOrder.set(x.orderId as number, (byOrder.get(x.orderId as number) ?? 0) + 1);
    const busy = [...byOrder].filter(([, n]) => n >= 3).map(([id]) => id);
    expect(busy.length).toBeGreaterThan(10);
    for (const orderId of busy.slice(0, 20)) {
      const owner = all().find((x) => x.event === 'exec' && x.orderId === orderId)!.accountId as number;
      const got = pages((cursor) => executions(db, owner, { orderId, limit: 2, cursor }), 2);
      expect(got.map(withoutFee)).toEqual(expectedFills((x) => x.orderId === orderId));
      const other = ACCOUNTS.find((a) => a !== owner)!;
      expect(executions(db, other, { orderId }).rows).toEqual([]);
    }
  });

  it('a cursor also ends a page exactly at fills of the same microsecond (ties broken by fill id)', () => {
    // both sides of a trade share a time; an account's own fills at one time: several trades of one sweep
    const a = ACCOUNTS[0]!;
    for (const limit of [1, 2, 3]) expect(pages((cursor) => executions(db, a, { limit, cursor }), limit).map(withoutFee)).toEqual(expectedFills((x) => x.accountId === a));
  });
});

describe('closed orders (GET /v1/orders?status=closed) and one order', () => {
  /** orders whose last report is final, the most recently closed first */
  function expectedClosed(account: number, symbolIdx?: number): number[] {
    const last = new Map<number, DecodedEvent>();
    for (const x of all()) if (x.event === 'exec' && (x.orderId as number) > 0 && x.execType !== ExecType.ORDER_STATUS) last.set(x.orderId as number, x);
    return [...last.values()]
      .filter((x) => x.accountId === account && (symbolIdx === undefined || x.symbolIdx === symbolIdx))
      .filter((x) => [OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.EXPIRED].includes(x.ordStatus as OrdStatus))
      .sort((x, y) => y.tsUs - x.tsUs || (y.orderId as number) - (x.orderId as number))
      .map((x) => x.orderId as number);
  }

  it('pages through exactly the final orders of each account, once each', () => {
    for (const a of ACCOUNTS)
      for (const symbolIdx of [undefined, 0, 2]) {
        const got = pages((cursor) => closedOrders(db, a, { limit: 9, cursor, ...(symbolIdx === undefined ? {} : { symbolIdx }) }), 9);
        const want = expectedClosed(a, symbolIdx);
        expect(want.length).toBeGreaterThan(20);
        expect(got.map((o) => o.orderId), `account ${a} symbol ${symbolIdx}`).toEqual(want);
        expect(got.every((o) => o.leavesQtyLots === 0 && o.accountId === a)).toBe(true);
      }
  });

  it('none of them is open in the engine; every open one of the engine is not among them', () => {
    for (const a of ACCOUNTS) {
      const closed = new Set(pages((cursor) => closedOrders(db, a, { limit: 1000, cursor }), 1000).map((o) => o.orderId));
      for (const o of s.engine.openOrders(a)) expect(closed.has(o.orderId)).toBe(false);
    }
  });

  it('an order with its fills, oldest first; another account sees nothing', () => {
    const filled = all().find((x) => x.event === 'exec' && x.ordStatus === OrdStatus.FILLED && (x.cumQtyLots as number) > (x.lastQtyLots as number))!;
    const id = filled.orderId as number;
    const o = orderWithFills(db, filled.accountId as number, id)!;
    expect(o.status).toBe(OrdStatus.FILLED);
    expect(o.fills.length).toBeGreaterThan(1);
    expect(o.fills.map(withoutFee)).toEqual(expectedFills((x) => x.orderId === id).reverse());
    expect(o.fills.reduce((n, f) => n + f.qtyLots, 0)).toBe(o.cumQtyLots);
    expect(orderWithFills(db, ACCOUNTS.find((a) => a !== filled.accountId)!, id)).toBeNull();
    expect(orderWithFills(db, 1, 10_000_000)).toBeNull();
  });
});

describe('trades and candles', () => {
  const tradeEvents = (symbolIdx: number) => all().filter((x) => x.event === 'trade' && x.symbolIdx === symbolIdx);

  it('trade history pages newest first, in a time window too', () => {
    for (const sym of [0, 1, 2]) {
      const want = tradeEvents(sym)
        .map((x) => x.tradeId as number)
        .reverse();
      expect(want.length).toBeGreaterThan(50);
      expect(pages((cursor) => trades(db, sym, { limit: 11, cursor }), 11).map((t) => t.tradeId)).toEqual(want);
      const evs = tradeEvents(sym);
      const startUs = evs[10]!.tsUs;
      const endUs = evs[evs.length - 10]!.tsUs;
      const windowed = pages((cursor) => trades(db, sym, { limit: 5, startUs, endUs, cursor }), 5);
      expect(windowed.map((t) => t.tradeId)).toEqual(
        evs
          .filter((x) => x.tsUs >= startUs && x.tsUs <= endUs)
          .map((x) => x.tradeId as number)
          .reverse(),
      );
    }
  });

  /** candles computed here from the trades, the buckets of [startUs, endUs] (at most `limit`, the newest) */
  function expectedCandles(symbolIdx: number, res: Resolution, startUs: number, endUs: number, limit = MAX_CANDLES): CandleRow[] {
    const resUs = RESOLUTION_MS[res] * 1000;
    const lastBucket = Math.floor(endUs / resUs);
    const firstBucket = Math.max(Math.ceil(startUs / resUs), lastBucket - limit + 1);
    const seen = s.commands.at(-1)!.tsUs;
    const out = new Map<number, CandleRow>();
    for (const t of tradeEvents(symbolIdx)) {
      const b = Math.floor(t.tsUs / resUs);
      if (b < firstBucket || b > lastBucket) continue;
      const px = t.priceTicks as number;
      const q = t.qtyLots as number;
      const c = out.get(b);
      if (c === undefined) out.set(b, { t: b * RESOLUTION_MS[res], o: px, h: px, l: px, c: px, v: q, n: 1, closed: seen >= (b + 1) * resUs });
      else {
        c.h = Math.max(c.h, px);
        c.l = Math.min(c.l, px);
        c.c = px;
        c.v += q;
        c.n++;
      }
    }
    return [...out.values()];
  }

  it('candles from SQL equal candles computed from the trades, every resolution and symbol', () => {
    for (const sym of [0, 1, 2]) {
      const evs = tradeEvents(sym);
      const first = evs[0]!.tsUs;
      const last = evs.at(-1)!.tsUs;
      for (const res of RESOLUTIONS) {
        const resUs = RESOLUTION_MS[res] * 1000;
        // a window of at most MAX_CANDLES buckets ending after the last trade, and one inside the range
        const end = last + resUs;
        const start = Math.max(first - resUs, end - (MAX_CANDLES - 1) * resUs);
        const want = expectedCandles(sym, res, start, end);
        expect(want.length, `${sym} ${res}`).toBeGreaterThan(0);
        expect(candles(db, sym, res, start, end), `symbol ${sym} ${res}`).toEqual(want);
        const mid = evs[Math.floor(evs.length / 2)]!.tsUs;
        expect(candles(db, sym, res, mid - 10 * resUs, mid + 3 * resUs)).toEqual(expectedCandles(sym, res, mid - 10 * resUs, mid + 3 * resUs));
      }
    }
    // the 1h candles of a busy symbol have real open / close differences to get wrong
    const busy = candles(db, 0, '1h', 0, s.commands.at(-1)!.tsUs);
    expect(busy.some((c) => c.o !== c.c && c.n > 2)).toBe(true);
  });

  it('a range of more buckets than the limit gives the newest buckets of it', () => {
    const end = s.commands.at(-1)!.tsUs;
    for (const limit of [1, 5, 50]) expect(candles(db, 0, '1m', 0, end, limit)).toEqual(expectedCandles(0, '1m', 0, end, limit));
  });
});

describe('plans and bad input', () => {
  it('every list query walks an index or the clustered table in order: no sort, no full scan', () => {
    const params = { account: 1, symbol: 1, order: 5, lo: 0, hi: 9e15, curTs: 9e15, curId: 9e15, limit: 10, res: 60_000_000, from: 0, to: 9e15 };
    for (const name of ['fills', 'fillsBySymbol', 'closed', 'closedBySymbol', 'trades'] as const) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${QUERY_SQL[name]}`).all(params) as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan, name).not.toMatch(/TEMP B-TREE/);
      expect(plan, name).toMatch(/^SEARCH /);
    }
    const candlePlan = (db.prepare(`EXPLAIN QUERY PLAN ${QUERY_SQL.candles}`).all(params) as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(candlePlan).not.toMatch(/SCAN trades/);
  });

  it('refuses a limit out of range, a cursor it did not make, an unknown resolution, a window of no candles', () => {
    for (const limit of [0, 1001, 1.5, -1, Number.NaN]) expect(() => executions(db, 1, { limit })).toThrow(QueryError);
    for (const cursor of ['x', 'MTIz', Buffer.from('1.2.3').toString('base64url'), Buffer.from('99999999999999999.1').toString('base64url')])
      expect(() => executions(db, 1, { cursor }), cursor).toThrow(QueryError);
    expect(() => closedOrders(db, 1, { limit: 2000 })).toThrow(QueryError);
    expect(() => candles(db, 0, '2m' as Resolution, 0, 1)).toThrow(QueryError);
    expect(() => candles(db, 0, '1m', 0, 1, MAX_CANDLES + 1)).toThrow(QueryError);
    expect(candles(db, 0, '1h', 10 * 3_600_000_000 + 1, 10 * 3_600_000_000 + 5)).toEqual([]);
  });
});
