/**
 * Consolidated L1 across venues (several seqex instances) for a broker: the best bid and best ask
 * over every venue whose L1 is current, their venues and sizes, and the consolidated mid.
 *
 *   const c = new ConsolidatedL1({ venues: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'], symbols: ['AAPL'] });
 *   c.on('update', (symbol, q) => console.log(symbol, q.bidPx, q.bidVenue, q.askPx, q.askVenue, q.mid));
 *   await c.start();
 *
 * Rules:
 * - best bid: the highest price; ties: the larger size, then the earlier venue (in `venues` order);
 *   best ask: the lowest price, same ties. Prices and sizes compare as exact decimals.
 * - mid = (best bid + best ask) / 2, exact (one digit more than the inputs at most); null unless
 *   both sides exist. A consolidated book can be crossed (bid > ask on two venues): `crossed`.
 * - a venue counts for a symbol while its client is connected, its `l1` for the symbol is in sync
 *   (snapshot taken, no gap pending) and it was confirmed (an update, the snapshot, or a heartbeat
 *   agreeing with its seq) within `staleMs` (default 5,000).
 * - 'update' is emitted on every venue L1 change of a watched symbol, and whenever a venue going
 *   stale, disconnecting, or coming back changes a symbol's quote (checked every staleMs / 5).
 */
import { EventEmitter } from 'node:events';
import { MarketDataClient, compareDecimal, midDecimal, type L1 } from './marketData.js';

export type VenueInput = MarketDataClient | string | { name: string; client?: MarketDataClient; url?: string };

export interface ConsolidatedOptions {
  /** clients (you connect and close them) or URLs (the helper makes, connects and closes their clients) */
  venues: VenueInput[];
  symbols: string[];
  /** a venue's L1 older than this (no update nor heartbeat) is ignored; default 5,000 ms */
  staleMs?: number;
  /** for the clients made from URLs */
  format?: 'msgpack' | 'json';
  log?: (line: string) => void;
  /** clock (tests); default Date.now; clients made from URLs use it too */
  now?: () => number;
}

export interface VenueQuote {
  venue: string;
  /** index in `venues` */
  index: number;
  /** counts for the consolidated quote (connected, in sync, not stale) */
  live: boolean;
  l1: L1 | null;
}

export interface ConsolidatedQuote {
  symbol: string;
  bidPx: string | null;
  bidQty: string | null;
  bidVenue: string | null;
  askPx: string | null;
  askQty: string | null;
  askVenue: string | null;
  /** (bidPx + askPx) / 2 exactly; null unless both sides exist */
  mid: string | null;
  /** best bid above best ask (on different venues) */
  crossed: boolean;
  /** the venues that counted */
  venues: string[];
}

export interface ConsolidatedEvents {
  update: [symbol: string, quote: ConsolidatedQuote];
  /** a venue's client error, or a venue that could not be reached at start (it keeps trying) */
  error: [venue: string, err: Error];
}

interface Venue {
  name: string;
  index: number;
  client: MarketDataClient;
  owned: boolean;
  off: () => void;
}

