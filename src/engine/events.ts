/**
 * Engine output: a flat, append-only log of fixed-layout numeric records in a Float64Array, plus a
 * side table for the few strings (clOrdIds, names, transfer ids). Writing an event allocates
 * nothing in steady state; `decodeEvents` turns records into objects for tests and slow consumers.
 * Every record starts with [type, seq, tsUs]. The layout of each type is EVENT_FIELDS below, which
 * is also the contract for every consumer (market data, reports, sessions, replication).
 */

export const enum Ev {
  EXEC = 1,
  CANCEL_REJECT = 2,
  TRADE = 3,
  BOOK_ADD = 4,
  BOOK_EXECUTE = 5,
  BOOK_CANCEL = 6,
  BOOK_DELETE = 7,
  BOOK_REPLACE = 8,
  TRADING_STATE = 9,
  BALANCE = 10,
  ACCOUNT = 11,
  SYMBOL = 12,
  ASSET = 13,
  REJECT = 14,
  TRANSFER = 15,
}

/** Field names per event type, after the common [type, seq, tsUs]. Names ending in Str index `strings`. */
export const EVENT_FIELDS: Record<number, readonly string[]> = {
  [Ev.EXEC]: [
    'execId', 'orderId', 'accountId', 'symbolIdx', 'side', 'ordType', 'tif', 'execType', 'ordStatus',
    'priceTicks', 'stopPriceTicks', 'qtyLots', 'cumQtyLots', 'leavesQtyLots', 'cumNotionalTickLots',
    'lastQtyLots', 'lastPxTicks', 'tradeId', 'liquidity', 'rejectCode', 'reason', 'clOrdIdStr',
    'expireTimeUs', 'createdAtUs', 'postOnly', 'stp', 'msgSeq',
  ],
  [Ev.CANCEL_REJECT]: ['accountId', 'orderId', 'clOrdIdStr', 'responseTo', 'rejectCode', 'ordStatus', 'msgSeq'],
  [Ev.TRADE]: ['tradeId', 'symbolIdx', 'priceTicks', 'qtyLots', 'takerSide', 'makerOrderId', 'takerOrderId'],
  [Ev.BOOK_ADD]: ['symbolIdx', 'orderId', 'side', 'priceTicks', 'qtyLots'],
  [Ev.BOOK_EXECUTE]: ['symbolIdx', 'orderId', 'side', 'priceTicks', 'execQtyLots', 'remainingLots', 'tradeId'],
  [Ev.BOOK_CANCEL]: ['symbolIdx', 'orderId', 'side', 'priceTicks', 'canceledLots', 'remainingLots'],
  [Ev.BOOK_DELETE]: ['symbolIdx', 'orderId', 'side', 'priceTicks', 'removedLots'],
  [Ev.BOOK_REPLACE]: ['symbolIdx', 'orderId', 'side', 'oldPriceTicks', 'oldQtyLots', 'newPriceTicks', 'newQtyLots'],
  [Ev.TRADING_STATE]: ['symbolIdx', 'state', 'tradingDay'],
  [Ev.BALANCE]: ['accountId', 'assetIdx', 'deltaTotal', 'deltaReserved', 'total', 'reserved', 'cause', 'refId', 'refStr'],
  [Ev.ACCOUNT]: ['accountId', 'kind', 'nameStr', 'apiKeyHashStr', 'maxOpenOrders'],
  [Ev.SYMBOL]: ['symbolIdx', 'kind', 'configStr'],
  [Ev.ASSET]: ['assetIdx', 'decimals', 'nameStr'],
  [Ev.REJECT]: ['rejectCode', 'messageStr'],
  [Ev.TRANSFER]: ['accountId', 'assetIdx', 'amountMinor', 'kind', 'transferIdStr', 'replay'],
};

