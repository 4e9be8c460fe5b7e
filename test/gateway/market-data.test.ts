/**
 * Market data end to end, on a real exchange (docs/market-data.md): subscribers on `/v1/md`
 * (MessagePack and JSON) keep L2 and L3 books from snapshot + updates while two accounts trade;
 * at the end their books equal the engine's (the journal replayed), every (channel, symbol)
 * sequence is gap-free, a late subscriber ends equal too, candles equal those recomputed from the
 * trades; SSE gives snapshots then updates to a real HTTP client; bad requests get errors and
 * change nothing.
 */
import { request as httpRequest } from 'node:http';
import { Packr, Unpackr } from 'msgpackr';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { Unit } from '../../src/gateway/units.js';
import { cleanReplay } from '../crash/verify.js';
import { mulberry32 } from '../../tools/bench/workload.js';
import { newAccount, newSymbol, order, type Acct } from './rest-helpers.js';
import { call, startTestExchange, until, type TestExchange } from './server.js';

let ex: TestExchange;
let sym = '';
let a: Acct;
let b: Acct;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

type Msg = Record<string, any>;

/** A subscriber that keeps every message, and L2 / L3 books per the documented rules. */
class Subscriber {
  readonly ws: WebSocket;
  readonly msgs: Msg[] = [];
  readonly last = new Map<string, number>();
  readonly gaps: string[] = [];
  l2 = { bids: new Map<string, [string, number]>(), asks: new Map<string, [string, number]>() };
  l3: { bids: Msg[]; asks: Msg[] } = { bids: [], asks: [] };
  private readonly early: Msg[] = [];
  private open: Promise<void>;

  constructor(
    url: string,
    readonly format: 'msgpack' | 'json',
  ) {
    this.ws = new WebSocket(`${url.replace('http', 'ws')}/v1/md${format === 'json' ? '?format=json' : ''}`);
    this.open = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(format === 'msgpack');
      this.onMessage(format === 'json' ? JSON.parse(data.toString('utf8')) : unpackr.unpack(data));
    });
  }

  async send(m: Msg): Promise<void> {
    await this.open;
    this.ws.send(this.format === 'json' ? JSON.stringify(m) : packr.pack(m));
  }

  private onMessage(m: Msg): void {
    this.msgs.push(m);
    if (m.type !== 'snapshot' && m.type !== 'update') return;
    const key = `${m.channel}:${m.symbol}`;
    const last = this.last.get(key);
    if (m.type === 'snapshot') {
      this.last.set(key, m.seq);
      if (m.channel === 'l2') {
        this.l2 = { bids: new Map(m.bids.map((l: [string, string, number]) => [l[0], [l[1], l[2]]])), asks: new Map(m.asks.map((l: [string, string, number]) => [l[0], [l[1], l[2]]])) };
      }
      if (m.channel === 'l3') this.l3 = { bids: m.bids.map((o: Msg) => ({ ...o, side: 'buy' })), asks: m.asks.map((o: Msg) => ({ ...o, side: 'sell' })) };
      return;
    }
    if (last === undefined) return void this.early.push(m); // before its snapshot: never happens (the snapshot comes first)
    if (m.seq !== last + 1) this.gaps.push(`${key}: ${last} -> ${m.seq}`);
    this.last.set(key, m.seq);
    if (m.channel === 'l2') {
      for (const [side, levels] of [
        ['bids', m.bids],
        ['asks', m.asks],
      ] as const)
        for (const [px, qty, n] of levels as [string, string, number][]) {
          const book = this.l2[side];
          if (qty === '0') book.delete(px);
          else book.set(px, [qty, n]);
        }
    }
    if (m.channel === 'l3') for (const x of m.msgs) this.applyL3(x);
  }

  private applyL3(x: Msg): void {
    const list = (side: string) => (side === 'buy' ? this.l3.bids : this.l3.asks);
    const remove = (side: string, id: number) => {
      const l = list(side);
      const i = l.findIndex((o) => o.orderId === id);
      expect(i, `order ${id} in the L3 book`).toBeGreaterThanOrEqual(0);
      return l.splice(i, 1)[0]!;
    };
    // price-time priority: an order goes to the back of its level (after every order at a better or equal price)
    const append = (o: Msg) => {
      const l = list(o.side);
      const better = (p: string, q: string) => (o.side === 'buy' ? cents(p) >= cents(q) : cents(p) <= cents(q));
      let i = 0;
      while (i < l.length && better(l[i]!.px, o.px)) i++;
      l.splice(i, 0, o);
    };
    switch (x.type) {
      case 'add':
        return append({ orderId: x.orderId, px: x.px, qty: x.qty, side: x.side });
      case 'execute':
      case 'cancel': {
        const l = list(x.side);
        const o = l.find((e) => e.orderId === x.orderId)!;
        expect(o, `order ${x.orderId}`).toBeDefined();
        if (x.remaining === '0') remove(x.side, x.orderId);
        else o.qty = x.remaining;
        return;
      }
      case 'delete':
        return void remove(x.side, x.orderId);
      case 'replace':
        remove(x.side, x.orderId);
        return append({ orderId: x.orderId, px: x.px, qty: x.qty, side: x.side });
    }
  }

  l2Levels(): { bids: [string, string, number][]; asks: [string, string, number][] } {
    const sorted = (m: Map<string, [string, number]>, desc: boolean) =>
      [...m.entries()].map(([px, [q, n]]) => [px, q, n] as [string, string, number]).sort((x, y) => (desc ? cents(y[0]) - cents(x[0]) : cents(x[0]) - cents(y[0])));
    return { bids: sorted(this.l2.bids, true), asks: sorted(this.l2.asks, false) };
  }

  close(): void {
    this.ws.close();
  }
}

