/**
 * Review of the market-data wiring (src/mdworker, src/gateway/marketData.ts): each test shows a
 * bug found in review, on a real exchange or on the worker thread fed frames by hand.
 */
import { Packr, Unpackr } from 'msgpackr';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { startTestExchange, until, type TestExchange } from './server.js';

let ex: TestExchange;
let sym = '';
let a: Acct;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
type Msg = Record<string, any>;

beforeAll(async () => {
  ex = await startTestExchange();
  sym = await newSymbol(ex, 'V');
  a = await newAccount(ex, 'rv-a', { USD: '1000000.00', [sym]: '100000' });
});

afterAll(async () => {
  await ex?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('WebSocket: subscribe, unsubscribe, subscribe again before the first snapshot came: one snapshot, no duplicate', async () => {
  const ws = new WebSocket(`${ex.url.replace('http', 'ws')}/v1/md`);
  const msgs: Msg[] = [];
  ws.on('message', (d: Buffer) => msgs.push(unpackr.unpack(d) as Msg));
  await new Promise((r) => ws.once('open', r));
  // three frames in one write: the gateway reads them in one turn, both snapshot requests pending together
  const sub = { type: 'subscribe', channels: ['l2', 'l3'], symbols: [sym] };
  ws.send(packr.pack(sub));
  ws.send(packr.pack({ ...sub, type: 'unsubscribe' }));
  ws.send(packr.pack(sub));
  await until(() => msgs.filter((m) => m.type === 'snapshot').length >= 2);
  await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '1', price: '10.00' });
  await until(() => msgs.some((m) => m.type === 'update' && m.channel === 'l3'));
  await sleep(200);
  const snaps = msgs.filter((m) => m.type === 'snapshot').map((m) => m.channel);
  expect(snaps.sort()).toEqual(['l2', 'l3']);
  ws.close();
});
