/**
 * The market-data worker thread (docs/market-data.md, docs/architecture.md): follows the event
 * ring (its own consumer slot: it never slows the sequencer), keeps the market state
 * (src/marketdata), encodes every update once (MessagePack and JSON) onto the market-data ring the
 * gateway threads fan out from, and answers the gateways' snapshot requests, through the ring for
 * a subscription (so it sits in order among the updates) or by message for a REST call.
 *
 * Start: the state as of the sequencer's recovered seq, rebuilt from the data directory
 * (seed.ts); the event ring starts right after it. Falling a whole ring behind, or an event that
 * does not fit the book (a bug), rebuilds the state the same way at the next frame and tells every
 * subscriber to take new snapshots (a reset frame).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Code, TRADING_STATE_NAMES } from '../domain/codes.js';
import type { SymbolConfig } from '../engine/commands.js';
import { MarketState } from '../marketdata/marketState.js';
import { CHANNELS, RESOLUTIONS, type Channel, type MdUpdate, type Resolution } from '../marketdata/types.js';
import { EVENT_CONSUMER } from '../gateway/eventFeed.js';
import { EventFrames, type RecordFrame } from '../sequencer/eventFrames.js';
import { Ev, EVENT_FIELDS, EVENT_LENGTH } from '../engine/events.js';
import { SequencerControl } from '../sequencer/control.js';
import { MdKind, MdRingWriter } from './mdRing.js';
import { seedMarketState } from './seed.js';
import { encode, Grid, type Message } from './wire.js';
import type { MdReply, MdRequest } from './requests.js';

export interface MdWorkerData {
  dataDir: string;
  eventsSab: SharedArrayBuffer;
  mdSab: SharedArrayBuffer;
  /**
   * the sequencer's recovered seq: the event ring starts after it (a first start); null: a
   * restart (src/server/supervisor.ts) while the exchange runs: the worker reads the event ring
   * from its current position and seeds its state as of the durable seq it reads after that
   */
  fromSeq: number | null;
  /** the sequencer's counters (a restart's durable seq) */
  controlSab: SharedArrayBuffer;
  /** one port per gateway thread, in gateway order */
  ports: MessagePort[];
}

export type FromMdWorker = { type: 'ready'; seq: number; ms: number; snapshotSeq: number; replayed: number } | { type: 'log'; line: string } | { type: 'failed'; message: string };

const data = workerData as MdWorkerData;
const parent = parentPort!;
const log = (line: string) => parent.postMessage({ type: 'log', line } satisfies FromMdWorker);

const ring = new MdRingWriter(data.mdSab);
const grid = new Grid();
// a first start reads the ring from its first frame (it begins after the recovered seq); a restart
// from where the ring is now: every frame before it is durable, so it is in the seed (below)
const frames = new EventFrames(data.eventsSab, EVENT_CONSUMER.MARKET_DATA, data.fromSeq !== null);
/** where the state starts: read after the ring position above (a frame published later is after it) */
const fromSeq = data.fromSeq ?? new SequencerControl(data.controlSab).durableSeq;
let state: MarketState;
let written = 0;
let running = true;
/** the frames before the next one were lost (a lap): rebuild the state at it */
let rebuild = false;
/** the state holds every command up to this seq (rebuilt from the journal): frames of those, or their remaining parts, are skipped */
let seededSeq = 0;

/**
 * subscribers per topic over all gateways, [MessagePack, JSON]: an update nobody reads is not
 * encoded (encoding every channel of every symbol twice was most of this thread's time)
 */
const interest = new Map<string, [number, number]>();

function count(topic: string, format: MdRequest['format'], delta: number): void {
  const i = interest.get(topic) ?? [0, 0];
  i[format === 'json' ? 1 : 0] += delta;
  if (i[0] <= 0 && i[1] <= 0) interest.delete(topic);
  else interest.set(topic, i);
}

const sink = (u: MdUpdate) => {
  const topic = `${u.channel}:${u.symbol}`;
  const i = interest.get(topic);
  if (i === undefined) return;
  // too large for the ring: the seq still goes out, with no body, so the gateways' heartbeats show
  // the gap and subscribers take a new snapshot (docs/market-data.md), never silently behind
  if (!ring.write(MdKind.UPDATE, topic, u.seq, encode(grid.update(u), i[0] > 0, i[1] > 0))) ring.write(MdKind.UPDATE, topic, u.seq, encode({}, false, false));
  written++;
};

