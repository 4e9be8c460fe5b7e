/**
 * Read-only queries over the report database: an account's fills (`GET /v1/execution`), its closed
 * orders (`GET /v1/orders?status=closed`), one order with its fills, a symbol's trade history and
 * candles. Plain synchronous functions of a database handle returning plain JSON-able objects in
 * engine integers (ticks, lots, minor units, µs; candle open times in ms, as market data has them):
 * they run inside pool workers, and decimal text is the gateway's job.
 *
 * Every list is bounded (MAX_LIMIT rows, MAX_CANDLES buckets) and pages by keyset (an opaque cursor
 * holding the last row's sort key), never OFFSET: page N costs what page 1 costs. Each query walks
 * one clustered table or index range in its order (secondary indexes are named with INDEXED BY,
 * so the plan does not depend on statistics; test/reports/queries.test.ts checks that no list
 * query sorts), so a page over an account of millions of fills reads about `limit` rows. A symbol
 * filter is applied while walking the account's range: a page of a symbol the account rarely
 * trades reads further (schema.ts says why there is no index per account and symbol).
 *
 * Bad input (a limit out of range, a cursor we did not make, an unknown resolution) throws
 * QueryError: the gateway answers it 400 INVALID_REQUEST.
 */
import Database from 'better-sqlite3';
import { RESOLUTION_MS, type Candle, type Resolution } from '../marketdata/types.js';
import { readMeta } from './schema.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** candles per query at most (as market data keeps 1000 per resolution) */
export const MAX_CANDLES = 1000;

export class QueryError extends Error {
  readonly code = 'INVALID_REQUEST';
}

/** Opens the report database for queries only (a pool worker's handle). */
export function openReportsReadonly(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('query_only = ON');
  return db;
}

export interface Fill {
  tradeId: number;
  orderId: number;
  accountId: number;
  symbolIdx: number;
  side: number;
  priceTicks: number;
  qtyLots: number;
  /** 1 maker, 2 taker */
  liquidity: number;
  feeMinor: number;
  feeAssetIdx: number;
  seq: number;
  tsUs: number;
}

export interface OrderRow {
  orderId: number;
  accountId: number;
  symbolIdx: number;
  clOrdId: string | null;
  side: number;
  ordType: number;
  tif: number;
  status: number;
  priceTicks: number;
  stopPriceTicks: number;
  qtyLots: number;
  cumQtyLots: number;
  leavesQtyLots: number;
  cumNotionalTickLots: number;
  postOnly: number;
  stp: number;
  expireTimeUs: number;
  reason: number;
  lastExecType: number;
  createdAtUs: number;
  updatedAtUs: number;
  seq: number;
}

export interface TradeRow {
  tradeId: number;
  symbolIdx: number;
  priceTicks: number;
  qtyLots: number;
  takerSide: number;
  makerOrderId: number;
  takerOrderId: number;
  seq: number;
  tsUs: number;
}

/** a candle as market data has it (`closed`: the database has seen engine time at or past its end) */
export type CandleRow = Candle;

export interface Page<T> {
  rows: T[];
  /** pass back to get the next (older) page; null: this was the last */
  nextCursor: string | null;
}

const FILL_SELECT = 'SELECT tradeId, orderId, accountId, symbolIdx, side, priceTicks, qtyLots, liquidity, feeMinor, feeAssetIdx, seq, tsUs FROM fills';
const ORDER_SELECT = `SELECT orderId, accountId, symbolIdx, clOrdId, side, ordType, tif, status, priceTicks, stopPriceTicks, qtyLots, cumQtyLots,
  leavesQtyLots, cumNotionalTickLots, postOnly, stp, expireTimeUs, reason, lastExecType, createdAtUs, updatedAtUs, seq FROM orders`;
const TRADE_SELECT = 'SELECT tradeId, symbolIdx, priceTicks, qtyLots, takerSide, makerOrderId, takerOrderId, seq, tsUs FROM trades';
/**
 * Newest first by (time, id) below a cursor: `t <= @hi` bounds the index range, the OR breaks ties
 * at the cursor's time by id. @hi is min(end time, cursor time).
 */
const BELOW = (t: string, id: string) => `${t} >= @lo AND ${t} <= @hi AND (${t} < @curTs OR ${id} < @curId)`;

