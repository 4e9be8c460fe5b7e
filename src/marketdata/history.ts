/**
 * A bounded history: a fixed-capacity ring, oldest overwritten first, so the memory a symbol's
 * recent trades (1000) and candles (1000 per resolution) take is bounded however busy or old it is
 * (DESIGN rule 5). Anything older belongs to the report database, not to market data.
 */
export const TRADE_HISTORY = 1000;
export const CANDLE_HISTORY = 1000;

export class History<T extends object> {
  private readonly buf: (T | undefined)[];
  /** index of the next write */
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`history capacity must be a positive integer, got ${capacity}`);
    this.buf = new Array<T | undefined>(capacity);
  }

  push(x: T): void {
    this.buf[this.head] = x;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    if (this.size < this.capacity) this.size++;
  }

  /** the newest entry (the live object), or undefined */
  newest(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head === 0 ? this.capacity - 1 : this.head - 1];
  }

  /** The newest `limit` entries that pass `keep`, oldest first, as shallow copies. */
  last(limit = this.capacity, keep?: (x: T) => boolean): T[] {
    const lim = Math.max(0, Math.floor(limit));
    const out: T[] = [];
    // walk newest -> oldest, then reverse: a small limit reads only the end
    let i = this.head;
    for (let k = 0; k < this.size && out.length < lim; k++) {
      i = i === 0 ? this.capacity - 1 : i - 1;
      const x = this.buf[i]!;
      if (keep === undefined || keep(x)) out.push({ ...x });
    }
    return out.reverse();
  }

  clear(): void {
    this.buf.fill(undefined);
    this.head = 0;
    this.size = 0;
  }
}
