/**
 * Review of the report wiring (src/reportworker, src/server/reports.ts, the history routes): each
 * test shows a bug found in review, on a real exchange or on the writer thread fed frames by hand.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { call, startTestExchange, until, type TestExchange } from './server.js';

let ex: TestExchange;
let sym = '';
let a: Acct;

beforeAll(async () => {
  ex = await startTestExchange();
  sym = await newSymbol(ex, 'Q');
  a = await newAccount(ex, 'rr-a', { USD: '1000000.00', [sym]: '100000' });
});

afterAll(async () => {
  await ex?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a clock tick with no events (at a canceled GTD order's expiry time) does not make history queries wait for the database", async () => {
  const o = await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '1', price: '10.00', tif: 'GTD', expireTime: Date.now() + 800 });
  expect(o.status).toBe(201);
  expect((await call(ex.url, 'DELETE', `/v1/order/${o.body.orderId}`, { key: a.apiKey })).status).toBe(200);
  const status = async () => (await call(ex.url, 'GET', '/v1/admin/status', { key: ex.adminToken })).body as { lastSeq: number; releasedSeq: number };
  const before = await status();
  // the sequencer ticks at the expiry time: the order is gone, the tick changes nothing and has no events
  const end = Date.now() + 5_000;
  let after = before;
  while (after.releasedSeq === before.releasedSeq && Date.now() < end) {
    await sleep(50);
    after = await status();
  }
  expect(after.releasedSeq).toBe(before.releasedSeq + 1);
  const t0 = performance.now();
  const r = await call(ex.url, 'GET', '/v1/execution', { key: a.apiKey });
  const ms = performance.now() - t0;
  expect(r.status).toBe(200);
  expect(ms, 'GET /v1/execution waited for a seq that has no rows').toBeLessThan(1_000);
  expect(r.body.seq).toBe(after.releasedSeq);
});
