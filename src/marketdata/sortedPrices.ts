/**
 * The price levels of one book side in sorted order, updated incrementally: a typed array of sort
 * keys ascending with the BEST price at the END (key = price for bids, -price for asks), as the
 * engine's BookSide does. Why: most level births and deaths happen at or near the touch, so an
 * insert or delete there moves few entries (copyWithin), taking the best is O(1), and nothing is
 * ever re-sorted. Walking best-first is a walk from the end. Used by the market-data book and by
 * the client-side LocalBook, so it imports nothing.
 */
export class SortedPrices {
  private keys: Float64Array;
  n = 0;

  constructor(
    readonly isBid: boolean,
    capacity = 64,
  ) {
    this.keys = new Float64Array(capacity);
  }

  /** The best price, or NaN when the side is empty. */
  best(): number {
    return this.n === 0 ? NaN : this.priceAt(0);
  }

  /** The i-th best price (0 = best); i < n. */
  priceAt(i: number): number {
    const k = this.keys[this.n - 1 - i]!;
    return this.isBid ? k : -k;
  }

  /** Adds a price that is not present yet. */
  insert(priceTicks: number): void {
    if (this.n === this.keys.length) {
      const next = new Float64Array(this.keys.length * 2);
      next.set(this.keys);
      this.keys = next;
    }
    const key = this.isBid ? priceTicks : -priceTicks;
    const at = this.lowerBound(key);
    if (at < this.n) this.keys.copyWithin(at + 1, at, this.n);
    this.keys[at] = key;
    this.n++;
  }

  /** Removes a price; false when it was not present. */
  remove(priceTicks: number): boolean {
    const key = this.isBid ? priceTicks : -priceTicks;
    const at = this.lowerBound(key);
    if (at === this.n || this.keys[at] !== key) return false;
    if (at < this.n - 1) this.keys.copyWithin(at, at + 1, this.n);
    this.n--;
    return true;
  }

  clear(): void {
    this.n = 0;
  }

  /** first index whose key >= key, searching the top end first (where the action is) */
  private lowerBound(key: number): number {
    const k = this.keys;
    const n = this.n;
    if (n === 0 || k[n - 1]! < key) return n;
    let lo = 0;
    let hi = n - 1;
    // gallop down from the best end: the answer is usually within a few entries of it
    let step = 1;
    while (hi - step >= 0 && k[hi - step]! >= key) {
      hi -= step;
      step *= 2;
    }
    lo = hi - step < 0 ? 0 : hi - step;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (k[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