/** The SQL of every query (exported for the plan test). */
export const QUERY_SQL = {
  fills: `${FILL_SELECT} WHERE accountId = @account AND ${BELOW('tsUs', 'fillId')} ORDER BY tsUs DESC, fillId DESC LIMIT @limit`,
  fillsBySymbol:
    `${FILL_SELECT} WHERE accountId = @account AND symbolIdx = @symbol AND ${BELOW('tsUs', 'fillId')} ORDER BY tsUs DESC, fillId DESC LIMIT @limit`,
  // one order's fills: few rows, any symbol filter applied on them
  fillsByOrder:
    `${FILL_SELECT} INDEXED BY fills_order WHERE orderId = @order AND accountId = @account AND (@symbol < 0 OR symbolIdx = @symbol) AND ${BELOW('tsUs', 'fillId')} ORDER BY tsUs DESC, fillId DESC LIMIT @limit`,
  closed:
    `${ORDER_SELECT} INDEXED BY orders_closed WHERE final = 1 AND accountId = @account AND ${BELOW('updatedAtUs', 'orderId')} ORDER BY updatedAtUs DESC, orderId DESC LIMIT @limit`,
  closedBySymbol:
    `${ORDER_SELECT} INDEXED BY orders_closed WHERE final = 1 AND accountId = @account AND symbolIdx = @symbol AND ${BELOW('updatedAtUs', 'orderId')} ORDER BY updatedAtUs DESC, orderId DESC LIMIT @limit`,
  order: `${ORDER_SELECT} WHERE orderId = ? AND accountId = ?`,
  orderFills: `${FILL_SELECT} WHERE orderId = ? ORDER BY fillId`,
  trades: `${TRADE_SELECT} WHERE symbolIdx = @symbol AND ${BELOW('tsUs', 'tradeId')} ORDER BY tsUs DESC, tradeId DESC LIMIT @limit`,
  // the first and last trade of a bucket are found again by their key: trade ids rise with
  // time, so the lowest id has the lowest time of the bucket, the highest the highest
  candles: `SELECT g.b AS b, o.priceTicks AS o, g.h AS h, g.l AS l, c.priceTicks AS c, g.v AS v, g.n AS n
    FROM (SELECT tsUs / CAST(@res AS INTEGER) AS b, min(tsUs) AS ft, min(tradeId) AS f, max(tsUs) AS lt, max(tradeId) AS z,
                 max(priceTicks) AS h, min(priceTicks) AS l, sum(qtyLots) AS v, count(*) AS n
          FROM trades WHERE symbolIdx = @symbol AND tsUs >= @from AND tsUs < @to GROUP BY b) AS g
    JOIN trades AS o ON o.symbolIdx = @symbol AND o.tsUs = g.ft AND o.tradeId = g.f
    JOIN trades AS c ON c.symbolIdx = @symbol AND c.tsUs = g.lt AND c.tradeId = g.z
    ORDER BY g.b`,
} as const;

function prepareAll(db: Database.Database) {
  const out = {} as Record<keyof typeof QUERY_SQL, Database.Statement>;
  for (const [k, sql] of Object.entries(QUERY_SQL)) out[k as keyof typeof QUERY_SQL] = db.prepare(sql);
  return out;
}
type Statements = ReturnType<typeof prepareAll>;
const statements = new WeakMap<Database.Database, Statements>();
function stmts(db: Database.Database): Statements {
  let s = statements.get(db);
  if (s === undefined) statements.set(db, (s = prepareAll(db)));
  return s;
}

// ------------------------------------------------------------------ arguments

const MAX = Number.MAX_SAFE_INTEGER;

function int(name: string, v: unknown, min: number, max = MAX): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new QueryError(`${name} must be an integer in [${min}, ${max}]`);
  return v;
}

function limitOf(v: unknown, max = MAX_LIMIT): number {
  return v === undefined ? Math.min(DEFAULT_LIMIT, max) : int('limit', v, 1, max);
}

