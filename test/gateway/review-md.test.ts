/**
 * Review of the market-data wiring (src/mdworker, src/gateway/marketData.ts): each test shows a
 * bug found in review, on a real exchange or on the worker thread fed frames by hand.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { request as httpRequest } from 'node:http';
import { Packr, Unpackr } from 'msgpackr';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { Ev, EVENT_FIELDS, EVENT_LENGTH } from '../../src/engine/events.js';
import { EVENT_CONSUMER } from '../../src/gateway/eventFeed.js';
import { MdKind, MdRingReader } from '../../src/mdworker/mdRing.js';
import type { MdReply } from '../../src/mdworker/requests.js';
import { BroadcastRing } from '../../src/ring/broadcastRing.js';
import { OUTPUT_HEADER_FLOATS } from '../../src/sequencer/outputCodec.js';
import { Feed, makeJournal, SMALL_RING, type Frame, type Journal } from './review-frames.js';
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
    const conns = [new KeptAlive(ex2.port), new KeptAlive(ex2.port), new KeptAlive(ex2.port), new KeptAlive(ex2.port)];
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
    // the order-entry WebSocket likewise (a session opened now would never be closed)
    conns[3]!.get('/v1/ws', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n');
    const done = await Promise.race([stopping.then(() => 'stopped'), sleep(8_000).then(() => 'hung')]);
    const ms = performance.now() - t0;
    const openClosed = open.closed;
    const sessionClosed = conns[3]!.closed;
    for (const c of [...conns, open]) c.sock.destroy();
    expect(done).toBe('stopped');
    expect(openClosed, 'the stream open at the stop was closed').toBe(true);
    expect(ms).toBeLessThan(8_000);
    expect(ex2.logs.filter((l) => l.includes('still has connections'))).toEqual([]);
    for (const c of conns.slice(0, 3)) expect(c.text.slice(0, 12)).toBe('HTTP/1.1 503');
    expect(sessionClosed, 'the session opened after the stop began was closed').toBe(true);
  } finally {
    await ex2.close();
  }
}, 30_000);

// ---------------------------------------------------------------- the worker thread, fed by hand

let J: Journal;
let jdir = '';

beforeAll(async () => {
  jdir = mkdtempSync(join(tmpdir(), 'seqex-rm-journal-'));
  J = await makeJournal(jdir);
  expect(J.frames.filter((f) => f.seq === J.massCancelSeq).length, 'the mass cancel is written in parts').toBeGreaterThan(3);
}, 60_000);

afterAll(() => {
  if (jdir !== '') rmSync(jdir, { recursive: true, force: true });
});

/** The market-data worker (dist) on `feed`, from `fromSeq`; `md` reads its ring from the start. */
function startMdWorker(feed: Feed, fromSeq: number, mdRingBytes = 1 << 22) {
  const mdRing = BroadcastRing.create(mdRingBytes);
  const md = new MdRingReader(mdRing.sab, 0);
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(new URL('../../dist/src/mdworker/thread.js', import.meta.url), {
    workerData: { dataDir: jdir, eventsSab: feed.ring.sab, mdSab: mdRing.sab, fromSeq, ports: [port1] },
    transferList: [port1],
  });
  const msgs: { type: string; message?: string; line?: string }[] = [];
  w.on('message', (m) => msgs.push(m));
  w.on('error', (e) => msgs.push({ type: 'failed', message: String(e) }));
  const exited = new Promise<void>((r) => w.once('exit', () => r()));
  let ids = 0;
  return {
    msgs,
    ready: () => until(() => msgs.some((m) => m.type !== 'log'), 20_000),
    ask: (what: 'l3', symbol: string) =>
      new Promise<MdReply>((resolve) => {
        const id = ++ids;
        const on = (r: MdReply) => {
          if (r.id !== id) return;
          port2.off('message', on);
          resolve(r);
        };
        port2.on('message', on);
        port2.postMessage({ id, what, channel: what, symbol });
      }),
    /** a subscription's snapshot request (the answer comes on the market-data ring) */
    subscribe: (channel: string, symbol: string) => port2.postMessage({ id: ++ids, what: 'subscribe', channel, symbol, format: 'json' }),
    /** the frames on the market-data ring so far (kind -1: lapped) */
    frames: () => {
      const out: { kind: number; topic: string; seq: number; bytes: number }[] = [];
      while (md.poll((f) => out.push({ kind: f.kind, topic: f.topic, seq: f.seq, bytes: f.json.length + f.msgpack.length }), () => out.push({ kind: -1, topic: '', seq: 0, bytes: 0 })) > 0);
      return out;
    },
    kinds: () => {
      const out: number[] = [];
      while (md.poll((f) => out.push(f.kind), () => out.push(-1)) > 0);
      return out;
    },
    stop: async () => {
      w.postMessage({ type: 'stop' });
      const t = setTimeout(() => void w.terminate(), 5_000);
      await exited;
      clearTimeout(t);
      port2.close();
    },
  };
}

