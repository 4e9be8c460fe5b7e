/**
 * One side of an order book: price levels kept in a sorted typed array with the best price at the
 * END (so taking or emptying the best level is O(1), and most inserts near the top move few
 * entries), a Map price -> level for O(1) lookup, and per-level FIFO queues threaded through the
 * order store's prev/next columns (O(1) removal by slot). Levels live in a shared LevelStore.
 */
import { NIL, type OrderStore } from './orderStore.js';
import { PriceMap } from './priceMap.js';

export class LevelStore {
  priceTicks = new Float64Array(1024);
  qtyLots = new Float64Array(1024);
  count = new Int32Array(1024);
  head = new Int32Array(1024);
  tail = new Int32Array(1024);
  private freeHead = NIL;
  private used = 0;

  alloc(priceTicks: number): number {
    let l: number;
    if (this.freeHead !== NIL) {
      l = this.freeHead;
      this.freeHead = this.head[l]!;
    } else {
      if (this.used === this.priceTicks.length) this.grow();
      l = this.used++;
    }
    this.priceTicks[l] = priceTicks;
    this.qtyLots[l] = 0;
    this.count[l] = 0;
    this.head[l] = NIL;
    this.tail[l] = NIL;
    return l;
  }

  free(l: number): void {
    this.head[l] = this.freeHead;
    this.freeHead = l;
  }

  private grow(): void {
    const cap = this.priceTicks.length * 2;
    const f = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const i = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.priceTicks = f(this.priceTicks);
    this.qtyLots = f(this.qtyLots);
    this.count = i(this.count);
    this.head = i(this.head);
    this.tail = i(this.tail);
  }
}

export class BookSide {
  /** sort keys ascending, best last: price for bids, -price for asks */
  keys = new Float64Array(64);
  lvls = new Int32Array(64);
  n = 0;
  private byPrice = new PriceMap();

  constructor(
    readonly isBid: boolean,
    private readonly levels: LevelStore,
    private readonly store: OrderStore,
  ) {}

  bestPrice(): number {
    const k = this.keys[this.n - 1]!;
    return this.isBid ? k : -k;
  }

  bestLevel(): number {
    return this.lvls[this.n - 1]!;
  }

  /** Level at index i counted from the best (0 = best). */
  levelAt(i: number): number {
    return this.lvls[this.n - 1 - i]!;
  }

  levelOf(priceTicks: number): number {
    return this.byPrice.get(priceTicks);
  }

  /** Appends the order at the tail of its price level (creating the level). */
  append(slot: number, priceTicks: number, qtyLots: number): void {
    let l = this.byPrice.get(priceTicks);
    if (l === NIL) l = this.insertLevel(priceTicks);
    const lv = this.levels;
    const s = this.store;
    const tail = lv.tail[l]!;
    s.setPrev(slot, tail);
    s.setNext(slot, NIL);
    if (tail === NIL) lv.head[l] = slot;
    else s.setNext(tail, slot);
    lv.tail[l] = slot;
    lv.count[l]!++;
    lv.qtyLots[l]! += qtyLots;
    s.setLevel(slot, l);
  }

  /** Unlinks the order; `qtyLots` is what it still counted in the level. Drops an emptied level. */
  remove(slot: number, qtyLots: number): void {
    const lv = this.levels;
    const s = this.store;
    const l = s.level(slot);
    const p = s.prev(slot);
    const nx = s.next(slot);
    if (p === NIL) lv.head[l] = nx;
    else s.setNext(p, nx);
    if (nx === NIL) lv.tail[l] = p;
    else s.setPrev(nx, p);
    s.setPrev(slot, NIL);
    s.setNext(slot, NIL);
    s.setLevel(slot, NIL);
    lv.qtyLots[l]! -= qtyLots;
    if (--lv.count[l]! === 0) this.deleteLevel(l);
  }

  private insertLevel(priceTicks: number): number {
    const l = this.levels.alloc(priceTicks);
    const key = this.isBid ? priceTicks : -priceTicks;
    if (this.n === this.keys.length) {
      const k2 = new Float64Array(this.n * 2);
      k2.set(this.keys);
      const l2 = new Int32Array(this.n * 2);
      l2.set(this.lvls);
      this.keys = k2;
      this.lvls = l2;
    }
    // first index whose key is > key (keys are distinct)
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.n) {
      this.keys.copyWithin(lo + 1, lo, this.n);
      this.lvls.copyWithin(lo + 1, lo, this.n);
    }
    this.keys[lo] = key;
    this.lvls[lo] = l;
    this.n++;
    this.byPrice.set(priceTicks, l);
    return l;
  }

  private deleteLevel(l: number): void {
    const price = this.levels.priceTicks[l]!;
    this.byPrice.delete(price);
    const n = this.n;
    if (this.lvls[n - 1] === l) {
      this.n = n - 1; // the common case: the best level emptied by matching
    } else {
      const key = this.isBid ? price : -price;
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.keys[mid]! < key) lo = mid + 1;
        else hi = mid;
      }
      this.keys.copyWithin(lo, lo + 1, n);
      this.lvls.copyWithin(lo, lo + 1, n);
      this.n = n - 1;
    }
    this.levels.free(l);
  }
}
