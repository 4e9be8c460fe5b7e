/**
 * The market-data state machine: every symbol's book (L1 / L2 / L3), recent trades and candles,
 * built from the engine's event stream alone, and the per-(symbol, channel) updates that follow
 * from each command. Pure and deterministic (DESIGN rule 2): no clock, no I/O, no randomness; the
 * same events give the same state and the same updates, so a replayed journal gives the same
 * market data. The worker thread around it owns the ring, the sockets and the decimal formatting.
 *
 * Input: the events of sequenced commands, in journal order, decoded (`apply`) or as raw event
 * records (`applyRecords`, no object per event). Events with a new `seq` start a new command, so
 * a batch may hold several commands; a call ends the last command unless told `more` (a command
 * whose events span several ring frames). `reject` events are skipped: they come from commands
 * the engine refused before stamping (their seq / time may be anything). Everything else carries
 * a valid seq and tsUs.
 *
 * Output (coalescing): at the end of each command, for each symbol it touched, at most one update
 * per channel, in CHANNELS order (l1, l2, l3, trades, candles:1m ... candles:1d), symbols in the
 * order the command first touched them:
 * - l1: the whole L1 when any field differs from the last one published (tsUs = that command);
 * - l2: every level the command touched whose qty or count ended different from before the
 *   command, with its absolute qty and count (0 = gone), best first per side: an IOC sweeping five
 *   levels is one update with five levels; an order moved to the back of its level with the same
 *   qty changes no level and sends nothing;
 * - l3: the command's book messages in event order (add, execute, cancel, delete, replace, trade,
 *   tradingState);
 * - trades: the command's trades, in order;
 * - candles:<res>: a candle that closed, then the open one if it changed (candles.ts).
 * Each update's `seq` is its (symbol, channel) counter + 1: gap-free from 1. Nothing is sent for a
 * channel the command did not change, so counters only move with content.
 *
 * Time: the market-data clock is the newest event time seen (engine time, µs). When it reaches the
 * end of an open candle, of any symbol, that candle closes (candles.ts); the day statistics of L1
 * are the open 1d candle, so they become null when the UTC day rolls over, until its first trade.
 * `advanceTime` lets the owner close candles from a journal time that came with no event; a wall
 * clock would break replay.
 *
 * Errors: an event inconsistent with the book (or for an unknown symbol) throws
 * MarketDataDesyncError and leaves this state half-applied: the owner must rebuild it (seed.ts).
 */
import { Ev, EVENT_FIELDS, EVENT_LENGTH, type DecodedEvent } from '../engine/events.js';
import { BUY, MarketDataDesyncError, MdBook, SELL } from './book.js';
import { CandleSeries } from './candles.js';
import { CANDLE_HISTORY, History, TRADE_HISTORY } from './history.js';
import {
  CHANNELS,
  RESOLUTIONS,
  type CandleChannel,
  type CandlesSnapshot,
  type Channel,
  type L1,
  type L1Snapshot,
  type L2Snapshot,
  type L3Entry,
  type L3Msg,
  type L3Snapshot,
  type MdSink,
  type Resolution,
  type Trade,
  type TradesSnapshot,
} from './types.js';

export interface MarketStateOptions {
  /** receives every update, synchronously, in order */
  sink?: MdSink;
  /** trades kept per symbol (default 1000) */
  tradeHistory?: number;
  /** candles kept per symbol and resolution (default 1000) */
  candleHistory?: number;
}

/** A symbol and its book as a seed (seed.ts builds one from an Engine). Orders in priority order. */
export interface SymbolSeed {
  idx: number;
  name: string;
  state: number;
  tradingDay: number;
  /** the engine's last trade price (0 = none): becomes L1 lastPx (lastQty stays null) */
  lastPxTicks: number;
  bids: L3Entry[];
  asks: L3Entry[];
}

export interface MarketSeed {
  /** the last command the seed reflects */
  journalSeq: number;
  /** engine time of that command, µs */
  clockUs: number;
  symbols: SymbolSeed[];
}