export class ConsolidatedL1 extends EventEmitter<ConsolidatedEvents> {
  readonly staleMs: number;
  private readonly venues: Venue[];
  private readonly symbols: string[];
  private readonly last = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ConsolidatedOptions) {
    super();
    if (opts.venues.length === 0) throw new Error('ConsolidatedL1: no venues');
    this.staleMs = opts.staleMs ?? 5000;
    this.symbols = [...opts.symbols];
    const names = new Set<string>();
    this.venues = opts.venues.map((v, index) => {
      let name: string;
      let client: MarketDataClient;
      let owned = false;
      if (v instanceof MarketDataClient) {
        client = v;
        name = v.url;
      } else {
        const url = typeof v === 'string' ? v : v.url;
        name = typeof v === 'string' ? v : v.name;
        if (typeof v !== 'string' && v.client !== undefined) client = v.client;
        else if (url !== undefined) {
          client = new MarketDataClient({ url, format: opts.format, log: opts.log, now: opts.now });
          owned = true;
        } else throw new Error(`ConsolidatedL1: venue ${name} has neither client nor url`);
      }
      if (names.has(name)) name = `${name}#${index}`;
      names.add(name);
      return { name, index, client, owned, off: () => {} };
    });
  }

  /** Subscribes `l1` for the symbols on every venue, connects the venues made from URLs, and starts watching. */
  async start(): Promise<void> {
    const watched = new Set(this.symbols);
    for (const v of this.venues) {
      const onL1 = (symbol: string) => {
        if (watched.has(symbol)) this.recompute(symbol, true);
      };
      const onChange = () => this.recomputeAll();
      const onError = (e: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', v.name, e);
      };
      v.client.on('l1', onL1);
      v.client.on('close', onChange);
      v.client.on('gap', onChange);
      v.client.on('error', onError);
      v.off = () => {
        v.client.off('l1', onL1);
        v.client.off('close', onChange);
        v.client.off('gap', onChange);
        v.client.off('error', onError);
      };
      v.client.subscribe(['l1'], this.symbols);
    }
    const every = Math.max(10, Math.min(1000, Math.floor(this.staleMs / 5)));
    this.timer = setInterval(() => this.recomputeAll(), every);
    this.timer.unref();
    await Promise.all(
      this.venues
        .filter((v) => v.owned)
        .map(async (v) => {
          try {
            await v.client.connect();
          } catch (e) {
            // unreachable now: ignored until it answers (the client keeps trying)
            if (this.listenerCount('error') > 0) this.emit('error', v.name, e as Error);
            void v.client.reconnect();
          }
        }),
    );
  }

  /** Stops watching; closes the clients it made (yours stay open, still subscribed to l1). */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const v of this.venues) v.off();
    await Promise.all(this.venues.filter((v) => v.owned).map((v) => v.client.close()));
  }

  /** the venues' names, in order */
  venueNames(): string[] {
    return this.venues.map((v) => v.name);
  }

  /** Each venue's L1 for the symbol and whether it counts. */
  perVenue(symbol: string): VenueQuote[] {
    return this.venues.map((v) => ({ venue: v.name, index: v.index, live: v.client.isFresh(symbol, 'l1', this.staleMs), l1: v.client.l1(symbol) }));
  }

  /** The consolidated quote now. */
  quote(symbol: string): ConsolidatedQuote {
    let bid: { px: string; qty: string; venue: string } | null = null;
    let ask: { px: string; qty: string; venue: string } | null = null;
    const used: string[] = [];
    for (const v of this.venues) {
      if (!v.client.isFresh(symbol, 'l1', this.staleMs)) continue;
      const l1 = v.client.l1(symbol);
      if (l1 === null) continue;
      used.push(v.name);
      if (l1.bidPx !== null) {
        const qty = l1.bidQty ?? '0';
        // strictly better only: an equal price and size keeps the earlier venue
        if (bid === null || better(compareDecimal(l1.bidPx, bid.px), compareDecimal(qty, bid.qty))) bid = { px: l1.bidPx, qty, venue: v.name };
      }
      if (l1.askPx !== null) {
        const qty = l1.askQty ?? '0';
        if (ask === null || better(-compareDecimal(l1.askPx, ask.px), compareDecimal(qty, ask.qty))) ask = { px: l1.askPx, qty, venue: v.name };
      }
    }
    return {
      symbol,
      bidPx: bid?.px ?? null,
      bidQty: bid?.qty ?? null,
      bidVenue: bid?.venue ?? null,
      askPx: ask?.px ?? null,
      askQty: ask?.qty ?? null,
      askVenue: ask?.venue ?? null,
      mid: bid !== null && ask !== null ? midDecimal(bid.px, ask.px) : null,
      crossed: bid !== null && ask !== null && compareDecimal(bid.px, ask.px) > 0,
      venues: used,
    };
  }

  private recompute(symbol: string, always: boolean): void {
    const q = this.quote(symbol);
    const key = JSON.stringify(q);
    if (!always && this.last.get(symbol) === key) return;
    this.last.set(symbol, key);
    this.emit('update', symbol, q);
  }

  private recomputeAll(): void {
    for (const s of this.symbols) this.recompute(s, false);
  }
}

/** price rank (> 0: better price), then size (> 0: larger) */
function better(price: number, size: number): boolean {
  return price > 0 || (price === 0 && size > 0);
}
