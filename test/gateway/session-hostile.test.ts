/**
 * Hostile input on the binary session (SPEC §6): garbage, truncated MessagePack, wrong types,
 * oversized frames, floods. Each gets a Reject / BusinessMessageReject or a closed connection, the
 * exchange stays up, and nothing changes: balances, the book and open orders are as before.
 */
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SessionClient } from '../../src/client/session.js';
import { call, startTestExchange, type TestExchange } from './server.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
let ex: TestExchange;

beforeAll(async () => {
  ex = await startTestExchange();
});
afterAll(async () => {
  await ex?.close();
});

/** a raw connection: logs on (unless told not to) and collects what comes back */
async function raw(logon = true): Promise<{ ws: WebSocket; got: Record<string, unknown>[]; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${ex.port}/v1/ws`);
  const got: Record<string, unknown>[] = [];
  const { Unpackr } = await import('msgpackr');
  const un = new Unpackr({ useRecords: false, mapsAsObjects: true });
  ws.on('message', (d: Buffer) => got.push(un.unpack(d) as Record<string, unknown>));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((r, j) => {
    ws.on('open', r);
    ws.on('error', j);
  });
  if (logon) {
    ws.send(packr.pack({ msgType: 'A', apiKey: ex.demo.apiKey, heartBtInt: 30 }));
    const end = Date.now() + 5000;
    while (!got.some((m) => m.msgType === 'A')) {
      if (Date.now() > end) throw new Error('no logon ack');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return { ws, got, closed };
}

async function state(): Promise<unknown> {
  const acct = await call(ex.url, 'GET', '/v1/account', { key: ex.demo.apiKey });
  const l3 = await call(ex.url, 'GET', '/v1/marketdata/orderBook/L3?symbol=AAPL');
  const open = await call(ex.url, 'GET', '/v1/orders', { key: ex.demo.apiKey });
  return { balances: acct.body.balances, bids: l3.body.bids, asks: l3.body.asks, open: open.body.orders.map((o: { orderId: number }) => o.orderId) };
}

const settle = () => new Promise((r) => setTimeout(r, 150));

it('garbage, wrong types and unknown messages are rejected and change nothing', async () => {
  const s = await SessionClient.connect({ url: `ws://127.0.0.1:${ex.port}/v1/ws`, apiKey: ex.demo.apiKey });
  await s.newOrder({ clOrdId: 'keep-1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '5', price: '185.00' });
  const before = await state();
  const { ws, got } = await raw();
  const bad: (Buffer | string)[] = [
    randomBytes(64),
    Buffer.from([0x85, 0xa7]), // a map of 5 that ends at once
    packr.pack([1, 2, 3]),
    packr.pack('D'),
    packr.pack({ msgType: 7 }),
    packr.pack({ msgType: 'ZZ' }),
    packr.pack({ msgType: 'D' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: 'AAPL', side: '3', ordType: '2', orderQty: '1', price: '190' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: 'AAPL', side: '1', ordType: '2', orderQty: { a: 1 }, price: '190' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '-5', price: '190' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1e3', price: '190' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '190.001' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '9'.repeat(400), price: '190' }),
    packr.pack({ msgType: 'D', clOrdId: 'bad id!', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '190' }),
    packr.pack({ msgType: 'D', clOrdId: 'x', symbol: { toString: 1 }, side: '1', ordType: '2', orderQty: '1', price: '190' }),
    packr.pack({ msgType: 'F' }),
    packr.pack({ msgType: 'G', orderId: -1 }),
    packr.pack({ msgType: '2', beginSeqNo: 'a' }),
    packr.pack({ msgType: 'A', apiKey: ex.demo.apiKey }),
    packr.pack({ __proto__: { msgType: 'D' }, constructor: 1 }),
    'a text frame',
  ];
  for (const b of bad) {
    const n = got.length;
    ws.send(b);
    const end = Date.now() + 2000;
    while (got.length === n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(got.length, `an answer to ${Buffer.from(b).toString('hex').slice(0, 40)}`).toBe(n + 1);
  }
  expect(ws.readyState).toBe(WebSocket.OPEN);
  const rejects = got.filter((m) => m.msgType === '3' || m.msgType === 'j' || (m.msgType === '9' && m.seqNum === undefined));
  expect(rejects.length).toBe(bad.length);
  expect(got.filter((m) => m.msgType === '8')).toEqual([]);
  expect(await state()).toEqual(before);
  // and a good order still works on the same connection
  ws.send(packr.pack({ msgType: 'D', clOrdId: 'after-garbage', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '184.00' }));
  const end = Date.now() + 5000;
  while (!got.some((m) => m.msgType === '8' && m.clOrdId === 'after-garbage')) {
    if (Date.now() > end) throw new Error('no report for the good order');
    await settle();
  }
  ws.close();
  await s.close();
});

it('an order before logon, a bad key and an oversized frame close the connection', async () => {
  const before = await state();
  const a = await raw(false);
  a.ws.send(packr.pack({ msgType: 'D', clOrdId: 'early', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185' }));
  await a.closed;
  expect(a.got[0]).toMatchObject({ msgType: '5' });
  const b = await raw(false);
  b.ws.send(packr.pack({ msgType: 'A', apiKey: 'sk_not_a_real_key_00000000000' }));
  await b.closed;
  expect(b.got[0]).toMatchObject({ msgType: '5', text: 'unknown API key' });
  const c = await raw();
  c.ws.send(Buffer.alloc(64 * 1024, 0x90));
  expect(await c.closed).toBeGreaterThan(1000); // uWS closes a frame over maxPayloadLength
  expect(await state()).toEqual(before);
  expect((await call(ex.url, 'GET', '/healthz')).status).toBe(200);
});

it('a flood past the per-session rate gets RATE_LIMITED rejects, not a crash', async () => {
  const { ws, got } = await raw();
  const msg = packr.pack({ msgType: '1', testReqId: 'x' });
  for (let i = 0; i < 30_000; i++) ws.send(msg);
  const end = Date.now() + 10_000;
  while (got.length < 30_000 && Date.now() < end) await settle();
  expect(got.filter((m) => m.rejectCode === 'RATE_LIMITED').length).toBeGreaterThan(0);
  expect(got.filter((m) => m.msgType === '0').length).toBeGreaterThan(5_000);
  ws.close();
  expect((await call(ex.url, 'GET', '/healthz')).status).toBe(200);
});