const tick = new Unit('0.01');
const cents = (px: string) => tick.parse(px)!;

beforeAll(async () => {
  ex = await startTestExchange();
  sym = await newSymbol(ex, 'M');
  a = await newAccount(ex, 'md-a', { USD: '1000000.00', [sym]: '100000' });
  b = await newAccount(ex, 'md-b', { USD: '1000000.00', [sym]: '100000' });
});

afterAll(async () => {
  await ex?.close();
});

/** a deterministic flow: resting orders around 100.00 from both accounts, crossing ones, cancels, replaces */
async function trade(n: number, seed: number): Promise<void> {
  const next = mulberry32(seed);
  const r = (k: number) => Math.floor(next() * k);
  const live: { id: number; key: string }[] = [];
  for (let i = 0; i < n; i++) {
    const who = r(2) === 0 ? a : b;
    const k = r(10);
    if (k < 6) {
      const side = r(2) === 0 ? 'buy' : 'sell';
      const px = (100 + (side === 'buy' ? -1 : 1) * (r(20) - 4) * 0.05).toFixed(2);
      const o = await order(ex, who.apiKey, { symbol: sym, side, type: 'limit', qty: String(1 + r(9)), price: px });
      expect([201, 422]).toContain(o.status);
      if (o.body.status === 'new' || o.body.status === 'partially_filled') live.push({ id: o.body.orderId, key: who.apiKey });
    } else if (k < 8 && live.length > 0) {
      const o = live.splice(r(live.length), 1)[0]!;
      await call(ex.url, 'DELETE', `/v1/order/${o.id}`, { key: o.key });
    } else if (k < 9 && live.length > 0) {
      const o = live[r(live.length)]!;
      await call(ex.url, 'PATCH', `/v1/order/${o.id}`, { key: o.key, body: { qty: String(1 + r(12)), price: (99.5 + r(20) * 0.05).toFixed(2) } });
    } else {
      const side = r(2) === 0 ? 'buy' : 'sell';
      await order(ex, who.apiKey, { symbol: sym, side, type: 'market', qty: String(1 + r(5)), tif: 'IOC' });
    }
  }
}