/** Cursors are the last row's (time, id), opaque to clients. */
export function encodeCursor(ts: number, id: number): string {
  return Buffer.from(`${ts}.${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): [number, number] {
  const text = typeof cursor === 'string' && cursor.length <= 64 ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  const m = /^(\d{1,16})\.(\d{1,16})$/.exec(text);
  const ts = m === null ? NaN : Number(m[1]);
  const id = m === null ? NaN : Number(m[2]);
  if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(id)) throw new QueryError('cursor is not one this server made');
  return [ts, id];
}

interface Range {
  lo: number;
  hi: number;
  curTs: number;
  curId: number;
}

/** The keyset bounds of [startUs, endUs] below `cursor`, both ends inclusive. */
function range(startUs: unknown, endUs: unknown, cursor: unknown): Range {
  const lo = startUs === undefined ? 0 : int('startUs', startUs, 0);
  let hi = endUs === undefined ? MAX : int('endUs', endUs, 0);
  let curTs = MAX;
  let curId = MAX;
  if (cursor !== undefined && cursor !== null) {
    [curTs, curId] = decodeCursor(cursor as string);
    hi = Math.min(hi, curTs);
  }
  return { lo, hi, curTs, curId };
}

function page<T extends object>(rows: T[], limit: number, ts: (r: T) => number, id: (r: T) => number): Page<T> {
  const last = rows[rows.length - 1];
  return { rows, nextCursor: rows.length < limit || last === undefined ? null : encodeCursor(ts(last), id(last)) };
}

// ------------------------------------------------------------------ queries

export interface ExecutionsQuery {
  symbolIdx?: number;
  orderId?: number;
  /** inclusive, µs */
  startUs?: number;
  /** inclusive, µs */
  endUs?: number;
  limit?: number;
  cursor?: string | null;
}

/** The account's fills, newest first. */
export function executions(db: Database.Database, accountId: number, q: ExecutionsQuery = {}): Page<Fill> {
  const s = stmts(db);
  const account = int('accountId', accountId, 0);
  const limit = limitOf(q.limit);
  const r = range(q.startUs, q.endUs, q.cursor);
  const symbol = q.symbolIdx === undefined ? -1 : int('symbolIdx', q.symbolIdx, 0);
  let rows: Fill[];
  if (q.orderId !== undefined) rows = s.fillsByOrder.all({ ...r, account, symbol, order: int('orderId', q.orderId, 1), limit }) as Fill[];
  else if (symbol >= 0) rows = s.fillsBySymbol.all({ ...r, account, symbol, limit }) as Fill[];
  else rows = s.fills.all({ ...r, account, limit }) as Fill[];
  return page(rows, limit, (x) => x.tsUs, fillIdOf);
}

/** a fill's key: tradeId * 2 for the maker's side, + 1 for the taker's (schema.ts) */
const fillIdOf = (f: Fill) => f.tradeId * 2 + (f.liquidity === 2 ? 1 : 0);

export interface ClosedOrdersQuery {
  symbolIdx?: number;
  limit?: number;
  cursor?: string | null;
}

/** The account's final orders (filled, canceled, expired), the most recently closed first. */
export function closedOrders(db: Database.Database, accountId: number, q: ClosedOrdersQuery = {}): Page<OrderRow> {
  const s = stmts(db);
  const account = int('accountId', accountId, 0);
  const limit = limitOf(q.limit);
  const r = range(undefined, undefined, q.cursor);
  const rows = (
    q.symbolIdx === undefined
      ? s.closed.all({ ...r, account, limit })
      : s.closedBySymbol.all({ ...r, account, symbol: int('symbolIdx', q.symbolIdx, 0), limit })
  ) as OrderRow[];
  return page(rows, limit, (x) => x.updatedAtUs, (x) => x.orderId);
}

/** One order of the account with its fills (oldest first); null if unknown or another account's. */
export function orderWithFills(db: Database.Database, accountId: number, orderId: number): (OrderRow & { fills: Fill[] }) | null {
  const s = stmts(db);
  const row = s.order.get(int('orderId', orderId, 1), int('accountId', accountId, 0)) as OrderRow | undefined;
  if (row === undefined) return null;
  return { ...row, fills: s.orderFills.all(orderId) as Fill[] };
}

export interface TradesQuery {
  limit?: number;
  startUs?: number;
  endUs?: number;
  cursor?: string | null;
}

/** A symbol's trades, newest first. */
export function trades(db: Database.Database, symbolIdx: number, q: TradesQuery = {}): Page<TradeRow> {
  const s = stmts(db);
  const limit = limitOf(q.limit);
  const rows = s.trades.all({ ...range(q.startUs, q.endUs, q.cursor), symbol: int('symbolIdx', symbolIdx, 0), limit }) as TradeRow[];
  return page(rows, limit, (x) => x.tsUs, (x) => x.tradeId);
}

/**
 * Candles of a symbol from its trades, oldest first: the buckets (UTC, aligned on the epoch) whose
 * open time is in [startUs, endUs], at most `limit` (default and maximum MAX_CANDLES), the newest
 * ones when the range holds more: the work is bounded by the time span, not by the trade count
 * before it. A bucket without trades has no candle (as market data).
 */
export function candles(db: Database.Database, symbolIdx: number, resolution: Resolution, startUs: number, endUs: number, limit = MAX_CANDLES): CandleRow[] {
  const s = stmts(db);
  const resMs = Object.hasOwn(RESOLUTION_MS, resolution) ? RESOLUTION_MS[resolution] : undefined;
  if (resMs === undefined) throw new QueryError(`resolution must be one of ${Object.keys(RESOLUTION_MS).join(', ')}`);
  const res = resMs * 1000;
  const start = int('startUs', startUs, 0);
  const end = int('endUs', endUs, 0);
  const n = int('limit', limit, 1, MAX_CANDLES);
  const lastBucket = Math.floor(end / res);
  const firstBucket = Math.max(Math.ceil(start / res), lastBucket - n + 1);
  if (firstBucket > lastBucket) return [];
  // b: the bucket number (open time / resolution)
  const rows = s.candles.all({ res, symbol: int('symbolIdx', symbolIdx, 0), from: firstBucket * res, to: (lastBucket + 1) * res }) as (Omit<CandleRow, 't' | 'closed'> & { b: number })[];
  const seenUs = readMeta(db, 'lastTsUs');
  return rows.map((r) => ({ t: r.b * resMs, o: r.o, h: r.h, l: r.l, c: r.c, v: r.v, n: r.n, closed: seenUs >= (r.b + 1) * res }));
}

/** The last seq the database holds (the gateway can say how fresh an answer is). */
export function reportsLastSeq(db: Database.Database): number {
  return readMeta(db, 'lastSeq');
}