const CH_L1 = CHANNELS.indexOf('l1');
const CH_L2 = CHANNELS.indexOf('l2');
const CH_L3 = CHANNELS.indexOf('l3');
const CH_TRADES = CHANNELS.indexOf('trades');
const CH_CANDLES = CHANNELS.indexOf('candles:1m');
const DAY_CANDLE = RESOLUTIONS.indexOf('1d');
const CANDLE_CHANNELS: readonly CandleChannel[] = RESOLUTIONS.map((r) => `candles:${r}` as const);

const EMPTY_L1: L1 = { bidPx: null, bidQty: null, askPx: null, askQty: null, lastPx: null, lastQty: null, open: null, high: null, low: null, volume: null, tsUs: 0 };

class SymbolMd {
  readonly book: MdBook;
  readonly trades: History<Trade>;
  readonly candles: CandleSeries[];
  /** last seq handed out per channel (CHANNELS order) */
  readonly seqs: number[] = CHANNELS.map(() => 0);
  state = 0;
  tradingDay = -1;
  lastPx: number | null = null;
  lastQty: number | null = null;
  /** the L1 last published */
  l1: L1 = EMPTY_L1;
  // ---- what the command being applied changed
  inCommand = false;
  l3Msgs: L3Msg[] = [];
  newTrades: Trade[] = [];

  constructor(
    readonly idx: number,
    readonly name: string,
    tradeHistory: number,
    candleHistory: number,
  ) {
    this.book = new MdBook(name);
    this.trades = new History<Trade>(tradeHistory);
    this.candles = RESOLUTIONS.map((r) => new CandleSeries(r, candleHistory));
  }

  computeL1(tsUs: number): L1 {
    const bid = this.book.bestBid();
    const ask = this.book.bestAsk();
    const day = this.candles[DAY_CANDLE]!.current();
    return {
      bidPx: bid === undefined ? null : bid.priceTicks,
      bidQty: bid === undefined ? null : bid.qtyLots,
      askPx: ask === undefined ? null : ask.priceTicks,
      askQty: ask === undefined ? null : ask.qtyLots,
      lastPx: this.lastPx,
      lastQty: this.lastQty,
      open: day === null ? null : day.o,
      high: day === null ? null : day.h,
      low: day === null ? null : day.l,
      volume: day === null ? null : day.v,
      tsUs,
    };
  }
}

function sameL1(a: L1, b: L1): boolean {
  return (
    a.bidPx === b.bidPx &&
    a.bidQty === b.bidQty &&
    a.askPx === b.askPx &&
    a.askQty === b.askQty &&
    a.lastPx === b.lastPx &&
    a.lastQty === b.lastQty &&
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.volume === b.volume
  );
}

