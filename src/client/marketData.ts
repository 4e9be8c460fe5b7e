/**
 * The seqex SDK for public market data (docs/market-data.md): the `/v1/md` WebSocket, with local
 * books kept in sync for you.
 *
 *   const md = new MarketDataClient({ url: 'http://127.0.0.1:8080' });
 *   md.on('book', (symbol, book) => console.log(symbol, book.bids[0], book.asks[0]));
 *   md.on('trade', (symbol, t) => console.log(symbol, t.px, t.qty, t.side));
 *   md.subscribe(['l2', 'trades'], ['AAPL']);
 *   await md.connect();
 *   await md.whenSynced(['l2'], ['AAPL']);
 *   md.bestBid('AAPL'); // { px: '189.50', qty: '300' }
 *
 * Per subscribed (channel, symbol) the client keeps the documented snapshot-then-updates rules:
 * updates that arrive before the snapshot are buffered and those with seq <= the snapshot's are
 * dropped; an update whose seq is not last + 1, or a heartbeat announcing a higher seq, is a gap:
 * the client unsubscribes and subscribes that pair again (a fresh snapshot), counts it (`gaps`)
 * and emits 'gap'. A `reset` message, and a reconnect, take new snapshots of everything.
 *
 * Prices and quantities stay the server's exact decimal strings; books are ordered by comparing
 * them as exact decimals (BigInt-scaled), never as floats. The helpers `compareDecimal`,
 * `addDecimal`, `midDecimal` are exported for the same reason (src/client/consolidated.ts).
 */
import { EventEmitter } from 'node:events';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';

// ---------------------------------------------------------------------------------------------
// Exact decimals (text in, text out; BigInt inside)

/** value = n / 10^s */
interface Dec {
  n: bigint;
  s: number;
}

const DEC_RE = /^(-?)(\d+)(?:\.(\d+))?$/;

function parseDec(text: unknown): Dec | null {
  const t = typeof text === 'number' ? String(text) : text;
  if (typeof t !== 'string') return null;
  const m = DEC_RE.exec(t);
  if (m === null) return null;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const n = BigInt(m[2]! + frac);
  return { n: m[1] === '-' ? -n : n, s: frac.length };
}

function mustDec(text: unknown): Dec {
  const d = parseDec(text);
  if (d === null) throw new MarketDataError('BAD_DECIMAL', `not a decimal: ${String(text)}`);
  return d;
}

function cmpDec(a: Dec, b: Dec): number {
  let x = a.n;
  let y = b.n;
  if (a.s < b.s) x *= 10n ** BigInt(b.s - a.s);
  else if (b.s < a.s) y *= 10n ** BigInt(a.s - b.s);
  return x < y ? -1 : x > y ? 1 : 0;
}

function addDec(a: Dec, b: Dec, sign: 1n | -1n = 1n): Dec {
  const s = Math.max(a.s, b.s);
  return { n: a.n * 10n ** BigInt(s - a.s) + sign * b.n * 10n ** BigInt(s - b.s), s };
}

/** The shortest text of d (no trailing fraction zeros). */
function formatDec(d: Dec): string {
  const neg = d.n < 0n;
  let digits = (neg ? -d.n : d.n).toString();
  let s = d.s;
  while (s > 0 && digits.endsWith('0') && digits.length > 1) {
    digits = digits.slice(0, -1);
    s--;
  }
  if (digits === '0') return '0';
  let out = digits;
  if (s > 0) {
    out = digits.padStart(s + 1, '0');
    out = `${out.slice(0, out.length - s)}.${out.slice(out.length - s)}`;
  }
  return neg ? `-${out}` : out;
}

/** Compares two decimal strings exactly: negative, 0 ("1.10" vs "1.1") or positive. */
export function compareDecimal(a: string, b: string): number {
  return cmpDec(mustDec(a), mustDec(b));
}

/** a + b exactly, as the shortest decimal text ("0.1" + "0.2" = "0.3"). */
export function addDecimal(a: string, b: string): string {
  return formatDec(addDec(mustDec(a), mustDec(b)));
}

/** (a + b) / 2 exactly ("0.1", "0.2" -> "0.15"): halving adds at most one digit. */
export function midDecimal(a: string, b: string): string {
  const sum = addDec(mustDec(a), mustDec(b));
  const half = sum.n % 2n === 0n ? { n: sum.n / 2n, s: sum.s } : { n: sum.n * 5n, s: sum.s + 1 };
  return formatDec(half);
}

/** The canonical text of a decimal (map key: "189.50" and "189.5" are one price). */
function canon(d: Dec): string {
  return formatDec(d);
}

function isZero(text: unknown): boolean {
  const d = parseDec(text);
  return d !== null && d.n === 0n;
}