function cut(): { head: Frame[]; tail: Frame[] } {
  const frames = J.frames.filter((f) => f.seq > J.setupSeq);
  const at = frames.findIndex((f) => f.seq === J.massCancelSeq) + 1;
  return { head: frames.slice(0, at), tail: frames.slice(at) };
}

async function writeInStep(feed: Feed, frames: Frame[]): Promise<void> {
  for (const f of frames) {
    feed.write([f]);
    await until(() => feed.ring.lagBytes(EVENT_CONSUMER.MARKET_DATA) === 0, 10_000);
  }
}

/** the engine's L3 book at the journal's end, as GET /v1/marketdata/orderBook/L3 shows it */
function engineL3() {
  const b = J.engine.bookL3('AAPL')!;
  const e = (side: string) => (o: { orderId: number; priceTicks: number; qtyLots: number }) => ({ orderId: o.orderId, side, px: (o.priceTicks / 100).toFixed(2), qty: String(o.qtyLots) });
  return { bids: b.bids.map(e('buy')), asks: b.asks.map(e('sell')) };
}

test('worker: a lap that resumes in the middle of a command rebuilds the book with the whole command', async () => {
  const feed = new Feed(SMALL_RING);
  const { head, tail } = cut();
  expect(head.reduce((n, f) => n + f.payload.length, 0)).toBeGreaterThan(SMALL_RING);
  feed.write(head); // more than a ring before the worker reads: it is lapped, and resumes after the first part of the mass cancel
  const w = startMdWorker(feed, J.setupSeq);
  try {
    await w.ready();
    await until(() => feed.laps > 0, 5_000);
    await writeInStep(feed, tail);
    const r = await w.ask('l3', 'AAPL');
    expect(r.status).toBe(200);
    const body = r.body as { seq: number; bids: unknown[]; asks: unknown[] };
    expect(body.seq).toBe(J.lastSeq);
    expect({ bids: body.bids, asks: body.asks }).toEqual(engineL3());
    expect(w.msgs.filter((m) => m.type === 'failed')).toEqual([]);
  } finally {
    await w.stop();
  }
}, 30_000);

test('worker: a state error in the first part of a command rebuilds once (the later parts are in the rebuilt state already)', async () => {
  const feed = new Feed(1 << 22);
  const { head, tail } = cut();
  // the first part of the mass cancel names a symbol that does not exist: the book cannot take it
  const bad = head.at(-1)!;
  const payload = bad.payload.slice();
  const f = new Float64Array(payload.buffer, 0, payload.length >> 3);
  let at = OUTPUT_HEADER_FLOATS;
  while (f[at] !== Ev.BOOK_DELETE) at += EVENT_LENGTH[f[at]!]!;
  f[at + 3 + EVENT_FIELDS[Ev.BOOK_DELETE]!.indexOf('symbolIdx')] = 99;
  feed.write([...head.slice(0, -1), { ...bad, payload }]);
  const w = startMdWorker(feed, J.setupSeq);
  try {
    await w.ready();
    await until(() => feed.ring.lagBytes(EVENT_CONSUMER.MARKET_DATA) === 0, 5_000);
    await writeInStep(feed, tail);
    const r = await w.ask('l3', 'AAPL');
    const body = r.body as { bids: unknown[]; asks: unknown[] };
    expect({ bids: body.bids, asks: body.asks }).toEqual(engineL3());
    expect(w.kinds().filter((k) => k === MdKind.RESET).length, 'rebuilds (resets sent to every subscriber)').toBe(1);
  } finally {
    await w.stop();
  }
}, 30_000);

test('worker: an update too large for the market-data ring still moves its topic seq (a subscriber learns of the gap from the heartbeat)', async () => {
  const feed = new Feed(1 << 22);
  const w = startMdWorker(feed, J.setupSeq, SMALL_RING); // frames of at most 16 KiB: the mass cancel's L3 update (300 deletes) is larger
  try {
    await w.ready();
    w.subscribe('l3', 'AAPL');
    const seen: { kind: number; topic: string; seq: number; bytes: number }[] = [];
    await until(() => (seen.push(...w.frames()), seen.some((f) => f.kind === MdKind.SNAPSHOT)));
    for (const f of J.frames.filter((x) => x.seq > J.setupSeq)) {
      feed.write([f]);
      await until(() => feed.ring.lagBytes(EVENT_CONSUMER.MARKET_DATA) === 0, 10_000);
      seen.push(...w.frames());
    }
    await sleep(50);
    seen.push(...w.frames());
    expect(seen.filter((f) => f.kind === -1)).toEqual([]);
    const l3 = seen.filter((f) => f.topic === 'l3:AAPL');
    const seqs = l3.map((f) => f.seq);
    // the snapshot, then one update per command that touched the book: 300 adds, the mass cancel, bob's two
    expect(l3[0]!.kind).toBe(MdKind.SNAPSHOT);
    expect(seqs).toEqual(Array.from({ length: 304 }, (_, i) => seqs[0]! + i));
  } finally {
    await w.stop();
  }
}, 30_000);