test('subscribers keep L2 / L3 books from snapshot + updates equal to the engine, with gap-free sequences; candles equal the trades', async () => {
  const binary = new Subscriber(ex.url, 'msgpack');
  const text = new Subscriber(ex.url, 'json');
  await binary.send({ type: 'subscribe', channels: ['l2', 'l3', 'trades', 'candles:1m', 'l1'], symbols: [sym] });
  await text.send({ type: 'subscribe', channels: ['l2', 'l3'], symbols: [sym] });
  await until(() => binary.last.size === 5 && text.last.size === 2);
  await trade(150, 7);
  // one joins midway: its books start from a snapshot taken among the updates
  const late = new Subscriber(ex.url, 'json');
  await late.send({ type: 'subscribe', channels: ['l2', 'l3'], symbols: [sym] });
  await trade(150, 11);
  const l2 = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}&depth=9999`)).body;
  // every subscriber has caught up with the worker (its channel seq)
  await until(() => [binary, text, late].every((s) => s.last.get(`l2:${sym}`) === l2.channelSeq), 10_000);
  for (const s of [binary, text, late]) {
    expect(s.gaps).toEqual([]);
    expect(s.l2Levels()).toEqual({ bids: l2.bids, asks: l2.asks });
  }
  const l3 = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`)).body;
  await until(() => [binary, text, late].every((s) => s.last.get(`l3:${sym}`) === l3.channelSeq), 10_000);
  for (const s of [binary, text, late]) expect(s.l3).toEqual({ bids: l3.bids, asks: l3.asks });
  // trades: every one once, in order; candles: the 1m candles recomputed from them
  const trades = binary.msgs.filter((m) => m.channel === 'trades').flatMap((m) => m.trades as Msg[]);
  expect(trades.length).toBeGreaterThan(20);
  expect(trades.map((t) => t.tradeId)).toEqual([...new Set(trades.map((t) => t.tradeId))].sort((p, q) => p - q));
  const byMinute = new Map<number, Msg[]>();
  for (const t of trades) {
    const m = Math.floor(t.ts / 60_000) * 60_000;
    byMinute.set(m, [...(byMinute.get(m) ?? []), t]);
  }
  const candles = (await call(ex.url, 'GET', `/v1/marketdata/candles?symbol=${sym}&resolution=1m`)).body as Msg[];
  expect(candles.map((c) => c.t)).toEqual([...byMinute.keys()]);
  for (const c of candles) {
    const ts = byMinute.get(c.t)!;
    expect([c.o, c.c, c.n]).toEqual([ts[0]!.px, ts.at(-1)!.px, ts.length]);
    expect(cents(c.h)).toBe(Math.max(...ts.map((t) => cents(t.px))));
    expect(cents(c.l)).toBe(Math.min(...ts.map((t) => cents(t.px))));
    expect(Number(c.v)).toBe(ts.reduce((s, t) => s + Number(t.qty), 0));
  }
  // the heartbeat names the same last seqs
  await until(() => binary.msgs.some((m) => m.type === 'heartbeat' && m.seqs[`l2:${sym}`] === l2.channelSeq), 3_000);
  for (const s of [binary, text, late]) s.close();
});

