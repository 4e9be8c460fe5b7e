/**
 * The public market data of one gateway thread (docs/market-data.md): the WebSocket `/v1/md`
 * (uWS pub/sub topics: the worker's already-encoded frames are published as they come, one copy
 * per format), Server-Sent Events at `/v1/stream`, and the link to the market-data worker for
 * snapshots. A subscription's snapshot comes through the market-data ring among the updates, so
 * after sending it the subscriber joins the topic and gets exactly the updates with a higher seq.
 *
 * Nothing here can slow another subscriber or the exchange: a WebSocket subscriber with more than
 * 4 MiB unsent is closed (4008), an SSE stream likewise; a thread that falls a whole ring behind
 * closes its subscribers (4009: reconnect and subscribe again).
 *
 * The market-data worker is supervised (src/server/marketData.ts). When it fails, this thread
 * stops reading its ring, sends `reset` to every WebSocket subscriber and ends SSE streams;
 * subscriptions made meanwhile wait (bounded by the per-connection limits) and are asked of the
 * restarted worker, on its new ring and port, once it is ready. REST market data answers 503
 * meanwhile. If the host gives up on it, subscribers are closed with 4011.
 */
import type { MessagePort } from 'node:worker_threads';
import { Packr, Unpackr } from 'msgpackr';
import type { HttpResponse, TemplatedApp, WebSocket } from 'uWebSockets.js';
import { SYMBOL_RE } from '../engine/symbols.js';
import { CHANNELS } from '../marketdata/types.js';
import { MdKind, MdRingReader, type MdFrame } from '../mdworker/mdRing.js';
import { type Acquired, addressKey, type AddressConnections } from './addressConnections.js';
import type { MdReply, MdRequest } from '../mdworker/requests.js';

export const MD_LIMITS = {
  /** (channel, symbol) pairs one connection may hold */
  maxSubscriptions: 200,
  maxFrameBytes: 16 * 1024,
  /** unsent bytes past which a subscriber is dropped */
  maxBufferedBytes: 4 * 1024 * 1024,
  /** a REST snapshot not answered in this time is a 504 */
  requestTimeoutMs: 10_000,
  sseHeartbeatSeconds: 15,
  /**
   * snapshot requests (subscribed pairs) a connection may make per second, and at once: every one
   * is a frame on the ring all gateways share, so subscribe churn must not lap them
   */
  snapshotsPerSecond: 50,
  snapshotBurst: 400,
};

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

type Format = 'msgpack' | 'json';
interface MdConn {
  format: Format;
  /**
   * topics (`channel:symbol`): 0 subscribed, or the id of the snapshot request it waits for (a
   * snapshot asked before an unsubscribe + subscribe of the same topic is not this subscription's)
   */
  subs: Map<string, number>;
  closed: boolean;
  /** snapshot requests this connection may still make now (a token bucket, MD_LIMITS) */
  tokens: number;
  tokensAtMs: number;
  /** the remote address's key in the per-address count (released on close); null: not counted */
  addr: Uint8Array | null;
}

interface SseClient {
  res: HttpResponse;
  topics: Set<string>;
  closed: boolean;
  /** bytes written since the socket last had room */
  backlog: number;
  /** the remote address's key in the per-address count (released when the stream ends); null: not counted */
  addr: Uint8Array | null;
}

/** who waits for a subscription snapshot */
type Waiter = { ws: WebSocket<MdConn> } | { sse: SseClient };
/** a snapshot request waiting for its frame (kept whole: a restarted worker is asked again) */
type Waiting = Waiter & { topic: string; channel: string; symbol: string; format: Format };

/** close code of market-data connections when the worker failed for good (docs/market-data.md) */
export const MD_UNAVAILABLE_CLOSE = 4011;

const prefix = (f: Format) => (f === 'msgpack' ? 'b|' : 'j|');
const STOPPING: MdReply = { id: 0, status: 503, message: 'the exchange is stopping' };
const RESTARTING: MdReply = { id: 0, status: 503, message: 'market data is restarting: retry shortly' };
const UNAVAILABLE: MdReply = { id: 0, status: 503, message: 'market data is not available (its worker failed repeatedly)' };

