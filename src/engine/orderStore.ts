/**
 * Struct-of-arrays storage for orders: one slot per live order (and per closed order kept for
 * clOrdId dedupe), typed arrays indexed by slot, a free list for reuse. No object per order:
 * ~70 bytes of columns a slot plus the clOrdId string (see docs/architecture.md for the budget).
 * Fields rarely set (stop price, GTD expiry, the parameters as first submitted) live in sparse maps.
 */
export const NIL = -1;

export class OrderStore {
  capacity: number;
  // f64 columns: ids, prices, quantities, times
  orderId: Float64Array;
  priceTicks: Float64Array; // limit price, or the reservation price of market / stop orders
  qtyLots: Float64Array;
  filledLots: Float64Array;
  cumNotional: Float64Array; // sum of price * qty over fills (tick-lots), for avgPx
  createdAtUs: Float64Array;
  updatedAtUs: Float64Array;
  seq: Float64Array; // seq of the last command that changed the order
  // i32 columns: references
  accountIdx: Int32Array;
  symbolIdx: Int32Array;
  prev: Int32Array; // FIFO neighbours inside a price level (or stop list)
  next: Int32Array;
  level: Int32Array; // level slot while resting on the book
  acctPrev: Int32Array; // the account's open-order list
  acctNext: Int32Array;
  // u8 columns: enums and flags
  side: Uint8Array;
  ordType: Uint8Array;
  tif: Uint8Array;
  status: Uint8Array;
  postOnly: Uint8Array;
  stp: Uint8Array;
  clOrdId: (string | undefined)[];
  // sparse
  stopPriceTicks = new Map<number, number>(); // slot -> stop price
  expireTimeUs = new Map<number, number>(); // slot -> GTD expiry
  /** slot -> [qty, price] as first submitted, recorded when a replace / STP changes them */
  original = new Map<number, [number, number]>();

  private freeHead = NIL;
  private used = 0; // slots ever handed out (high-water mark)
  live = 0;

  constructor(capacity = 1 << 12) {
    this.capacity = capacity;
    this.orderId = new Float64Array(capacity);
    this.priceTicks = new Float64Array(capacity);
    this.qtyLots = new Float64Array(capacity);
    this.filledLots = new Float64Array(capacity);
    this.cumNotional = new Float64Array(capacity);
    this.createdAtUs = new Float64Array(capacity);
    this.updatedAtUs = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.accountIdx = new Int32Array(capacity);
    this.symbolIdx = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.level = new Int32Array(capacity);
    this.acctPrev = new Int32Array(capacity);
    this.acctNext = new Int32Array(capacity);
    this.side = new Uint8Array(capacity);
    this.ordType = new Uint8Array(capacity);
    this.tif = new Uint8Array(capacity);
    this.status = new Uint8Array(capacity);
    this.postOnly = new Uint8Array(capacity);
    this.stp = new Uint8Array(capacity);
    this.clOrdId = [];
  }

  alloc(): number {
    let slot: number;
    if (this.freeHead !== NIL) {
      slot = this.freeHead;
      this.freeHead = this.next[slot]!;
    } else {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
      this.clOrdId.push(undefined);
    }
    this.prev[slot] = NIL;
    this.next[slot] = NIL;
    this.level[slot] = NIL;
    this.acctPrev[slot] = NIL;
    this.acctNext[slot] = NIL;
    this.filledLots[slot] = 0;
    this.cumNotional[slot] = 0;
    this.live++;
    return slot;
  }

  free(slot: number): void {
    this.clOrdId[slot] = undefined;
    this.orderId[slot] = 0;
    this.status[slot] = 0;
    this.stopPriceTicks.delete(slot);
    this.expireTimeUs.delete(slot);
    this.original.delete(slot);
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
    this.live--;
  }

  private grow(): void {
    const cap = Math.ceil(this.capacity * 1.5);
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    this.orderId = f64(this.orderId);
    this.priceTicks = f64(this.priceTicks);
    this.qtyLots = f64(this.qtyLots);
    this.filledLots = f64(this.filledLots);
    this.cumNotional = f64(this.cumNotional);
    this.createdAtUs = f64(this.createdAtUs);
    this.updatedAtUs = f64(this.updatedAtUs);
    this.seq = f64(this.seq);
    this.accountIdx = i32(this.accountIdx);
    this.symbolIdx = i32(this.symbolIdx);
    this.prev = i32(this.prev);
    this.next = i32(this.next);
    this.level = i32(this.level);
    this.acctPrev = i32(this.acctPrev);
    this.acctNext = i32(this.acctNext);
    this.side = u8(this.side);
    this.ordType = u8(this.ordType);
    this.tif = u8(this.tif);
    this.status = u8(this.status);
    this.postOnly = u8(this.postOnly);
    this.stp = u8(this.stp);
    this.capacity = cap;
  }
}