// field offsets inside a raw record (after [type, seq, tsUs]), from the layout contract
const H = 3;
const at = (t: Ev, f: string): number => {
  const i = EVENT_FIELDS[t]!.indexOf(f);
  if (i < 0) throw new Error(`event layout: ${f} missing`);
  return H + i;
};
const F = {
  symIdx: at(Ev.SYMBOL, 'symbolIdx'),
  symKind: at(Ev.SYMBOL, 'kind'),
  symConfig: at(Ev.SYMBOL, 'configStr'),
  tsSym: at(Ev.TRADING_STATE, 'symbolIdx'),
  tsState: at(Ev.TRADING_STATE, 'state'),
  tsDay: at(Ev.TRADING_STATE, 'tradingDay'),
  trId: at(Ev.TRADE, 'tradeId'),
  trSym: at(Ev.TRADE, 'symbolIdx'),
  trPx: at(Ev.TRADE, 'priceTicks'),
  trQty: at(Ev.TRADE, 'qtyLots'),
  trTaker: at(Ev.TRADE, 'takerSide'),
  trMaker: at(Ev.TRADE, 'makerOrderId'),
  trTakerOrder: at(Ev.TRADE, 'takerOrderId'),
  // book events share [symbolIdx, orderId, side] first
  bSym: at(Ev.BOOK_ADD, 'symbolIdx'),
  bOrder: at(Ev.BOOK_ADD, 'orderId'),
  bSide: at(Ev.BOOK_ADD, 'side'),
  addPx: at(Ev.BOOK_ADD, 'priceTicks'),
  addQty: at(Ev.BOOK_ADD, 'qtyLots'),
  exPx: at(Ev.BOOK_EXECUTE, 'priceTicks'),
  exQty: at(Ev.BOOK_EXECUTE, 'execQtyLots'),
  exRem: at(Ev.BOOK_EXECUTE, 'remainingLots'),
  exTrade: at(Ev.BOOK_EXECUTE, 'tradeId'),
  cxPx: at(Ev.BOOK_CANCEL, 'priceTicks'),
  cxQty: at(Ev.BOOK_CANCEL, 'canceledLots'),
  cxRem: at(Ev.BOOK_CANCEL, 'remainingLots'),
  delPx: at(Ev.BOOK_DELETE, 'priceTicks'),
  delQty: at(Ev.BOOK_DELETE, 'removedLots'),
  rpOldPx: at(Ev.BOOK_REPLACE, 'oldPriceTicks'),
  rpOldQty: at(Ev.BOOK_REPLACE, 'oldQtyLots'),
  rpNewPx: at(Ev.BOOK_REPLACE, 'newPriceTicks'),
  rpNewQty: at(Ev.BOOK_REPLACE, 'newQtyLots'),
};
for (const t of [Ev.BOOK_EXECUTE, Ev.BOOK_CANCEL, Ev.BOOK_DELETE, Ev.BOOK_REPLACE])
  if (at(t, 'symbolIdx') !== F.bSym || at(t, 'orderId') !== F.bOrder || at(t, 'side') !== F.bSide) throw new Error('event layout: book events must start with symbolIdx, orderId, side');

export class MarketState {
  private sink: MdSink;
  private readonly tradeHistory: number;
  private readonly candleHistory: number;
  private readonly byIdx: (SymbolMd | undefined)[] = [];
  private readonly byName = new Map<string, SymbolMd>();
  /** the last command applied */
  journalSeq = 0;
  /** the newest engine time seen, µs */
  clockUs = 0;
  /** the earliest end of any open candle, µs */
  private nextCloseUs = Infinity;
  // ---- the command being applied
  private cmdSeq = -1;
  private cmdTsUs = 0;
  private touched: SymbolMd[] = [];

  constructor(opts: MarketStateOptions = {}) {
    this.sink = opts.sink ?? (() => {});
    this.tradeHistory = opts.tradeHistory ?? TRADE_HISTORY;
    this.candleHistory = opts.candleHistory ?? CANDLE_HISTORY;
  }

  /** A state holding `seed` (books, symbols, states, last prices); trades and candles start empty, every channel at seq 0. */
  static seeded(seed: MarketSeed, opts: MarketStateOptions = {}): MarketState {
    const ms = new MarketState(opts);
    ms.journalSeq = seed.journalSeq;
    ms.clockUs = seed.clockUs;
    for (const s of seed.symbols) {
      const sym = ms.register(s.idx, s.name);
      sym.state = s.state;
      sym.tradingDay = s.tradingDay;
      if (s.lastPxTicks > 0) sym.lastPx = s.lastPxTicks;
      for (const o of s.bids) sym.book.add(o.orderId, BUY, o.priceTicks, o.qtyLots);
      for (const o of s.asks) sym.book.add(o.orderId, SELL, o.priceTicks, o.qtyLots);
      sym.book.bids.touched.clear();
      sym.book.asks.touched.clear();
      sym.l1 = sym.computeL1(seed.clockUs);
    }
    return ms;
  }

  /** where updates go from now on (a worker seeds quietly, then starts publishing) */
  setSink(sink: MdSink | undefined): void {
    this.sink = sink ?? (() => {});
  }

  // ------------------------------------------------------------------ symbols

  /** Registers a symbol (the SYMBOL event does it; seeding too). Idempotent for the same name. */
  addSymbol(idx: number, name: string): void {
    this.register(idx, name);
  }