function seed(toSeq: number): { snapshotSeq: number; replayed: number } {
  const s = seedMarketState(data.dataDir, toSeq, {}, { sink }, log);
  state = s.state;
  seededSeq = toSeq;
  s.configs.forEach((c, idx) => grid.set(idx, c));
  return s;
}

const SYMBOL_IDX = 3 + EVENT_FIELDS[Ev.SYMBOL]!.indexOf('symbolIdx');
const SYMBOL_CONFIG = 3 + EVENT_FIELDS[Ev.SYMBOL]!.indexOf('configStr');

/** the tick and lot sizes of symbols added or changed in these records (admin commands: rare) */
function learnSymbols(buf: Float64Array, len: number, strings: readonly string[]): void {
  for (let i = 0; i < len; ) {
    const type = buf[i]!;
    if (type === Ev.SYMBOL && buf[i + SYMBOL_CONFIG]! >= 0) grid.set(buf[i + SYMBOL_IDX]!, JSON.parse(strings[buf[i + SYMBOL_CONFIG]!]!) as SymbolConfig);
    const n = EVENT_LENGTH[type];
    if (n === undefined) return; // the state says what is wrong with it
    i += n;
  }
}

/** a frame's records are read in place (no object per event: this thread follows every command) */
function onFrame(f: RecordFrame): void {
  if (rebuild) {
    rebuild = false;
    // the frame after a lap may be a later part of a command: the rebuild takes the whole of it from the journal
    reseed(f.seq, 'fell a whole event ring behind');
  }
  if (f.seq <= seededSeq) return;
  const { buf, len, strings } = f.log;
  try {
    learnSymbols(buf, len, strings);
    state.applyRecords(buf, 0, len, strings, f.more);
  } catch (e) {
    // an event that does not fit the book: never serve a wrong book, rebuild it from the journal
    reseed(f.seq, `state error: ${(e as Error).message}`);
  }
}

function reseed(toSeq: number, why: string): void {
  log(`market data: ${why}; rebuilding the state at seq ${toSeq}`);
  seed(toSeq);
  ring.write(MdKind.RESET, '', 0, encode({ type: 'reset', message: 'market data rebuilt: take new snapshots' }));
  written++;
}

// ---------------------------------------------------------------- requests from the gateways

const isChannel = (c: unknown): c is Channel => typeof c === 'string' && (CHANNELS as readonly string[]).includes(c);

function snapshotOf(channel: Channel, symbol: string, r: MdRequest) {
  if (channel === 'l1') return state.l1(symbol);
  if (channel === 'l2') return state.l2(symbol, r.depth);
  if (channel === 'l3') return state.l3(symbol);
  if (channel === 'trades') return state.trades(symbol, r.limit);
  return state.candles(symbol, channel.slice(8) as Resolution, r.fromMs, r.toMs, r.limit);
}

function onRequest(gateway: number, port: MessagePort, r: MdRequest): void {
  if (r.what === 'unsubscribe') return count(`${r.channel}:${r.symbol}`, r.format, -1);
  // read your writes: whatever a client was answered before asking is in the event ring already
  // (the sequencer publishes it before the gateways' answers), so read the ring to its end first
  drain();
  if (r.what === 'subscribe') {
    const snap = isChannel(r.channel) ? snapshotOf(r.channel, r.symbol, r) : null;
    const topic = `${r.channel}:${r.symbol}`;
    const m: Message = snap === null ? { type: 'error', code: 'UNKNOWN_SYMBOL', channel: r.channel, symbol: r.symbol, message: `no market data for ${r.channel} ${r.symbol}` } : grid.snapshot(r.channel as Channel, snap);
    if (snap !== null) count(topic, r.format, +1);
    if (!ring.write(MdKind.SNAPSHOT, topic, snap === null ? -1 : snap.seq, encode(m), gateway, r.id))
      ring.write(MdKind.SNAPSHOT, topic, -1, encode({ type: 'error', code: 'SNAPSHOT_TOO_LARGE', channel: r.channel, symbol: r.symbol, message: `the ${r.channel} snapshot of ${r.symbol} is too large for the market-data ring` }), gateway, r.id);
    written++;
    return;
  }
  port.postMessage(rest(r) satisfies MdReply);
}

