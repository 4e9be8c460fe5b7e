/**
 * History from the report database through REST, on a real exchange: `GET /v1/execution` lists
 * exactly the fills of the account's execution reports (read right after trading: read your
 * writes), with filters and cursor pagination that visit every fill once; closed orders come back
 * with their final state; after the database is lost (or left behind by a crash) a restart
 * rebuilds it from the journal with the same answers.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SCHEMA_VERSION } from '../../src/reports/schema.js';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { call, startTestExchange, type TestExchange } from './server.js';

let ex: TestExchange;
let sym = '';
let a: Acct;
let b: Acct;
/** the fills each account's order answers showed, by orderId */
const seen = new Map<number, { orderId: number; tradeId: number; price: string; qty: string; liquidity: string }[]>();

beforeAll(async () => {
  ex = await startTestExchange();
  sym = await newSymbol(ex, 'R');
  a = await newAccount(ex, 'rep-a', { USD: '1000000.00', [sym]: '10000' });
  b = await newAccount(ex, 'rep-b', { USD: '1000000.00', [sym]: '10000' });
});

afterAll(async () => {
  await ex?.close();
});

async function fills(key: string, query = ''): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  let cursor: string | null = null;
  do {
    const r = await call(ex.url, 'GET', `/v1/execution?limit=7${query}${cursor === null ? '' : `&cursor=${cursor}`}`, { key });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    out.push(...r.body.fills);
    cursor = r.body.nextCursor;
  } while (cursor !== null);
  return out;
}

test('GET /v1/execution lists every fill of the account, right after the trades, newest first, paged', async () => {
  for (let i = 0; i < 12; i++) {
    const maker = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: String(2 + (i % 3)), price: (50 + i * 0.01).toFixed(2) });
    expect(maker.status).toBe(201);
    const taker = await order(ex, b.apiKey, { symbol: sym, side: 'sell', type: 'limit', qty: String(1 + (i % 2)), price: '40.00', tif: 'IOC' });
    expect(taker.status).toBe(201);
    for (const o of [taker.body]) seen.set(o.orderId, o.fills.map((f: any) => ({ orderId: o.orderId, tradeId: f.tradeId, price: f.price, qty: f.qty, liquidity: f.liquidity })));
  }
  const bFills = await fills(b.apiKey);
  const expected = [...seen.values()].flat();
  expect(bFills.map((f) => ({ orderId: f.orderId, tradeId: f.tradeId, price: f.price, qty: f.qty, liquidity: f.liquidity }))).toEqual(expected.reverse());
  expect(bFills.every((f) => f.symbol === sym && f.side === 'sell')).toBe(true);
  // the makers' side of the same trades
  const aFills = await fills(a.apiKey);
  expect(aFills.map((f) => f.tradeId).sort((x, y) => x - y)).toEqual(bFills.map((f) => f.tradeId).sort((x, y) => x - y));
  expect(aFills.every((f) => f.liquidity === 'maker' && f.side === 'buy')).toBe(true);
  // filters: one order; a time window that holds nothing; another account sees none of these
  const one = [...seen.keys()][3]!;
  expect((await fills(b.apiKey, `&orderId=${one}`)).map((f) => f.orderId)).toEqual(seen.get(one)!.map(() => one));
  expect(await fills(b.apiKey, '&endTime=1000')).toEqual([]);
  expect(await fills(ex.demo.apiKey, `&symbol=${sym}`)).toEqual([]);
  for (const q of ['limit=0', 'limit=x', 'cursor=%21%21', 'startTime=-1', 'orderId=abc', 'symbol=NOPE']) {
    const r = await call(ex.url, 'GET', `/v1/execution?${q}`, { key: b.apiKey });
    expect(r.status, q).toBe(400);
  }
  expect((await call(ex.url, 'GET', '/v1/execution')).status).toBe(401);
});

test('GET /v1/orders?status=closed|all: final orders from the database, open ones from the engine', async () => {
  const open = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '1', price: '1.00' });
  const canceled = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '1', price: '1.01' });
  expect((await call(ex.url, 'DELETE', `/v1/order/${canceled.body.orderId}`, { key: a.apiKey })).status).toBe(200);
  const closed = await call(ex.url, 'GET', `/v1/orders?status=closed&symbol=${sym}&limit=1000`, { key: b.apiKey });
  expect(closed.status).toBe(200);
  expect(closed.body.orders.map((o: any) => o.orderId).sort((x: number, y: number) => x - y)).toEqual([...seen.keys()].sort((x, y) => x - y));
  expect(closed.body.orders.every((o: any) => o.status === 'filled' || o.status === 'canceled' || o.status === 'expired')).toBe(true);
  const mine = await call(ex.url, 'GET', `/v1/orders?status=closed&symbol=${sym}&limit=1`, { key: a.apiKey });
  expect(mine.body.orders[0]).toMatchObject({ orderId: canceled.body.orderId, status: 'canceled', qty: '1', filledQty: '0' });
  expect(mine.body.nextCursor).not.toBeNull();
  const all = await call(ex.url, 'GET', `/v1/orders?status=all&symbol=${sym}`, { key: a.apiKey });
  const ids = all.body.orders.map((o: any) => o.orderId);
  expect(ids).toContain(open.body.orderId);
  expect(ids).toContain(canceled.body.orderId);
});