export const EVENT_NAMES: Record<number, string> = {
  [Ev.EXEC]: 'exec',
  [Ev.CANCEL_REJECT]: 'cancelReject',
  [Ev.TRADE]: 'trade',
  [Ev.BOOK_ADD]: 'bookAdd',
  [Ev.BOOK_EXECUTE]: 'bookExecute',
  [Ev.BOOK_CANCEL]: 'bookCancel',
  [Ev.BOOK_DELETE]: 'bookDelete',
  [Ev.BOOK_REPLACE]: 'bookReplace',
  [Ev.TRADING_STATE]: 'tradingState',
  [Ev.BALANCE]: 'balance',
  [Ev.ACCOUNT]: 'account',
  [Ev.SYMBOL]: 'symbol',
  [Ev.ASSET]: 'asset',
  [Ev.REJECT]: 'reject',
  [Ev.TRANSFER]: 'transfer',
};

export const enum AccountEventKind {
  CREATED = 1,
  ENABLED = 2,
  DISABLED = 3,
  LIMITS = 4,
}

const HEADER = 3;
/** Record length (header included) per type. */
export const EVENT_LENGTH: number[] = [];
for (const [t, fields] of Object.entries(EVENT_FIELDS)) EVENT_LENGTH[Number(t)] = HEADER + fields.length;
const MAX_RECORD = Math.max(...EVENT_LENGTH.filter((x) => x !== undefined));

export class EventLog {
  buf: Float64Array;
  len = 0;
  strings: string[] = [];
  /** the sequenced command currently being applied; stamped into every record */
  seq = 0;
  tsUs = 0;

  constructor(initialCapacity = 1 << 16) {
    this.buf = new Float64Array(initialCapacity);
  }

  clear(): void {
    this.len = 0;
    if (this.strings.length !== 0) this.strings.length = 0;
  }

  /** Index of `s` in the string table, -1 for an absent string. */
  str(s: string | undefined | null): number {
    if (s === undefined || s === null) return -1;
    this.strings.push(s);
    return this.strings.length - 1;
  }

  /** Reserves one record of `type` and returns the index of its first field after the header. */
  begin(type: Ev): number {
    if (this.len + MAX_RECORD > this.buf.length) this.grow();
    const b = this.buf;
    const at = this.len;
    b[at] = type;
    b[at + 1] = this.seq;
    b[at + 2] = this.tsUs;
    this.len = at + EVENT_LENGTH[type]!;
    return at + HEADER;
  }

  private grow(): void {
    const next = new Float64Array(this.buf.length * 2);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** The events as bytes (records, then the string table as JSON): what "byte-identical" compares. */
  toBytes(from = 0): Buffer {
    const recs = Buffer.from(this.buf.buffer, this.buf.byteOffset + from * 8, (this.len - from) * 8);
    return Buffer.concat([recs, Buffer.from(JSON.stringify(this.strings))]);
  }
}

export type DecodedEvent = { event: string; seq: number; tsUs: number } & Record<string, number | string | null>;

/** Turns records into objects; *Str fields become the string (or null). For tests and slow consumers. */
export function decodeEvents(log: EventLog, from = 0, to = log.len): DecodedEvent[] {
  const out: DecodedEvent[] = [];
  const b = log.buf;
  let i = from;
  while (i < to) {
    const type = b[i]!;
    const fields = EVENT_FIELDS[type];
    if (fields === undefined) throw new Error(`corrupt event log at ${i}: type ${type}`);
    const e: DecodedEvent = { event: EVENT_NAMES[type]!, seq: b[i + 1]!, tsUs: b[i + 2]! } as DecodedEvent;
    for (let f = 0; f < fields.length; f++) {
      const name = fields[f]!;
      const v = b[i + HEADER + f]!;
      if (name.endsWith('Str')) e[name.slice(0, -3)] = v < 0 ? null : (log.strings[v] ?? null);
      else e[name] = v;
    }
    out.push(e);
    i += EVENT_LENGTH[type]!;
  }
  return out;
}
