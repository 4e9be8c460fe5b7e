import { afterAll, beforeAll, expect, test } from 'vitest';
import { call, startTestExchange, type TestExchange } from './server.js';

let ex: TestExchange;
beforeAll(async () => {
  ex = await startTestExchange();
});
afterAll(async () => {
  await ex?.close();
});

test('a demo order rests and shows in the book', async () => {
  const r = await call(ex.url, 'POST', '/v1/order', { key: ex.demo.apiKey, body: { symbol: 'AAPL', side: 'buy', type: 'limit', qty: '10', price: '189.50' } });
  expect(r.status).toBe(201);
  expect(r.body.status).toBe('new');
  const book = await call(ex.url, 'GET', '/v1/marketdata/orderBook/L2?symbol=AAPL');
  expect(book.body.bids).toEqual([['189.50', '10', 1]]);
});