test('status=all lists each order exactly once while its orders are being filled', async () => {
  const s2 = await newSymbol(ex);
  const maker = await newAccount(ex, 'all-maker', { [s2]: '1000' });
  const taker = await newAccount(ex, 'all-taker', { USD: '100000.00' });
  const ids: number[] = [];
  for (let i = 0; i < 20; i++) ids.push((await order(ex, maker.apiKey, { symbol: s2, side: 'sell', type: 'limit', qty: '1', price: '30.00' })).body.orderId);
  let filling = true;
  const fill = (async () => {
    for (let i = 0; i < ids.length; i++) expect((await order(ex, taker.apiKey, { symbol: s2, side: 'buy', type: 'limit', qty: '1', price: '30.00' })).body.status).toBe('filled');
    filling = false;
  })();
  let reads = 0;
  while (filling || reads === 0) {
    const all = await call(ex.url, 'GET', `/v1/orders?status=all&symbol=${s2}&limit=100`, { key: maker.apiKey });
    const listed = all.body.orders.map((o: any) => o.orderId);
    expect([...listed].sort((x: number, y: number) => x - y)).toEqual(ids); // none missing, none twice
    reads++;
  }
  await fill;
  const after = await call(ex.url, 'GET', `/v1/orders?status=all&symbol=${s2}&limit=100`, { key: maker.apiKey });
  expect(after.body.orders.every((o: any) => o.status === 'filled')).toBe(true);
  expect(reads).toBeGreaterThan(1);
});

test('trades and candles history from the database equal the market-data worker\'s recent ones', async () => {
  const recent = (await call(ex.url, 'GET', `/v1/marketdata/trades?symbol=${sym}&limit=1000`)).body.trades;
  expect(recent.length).toBeGreaterThan(5);
  const history: Record<string, any>[] = [];
  let cursor: string | null = null;
  do {
    const r = await call(ex.url, 'GET', `/v1/marketdata/trades?symbol=${sym}&startTime=0&limit=4${cursor === null ? '' : `&cursor=${cursor}`}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    history.push(...r.body.trades);
    cursor = r.body.nextCursor;
  } while (cursor !== null);
  expect(history.reverse()).toEqual(recent); // newest first from the database, oldest first from the worker
  const fromWorker = (await call(ex.url, 'GET', `/v1/marketdata/candles?symbol=${sym}&resolution=1m`)).body;
  const fromDb = (await call(ex.url, 'GET', `/v1/marketdata/candles?symbol=${sym}&resolution=1m&startTime=0&endTime=${Date.now() + 60_000}`)).body;
  expect(fromDb.map(({ closed: _c, ...c }: any) => c)).toEqual(fromWorker.map(({ closed: _c, ...c }: any) => c));
  for (const q of ['startTime=x', 'resolution=7m&startTime=0', 'startTime=0&cursor=%25']) expect((await call(ex.url, 'GET', `/v1/marketdata/${q.includes('resolution') ? 'candles' : 'trades'}?symbol=${sym}&${q}`)).status, q).toBe(400);
});

test('the database is derived data: lost, it is rebuilt from the journal at start-up with the same answers', async () => {
  const before = await fills(b.apiKey);
  const closedBefore = (await call(ex.url, 'GET', `/v1/orders?status=closed&limit=1000`, { key: b.apiKey })).body.orders;
  await ex.stop();
  for (const f of ['reports.sqlite', 'reports.sqlite-wal', 'reports.sqlite-shm']) rmSync(join(ex.dataDir, f), { force: true });
  ex = await startTestExchange({}, ex.dataDir);
  expect(await fills(b.apiKey)).toEqual(before);
  expect(ex.logs.some((l) => /reports: .* ready at seq \d+ .*\([1-9]\d* records caught up/.test(l))).toBe(true);
  expect((await call(ex.url, 'GET', `/v1/orders?status=closed&limit=1000`, { key: b.apiKey })).body.orders).toEqual(closedBefore);
});

test('a report database of another build (an upgrade) is rebuilt from the journal at start-up, not left failing', async () => {
  const before = await fills(b.apiKey);
  await ex.stop();
  const old = new Database(join(ex.dataDir, 'reports.sqlite'));
  old.pragma(`user_version = ${SCHEMA_VERSION - 1 || 99}`);
  old.close();
  ex = await startTestExchange({}, ex.dataDir);
  expect(await fills(b.apiKey)).toEqual(before);
  expect(ex.logs.some((l) => /reports: .*schema version .*rebuilding it from the journal/.test(l))).toBe(true);
  expect(ex.logs.some((l) => /worker failed/.test(l))).toBe(false);
});
