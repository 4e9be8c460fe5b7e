/**
 * Market data as the API shows it (docs/market-data.md): the core's integer updates and snapshots
 * turned into messages with decimal strings on each symbol's tick and lot grid, encoded once as
 * MessagePack and once as JSON by the worker, so the gateways only copy bytes to subscribers.
 */
import { Packr } from 'msgpackr';
import { TRADING_STATE_NAMES } from '../domain/codes.js';
import type { SymbolConfig } from '../engine/commands.js';
import { Unit } from '../gateway/units.js';
import type { CandlesSnapshot, Channel, L1, L1Snapshot, L2Level, L2Snapshot, L3Msg, L3Snapshot, MdUpdate, Trade, TradesSnapshot } from '../marketdata/types.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

export type Message = Record<string, unknown>;

export interface Encoded {
  msgpack: Uint8Array;
  json: Buffer;
}

const NONE = Buffer.alloc(0);

/** `m` in the formats asked for (empty bytes for the other) */
export function encode(m: Message, msgpack = true, json = true): Encoded {
  return { msgpack: msgpack ? packr.pack(m) : NONE, json: json ? Buffer.from(JSON.stringify(m)) : NONE };
}

const SIDE = ['', 'buy', 'sell'] as const;
const ms = (us: number): number => Math.floor(us / 1000);

/** Tick and lot units of every symbol, by idx (reference data never changes them). */
export class Grid {
  private readonly units: { tick: Unit; lot: Unit }[] = [];

  set(idx: number, config: Pick<SymbolConfig, 'tickSize' | 'lotSize'>): void {
    this.units[idx] ??= { tick: new Unit(config.tickSize), lot: new Unit(config.lotSize) };
  }

  has(idx: number): boolean {
    return this.units[idx] !== undefined;
  }

  private of(idx: number): { tick: Unit; lot: Unit } {
    const u = this.units[idx];
    if (u === undefined) throw new Error(`market data: no tick / lot size for symbol ${idx}`);
    return u;
  }

  /** the L1 fields of the ticker (the WebSocket's l1 channel and GET /v1/marketdata/ticker) */
  l1(idx: number, l: L1): Message {
    const { tick, lot } = this.of(idx);
    const px = (t: number | null) => (t === null ? null : tick.format(t));
    const qty = (q: number | null) => (q === null ? null : lot.format(q));
    return {
      bidPx: px(l.bidPx),
      bidQty: qty(l.bidQty),
      askPx: px(l.askPx),
      askQty: qty(l.askQty),
      mid: l.bidPx !== null && l.askPx !== null ? tick.ratio(l.bidPx + l.askPx, 2, 1) : null,
      lastPx: px(l.lastPx),
      lastQty: qty(l.lastQty),
      open: px(l.open),
      high: px(l.high),
      low: px(l.low),
      volume: qty(l.volume),
    };
  }

  levels(idx: number, levels: L2Level[]): [string, string, number][] {
    const { tick, lot } = this.of(idx);
    return levels.map(([p, q, n]) => [tick.format(p), lot.format(q), n]);
  }

  l3Msgs(idx: number, msgs: L3Msg[]): Message[] {
    const { tick, lot } = this.of(idx);
    return msgs.map((m): Message => {
      switch (m.type) {
        case 'add':
          return { type: 'add', orderId: m.orderId, side: SIDE[m.side], px: tick.format(m.priceTicks), qty: lot.format(m.qtyLots) };
        case 'execute':
          return { type: 'execute', orderId: m.orderId, side: SIDE[m.side], px: tick.format(m.priceTicks), qty: lot.format(m.qtyLots), remaining: lot.format(m.remainingLots), tradeId: m.tradeId };
        case 'cancel':
          return { type: 'cancel', orderId: m.orderId, side: SIDE[m.side], px: tick.format(m.priceTicks), qty: lot.format(m.qtyLots), remaining: lot.format(m.remainingLots) };
        case 'delete':
          return { type: 'delete', orderId: m.orderId, side: SIDE[m.side], px: tick.format(m.priceTicks), qty: lot.format(m.qtyLots) };
        case 'replace':
          return { type: 'replace', orderId: m.orderId, side: SIDE[m.side], oldPx: tick.format(m.oldPriceTicks), oldQty: lot.format(m.oldQtyLots), px: tick.format(m.priceTicks), qty: lot.format(m.qtyLots) };
        case 'trade':
          return { type: 'trade', tradeId: m.tradeId, px: tick.format(m.priceTicks), qty: lot.format(m.qtyLots), side: SIDE[m.takerSide], makerOrderId: m.makerOrderId, takerOrderId: m.takerOrderId };
        case 'tradingState':
          return { type: 'tradingState', state: TRADING_STATE_NAMES[m.state] ?? String(m.state), tradingDay: m.tradingDay };
      }
    });
  }

