/**
 * The data the market-data core hands out: per-(symbol, channel) updates and snapshots, in engine
 * integers (price ticks, lots, microseconds; candle times in ms as the API shows them). Formatting
 * to decimal text and the wire encoding are the edge's job, so these are plain data with no
 * methods, safe to structured-clone to another thread or encode with MessagePack.
 *
 * Every update carries `seq`, its (symbol, channel) counter: 1 for the first update, rising by
 * exactly 1; a snapshot carries the seq of the last update it reflects (0 = none yet), so a client
 * applies the updates with seq > snapshot.seq, and a seq other than last + 1 is a gap. `journalSeq`
 * is the sequenced command the update came from (a snapshot: the last command applied).
 */

export const RESOLUTIONS = ['1m', '5m', '15m', '1h', '1d'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
/** bucket length per resolution, ms */
export const RESOLUTION_MS: Readonly<Record<Resolution, number>> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

export type CandleChannel = `candles:${Resolution}`;
export type Channel = 'l1' | 'l2' | 'l3' | 'trades' | CandleChannel;
/** Every channel, in the order a command's updates for one symbol are handed to the sink. */
export const CHANNELS: readonly Channel[] = ['l1', 'l2', 'l3', 'trades', ...RESOLUTIONS.map((r) => `candles:${r}` as const)];

/** [priceTicks, qtyLots, orderCount]; in an update qtyLots 0 (and count 0) means the level is gone */
export type L2Level = [number, number, number];

export interface L3Entry {
  orderId: number;
  priceTicks: number;
  qtyLots: number;
}

export interface L1 {
  bidPx: number | null;
  bidQty: number | null;
  askPx: number | null;
  askQty: number | null;
  lastPx: number | null;
  lastQty: number | null;
  /** the current UTC day's 1d candle (null before the day's first trade) */
  open: number | null;
  high: number | null;
  low: number | null;
  volume: number | null;
  /** engine time of the last change, µs (0 = never changed) */
  tsUs: number;
}

export interface Trade {
  tradeId: number;
  priceTicks: number;
  qtyLots: number;
  /** 1 buy, 2 sell (the aggressor) */
  takerSide: number;
  tsUs: number;
}

export interface Candle {
  /** open time, ms since the epoch (UTC) */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  /** lots */
  v: number;
  /** trade count */
  n: number;
  closed: boolean;
}

/** ITCH-like order-by-order messages, in the engine's event order. Sides: 1 buy, 2 sell. */
export type L3Msg =
  | { type: 'add'; orderId: number; side: number; priceTicks: number; qtyLots: number }
  /** a resting order traded qtyLots (at its own price); remainingLots 0 = it left the book */
  | { type: 'execute'; orderId: number; side: number; priceTicks: number; qtyLots: number; remainingLots: number; tradeId: number }
  /** a resting order shrank by qtyLots keeping its place (replace down, STP decrement) */
  | { type: 'cancel'; orderId: number; side: number; priceTicks: number; qtyLots: number; remainingLots: number }
  /** a resting order left the book with qtyLots still open */
  | { type: 'delete'; orderId: number; side: number; priceTicks: number; qtyLots: number }
  /** a resting order moved to the back of the level at priceTicks with qtyLots open */
  | { type: 'replace'; orderId: number; side: number; oldPriceTicks: number; oldQtyLots: number; priceTicks: number; qtyLots: number }
  | { type: 'trade'; tradeId: number; priceTicks: number; qtyLots: number; takerSide: number; makerOrderId: number; takerOrderId: number }
  /** TradingState numbers (src/domain/codes.ts); tradingDay = UTC day number */
  | { type: 'tradingState'; state: number; tradingDay: number };

interface UpdateHead {
  symbolIdx: number;
  symbol: string;
  seq: number;
  journalSeq: number;
  /** engine time of the command, µs */
  tsUs: number;
}

export type L1Update = UpdateHead & { channel: 'l1'; l1: L1 };
/** the levels the command changed, each with its absolute qty and count after it, best first per side */
export type L2Update = UpdateHead & { channel: 'l2'; bids: L2Level[]; asks: L2Level[] };
export type L3Update = UpdateHead & { channel: 'l3'; msgs: L3Msg[] };
export type TradesUpdate = UpdateHead & { channel: 'trades'; trades: Trade[] };
/** the candle(s) the command changed, oldest first: a candle that closed, then the open one */
export type CandlesUpdate = UpdateHead & { channel: CandleChannel; resolution: Resolution; candles: Candle[] };
export type MdUpdate = L1Update | L2Update | L3Update | TradesUpdate | CandlesUpdate;

export type MdSink = (u: MdUpdate) => void;

interface SnapshotHead {
  symbolIdx: number;
  symbol: string;
  /** the seq of the last update of this channel the snapshot reflects (0 = none yet) */
  seq: number;
  journalSeq: number;
}

export type L1Snapshot = SnapshotHead & { l1: L1 };
export type L2Snapshot = SnapshotHead & { bids: L2Level[]; asks: L2Level[] };
/** `state`: the symbol's TradingState (the L3 channel also carries its changes) */
export type L3Snapshot = SnapshotHead & { state: number; tradingDay: number; bids: L3Entry[]; asks: L3Entry[] };
/** oldest first */
export type TradesSnapshot = SnapshotHead & { trades: Trade[] };
/** oldest first */
export type CandlesSnapshot = SnapshotHead & { resolution: Resolution; candles: Candle[] };
