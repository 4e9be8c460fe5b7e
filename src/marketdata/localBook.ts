/**
 * A client's local copy of one symbol's L2 book, kept from a snapshot plus the l2 updates that
 * follow it (for the SDK and tests; pure, no I/O). The rules (docs/market-data.md) are the usual
 * snapshot-then-deltas ones (as Binance's "manage a local order book"):
 * - subscribe first, then take a snapshot: updates that arrive before it are buffered;
 * - a snapshot with seq S: drop buffered updates with seq <= S, apply the rest in order;
 * - an update with seq <= the book's seq is old (already in the snapshot): ignored;
 * - an update with seq = seq + 1 is applied: each level's qty and count replace the local ones,
 *   qty 0 removes the level;
 * - any other seq is a gap: the book is out of sync (`needsSnapshot`), later updates are buffered
 *   until a new snapshot arrives, and the book must not be trusted meanwhile.
 * The buffer is bounded (maxPending, oldest dropped: the snapshot will then be too old and show a
 * gap again, which is safe). A depth-limited snapshot is exact only down to its depth: levels
 * beyond it appear as updates touch them.
 */
import { SortedPrices } from './sortedPrices.js';
import type { L2Level } from './types.js';

export interface L2Data {
  seq: number;
  bids: readonly (readonly [number, number, number])[];
  asks: readonly (readonly [number, number, number])[];
}

export type UpdateResult = 'applied' | 'stale' | 'buffered' | 'gap';

class LocalSide {
  readonly levels = new Map<number, [number, number]>();
  readonly prices: SortedPrices;

  constructor(isBid: boolean) {
    this.prices = new SortedPrices(isBid);
  }

  set(px: number, qty: number, count: number): void {
    const l = this.levels.get(px);
    if (qty === 0) {
      if (l !== undefined) {
        this.levels.delete(px);
        this.prices.remove(px);
      }
    } else if (l === undefined) {
      this.levels.set(px, [qty, count]);
      this.prices.insert(px);
    } else {
      l[0] = qty;
      l[1] = count;
    }
  }

  clear(): void {
    this.levels.clear();
    this.prices.clear();
  }

  list(depth: number): L2Level[] {
    const out: L2Level[] = [];
    const n = Math.min(depth, this.prices.n);
    for (let i = 0; i < n; i++) {
      const px = this.prices.priceAt(i);
      const l = this.levels.get(px)!;
      out.push([px, l[0], l[1]]);
    }
    return out;
  }
}

export class LocalBook {
  private readonly bidSide = new LocalSide(true);
  private readonly askSide = new LocalSide(false);
  private pending: L2Data[] = [];
  /** seq of the last snapshot or update applied */
  seq = 0;
  /** true until a snapshot is applied, and again after a gap */
  needsSnapshot = true;
  /** gaps seen so far */
  gaps = 0;

  constructor(readonly maxPending = 10_000) {}

  /** Loads a snapshot and applies the buffered updates after it; returns whether the book is now in sync. */
  applySnapshot(s: L2Data): boolean {
    this.bidSide.clear();
    this.askSide.clear();
    for (const [px, qty, count] of s.bids) this.bidSide.set(px, qty, count);
    for (const [px, qty, count] of s.asks) this.askSide.set(px, qty, count);
    this.seq = s.seq;
    this.needsSnapshot = false;
    const pending = this.pending;
    this.pending = [];
    for (const u of pending) this.applyUpdate(u);
    return !this.needsSnapshot;
  }

  applyUpdate(u: L2Data): UpdateResult {
    if (this.needsSnapshot) {
      this.buffer(u);
      return 'buffered';
    }
    if (u.seq <= this.seq) return 'stale';
    if (u.seq !== this.seq + 1) {
      this.needsSnapshot = true;
      this.gaps++;
      this.buffer(u);
      return 'gap';
    }
    for (const [px, qty, count] of u.bids) this.bidSide.set(px, qty, count);
    for (const [px, qty, count] of u.asks) this.askSide.set(px, qty, count);
    this.seq = u.seq;
    return 'applied';
  }

  bids(depth = Number.MAX_SAFE_INTEGER): L2Level[] {
    return this.bidSide.list(depth);
  }

  asks(depth = Number.MAX_SAFE_INTEGER): L2Level[] {
    return this.askSide.list(depth);
  }

  /** [price, qty] of the best bid, or null */
  bestBid(): [number, number] | null {
    return this.best(this.bidSide);
  }

  bestAsk(): [number, number] | null {
    return this.best(this.askSide);
  }

  private best(side: LocalSide): [number, number] | null {
    if (side.prices.n === 0) return null;
    const px = side.prices.priceAt(0);
    return [px, side.levels.get(px)![0]];
  }

  private buffer(u: L2Data): void {
    this.pending.push(u);
    if (this.pending.length > this.maxPending) this.pending.shift();
  }
}
