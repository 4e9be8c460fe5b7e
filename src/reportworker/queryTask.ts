/**
 * A piscina task: one read-only query of the report database, in a pool thread, so a slow query
 * never blocks a gateway or the main thread. Each pool thread keeps its own read-only connection
 * (SQLite WAL: readers never block the writer, nor it them).
 */
import type Database from 'better-sqlite3';
import { closedOrders, executions, openReportsReadonly, orderWithFills, QueryError, trades, candles } from '../reports/queries.js';
import type { Resolution } from '../marketdata/types.js';

export type ReportQuery =
  | { what: 'executions'; accountId: number; symbolIdx?: number; orderId?: number; startUs?: number; endUs?: number; limit?: number; cursor?: string | null }
  | { what: 'closedOrders'; accountId: number; symbolIdx?: number; limit?: number; cursor?: string | null }
  | { what: 'order'; accountId: number; orderId: number }
  | { what: 'trades'; symbolIdx: number; startUs?: number; endUs?: number; limit?: number; cursor?: string | null }
  | { what: 'candles'; symbolIdx: number; resolution: Resolution; startUs: number; endUs: number; limit?: number };

export type ReportAnswer = { ok: true; value: unknown } | { ok: false; message: string };
/** what a gateway gets: the answer and the seq the database held; or the database is not there */
export type ReportResult = (ReportAnswer & { seq: number }) | { ok: false; message: string; unavailable: true };

const connections = new Map<string, Database.Database>();

export default function run({ path, q }: { path: string; q: ReportQuery }): ReportAnswer {
  let db = connections.get(path);
  if (db === undefined) connections.set(path, (db = openReportsReadonly(path)));
  try {
    switch (q.what) {
      case 'executions':
        return { ok: true, value: executions(db, q.accountId, q) };
      case 'closedOrders':
        return { ok: true, value: closedOrders(db, q.accountId, q) };
      case 'order':
        return { ok: true, value: orderWithFills(db, q.accountId, q.orderId) };
      case 'trades':
        return { ok: true, value: trades(db, q.symbolIdx, q) };
      case 'candles':
        return { ok: true, value: candles(db, q.symbolIdx, q.resolution, q.startUs, q.endUs, q.limit) };
    }
  } catch (e) {
    if (e instanceof QueryError) return { ok: false, message: e.message };
    throw e;
  }
}
