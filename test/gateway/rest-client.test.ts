/** The SDK's REST client against a real exchange: the calls a retail app makes, and its errors. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RestClient, RestError } from '../../src/client/rest.js';
import { startTestExchange, type TestExchange } from './server.js';

let ex: TestExchange;
beforeAll(async () => {
  ex = await startTestExchange();
});
afterAll(async () => {
  await ex?.close();
});

it('an admin opens and funds an account; its owner trades, repeats, replaces and cancels', async () => {
  const admin = new RestClient({ baseUrl: ex.url, adminToken: ex.adminToken });
  const { accountId, apiKey } = await admin.createAccount('carol');
  await admin.deposit(accountId, 'USD', '5000.00', 'carol-usd-1');
  const api = new RestClient({ baseUrl: ex.url, apiKey });
  const o = await api.newOrder({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: '10', price: '189.00', clOrdId: 'c-1' });
  expect(o).toMatchObject({ status: 'new', leavesQty: '10', replay: false });
  expect((await api.newOrder({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: '10', price: '189.00', clOrdId: 'c-1' })).replay).toBe(true);
  expect((await api.account()).balances.find((b) => b.asset === 'USD')).toEqual({ asset: 'USD', total: '5000.00', available: '3110.00', reserved: '1890.00' });
  expect(await api.replace(o.orderId, { qty: '4' })).toMatchObject({ qty: '4', leavesQty: '4' });
  expect((await api.openOrders()).orders.map((x) => x.orderId)).toEqual([o.orderId]);
  expect((await api.l2('AAPL')).bids).toEqual([['189.00', '4', 1]]);
  expect(await api.cancelByClOrdId('c-1')).toMatchObject({ status: 'canceled' });
  const err = await api.newOrder({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: '100', price: '189.00' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RestError);
  expect(err).toMatchObject({ status: 422, code: 'INSUFFICIENT_FUNDS' });
  expect((await api.account()).balances.find((b) => b.asset === 'USD')).toMatchObject({ available: '5000.00', reserved: '0.00' });
});
