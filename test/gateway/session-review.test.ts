/**
 * Review findings on the binary session against a real exchange: in-order processing of a
 * session's inbound messages, the reference data a replay after a restart needs, messages made by
 * the first clock tick after a restart, and the account's numbering when the store files are gone.
 */
import { readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { afterAll, expect, it } from 'vitest';
import { SessionClient, type FixMessage } from '../../src/client/session.js';
import { call, startTestExchange, type TestExchange, until } from './server.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

let ex: TestExchange | null = null;
afterAll(async () => {
  await ex?.close();
});

const wsUrl = () => `ws://127.0.0.1:${ex!.port}/v1/ws`;

/** a raw, logged-on connection that collects what comes back */
async function raw(): Promise<{ ws: WebSocket; got: Record<string, unknown>[] }> {
  const ws = new WebSocket(wsUrl());
  const got: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) => got.push(unpackr.unpack(d) as Record<string, unknown>));
  await new Promise((r, j) => {
    ws.on('open', r);
    ws.on('error', j);
  });
  ws.send(packr.pack({ msgType: 'A', apiKey: ex!.demo.apiKey, heartBtInt: 30 }));
  await until(() => got.some((m) => m.msgType === 'A'));
  return { ws, got };
}

it('a session processes its messages in the order sent: a cancel right behind its order cancels it', async () => {
  ex = await startTestExchange();
  const { ws, got } = await raw();
  for (let i = 0; i < 5; i++) {
    // one write: both frames reach the gateway in the same read
    (ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.concat([frame({ msgType: 'D', clOrdId: `ord-${i}`, symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00' }), frame({ msgType: 'F', origClOrdId: `ord-${i}` })]));
  }
  await until(() => got.filter((m) => m.msgType === '9' || (m.msgType === '8' && m.execType === '4')).length >= 5);
  expect(got.filter((m) => m.msgType === '9')).toEqual([]);
  ws.close();
});

/** a complete WebSocket frame (masked, as a client sends) holding `m` */
function frame(m: Record<string, unknown>): Buffer {
  const payload = packr.pack(m);
  const mask = Buffer.from([1, 2, 3, 4]);
  const head = payload.length < 126 ? Buffer.from([0x82, 0x80 | payload.length]) : Buffer.from([0x82, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, body]);
}

it('a replay right after a restart carries the symbol and prices (the gateway has not loaded reference data yet)', async () => {
  const s = await SessionClient.connect({ url: wsUrl(), apiKey: ex!.demo.apiKey });
  const ack = await s.newOrder({ clOrdId: 'dir-1', symbol: 'MSFT', side: '1', ordType: '2', orderQty: '2', price: '399.00' });
  await s.close();
  await ex!.stop();
  ex = await startTestExchange({}, ex!.dataDir);
  const back = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey, nextExpectedSeq: ack.seqNum as number });
  const got: FixMessage[] = [];
  back.onMessage((m) => got.push(m));
  await until(() => got.length >= 1);
  expect(got[0]).toMatchObject({ seqNum: ack.seqNum, clOrdId: 'dir-1', symbol: 'MSFT', price: '399.00', orderQty: '2' });
  await back.close();
});

it('the reports of the first clock tick after a restart (a GTD order that expired while the exchange was down) reach the resume', async () => {
  const s = await SessionClient.connect({ url: wsUrl(), apiKey: ex!.demo.apiKey });
  const expireMs = Date.now() + 1200;
  await s.newOrder({ clOrdId: 'gtd-1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00', timeInForce: '6', expireTime: expireMs });
  const seen = s.lastSeqNum;
  await s.close();
  await ex!.stop();
  await new Promise((r) => setTimeout(r, Math.max(0, expireMs + 300 - Date.now())));
  // durability none releases the tick's reports at once: the race with the store attaching its reader is then certain
  ex = await startTestExchange({ durability: 'none' }, ex!.dataDir);
  const back = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey, nextExpectedSeq: seen + 1 });
  const got: FixMessage[] = [];
  back.onMessage((m) => got.push(m));
  await until(() => got.some((m) => m.clOrdId === 'gtd-1' && m.execType === 'C'), 3000);
  expect(got[0]!.seqNum).toBe(seen + 1);
  await back.close();
});

it('with the store files gone and a snapshot covering the account, a broker still resumes (and Logon says the right next number)', async () => {
  const s = await SessionClient.connect({ url: wsUrl(), apiKey: ex!.demo.apiKey });
  await s.newOrder({ clOrdId: 'snap-1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00' });
  const seen = s.lastSeqNum;
  await s.close();
  expect((await call(ex!.url, 'POST', '/v1/admin/snapshot', { key: ex!.adminToken })).status).toBe(200);
  await ex!.stop();
  rmSync(join(ex!.dataDir, 'sessions'), { recursive: true, force: true });
  ex = await startTestExchange({}, ex!.dataDir);
  const back = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey, nextExpectedSeq: seen + 1, reconnect: false });
  const fresh = await SessionClient.connect({ url: wsUrl(), apiKey: ex.demo.apiKey, reconnect: false });
  expect(fresh.lastSeqNum).toBe(seen);
  const got: FixMessage[] = [];
  back.onMessage((m) => got.push(m));
  const next = await back.newOrder({ clOrdId: 'snap-2', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '1', price: '185.00' });
  expect(next.seqNum).toBe(seen + 1);
  await back.close();
  await fresh.close();
});

