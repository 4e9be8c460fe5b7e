/**
 * orderId -> slot. orderIds are dense and increasing (1, 2, 3 ... for accepted orders), so the map
 * is a direct-mapped array cut into pages of PAGE ids: `pages[(id >> BITS) - base][id & MASK]`.
 * Lookups are two dependent loads, inserts go to the newest (hot) page, and a page is dropped
 * when its last order ends, so memory follows the ids still in use: 4 bytes an order when they are
 * dense, at worst one 4 KiB page per straggler (an old order alone in its page).
 *
 * A hash table was measured first and failed here: with identity hashing the dense ids form one
 * long run of occupied buckets, so deletes (backward shift) and misses (tombstones) scanned the
 * whole run (60 µs a cancel at 1M resting orders); a scrambling hash costs a cache miss per insert.
 */
const BITS = 10;
const PAGE = 1 << BITS;
const MASK = PAGE - 1;
const NONE = -1;

export class IdIndex {
  /** pages[i] covers ids [(base + i) << BITS, (base + i + 1) << BITS); null once emptied */
  private pages: (Int32Array | null)[] = [];
  private counts: number[] = [];
  private base = 0;
  /** index of the first page still holding an id */
  private front = 0;
  size = 0;

  get(id: number): number {
    const p = Math.floor(id / PAGE) - this.base;
    if (p < 0 || p >= this.pages.length) return NONE;
    const page = this.pages[p];
    return page === null || page === undefined ? NONE : page[id & MASK]!;
  }

  set(id: number, slot: number): void {
    const pageNo = Math.floor(id / PAGE);
    if (this.pages.length === 0) this.base = pageNo;
    if (pageNo < this.base) this.extendDown(pageNo);
    const p = pageNo - this.base;
    while (this.pages.length <= p) {
      this.pages.push(null);
      this.counts.push(0);
    }
    let page = this.pages[p]!;
    if (page === null) {
      if (p < this.front) this.front = p;
      page = new Int32Array(PAGE).fill(NONE);
      this.pages[p] = page;
    }
    const k = id & MASK;
    if (page[k] === NONE) {
      this.counts[p]!++;
      this.size++;
    }
    page[k] = slot;
  }

  delete(id: number): boolean {
    const p = Math.floor(id / PAGE) - this.base;
    if (p < 0 || p >= this.pages.length) return false;
    const page = this.pages[p];
    if (page === null || page === undefined) return false;
    const k = id & MASK;
    if (page[k] === NONE) return false;
    page[k] = NONE;
    this.size--;
    // the newest page stays even when empty: the next ids land in it (no allocation per order)
    if (--this.counts[p]! === 0 && p !== this.pages.length - 1) {
      this.pages[p] = null;
      if (p === this.front) this.trimFront();
    }
    return true;
  }

  /** Advances past leading empty pages; drops them in bulk so the array shift is amortised. */
  private trimFront(): void {
    let n = this.front;
    while (n < this.pages.length - 1 && this.pages[n] === null) n++;
    this.front = n;
    if (n >= 64 && n * 2 >= this.pages.length) {
      this.pages.splice(0, n);
      this.counts.splice(0, n);
      this.base += n;
      this.front = 0;
    }
  }

  private extendDown(pageNo: number): void {
    const n = this.base - pageNo;
    this.pages.unshift(...new Array<null>(n).fill(null));
    this.counts.unshift(...new Array<number>(n).fill(0));
    this.base = pageNo;
    this.front = 0;
  }

  /** Calls fn(id, slot) for every entry in ascending id order. */
  forEach(fn: (id: number, slot: number) => void): void {
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      if (page === null || page === undefined) continue;
      const first = (this.base + p) * PAGE;
      for (let k = 0; k < PAGE; k++) if (page[k] !== NONE) fn(first + k, page[k]!);
    }
  }

  byteSize(): number {
    let pages = 0;
    for (const p of this.pages) if (p !== null) pages++;
    return pages * PAGE * 4 + this.pages.length * 16;
  }
}
