/**
 * A fake `/v1/md` server for the SDK's market-data tests: a `ws` WebSocketServer on 127.0.0.1
 * (random port) speaking docs/market-data.md, MessagePack by default and JSON with ?format=json.
 * The test drives it: it holds each symbol's L2 book (decimal strings), L1, and a log of every
 * l2 update so it can also send a snapshot as of an older seq; it can skip an update (the seq
 * moves, nothing is sent), send heartbeats, drop connections, and reset its sequences.
 * Its own price ordering is independent of the SDK's: BigInt at a fixed 30-digit scale.
 */
import { Packr, Unpackr } from 'msgpackr';
import { WebSocketServer, WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { mulberry32 } from '../../tools/bench/workload.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export type Msg = Record<string, unknown>;
type Lvl = [string, string, number];

/** a decimal string as a BigInt scaled by 10^30 (test-side ordering) */
export function scaled(d: string): bigint {
  const [i, f = ''] = d.split('.');
  return BigInt(i! + f.padEnd(30, '0'));
}

export interface Conn {
  ws: WebSocket;
  format: 'msgpack' | 'json';
  subs: Set<string>;
}

interface L2Model {
  bids: Map<string, [string, number]>;
  asks: Map<string, [string, number]>;
}

function copyModel(m: L2Model): L2Model {
  return { bids: new Map([...m.bids].map(([k, v]) => [k, [...v] as [string, number]])), asks: new Map([...m.asks].map(([k, v]) => [k, [...v] as [string, number]])) };
}

function applyLevels(m: L2Model, bids: Lvl[], asks: Lvl[]): void {
  for (const [side, lv] of [
    [m.bids, bids],
    [m.asks, asks],
  ] as const)
    for (const [px, qty, n] of lv) {
      if (scaled(qty) === 0n) side.delete(px);
      else side.set(px, [qty, n]);
    }
}

function sortedLevels(side: Map<string, [string, number]>, bid: boolean): Lvl[] {
  const out: Lvl[] = [...side].map(([px, [q, n]]) => [px, q, n]);
  out.sort((a, b) => {
    const x = scaled(a[0]);
    const y = scaled(b[0]);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return bid ? -c : c;
  });
  return out;
}

export class FakeMdServer {
  readonly conns = new Set<Conn>();
  /** every client message, in order */
  readonly received: Msg[] = [];
  /** per topic ("l2:AAPL"): the last seq given out */
  readonly seqs = new Map<string, number>();
  /** topics whose next update is skipped (seq used, nothing sent) */
  readonly skip = new Set<string>();
  /** called on a subscribe for one pair; return true when it answered the pair itself */
  onSubscribe: ((c: Conn, channel: string, symbol: string) => boolean) | null = null;
  private readonly base = new Map<string, L2Model>();
  private readonly l2log = new Map<string, { seq: number; bids: Lvl[]; asks: Lvl[] }[]>();
  readonly l1 = new Map<string, Msg>();
  readonly l3 = new Map<string, { state: string; bids: Msg[]; asks: Msg[] }>();
  readonly trades = new Map<string, Msg[]>();
  readonly candles = new Map<string, Msg[]>();
  private wss!: WebSocketServer;
  private hbTimer: NodeJS.Timeout | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise<void>((r) => this.wss.once('listening', () => r()));
    this.port = (this.wss.address() as AddressInfo).port;
    this.wss.on('connection', (ws, req) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname !== '/v1/md') {
        ws.close(4004, 'not found');
        return;
      }
      const c: Conn = { ws, format: u.searchParams.get('format') === 'json' ? 'json' : 'msgpack', subs: new Set() };
      this.conns.add(c);
      ws.on('close', () => this.conns.delete(c));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const m = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString())) as Msg;
        // the client must speak the connection's format
        if (isBinary !== (c.format === 'msgpack')) throw new Error(`client sent a ${isBinary ? 'binary' : 'text'} frame on a ${c.format} connection`);
        this.received.push(m);
        this.onMessage(c, m);
      });
    });
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** sends heartbeats every ms (0: stop) */
  heartbeatEvery(ms: number): void {
    if (this.hbTimer !== null) clearInterval(this.hbTimer);
    this.hbTimer = ms > 0 ? setInterval(() => this.heartbeat(), ms) : null;
  }

  async close(): Promise<void> {
    this.heartbeatEvery(0);
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  /** terminates every connection (a network failure) */
  dropAll(): void {
    for (const c of this.conns) c.ws.terminate();
  }

  send(c: Conn, m: Msg): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.format === 'json') c.ws.send(JSON.stringify(m));
    else c.ws.send(packr.pack(m));
  }

  private onMessage(c: Conn, m: Msg): void {
    const channels = m.channels as string[];
    const symbols = m.symbols as string[];
    if (m.type === 'unsubscribe') {
      for (const ch of channels) for (const s of symbols) c.subs.delete(`${ch}:${s}`);
      this.send(c, { type: 'unsubscribed', channels, symbols });
      return;
    }
    if (m.type !== 'subscribe') return this.send(c, { type: 'error', code: 'INVALID_REQUEST', message: 'bad type' });
    this.send(c, { type: 'subscribed', channels, symbols });
    for (const ch of channels)
      for (const s of symbols) {
        const topic = `${ch}:${s}`;
        if (c.subs.has(topic)) continue;
        c.subs.add(topic);
        if (this.onSubscribe?.(c, ch, s) === true) continue;
        this.send(c, this.snapshot(ch, s));
      }
  }

  seq(topic: string): number {
    return this.seqs.get(topic) ?? 0;
  }

  private next(topic: string): number {
    const s = this.seq(topic) + 1;
    this.seqs.set(topic, s);
    return s;
  }

  /** sends m to the subscribers of topic (unless the topic's next update is to be skipped) */
  private publish(topic: string, m: Msg): void {
    if (this.skip.delete(topic)) return;
    for (const c of this.conns) if (c.subs.has(topic)) this.send(c, m);
  }

  private model(symbol: string): L2Model {
    let m = this.base.get(symbol);
    if (m === undefined) {
      m = { bids: new Map(), asks: new Map() };
      this.base.set(symbol, m);
      this.l2log.set(symbol, []);
    }
    return m;
  }

  /** the L2 book as of seq (default: now), best first */
  l2Book(symbol: string, atSeq = this.seq(`l2:${symbol}`)): { seq: number; bids: Lvl[]; asks: Lvl[] } {
    const m = copyModel(this.model(symbol));
    for (const u of this.l2log.get(symbol)!) if (u.seq <= atSeq) applyLevels(m, u.bids, u.asks);
    return { seq: atSeq, bids: sortedLevels(m.bids, true), asks: sortedLevels(m.asks, false) };
  }

  /** the l2 update message with this seq (from the log) */
  l2Update(symbol: string, seq: number): Msg {
    const u = this.l2log.get(symbol)!.find((x) => x.seq === seq)!;
    return { type: 'update', channel: 'l2', symbol, seq, journalSeq: 1000 + seq, ts: 1764430000000 + seq, bids: u.bids, asks: u.asks };
  }

  /** one l2 update (absolute levels; qty "0" removes) */
  l2(symbol: string, bids: Lvl[], asks: Lvl[] = []): number {
    this.model(symbol);
    const seq = this.next(`l2:${symbol}`);
    this.l2log.get(symbol)!.push({ seq, bids, asks });
    this.publish(`l2:${symbol}`, this.l2Update(symbol, seq));
    return seq;
  }

  setL3(symbol: string, book: { state?: string; bids: Msg[]; asks: Msg[] }): void {
    this.l3.set(symbol, { state: book.state ?? 'open', ...book });
  }

  l3Msgs(symbol: string, msgs: Msg[]): number {
    const seq = this.next(`l3:${symbol}`);
    this.publish(`l3:${symbol}`, { type: 'update', channel: 'l3', symbol, seq, journalSeq: 2000 + seq, ts: 1764430000000 + seq, msgs });
    return seq;
  }

  setL1(symbol: string, fields: Msg): number {
    const l1 = { bidPx: null, bidQty: null, askPx: null, askQty: null, mid: null, lastPx: null, lastQty: null, open: null, high: null, low: null, volume: null, ...fields };
    this.l1.set(symbol, l1);
    const seq = this.next(`l1:${symbol}`);
    this.publish(`l1:${symbol}`, { type: 'update', channel: 'l1', symbol, seq, journalSeq: 3000 + seq, ts: 1764430000000 + seq, ...l1 });
    return seq;
  }

  addTrades(symbol: string, trades: Msg[]): number {
    const list = this.trades.get(symbol) ?? [];
    list.push(...trades);
    this.trades.set(symbol, list);
    const seq = this.next(`trades:${symbol}`);
    this.publish(`trades:${symbol}`, { type: 'update', channel: 'trades', symbol, seq, journalSeq: 4000 + seq, ts: 1764430000000 + seq, trades });
    return seq;
  }

  addCandles(symbol: string, res: string, candles: Msg[]): number {
    const key = `${res}:${symbol}`;
    const list = this.candles.get(key) ?? [];
    for (const c of candles) {
      const i = list.findIndex((x) => x.t === c.t);
      if (i >= 0) list[i] = c;
      else list.push(c);
    }
    this.candles.set(key, list);
    const seq = this.next(`candles:${res}:${symbol}`);
    this.publish(`candles:${res}:${symbol}`, { type: 'update', channel: `candles:${res}`, symbol, seq, journalSeq: 5000 + seq, ts: 1764430000000 + seq, candles });
    return seq;
  }

  snapshot(channel: string, symbol: string, atSeq?: number): Msg {
    const topic = `${channel}:${symbol}`;
    const head = { type: 'snapshot', channel, symbol, seq: atSeq ?? this.seq(topic), journalSeq: 999, ts: 1764430000000 };
    if (channel === 'l2') {
      const b = this.l2Book(symbol, atSeq);
      return { ...head, bids: b.bids, asks: b.asks };
    }
    if (channel === 'l3') {
      const b = this.l3.get(symbol) ?? { state: 'open', bids: [], asks: [] };
      return { ...head, state: b.state, tradingDay: 20000, bids: b.bids, asks: b.asks };
    }
    if (channel === 'l1') return { ...head, ...(this.l1.get(symbol) ?? { bidPx: null, bidQty: null, askPx: null, askQty: null, mid: null }) };
    if (channel === 'trades') return { ...head, trades: this.trades.get(symbol) ?? [] };
    if (channel.startsWith('candles:')) return { ...head, candles: this.candles.get(`${channel.slice(8)}:${symbol}`) ?? [] };
    return { type: 'error', code: 'UNKNOWN_CHANNEL', message: channel };
  }

  /** one heartbeat to every connection: the last seq of each of its subscriptions */
  heartbeat(): void {
    for (const c of this.conns) {
      const seqs: Record<string, number> = {};
      for (const t of c.subs) seqs[t] = this.seq(t);
      this.send(c, { type: 'heartbeat', ts: Date.now(), seqs });
    }
  }

  /**
   * The worker rebuilt its state: sequences start again (the current books are the new base),
   * every connection is unsubscribed and told `reset` (as the real gateway does).
   */
  reset(): void {
    for (const [symbol] of this.base) {
      const now = this.l2Book(symbol);
      const m: L2Model = { bids: new Map(now.bids.map(([p, q, n]) => [p, [q, n]])), asks: new Map(now.asks.map(([p, q, n]) => [p, [q, n]])) };
      this.base.set(symbol, m);
      this.l2log.set(symbol, []);
    }
    this.seqs.clear();
    for (const c of this.conns) {
      c.subs.clear();
      this.send(c, { type: 'reset', message: 'market data rebuilt: take new snapshots' });
    }
  }

  /** client messages of a type */
  sent(type: string): Msg[] {
    return this.received.filter((m) => m.type === type);
  }
}

/** polls until cond() is true (or throws after ms) */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** a small deterministic PRNG (mulberry32, tools/bench/workload.ts) */
export const rng = mulberry32;
