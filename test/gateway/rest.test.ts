/**
 * The REST API of SPEC §3 against a real exchange (one per file): orders, account, reference and
 * market data, admin, operations, auth and idempotency. Every test trades a symbol of its own
 * between accounts of its own (rest-helpers.ts), so tests never see each other's orders; values
 * are exact decimal strings.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call, startTestExchange, type TestExchange } from './server.js';
import { admin, balances, newAccount, newSymbol, order, type Acct } from './rest-helpers.js';

let ex: TestExchange;
beforeAll(async () => {
  ex = await startTestExchange({ durability: 'batch' });
});
afterAll(async () => {
  await ex?.close();
});

const limit = (symbol: string, side: 'buy' | 'sell', qty: string, price: string, more: Record<string, unknown> = {}) => ({ symbol, side, type: 'limit', qty, price, ...more });

/** Two funded accounts and a fresh symbol. */
async function market(): Promise<{ sym: string; a: Acct; b: Acct }> {
  const sym = await newSymbol(ex);
  const a = await newAccount(ex, 'alice', { USD: '10000.00', [sym]: '100' });
  const b = await newAccount(ex, 'bob', { USD: '10000.00', [sym]: '100' });
  return { sym, a, b };
}

describe('POST /v1/order', () => {
  test('a limit order rests, reserves price × qty and shows in the book', async () => {
    const { sym, a } = await market();
    const r = await order(ex, a.apiKey, limit(sym, 'buy', '10', '100.25'));
    expect(r.status).toBe(201);
    expect(r.headers['idempotent-replay']).toBeUndefined();
    const o = r.body;
    expect(o).toMatchObject({
      accountId: a.accountId,
      clOrdId: null,
      symbol: sym,
      side: 'buy',
      type: 'limit',
      tif: 'GTC',
      price: '100.25',
      stopPrice: null,
      qty: '10',
      filledQty: '0',
      leavesQty: '10',
      avgPx: null,
      status: 'new',
      postOnly: false,
      stp: 'cancel_newest',
      rejectReason: null,
      fills: [],
    });
    expect(o.orderId).toBeGreaterThan(0);
    expect(o.seq).toBeGreaterThan(0);
    expect(Date.parse(o.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    const bal = await balances(ex, a.apiKey);
    expect(bal.USD).toEqual({ total: '10000.00', available: '8997.50', reserved: '1002.50' });
    expect(bal[sym]).toEqual({ total: '100', available: '100', reserved: '0' });
    const l2 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`);
    expect(l2.status).toBe(200);
    expect(l2.body).toMatchObject({ symbol: sym, bids: [['100.25', '10', 1]], asks: [] });
    expect(l2.body.seq).toBeGreaterThanOrEqual(o.seq);
    // the order as GET shows it carries the seq of the command that last changed it
    const g = await call(ex.url, 'GET', `/v1/order/${o.orderId}`, { key: a.apiKey });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ orderId: o.orderId, status: 'new', price: '100.25', leavesQty: '10', seq: o.seq, createdAt: o.createdAt });
  });

  test('a crossing order fills at the maker price; fills, book and balances settle exactly', async () => {
    const { sym, a, b } = await market();
    const maker = await order(ex, a.apiKey, limit(sym, 'sell', '10', '100.00'));
    expect(maker.status).toBe(201);
    expect((await balances(ex, a.apiKey))[sym]).toEqual({ total: '100', available: '90', reserved: '10' });
    const taker = await order(ex, b.apiKey, limit(sym, 'buy', '4', '101.00'));
    expect(taker.status).toBe(201);
    expect(taker.body).toMatchObject({ status: 'filled', qty: '4', filledQty: '4', leavesQty: '0', price: '101.00' });
    expect(Number(taker.body.avgPx)).toBe(100);
    expect(taker.body.avgPx).toMatch(/^100(\.0*)?$/);
    expect(taker.body.fills).toHaveLength(1);
    expect(taker.body.fills[0]).toMatchObject({ price: '100.00', qty: '4', liquidity: 'taker' });
    expect(taker.body.fills[0].tradeId).toBeGreaterThan(0);
    expect(taker.body.seq).toBeGreaterThan(maker.body.seq);

    const m = await call(ex.url, 'GET', `/v1/order/${maker.body.orderId}`, { key: a.apiKey });
    expect(m.body).toMatchObject({ status: 'partially_filled', filledQty: '4', leavesQty: '6', qty: '10', seq: taker.body.seq });

    // buyer paid 4 × 100.00 (not 101.00), and the rest of its reservation is released
    expect(await balances(ex, b.apiKey)).toMatchObject({
      USD: { total: '9600.00', available: '9600.00', reserved: '0.00' },
      [sym]: { total: '104', available: '104', reserved: '0' },
    });
    expect(await balances(ex, a.apiKey)).toMatchObject({
      USD: { total: '10400.00', available: '10400.00', reserved: '0.00' },
      [sym]: { total: '96', available: '90', reserved: '6' },
    });
    const t = await call(ex.url, 'GET', `/v1/marketdata/ticker?symbol=${sym}`);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ symbol: sym, bidPx: null, bidQty: null, askPx: '100.00', askQty: '6', mid: null, lastPx: '100.00' });

    // the maker side of a partial: a second taker sweeps the rest, maker liquidity seen from the maker's GET
    const sweep = await order(ex, b.apiKey, limit(sym, 'buy', '8', '100.50'));
    expect(sweep.body).toMatchObject({ status: 'partially_filled', filledQty: '6', leavesQty: '2' });
    expect(sweep.body.fills).toEqual([expect.objectContaining({ price: '100.00', qty: '6', liquidity: 'taker' })]);
    const l2 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`);
    expect(l2.body.bids).toEqual([['100.50', '2', 1]]);
    expect(l2.body.asks).toEqual([]);
    expect((await balances(ex, b.apiKey)).USD).toEqual({ total: '9000.00', available: '8799.00', reserved: '201.00' });
  });

  test('a market order takes liquidity up to the protection price; the rest expires; no liquidity = expired without fills', async () => {
    const { sym, a, b } = await market();
    const none = await order(ex, b.apiKey, { symbol: sym, side: 'buy', type: 'market', qty: '5' });
    expect(none.status).toBe(201);
    expect(none.body).toMatchObject({ status: 'expired', filledQty: '0', leavesQty: '0', fills: [], type: 'market', tif: 'IOC', price: null });

    await order(ex, a.apiKey, limit(sym, 'sell', '3', '50.00'));
    await order(ex, a.apiKey, limit(sym, 'sell', '2', '50.10'));
    const m = await order(ex, b.apiKey, { symbol: sym, side: 'buy', type: 'market', qty: '10' });
    expect(m.status).toBe(201);
    expect(m.body).toMatchObject({ status: 'expired', filledQty: '5', leavesQty: '0' });
    expect(m.body.fills.map((f: { price: string; qty: string; liquidity: string }) => [f.price, f.qty, f.liquidity])).toEqual([
      ['50.00', '3', 'taker'],
      ['50.10', '2', 'taker'],
    ]);
    expect(m.body.avgPx).toBe('50.04'); // (150.00 + 100.20) / 5
    expect((await balances(ex, b.apiKey)).USD).toEqual({ total: '9749.80', available: '9749.80', reserved: '0.00' });
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10250.20', available: '10250.20', reserved: '0.00' });
  });

  test('a post-only order that would trade is rejected 422 POST_ONLY_WOULD_TRADE with the order, and changes nothing', async () => {
    const { sym, a, b } = await market();
    await order(ex, a.apiKey, limit(sym, 'sell', '5', '20.00'));
    const before = await balances(ex, b.apiKey);
    const r = await order(ex, b.apiKey, limit(sym, 'buy', '5', '20.00', { postOnly: true, clOrdId: 'po-1' }));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('POST_ONLY_WOULD_TRADE');
    expect(r.body.error.order).toMatchObject({ status: 'rejected', rejectReason: 'POST_ONLY_WOULD_TRADE', clOrdId: 'po-1', postOnly: true, qty: '5', price: '20.00', symbol: sym });
    expect(await balances(ex, b.apiKey)).toEqual(before);
    // one tick better does not cross: it rests
    const ok = await order(ex, b.apiKey, limit(sym, 'buy', '5', '19.99', { postOnly: true }));
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'new', postOnly: true });
  });

  test('insufficient funds is 422 INSUFFICIENT_FUNDS with error.order; nothing is reserved', async () => {
    const { sym, a } = await market();
    const r = await order(ex, a.apiKey, limit(sym, 'buy', '101', '100.00')); // 10100.00 > 10000.00
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('INSUFFICIENT_FUNDS');
    expect(typeof r.body.error.message).toBe('string');
    expect(r.body.error.order).toMatchObject({ status: 'rejected', rejectReason: 'INSUFFICIENT_FUNDS', side: 'buy', type: 'limit', tif: 'GTC', qty: '101', price: '100.00', filledQty: '0', leavesQty: '0' });
    const sell = await order(ex, a.apiKey, limit(sym, 'sell', '101', '100.00')); // 101 > 100 shares
    expect(sell.status).toBe(422);
    expect(sell.body.error.code).toBe('INSUFFICIENT_FUNDS');
    // exactly all of it is fine
    const all = await order(ex, a.apiKey, limit(sym, 'buy', '100', '100.00'));
    expect(all.status).toBe(201);
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10000.00', available: '0.00', reserved: '10000.00' });
  });

  test('off-tick price 400 INVALID_PRICE, off-lot qty 400 INVALID_QUANTITY, unknown symbol 400 UNKNOWN_SYMBOL (never rounded)', async () => {
    const { sym, a } = await market();
    const cases: [Record<string, unknown>, number, string][] = [
      [limit(sym, 'buy', '1', '100.001'), 400, 'INVALID_PRICE'],
      [limit(sym, 'buy', '1', '0'), 400, 'INVALID_PRICE'],
      [limit(sym, 'buy', '1', '-1.00'), 400, 'INVALID_PRICE'],
      [limit(sym, 'buy', '1.5', '100.00'), 400, 'INVALID_QUANTITY'],
      [limit(sym, 'buy', '0', '100.00'), 400, 'INVALID_QUANTITY'],
      [limit('NOPE', 'buy', '1', '100.00'), 400, 'UNKNOWN_SYMBOL'],
      [limit('BTC-USD', 'buy', '0.001', '60000'), 400, 'INVALID_QUANTITY'],
      [limit('BTC-USD', 'buy', '0.01', '60000.5'), 400, 'INVALID_PRICE'],
      [{ symbol: sym, side: 'buy', type: 'limit', qty: '1' }, 400, 'INVALID_PRICE'],
      [limit(sym, 'buy', '100001', '1.00'), 422, 'MAX_QTY_EXCEEDED'],
    ];
    for (const [body, status, code] of cases) {
      const r = await order(ex, a.apiKey, body);
      expect([r.status, r.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('0.00');
    const open = await call(ex.url, 'GET', `/v1/orders?symbol=${sym}`, { key: a.apiKey });
    expect(open.body.orders).toEqual([]);
  });

  test('JSON numbers are read from their decimal text: 189.25 exactly, 189.250000000000001 refused', async () => {
    const { sym, a } = await market();
    const raw = `{"symbol":"${sym}","side":"buy","type":"limit","qty":3,"price":189.25}`;
    const r = await call(ex.url, 'POST', '/v1/order', { key: a.apiKey, rawBody: raw, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ price: '189.25', qty: '3' });
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10000.00', available: '9432.25', reserved: '567.75' });
    // a float parser would read this as 189.25 and accept it
    const near = `{"symbol":"${sym}","side":"buy","type":"limit","qty":1,"price":189.250000000000001}`;
    const n = await call(ex.url, 'POST', '/v1/order', { key: a.apiKey, rawBody: near });
    expect(n.status).toBe(400);
    expect(n.body.error.code).toBe('INVALID_PRICE');
    // trailing zeros are the same value
    const z = await call(ex.url, 'POST', '/v1/order', { key: a.apiKey, rawBody: `{"symbol":"${sym}","side":"buy","type":"limit","qty":1.0,"price":10.100}` });
    expect(z.status).toBe(201);
    expect(z.body).toMatchObject({ price: '10.10', qty: '1' });
  });

  test('BTC-USD: 8-decimal base asset, fractional lots, exact reservations', async () => {
    const a = await newAccount(ex, 'btc-a', { USD: '100000.00', BTC: '1.5' });
    const b = await newAccount(ex, 'btc-b', { USD: '100000.00' });
    const s = await order(ex, a.apiKey, limit('BTC-USD', 'sell', '0.25', '60001'));
    expect(s.status).toBe(201);
    expect((await balances(ex, a.apiKey)).BTC).toEqual({ total: '1.50000000', available: '1.25000000', reserved: '0.25000000' });
    const t = await order(ex, b.apiKey, limit('BTC-USD', 'buy', '0.1', '60500'));
    expect(t.status).toBe(201);
    expect(t.body).toMatchObject({ status: 'filled', qty: '0.10', filledQty: '0.10', fills: [expect.objectContaining({ price: '60001', qty: '0.10', liquidity: 'taker' })] });
    expect(await balances(ex, b.apiKey)).toMatchObject({
      USD: { total: '93999.90', available: '93999.90', reserved: '0.00' },
      BTC: { total: '0.10000000', available: '0.10000000', reserved: '0.00000000' },
    });
    await call(ex.url, 'DELETE', '/v1/orders?symbol=BTC-USD', { key: a.apiKey });
  });
});

describe('order types, time in force, self-trade prevention', () => {
  test('a stop-limit waits off-book (pending_trigger, reserved), triggers on the last trade and fills at the maker price', async () => {
    const { sym, a, b } = await market();
    const stop = await order(ex, a.apiKey, { symbol: sym, side: 'sell', type: 'stop_limit', qty: '2', price: '8.90', stopPrice: '9.00', clOrdId: 'stop-1' });
    expect(stop.status).toBe(201);
    expect(stop.body).toMatchObject({ status: 'pending_trigger', type: 'stop_limit', price: '8.90', stopPrice: '9.00', qty: '2', leavesQty: '2' });
    expect((await balances(ex, a.apiKey))[sym]).toEqual({ total: '100', available: '98', reserved: '2' });
    expect((await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`)).body.asks).toEqual([]);
    await order(ex, b.apiKey, limit(sym, 'buy', '5', '9.00'));
    const trigger = await order(ex, a.apiKey, limit(sym, 'sell', '1', '9.00'));
    expect(trigger.body).toMatchObject({ status: 'filled', fills: [expect.objectContaining({ price: '9.00', qty: '1' })] });
    const s = await call(ex.url, 'GET', '/v1/order?clOrdId=stop-1', { key: a.apiKey });
    expect(s.body).toMatchObject({ orderId: stop.body.orderId, status: 'filled', filledQty: '2', leavesQty: '0' });
    expect(s.body.avgPx).toMatch(/^9(\.0*)?$/);
    expect(await balances(ex, a.apiKey)).toMatchObject({ USD: { total: '10027.00', reserved: '0.00' }, [sym]: { total: '97', available: '97', reserved: '0' } });
    expect((await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`)).body.bids).toEqual([['9.00', '2', 1]]);
  });

  test('IOC and FOK expire what they cannot fill; GTD shows its expireTime; STP cancels the newest by default', async () => {
    const { sym, a, b } = await market();
    await order(ex, a.apiKey, limit(sym, 'sell', '3', '40.00'));
    const fok = await order(ex, b.apiKey, limit(sym, 'buy', '4', '40.00', { tif: 'FOK' }));
    expect(fok.status).toBe(201);
    expect(fok.body).toMatchObject({ status: 'expired', filledQty: '0', fills: [], tif: 'FOK' });
    const ioc = await order(ex, b.apiKey, limit(sym, 'buy', '4', '40.00', { tif: 'IOC' }));
    expect(ioc.body).toMatchObject({ status: 'expired', filledQty: '3', leavesQty: '0', tif: 'IOC' });
    expect((await balances(ex, b.apiKey)).USD).toEqual({ total: '9880.00', available: '9880.00', reserved: '0.00' });
    const gtd = await order(ex, b.apiKey, limit(sym, 'buy', '1', '39.00', { tif: 'GTD', expireTime: '2199-12-31T23:00:00+01:00' }));
    expect(gtd.status).toBe(201);
    expect(gtd.body).toMatchObject({ tif: 'GTD', expireTime: '2199-12-31T22:00:00.000Z', status: 'new' });
    const epoch = await order(ex, b.apiKey, limit(sym, 'buy', '1', '39.00', { tif: 'GTD', expireTime: 7258118400000 }));
    expect(epoch.body.expireTime).toBe('2200-01-01T00:00:00.000Z');
    // beyond what microseconds since 1970 hold exactly (2^53 µs ≈ 2255)
    const far = await order(ex, b.apiKey, limit(sym, 'buy', '1', '39.00', { tif: 'GTD', expireTime: '2999-12-31T23:00:00Z' }));
    expect([far.status, far.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    // self-trade: b's own sell would hit b's bids → the newest (the sell) is canceled
    const self = await order(ex, b.apiKey, limit(sym, 'sell', '1', '39.00'));
    expect(self.status).toBe(201);
    expect(self.body).toMatchObject({ status: 'canceled', filledQty: '0', reason: 'stp', fills: [] });
    expect((await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`)).body.bids).toEqual([['39.00', '2', 2]]);
  });
});

describe('cancel, replace, mass cancel', () => {
  test('DELETE /v1/order/:id cancels and releases the reservation; a second cancel is refused', async () => {
    const { sym, a } = await market();
    const o = await order(ex, a.apiKey, limit(sym, 'buy', '10', '10.00'));
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('100.00');
    const c = await call(ex.url, 'DELETE', `/v1/order/${o.body.orderId}`, { key: a.apiKey });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ orderId: o.body.orderId, status: 'canceled', filledQty: '0', reason: 'user' });
    expect(c.body.seq).toBeGreaterThan(o.body.seq);
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10000.00', available: '10000.00', reserved: '0.00' });
    const l2 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`);
    expect(l2.body.bids).toEqual([]);
    // The engine forgets a final order without clOrdId at once (it keeps clOrdId orders, for
    // dedupe); the report database still has it: 409 TOO_LATE_TO_CANCEL (SPEC §3), and GET shows it
    const again = await call(ex.url, 'DELETE', `/v1/order/${o.body.orderId}`, { key: a.apiKey });
    expect([again.status, again.body.error?.code]).toEqual([409, 'TOO_LATE_TO_CANCEL']);
    const edit = await call(ex.url, 'PATCH', `/v1/order/${o.body.orderId}`, { key: a.apiKey, body: { qty: '5' } });
    expect([edit.status, edit.body.error?.code]).toEqual([409, 'TOO_LATE_TO_CANCEL']);
    const kept = await call(ex.url, 'GET', `/v1/order/${o.body.orderId}`, { key: a.apiKey });
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ orderId: o.body.orderId, status: 'canceled', qty: '10', filledQty: '0', leavesQty: '0', price: '10.00', fills: [] });
    // still nobody else's: another account gets 404 for all three
    const { a: other } = await market();
    for (const [method, body] of [['GET'], ['DELETE'], ['PATCH', { qty: '5' }]] as const) {
      const r = await call(ex.url, method, `/v1/order/${o.body.orderId}`, { key: other.apiKey, body });
      expect([method, r.status, r.body.error?.code]).toEqual([method, 404, 'NOT_FOUND']);
    }
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10000.00', available: '10000.00', reserved: '0.00' });
  });

  test('a filled order without clOrdId: GET /v1/order/:id shows it with its fills from the report database', async () => {
    const { sym, a, b } = await market();
    const ask = await order(ex, b.apiKey, limit(sym, 'sell', '3', '20.00'));
    const bid = await order(ex, a.apiKey, limit(sym, 'buy', '3', '20.00'));
    expect(bid.body).toMatchObject({ status: 'filled', filledQty: '3' });
    const got = await call(ex.url, 'GET', `/v1/order/${ask.body.orderId}`, { key: b.apiKey });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ orderId: ask.body.orderId, status: 'filled', filledQty: '3', leavesQty: '0', avgPx: bid.body.avgPx });
    expect(got.body.fills).toEqual([{ tradeId: bid.body.fills[0].tradeId, price: '20.00', qty: '3', liquidity: 'maker', ts: bid.body.fills[0].ts }]);
    const late = await call(ex.url, 'DELETE', `/v1/order/${ask.body.orderId}`, { key: b.apiKey });
    expect([late.status, late.body.error?.code]).toEqual([409, 'TOO_LATE_TO_CANCEL']);
  });

  test('DELETE /v1/order?clOrdId= cancels; cancelling it again or a filled order is 409 TOO_LATE_TO_CANCEL', async () => {
    const { sym, a, b } = await market();
    const o = await order(ex, a.apiKey, limit(sym, 'sell', '5', '30.00', { clOrdId: 'cx-1' }));
    expect(o.body.clOrdId).toBe('cx-1');
    const c = await call(ex.url, 'DELETE', '/v1/order?clOrdId=cx-1', { key: a.apiKey });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ orderId: o.body.orderId, clOrdId: 'cx-1', status: 'canceled', leavesQty: '0' });
    expect((await balances(ex, a.apiKey))[sym]).toEqual({ total: '100', available: '100', reserved: '0' });
    for (const path of ['/v1/order?clOrdId=cx-1', `/v1/order/${o.body.orderId}`]) {
      const again = await call(ex.url, 'DELETE', path, { key: a.apiKey });
      expect(again.status, path).toBe(409);
      expect(again.body.error.code).toBe('TOO_LATE_TO_CANCEL');
    }
    // the final order is still readable by clOrdId
    const g = await call(ex.url, 'GET', '/v1/order?clOrdId=cx-1', { key: a.apiKey });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ orderId: o.body.orderId, status: 'canceled', leavesQty: '0' });

    const f = await order(ex, a.apiKey, limit(sym, 'sell', '1', '30.00', { clOrdId: 'cx-2' }));
    await order(ex, b.apiKey, limit(sym, 'buy', '1', '30.00'));
    const filled = await call(ex.url, 'DELETE', `/v1/order/${f.body.orderId}`, { key: a.apiKey });
    expect(filled.status).toBe(409);
    expect(filled.body.error.code).toBe('TOO_LATE_TO_CANCEL');
    const unknown = await call(ex.url, 'DELETE', '/v1/order?clOrdId=never-used', { key: a.apiKey });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    const noId = await call(ex.url, 'DELETE', '/v1/order', { key: a.apiKey });
    expect(noId.status).toBe(400);
    expect(noId.body.error.code).toBe('INVALID_REQUEST');
  });

  test('PATCH: lowering qty keeps priority and releases funds; raising qty or changing price loses it', async () => {
    const { sym, a, b } = await market();
    const o1 = await order(ex, a.apiKey, limit(sym, 'buy', '5', '50.00'));
    const o2 = await order(ex, b.apiKey, limit(sym, 'buy', '5', '50.00'));
    const l3 = async () => (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`)).body;

    const down = await call(ex.url, 'PATCH', `/v1/order/${o1.body.orderId}`, { key: a.apiKey, body: { qty: '3' } });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ orderId: o1.body.orderId, qty: '3', leavesQty: '3', price: '50.00', status: 'new' });
    expect(down.body.seq).toBeGreaterThan(o2.body.seq);
    expect((await l3()).bids).toEqual([
      { orderId: o1.body.orderId, side: 'buy', px: '50.00', qty: '3' },
      { orderId: o2.body.orderId, side: 'buy', px: '50.00', qty: '5' },
    ]);
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10000.00', available: '9850.00', reserved: '150.00' });

    const up = await call(ex.url, 'PATCH', `/v1/order/${o1.body.orderId}`, { key: a.apiKey, body: { qty: '6' } });
    expect(up.status).toBe(200);
    expect((await l3()).bids.map((e: { orderId: number }) => e.orderId)).toEqual([o2.body.orderId, o1.body.orderId]);
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('300.00');

    const px = await call(ex.url, 'PATCH', `/v1/order/${o1.body.orderId}`, { key: a.apiKey, body: { price: 49.99 } });
    expect(px.status).toBe(200);
    expect(px.body).toMatchObject({ price: '49.99', qty: '6', leavesQty: '6' });
    expect((await l3()).bids).toEqual([
      { orderId: o2.body.orderId, side: 'buy', px: '50.00', qty: '5' },
      { orderId: o1.body.orderId, side: 'buy', px: '49.99', qty: '6' },
    ]);
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '10000.00', available: '9700.06', reserved: '299.94' });

    // a price that crosses trades at once, at the maker's price
    await order(ex, b.apiKey, limit(sym, 'sell', '2', '49.99'));
    const bad = await call(ex.url, 'PATCH', `/v1/order/${o1.body.orderId}`, { key: a.apiKey, body: { price: '49.995' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_PRICE');
    const empty = await call(ex.url, 'PATCH', `/v1/order/${o1.body.orderId}`, { key: a.apiKey, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('INVALID_REQUEST');
    const tooMuch = await call(ex.url, 'PATCH', `/v1/order/${o1.body.orderId}`, { key: a.apiKey, body: { qty: '1000' } });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body.error.code).toBe('INSUFFICIENT_FUNDS');
    const unknown = await call(ex.url, 'PATCH', '/v1/order/999999999', { key: a.apiKey, body: { qty: '1' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');

    // a new clOrdId with the replace: the order answers to it
    const renamed = await call(ex.url, 'PATCH', `/v1/order/${o2.body.orderId}`, { key: b.apiKey, body: { qty: '4', clOrdId: 'renamed-1' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ orderId: o2.body.orderId, clOrdId: 'renamed-1', qty: '4' });
    expect((await call(ex.url, 'GET', '/v1/order?clOrdId=renamed-1', { key: b.apiKey })).body.orderId).toBe(o2.body.orderId);
    // a final order cannot be replaced
    await call(ex.url, 'DELETE', '/v1/order?clOrdId=renamed-1', { key: b.apiKey });
    const late = await call(ex.url, 'PATCH', `/v1/order/${o2.body.orderId}`, { key: b.apiKey, body: { qty: '1' } });
    expect([late.status, late.body.error?.code]).toEqual([409, 'TOO_LATE_TO_CANCEL']);
  });

  test('DELETE /v1/orders?symbol= cancels the account’s open orders of that symbol and returns the count', async () => {
    const { sym, a, b } = await market();
    const other = await newSymbol(ex);
    await newAccount(ex, 'unused');
    const ids = [];
    for (const p of ['10.00', '10.01', '10.02']) ids.push((await order(ex, a.apiKey, limit(sym, 'buy', '1', p))).body.orderId);
    await order(ex, a.apiKey, limit(sym, 'sell', '2', '11.00'));
    const keep = await order(ex, a.apiKey, limit(other, 'buy', '1', '5.00'));
    const bOrder = await order(ex, b.apiKey, limit(sym, 'buy', '1', '9.00'));
    const r = await call(ex.url, 'DELETE', `/v1/orders?symbol=${sym}`, { key: a.apiKey });
    expect(r.status).toBe(200);
    expect(r.body.canceled).toBe(4);
    expect(r.body.orderIds).toHaveLength(4);
    expect(r.body.orderIds.slice(0, 3)).toEqual(ids);
    const open = await call(ex.url, 'GET', '/v1/orders', { key: a.apiKey });
    expect(open.body.orders.map((o: { orderId: number }) => o.orderId)).toEqual([keep.body.orderId]);
    expect(await balances(ex, a.apiKey)).toMatchObject({ USD: { reserved: '5.00', available: '9995.00' }, [sym]: { reserved: '0', available: '100' } });
    const l3 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`);
    expect(l3.body.bids).toEqual([{ orderId: bOrder.body.orderId, side: 'buy', px: '9.00', qty: '1' }]);
    expect(l3.body.asks).toEqual([]);
    // nothing left: zero; all symbols
    expect((await call(ex.url, 'DELETE', `/v1/orders?symbol=${sym}`, { key: a.apiKey })).body.canceled).toBe(0);
    expect((await call(ex.url, 'DELETE', '/v1/orders', { key: a.apiKey })).body.canceled).toBe(1);
    const unknown = await call(ex.url, 'DELETE', '/v1/orders?symbol=NOPE', { key: a.apiKey });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('UNKNOWN_SYMBOL');
  });
});