it('the SDK answers a refused replace with its OrderCancelReject, whether the order was named by orderId or by origClOrdId', async () => {
  const s = await SessionClient.connect({ url: wsUrl(), apiKey: ex!.demo.apiKey, requestTimeoutMs: 3000 });
  const o = await s.newOrder({ clOrdId: 'rep-1', symbol: 'AAPL', side: '1', ordType: '2', orderQty: '2', price: '185.00' });
  await s.cancel({ orderId: o.orderId as number });
  expect(await s.replace({ orderId: 987654, price: '185.01' })).toMatchObject({ msgType: '9', cxlRejResponseTo: '2', rejectCode: 'NOT_FOUND' });
  expect(await s.replace({ origClOrdId: 'rep-1', price: '185.01' })).toMatchObject({ msgType: '9', cxlRejResponseTo: '2', rejectCode: 'TOO_LATE_TO_CANCEL' });
  await s.close();
});

async function fundedAccount(name: string): Promise<string> {
  const acct = await call(ex!.url, 'POST', '/v1/admin/accounts', { key: ex!.adminToken, body: { name } });
  for (const [asset, amount] of [['USD', '100000.00'], ['META', '100']])
    await call(ex!.url, 'POST', `/v1/admin/accounts/${acct.body.accountId}/deposit`, { key: ex!.adminToken, body: { asset, amount, transferId: `${name}-${asset}` } });
  return acct.body.apiKey as string;
}

it('a store file cut inside the messages of one command (a crash between two writes) gets the rest back from the journal', async () => {
  const keys = [await fundedAccount('alice-cut'), await fundedAccount('bob-cut')];
  const a = await SessionClient.connect({ url: wsUrl(), apiKey: keys[0]! });
  const b = await SessionClient.connect({ url: wsUrl(), apiKey: keys[1]! });
  await a.newOrder({ clOrdId: 'cut-sell', symbol: 'META', side: '2', ordType: '2', orderQty: '1', price: '480.00' });
  await b.newOrder({ clOrdId: 'cut-buy', symbol: 'META', side: '1', ordType: '2', orderQty: '1', price: '480.00' }); // one command: both accounts' reports
  await until(() => a.lastSeqNum > 0 && b.lastSeqNum > 0);
  await new Promise((r) => setTimeout(r, 200));
  const totals = [a.lastSeqNum, b.lastSeqNum];
  await a.close();
  await b.close();
  await ex!.stop();
  // the last record written is the trade command's last message: cut it off, as a crash would
  const dir = join(ex!.dataDir, 'sessions');
  const file = join(dir, readdirSync(dir).sort().at(-1)!);
  const buf = readFileSync(file);
  let p = 0;
  let lastAt = 0;
  while (p + 4 <= buf.length) {
    lastAt = p;
    p += 4 + buf.readUInt16LE(p) * 8 + buf.readUInt8(p + 2);
  }
  truncateSync(file, lastAt);
  ex = await startTestExchange({}, ex!.dataDir);
  for (const [key, total] of [
    [keys[0]!, totals[0]!],
    [keys[1]!, totals[1]!],
  ] as const) {
    const s = await SessionClient.connect({ url: wsUrl(), apiKey: key, nextExpectedSeq: 1, reconnect: false });
    const got: FixMessage[] = [];
    const resets: FixMessage[] = [];
    s.onMessage((m) => got.push(m));
    s.onSessionMessage((m) => m.msgType === '4' && resets.push(m));
    await until(() => got.length + resets.length > 0 && s.lastSeqNum >= total, 3000);
    expect(resets).toEqual([]);
    expect(got.map((m) => m.seqNum)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await s.close();
  }
});
