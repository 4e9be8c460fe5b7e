/**
 * Review of the REST fallback to the report database for final orders the engine forgot
 * (GET /v1/order/:id, DELETE / PATCH -> 409 TOO_LATE_TO_CANCEL): while the database is behind what
 * the client was already answered (its writer held up for longer than a query waits), an order the
 * engine forgot may simply not be written yet, so "not in the database" must not become a
 * definitive 404 NOT_FOUND (SPEC: unknown order) or a stale state: 503 (retry), then the right
 * answer once the database caught up. Another account's ids stay 404 throughout; hostile ids 404.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { call, startTestExchange, type TestExchange } from './server.js';

let ex: TestExchange;
let sym = '';
let a: Acct;
let b: Acct;

beforeAll(async () => {
  ex = await startTestExchange();
  sym = await newSymbol(ex, 'V');
  a = await newAccount(ex, 'rv-a', { USD: '100000.00' });
  b = await newAccount(ex, 'rv-b', { [sym]: '1000' });
  // the writer is ready (a history query answers 200)
  const t0 = Date.now();
  while ((await call(ex.url, 'GET', '/v1/execution', { key: a.apiKey })).status !== 200) {
    if (Date.now() - t0 > 10_000) throw new Error('report writer not ready');
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  await ex?.close();
});

/** Holds the report database's write lock (the writer waits: its busy timeout is 5 s) while `f` runs. */
async function withWriterHeld<T>(f: () => Promise<T>): Promise<T> {
  const db = new Database(join(ex.dataDir, 'reports.sqlite'));
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      return await f();
    } finally {
      db.exec('ROLLBACK');
    }
  } finally {
    db.close();
  }
}

test('an order filled (and forgotten by the engine) while the database is held up: 503, never 404; then 200 / 409', async () => {
  let sellId = 0;
  await withWriterHeld(async () => {
    const sell = await order(ex, b.apiKey, { symbol: sym, side: 'sell', type: 'limit', qty: '2', price: '10.00' });
    expect(sell.status).toBe(201);
    sellId = sell.body.orderId;
    const buy = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '2', price: '10.00' });
    expect(buy.body.status).toBe('filled');
    // the engine forgot the sell (no clOrdId, final); the database has not got it yet
    const [got, del, patch] = await Promise.all([
      call(ex.url, 'GET', `/v1/order/${sellId}`, { key: b.apiKey }),
      call(ex.url, 'DELETE', `/v1/order/${sellId}`, { key: b.apiKey }),
      call(ex.url, 'PATCH', `/v1/order/${sellId}`, { key: b.apiKey, body: { qty: '1' } }),
    ]);
    for (const [what, r] of [['GET', got], ['DELETE', del], ['PATCH', patch]] as const) {
      expect([what, r.status, r.body.error?.code], JSON.stringify(r.body)).toEqual([what, 503, 'OVERLOADED']);
    }
  });
  // caught up: the order with its fill, and too late to cancel
  let got = await call(ex.url, 'GET', `/v1/order/${sellId}`, { key: b.apiKey });
  for (let i = 0; got.status !== 200 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    got = await call(ex.url, 'GET', `/v1/order/${sellId}`, { key: b.apiKey });
  }
  expect(got.status).toBe(200);
  expect(got.body).toMatchObject({ orderId: sellId, status: 'filled', filledQty: '2' });
  expect(got.body.fills).toHaveLength(1);
  const del = await call(ex.url, 'DELETE', `/v1/order/${sellId}`, { key: b.apiKey });
  expect([del.status, del.body.error?.code]).toEqual([409, 'TOO_LATE_TO_CANCEL']);
  // nobody else's
  for (const [method, body] of [['GET'], ['DELETE'], ['PATCH', { qty: '1' }]] as const) {
    const r = await call(ex.url, method, `/v1/order/${sellId}`, { key: a.apiKey, body });
    expect([method, r.status, r.body.error?.code]).toEqual([method, 404, 'NOT_FOUND']);
  }
}, 30_000);

test('hostile order ids: 404 NOT_FOUND, never a 5xx or another account\'s order', async () => {
  for (const id of ['0', '-1', '1e3', '0x10', '99999999999999999', '9007199254740993', '1.0', '%00', 'abc', '1%20', ' 1', '00001']) {
    for (const method of ['GET', 'DELETE'] as const) {
      const r = await call(ex.url, method, `/v1/order/${id}`, { key: a.apiKey });
      expect([id, method, r.status], JSON.stringify(r.body)).toEqual([id, method, 404]);
    }
  }
});