describe('queries', () => {
  test('GET /v1/order/:id and ?clOrdId= answer the same order', async () => {
    const { sym, a } = await market();
    const o = await order(ex, a.apiKey, limit(sym, 'buy', '2', '12.34', { clOrdId: 'q_1-A' }));
    const byId = await call(ex.url, 'GET', `/v1/order/${o.body.orderId}`, { key: a.apiKey });
    const byCl = await call(ex.url, 'GET', '/v1/order?clOrdId=q_1-A', { key: a.apiKey });
    expect(byId.status).toBe(200);
    expect(byCl.status).toBe(200);
    expect(byCl.body).toEqual(byId.body);
    const { fills: _f, updatedAt: _u, ...posted } = o.body;
    expect(byId.body).toMatchObject({ ...posted, updatedAt: expect.any(String) });
    for (const path of ['/v1/order/999999999', '/v1/order?clOrdId=nope', '/v1/order/abc', '/v1/order/0', '/v1/order/-1']) {
      const r = await call(ex.url, 'GET', path, { key: a.apiKey });
      expect([r.status, r.body.error?.code], path).toEqual([404, 'NOT_FOUND']);
    }
    const badCl = await call(ex.url, 'GET', '/v1/order?clOrdId=has%20space', { key: a.apiKey });
    expect(badCl.status).toBe(400);
    expect(badCl.body.error.code).toBe('INVALID_REQUEST');
  });

  test('GET /v1/orders pages with limit and cursor, filters by symbol', async () => {
    const { sym, a } = await market();
    const other = await newSymbol(ex);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await order(ex, a.apiKey, limit(sym, 'buy', '1', `1.0${i}`))).body.orderId);
    const otherId = (await order(ex, a.apiKey, limit(other, 'buy', '1', '1.00'))).body.orderId;
    const seen: number[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const r = await call(ex.url, 'GET', `/v1/orders?symbol=${sym}&limit=2${cursor === '' ? '' : `&cursor=${cursor}`}`, { key: a.apiKey });
      expect(r.status).toBe(200);
      expect(r.body.orders.length).toBeLessThanOrEqual(2);
      for (const o of r.body.orders) {
        expect(o.symbol).toBe(sym);
        expect(o.status).toBe('new');
      }
      seen.push(...r.body.orders.map((o: { orderId: number }) => o.orderId));
      cursor = r.body.nextCursor;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    const all = await call(ex.url, 'GET', '/v1/orders?status=open', { key: a.apiKey });
    expect(all.body.orders.map((o: { orderId: number }) => o.orderId)).toEqual([...ids, otherId]);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.orders[0]).toMatchObject({ price: '1.00', qty: '1', leavesQty: '1', side: 'buy' });
    const unknownSym = await call(ex.url, 'GET', '/v1/orders?symbol=NOPE', { key: a.apiKey });
    expect([unknownSym.status, unknownSym.body.error?.code]).toEqual([400, 'UNKNOWN_SYMBOL']);
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'cursor=xyz', 'status=bogus']) {
      const r = await call(ex.url, 'GET', `/v1/orders?${q}`, { key: a.apiKey });
      expect([r.status, r.body.error?.code], q).toEqual([400, 'INVALID_REQUEST']);
    }
  });

  test('GET /v1/account shows balances, limits and the account', async () => {
    const a = await newAccount(ex, 'acct-view', { USD: '123.45' });
    const r = await call(ex.url, 'GET', '/v1/account', { key: a.apiKey });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accountId: a.accountId, name: 'acct-view', enabled: true, limits: { openOrders: 0 } });
    expect(r.body.limits.maxOpenOrders).toBeGreaterThan(0);
    const usd = r.body.balances.find((b: { asset: string }) => b.asset === 'USD');
    expect(usd).toEqual({ asset: 'USD', total: '123.45', available: '123.45', reserved: '0.00' });
    const btc = r.body.balances.find((b: { asset: string }) => b.asset === 'BTC');
    expect(btc).toEqual({ asset: 'BTC', total: '0.00000000', available: '0.00000000', reserved: '0.00000000' });
  });

  test('GET /v1/symbols lists every symbol and asset with its reference data and state', async () => {
    const r = await call(ex.url, 'GET', '/v1/symbols');
    expect(r.status).toBe(200);
    expect(r.body.assets).toEqual(expect.arrayContaining([{ asset: 'USD', decimals: 2 }, { asset: 'BTC', decimals: 8 }, { asset: 'AAPL', decimals: 0 }]));
    const aapl = r.body.symbols.find((s: { symbol: string }) => s.symbol === 'AAPL');
    expect(aapl).toMatchObject({ symbol: 'AAPL', base: 'AAPL', quote: 'USD', tickSize: '0.01', lotSize: '1', minQty: '1', maxQty: '100000', priceBandPct: '10', state: 'open' });
    expect(aapl.idx).toBeUndefined();
    const btc = r.body.symbols.find((s: { symbol: string }) => s.symbol === 'BTC-USD');
    expect(btc).toMatchObject({ tickSize: '1', lotSize: '0.01', base: 'BTC', quote: 'USD' });
    expect(r.body.seq).toBeGreaterThan(0);
  });

  test('ticker, L2 with depth, L3 in priority order without account ids', async () => {
    const { sym, a, b } = await market();
    const x1 = await order(ex, a.apiKey, limit(sym, 'buy', '3', '99.00'));
    const x2 = await order(ex, b.apiKey, limit(sym, 'buy', '4', '99.00'));
    const x3 = await order(ex, a.apiKey, limit(sym, 'buy', '1', '98.50'));
    const y1 = await order(ex, b.apiKey, limit(sym, 'sell', '2', '99.05'));
    const y2 = await order(ex, a.apiKey, limit(sym, 'sell', '7', '101.00'));
    const t = await call(ex.url, 'GET', `/v1/marketdata/ticker?symbol=${sym}`);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ symbol: sym, bidPx: '99.00', bidQty: '7', askPx: '99.05', askQty: '2', lastPx: null, state: 'open' });
    expect(t.body.mid).toBe('99.025');
    expect(t.body.seq).toBeGreaterThanOrEqual(y2.body.seq);
    const l2 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`);
    expect(l2.body).toMatchObject({
      symbol: sym,
      bids: [
        ['99.00', '7', 2],
        ['98.50', '1', 1],
      ],
      asks: [
        ['99.05', '2', 1],
        ['101.00', '7', 1],
      ],
    });
    const d1 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}&depth=1`);
    expect(d1.body.bids).toEqual([['99.00', '7', 2]]);
    expect(d1.body.asks).toEqual([['99.05', '2', 1]]);
    const l3 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`);
    expect(l3.status).toBe(200);
    expect(l3.body.bids).toEqual([
      { orderId: x1.body.orderId, side: 'buy', px: '99.00', qty: '3' },
      { orderId: x2.body.orderId, side: 'buy', px: '99.00', qty: '4' },
      { orderId: x3.body.orderId, side: 'buy', px: '98.50', qty: '1' },
    ]);
    expect(l3.body.asks).toEqual([
      { orderId: y1.body.orderId, side: 'sell', px: '99.05', qty: '2' },
      { orderId: y2.body.orderId, side: 'sell', px: '101.00', qty: '7' },
    ]);
    expect(JSON.stringify(l3.body)).not.toContain('accountId');
    for (const q of ['', 'symbol=', `symbol=${sym}&depth=0`, `symbol=${sym}&depth=x`]) {
      const r = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?${q}`);
      expect([r.status, r.body.error?.code], q).toEqual([400, 'INVALID_REQUEST']);
    }
    for (const path of ['/v1/marketdata/ticker?symbol=NOPE', '/v1/marketdata/orderBook/L2?symbol=NOPE', '/v1/marketdata/orderBook/L3?symbol=NOPE', '/v1/marketdata/trades?symbol=NOPE', '/v1/marketdata/candles?symbol=NOPE']) {
      const r = await call(ex.url, 'GET', path);
      expect([r.status, r.body.error?.code], path).toEqual([400, 'UNKNOWN_SYMBOL']);
    }
  });

  test('trades, candles and the ticker day statistics, read right after the trades (from the market-data worker)', async () => {
    const { sym, a, b } = await market();
    await order(ex, a.apiKey, limit(sym, 'buy', '3', '99.00'));
    await order(ex, a.apiKey, limit(sym, 'buy', '5', '98.00'));
    const t1 = await order(ex, b.apiKey, limit(sym, 'sell', '4', '98.00')); // 3 @ 99.00, then 1 @ 98.00
    expect(t1.body.filledQty).toBe('4');
    const trades = await call(ex.url, 'GET', `/v1/marketdata/trades?symbol=${sym}`);
    expect(trades.status).toBe(200);
    expect(trades.body.seq).toBeGreaterThanOrEqual(t1.body.seq);
    expect(trades.body.trades.map((t: { px: string; qty: string; side: string }) => [t.px, t.qty, t.side])).toEqual([
      ['99.00', '3', 'sell'],
      ['98.00', '1', 'sell'],
    ]);
    expect((await call(ex.url, 'GET', `/v1/marketdata/trades?symbol=${sym}&limit=1`)).body.trades).toHaveLength(1);
    const ticker = (await call(ex.url, 'GET', `/v1/marketdata/ticker?symbol=${sym}`)).body;
    expect(ticker).toMatchObject({ bidPx: '98.00', bidQty: '4', askPx: null, lastPx: '98.00', lastQty: '1', open: '99.00', high: '99.00', low: '98.00', volume: '4' });
    const candles = await call(ex.url, 'GET', `/v1/marketdata/candles?symbol=${sym}&resolution=1m`);
    expect(candles.status).toBe(200);
    expect(candles.body).toHaveLength(1);
    expect(candles.body[0]).toMatchObject({ o: '99.00', h: '99.00', l: '98.00', c: '98.00', v: '4', n: 2, closed: false });
    expect(candles.body[0].t % 60_000).toBe(0);
    for (const q of ['resolution=2m', 'resolution=1m&startTime=x', 'resolution=1m&limit=0']) {
      const r = await call(ex.url, 'GET', `/v1/marketdata/candles?symbol=${sym}&${q}`);
      expect([r.status, r.body.error?.code], q).toEqual([400, 'INVALID_REQUEST']);
    }
  });
});