  trades(idx: number, trades: Trade[]): Message[] {
    const { tick, lot } = this.of(idx);
    return trades.map((t) => ({ tradeId: t.tradeId, px: tick.format(t.priceTicks), qty: lot.format(t.qtyLots), side: SIDE[t.takerSide], ts: ms(t.tsUs) }));
  }

  candles(idx: number, candles: CandlesSnapshot['candles']): Message[] {
    const { tick, lot } = this.of(idx);
    return candles.map((c) => ({ t: c.t, o: tick.format(c.o), h: tick.format(c.h), l: tick.format(c.l), c: tick.format(c.c), v: lot.format(c.v), n: c.n, closed: c.closed }));
  }

  /** an update as the WebSocket and SSE send it */
  update(u: MdUpdate): Message {
    const head = { type: 'update', channel: u.channel, symbol: u.symbol, seq: u.seq, journalSeq: u.journalSeq, ts: ms(u.tsUs) };
    switch (u.channel) {
      case 'l1':
        return { ...head, ...this.l1(u.symbolIdx, u.l1) };
      case 'l2':
        return { ...head, bids: this.levels(u.symbolIdx, u.bids), asks: this.levels(u.symbolIdx, u.asks) };
      case 'l3':
        return { ...head, msgs: this.l3Msgs(u.symbolIdx, u.msgs) };
      case 'trades':
        return { ...head, trades: this.trades(u.symbolIdx, u.trades) };
      default:
        return { ...head, candles: this.candles(u.symbolIdx, u.candles) };
    }
  }

  /** a snapshot as the WebSocket and SSE send it (the REST bodies are built from the same parts) */
  snapshot(channel: Channel, s: L1Snapshot | L2Snapshot | L3Snapshot | TradesSnapshot | CandlesSnapshot): Message {
    const head = { type: 'snapshot', channel, symbol: s.symbol, seq: s.seq, journalSeq: s.journalSeq };
    if (channel === 'l1') {
      const l = (s as L1Snapshot).l1;
      return { ...head, ts: ms(l.tsUs), ...this.l1(s.symbolIdx, l) };
    }
    if (channel === 'l2') {
      const b = s as L2Snapshot;
      return { ...head, bids: this.levels(s.symbolIdx, b.bids), asks: this.levels(s.symbolIdx, b.asks) };
    }
    if (channel === 'l3') {
      const b = s as L3Snapshot;
      const { tick, lot } = this.of(s.symbolIdx);
      const entry = (e: { orderId: number; priceTicks: number; qtyLots: number }) => ({ orderId: e.orderId, px: tick.format(e.priceTicks), qty: lot.format(e.qtyLots) });
      return { ...head, state: TRADING_STATE_NAMES[b.state] ?? String(b.state), tradingDay: b.tradingDay, bids: b.bids.map(entry), asks: b.asks.map(entry) };
    }
    if (channel === 'trades') return { ...head, trades: this.trades(s.symbolIdx, (s as TradesSnapshot).trades) };
    return { ...head, candles: this.candles(s.symbolIdx, (s as CandlesSnapshot).candles) };
  }
}