// ---------------------------------------------------------------------------------------------
// Wire types

export type Channel = 'l1' | 'l2' | 'l3' | 'trades' | `candles:${string}`;
/** [price, qty, orderCount] */
export type Level = [px: string, qty: string, count: number];

export interface L2Book {
  /** seq of the last snapshot or update applied */
  seq: number;
  /** best first */
  bids: Level[];
  asks: Level[];
}

export interface L3Order {
  orderId: number;
  px: string;
  qty: string;
}

export interface L3Book {
  seq: number;
  /** the trading state from the snapshot and `tradingState` messages (`open`, `halted`, `closed`), or null */
  state: string | null;
  /** priority order: best price first, then time priority within the level */
  bids: L3Order[];
  asks: L3Order[];
}

export interface L1 {
  seq: number;
  bidPx: string | null;
  bidQty: string | null;
  askPx: string | null;
  askQty: string | null;
  mid: string | null;
  lastPx: string | null;
  lastQty: string | null;
  open: string | null;
  high: string | null;
  low: string | null;
  volume: string | null;
  /** engine time, ms */
  ts: number;
}

export interface Trade {
  tradeId: number;
  px: string;
  qty: string;
  /** the aggressor's side, as the server sends it */
  side: string;
  ts: number;
}

export interface Candle {
  t: number;
  o: string;
  h: string;
  l: string;
  c: string;
  v: string;
  n: number;
  closed: boolean;
}

/** An `l3` update message (docs/market-data.md), as received. */
export type L3Msg = Record<string, unknown> & { type: string };

export interface GapInfo {
  symbol: string;
  channel: Channel;
  /** the seq the client expected next (last applied + 1) */
  expected: number;
  /** the seq the update carried, or the heartbeat announced */
  got: number;
  via: 'update' | 'heartbeat';
}

export class MarketDataError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** the server's error message when there is one */
    readonly reply?: Record<string, unknown>,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface MarketDataEvents {
  /** the connection opened (also after each reconnect); subscriptions are being (re)sent */
  open: [];
  /** an L2 change was applied (snapshot or update); `book` is the whole book, best first */
  book: [symbol: string, book: L2Book];
  /** L3 messages were applied (snapshot: msgs is empty); read the book with l3(symbol) */
  l3: [symbol: string, msgs: L3Msg[]];
  l1: [symbol: string, l1: L1];
  /** one public trade from an update (after a resnapshot, also the snapshot's trades newer than the last seen) */
  trade: [symbol: string, trade: Trade];
  /** a candle that changed; resolution is what follows `candles:` */
  candle: [symbol: string, resolution: string, candle: Candle];
  /** a snapshot was applied: the pair is in sync from here */
  snapshot: [symbol: string, channel: Channel, seq: number];
  heartbeat: [seqs: Record<string, number>, ts: number];
  /** a missed update; the pair is being resubscribed */
  gap: [gap: GapInfo];
  /** the server restarted its sequences: every pair is being resubscribed */
  reset: [message: string];
  /**
   * a server `error` message (code = its code), an undecodable frame (BAD_FRAME), a message that
   * could not be applied (BAD_DECIMAL, MESSAGE_FAILED: also a listener that threw; the pair is
   * resubscribed), an L3 message naming an unknown order (L3_OUT_OF_SYNC). Without a listener
   * these only go to `log`.
   */
  error: [err: MarketDataError];
  /** an open connection closed; willReconnect false after close() or with reconnect off */
  close: [code: number, reason: string, willReconnect: boolean];
}

export interface MarketDataOptions {
  /** http(s)://host:port or ws(s)://host:port (the path /v1/md is added when there is none) */
  url: string;
  /** 'msgpack' (binary frames, the default) or 'json' (text frames, ?format=json) */
  format?: 'msgpack' | 'json';
  /** reconnect (and resubscribe) when the connection drops; default true */
  reconnect?: boolean;
  /** diagnostics (gaps, resets, reconnects); default none */
  log?: (line: string) => void;
  /** first reconnect delay, doubled per failed attempt up to reconnectMaxMs; defaults 50 / 2000 */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** drop and reconnect when nothing (not even a heartbeat) came for this long; default 10,000; 0: never */
  idleTimeoutMs?: number;
  /** trades kept per symbol (newest); default 1000 */
  maxTrades?: number;
  /** candles kept per symbol and resolution (newest); default 1000 */
  maxCandles?: number;
  /** updates buffered per pair while waiting for its snapshot (oldest dropped); default 10,000 */
  maxPending?: number;
  /** clock for freshness (tests); default Date.now */
  now?: () => number;
}

