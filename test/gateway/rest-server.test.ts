/**
 * Server settings and lifetime: the per-key rate limit (429 RATE_LIMITED + Retry-After), the
 * body size limit (413 PAYLOAD_TOO_LARGE), several gateway threads on one port (reference data
 * added through one is usable through the others at once), and a restart on the same data
 * directory (keys, resting orders, balances and clOrdId dedupe survive; the first request after
 * the restart may be any endpoint).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { rmSync } from 'node:fs';
import { call, startTestExchange, type TestExchange } from './server.js';
import { admin, balances, newAccount, order } from './rest-helpers.js';

const running: TestExchange[] = [];
afterAll(async () => {
  for (const ex of running) await ex.close();
});

describe('rate limit and body size', () => {
  test('a key over its rate gets 429 RATE_LIMITED with Retry-After; other keys are not affected; it refills', async () => {
    const ex = await startTestExchange({ durability: 'batch', rateLimit: { perSec: 5, burst: 5 }, maxBodyBytes: 256 });
    running.push(ex);
    const other = await newAccount(ex, 'other', { USD: '100.00' });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | null = null;
    for (let i = 0; i < 12; i++) {
      const r = await call(ex.url, 'GET', '/v1/account', { key: ex.demo.apiKey });
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    expect(limited!.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // a rate-limited order is not placed
    const o = await order(ex, ex.demo.apiKey, { symbol: 'AAPL', side: 'buy', type: 'limit', qty: '1', price: '190.00' });
    expect(o.status).toBe(429);
    expect((await call(ex.url, 'GET', '/v1/account', { key: other.apiKey })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300)); // 5 a second: a token every 200 ms
    const after = await call(ex.url, 'GET', '/v1/orders', { key: ex.demo.apiKey });
    expect(after.status).toBe(200);
    expect(after.body.orders).toEqual([]);

    // market data is limited per client address
    let mdLimited = false;
    for (let i = 0; i < 10 && !mdLimited; i++) mdLimited = (await call(ex.url, 'GET', '/v1/marketdata/ticker?symbol=AAPL')).status === 429;
    expect(mdLimited).toBe(true);

    // body size: declared too large → 413, nothing placed (refused before the key's bucket is touched)
    const big = await call(ex.url, 'POST', '/v1/order', { key: other.apiKey, rawBody: JSON.stringify({ symbol: 'AAPL', side: 'buy', type: 'limit', qty: '1', price: '190.00', clOrdId: 'a'.repeat(300) }) });
    expect([big.status, big.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const adminBig = await admin(ex, 'POST', '/v1/admin/accounts', { name: 'n'.repeat(300) });
    expect(adminBig.status).toBe(413);
    const small = await order(ex, other.apiKey, { symbol: 'AAPL', side: 'buy', type: 'limit', qty: '1', price: '50.00' });
    expect([small.status, small.body.error?.code]).toEqual([422, 'PRICE_OUTSIDE_BAND']);
    const fits = await order(ex, other.apiKey, { symbol: 'AAPL', side: 'buy', type: 'limit', qty: '0.5', price: '189.00' });
    expect(fits.status).toBe(400);
    expect((await balances(ex, other.apiKey)).USD).toEqual({ total: '100.00', available: '100.00', reserved: '0.00' });
  });
});

describe('several gateway threads', () => {
  test('a symbol added through one thread is tradable at once through any; any thread cancels any order', async () => {
    const ex = await startTestExchange({ durability: 'batch', gateways: 2 });
    running.push(ex);
    const a = await newAccount(ex, 'gw-a', { USD: '1000.00' });
    const failures: string[] = [];
    for (let i = 0; i < 12; i++) {
      const name = `GW${i}`;
      expect((await admin(ex, 'POST', '/v1/admin/assets', { asset: name, decimals: 0 })).status).toBe(201);
      // unknown names keep the threads fetching reference data while the symbol is added
      const noise = Array.from({ length: 3 }, (_, k) => order(ex, a.apiKey, { symbol: `NOPE${i}X${k}`, side: 'buy', type: 'limit', qty: '1', price: '1.00' }));
      const add = admin(ex, 'POST', '/v1/admin/symbols', { symbol: name, base: name, quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '10', maxNotional: '1000' });
      const [added] = await Promise.all([add, ...noise]);
      expect(added.status).toBe(201);
      const o = await order(ex, a.apiKey, { symbol: name, side: 'buy', type: 'limit', qty: '1', price: '1.00' });
      if (o.status !== 201) failures.push(`order ${name}: ${o.status} ${o.body.error?.code}`);
      const c = await call(ex.url, 'DELETE', `/v1/order/${o.body.orderId}`, { key: a.apiKey });
      if (c.status !== 200 || c.body?.symbol !== name) failures.push(`cancel ${name}: ${c.status} ${JSON.stringify(c.body)}`);
      const bal = await balances(ex, a.apiKey);
      if (bal[name] === undefined) failures.push(`balance of ${name} missing`);
    }
    expect(failures).toEqual([]);
    expect((await balances(ex, a.apiKey)).USD).toEqual({ total: '1000.00', available: '1000.00', reserved: '0.00' });
  });
});

describe('restart', () => {
  test('stop and start on the same data dir: keys, resting orders, balances and clOrdId dedupe are still there', async () => {
    const first = await startTestExchange();
    const dataDir = first.dataDir;
    let second: TestExchange | null = null;
    try {
      const key = first.demo.apiKey;
      const buyer = await newAccount(first, 'restart-buyer', { USD: '10000.00' });
      const r1 = await order(first, key, { symbol: 'AAPL', side: 'sell', type: 'limit', qty: '10', price: '191.00', clOrdId: 'survivor' });
      const r2 = await order(first, key, { symbol: 'AAPL', side: 'sell', type: 'limit', qty: '4', price: '192.00' });
      const fill = await order(first, buyer.apiKey, { symbol: 'AAPL', side: 'buy', type: 'limit', qty: '3', price: '191.50' });
      expect(fill.body.status).toBe('filled');
      const before = { demo: await balances(first, key), buyer: await balances(first, buyer.apiKey) };
      const l3Before = (await call(first.url, 'GET', '/v1/marketdata/orderBook/L3?symbol=AAPL')).body;
      const seqBefore = (await admin(first, 'GET', '/v1/admin/status')).body.lastSeq;
      await first.stop();

      second = await startTestExchange({}, dataDir);
      expect(second.demo).toEqual(first.demo);
      // the very first request after the restart is a cancel: its answer must carry the order
      const c = await call(second.url, 'DELETE', `/v1/order/${r2.body.orderId}`, { key });
      expect(c.status).toBe(200);
      expect(c.body).toMatchObject({ orderId: r2.body.orderId, status: 'canceled', symbol: 'AAPL', qty: '4', price: '192.00' });
      expect(c.body.seq).toBeGreaterThan(seqBefore);

      const g = await call(second.url, 'GET', `/v1/order/${r1.body.orderId}`, { key });
      expect(g.status).toBe(200);
      expect(g.body).toMatchObject({ orderId: r1.body.orderId, clOrdId: 'survivor', status: 'partially_filled', filledQty: '3', leavesQty: '7', price: '191.00' });
      const l3 = (await call(second.url, 'GET', '/v1/marketdata/orderBook/L3?symbol=AAPL')).body;
      expect(l3.asks).toEqual(l3Before.asks.filter((e: { orderId: number }) => e.orderId !== r2.body.orderId));
      expect(l3.asks).toEqual([{ orderId: r1.body.orderId, side: 'sell', px: '191.00', qty: '7' }]);
      expect(await balances(second, buyer.apiKey)).toEqual(before.buyer);
      const demoNow = await balances(second, key);
      expect(demoNow.USD).toEqual(before.demo.USD);
      expect(demoNow.AAPL).toEqual({ total: before.demo.AAPL!.total, available: '9990', reserved: '7' });
      // dedupe survives: the same request is a replay, other parameters a duplicate
      const replay = await order(second, key, { symbol: 'AAPL', side: 'sell', type: 'limit', qty: '10', price: '191.00', clOrdId: 'survivor' });
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotent-replay']).toBe('true');
      expect(replay.body.orderId).toBe(r1.body.orderId);
      const dup = await order(second, key, { symbol: 'AAPL', side: 'sell', type: 'limit', qty: '11', price: '191.00', clOrdId: 'survivor' });
      expect([dup.status, dup.body.error?.code]).toEqual([409, 'DUPLICATE_CLORDID']);
      // the buyer's key (made through the admin API) works, and new orders get new ids
      const more = await order(second, buyer.apiKey, { symbol: 'AAPL', side: 'buy', type: 'limit', qty: '2', price: '191.00' });
      expect(more.body).toMatchObject({ status: 'filled', fills: [expect.objectContaining({ price: '191.00', qty: '2' })] });
      expect(more.body.orderId).toBeGreaterThan(r2.body.orderId);
      expect((await admin(second, 'GET', '/v1/admin/status')).body.lastSeq).toBeGreaterThan(seqBefore);
    } finally {
      await first.stop();
      if (second !== null) await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
