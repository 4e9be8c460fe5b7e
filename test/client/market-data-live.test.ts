/**
 * The SDK's market-data client against real exchanges: its local L2 / L3 books follow trading
 * and equal the exchange's REST snapshots; ConsolidatedL1 over two running seqex instances gives
 * the best bid / ask across them (and their venues) and follows a change on either.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ConsolidatedL1, type ConsolidatedQuote } from '../../src/client/consolidated.js';
import { MarketDataClient } from '../../src/client/marketData.js';
import { newAccount, order, type Acct } from '../gateway/rest-helpers.js';
import { call, startTestExchange, until, type TestExchange } from '../gateway/server.js';

let venueA: TestExchange;
let venueB: TestExchange;
const traders: Acct[] = [];

beforeAll(async () => {
  [venueA, venueB] = await Promise.all([startTestExchange(), startTestExchange()]);
  for (const ex of [venueA, venueB]) traders.push(await newAccount(ex, 'mm', { USD: '1000000.00', AAPL: '10000' }));
});

afterAll(async () => {
  await Promise.all([venueA?.close(), venueB?.close()]);
});

const quote = (ex: TestExchange, key: string, side: 'buy' | 'sell', qty: string, price: string) => order(ex, key, { symbol: 'AAPL', side, type: 'limit', qty, price });

test('the SDK client keeps L2 and L3 books equal to the exchange while it trades', async () => {
  const md = new MarketDataClient({ url: venueA.url });
  await md.connect();
  md.subscribe(['l2', 'l3', 'trades'], ['AAPL']);
  await md.whenSynced(['l2', 'l3', 'trades'], ['AAPL']);
  const mm = traders[0]!;
  const demo = venueA.demo.apiKey;
  for (let i = 0; i < 20; i++) {
    await quote(venueA, mm.apiKey, 'buy', String(1 + (i % 4)), (188 + (i % 5) * 0.25).toFixed(2));
    await quote(venueA, mm.apiKey, 'sell', String(1 + (i % 3)), (191 - (i % 5) * 0.25).toFixed(2));
    if (i % 4 === 3) await quote(venueA, demo, i % 8 === 3 ? 'buy' : 'sell', '3', i % 8 === 3 ? '191.00' : '188.00'); // crosses
  }
  const l2 = (await call(venueA.url, 'GET', '/v1/marketdata/orderBook/L2?symbol=AAPL&depth=9999')).body;
  const l3 = (await call(venueA.url, 'GET', '/v1/marketdata/orderBook/L3?symbol=AAPL')).body;
  await until(() => md.seqOf('AAPL', 'l2') === l2.channelSeq && md.seqOf('AAPL', 'l3') === l3.channelSeq, 10_000);
  expect(md.l2('AAPL')).toMatchObject({ bids: l2.bids, asks: l2.asks });
  const strip = (xs: { orderId: number; px: string; qty: string }[]) => xs.map(({ orderId, px, qty }) => ({ orderId, px, qty }));
  expect({ bids: strip(md.l3('AAPL')!.bids), asks: strip(md.l3('AAPL')!.asks) }).toEqual({ bids: strip(l3.bids), asks: strip(l3.asks) });
  expect(md.gaps).toBe(0);
  expect(md.trades('AAPL').length).toBeGreaterThan(0);
  await md.close();
});

test('ConsolidatedL1 over two exchanges: the best bid and ask across them, with their venues, following changes', async () => {
  const [a, b] = traders as [Acct, Acct];
  // venue B's own quotes are inside venue A's (A already has a book from the test above: cancel it)
  await call(venueA.url, 'DELETE', '/v1/orders?symbol=AAPL', { key: a.apiKey });
  await call(venueA.url, 'DELETE', '/v1/orders?symbol=AAPL', { key: venueA.demo.apiKey });
  await quote(venueA, a.apiKey, 'buy', '5', '189.00');
  await quote(venueA, a.apiKey, 'sell', '5', '191.00');
  await quote(venueB, b.apiKey, 'buy', '7', '189.50');
  await quote(venueB, b.apiKey, 'sell', '2', '190.50');
  const c = new ConsolidatedL1({ venues: [venueA.url, venueB.url], symbols: ['AAPL'] });
  const updates: ConsolidatedQuote[] = [];
  c.on('update', (_s, q) => updates.push(q));
  await c.start();
  const names = c.venueNames();
  await until(() => c.quote('AAPL').venues.length === 2, 10_000);
  expect(c.quote('AAPL')).toMatchObject({ bidPx: '189.50', bidQty: '7', bidVenue: names[1], askPx: '190.50', askQty: '2', askVenue: names[1], mid: '190', crossed: false });
  // venue A improves its bid past B's: the consolidated bid moves to A, the ask stays B's
  await quote(venueA, a.apiKey, 'buy', '3', '189.75');
  await until(() => c.quote('AAPL').bidPx === '189.75', 10_000);
  expect(c.quote('AAPL')).toMatchObject({ bidVenue: names[0], bidQty: '3', askVenue: names[1], mid: '190.125' });
  expect(updates.length).toBeGreaterThan(0);
  await c.close();
});