/** The /v1/md WebSocket address for `url` (http -> ws, default path, ?format=json). */
export function marketDataUrl(url: string, format: 'msgpack' | 'json' = 'msgpack'): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/md';
  if (format === 'json') u.searchParams.set('format', 'json');
  return u.toString();
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

type Msg = Record<string, unknown> & { type?: unknown };

// ---------------------------------------------------------------------------------------------
// Books over decimal strings

interface Priced {
  key: string;
  d: Dec;
}

/** Price levels of one side, best first, ordered by exact decimal comparison. */
class Ladder<L extends Priced> {
  readonly list: L[] = [];
  readonly byKey = new Map<string, L>();

  constructor(private readonly isBid: boolean) {}

  /** negative when price a comes before price b on this side */
  private rank(a: Dec, b: Dec): number {
    return this.isBid ? cmpDec(b, a) : cmpDec(a, b);
  }

  insert(level: L): void {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rank(this.list[mid]!.d, level.d) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.list.splice(lo, 0, level);
    this.byKey.set(level.key, level);
  }

  remove(level: L): void {
    this.byKey.delete(level.key);
    const i = this.list.indexOf(level);
    if (i >= 0) this.list.splice(i, 1);
  }

  clear(): void {
    this.list.length = 0;
    this.byKey.clear();
  }
}

interface L2Level extends Priced {
  px: string;
  qty: string;
  count: number;
}

class L2State {
  seq = 0;
  readonly bids = new Ladder<L2Level>(true);
  readonly asks = new Ladder<L2Level>(false);

  load(seq: number, bids: unknown, asks: unknown): void {
    this.bids.clear();
    this.asks.clear();
    this.apply(seq, bids, asks);
  }

  apply(seq: number, bids: unknown, asks: unknown): void {
    for (const l of asArray(bids)) this.set(this.bids, l);
    for (const l of asArray(asks)) this.set(this.asks, l);
    this.seq = seq;
  }

  private set(side: Ladder<L2Level>, raw: unknown): void {
    if (!Array.isArray(raw)) return;
    const px = String(raw[0]);
    const qty = String(raw[1]);
    const count = Number(raw[2] ?? 0);
    const d = mustDec(px);
    const key = canon(d);
    const level = side.byKey.get(key);
    if (isZero(qty)) {
      if (level !== undefined) side.remove(level);
    } else if (level === undefined) side.insert({ key, d, px, qty, count });
    else {
      level.px = px;
      level.qty = qty;
      level.count = count;
    }
  }

  view(depth: number): L2Book {
    const out = (side: Ladder<L2Level>): Level[] => side.list.slice(0, depth).map((l) => [l.px, l.qty, l.count]);
    return { seq: this.seq, bids: out(this.bids), asks: out(this.asks) };
  }
}

interface L3Level extends Priced {
  px: string;
  /** insertion order = time priority */
  orders: Map<number, L3Order>;
}

class L3State {
  seq = 0;
  state: string | null = null;
  readonly bids = new Ladder<L3Level>(true);
  readonly asks = new Ladder<L3Level>(false);
  private readonly where = new Map<number, { bid: boolean; level: L3Level }>();

  load(seq: number, m: Msg): void {
    this.bids.clear();
    this.asks.clear();
    this.where.clear();
    for (const o of asArray(m.bids)) this.addRaw(true, o);
    for (const o of asArray(m.asks)) this.addRaw(false, o);
    this.state = typeof m.state === 'string' ? m.state : m.state === undefined ? null : String(m.state);
    this.seq = seq;
  }

  private addRaw(bid: boolean, raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const o = raw as Record<string, unknown>;
    this.add(o.orderId as number, bid, String(o.px), String(o.qty));
  }

  /** appends the order at the back of its level */
  add(orderId: number, bid: boolean, px: string, qty: string): void {
    this.remove(orderId);
    if (isZero(qty)) return;
    const side = bid ? this.bids : this.asks;
    const d = mustDec(px);
    const key = canon(d);
    let level = side.byKey.get(key);
    if (level === undefined) {
      level = { key, d, px, orders: new Map() };
      side.insert(level);
    }
    level.orders.set(orderId, { orderId, px, qty });
    this.where.set(orderId, { bid, level });
  }

  remove(orderId: number): void {
    const w = this.where.get(orderId);
    if (w === undefined) return;
    this.where.delete(orderId);
    w.level.orders.delete(orderId);
    if (w.level.orders.size === 0) (w.bid ? this.bids : this.asks).remove(w.level);
  }