/** the REST bodies (docs/market-data.md, REST snapshots) */
function rest(r: MdRequest): MdReply {
  const notFound = { id: r.id, status: 400, code: Code.UNKNOWN_SYMBOL, message: `unknown symbol ${r.symbol.slice(0, 40)}` };
  const idx = state.symbols().find((s) => s.name === r.symbol)?.idx;
  if (idx === undefined || !grid.has(idx)) return notFound;
  // `seq` as everywhere in REST: the journal seq the answer reflects; `channelSeq` joins a WebSocket stream
  const head = (s: { symbol: string; seq: number; journalSeq: number }) => ({ symbol: s.symbol, seq: Math.max(s.journalSeq, frames.lastSeq), channelSeq: s.seq });
  switch (r.what) {
    case 'ticker': {
      const s = state.l1(idx)!;
      const sym = state.symbols().find((x) => x.idx === idx)!;
      return { id: r.id, status: 200, body: { ...head(s), ...grid.l1(idx, s.l1), state: TRADING_STATE_NAMES[sym.state] ?? null, ts: s.l1.tsUs > 0 ? new Date(s.l1.tsUs / 1000).toISOString() : null } };
    }
    case 'l2': {
      const s = state.l2(idx, r.depth)!;
      return { id: r.id, status: 200, body: { ...head(s), bids: grid.levels(idx, s.bids), asks: grid.levels(idx, s.asks) } };
    }
    case 'l3': {
      const s = state.l3(idx)!;
      const m = grid.snapshot('l3', s) as { state: string; bids: Message[]; asks: Message[] };
      const side = (sd: string) => (e: Message) => ({ orderId: e.orderId, side: sd, px: e.px, qty: e.qty });
      return { id: r.id, status: 200, body: { ...head(s), state: m.state, bids: m.bids.map(side('buy')), asks: m.asks.map(side('sell')) } };
    }
    case 'trades': {
      const s = state.trades(idx, r.limit)!;
      return { id: r.id, status: 200, body: { ...head(s), trades: grid.trades(idx, s.trades) } };
    }
    case 'candles': {
      const res = r.channel.slice(8) as Resolution;
      if (!(RESOLUTIONS as readonly string[]).includes(res)) return { id: r.id, status: 400, code: Code.INVALID_REQUEST, message: `resolution must be one of ${RESOLUTIONS.join(', ')}` };
      const s = state.candles(idx, res, r.fromMs, r.toMs, r.limit)!;
      return { id: r.id, status: 200, body: grid.candles(idx, s.candles) };
    }
  }
  return { id: r.id, status: 400, code: Code.INVALID_REQUEST, message: 'unknown market-data request' };
}

// ---------------------------------------------------------------- the loop

const onLapped = () => (rebuild = true);

function drain(): void {
  while (frames.pollRecords(onFrame, onLapped, 512) > 0);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const s = seed(fromSeq);
  parent.postMessage({ type: 'ready', seq: fromSeq, ms: Math.round(performance.now() - t0), snapshotSeq: s.snapshotSeq, replayed: s.replayed } satisfies FromMdWorker);
  data.ports.forEach((port, gateway) =>
    port.on('message', (r: MdRequest) => {
      try {
        onRequest(gateway, port, r);
      } catch (e) {
        const message = `market data: ${(e as Error).message}`;
        log(`${message} (answering ${r.what} ${r.channel} ${r.symbol})`);
        // a subscription waits for its answer on the ring, a REST request on the port
        if (r.what === 'subscribe') {
          ring.write(MdKind.SNAPSHOT, `${r.channel}:${r.symbol}`, -1, encode({ type: 'error', code: 'INTERNAL', channel: r.channel, symbol: r.symbol, message }), gateway, r.id);
          written++;
        } else if (r.what !== 'unsubscribe') port.postMessage({ id: r.id, status: 500, code: Code.INVALID_REQUEST, message } satisfies MdReply);
      }
      if (written > 0) {
        ring.publish();
        written = 0;
      }
    }),
  );
  while (running) {
    const n = frames.pollRecords(onFrame, onLapped, 512);
    if (written > 0) {
      ring.publish();
      written = 0;
    }
    // between batches the event loop runs: the gateways' requests are answered in order with the frames
    if (n > 0) await new Promise((r) => setImmediate(r));
    else await frames.waitAsync(100);
  }
  for (const p of data.ports) p.close();
  parent.close();
}

parent.on('message', (m: { type: 'stop' | 'testCrash' }) => {
  if (m.type === 'stop') running = false;
  // tests only (RunningExchange.testHooks): an uncaught error in this thread, as a bug would throw
  else if (m.type === 'testCrash') throw new Error('market data: crash requested by a test');
});

main().catch((e: unknown) => {
  parent.postMessage({ type: 'failed', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromMdWorker);
  // and end with an error: the host restarts the worker (src/server/supervisor.ts)
  process.exit(1);
});