test('the books equal the engine replayed from the journal', async () => {
  const l2 = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}&depth=9999`)).body;
  const l3 = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`)).body;
  await ex.stop();
  const engine = cleanReplay(ex.dataDir).engine;
  const fmt = (levels: [number, number, number][]) => levels.map(([p, q, n]) => [tick.format(p), String(q), n]);
  const book = engine.bookL2(sym)!;
  expect({ bids: l2.bids, asks: l2.asks }).toEqual({ bids: fmt(book.bids), asks: fmt(book.asks) });
  const b3 = engine.bookL3(sym)!;
  const e3 = (side: string) => (o: { orderId: number; priceTicks: number; qtyLots: number }) => ({ orderId: o.orderId, side, px: tick.format(o.priceTicks), qty: String(o.qtyLots) });
  expect({ bids: l3.bids, asks: l3.asks }).toEqual({ bids: b3.bids.map(e3('buy')), asks: b3.asks.map(e3('sell')) });
  // restart: the worker rebuilds the same books from the journal (its sequences start again)
  ex = await startTestExchange({}, ex.dataDir);
  const again = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`)).body;
  expect({ bids: again.bids, asks: again.asks }).toEqual({ bids: l3.bids, asks: l3.asks });
});

test('SSE: snapshots first, then updates, to a plain HTTP client', async () => {
  const events: { event: string; id: string; data: Msg }[] = [];
  let buf = '';
  const req = httpRequest(`${ex.url}/v1/stream?symbols=${sym}&channels=l1,trades`, (res) => {
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
        if (f.data !== undefined) events.push({ event: f.event, id: f.id, data: JSON.parse(f.data) });
      }
    });
  });
  req.end();
  await until(() => events.length >= 2);
  expect(events.slice(0, 2).map((e) => e.event)).toEqual(['snapshot', 'snapshot']);
  expect(events.map((e) => e.data.channel).sort()).toEqual(['l1', 'trades']);
  await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '2', price: '150.00' }); // crosses the best ask
  await until(() => events.some((e) => e.event === 'update' && e.data.channel === 'trades'));
  const up = events.find((e) => e.event === 'update' && e.data.channel === 'trades')!;
  const snap = events.find((e) => e.data.channel === 'trades')!;
  expect(up.data.seq).toBe(snap.data.seq + 1);
  expect(up.id).toBe(`trades:${sym}:${up.data.seq}`);
  req.destroy();
  const bad = await call(ex.url, 'GET', '/v1/stream?symbols=&channels=l9');
  expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
});

test('unsubscribe and subscribe again: a fresh snapshot, in step with the book; others on the topic keep their updates', async () => {
  const keep = new Subscriber(ex.url, 'json');
  const flip = new Subscriber(ex.url, 'msgpack');
  await keep.send({ type: 'subscribe', channels: ['l2'], symbols: [sym] });
  await flip.send({ type: 'subscribe', channels: ['l2'], symbols: [sym] });
  await until(() => keep.last.has(`l2:${sym}`) && flip.last.has(`l2:${sym}`));
  await flip.send({ type: 'unsubscribe', channels: ['l2'], symbols: [sym] });
  await until(() => flip.msgs.some((m) => m.type === 'unsubscribed'));
  await trade(40, 23); // nobody reads l2 in MessagePack now: the worker stops encoding it
  const mid = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}&depth=9999`)).body;
  await until(() => keep.last.get(`l2:${sym}`) === mid.channelSeq, 10_000);
  expect(keep.gaps).toEqual([]);
  expect(keep.l2Levels()).toEqual({ bids: mid.bids, asks: mid.asks });
  await flip.send({ type: 'subscribe', channels: ['l2'], symbols: [sym] });
  await until(() => flip.msgs.filter((m) => m.type === 'snapshot').length === 2);
  await trade(40, 29);
  const end = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L2?symbol=${sym}&depth=9999`)).body;
  await until(() => [keep, flip].every((x) => x.last.get(`l2:${sym}`) === end.channelSeq), 10_000);
  for (const x of [keep, flip]) {
    expect(x.gaps).toEqual([]);
    expect(x.l2Levels()).toEqual({ bids: end.bids, asks: end.asks });
  }
  keep.close();
  flip.close();
});

test('subscribe churn is rate limited (each subscription is a snapshot on the ring all gateways share)', async () => {
  const s = new Subscriber(ex.url, 'json');
  const all = ['l1', 'l2', 'l3', 'trades', 'candles:1m', 'candles:5m', 'candles:15m', 'candles:1h', 'candles:1d'];
  for (let i = 0; i < 60; i++) {
    await s.send({ type: 'subscribe', channels: all, symbols: [sym] });
    await s.send({ type: 'unsubscribe', channels: all, symbols: [sym] });
  }
  await until(() => s.msgs.filter((m) => m.type === 'unsubscribed').length === 60);
  const limited = s.msgs.filter((m) => m.type === 'error' && m.code === 'RATE_LIMITED').length;
  const taken = s.msgs.filter((m) => m.type === 'subscribed').length;
  expect(limited).toBeGreaterThan(0);
  expect(taken + limited).toBe(60);
  expect(taken * all.length).toBeLessThanOrEqual(400 + 60); // the burst, and what refilled meanwhile
  s.close();
});

test('bad subscriptions are answered with errors and change nothing', async () => {
  const s = new Subscriber(ex.url, 'msgpack');
  await s.send({ type: 'subscribe', channels: ['l7'], symbols: [sym] });
  await s.send({ type: 'subscribe', channels: ['l2'], symbols: ['NOPE'] });
  await s.send({ type: 'dance' });
  await s.send({ type: 'subscribe', channels: 'l2', symbols: [sym] });
  await s.ws.send(Buffer.from([0xc1, 0xff, 0x00]));
  await s.send({ type: 'subscribe', channels: ['l2'], symbols: Array.from({ length: 201 }, (_, i) => `S${i}`) });
  await until(() => s.msgs.filter((m) => m.type === 'error').length >= 6);
  // the unknown symbol's error comes from the worker, maybe after the others
  expect(s.msgs.filter((m) => m.type === 'error').map((m) => m.code).sort()).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'INVALID_REQUEST', 'UNKNOWN_SYMBOL']);
  expect(s.msgs.filter((m) => m.type === 'snapshot')).toEqual([]);
  // still served: a good subscription works on the same connection
  await s.send({ type: 'subscribe', channels: ['l2'], symbols: [sym] });
  await until(() => s.last.has(`l2:${sym}`));
  s.close();
});