  /** Applies one ITCH-like message; returns false when it names an order the book does not have. */
  apply(m: L3Msg, log: (line: string) => void): boolean {
    const id = m.orderId as number;
    switch (m.type) {
      case 'add': {
        const bid = sideIsBid(m.side);
        if (bid === null) return false;
        this.add(id, bid, String(m.px), String(m.qty));
        return true;
      }
      case 'execute':
      case 'cancel': {
        const w = this.where.get(id);
        if (w === undefined) return false;
        const o = w.level.orders.get(id)!;
        // `remaining` is the documented field; without it, take qty off exactly
        const remaining = m.remaining !== undefined ? String(m.remaining) : formatDec(addDec(mustDec(o.qty), mustDec(m.qty), -1n));
        if (isZero(remaining) || remaining.startsWith('-')) this.remove(id);
        else o.qty = remaining;
        return true;
      }
      case 'delete':
        if (!this.where.has(id)) return false;
        this.remove(id);
        return true;
      case 'replace': {
        const w = this.where.get(id);
        const bid = w?.bid ?? sideIsBid(m.side);
        if (bid === null) return false;
        this.add(id, bid, String(m.px), String(m.qty));
        return w !== undefined;
      }
      case 'tradingState':
        this.state = String(m.state);
        return true;
      case 'trade':
        return true;
      default:
        log(`md: unknown l3 message ${m.type}`);
        return true;
    }
  }

  view(): L3Book {
    const out = (side: Ladder<L3Level>): L3Order[] => {
      const list: L3Order[] = [];
      for (const l of side.list) for (const o of l.orders.values()) list.push({ orderId: o.orderId, px: o.px, qty: o.qty });
      return list;
    };
    return { seq: this.seq, state: this.state, bids: out(this.bids), asks: out(this.asks) };
  }
}

/** true for the buy / bid side, false for sell / ask, null for anything else (1 / 2, "buy" / "sell", "bid" / "ask") */
function sideIsBid(side: unknown): boolean | null {
  const s = String(side).toLowerCase();
  if (s === '1' || s === 'buy' || s === 'bid' || s === 'b') return true;
  if (s === '2' || s === 'sell' || s === 'ask' || s === 's') return false;
  return null;
}