describe('admin', () => {
  test('create account: its apiKey works and it starts empty', async () => {
    const r = await admin(ex, 'POST', '/v1/admin/accounts', { name: 'fresh' });
    expect(r.status).toBe(201);
    expect(r.body.apiKey).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(r.body.accountId).toBeGreaterThan(ex.demo.accountId);
    const acct = await call(ex.url, 'GET', '/v1/account', { key: r.body.apiKey });
    expect(acct.status).toBe(200);
    expect(acct.body.accountId).toBe(r.body.accountId);
    expect(acct.body.balances.find((b: { asset: string }) => b.asset === 'USD')).toEqual({ asset: 'USD', total: '0.00', available: '0.00', reserved: '0.00' });
    for (const body of [{}, { name: '' }, { name: 7 }, { name: 'x'.repeat(65) }, { name: 'ok', extra: 1 }]) {
      const bad = await admin(ex, 'POST', '/v1/admin/accounts', body);
      expect([bad.status, bad.body.error?.code], JSON.stringify(body)).toEqual([400, 'INVALID_REQUEST']);
    }
  });

  test('deposit / withdraw are idempotent by transferId; a reused id with other parameters is refused', async () => {
    const a = await newAccount(ex, 'xfer');
    const path = `/v1/admin/accounts/${a.accountId}`;
    const d = await admin(ex, 'POST', `${path}/deposit`, { asset: 'USD', amount: '250.10', transferId: 'dep-1' });
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({ accountId: a.accountId, asset: 'USD', amount: '250.10', transferId: 'dep-1', total: '250.10' });
    expect(d.headers['idempotent-replay']).toBeUndefined();
    const again = await admin(ex, 'POST', `${path}/deposit`, { asset: 'USD', amount: '250.10', transferId: 'dep-1' });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replay']).toBe('true');
    expect((await balances(ex, a.apiKey)).USD.total).toBe('250.10');
    const other = await admin(ex, 'POST', `${path}/deposit`, { asset: 'USD', amount: '250.11', transferId: 'dep-1' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('DUPLICATE_TRANSFER_ID');
    const asWithdraw = await admin(ex, 'POST', `${path}/withdraw`, { asset: 'USD', amount: '250.10', transferId: 'dep-1' });
    expect(asWithdraw.status).toBe(409);

    const w = await admin(ex, 'POST', `${path}/withdraw`, { asset: 'USD', amount: 50.1, transferId: 'wd-1' });
    expect(w.status).toBe(200);
    expect(w.body.total).toBe('200.00');
    expect((await admin(ex, 'POST', `${path}/withdraw`, { asset: 'USD', amount: 50.1, transferId: 'wd-1' })).headers['idempotent-replay']).toBe('true');
    const over = await admin(ex, 'POST', `${path}/withdraw`, { asset: 'USD', amount: '200.01', transferId: 'wd-2' });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe('INSUFFICIENT_FUNDS');
    expect(await balances(ex, a.apiKey)).toMatchObject({ USD: { total: '200.00', available: '200.00', reserved: '0.00' } });

    const cases: [string, unknown, number, string][] = [
      [`${path}/deposit`, { asset: 'USD', amount: '1.001', transferId: 'x1' }, 400, 'INVALID_QUANTITY'],
      [`${path}/deposit`, { asset: 'USD', amount: '-1', transferId: 'x1' }, 400, 'INVALID_QUANTITY'],
      [`${path}/deposit`, { asset: 'USD', amount: '0', transferId: 'x1' }, 400, 'INVALID_QUANTITY'],
      [`${path}/deposit`, { asset: 'NOPE', amount: '1', transferId: 'x1' }, 400, 'INVALID_REQUEST'],
      [`${path}/deposit`, { asset: 'USD', amount: '1' }, 400, 'INVALID_REQUEST'],
      [`${path}/deposit`, { asset: 'USD', amount: '1', transferId: 'bad id!' }, 400, 'INVALID_REQUEST'],
      ['/v1/admin/accounts/999999/deposit', { asset: 'USD', amount: '1', transferId: 'x2' }, 404, 'NOT_FOUND'],
      [`${path}/explode`, {}, 404, 'NOT_FOUND'],
    ];
    for (const [p, body, status, code] of cases) {
      const r = await admin(ex, 'POST', p, body);
      expect([r.status, r.body.error?.code], `${p} ${JSON.stringify(body)}`).toEqual([status, code]);
    }
    expect((await balances(ex, a.apiKey)).USD.total).toBe('200.00');
  });

  test('disable is a kill switch (open orders canceled, new ones 403 ACCOUNT_DISABLED); enable restores', async () => {
    const { sym, a } = await market();
    await order(ex, a.apiKey, limit(sym, 'buy', '2', '10.00'));
    await order(ex, a.apiKey, limit(sym, 'sell', '3', '20.00'));
    const d = await admin(ex, 'POST', `/v1/admin/accounts/${a.accountId}/disable`);
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({ accountId: a.accountId, enabled: false, canceled: 2 });
    expect((await call(ex.url, 'GET', '/v1/orders', { key: a.apiKey })).body.orders).toEqual([]);
    expect(await balances(ex, a.apiKey)).toMatchObject({ USD: { total: '10000.00', reserved: '0.00' }, [sym]: { total: '100', reserved: '0' } });
    const l2 = await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`);
    expect([l2.body.bids, l2.body.asks]).toEqual([[], []]);
    const r = await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'));
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('ACCOUNT_DISABLED');
    expect((await call(ex.url, 'GET', '/v1/account', { key: a.apiKey })).body.enabled).toBe(false);
    const e = await admin(ex, 'POST', `/v1/admin/accounts/${a.accountId}/enable`);
    expect(e.status).toBe(200);
    expect(e.body).toMatchObject({ enabled: true, canceled: 0 });
    expect((await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'))).status).toBe(201);
    const unknown = await admin(ex, 'POST', '/v1/admin/accounts/999999/disable');
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'NOT_FOUND']);
  });

  test('limits: max open orders and a daily quantity limit per symbol', async () => {
    const { sym, a } = await market();
    const r = await admin(ex, 'PUT', `/v1/admin/accounts/${a.accountId}/limits`, { maxOpenOrders: 1, dailyQtyLimits: { [sym]: '5' } });
    expect(r.status).toBe(200);
    const acct = await call(ex.url, 'GET', '/v1/account', { key: a.apiKey });
    expect(acct.body.limits).toEqual({ maxOpenOrders: 1, openOrders: 0, dailyQtyLimits: { [sym]: '5' } });
    const big = await order(ex, a.apiKey, limit(sym, 'buy', '6', '1.00'));
    expect([big.status, big.body.error?.code]).toEqual([422, 'DAILY_LIMIT_EXCEEDED']);
    expect((await order(ex, a.apiKey, limit(sym, 'buy', '5', '1.00'))).status).toBe(201);
    const second = await order(ex, a.apiKey, limit(sym, 'buy', '1', '1.00'));
    expect(second.status).toBe(422);
    expect(['MAX_OPEN_ORDERS_EXCEEDED', 'DAILY_LIMIT_EXCEEDED']).toContain(second.body.error.code);
    const reset = await admin(ex, 'PUT', `/v1/admin/accounts/${a.accountId}/limits`, { maxOpenOrders: null, dailyQtyLimits: { [sym]: null } });
    expect(reset.status).toBe(200);
    expect((await order(ex, a.apiKey, limit(sym, 'buy', '1', '1.00'))).status).toBe(201);
    for (const body of [{ maxOpenOrders: 0 }, { maxOpenOrders: 'x' }, { dailyQtyLimits: { NOPE: '1' } }, { dailyQtyLimits: { [sym]: '0.5' } }, { other: 1 }]) {
      const bad = await admin(ex, 'PUT', `/v1/admin/accounts/${a.accountId}/limits`, body);
      expect(bad.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(bad.status, JSON.stringify(body)).toBeLessThan(500);
    }
  });

  test('add an asset and a symbol, then trade it; duplicates are refused', async () => {
    const a1 = await admin(ex, 'POST', '/v1/admin/assets', { asset: 'NEWCOIN', decimals: 4 });
    expect(a1.status).toBe(201);
    expect(a1.body).toMatchObject({ asset: 'NEWCOIN', decimals: 4 });
    const dup = await admin(ex, 'POST', '/v1/admin/assets', { asset: 'NEWCOIN', decimals: 4 });
    expect([dup.status, dup.body.error?.code]).toEqual([409, 'ALREADY_EXISTS']);
    const badAsset = await admin(ex, 'POST', '/v1/admin/assets', { asset: 'lower', decimals: 2 });
    expect([badAsset.status, badAsset.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    const cfg = { symbol: 'NEWCOIN-USD', base: 'NEWCOIN', quote: 'USD', tickSize: '0.02', lotSize: '0.5', minQty: '0.5', maxQty: '1000', maxNotional: '100000', priceBandPct: '20', referencePrice: '10.00' };
    const s = await admin(ex, 'POST', '/v1/admin/symbols', cfg);
    expect(s.status).toBe(201);
    expect(s.body.symbol).toBe('NEWCOIN-USD');
    const dupSym = await admin(ex, 'POST', '/v1/admin/symbols', cfg);
    expect([dupSym.status, dupSym.body.error?.code]).toEqual([409, 'ALREADY_EXISTS']);
    const listed = (await call(ex.url, 'GET', '/v1/symbols')).body.symbols.find((x: { symbol: string }) => x.symbol === 'NEWCOIN-USD');
    expect(listed).toMatchObject({ ...cfg, state: 'open' });

    const a = await newAccount(ex, 'nc-a', { NEWCOIN: '10.5' });
    const b = await newAccount(ex, 'nc-b', { USD: '1000.00' });
    expect((await balances(ex, a.apiKey)).NEWCOIN).toEqual({ total: '10.5000', available: '10.5000', reserved: '0.0000' });
    const band = await order(ex, a.apiKey, limit('NEWCOIN-USD', 'sell', '1', '12.10'));
    expect([band.status, band.body.error?.code]).toEqual([422, 'PRICE_OUTSIDE_BAND']);
    const sell = await order(ex, a.apiKey, limit('NEWCOIN-USD', 'sell', '2.5', '10.04'));
    expect(sell.status).toBe(201);
    const buy = await order(ex, b.apiKey, limit('NEWCOIN-USD', 'buy', '1.5', '10.10'));
    expect(buy.body).toMatchObject({ status: 'filled', fills: [expect.objectContaining({ price: '10.04', qty: '1.5' })] });
    expect(await balances(ex, b.apiKey)).toMatchObject({ USD: { total: '984.94', available: '984.94', reserved: '0.00' }, NEWCOIN: { total: '1.5000', reserved: '0.0000' } });
    expect(await balances(ex, a.apiKey)).toMatchObject({ USD: { total: '15.06' }, NEWCOIN: { total: '9.0000', available: '8.0000', reserved: '1.0000' } });
  });

  test('admin bodies: unknown (misspelt) fields are refused; a command too large for the ring is 413, never 5xx', async () => {
    const base = { symbol: 'TYPO1', base: 'BTC', quote: 'USD', tickSize: '1', lotSize: '0.01', maxQty: '1', maxNotional: '100000' };
    const typo = await admin(ex, 'POST', '/v1/admin/symbols', { ...base, priceBandPtc: '5' });
    expect([typo.status, typo.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(typo.body.error.message).toContain('priceBandPtc');
    const assetTypo = await admin(ex, 'POST', '/v1/admin/assets', { asset: 'TYPO2', decimals: 2, decimal: 3 });
    expect([assetTypo.status, assetTypo.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    const patchTypo = await admin(ex, 'PATCH', '/v1/admin/symbols/AAPL', { maxQyt: '5' });
    expect([patchTypo.status, patchTypo.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    const listed = (await call(ex.url, 'GET', '/v1/symbols')).body;
    expect(listed.symbols.map((x: { symbol: string }) => x.symbol)).not.toContain('TYPO1');
    expect(listed.assets.map((x: { asset: string }) => x.asset)).not.toContain('TYPO2');

    const seq = (await admin(ex, 'GET', '/v1/admin/status')).body.lastSeq;
    const hugeSymbol = await admin(ex, 'POST', '/v1/admin/symbols', { ...base, symbol: 'HUGE1', referencePrice: '1'.repeat(20_000) });
    expect([hugeSymbol.status, hugeSymbol.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const hugePatch = await admin(ex, 'PATCH', '/v1/admin/symbols/AAPL', { session: { open: '09:30', close: '16:00', weekdays: Array(10_000).fill(1) } });
    expect(hugePatch.status).toBe(413);
    const limits: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) limits[`SYM${i}`] = '1';
    const hugeLimits = await admin(ex, 'PUT', `/v1/admin/accounts/${ex.demo.accountId}/limits`, { dailyQtyLimits: limits });
    expect(hugeLimits.status).toBe(413);
    const longTransfer = await admin(ex, 'POST', `/v1/admin/accounts/${ex.demo.accountId}/deposit`, { asset: 'USD', amount: '1', transferId: 't'.repeat(20_000) });
    expect([longTransfer.status, longTransfer.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    expect((await admin(ex, 'GET', '/v1/admin/status')).body.lastSeq).toBe(seq);
    expect((await call(ex.url, 'GET', '/healthz')).status).toBe(200);
  });

  test('PATCH /v1/admin/symbols/:symbol changes a mutable field; tick size may not change', async () => {
    const { sym, a } = await market();
    const r = await admin(ex, 'PATCH', `/v1/admin/symbols/${sym}`, { maxQty: '10' });
    expect(r.status).toBe(200);
    const big = await order(ex, a.apiKey, limit(sym, 'buy', '11', '1.00'));
    expect([big.status, big.body.error?.code]).toEqual([422, 'MAX_QTY_EXCEEDED']);
    expect((await order(ex, a.apiKey, limit(sym, 'buy', '10', '1.00'))).status).toBe(201);
    const tick = await admin(ex, 'PATCH', `/v1/admin/symbols/${sym}`, { tickSize: '0.1' });
    expect(tick.status).toBe(400);
    const unknown = await admin(ex, 'PATCH', '/v1/admin/symbols/NOPE', { maxQty: '10' });
    expect([unknown.status, unknown.body.error?.code]).toEqual([400, 'UNKNOWN_SYMBOL']);
  });

  test('symbol state: halt → 422 SYMBOL_HALTED (cancels still work), open again → trading', async () => {
    const { sym, a } = await market();
    const resting = await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'));
    const h = await admin(ex, 'POST', `/v1/admin/symbols/${sym}/state`, { state: 'halt' });
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ symbol: sym, state: 'halted' });
    const r = await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'));
    expect([r.status, r.body.error?.code]).toEqual([422, 'SYMBOL_HALTED']);
    expect((await call(ex.url, 'GET', `/v1/marketdata/ticker?symbol=${sym}`)).body.state).toBe('halted');
    const sym2 = (await call(ex.url, 'GET', '/v1/symbols')).body.symbols.find((x: { symbol: string }) => x.symbol === sym);
    expect(sym2.state).toBe('halted');
    const c = await call(ex.url, 'DELETE', `/v1/order/${resting.body.orderId}`, { key: a.apiKey });
    expect(c.status).toBe(200);
    const close = await admin(ex, 'POST', `/v1/admin/symbols/${sym}/state`, { state: 'close' });
    expect(close.body.state).toBe('closed');
    const closed = await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'));
    expect([closed.status, closed.body.error?.code]).toEqual([422, 'MARKET_CLOSED']);
    expect((await admin(ex, 'POST', `/v1/admin/symbols/${sym}/state`, { state: 'open' })).status).toBe(200);
    expect((await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'))).status).toBe(201);
    const bad = await admin(ex, 'POST', `/v1/admin/symbols/${sym}/state`, { state: 'sleepy' });
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'INVALID_REQUEST']);
    const unknown = await admin(ex, 'POST', '/v1/admin/symbols/NOPE/state', { state: 'halt' });
    expect([unknown.status, unknown.body.error?.code]).toEqual([400, 'UNKNOWN_SYMBOL']);
  });

  test('snapshot and status', async () => {
    const s = await admin(ex, 'POST', '/v1/admin/snapshot');
    expect(s.status).toBe(200);
    expect(s.body.error).toBeUndefined();
    expect(s.body.seq).toBeGreaterThan(0);
    const st = await admin(ex, 'GET', '/v1/admin/status');
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ role: 'primary', replicaSeq: null });
    expect(st.body.lastSeq).toBeGreaterThanOrEqual(s.body.seq);
    expect(st.body.durableSeq).toBeGreaterThanOrEqual(s.body.seq);
    expect(st.body.snapshotSeq).toBeGreaterThanOrEqual(s.body.seq);
    expect(st.body.journalBytes).toBeGreaterThan(0);
    expect(typeof st.body.uptimeSeconds).toBe('number');
  });
});

describe('operations', () => {
  test('/healthz and /metrics', async () => {
    const h = await call(ex.url, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'ok' });
    const m = await call(ex.url, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    expect(typeof m.body).toBe('string');
    for (const name of ['seqex_up 1', 'seqex_is_primary 1', 'seqex_sequenced_seq', 'seqex_durable_seq', 'seqex_commands_total', 'seqex_journal_bytes_total', 'seqex_fsync_seconds_bucket', 'seqex_http_answers_total{class="2xx"}', 'seqex_http_request_seconds_count'])
      expect(m.body).toContain(name);
    expect(m.body).toMatch(/^# TYPE seqex_http_request_seconds histogram$/m);
    // the workers keep up with this light load: each is at most a few frames behind, far from a lap
    const capacity = Number(/^seqex_event_ring_capacity_bytes (\d+)$/m.exec(m.body)?.[1]);
    for (const consumer of ['market_data', 'reports']) {
      const lag = Number(new RegExp(`^seqex_event_ring_lag_bytes\\{consumer="${consumer}"\\} (-?\\d+)$`, 'm').exec(m.body)?.[1]);
      expect(lag, consumer).toBeGreaterThanOrEqual(0);
      expect(lag, consumer).toBeLessThan(capacity / 2);
    }
    for (const line of (m.body as string).split('\n')) if (line !== '' && !line.startsWith('#')) expect(line).toMatch(/^seqex_[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$/);
  });

  test('an unknown route is 404 NOT_FOUND', async () => {
    for (const [method, path] of [['GET', '/v1/nothing'], ['POST', '/v1/orders'], ['PUT', '/v1/order/1'], ['GET', '/']]) {
      const r = await call(ex.url, method!, path!, { key: ex.demo.apiKey });
      expect([r.status, r.body.error?.code], `${method} ${path}`).toEqual([404, 'NOT_FOUND']);
    }
  });
});

describe('auth', () => {
  test('no key, a wrong key, the admin token or a malformed header are 401 UNAUTHORIZED', async () => {
    const wrong = ['', 'sk_' + 'A'.repeat(43), 'short', ex.adminToken];
    for (const key of wrong) {
      const r = await call(ex.url, 'GET', '/v1/account', key === '' ? {} : { key });
      expect([r.status, r.body.error?.code], key).toEqual([401, 'UNAUTHORIZED']);
    }
    const basic = await call(ex.url, 'GET', '/v1/account', { headers: { authorization: `Basic ${ex.demo.apiKey}` } });
    expect(basic.status).toBe(401);
    const post = await call(ex.url, 'POST', '/v1/order', { body: limit('AAPL', 'buy', '1', '190.00') });
    expect([post.status, post.body.error?.code]).toEqual([401, 'UNAUTHORIZED']);
  });

  test('admin endpoints refuse account keys and no token', async () => {
    for (const key of [ex.demo.apiKey, undefined, 'test-admin-token-0123456788']) {
      const r = await call(ex.url, 'POST', '/v1/admin/accounts', { key, body: { name: 'intruder' } });
      expect([r.status, r.body.error?.code]).toEqual([401, 'UNAUTHORIZED']);
      const s = await call(ex.url, 'GET', '/v1/admin/status', { key });
      expect(s.status).toBe(401);
      const d = await call(ex.url, 'POST', `/v1/admin/accounts/${ex.demo.accountId}/deposit`, { key, body: { asset: 'USD', amount: '1', transferId: 'steal' } });
      expect(d.status).toBe(401);
    }
  });

  test('another account’s order is 404 NOT_FOUND for GET, DELETE and PATCH, and is left alone', async () => {
    const { sym, a, b } = await market();
    const o = await order(ex, a.apiKey, limit(sym, 'buy', '4', '10.00', { clOrdId: 'mine' }));
    for (const [method, path, body] of [
      ['GET', `/v1/order/${o.body.orderId}`],
      ['GET', '/v1/order?clOrdId=mine'],
      ['DELETE', `/v1/order/${o.body.orderId}`],
      ['DELETE', '/v1/order?clOrdId=mine'],
      ['PATCH', `/v1/order/${o.body.orderId}`, { qty: '1' }],
    ] as [string, string, unknown?][]) {
      const r = await call(ex.url, method, path, { key: b.apiKey, body });
      expect([r.status, r.body.error?.code], `${method} ${path}`).toEqual([404, 'NOT_FOUND']);
    }
    const g = await call(ex.url, 'GET', `/v1/order/${o.body.orderId}`, { key: a.apiKey });
    expect(g.body).toMatchObject({ status: 'new', qty: '4', leavesQty: '4', seq: o.body.seq });
    expect((await call(ex.url, 'GET', '/v1/orders', { key: b.apiKey })).body.orders).toEqual([]);
    expect((await call(ex.url, 'DELETE', '/v1/orders', { key: b.apiKey })).body.canceled).toBe(0);
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('40.00');
  });

  test('a cancel of another account’s order is 404 every time, never a 503 (the report lookup waits for the cancel’s own seq)', async () => {
    // the sequencer published the answers before it stored the released seq: the report lookup,
    // waiting for the released seq the gateway read next, found the database a seq short (44 in 400)
    const { sym, a, b } = await market();
    const o = await order(ex, a.apiKey, limit(sym, 'buy', '1', '10.00'));
    const codes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const r = await call(ex.url, 'DELETE', `/v1/order/${o.body.orderId}`, { key: b.apiKey });
      const k = `${r.status} ${r.body.error?.code}`;
      codes.set(k, (codes.get(k) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ '404 NOT_FOUND': 300 });
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('10.00');
  });
});

describe('idempotency by clOrdId', () => {
  test('the same request again answers 200 with Idempotent-Replay and the same order; other parameters 409', async () => {
    const { sym, a, b } = await market();
    const body = limit(sym, 'buy', '5', '10.00', { clOrdId: 'idem-1' });
    const first = await order(ex, a.apiKey, body);
    expect(first.status).toBe(201);
    const again = await order(ex, a.apiKey, body);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replay']).toBe('true');
    expect(again.body).toMatchObject({ orderId: first.body.orderId, clOrdId: 'idem-1', status: 'new', qty: '5', price: '10.00' });
    // not reserved twice, not on the book twice
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('50.00');
    expect((await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}`)).body.bids).toEqual([['10.00', '5', 1]]);
    // same text as a JSON number is the same parameters
    const asNumber = await call(ex.url, 'POST', '/v1/order', { key: a.apiKey, rawBody: `{"symbol":"${sym}","side":"buy","type":"limit","qty":5,"price":10.0,"clOrdId":"idem-1"}` });
    expect(asNumber.status).toBe(200);
    expect(asNumber.body.orderId).toBe(first.body.orderId);

    for (const changed of [{ qty: '6' }, { price: '10.01' }, { side: 'sell' }, { tif: 'IOC' }, { postOnly: true }]) {
      const r = await order(ex, a.apiKey, { ...body, ...changed });
      expect([r.status, r.body.error?.code], JSON.stringify(changed)).toEqual([409, 'DUPLICATE_CLORDID']);
    }
    // another account may use the same clOrdId
    const theirs = await order(ex, b.apiKey, body);
    expect(theirs.status).toBe(201);
    expect(theirs.body.orderId).not.toBe(first.body.orderId);

    // after a partial fill the replay shows the order as it is now
    await order(ex, b.apiKey, limit(sym, 'sell', '2', '10.00'));
    const later = await order(ex, a.apiKey, body);
    expect(later.status).toBe(200);
    expect(later.body).toMatchObject({ orderId: first.body.orderId, status: 'partially_filled', filledQty: '2', leavesQty: '3' });
    // and after a cancel, the same request does not come back to life
    await call(ex.url, 'DELETE', `/v1/order/${first.body.orderId}`, { key: a.apiKey });
    const dead = await order(ex, a.apiKey, body);
    expect(dead.status).toBe(200);
    expect(dead.body).toMatchObject({ orderId: first.body.orderId, status: 'canceled' });
    expect((await balances(ex, a.apiKey)).USD.reserved).toBe('0.00');
  });
});