export class MarketDataGateway {
  /** the current worker's ring (null while it is down) */
  private ring: MdRingReader | null;
  private port: MessagePort;
  private availability: 'up' | 'down' | 'gaveUp';
  private readonly conns = new Set<WebSocket<MdConn>>();
  private readonly sse = new Set<SseClient>();
  /** SSE clients by topic (uWS pub/sub is for WebSockets only) */
  private readonly sseByTopic = new Map<string, Set<SseClient>>();
  private readonly waiting = new Map<number, Waiting>();
  private readonly answers = new Map<number, (r: MdReply) => void>();
  /** the last update seq seen per topic (heartbeats) */
  private readonly lastSeq = new Map<string, number>();
  private ids = 0;
  private running = true;
  private readonly timer: NodeJS.Timeout;
  private ticks = 0;

  constructor(
    private readonly app: TemplatedApp,
    mdSab: SharedArrayBuffer,
    private readonly consumer: number,
    private readonly gateway: number,
    port: MessagePort,
    private readonly log: (line: string) => void,
    availability: 'up' | 'down' | 'gaveUp' = 'up',
    /** market-data connections per remote address over every gateway thread (null: not limited) */
    private readonly perAddress: AddressConnections | null = null,
  ) {
    this.availability = availability;
    this.ring = availability === 'up' ? new MdRingReader(mdSab, consumer) : null;
    this.port = port;
    this.listen(port);
    app.ws<MdConn>('/v1/md', {
      maxPayloadLength: MD_LIMITS.maxFrameBytes,
      idleTimeout: 0, // the server's heartbeats keep it busy; a dead peer shows as backpressure
      // a hard cap between heartbeats (uWS drops the connection); the heartbeat closes at the soft one with 4008
      maxBackpressure: 4 * MD_LIMITS.maxBufferedBytes,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => {
        if (!this.running) return this.refuse(res);
        if (this.availability === 'gaveUp') return this.refuse(res, UNAVAILABLE.message!);
        // refused at the upgrade, before any WebSocket exists (released in `close`, the one way every WebSocket ends)
        const addr = this.countAddress(res);
        if (typeof addr === 'string') return this.tooMany(res, addr, true);
        const format: Format = new URLSearchParams(req.getQuery() ?? '').get('format') === 'json' ? 'json' : 'msgpack';
        try {
          res.upgrade<MdConn>({ format, subs: new Map(), closed: false, tokens: MD_LIMITS.snapshotBurst, tokensAtMs: performance.now(), addr }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
        } catch (e) {
          this.releaseAddress(addr);
          throw e;
        }
      },
      open: (ws) => {
        this.conns.add(ws);
      },
      message: (ws, data, isBinary) => this.onMessage(ws, data, isBinary),
      close: (ws) => {
        const c = ws.getUserData();
        c.closed = true;
        this.releaseAddress(c.addr);
        c.addr = null;
        this.conns.delete(ws);
        for (const t of c.subs.keys()) this.unsub(t, c.format);
      },
    });
    app.get('/v1/stream', (res, req) => this.openStream(res, req.getQuery() ?? ''));
    this.timer = setInterval(() => this.heartbeat(), 1000);
    void this.pump();
  }

  private listen(port: MessagePort): void {
    port.on('message', (r: MdReply) => {
      if (port !== this.port) return;
      this.answers.get(r.id)?.(r);
      this.answers.delete(r.id);
    });
  }

  /** A REST snapshot from the worker (null: no answer in time). */
  ask(r: Omit<MdRequest, 'id'>): Promise<MdReply | null> {
    if (!this.running) return Promise.resolve(STOPPING); // the port is closed: no answer would come
    if (this.availability !== 'up') return Promise.resolve(this.availability === 'down' ? RESTARTING : UNAVAILABLE);
    const id = ++this.ids;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.answers.delete(id);
        resolve(null);
      }, MD_LIMITS.requestTimeoutMs);
      this.answers.set(id, (a) => {
        clearTimeout(t);
        resolve(a);
      });
      this.port.postMessage({ ...r, id } satisfies MdRequest);
    });
  }

  // ---------------------------------------------------------------- WebSocket subscribers

  private onMessage(ws: WebSocket<MdConn>, data: ArrayBuffer, isBinary: boolean): void {
    const c = ws.getUserData();
    let m: unknown;
    try {
      m = c.format === 'json' ? (isBinary ? undefined : JSON.parse(Buffer.from(data).toString('utf8'))) : isBinary ? unpackr.unpack(Buffer.from(data)) : undefined;
    } catch {
      m = undefined;
    }
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return this.error(ws, 'INVALID_REQUEST', c.format === 'json' ? 'send JSON text messages' : 'send MessagePack maps in binary frames');
    const { type, channels, symbols } = m as Record<string, unknown>;
    if (type !== 'subscribe' && type !== 'unsubscribe') return this.error(ws, 'INVALID_REQUEST', 'type must be subscribe or unsubscribe');
    const list = (v: unknown, max: number) => (Array.isArray(v) && v.length > 0 && v.length <= max && v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 40) ? (v as string[]) : null);
    const chs = list(channels, CHANNELS.length);
    const syms = list(symbols, MD_LIMITS.maxSubscriptions);
    if (chs === null || syms === null) return this.error(ws, 'INVALID_REQUEST', 'channels and symbols must be non-empty lists of names');
    const bad = chs.find((ch) => !(CHANNELS as readonly string[]).includes(ch));
    if (bad !== undefined) return this.error(ws, 'INVALID_REQUEST', `unknown channel ${bad}: one of ${CHANNELS.join(', ')}`);
    if (type === 'unsubscribe') {
      for (const ch of chs)
        for (const sym of syms) {
          const topic = `${ch}:${sym}`;
          if (c.subs.delete(topic)) {
            ws.unsubscribe(prefix(c.format) + topic);
            this.unsub(topic, c.format);
          }
        }
      return this.send(ws, { type: 'unsubscribed', channels: chs, symbols: syms });
    }
    if (c.subs.size + chs.length * syms.length > MD_LIMITS.maxSubscriptions) return this.error(ws, 'INVALID_REQUEST', `at most ${MD_LIMITS.maxSubscriptions} subscriptions a connection`);
    const asked = chs.length * syms.length;
    const now = performance.now();
    c.tokens = Math.min(MD_LIMITS.snapshotBurst, c.tokens + ((now - c.tokensAtMs) * MD_LIMITS.snapshotsPerSecond) / 1000);
    c.tokensAtMs = now;
    if (c.tokens < asked) return this.error(ws, 'RATE_LIMITED', `at most ${MD_LIMITS.snapshotsPerSecond} subscriptions a second (each is a snapshot): slow down`);
    c.tokens -= asked;
    this.send(ws, { type: 'subscribed', channels: chs, symbols: syms });
    for (const ch of chs)
      for (const sym of syms) {
        const topic = `${ch}:${sym}`;
        if (c.subs.has(topic)) continue;
        c.subs.set(topic, this.requestSnapshot(topic, ch, sym, c.format, { ws }));
      }
  }

  private requestSnapshot(topic: string, channel: string, symbol: string, format: Format, w: Waiter): number {
    const id = ++this.ids;
    this.waiting.set(id, { ...w, topic, channel, symbol, format });
    // while the worker is down the request waits here: the restarted worker is asked (workerUp)
    if (this.availability === 'up') this.port.postMessage({ id, what: 'subscribe', channel, symbol, format } satisfies MdRequest);
    return id;
  }

  /** tells the worker one subscriber less reads `topic` in `format` (it encodes only what is read) */
  private unsub(topic: string, format: Format): void {
    // a worker that is down counted nothing the next one knows of
    if (this.availability !== 'up') return;
    const at = topic.indexOf(':', topic.startsWith('candles:') ? 8 : 0);
    this.port.postMessage({ id: 0, what: 'unsubscribe', channel: topic.slice(0, at), symbol: topic.slice(at + 1), format } satisfies MdRequest);
  }

  private send(ws: WebSocket<MdConn>, m: Record<string, unknown>): void {
    const c = ws.getUserData();
    if (c.closed) return;
    if (c.format === 'json') ws.send(JSON.stringify(m), false);
    else ws.send(packr.pack(m), true);
  }

  private error(ws: WebSocket<MdConn>, code: string, message: string): void {
    this.send(ws, { type: 'error', code, message });
  }

  // ---------------------------------------------------------------- the ring

  private async pump(): Promise<void> {
    let ring: MdRingReader | null = null;
    // frames of a ring that is no longer the current one (its worker failed) are not handed on
    const onFrame = (f: MdFrame) => {
      if (ring === this.ring) this.onFrame(f);
    };
    const onLapped = () => {
      if (ring !== this.ring) return;
      this.log(`market data: this gateway fell a whole ring behind; ${this.conns.size + this.sse.size} subscriber(s) closed`);
      this.dropAll(4009, 'market data fell behind: reconnect and subscribe again');
    };
    while (this.running) {
      ring = this.ring;
      if (ring === null) {
        await new Promise((r) => setTimeout(r, 100)); // the worker is down: workerUp gives the next ring
        continue;
      }
      const n = ring.poll(onFrame, onLapped);
      if (n > 0) await new Promise((r) => setImmediate(r));
      else await ring.waitAsync(100);
    }
  }

  // ---------------------------------------------------------------- the worker's failures

  /**
   * The market-data worker ended: what it would have sent will never come, and the next one
   * starts its sequences again. Every WebSocket subscriber gets `reset` (subscriptions end; new
   * ones wait for the next worker), SSE streams end (the browser reconnects), REST answers 503.
   */
  workerDown(): void {
    if (this.availability !== 'up') return;
    this.availability = 'down';
    this.ring = null;
    this.lastSeq.clear();
    this.failAnswers(RESTARTING);
    const n = this.conns.size + this.sse.size;
    const reset = { type: 'reset', message: 'market data restarting: take new snapshots' };
    for (const ws of this.conns) {
      const c = ws.getUserData();
      for (const t of c.subs.keys()) ws.unsubscribe(prefix(c.format) + t);
      c.subs.clear();
      this.send(ws, reset);
    }
    for (const s of [...this.sse]) this.closeStream(s);
    // what waits now belongs to connections that were just reset (theirs are no longer in c.subs) or closed
    this.waiting.clear();
    if (n > 0) this.log(`market data: ${n} subscriber(s) of this gateway reset (the worker ended)`);
  }

  /** The restarted worker is ready: read its ring, ask it for the snapshots that wait. */
  workerUp(mdSab: SharedArrayBuffer, port: MessagePort): void {
    if (!this.running) {
      port.close();
      return;
    }
    const old = this.port;
    this.port = port;
    this.listen(port);
    old.close();
    this.ring = new MdRingReader(mdSab, this.consumer);
    this.availability = 'up';
    this.lastSeq.clear();
    for (const [id, w] of this.waiting) {
      const live = 'ws' in w ? !w.ws.getUserData().closed && w.ws.getUserData().subs.get(w.topic) === id : !w.sse.closed;
      if (live) this.port.postMessage({ id, what: 'subscribe', channel: w.channel, symbol: w.symbol, format: w.format } satisfies MdRequest);
      else this.waiting.delete(id);
    }
  }

  /** The host no longer restarts the worker: subscribers are closed (4011), market data answers 503. */
  workerGaveUp(): void {
    this.workerDown();
    this.availability = 'gaveUp';
    this.failAnswers(UNAVAILABLE);
    this.waiting.clear();
    this.dropAll(MD_UNAVAILABLE_CLOSE, 'market data unavailable');
  }

  private failAnswers(r: MdReply): void {
    const waiting = [...this.answers.values()];
    this.answers.clear();
    for (const a of waiting) a(r);
  }

  private onFrame(f: MdFrame): void {
    if (f.kind === MdKind.UPDATE) {
      this.lastSeq.set(f.topic, f.seq);
      // a format nobody reads came empty (the worker encodes only what is subscribed)
      if (f.msgpack.length > 0) this.app.publish(`b|${f.topic}`, f.msgpack, true);
      if (f.json.length > 0) this.app.publish(`j|${f.topic}`, f.json, false);
      const clients = this.sseByTopic.get(f.topic);
      // no body at all: an update too large for the ring (WebSocket subscribers see the gap in the
      // heartbeat); an SSE stream has no seqs to show it: it ends, and the browser reconnects for snapshots
      if (clients !== undefined) for (const s of clients) f.json.length > 0 || f.msgpack.length > 0 ? this.sseWrite(s, 'update', `${f.topic}:${f.seq}`, f.json) : this.closeStream(s);
      return;
    }
    if (f.kind === MdKind.RESET) {
      // the worker rebuilt its state (its seqs start again): every subscriber takes new snapshots
      this.lastSeq.clear();
      for (const ws of this.conns) {
        const c = ws.getUserData();
        for (const t of c.subs.keys()) {
          ws.unsubscribe(prefix(c.format) + t);
          this.unsub(t, c.format);
        }
        c.subs.clear();
        ws.send(c.format === 'json' ? f.json : f.msgpack, c.format !== 'json');
      }
      for (const s of [...this.sse]) this.closeStream(s);
      return;
    }
    if (f.kind !== MdKind.SNAPSHOT || f.gateway !== this.gateway) return;
    const w = this.waiting.get(f.requestId);
    if (w === undefined) return;
    this.waiting.delete(f.requestId);
    const ok = f.seq >= 0;
    // updates of a topic nobody read were not sent: a snapshot can be ahead of what this thread saw
    if (ok) this.lastSeq.set(f.topic, Math.max(this.lastSeq.get(f.topic) ?? -1, f.seq));
    if ('ws' in w) {
      const c = w.ws.getUserData();
      // gone, unsubscribed meanwhile, or subscribed again (its own snapshot comes later)
      if (c.closed || c.subs.get(w.topic) !== f.requestId) return;
      w.ws.send(c.format === 'json' ? f.json : f.msgpack, c.format !== 'json');
      if (ok) {
        c.subs.set(w.topic, 0);
        w.ws.subscribe(prefix(c.format) + w.topic);
      } else c.subs.delete(w.topic);
      return;
    }
    const s = w.sse;
    if (s.closed) {
      if (ok) this.unsub(w.topic, 'json');
      return;
    }
    this.sseWrite(s, ok ? 'snapshot' : 'error', `${f.topic}:${f.seq}`, f.json);
    if (!ok) return;
    let set = this.sseByTopic.get(f.topic);
    if (set === undefined) this.sseByTopic.set(f.topic, (set = new Set()));
    set.add(s);
    s.topics.add(f.topic);
  }

  /** Once a second: each subscriber's last seqs (a client with a lower one missed an update). */
  private heartbeat(): void {
    const ts = Date.now();
    for (const ws of [...this.conns]) {
      const c = ws.getUserData();
      if (ws.getBufferedAmount() > MD_LIMITS.maxBufferedBytes) {
        ws.end(4008, 'slow consumer: reconnect and subscribe again');
        continue;
      }
      if (c.subs.size === 0) continue;
      const seqs: Record<string, number> = {};
      for (const t of c.subs.keys()) {
        const s = this.lastSeq.get(t);
        if (s !== undefined) seqs[t] = s;
      }
      this.send(ws, { type: 'heartbeat', ts, seqs });
    }
    if (++this.ticks % MD_LIMITS.sseHeartbeatSeconds === 0)
      for (const s of this.sse) if (!s.closed) s.res.cork(() => s.res.write(': heartbeat\n\n'));
  }

  private dropAll(code: number, reason: string): void {
    for (const ws of [...this.conns]) ws.end(code, reason);
    for (const s of [...this.sse]) this.closeStream(s);
  }

  // ---------------------------------------------------------------- Server-Sent Events

  private openStream(res: HttpResponse, query: string): void {
    if (!this.running) return this.refuse(res);
    if (this.availability === 'gaveUp') return this.refuse(res, UNAVAILABLE.message!);
    const q = new URLSearchParams(query);
    const split = (v: string | null, dflt: string[]) => (v === null || v === '' ? dflt : v.split(','));
    // a repeated name is one subscription; the pairs are bounded as on a WebSocket (each is a
    // snapshot on the shared ring); a symbol is a symbol's name (it is written into the `id:` lines)
    const symbols = [...new Set(split(q.get('symbols'), []))];
    const channels = [...new Set(split(q.get('channels'), ['l1', 'trades']))];
    const bad =
      symbols.length === 0 || symbols.some((s) => !SYMBOL_RE.test(s))
        ? 'symbols: a comma-separated list of symbols'
        : channels.find((c) => !(CHANNELS as readonly string[]).includes(c)) !== undefined
          ? `channels: a comma-separated list of ${CHANNELS.join(', ')}`
          : symbols.length * channels.length > MD_LIMITS.maxSubscriptions
            ? `at most ${MD_LIMITS.maxSubscriptions} (symbol, channel) pairs a stream`
            : null;
    if (bad !== null) {
      res.cork(() => res.writeStatus('400 Bad Request').writeHeader('content-type', 'application/json').end(JSON.stringify({ error: { code: 'INVALID_REQUEST', message: bad } })));
      return;
    }
    const addr = this.countAddress(res);
    if (typeof addr === 'string') return this.tooMany(res, addr, false);
    // released in forget(), which every end of a stream goes through (aborted by the client, closed here)
    const s: SseClient = { res, topics: new Set(), closed: false, backlog: 0, addr };
    res.onAborted(() => this.forget(s));
    this.sse.add(s);
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', 'text/event-stream');
      res.writeHeader('cache-control', 'no-cache');
      res.write(': seqex market data\n\n');
    });
    for (const ch of channels) for (const sym of symbols) this.requestSnapshot(`${ch}:${sym}`, ch, sym, 'json', { sse: s });
  }

  private sseWrite(s: SseClient, event: string, id: string, json: Buffer): void {
    if (s.closed) return;
    const text = `id: ${id}\nevent: ${event}\ndata: ${json.toString('utf8')}\n\n`;
    let ok = true;
    s.res.cork(() => {
      ok = s.res.write(text);
    });
    if (ok) return;
    s.backlog += text.length;
    if (s.backlog > MD_LIMITS.maxBufferedBytes) return this.closeStream(s);
    if (s.backlog === text.length)
      s.res.onWritable(() => {
        s.backlog = 0;
        return true;
      });
  }

  private closeStream(s: SseClient): void {
    if (s.closed) return;
    this.forget(s);
    // the connection too: kept alive, it would hold a stopping gateway for uWS's idle timeout
    s.res.cork(() => s.res.end(undefined, true));
  }

  /**
   * One more market-data connection of the request's remote address (config
   * `mdConnectionsPerAddress`, over every gateway thread): its key, null when nothing is counted,
   * or why it is refused.
   */
  private countAddress(res: HttpResponse): Uint8Array | null | Exclude<Acquired, 'ok'> {
    if (this.perAddress === null) return null;
    const key = addressKey(res.getRemoteAddress());
    if (key === null) return null;
    const r = this.perAddress.acquire(key);
    return r === 'ok' ? key : r;
  }

  private releaseAddress(key: Uint8Array | null): void {
    if (key !== null && this.perAddress !== null && !this.perAddress.release(key)) this.log('market data: a connection count released twice (ignored)');
  }

  /** 429 for an address at its limit, 503 when the table of addresses is full */
  private tooMany(res: HttpResponse, why: Exclude<Acquired, 'ok'>, closeConnection: boolean): void {
    const limit = this.perAddress?.limit ?? 0;
    const [status, code, message] =
      why === 'limit'
        ? ['429 Too Many Requests', 'RATE_LIMITED', `at most ${limit} market-data connections (WebSocket /v1/md and SSE /v1/stream together) per address: close one first`]
        : ['503 Service Unavailable', 'OVERLOADED', 'too many market-data clients: retry later'];
    res.cork(() => res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('retry-after', '1').end(JSON.stringify({ error: { code, message } }), closeConnection));
  }

  /** a stream or an upgrade that came (on a kept-alive connection) after the stop began: nothing would ever close it */
  private refuse(res: HttpResponse, message = STOPPING.message!): void {
    res.cork(() => res.writeStatus('503 Service Unavailable').writeHeader('content-type', 'application/json').end(JSON.stringify({ error: { code: 'OVERLOADED', message } }), true));
  }

  private forget(s: SseClient): void {
    if (s.closed) return;
    s.closed = true;
    this.releaseAddress(s.addr);
    s.addr = null;
    this.sse.delete(s);
    for (const t of s.topics) {
      this.sseByTopic.get(t)?.delete(s);
      this.unsub(t, 'json');
    }
  }

  /** Closes every subscriber and stops reading (the gateway stops). */
  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    this.dropAll(1001, 'the exchange is stopping');
    for (const a of this.answers.values()) a(STOPPING);
    this.answers.clear();
    this.port.close();
  }
}
