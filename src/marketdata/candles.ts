/**
 * Candles of one symbol at one resolution, built from trades only (so they replay exactly from the
 * journal): {t, o, h, l, c, v, n, closed}, t = the bucket's open time in ms, UTC,
 * t = floor(tradeTsMs / resMs) * resMs with the trade's engine time (the command's tsUs).
 *
 * Closing rule: a candle closes as soon as the market-data stream shows an engine time at or past
 * its end (t + res): the time of any later command's events (of any symbol, since the engine has
 * one clock and its time never goes back), or a trade in a later bucket. So a quiet symbol's 1m
 * candle closes at the first event after the minute, not at its own next trade. A bucket without
 * trades has no candle (as Coinbase; no flat fill-ins). A closed candle never changes again.
 *
 * History: the newest CANDLE_HISTORY (1000) candles per resolution. Changes are collected per
 * command and drained as copies: the candle that closed (if any), then the open one (if it changed).
 */
import { MarketDataDesyncError } from './book.js';
import { CANDLE_HISTORY, History } from './history.js';
import { RESOLUTION_MS, type Candle, type Resolution } from './types.js';

export class CandleSeries {
  readonly resMs: number;
  private readonly resUs: number;
  readonly history: History<Candle>;
  /** the open candle (also the newest in history), or null */
  private open: Candle | null = null;
  private closedNow: Candle[] = [];
  private openChanged = false;

  constructor(
    readonly resolution: Resolution,
    capacity = CANDLE_HISTORY,
  ) {
    this.resMs = RESOLUTION_MS[resolution];
    this.resUs = this.resMs * 1000;
    this.history = new History<Candle>(capacity);
  }

  /** The open candle (live object: read only), or null. */
  current(): Candle | null {
    return this.open;
  }

  /** Engine time (µs) at which the open candle closes; Infinity when none is open. */
  endUs(): number {
    return this.open === null ? Infinity : (this.open.t + this.resMs) * 1000;
  }

  /** Closes the open candle if `tsUs` is at or past its end; true if it did. */
  closeAt(tsUs: number): boolean {
    const c = this.open;
    if (c === null || tsUs < (c.t + this.resMs) * 1000) return false;
    this.close(c);
    return true;
  }

  private close(c: Candle): void {
    c.closed = true;
    this.closedNow.push(c);
    this.open = null;
    this.openChanged = false;
  }

  trade(tsUs: number, priceTicks: number, qtyLots: number): void {
    const t = Math.floor(tsUs / this.resUs) * this.resMs;
    let c = this.open;
    if (c !== null && t < c.t) throw new MarketDataDesyncError(`trade at ${tsUs} µs is before the open ${this.resolution} candle ${c.t} ms`);
    if (c !== null && t > c.t) {
      this.close(c);
      c = null;
    }
    if (c === null) {
      c = { t, o: priceTicks, h: priceTicks, l: priceTicks, c: priceTicks, v: qtyLots, n: 1, closed: false };
      this.open = c;
      this.history.push(c);
    } else {
      if (priceTicks > c.h) c.h = priceTicks;
      if (priceTicks < c.l) c.l = priceTicks;
      c.c = priceTicks;
      c.v += qtyLots;
      c.n++;
    }
    this.openChanged = true;
  }

  /** Whether anything changed since the last drain. */
  dirty(): boolean {
    return this.closedNow.length !== 0 || this.openChanged;
  }

  /** The changed candles (copies, oldest first) since the last drain. */
  drain(): Candle[] {
    const out: Candle[] = [];
    for (const c of this.closedNow) out.push({ ...c });
    if (this.openChanged && this.open !== null) out.push({ ...this.open });
    this.closedNow.length = 0;
    this.openChanged = false;
    return out;
  }

  /** Candles with fromMs <= t <= toMs, oldest first, at most limit (the newest ones). */
  list(fromMs = -Infinity, toMs = Infinity, limit = Infinity): Candle[] {
    return this.history.last(limit, (c) => c.t >= fromMs && c.t <= toMs);
  }

  clear(): void {
    this.history.clear();
    this.open = null;
    this.closedNow.length = 0;
    this.openChanged = false;
  }
}
