/**
 * Review of the market-data wiring (src/mdworker, src/gateway/marketData.ts): each test shows a
 * bug found in review, on a real exchange or on the worker thread fed frames by hand.
 */
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { Packr, Unpackr } from 'msgpackr';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { call, startTestExchange, until, type TestExchange } from './server.js';

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

/** An SSE stream read for `ms`: its status and events (the raw text too). */
function sse(path: string, ms: number): Promise<{ status: number; events: { event: string; id: string; data: string }[]; text: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let status = 0;
    const req = httpRequest(`${ex.url}${path}`, { agent: false }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
    });
    req.on('error', reject);
    req.end();
    setTimeout(() => {
      req.destroy();
      const events = text
        .split('\n\n')
        .filter((b) => b.includes('data:'))
        .map((b) => {
          const f: Record<string, string> = {};
          for (const l of b.split('\n')) if (!l.startsWith(':')) f[l.slice(0, l.indexOf(':'))] = l.slice(l.indexOf(':') + 2);
          return { event: f.event ?? '', id: f.id ?? '', data: f.data ?? '' };
        });
      resolve({ status, events, text });
    }, ms);
  });
}

test('SSE: a query of repeated channels or symbols is one subscription a pair, and the pairs are bounded as on a WebSocket (200)', async () => {
  // 300 x 2 = 600 pairs from a 1 KB query: each was a snapshot request to the worker and a frame on the shared ring
  const many = await sse(`/v1/stream?symbols=${sym},${sym}X&channels=${Array.from({ length: 300 }, () => 'l1').join(',')}`, 500);
  expect(many.status).toBe(200);
  expect(many.events.map((e) => e.event).sort()).toEqual(['error', 'snapshot']);
  // 30 symbols x 9 channels = 270 subscriptions in one stream
  const all = 'l1,l2,l3,trades,candles:1m,candles:5m,candles:15m,candles:1h,candles:1d';
  const wide = await sse(`/v1/stream?symbols=${Array.from({ length: 30 }, (_, i) => `${sym}${i}`).join(',')}&channels=${all}`, 500);
  expect([wide.status, wide.text]).toEqual([400, expect.stringContaining('INVALID_REQUEST')]);
  // a repeated pair is one subscription: one snapshot
  const dup = await sse(`/v1/stream?symbols=${sym},${sym}&channels=l2,l2`, 400);
  expect(dup.status).toBe(200);
  expect(dup.events.map((e) => e.event)).toEqual(['snapshot']);
});

test('SSE: a symbol with a line break cannot write SSE fields into the stream', async () => {
  const r = await sse(`/v1/stream?symbols=${encodeURIComponent('X\nevent: injected\n')}&channels=l1`, 300);
  expect(r.text).not.toMatch(/^event: injected$/m);
  expect(r.status).toBe(400);
});

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

/** Raw HTTP/1.1 on one kept-alive socket: requests written by hand, the bytes that come back. */
class KeptAlive {
  readonly sock: Socket;
  text = '';
  closed = false;
  constructor(port: number) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.setEncoding('utf8');
    this.sock.on('data', (c: string) => (this.text += c));
    this.sock.on('close', () => (this.closed = true));
    this.sock.on('error', () => {});
  }
  get(path: string, extra = ''): void {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);
  }
}

test('stop: a stream, an upgrade or a market-data request that comes on a kept-alive connection after the stop began is refused and closed; the gateway ends at once', async () => {
  const ex2 = await startTestExchange();
  try {
    const s2 = await newSymbol(ex2, 'W');
    const conns = [new KeptAlive(ex2.port), new KeptAlive(ex2.port), new KeptAlive(ex2.port)];
    for (const c of conns) c.get('/healthz');
    await until(() => conns.every((c) => c.text.includes('\r\n\r\n')));
    for (const c of conns) c.text = '';
    // and a stream open before the stop: ended at the stop, its connection too (kept alive, it held the gateway for uWS's idle timeout)
    const open = new KeptAlive(ex2.port);
    open.get(`/v1/stream?symbols=${s2}&channels=l1`);
    await until(() => open.text.includes('event: snapshot'));
    const t0 = performance.now();
    const stopping = ex2.stop();
    await sleep(100); // the gateway has closed its listen socket and its subscribers
    conns[0]!.get(`/v1/stream?symbols=${s2}&channels=l1`);
    conns[1]!.get('/v1/md', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n');
    conns[2]!.get(`/v1/marketdata/ticker?symbol=${s2}`);
    const done = await Promise.race([stopping.then(() => 'stopped'), sleep(8_000).then(() => 'hung')]);
    const ms = performance.now() - t0;
    const openClosed = open.closed;
    for (const c of [...conns, open]) c.sock.destroy();
    expect(done).toBe('stopped');
    expect(openClosed, 'the stream open at the stop was closed').toBe(true);
    expect(ms).toBeLessThan(8_000);
    expect(ex2.logs.filter((l) => l.includes('still has connections'))).toEqual([]);
    for (const c of conns) expect(c.text.slice(0, 12)).toBe('HTTP/1.1 503');
  } finally {
    await ex2.close();
  }
}, 30_000);