  private register(idx: number, name: string): SymbolMd {
    const known = this.byIdx[idx];
    if (known !== undefined) {
      if (known.name !== name) throw new MarketDataDesyncError(`symbol ${idx} is ${known.name}, not ${name}`);
      return known;
    }
    if (!Number.isInteger(idx) || idx < 0 || this.byName.has(name)) throw new MarketDataDesyncError(`symbol ${name} cannot be symbol ${idx}`);
    const sym = new SymbolMd(idx, name, this.tradeHistory, this.candleHistory);
    this.byIdx[idx] = sym;
    this.byName.set(name, sym);
    return sym;
  }

  /** The known symbols, by idx. */
  symbols(): { idx: number; name: string; state: number; tradingDay: number }[] {
    const out: { idx: number; name: string; state: number; tradingDay: number }[] = [];
    for (const s of this.byIdx) if (s !== undefined) out.push({ idx: s.idx, name: s.name, state: s.state, tradingDay: s.tradingDay });
    return out;
  }

  symbolName(idx: number): string | null {
    return this.byIdx[idx]?.name ?? null;
  }

  // ------------------------------------------------------------------ input

  /**
   * Applies decoded events (one command's, or several commands' in journal order). `more`: the
   * last command continues in the next call (an event-ring frame with `more` set), so its updates
   * wait for the rest of it.
   */
  apply(events: readonly DecodedEvent[], more = false): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.event === 'reject') continue;
      this.enter(e.seq, e.tsUs);
      const n = (f: string) => e[f] as number;
      switch (e.event) {
        case 'bookAdd':
          this.onAdd(n('symbolIdx'), n('orderId'), n('side'), n('priceTicks'), n('qtyLots'));
          break;
        case 'bookExecute':
          this.onExecute(n('symbolIdx'), n('orderId'), n('side'), n('priceTicks'), n('execQtyLots'), n('remainingLots'), n('tradeId'));
          break;
        case 'bookCancel':
          this.onCancel(n('symbolIdx'), n('orderId'), n('side'), n('priceTicks'), n('canceledLots'), n('remainingLots'));
          break;
        case 'bookDelete':
          this.onDelete(n('symbolIdx'), n('orderId'), n('side'), n('priceTicks'), n('removedLots'));
          break;
        case 'bookReplace':
          this.onReplace(n('symbolIdx'), n('orderId'), n('side'), n('oldPriceTicks'), n('oldQtyLots'), n('newPriceTicks'), n('newQtyLots'));
          break;
        case 'trade':
          this.onTrade(n('tradeId'), n('symbolIdx'), n('priceTicks'), n('qtyLots'), n('takerSide'), n('makerOrderId'), n('takerOrderId'));
          break;
        case 'tradingState':
          this.onTradingState(n('symbolIdx'), n('state'), n('tradingDay'));
          break;
        case 'symbol':
          this.onSymbol(n('symbolIdx'), n('kind'), e.config as string | null);
          break;
      }
    }
    if (!more) this.leave();
  }

  /**
   * Applies raw event records buf[from, to) (the EventLog / ring layout, events.ts) without
   * decoding them; `strings` is the string table their *Str fields index. `more` as in apply().
   */
  applyRecords(buf: Float64Array, from: number, to: number, strings: readonly (string | null | undefined)[], more = false): void {
    let i = from;
    while (i < to) {
      const type = buf[i]!;
      const len = EVENT_LENGTH[type];
      if (len === undefined) throw new MarketDataDesyncError(`corrupt event record at ${i}: type ${type}`);
      if (type !== Ev.REJECT) {
        this.enter(buf[i + 1]!, buf[i + 2]!);
        switch (type) {
          case Ev.BOOK_ADD:
            this.onAdd(buf[i + F.bSym]!, buf[i + F.bOrder]!, buf[i + F.bSide]!, buf[i + F.addPx]!, buf[i + F.addQty]!);
            break;
          case Ev.BOOK_EXECUTE:
            this.onExecute(buf[i + F.bSym]!, buf[i + F.bOrder]!, buf[i + F.bSide]!, buf[i + F.exPx]!, buf[i + F.exQty]!, buf[i + F.exRem]!, buf[i + F.exTrade]!);
            break;
          case Ev.BOOK_CANCEL:
            this.onCancel(buf[i + F.bSym]!, buf[i + F.bOrder]!, buf[i + F.bSide]!, buf[i + F.cxPx]!, buf[i + F.cxQty]!, buf[i + F.cxRem]!);
            break;
          case Ev.BOOK_DELETE:
            this.onDelete(buf[i + F.bSym]!, buf[i + F.bOrder]!, buf[i + F.bSide]!, buf[i + F.delPx]!, buf[i + F.delQty]!);
            break;
          case Ev.BOOK_REPLACE:
            this.onReplace(buf[i + F.bSym]!, buf[i + F.bOrder]!, buf[i + F.bSide]!, buf[i + F.rpOldPx]!, buf[i + F.rpOldQty]!, buf[i + F.rpNewPx]!, buf[i + F.rpNewQty]!);
            break;
          case Ev.TRADE:
            this.onTrade(buf[i + F.trId]!, buf[i + F.trSym]!, buf[i + F.trPx]!, buf[i + F.trQty]!, buf[i + F.trTaker]!, buf[i + F.trMaker]!, buf[i + F.trTakerOrder]!);
            break;
          case Ev.TRADING_STATE:
            this.onTradingState(buf[i + F.tsSym]!, buf[i + F.tsState]!, buf[i + F.tsDay]!);
            break;
          case Ev.SYMBOL: {
            const s = buf[i + F.symConfig]!;
            this.onSymbol(buf[i + F.symIdx]!, buf[i + F.symKind]!, s < 0 ? null : (strings[s] ?? null));
            break;
          }
        }
      }
      i += len;
    }
    if (!more) this.leave();
  }

  /**
   * Moves the market-data clock to `tsUs` (engine time from the journal, e.g. a sequencer tick
   * that produced no event) and closes the candles that ended; their updates carry `journalSeq`.
   */
  advanceTime(tsUs: number, journalSeq = this.journalSeq): void {
    if (this.cmdSeq >= 0) this.leave();
    this.enter(journalSeq, tsUs);
    this.leave();
  }

  // ------------------------------------------------------------------ command boundaries

  private enter(seq: number, tsUs: number): void {
    if (seq === this.cmdSeq) return;
    if (this.cmdSeq >= 0) this.leave();
    this.cmdSeq = seq;
    this.cmdTsUs = tsUs;
    if (seq > this.journalSeq) this.journalSeq = seq;
    if (tsUs > this.clockUs) this.clockUs = tsUs;
    if (this.clockUs >= this.nextCloseUs) this.closeCandles(this.clockUs);
  }

  /** Ends the current command: hands out its updates. */
  private leave(): void {
    if (this.cmdSeq < 0) return;
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) this.publish(touched[i]!);
    touched.length = 0;
    this.cmdSeq = -1;
  }

  private touch(sym: SymbolMd): void {
    if (sym.inCommand) return;
    sym.inCommand = true;
    this.touched.push(sym);
  }

  private closeCandles(now: number): void {
    let next = Infinity;
    for (const sym of this.byIdx) {
      if (sym === undefined) continue;
      for (const c of sym.candles) {
        if (c.closeAt(now)) this.touch(sym);
        const end = c.endUs();
        if (end < next) next = end;
      }
    }
    this.nextCloseUs = next;
  }

  private publish(sym: SymbolMd): void {
    // updates are written out field by field (no spread, no closure): this runs for every command
    sym.inCommand = false;
    const symbolIdx = sym.idx;
    const symbol = sym.name;
    const journalSeq = this.cmdSeq;
    const tsUs = this.cmdTsUs;
    const seqs = sym.seqs;
    const l1 = sym.computeL1(tsUs);
    if (!sameL1(l1, sym.l1)) {
      sym.l1 = l1;
      this.sink({ symbolIdx, symbol, seq: ++seqs[CH_L1]!, journalSeq, tsUs, channel: 'l1', l1: { ...l1 } });
    }
    const bids = sym.book.bids.drainChanges();
    const asks = sym.book.asks.drainChanges();
    if (bids.length !== 0 || asks.length !== 0) this.sink({ symbolIdx, symbol, seq: ++seqs[CH_L2]!, journalSeq, tsUs, channel: 'l2', bids, asks });
    if (sym.l3Msgs.length !== 0) {
      const msgs = sym.l3Msgs;
      sym.l3Msgs = [];
      this.sink({ symbolIdx, symbol, seq: ++seqs[CH_L3]!, journalSeq, tsUs, channel: 'l3', msgs });
    }
    if (sym.newTrades.length !== 0) {
      const trades = sym.newTrades.map((t) => ({ tradeId: t.tradeId, priceTicks: t.priceTicks, qtyLots: t.qtyLots, takerSide: t.takerSide, tsUs: t.tsUs }));
      sym.newTrades.length = 0;
      this.sink({ symbolIdx, symbol, seq: ++seqs[CH_TRADES]!, journalSeq, tsUs, channel: 'trades', trades });
    }
    for (let r = 0; r < sym.candles.length; r++) {
      const c = sym.candles[r]!;
      if (!c.dirty()) continue;
      this.sink({ symbolIdx, symbol, seq: ++seqs[CH_CANDLES + r]!, journalSeq, tsUs, channel: CANDLE_CHANNELS[r]!, resolution: c.resolution, candles: c.drain() });
    }
  }

  // ------------------------------------------------------------------ event handlers

  private sym(idx: number): SymbolMd {
    const s = this.byIdx[idx];
    if (s === undefined) throw new MarketDataDesyncError(`event for unknown symbol ${idx}`);
    this.touch(s);
    return s;
  }

  private onAdd(symIdx: number, orderId: number, side: number, priceTicks: number, qtyLots: number): void {
    const s = this.sym(symIdx);
    s.book.add(orderId, side, priceTicks, qtyLots);
    s.l3Msgs.push({ type: 'add', orderId, side, priceTicks, qtyLots });
  }

  private onExecute(symIdx: number, orderId: number, side: number, priceTicks: number, qtyLots: number, remainingLots: number, tradeId: number): void {
    const s = this.sym(symIdx);
    s.book.reduce('bookExecute', orderId, side, priceTicks, qtyLots, remainingLots);
    s.l3Msgs.push({ type: 'execute', orderId, side, priceTicks, qtyLots, remainingLots, tradeId });
  }

  private onCancel(symIdx: number, orderId: number, side: number, priceTicks: number, qtyLots: number, remainingLots: number): void {
    const s = this.sym(symIdx);
    s.book.reduce('bookCancel', orderId, side, priceTicks, qtyLots, remainingLots);
    s.l3Msgs.push({ type: 'cancel', orderId, side, priceTicks, qtyLots, remainingLots });
  }

  private onDelete(symIdx: number, orderId: number, side: number, priceTicks: number, qtyLots: number): void {
    const s = this.sym(symIdx);
    s.book.delete(orderId, side, priceTicks, qtyLots);
    s.l3Msgs.push({ type: 'delete', orderId, side, priceTicks, qtyLots });
  }

  private onReplace(symIdx: number, orderId: number, side: number, oldPriceTicks: number, oldQtyLots: number, priceTicks: number, qtyLots: number): void {
    const s = this.sym(symIdx);
    s.book.replace(orderId, side, oldPriceTicks, oldQtyLots, priceTicks, qtyLots);
    s.l3Msgs.push({ type: 'replace', orderId, side, oldPriceTicks, oldQtyLots, priceTicks, qtyLots });
  }

  private onTrade(tradeId: number, symIdx: number, priceTicks: number, qtyLots: number, takerSide: number, makerOrderId: number, takerOrderId: number): void {
    const s = this.sym(symIdx);
    const tsUs = this.cmdTsUs;
    const t: Trade = { tradeId, priceTicks, qtyLots, takerSide, tsUs };
    s.trades.push(t);
    s.newTrades.push(t);
    s.lastPx = priceTicks;
    s.lastQty = qtyLots;
    for (const c of s.candles) {
      c.trade(tsUs, priceTicks, qtyLots);
      const end = c.endUs();
      if (end < this.nextCloseUs) this.nextCloseUs = end;
    }
    s.l3Msgs.push({ type: 'trade', tradeId, priceTicks, qtyLots, takerSide, makerOrderId, takerOrderId });
  }

  private onTradingState(symIdx: number, state: number, tradingDay: number): void {
    const s = this.sym(symIdx);
    s.state = state;
    s.tradingDay = tradingDay;
    s.l3Msgs.push({ type: 'tradingState', state, tradingDay });
  }

  private onSymbol(symIdx: number, _kind: number, configJson: string | null): void {
    // kind 1 = added, 2 = updated (names never change): either way make sure the symbol is known
    if (this.byIdx[symIdx] !== undefined) return;
    let name: unknown;
    try {
      name = configJson === null ? undefined : (JSON.parse(configJson) as { symbol?: unknown }).symbol;
    } catch {
      name = undefined;
    }
    if (typeof name !== 'string') throw new MarketDataDesyncError(`symbol event for ${symIdx} without a name`);
    this.register(symIdx, name);
  }

  // ------------------------------------------------------------------ snapshots

  private find(sym: string | number): SymbolMd | undefined {
    return typeof sym === 'number' ? this.byIdx[sym] : this.byName.get(sym);
  }

  /** The last seq handed out on a channel (what a heartbeat shows); -1 for an unknown symbol. */
  seq(sym: string | number, channel: Channel): number {
    const s = this.find(sym);
    return s === undefined ? -1 : s.seqs[CHANNELS.indexOf(channel)]!;
  }

  l1(sym: string | number): L1Snapshot | null {
    const s = this.find(sym);
    if (s === undefined) return null;
    return { symbolIdx: s.idx, symbol: s.name, seq: s.seqs[CH_L1]!, journalSeq: this.journalSeq, l1: { ...s.l1 } };
  }

  l2(sym: string | number, depth = Number.MAX_SAFE_INTEGER): L2Snapshot | null {
    const s = this.find(sym);
    if (s === undefined) return null;
    return { symbolIdx: s.idx, symbol: s.name, seq: s.seqs[CH_L2]!, journalSeq: this.journalSeq, bids: s.book.bids.l2(depth), asks: s.book.asks.l2(depth) };
  }

  l3(sym: string | number): L3Snapshot | null {
    const s = this.find(sym);
    if (s === undefined) return null;
    return {
      symbolIdx: s.idx,
      symbol: s.name,
      seq: s.seqs[CH_L3]!,
      journalSeq: this.journalSeq,
      state: s.state,
      tradingDay: s.tradingDay,
      bids: s.book.bids.l3(),
      asks: s.book.asks.l3(),
    };
  }

  /** The newest `limit` trades, oldest first. */
  trades(sym: string | number, limit = Number.MAX_SAFE_INTEGER): TradesSnapshot | null {
    const s = this.find(sym);
    if (s === undefined) return null;
    return { symbolIdx: s.idx, symbol: s.name, seq: s.seqs[CH_TRADES]!, journalSeq: this.journalSeq, trades: s.trades.last(limit) };
  }

  /** Candles with fromMs <= t <= toMs (open times), oldest first; the newest `limit` of them. */
  candles(sym: string | number, resolution: Resolution, fromMs?: number, toMs?: number, limit?: number): CandlesSnapshot | null {
    const s = this.find(sym);
    const r = RESOLUTIONS.indexOf(resolution);
    if (s === undefined || r < 0) return null;
    return {
      symbolIdx: s.idx,
      symbol: s.name,
      seq: s.seqs[CH_CANDLES + r]!,
      journalSeq: this.journalSeq,
      resolution,
      candles: s.candles[r]!.list(fromMs, toMs, limit),
    };
  }
}