function asArray(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

function str(x: unknown): string | null {
  return x === null || x === undefined ? null : String(x);
}

function num(x: unknown): number {
  return typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : Number(x ?? 0);
}

const L1_FIELDS = ['bidPx', 'bidQty', 'askPx', 'askQty', 'mid', 'lastPx', 'lastQty', 'open', 'high', 'low', 'volume'] as const;

function readL1(m: Msg, seq: number): L1 {
  // the ticker fields at the top level of the message (as the REST ticker), or under `l1`
  const src = typeof m.l1 === 'object' && m.l1 !== null ? (m.l1 as Record<string, unknown>) : m;
  const l1 = { seq, ts: num(src.ts ?? m.ts) } as L1;
  for (const f of L1_FIELDS) l1[f] = str(src[f]);
  if (src.mid === undefined && l1.bidPx !== null && l1.askPx !== null) l1.mid = midDecimal(l1.bidPx, l1.askPx);
  return l1;
}

function readTrade(raw: unknown): Trade {
  const t = raw as Record<string, unknown>;
  return { tradeId: num(t.tradeId), px: String(t.px), qty: String(t.qty), side: String(t.side), ts: num(t.ts) };
}

function readCandle(raw: unknown): Candle {
  const c = raw as Record<string, unknown>;
  return { t: num(c.t), o: String(c.o), h: String(c.h), l: String(c.l), c: String(c.c), v: String(c.v), n: num(c.n), closed: c.closed === true };
}

// ---------------------------------------------------------------------------------------------
// The client

interface Sub {
  channel: Channel;
  symbol: string;
  key: string;
  /** a snapshot is applied and no gap was seen since */
  synced: boolean;
  /** last applied seq */
  seq: number;
  /** updates that arrived before the snapshot */
  pending: Msg[];
  /** last snapshot, applied update or heartbeat that agreed with us (ms, opts.now) */
  confirmedAt: number;
}

interface SymbolData {
  l2: L2State | null;
  l3: L3State | null;
  l1: L1 | null;
  trades: Trade[];
  /** highest tradeId seen (to report trades a resnapshot brings) */
  lastTradeId: number | null;
  candles: Map<string, Candle[]>;
}

const subKey = (channel: string, symbol: string) => `${channel}:${symbol}`;

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export class MarketDataClient extends EventEmitter<MarketDataEvents> {
  /** gaps seen (updates and heartbeats), each answered by a resubscription */
  gaps = 0;
  /** `reset` messages received */
  resets = 0;
  /** successful reconnects */
  reconnects = 0;
  /** messages received by type (tests and tools) */
  readonly counts = new Map<string, number>();
  readonly url: string;
  readonly format: 'msgpack' | 'json';
  private ws: WebSocket | null = null;
  private readonly subs = new Map<string, Sub>();
  private readonly data = new Map<string, SymbolData>();
  private closing = false;
  private isOpen = false;
  private reconnecting: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lastRecvAt = 0;
  private readonly log: (line: string) => void;
  private readonly now: () => number;

  constructor(private readonly opts: MarketDataOptions) {
    super();
    this.format = opts.format ?? 'msgpack';
    this.url = marketDataUrl(opts.url, this.format);
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
  }

  get state(): ConnectionState {
    if (this.closing) return 'closed';
    if (this.isOpen) return 'open';
    if (this.reconnecting !== null) return 'reconnecting';
    return this.ws === null ? 'idle' : 'connecting';
  }

  get connected(): boolean {
    return this.isOpen;
  }

  /** Opens the connection (and sends the subscriptions made so far); rejects if it cannot. */
  async connect(): Promise<void> {
    if (this.isOpen) return;
    this.closing = false;
    await this.open();
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = 'nodebuffer';
      this.ws = ws;
      let opened = false;
      ws.on('open', () => {
        if (this.closing) {
          ws.terminate();
          return;
        }
        opened = true;
        this.isOpen = true;
        this.lastRecvAt = this.now();
        this.startWatchdog();
        this.emit('open');
        this.sendSubscriptions([...this.subs.values()]);
        resolve();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (this.ws !== ws) return;
        let m: Msg;
        try {
          m = (isBinary ? unpackr.unpack(data) : JSON.parse(data.toString('utf8'))) as Msg;
        } catch (e) {
          this.fail(new MarketDataError('BAD_FRAME', `undecodable frame: ${(e as Error).message}`));
          return;
        }
        if (typeof m !== 'object' || m === null) return;
        this.lastRecvAt = this.now();
        try {
          this.dispatch(m);
        } catch (e) {
          // a malformed message (or a throwing listener): the pair's data may be half-changed, take a fresh snapshot
          const s = this.subs.get(subKey(String(m.channel), String(m.symbol)));
          if (s !== undefined && s.synced) this.resubscribe(s);
          const err = e instanceof MarketDataError ? e : new MarketDataError('MESSAGE_FAILED', `handling a ${String(m.type)} message failed: ${(e as Error).message}`, m);
          if (err !== e) err.cause = e;
          this.fail(err);
        }
      });
      ws.on('error', (e) => {
        if (!opened) reject(e);
        else this.log(`md: ${e.message}`);
      });
      ws.on('close', (code: number, reason: Buffer) => {
        if (!opened) {
          reject(new MarketDataError('CONNECT_FAILED', `connection closed before it opened (${code})`));
          return;
        }
        if (this.ws === ws) this.onClosed(code, reason.toString());
      });
    });
  }

  private onClosed(code: number, reason: string): void {
    this.isOpen = false;
    this.stopWatchdog();
    // nothing is in sync until the new connection's snapshots come
    for (const s of this.subs.values()) {
      s.synced = false;
      s.pending = [];
    }
    const again = !this.closing && (this.opts.reconnect ?? true);
    this.log(`md: connection closed (${code}${reason ? ` ${reason}` : ''})${again ? ', reconnecting' : ''}`);
    this.emit('close', code, reason, again);
    if (again) void this.reconnect();
  }

  /** Reconnects (backoff 50 ms doubling to 2 s) and resubscribes everything; also after a failed connect(). */
  reconnect(): Promise<void> {
    this.reconnecting ??= (async () => {
      const base = this.opts.reconnectBaseMs ?? 50;
      const max = this.opts.reconnectMaxMs ?? 2000;
      for (let attempt = 0; !this.closing; attempt++) {
        try {
          await this.open();
          this.reconnects++;
          return;
        } catch (e) {
          this.log(`md: reconnect attempt ${attempt + 1} failed: ${(e as Error).message}`);
          await new Promise<void>((r) => {
            const t = setTimeout(r, Math.min(max, base * 2 ** attempt));
            this.wake = () => {
              clearTimeout(t);
              r();
            };
          });
          this.wake = null;
        }
      }
    })().finally(() => {
      this.reconnecting = null;
    });
    return this.reconnecting;
  }

  /** Drops the connection without closing the client (tests: a network failure); it reconnects. */
  dropConnection(): void {
    this.ws?.terminate();
  }

  /** Closes the connection for good (no reconnect). */
  async close(): Promise<void> {
    this.closing = true;
    this.stopWatchdog();
    this.wake?.();
    const ws = this.ws;
    if (ws === null || ws.readyState === WebSocket.CLOSED) {
      this.isOpen = false;
      return;
    }
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'bye');
      else ws.terminate();
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000).unref();
    });
    this.isOpen = false;
  }

  private startWatchdog(): void {
    const idle = this.opts.idleTimeoutMs ?? 10_000;
    if (idle <= 0) return;
    this.stopWatchdog();
    this.watchdog = setInterval(
      () => {
        if (this.isOpen && this.now() - this.lastRecvAt > idle) {
          this.log(`md: nothing received for ${idle} ms, reconnecting`);
          this.ws?.terminate();
        }
      },
      Math.max(10, Math.min(1000, idle / 4)),
    );
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions

  /** Subscribes every (channel, symbol) pair (kept across reconnects); pairs already subscribed are left alone. */
  subscribe(channels: readonly Channel[], symbols: readonly string[]): void {
    const fresh: Sub[] = [];
    for (const channel of channels)
      for (const symbol of symbols) {
        const key = subKey(channel, symbol);
        if (this.subs.has(key)) continue;
        const s: Sub = { channel, symbol, key, synced: false, seq: 0, pending: [], confirmedAt: 0 };
        this.subs.set(key, s);
        fresh.push(s);
      }
    if (this.isOpen) this.sendSubscriptions(fresh);
  }

  /** Unsubscribes the pairs and forgets their data. */
  unsubscribe(channels: readonly Channel[], symbols: readonly string[]): void {
    const gone: Sub[] = [];
    for (const channel of channels)
      for (const symbol of symbols) {
        const s = this.subs.get(subKey(channel, symbol));
        if (s === undefined) continue;
        this.subs.delete(s.key);
        gone.push(s);
        this.forget(s);
      }
    if (this.isOpen && gone.length > 0) this.sendGrouped('unsubscribe', gone);
  }

  /** the subscribed pairs, as "channel:SYMBOL" */
  subscriptions(): string[] {
    return [...this.subs.keys()];
  }

  /** True when the pair has its snapshot and no gap since (and the connection is up). */
  inSync(symbol: string, channel: Channel): boolean {
    return this.isOpen && this.subs.get(subKey(channel, symbol))?.synced === true;
  }

  /**
   * True when the pair is in sync and was confirmed (snapshot, update, or a heartbeat agreeing
   * with its seq) within maxAgeMs.
   */
  isFresh(symbol: string, channel: Channel, maxAgeMs: number): boolean {
    const s = this.subs.get(subKey(channel, symbol));
    return this.isOpen && s !== undefined && s.synced && this.now() - s.confirmedAt <= maxAgeMs;
  }

  /** the last applied seq of the pair (0: none) */
  seqOf(symbol: string, channel: Channel): number {
    return this.subs.get(subKey(channel, symbol))?.seq ?? 0;
  }

  /** Resolves when every pair is in sync (rejects after timeoutMs). */
  whenSynced(channels: readonly Channel[], symbols: readonly string[], timeoutMs = 10_000): Promise<void> {
    const done = () => channels.every((c) => symbols.every((s) => this.inSync(s, c)));
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new MarketDataError('TIMEOUT', `not in sync after ${timeoutMs} ms: ${channels.join(',')} ${symbols.join(',')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('snapshot', check);
      };
      this.on('snapshot', check);
    });
  }

  private sendSubscriptions(subs: Sub[]): void {
    if (subs.length > 0) this.sendGrouped('subscribe', subs);
  }

  /** one message per channel, with that channel's symbols */
  private sendGrouped(type: 'subscribe' | 'unsubscribe', subs: Sub[]): void {
    const byChannel = new Map<Channel, string[]>();
    for (const s of subs) {
      const list = byChannel.get(s.channel) ?? [];
      list.push(s.symbol);
      byChannel.set(s.channel, list);
    }
    for (const [channel, symbols] of byChannel) this.send({ type, channels: [channel], symbols });
  }

  private send(m: Record<string, unknown>): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return;
    if (this.format === 'json') ws.send(JSON.stringify(m));
    else ws.send(packr.pack(m));
  }

  /** Takes a fresh snapshot of the pair: unsubscribe, subscribe (docs/market-data.md, step 3). */
  private resubscribe(s: Sub): void {
    s.synced = false;
    s.pending = [];
    this.send({ type: 'unsubscribe', channels: [s.channel], symbols: [s.symbol] });
    this.send({ type: 'subscribe', channels: [s.channel], symbols: [s.symbol] });
  }

  private gap(s: Sub, got: number, via: 'update' | 'heartbeat'): void {
    this.gaps++;
    const info: GapInfo = { symbol: s.symbol, channel: s.channel, expected: s.seq + 1, got, via };
    this.log(`md: gap on ${s.key} (expected ${info.expected}, ${via} says ${got}): resubscribing`);
    this.resubscribe(s);
    this.emit('gap', info);
  }

  private fail(e: MarketDataError): void {
    this.log(`md: ${e.message}`);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  // -------------------------------------------------------------------------------------------
  // Incoming

  private dispatch(m: Msg): void {
    const type = String(m.type);
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    switch (type) {
      case 'snapshot':
        this.onSnapshot(m);
        return;
      case 'update':
        this.onUpdate(m);
        return;
      case 'heartbeat':
        this.onHeartbeat(m);
        return;
      case 'reset':
        this.resets++;
        this.log(`md: reset (${String(m.message ?? '')}): new snapshots`);
        for (const s of this.subs.values()) this.resubscribe(s);
        this.emit('reset', String(m.message ?? ''));
        return;
      case 'error': {
        // an error naming its pair (the documented one does not) ends that subscription
        if (typeof m.channel === 'string' && typeof m.symbol === 'string') {
          const s = this.subs.get(subKey(m.channel, m.symbol));
          if (s !== undefined && !s.synced) this.subs.delete(s.key);
        }
        this.fail(new MarketDataError(String(m.code ?? 'ERROR'), String(m.message ?? ''), m));
        return;
      }
      default:
        return; // subscribed, and anything newer
    }
  }

  private onSnapshot(m: Msg): void {
    const s = this.subs.get(subKey(String(m.channel), String(m.symbol)));
    if (s === undefined) return; // unsubscribed meanwhile
    const seq = num(m.seq);
    s.seq = seq;
    s.synced = true;
    s.confirmedAt = this.now();
    this.loadSnapshot(s, m, seq);
    this.emit('snapshot', s.symbol, s.channel, seq);
    // the buffered updates: those with seq <= the snapshot's are in it already
    const pending = s.pending;
    s.pending = [];
    for (const u of pending) this.onUpdate(u);
  }

  private onUpdate(m: Msg): void {
    const s = this.subs.get(subKey(String(m.channel), String(m.symbol)));
    if (s === undefined) return;
    if (!s.synced) {
      s.pending.push(m);
      if (s.pending.length > (this.opts.maxPending ?? 10_000)) s.pending.shift();
      return;
    }
    const seq = num(m.seq);
    if (seq <= s.seq) return; // already in the snapshot
    if (seq !== s.seq + 1) {
      this.gap(s, seq, 'update');
      return;
    }
    s.seq = seq;
    s.confirmedAt = this.now();
    this.applyUpdate(s, m, seq);
  }

  private onHeartbeat(m: Msg): void {
    const seqs = (typeof m.seqs === 'object' && m.seqs !== null ? m.seqs : {}) as Record<string, unknown>;
    const now = this.now();
    for (const s of this.subs.values()) {
      if (!s.synced) continue;
      const announced = seqs[s.key];
      if (announced !== undefined && num(announced) > s.seq) this.gap(s, num(announced), 'heartbeat');
      else s.confirmedAt = now;
    }
    this.emit('heartbeat', seqs as Record<string, number>, num(m.ts));
  }

  private symbolData(symbol: string): SymbolData {
    let d = this.data.get(symbol);
    if (d === undefined) {
      d = { l2: null, l3: null, l1: null, trades: [], lastTradeId: null, candles: new Map() };
      this.data.set(symbol, d);
    }
    return d;
  }

  private forget(s: Sub): void {
    const d = this.data.get(s.symbol);
    if (d === undefined) return;
    if (s.channel === 'l2') d.l2 = null;
    else if (s.channel === 'l3') d.l3 = null;
    else if (s.channel === 'l1') d.l1 = null;
    else if (s.channel === 'trades') {
      d.trades = [];
      d.lastTradeId = null;
    } else if (s.channel.startsWith('candles:')) d.candles.delete(s.channel.slice('candles:'.length));
  }

  private loadSnapshot(s: Sub, m: Msg, seq: number): void {
    const d = this.symbolData(s.symbol);
    const symbol = s.symbol;
    if (s.channel === 'l2') {
      d.l2 ??= new L2State();
      d.l2.load(seq, m.bids, m.asks);
      if (this.listenerCount('book') > 0) this.emit('book', symbol, d.l2.view(Infinity));
    } else if (s.channel === 'l3') {
      d.l3 ??= new L3State();
      d.l3.load(seq, m);
      this.emit('l3', symbol, []);
    } else if (s.channel === 'l1') {
      d.l1 = readL1(m, seq);
      this.emit('l1', symbol, d.l1);
    } else if (s.channel === 'trades') {
      const trades = asArray(m.trades).map(readTrade);
      d.trades = trades.slice(-(this.opts.maxTrades ?? 1000));
      // after a resnapshot, report the trades that happened while out of sync (not the history of a first one)
      const since = d.lastTradeId;
      for (const t of trades) d.lastTradeId = Math.max(d.lastTradeId ?? t.tradeId, t.tradeId);
      if (since !== null) for (const t of trades) if (t.tradeId > since) this.emit('trade', symbol, t);
    } else if (s.channel.startsWith('candles:')) {
      const res = s.channel.slice('candles:'.length);
      const candles = asArray(m.candles).map(readCandle);
      d.candles.set(res, candles.slice(-(this.opts.maxCandles ?? 1000)));
    }
  }

  private applyUpdate(s: Sub, m: Msg, seq: number): void {
    const d = this.symbolData(s.symbol);
    const symbol = s.symbol;
    if (s.channel === 'l2') {
      d.l2 ??= new L2State();
      d.l2.apply(seq, m.bids, m.asks);
      if (this.listenerCount('book') > 0) this.emit('book', symbol, d.l2.view(Infinity));
    } else if (s.channel === 'l3') {
      d.l3 ??= new L3State();
      const msgs = asArray(m.msgs) as L3Msg[];
      let unknown = false;
      for (const x of msgs) if (!d.l3.apply(x, this.log)) unknown = true;
      d.l3.seq = seq;
      if (unknown) {
        // an order the book does not know: the book is not the server's, take a fresh one
        this.resubscribe(s);
        this.fail(new MarketDataError('L3_OUT_OF_SYNC', `l3 ${symbol} update ${seq} names an order not in the book: resubscribing`, m));
        return;
      }
      this.emit('l3', symbol, msgs);
    } else if (s.channel === 'l1') {
      d.l1 = readL1(m, seq);
      this.emit('l1', symbol, d.l1);
    } else if (s.channel === 'trades') {
      const max = this.opts.maxTrades ?? 1000;
      for (const raw of asArray(m.trades)) {
        const t = readTrade(raw);
        d.trades.push(t);
        d.lastTradeId = Math.max(d.lastTradeId ?? 0, t.tradeId);
        this.emit('trade', symbol, t);
      }
      if (d.trades.length > max) d.trades.splice(0, d.trades.length - max);
    } else if (s.channel.startsWith('candles:')) {
      const res = s.channel.slice('candles:'.length);
      const list = d.candles.get(res) ?? [];
      d.candles.set(res, list);
      for (const raw of asArray(m.candles)) {
        const c = readCandle(raw);
        let i = list.length - 1;
        while (i >= 0 && list[i]!.t > c.t) i--;
        if (i >= 0 && list[i]!.t === c.t) list[i] = c;
        else list.splice(i + 1, 0, c);
        this.emit('candle', symbol, res, c);
      }
      const max = this.opts.maxCandles ?? 1000;
      if (list.length > max) list.splice(0, list.length - max);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Accessors

  /** The local L2 book, best first (null before its first snapshot); depth limits the levels per side. */
  l2(symbol: string, depth = Infinity): L2Book | null {
    return this.data.get(symbol)?.l2?.view(depth) ?? null;
  }

  /** The local L3 book in priority order (null before its first snapshot). */
  l3(symbol: string): L3Book | null {
    return this.data.get(symbol)?.l3?.view() ?? null;
  }

  /** The last L1 (null before its first snapshot). */
  l1(symbol: string): L1 | null {
    return this.data.get(symbol)?.l1 ?? null;
  }

  /** Recent trades, oldest first. */
  trades(symbol: string): Trade[] {
    return [...(this.data.get(symbol)?.trades ?? [])];
  }

  /** Candles of one resolution ('1m', ...), oldest first. */
  candles(symbol: string, resolution: string): Candle[] {
    return [...(this.data.get(symbol)?.candles.get(resolution) ?? [])];
  }

  /** The best bid from the L2 book, else the L3 book, else the L1; null when none has one. */
  bestBid(symbol: string): { px: string; qty: string } | null {
    return this.best(symbol, true);
  }

  bestAsk(symbol: string): { px: string; qty: string } | null {
    return this.best(symbol, false);
  }

  private best(symbol: string, bid: boolean): { px: string; qty: string } | null {
    const d = this.data.get(symbol);
    if (d === undefined) return null;
    if (d.l2 !== null) {
      const top = (bid ? d.l2.bids : d.l2.asks).list[0];
      return top === undefined ? null : { px: top.px, qty: top.qty };
    }
    if (d.l3 !== null) {
      const top = (bid ? d.l3.bids : d.l3.asks).list[0];
      if (top === undefined) return null;
      let qty: Dec = { n: 0n, s: 0 };
      for (const o of top.orders.values()) qty = addDec(qty, mustDec(o.qty));
      return { px: top.px, qty: formatDec(qty) };
    }
    if (d.l1 !== null) {
      const px = bid ? d.l1.bidPx : d.l1.askPx;
      const qty = bid ? d.l1.bidQty : d.l1.askQty;
      return px === null ? null : { px, qty: qty ?? '0' };
    }
    return null;
  }
}
